// The service's JSON API. The access token lives only in this module's memory; the refresh
// token never reaches the page at all: the service keeps it in an HttpOnly cookie that only
// the refresh and logout endpoints read, and refuses any state-changing request that carries
// the cookie without the header below (which a cross-site form cannot send). A reload keeps
// the session and asks to unlock the key again: the key is never stored unwrapped.

import type * as Api from "./api-types";
import { m, fill } from "./messages";
import { keepReceipt } from "./store";

export class Problem extends Error {
  constructor(
    public status: number,
    public type: string,
    public detail: string,
  ) {
    super(detail);
  }
  /// What to tell the user, in plain English.
  get plain(): string {
    const text = m.problems[this.type];
    return text ? fill(text, { detail: this.detail }) : fill(m.problems.other, { detail: this.detail });
  }
}

let access: string | null = null;

/// Sent on every request: says the session is the web application's (its refresh token in
/// the cookie) and proves the request came from this page's script.
const CLIENT = { "X-IRO-Advice-Client": "web" };

export function setTokens(pair: { access_token: string } | null) {
  access = pair?.access_token ?? null;
}

/// The headers of a request the page makes itself (an upload with progress, a download).
export function authHeaders(): Record<string, string> {
  return access ? { ...CLIENT, Authorization: `Bearer ${access}` } : { ...CLIENT };
}

export function signedIn(): boolean {
  return access !== null;
}

async function send(method: string, path: string, body?: BodyInit, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { Accept: "application/json", ...CLIENT, ...headers };
  if (access) h.Authorization = `Bearer ${access}`;
  try {
    return await fetch(path, { method, headers: h, body, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new Problem(0, "network", "network");
  }
}

export async function problem(res: Response): Promise<Problem> {
  let type = "other";
  let detail = res.statusText;
  try {
    const p = await res.json();
    type = String(p.type ?? "").replace("urn:iro-advice:problem:", "") || "other";
    detail = String(p.detail ?? p.title ?? detail);
  } catch {
    // not a problem document: keep the status line
  }
  return new Problem(res.status, type, detail);
}

/// A new access token from the session cookie; false when there is no session to continue.
export async function renew(): Promise<boolean> {
  const res = await send("POST", "/api/v1/auth/refresh", "{}", { "Content-Type": "application/json" });
  if (!res.ok) {
    // Read to the end, so the request is finished rather than left open.
    await res.text().catch(() => "");
    setTokens(null);
    return false;
  }
  setTokens(await res.json());
  return true;
}


/// What the application does when the service says the session has ended (signed out from
/// another device, the password changed, suspended): set once by the application's shell.
let ended: () => void = () => undefined;
export function onSessionEnded(f: () => void) {
  ended = f;
}

/// Calls the API with a JSON body (or none) and returns its JSON answer (or null for 204).
export async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const h = body === undefined ? headers : { "Content-Type": "application/json", ...headers };
  const payload = body === undefined ? undefined : JSON.stringify(body);
  let res = await send(method, path, payload, h);
  if (res.status === 401 && access) {
    if (await renew()) res = await send(method, path, payload, h);
    else ended();
  }
  if (!res.ok) throw await problem(res);
  if (res.status === 204) return null as T;
  const answer = await res.json();
  // Every act's answer carries its receipt: kept until the witnessed log includes it.
  if (method !== "GET" && answer && typeof answer === "object" && answer.receipt && typeof answer.receipt.leaf_data === "string") {
    await keepReceipt(answer.receipt);
  }
  return answer as T;
}

/// Sends a binary body (a segment of an upload), renewing an expired access token once.
export async function sendBinary(method: string, path: string, body: Blob, headers: Record<string, string>): Promise<Response> {
  const h = { "Content-Type": "application/octet-stream", ...headers };
  let res = await send(method, path, body, h);
  if (res.status === 401 && access) {
    if (await renew()) res = await send(method, path, body, h);
    else ended();
  }
  if (!res.ok) throw await problem(res);
  await res.arrayBuffer();
  return res;
}

export async function signOut() {
  await send("POST", "/api/v1/auth/logout", "{}", { "Content-Type": "application/json" }).catch(() => undefined);
  setTokens(null);
}

// The shapes the pages use, as the service sends them: generated from its OpenAPI document
// (api-types.ts), so that a field the service renames or retypes fails the type check here.

export type Me = Api.Me;
export type AdviserEntry = Api.AdviserEntry;
export type QuerySummary = Api.QuerySummary;
export type QueryDetail = Api.QueryDetail;
export type Cell = Api.Cell;
export type Area = Api.Area;
export type StatsTable = Api.Table;
export type StatsPeriod = Api.PeriodReport;
export type AccessReport = Api.AccessReport;
export type ReleaseListing = Api.ReleaseListing;
export type AccountSummary = Api.AccountSummary;
/// What the operator on call sees (`GET /api/v1/operations`): counts and ages, no one named.
export type OperationsStatus = Api.OperationsStatus;
export type Authority = Api.AuthorityEntry;
export type SharedReport = Api.ReportView;
export type KeyProof = Api.KeyProof;
export type Receipt = Api.Receipt;
export type SessionEntry = Api.SessionEntry;
export type PasskeyInfo = Api.PasskeyInfo;

/// A text answer (a CSV report), renewing an expired access token once.
export async function callText(path: string, accept: string): Promise<string> {
  let res = await send("GET", path, undefined, { Accept: accept });
  if (res.status === 401 && access) {
    if (await renew()) res = await send("GET", path, undefined, { Accept: accept });
    else ended();
  }
  if (!res.ok) throw await problem(res);
  return res.text();
}

