// The service's JSON API. The access token lives only in this module's memory; the refresh
// token never reaches the page at all: the service keeps it in an HttpOnly cookie that only
// the refresh and logout endpoints read, and refuses any state-changing request that carries
// the cookie without the header below (which a cross-site form cannot send). A reload keeps
// the session and asks to unlock the key again: the key is never stored unwrapped.

import type { KeyProof } from "./log";
import { m, fill } from "./messages";

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
  return (await res.json()) as T;
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

// The shapes the pages use, as the service sends them.

export interface Me {
  id: string;
  role: "iro" | "adviser" | "nairo" | "admin";
  email: string;
  display_name: string;
  authority_code?: string;
  adviser_kind?: string;
  age_recipient?: string;
  totp_enabled: boolean;
  passkey_enabled: boolean;
  max_attachment_bytes: number;
  language: "en" | "cy";
  verified_at?: string;
  accepting?: boolean;
  conflicts?: string[];
}

export interface AdviserEntry {
  id: string;
  display_name: string;
  kind: string;
  age_recipient: string;
  key_proof?: KeyProof | null;
  open_queries: number;
  verified: boolean;
}

export interface QuerySummary {
  id: string;
  status: string;
  category: string;
  stage: string;
  urgency: string;
  outcome?: string;
  authority_code: string;
  iro_name: string;
  adviser_name: string;
  message_count: number;
  created_at: string;
  waited_past_reminder: boolean;
  adviser_id: string;
}

export interface QueryDetail extends QuerySummary {
  iro_id: string;
  adviser_id: string;
  iro_recipient?: string;
  adviser_recipient?: string;
  iro_key_proof?: KeyProof | null;
  adviser_key_proof?: KeyProof | null;
  messages: { id: string; sender_role: string; created_at: string; body?: string }[];
  attachments: { id: string; size: number; created_at: string; replaceable: boolean }[];
  /// To the IRO only: who declined, why and when.
  declines?: { adviser_name: string; reason: string; declined_at: string }[];
}

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

// Statistics, as `GET /api/v1/stats/access` serves them: a number, or "c" where withheld.
export type Cell = number | "c";
export interface Area {
  code?: string;
  name: string;
  region: string;
}
export interface StatsTable {
  measure: string;
  columns: string[];
  rows: { code?: string; name: string; region: string; cells: Cell[]; total: Cell }[];
  totals: Cell[];
  total: Cell;
  rules_applied: string[];
}
export interface StatsPeriod {
  period: string;
  start: string;
  end: string;
  tables: StatsTable[];
}
export interface AccessReport {
  by: "region" | "authority";
  period: "month" | "quarter" | "year";
  from: string;
  to: string;
  round_totals_to: number;
  not_yet_ended: string[];
  not_released: string[];
  periods: StatsPeriod[];
}
export interface ReleaseListing {
  period: string;
  length: string;
  version: number;
  built_at: string;
  suppressed: number;
  sha256: string;
  leaf_index: number;
}
export interface AccountSummary {
  id: string;
  role: "iro" | "adviser" | "nairo" | "admin";
  email: string;
  display_name: string;
  authority_code?: string;
  adviser_kind?: string;
  status: "active" | "suspended";
  approved_at: string | null;
  sra_number?: string;
  verified_at?: string;
  verified_by?: string;
}
/// What the operator on call sees (`GET /api/v1/operations`): counts and ages, no one named.
export interface OperationsStatus {
  database_up: boolean;
  pool: { connections: number; idle: number; max: number };
  outbox: { pending: number; failing: number; oldest_pending_secs: number; transport: "smtp" | "files" };
  log_size: number;
  served_size: number;
  quorum: number;
  witnesses: { name: string; key: string; cosigned_size: number; failing: boolean; problem?: string; refused_as_inconsistent: boolean }[];
  releases: { stored: number; latest?: { period: string; built_at: string }; due: string[] } | null;
  sign_in_ceiling: boolean;
}
export interface Authority {
  code: string;
  name: string;
  region: string;
  name_cy?: string;
}
export interface SharedReport {
  id: string;
  kind: string;
  occurred_on: string;
  authority_code: string;
  narrative?: string;
  created_at: string;
}
