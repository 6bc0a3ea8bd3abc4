// The checks the command-line client makes, in the page: the service's checkpoint is signed
// by the pinned log key and cosigned by the pinned quorum of witnesses, and extends the newest
// checkpoint this browser has seen (kept in IndexedDB); every key the page encrypts to is
// proven in that log, and pinned per correspondent. A rewritten log or a swapped key stops
// the page instead of being believed.

import { call, callText, signedIn } from "./api";
import { decryptTextWith } from "./crypto";
import type { KeyProof, Receipt } from "./api";
import { handedOver } from "./signing";
import { kvGet, kvPut, type KeptReceipt } from "./store";
import { fill, m } from "./messages";

type Hash = Uint8Array;

interface Pinned {
  log_key: string;
  witnesses: string[];
  quorum: number;
}

interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
  /// Each pinned witness, and when it cosigned this checkpoint (null: it did not).
  cosignatures: { witness: string; time: number | null }[];
}

/// The log was rolled back or forked: the evidence is both signed checkpoints.
export class LogRewritten extends Error {
  constructor(
    /// What changed, in the page's language at the moment it is shown.
    public reason: () => string,
    public held: string,
    public served: string,
  ) {
    super(reason());
  }
}

/// A key the page will not encrypt to.
export class KeyRefused extends Error {}

/// A checkpoint signed by the log but short of the witnesses this browser pinned.
class Unwitnessed extends KeyRefused {
  constructor(
    public valid: number,
    public quorum: number,
  ) {
    super(`the checkpoint has ${valid} of the ${quorum} witness cosignatures required`);
  }
}

/// A correspondent's key changed since this browser pinned it.
export class KeyChanged extends Error {
  constructor(
    public account: string,
    public was: string,
    public now: string,
    /// Whether the key that was signed the new one over (a device that held it changed it).
    public handedOver = false,
  ) {
    super("key changed");
  }
}

/// Pins are by identity too: another account under a name this browser pinned, or a pinned
/// account under a new name. The operator can rename accounts in its database without a
/// leaf, so an insider given a trusted person's name waits for the user's word. `was` is the
/// key pinned under that name; `now` this account's.
export class IdentityChanged extends KeyChanged {}

const enc = new TextEncoder();

function b64(text: string): Uint8Array {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function sha256(...parts: Uint8Array[]): Promise<Hash> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts) as BufferSource));
}

