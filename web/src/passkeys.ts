// Passkeys as the second step at sign-in, through the browser's own WebAuthn: the service's
// options are WebAuthn's JSON form, and the browser's answer goes back as its `toJSON()`.

import { call, Problem } from "./api";

/// The browser's ceremony, its refusal (cancelled, timed out, no authenticator) turned into
/// the one problem every caller already shows.
async function ceremony<T>(run: () => Promise<Credential | null>, json: (c: PublicKeyCredential) => T): Promise<T> {
  let made: Credential | null;
  try {
    made = await run();
  } catch {
    throw new Problem(0, "passkey-cancelled", "");
  }
  if (!(made instanceof PublicKeyCredential)) throw new Problem(0, "passkey-cancelled", "");
  return json(made);
}

type Options = Parameters<typeof PublicKeyCredential.parseCreationOptionsFromJSON>[0];
type RequestOptions = Parameters<typeof PublicKeyCredential.parseRequestOptionsFromJSON>[0];

/// Whether this browser can make and use passkeys with the service's JSON options.
export function passkeysSupported(): boolean {
  return typeof PublicKeyCredential !== "undefined" && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";
}

/// A new passkey for the signed-in account: the authenticator makes it, the service is
/// told below (with a code from an existing factor).
export async function createPasskey(): Promise<unknown> {
  const options = await call<Options>("POST", "/api/v1/me/passkeys/options", {});
  return ceremony(() => navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) }), (c) => c.toJSON());
}

/// The answer of one of the account's passkeys to a fresh challenge, for signing in.
export async function usePasskey(): Promise<unknown> {
  const options = await call<RequestOptions>("POST", "/api/v1/auth/passkey/options", {});
  return ceremony(() => navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) }), (c) => c.toJSON());
}

/// A passkey's answer to a fresh step-up challenge: what an act that needs a fresh second
/// factor (the wrapped key on a new device, a new password, another passkey) takes instead
/// of an authenticator code.
export async function stepUpPasskey(): Promise<unknown> {
  const options = await call<RequestOptions>("POST", "/api/v1/me/step-up/options", {});
  return ceremony(() => navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) }), (c) => c.toJSON());
}

/// The step-up header carrying a passkey's answer: base64url of its JSON.
export function stepUpHeader(answer: unknown): Record<string, string> {
  const bytes = new TextEncoder().encode(JSON.stringify(answer));
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return { "X-Step-Up-Passkey": btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") };
}
