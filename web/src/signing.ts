// Messages signed by their author's own key, as the command-line client signs them (see the
// Rust crate's model::signing, which this follows byte for byte): XEdDSA with the author's
// age X25519 key, so the key that signs is the one the log already proves and this browser
// pins. The signature goes inside the encryption, on an envelope line before the text, and
// covers the query, the author, the time and the text's SHA-256.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { bech32 } from "@scure/base";
import { concat } from "./log";

/// What the opening message of a query is signed for: its id is the service's to give.
export const OPENING = "opening question";
const MAGIC = "IRO-ADVICE-SIGNED/1\n";

const Point = ed25519.Point;
const N = Point.Fn.ORDER;
const P = Point.Fp.ORDER;
const enc = new TextEncoder();

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function fromLE(bytes: Uint8Array): bigint {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) + BigInt(bytes[i]);
  return x;
}

function toLE(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (t: string) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));

/// The 32 bytes a bech32 age key carries.
function keyBytes(key: string, hrp: string): Uint8Array {
  const { prefix, words } = bech32.decode(key.trim().toLowerCase() as `${string}1${string}`, 120);
  if (prefix !== hrp) throw new Error(`not an ${hrp} key`);
  const bytes = bech32.fromWords(words);
  if (bytes.length !== 32) throw new Error("a key of the wrong length");
  return bytes;
}

function statement(query: string, sender: string, signedAt: number, text: Uint8Array): Uint8Array {
  return enc.encode(`iro-advice message v1\n${query}\n${sender}\n${signedAt}\n${hex(sha256(text))}\n`);
}

/// The Edwards form (sign bit 0) of an age recipient: its XEdDSA signatures verify under it.
function verifyingKey(recipient: string): Uint8Array {
  const u = mod(fromLE(keyBytes(recipient, "age")) & ((1n << 255n) - 1n), P);
  return toLE(mod((u - 1n) * Point.Fp.inv(mod(u + 1n, P)), P));
}

/// An XEdDSA signature (R ‖ s) by the age identity `identity` (AGE-SECRET-KEY-1…).
function xeddsa(identity: string, message: Uint8Array): Uint8Array {
  const k = keyBytes(identity, "age-secret-key-");
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
  const kn = mod(fromLE(k), N);
  const e = Point.BASE.multiply(kn).toBytes();
  const a = e[31] & 0x80 ? mod(-kn, N) : kn;
  const A = Point.BASE.multiply(a).toBytes();
  const prefix = new Uint8Array(32).fill(0xff);
  prefix[0] = 0xfe;
  const r = mod(fromLE(sha512(concat(prefix, toLE(a), message, crypto.getRandomValues(new Uint8Array(64))))), N);
  const R = Point.BASE.multiply(r).toBytes();
  const h = mod(fromLE(sha512(concat(R, A, message))), N);
  const s = mod(r + h * a, N);
  return concat(R, toLE(s));
}

/// `text` as the plaintext of a message signed by `identity` (AGE-SECRET-KEY-1…).
export function signMessage(identity: string, query: string, sender: string, text: string): string {
  const signedAt = Math.floor(Date.now() / 1000);
  const signature = b64(xeddsa(identity, statement(query, sender, signedAt, enc.encode(text))));
  const line = JSON.stringify({ query, sender, signed_at: signedAt, signature });
  return `${MAGIC}${line}\n${text}`;
}

/// What an attachment's envelope carries of its sender's signature over the file.
export interface FileSignature {
  query: string;
  sender: string;
  signed_at: number;
  signature: string;
}

/// The signature, as `sender`'s in `query`, over a file of SHA-256 `digest`.
export function signFile(identity: string, query: string, sender: string, digest: Uint8Array): FileSignature {
  const signedAt = Math.floor(Date.now() / 1000);
  const message = enc.encode(`iro-advice message v1\n${query}\n${sender}\n${signedAt}\n${hex(digest)}\n`);
  return { query, sender, signed_at: signedAt, signature: b64(xeddsa(identity, message)) };
}

/// The IRO's signature on a pressure report, as `sender`'s "pressure report" over the
/// SHA-256 of its kind, day, sharing and exact narrative ciphertext (the model's
/// `report_digest`): kept for the IRO's own client to check, never shown to NAIRO.
export function signReport(identity: string, sender: string, kind: string, occurredOn: string, shared: boolean, narrative: string | undefined): { signed_at: number; signature: string } {
  const digest = sha256(enc.encode(`iro-advice pressure report v1\n${kind}\n${occurredOn}\n${shared ? 1 : 0}\n${narrative ?? ""}`));
  const { signed_at, signature } = signFile(identity, "pressure report", sender, digest);
  return { signed_at, signature };
}

/// Whether `previous` signed `account`'s new key `recipient` over (a handover, made on a
/// device that held the previous key).
export function handedOver(account: string, recipient: string, previous: string, handover: { signed_at: number; signature: string } | null | undefined): boolean {
  if (!handover) return false;
  const digest = sha256(enc.encode(`iro-advice key change v1\n${recipient.trim()}`));
  return fileSigned(previous, { query: "key change", sender: account, signed_at: handover.signed_at, signature: handover.signature }, digest);
}

/// Whether `recipient`'s key signed a file of SHA-256 `digest` as `sig` says.
export function fileSigned(recipient: string, sig: FileSignature, digest: Uint8Array): boolean {
  try {
    const message = enc.encode(`iro-advice message v1\n${sig.query}\n${sig.sender}\n${sig.signed_at}\n${hex(digest)}\n`);
    return ed25519.verify(unb64(sig.signature), message, verifyingKey(recipient));
  } catch {
    return false;
  }
}

/// A decrypted message said to be `sender`'s in `query`: its text, and whether the key
/// `recipient` (theirs, as the log proves it) signed it there.
export function openMessage(plain: string, query: string, sender: string, recipient: string): { text: string; signedAt: number | null } {
  if (!plain.startsWith(MAGIC)) return { text: plain, signedAt: null };
  const rest = plain.slice(MAGIC.length);
  const end = rest.indexOf("\n");
  if (end < 0 || end > 1024) return { text: plain, signedAt: null };
  const text = rest.slice(end + 1);
  try {
    const e = JSON.parse(rest.slice(0, end)) as { query: string; sender: string; signed_at: number; signature: string };
    if (e.query !== query || e.sender !== sender || !Number.isSafeInteger(e.signed_at)) return { text, signedAt: null };
    const ok = ed25519.verify(unb64(e.signature), statement(query, sender, e.signed_at, enc.encode(text)), verifyingKey(recipient));
    return { text, signedAt: ok ? e.signed_at : null };
  } catch {
    return { text, signedAt: null };
  }
}