/// SHA-256 of who an account is, as a key event commits to it (the model's `Identity`): a
/// label, then each field with its length in two bytes, big-endian.
async function identityDigest(c: { display_name: string; role: string; affiliation: string; verified: boolean; sra_number?: string | null }): Promise<Hash> {
  const parts: Uint8Array[] = [enc.encode("iro-advice identity\0")];
  for (const field of [c.display_name, c.role, c.affiliation, c.verified ? "1" : "0", c.sra_number ?? ""]) {
    const bytes = enc.encode(field).slice(0, 65535);
    parts.push(new Uint8Array([bytes.length >> 8, bytes.length & 255]), bytes);
  }
  return sha256(...parts);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

const leafHash = (data: Uint8Array) => sha256(Uint8Array.of(0), data);
const nodeHash = (l: Hash, r: Hash) => sha256(Uint8Array.of(1), l, r);

/// RFC 9162 §2.1.3.2.
export async function verifyInclusion(leaf: Hash, index: number, size: number, proof: Hash[], root: Hash): Promise<boolean> {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/// RFC 9162 §2.1.4.2.
export async function verifyConsistency(old: number, size: number, oldRoot: Hash, newRoot: Hash, proof: Hash[]): Promise<boolean> {
  if (old > size) return false;
  if (old === size) return proof.length === 0 && equal(oldRoot, newRoot);
  if (old === 0) return proof.length === 0;
  const path = (old & (old - 1)) === 0 ? [oldRoot, ...proof] : [...proof];
  if (!path.length) return false;
  let fn = old - 1;
  let sn = size - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, oldRoot) && equal(sr, newRoot);
}

interface Verifier {
  name: string;
  id: Uint8Array;
  key: CryptoKey;
}

/// A C2SP verifier key, `name+hex(id)+base64(type ‖ key)`, of the given type (0x01 for a
/// note signer, 0x04 for a witness's cosignature/v1).
async function verifier(vkey: string, type: number): Promise<Verifier> {
  const [name, id, key] = splitKey(vkey.trim());
  const typed = b64(key);
  if (!name || typed.length !== 33 || typed[0] !== type) throw new KeyRefused(`not a verifier key: ${vkey}`);
  const public_ = typed.slice(1);
  const expected = (await sha256(enc.encode(name), Uint8Array.of(0x0a, type), public_)).slice(0, 4);
  const hex = Array.from(expected, (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== id.toLowerCase()) throw new KeyRefused(`the key id of ${name} does not match its key`);
  return { name, id: expected, key: await crypto.subtle.importKey("raw", public_ as BufferSource, { name: "Ed25519" }, false, ["verify"]) };
}

function splitKey(vkey: string): [string, string, string] {
  const a = vkey.indexOf("+");
  const b = a < 0 ? -1 : vkey.indexOf("+", a + 1);
  if (b < 0) return ["", "", ""];
  return [vkey.slice(0, a), vkey.slice(a + 1, b), vkey.slice(b + 1)];
}

function noteParts(note: string): { body: string; sigs: { name: string; sig: Uint8Array }[] } {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new KeyRefused("not a signed note");
  const body = note.slice(0, split + 1);
  const sigs = note
    .slice(split + 2)
    .split("\n")
    .filter((l) => l.length > 0)
    .map((line) => {
      if (!line.startsWith("\u2014 ")) throw new KeyRefused("not a signed note");
      const [name, sig] = line.slice(2).split(" ", 2);
      return { name, sig: b64(sig ?? "") };
    });
  return { body, sigs };
}

/// Opens a checkpoint signed by the log and cosigned by the quorum of witnesses.
async function openCheckpoint(note: string, pinned: Pinned): Promise<Checkpoint> {
  const { body, sigs } = noteParts(note);
  const log = await verifier(pinned.log_key, 0x01);
  let signed = false;
  for (const s of sigs) {
    if (s.name === log.name && s.sig.length === 68 && equal(s.sig.slice(0, 4), log.id)) {
      if (await crypto.subtle.verify("Ed25519", log.key, s.sig.slice(4) as BufferSource, enc.encode(body) as BufferSource)) signed = true;
    }
  }
  if (!signed) throw new KeyRefused("the checkpoint is not signed by the log's pinned key");
  let cosigned = 0;
  const cosignatures: Checkpoint["cosignatures"] = [];
  for (const w of pinned.witnesses) {
    const v = await verifier(w, 0x04);
    let when: number | null = null;
    for (const s of sigs) {
      if (s.name !== v.name || s.sig.length !== 76 || !equal(s.sig.slice(0, 4), v.id)) continue;
      const time = new DataView(s.sig.buffer, s.sig.byteOffset + 4, 8).getBigUint64(0);
      const message = enc.encode(`cosignature/v1\ntime ${time}\n${body}`);
      if (await crypto.subtle.verify("Ed25519", v.key, s.sig.slice(12) as BufferSource, message as BufferSource)) {
        cosigned++;
        when = Number(time);
        break;
      }
    }
    cosignatures.push({ witness: v.name, time: when });
  }
  if (cosigned < pinned.quorum) throw new Unwitnessed(cosigned, pinned.quorum);
  const [origin, size, root] = body.split("\n");
  if (origin !== log.name || !/^(0|[1-9][0-9]*)$/.test(size)) throw new KeyRefused("a malformed checkpoint");
  return { origin, size: Number(size), root: b64(root), cosignatures };
}

async function pinnedTrust(): Promise<Pinned> {
  const held = await kvGet<Pinned>("trust");
  if (held) return held;
  // First use in this browser: pin what the service advertises, as the client does.
  const advertised = await call<Pinned>("GET", "/api/v1/log/trust");
  await kvPut("trust", advertised);
  return advertised;
}

/// The keys this browser checks every checkpoint with, to compare with those NAIRO publishes.
export async function trustedKeys(): Promise<{ log_key: string; witnesses: string[]; quorum: number }> {
  return pinnedTrust();
}

let verified: { checkpoint: Checkpoint; note: string } | null = null;

/// The log as NAIRO watches it: the newest checkpoint the service serves (after the same
/// rollback check as every page), who cosigned it and when, and the quorum this browser
/// pinned.
export async function logHealth(): Promise<{ size: number; quorum: number; logKey: string; cosignatures: Checkpoint["cosignatures"]; advertised: string[] }> {
  await checkLog();
  const pinned = await pinnedTrust();
  const res = await fetch("/api/v1/log/checkpoint", { cache: "no-store" });
  if (!res.ok) throw new KeyRefused("the service has no witnessed checkpoint yet; try again in a minute");
  const newest = await openCheckpoint(await res.text(), pinned);
  // The witnesses the service asks now (not what this browser pinned): NAIRO checks that
  // its own is still among them.
  const advertised = (await call<Pinned>("GET", "/api/v1/log/trust")).witnesses;
  return { size: newest.size, quorum: pinned.quorum, logKey: pinned.log_key, cosignatures: newest.cosignatures, advertised };
}

/// Fetches the service's checkpoint, checks its signatures and that it extends the newest
/// one this browser holds, and keeps it. Throws LogRewritten on a rollback or fork.
export async function checkLog(): Promise<Checkpoint> {
  const pinned = await pinnedTrust();
  const res = await fetch("/api/v1/log/checkpoint", { cache: "no-store" });
  if (!res.ok) throw new KeyRefused("the service has no witnessed checkpoint yet; try again in a minute");
  const served = await res.text();
  const heldNote = await kvGet<string>("checkpoint");
  let newer: Checkpoint;
  try {
    newer = await openCheckpoint(served, pinned);
  } catch (e) {
    // Dropping or swapping the witnesses is how a restored or forked log would be served:
    // an alarm, as a rewritten log is, never a quiet refusal.
    if (e instanceof Unwitnessed) {
      const { valid, quorum } = e;
      throw new LogRewritten(() => fill(m.logUnwitnessed, { valid, quorum }), heldNote ?? "", served);
    }
    throw e;
  }
  if (heldNote) {
    const held = await openCheckpoint(heldNote, { ...pinned, witnesses: [], quorum: 0 });
    let reason: (() => string) | null = null;
    if (newer.size < held.size) reason = () => fill(m.logShrunk, { now: newer.size, before: held.size });
    else if (newer.size === held.size && !equal(newer.root, held.root)) reason = () => fill(m.logForked, { before: held.size });
    else if (newer.size > held.size && held.size > 0) {
      const proof = await call<{ hashes: string[] }>("GET", `/api/v1/log/proof/consistency?from=${held.size}&to=${newer.size}`);
      if (!(await verifyConsistency(held.size, newer.size, held.root, newer.root, proof.hashes.map(b64)))) {
        reason = () => fill(m.logNotExtended, { now: newer.size, before: held.size });
      }
    }
    if (reason) throw new LogRewritten(reason, heldNote, served);
    if (newer.size <= held.size) {
      verified = { checkpoint: held, note: heldNote };
      await checkKept(held, heldNote);
      return held;
    }
  }
  await kvPut("checkpoint", served);
  verified = { checkpoint: newer, note: served };
  await checkKept(newer, served);
  return newer;
}

/// How long an act may wait for a witnessed checkpoint: the longest publication interval the
/// service allows (an hour) and an hour more for the witnesses.
const RECEIPT_DEADLINE_MS = 2 * 3600 * 1000;

/// Checks the receipts this browser keeps against the witnessed checkpoint: those it includes
/// are done with; one whose index holds another entry, or that is still missing after the
/// deadline, raises the alarm with the receipt as evidence.
async function checkKept(cosigned: Checkpoint, note: string): Promise<void> {
  if (!signedIn()) return;
  const kept = (await kvGet<KeptReceipt[]>("kept-receipts")) ?? [];
  if (!kept.length) return;
  const still: KeptReceipt[] = [];
  let theirs: Receipt[] | null = null;
  for (const k of kept) {
    let index = k.receipt.leaf_index ?? null;
    if (index === null) {
      theirs ??= await call<Receipt[]>("GET", "/api/v1/me/receipts");
      index = theirs.find((r) => r.leaf_data === k.receipt.leaf_data)?.leaf_index ?? null;
    }
    const evidence = `receipt kept by this browser:\n${JSON.stringify(k.receipt, null, 2)}\n`;
    if (index !== null && index < cosigned.size) {
      const at = index;
      const proof = await call<{ hashes: string[] }>("GET", `/api/v1/log/proof/inclusion?index=${at}&size=${cosigned.size}`);
      const leaf = await leafHash(b64(k.receipt.leaf_data));
      if (!(await verifyInclusion(leaf, at, cosigned.size, proof.hashes.map(b64), cosigned.root))) {
        throw new LogRewritten(() => fill(m.actErased, { index: at }), evidence, note);
      }
    } else if (Date.now() - k.kept_at > RECEIPT_DEADLINE_MS) {
      throw new LogRewritten(() => m.actNeverWitnessed, evidence, note);
    } else {
      still.push(k);
    }
  }
  await kvPut("kept-receipts", still);
}

/// An opaque leaf (version 2): 0x02, a tag (32 bytes), a commitment (32 bytes) to its
/// opening; see the book's chapter on the log.
function isOpaque(data: Uint8Array): boolean {
  return data.length === 65 && data[0] === 2;
}

/// The version-1 encoding of an act: a public leaf's data, or an opaque leaf's opened body.
function actBytes(r: { leaf_data: string; opening?: { body: string } | null }): Uint8Array {
  return r.opening ? b64(r.opening.body) : b64(r.leaf_data);
}

/// Checks that an opening opens its leaf: SHA-256("iro-advice leaf v2\0" ‖ salt ‖ len(body)
/// ‖ body ‖ details) is the leaf's commitment.
async function opens(data: Uint8Array, opening: { salt: string; body: string; details: string }): Promise<boolean> {
  if (!isOpaque(data)) return false;
  const body = b64(opening.body);
  const len = Uint8Array.of((body.length >> 8) & 0xff, body.length & 0xff);
  const commitment = await sha256(enc.encode("iro-advice leaf v2\0"), b64(opening.salt), len, body, enc.encode(opening.details));
  return equal(commitment, data.slice(33));
}

/// What a receipt's act was: the kind of act, when, for which authority (from its opening;
/// `verifyReceipt` checks that the opening opens the leaf).
export function receiptSummary(r: Receipt): { kind: number; at: Date; authority: string } {
  const data = actBytes(r);
  const seconds = Number(new DataView(data.buffer, data.byteOffset + 2, 8).getBigUint64(0));
  const n = data[10] ?? 0;
  return { kind: data[1], at: new Date(seconds * 1000), authority: new TextDecoder().decode(data.slice(11, 11 + n)) };
}

/// Verifies a receipt as `iro-advice receipt verify` does: its checkpoint is signed by the
/// pinned log key and cosigned by the quorum, its leaf is in that tree, and the newest
/// checkpoint this browser holds still extends that tree (the act was not erased since).
export async function verifyReceipt(r: Receipt): Promise<{ size: number; newest: number }> {
  const data = b64(r.leaf_data);
  if (r.opening ? !(await opens(data, r.opening)) : isOpaque(data)) throw new KeyRefused(m.receiptUnopened);
  if (r.leaf_index == null || !r.checkpoint) throw new KeyRefused(m.receiptUnpublished);
  const pinned = await pinnedTrust();
  const cp = await openCheckpoint(r.checkpoint, pinned);
  if (!(await verifyInclusion(await leafHash(data), r.leaf_index, cp.size, r.inclusion_proof.map(b64), cp.root))) {
    throw new KeyRefused("the receipt's entry is not in its checkpoint's tree");
  }
  const newest = await checkLog();
  if (newest.size < cp.size) throw new KeyRefused("the log this browser holds is older than the receipt; reload and try again");
  if (newest.size > cp.size) {
    const proof = await call<{ hashes: string[] }>("GET", `/api/v1/log/proof/consistency?from=${cp.size}&to=${newest.size}`);
    if (!(await verifyConsistency(cp.size, newest.size, cp.root, newest.root, proof.hashes.map(b64)))) {
      throw new LogRewritten(() => fill(m.logLostReceipt, { size: cp.size }), r.checkpoint, verified?.note ?? "");
    }
  } else if (!equal(newest.root, cp.root)) {
    throw new LogRewritten(() => fill(m.logForked, { before: cp.size }), r.checkpoint, verified?.note ?? "");
  }
  return { size: cp.size, newest: newest.size };
}

/// Checks a recipient the service handed out against its key event in the log and this
/// browser's pin for the account; pins it. Throws KeyRefused or KeyChanged.
export async function verifiedRecipient(owner: string, account: string, recipient: string, proof: KeyProof | null | undefined, acceptChange = false, name?: string): Promise<string> {
  if (!proof) throw new KeyRefused("the service cannot prove this key is in the witnessed log yet; try again in a minute");
  const data = b64(proof.leaf_data);
  if (proof.opening ? !(await opens(data, proof.opening)) : isOpaque(data)) throw new KeyRefused("the key proof's opening does not open its entry");
  // The event: version, kind, time (8), authority (1 + n), actor (32), subject (32), nonce
  // (16), then the key version (8), the recipient's SHA-256 (32) and, since identities are
  // logged (kind 26), the SHA-256 of who the account is (32).
  const event = actBytes(proof);
  const n = event[10] ?? 0;
  const subject = event.slice(11 + n + 32, 11 + n + 64);
  const ext = event.slice(11 + n + 80);
  const identified = event[1] === 26 && ext.length === 72;
  if (event[0] !== 1 || !(identified || (event[1] === 15 && ext.length === 40))) throw new KeyRefused("the key proof is not a key event");
  const directory = await sha256(enc.encode("iro-advice directory:"), enc.encode(account));
  if (!equal(subject, directory)) throw new KeyRefused("the key proof is for another account");
  if (!equal(ext.slice(8, 40), await sha256(enc.encode(recipient)))) {
    throw new KeyRefused("the key the service gave is not the key the log holds for them: the service's database may have been altered. Tell NAIRO.");
  }
  // The name shown is the one the key event commits to: an insider renamed in the database,
  // with no entry in the log, is refused.
  if (identified) {
    const claim = proof.identity;
    if (!claim) throw new KeyRefused("the service did not say whose key the log records this as");
    if (!equal(ext.slice(40), await identityDigest(claim))) {
      throw new KeyRefused("the name, role or verification the service gives for them is not what their key event in the log holds: the service's database may have been altered. Tell NAIRO.");
    }
    if (name !== undefined && claim.display_name.trim() !== name.trim()) {
      throw new KeyRefused(`the service shows them as ${name}, but the log records this account as ${claim.display_name}. Tell NAIRO.`);
    }
  }
  const version = Number(new DataView(ext.buffer, ext.byteOffset, 8).getBigUint64(0));
  // An opaque key event carries the tag its owner's watch finds it by; a version beyond what
  // the watch looks for could hide from the owner.
  if (isOpaque(data)) {
    const tag = await sha256(enc.encode("iro-advice key tag\0"), directory, u64(version));
    if (!equal(tag, data.slice(1, 33)) || version > 65536) throw new KeyRefused("the key proof's entry is not tagged for this account's key");
  }
  let checkpoint = verified?.checkpoint ?? (await checkLog());
  if (proof.leaf_index >= checkpoint.size) checkpoint = await checkLog();
  if (proof.leaf_index >= checkpoint.size) throw new KeyRefused("their key is newer than the log this browser has verified; try again in a minute");
  const hashes =
    proof.tree_size === checkpoint.size
      ? proof.inclusion_proof
      : (await call<{ hashes: string[] }>("GET", `/api/v1/log/proof/inclusion?index=${proof.leaf_index}&size=${checkpoint.size}`)).hashes;
  if (!(await verifyInclusion(await leafHash(data), proof.leaf_index, checkpoint.size, hashes.map(b64), checkpoint.root))) {
    throw new KeyRefused("their key is not in the log this browser has verified");
  }
  const pinKey = `pin:${owner}:${account}`;
  const pin = await kvGet<{ version: number; recipient: string; name?: string }>(pinKey);
  if (pin && version < pin.version) throw new KeyRefused(`an older key (version ${version}) is being served than this browser has seen (version ${pin.version})`);
  if (pin && pin.recipient !== recipient && !acceptChange) throw new KeyChanged(account, pin.recipient, recipient, handedOver(account, recipient, pin.recipient, proof.handover));
  const namesKey = `names:${owner}`;
  const names = (await kvGet<Record<string, { account: string; recipient: string }>>(namesKey)) ?? {};
  const called = name?.trim().toLowerCase();
  if (called && !acceptChange) {
    const other = names[called];
    if (other && other.account !== account) throw new IdentityChanged(account, other.recipient, recipient);
    if (pin?.name && pin.name.trim().toLowerCase() !== called) throw new IdentityChanged(account, pin.recipient, recipient);
  }
  await kvPut(pinKey, { version, recipient, name: name ?? pin?.name });
  if (called) await kvPut(namesKey, { ...names, [called]: { account, recipient } });
  return recipient;
}

/// A sign-in the log holds for this account, as `loggedSignIns` proves it.
export interface LoggedSignIn {
  index: number;
  /// Its number among the account's sign-ins, from 1.
  n: number;
  at: Date;
  /// The first 16 bytes of SHA-256("iro-advice session\0" ‖ session id), in hex.
  session: string;
}

/// The sign-ins the log holds for `account`, newest first: each opening the service gives
/// opens its leaf, carries the tag the account's `n`th sign-in has, and the leaf is in the log
/// this browser verified (the newest `limit` are checked so; older ones are not listed).
/// `missing` numbers a sign-in the service did not open between the first and the last: one
/// it hides.
export async function loggedSignIns(account: string, limit = 20): Promise<{ signIns: LoggedSignIn[]; missing: number[] }> {
  const opened = await call<{ leaf_index: number; leaf_data: string; opening?: { salt: string; body: string; details: string } | null }[]>("GET", "/api/v1/me/directory");
  const directory = await sha256(enc.encode("iro-advice directory:"), enc.encode(account));
  const candidates: { index: number; data: Uint8Array; body: Uint8Array; details: string }[] = [];
  for (const o of opened) {
    if (!o.opening) continue;
    const data = b64(o.leaf_data);
    if (!(await opens(data, o.opening))) throw new KeyRefused("the service gave an opening that does not open its entry in the log");
    const body = b64(o.opening.body);
    const n = body[10] ?? 0;
    if (body[0] !== 1 || body[1] !== 25 || !equal(body.slice(11 + n + 32, 11 + n + 64), directory)) continue;
    candidates.push({ index: o.leaf_index, data, body, details: o.opening.details });
  }
  const found: (LoggedSignIn & { data: Uint8Array })[] = [];
  for (let n = 1, left = candidates.length; left > 0 && n <= 65536; n++) {
    const tag = await sha256(enc.encode("iro-advice sign-in tag\0"), directory, u64(n));
    const c = candidates.find((x) => equal(x.data.slice(1, 33), tag));
    if (!c) continue;
    left--;
    const secs = Number(new DataView(c.body.buffer, c.body.byteOffset + 2, 8).getBigUint64(0));
    const session = /^session=([0-9a-f]{32})$/.exec(c.details)?.[1] ?? "";
    found.push({ index: c.index, n, at: new Date(secs * 1000), session, data: c.data });
  }
  const numbers = new Set(found.map((f) => f.n));
  const highest = Math.max(0, ...numbers);
  const missing = Array.from({ length: highest }, (_, i) => i + 1).filter((n) => !numbers.has(n));
  found.sort((a, b) => b.n - a.n);
  const checkpoint = await checkLog();
  const shown = found.filter((f) => f.index < checkpoint.size).slice(0, limit);
  for (const f of shown) {
    const proof = await call<{ hashes: string[] }>("GET", `/api/v1/log/proof/inclusion?index=${f.index}&size=${checkpoint.size}`);
    if (!(await verifyInclusion(await leafHash(f.data), f.index, checkpoint.size, proof.hashes.map(b64), checkpoint.root))) {
      throw new KeyRefused("a sign-in the service listed is not in the log this browser has verified");
    }
  }
  return { signIns: shown.map(({ data: _, ...rest }) => rest), missing };
}

/// The digest a sign-in's entry names its session by.
export async function sessionDigest(id: string): Promise<string> {
  const full = await sha256(enc.encode("iro-advice session\0"), enc.encode(id));
  return Array.from(full.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/// A tile's index in C2SP tlog-tiles form: 3-digit groups, all but the last prefixed x.
function tileIndex(n: number): string {
  const groups: string[] = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, "0"));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

/// The log's entries `0..size`, from its public entry bundles.
async function entries(size: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let index = 0; index * 256 < size; index++) {
    const width = Math.min(256, size - index * 256);
    const res = await fetch(`/api/v1/log/tile/entries/${tileIndex(index)}${width < 256 ? `.p/${width}` : ""}`);
    if (!res.ok) throw new KeyRefused(`the log's entries ${index * 256}–${index * 256 + width - 1} cannot be read`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    for (let at = 0; at < bytes.length; ) {
      const len = (bytes[at] << 8) | bytes[at + 1];
      out.push(bytes.slice(at + 2, at + 2 + len));
      at += 2 + len;
    }
  }
  if (out.length !== size) throw new KeyRefused("the log's entry bundles do not hold the checkpoint's entries");
  return out;
}

/// The RFC 9162 root of a list of leaf hashes: perfect subtrees kept on a stack, then the
/// right edge folded from the smallest.
async function rootOf(leaves: Hash[]): Promise<Hash> {
  const edge: { hash: Hash; size: number }[] = [];
  for (const leaf of leaves) {
    let node = { hash: leaf, size: 1 };
    while (edge.length > 0 && edge[edge.length - 1].size === node.size) {
      const left = edge.pop()!;
      node = { hash: await nodeHash(left.hash, node.hash), size: node.size * 2 };
    }
    edge.push(node);
  }
  if (edge.length === 0) return sha256();
  let root = edge[edge.length - 1].hash;
  for (let i = edge.length - 2; i >= 0; i--) root = await nodeHash(edge[i].hash, root);
  return root;
}

/// NAIRO's check of the openings, as `iro-advice audit` makes it before recounting: every
/// entry of the checkpoint this browser verified, read from the tiles (which must rebuild its
/// root), and every opening, decrypted with NAIRO's key, checked against its entry.
export async function auditOpenings(nairoKey: string): Promise<{ size: number; opened: number; unopened: number[]; mismatched: number[] }> {
  const checkpoint = await checkLog();
  const leaves = await entries(checkpoint.size);
  if (!equal(await rootOf(await Promise.all(leaves.map(leafHash))), checkpoint.root)) {
    throw new KeyRefused("the log's entries do not rebuild the checkpoint this browser verified");
  }
  const openings = new Map<number, { salt: string; body: string; details: string }>();
  for (let from = 0; from < checkpoint.size; from += 50_000) {
    const to = Math.min(checkpoint.size, from + 50_000);
    const plain = await decryptTextWith(await callText(`/api/v1/log/openings?from=${from}&to=${to}`, "text/plain"), [nairoKey]);
    for (const line of plain.split("\n")) {
      if (!line) continue;
      const { leaf_index, opening } = JSON.parse(line);
      openings.set(leaf_index, opening);
    }
  }
  const result = { size: checkpoint.size, opened: 0, unopened: [] as number[], mismatched: [] as number[] };
  for (const [i, leaf] of leaves.entries()) {
    if (!isOpaque(leaf)) continue;
    const opening = openings.get(i);
    if (!opening) result.unopened.push(i);
    else if (!(await opens(leaf, opening))) result.mismatched.push(i);
    else result.opened++;
  }
  return result;
}
