// Attachments, encrypted and decrypted as streams in the page. The file's name and type go
// inside the encryption, in the envelope the command-line client writes and reads:
//
//   IRO-ADVICE-ATTACHMENT/1\n{"name":"minutes.pdf","type":"application/pdf"}\n<the file>

import { Decrypter, Encrypter } from "age-encryption";
import { authHeaders, call, problem, Problem, renew, sendBinary } from "./api";
import { identity } from "./crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { signFile, type FileSignature } from "./signing";

const MAGIC = "IRO-ADVICE-ATTACHMENT/1\n";
const MAX_HEADER = 4096;

/// Encrypts `file` to `recipients` in the page and sends the ciphertext to the query as it is
/// produced, a segment at a time, reporting progress from 0 to 1: the page holds a segment
/// or two, whatever the file's size. (A browser streams one request body only over HTTP/2,
/// which the service does not speak; see the README.)
export async function sendFile(queryId: string, file: File, recipients: string[], sender: string, progress: (done: number) => void) {
  const mine = identity();
  if (!mine) throw new Error("your key is locked");
  // Signed as the sender's in this query, over the file's SHA-256 (read once first).
  const signed = signFile(mine, queryId, sender, await digestOf(file.stream()));
  const envelope = `${MAGIC}${JSON.stringify({ name: file.name, type: file.type || "application/octet-stream", ...signed })}\n`;
  const plain = new Blob([envelope, file]);
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return sendStream(queryId, await e.encrypt(plain.stream()), plain.size, progress);
}

/// SHA-256 of a stream, read through.
async function digestOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const h = sha256.create();
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return h.digest();
    h.update(value);
  }
}

/// An age file's length for `plain` bytes of plaintext, less its header: a 16-byte nonce and
/// a 16-byte tag per 64 KiB chunk. Enough for a progress bar.
function sealedSize(plain: number): number {
  return plain + 16 + 16 * Math.max(1, Math.ceil(plain / 65536));
}

/// Sends one segment; a connection that drops (or a service that is briefly unavailable)
/// costs a resend of that segment, not of the file. The service recognises a segment it
/// already has, so a resend after a lost answer is harmless.
async function sendSegment(path: string, body: Blob, at: number) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendBinary("PATCH", path, body, { "Upload-Offset": String(at) });
    } catch (e) {
      const transient = e instanceof Problem && (e.status === 0 || e.status === 502 || e.status === 503 || e.status === 504);
      if (!transient || attempt === 4) throw e;
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  }
}

/// Sends a ciphertext stream as an upload in segments; with `replaces`, the stream takes the
/// place of that attachment's. One segment is sent while the next is encrypted, so the page
/// holds two at most.
async function sendStream(queryId: string, ciphertext: ReadableStream<Uint8Array>, plainSize: number, progress: (done: number) => void, replaces?: string) {
  const started = await call<{ id: string; segment_bytes: number }>("POST", `/api/v1/queries/${encodeURIComponent(queryId)}/uploads`, { size: plainSize });
  const path = `/api/v1/uploads/${encodeURIComponent(started.id)}`;
  const expected = sealedSize(plainSize);
  let offset = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  // A segment goes as a Blob: its bytes move to the browser's blob store at once and leave
  // the page's memory (sent as bytes instead, Chromium keeps a copy of each in the page and
  // sends them three times slower, both measured). The store lets a sent segment go when the
  // page's garbage collector drops its Blob, and spills to disk past its memory limit.
  let pending: BlobPart[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    const body = new Blob(pending);
    const at = offset;
    offset += pendingBytes;
    pending = [];
    pendingBytes = 0;
    await inFlight;
    inFlight = sendSegment(path, body, at).then(() => progress(Math.min(1, (at + body.size) / expected)));
  };
  try {
    const reader = ciphertext.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let rest = value;
      while (rest.length > 0) {
        const part = rest.subarray(0, started.segment_bytes - pendingBytes);
        pending.push(part as Uint8Array<ArrayBuffer>);
        pendingBytes += part.length;
        rest = rest.subarray(part.length);
        if (pendingBytes === started.segment_bytes) await flush();
      }
    }
    if (pendingBytes > 0) await flush();
    await inFlight;
    const done = await call<{ id: string; size: number }>("POST", `${path}/complete`, replaces ? { replaces } : {});
    progress(1);
    return done;
  } catch (e) {
    // Refused at completion, the upload is gone already; otherwise it goes now.
    await inFlight.catch(() => undefined);
    await call("DELETE", path).catch(() => undefined);
    throw e;
  }
}

/// A name that is safe to save under: no directories, no hidden or control characters, and
/// none of the controls that reorder text (U+202E shows "evil\u202etxt.exe" as "evilexe.txt").
function safeName(name: unknown): string {
  const base = String(name ?? "").split(/[\\/]/).pop() ?? "";
  const clean = base
    .replace(/[\u0000-\u001f\u007f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "")
    .replace(/^\.+/, "")
    .trim();
  return clean.slice(0, 200) || "attachment";
}

/// An attachment's plaintext as a stream, decrypted as it arrives.
async function plaintext(id: string): Promise<ReadableStream<Uint8Array>> {
  const secret = identity();
  if (!secret) throw new Error("locked");
  const get = () => fetch(`/api/v1/attachments/${encodeURIComponent(id)}`, { headers: authHeaders(), cache: "no-store" });
  let res = await get();
  if (res.status === 401 && (await renew())) res = await get();
  if (!res.ok || !res.body) throw await problem(res);
  const d = new Decrypter();
  d.addIdentity(secret);
  return d.decrypt(res.body);
}

/// Re-encrypts an attachment to new recipients (routing to another adviser): in place when
/// the service allows (`replaceable`), else as a copy on the query.
export async function reencrypt(queryId: string, a: { id: string; size: number; replaceable: boolean }, recipients: string[], progress: (done: number) => void) {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return sendStream(queryId, await e.encrypt(await plaintext(a.id)), a.size, progress, a.replaceable ? a.id : undefined);
}

/// Fetches and decrypts an attachment; its name and type from inside the encryption.
export async function openAttachment(id: string): Promise<{ name: string; type: string; blob: Blob; signed: FileSignature | null; digest: Uint8Array }> {
  const reader = (await plaintext(id)).getReader();
  // Read until the envelope's two lines are in, keeping what follows them.
  let head = new Uint8Array(0);
  let envelopeEnd = -1;
  while (envelopeEnd < 0) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(head.length + value.length);
    joined.set(head);
    joined.set(value, head.length);
    head = joined;
    const magicEnd = MAGIC.length;
    if (head.length >= magicEnd && new TextDecoder().decode(head.slice(0, magicEnd)) !== MAGIC) break;
    const nl = head.indexOf(0x0a, magicEnd);
    if (nl >= 0) envelopeEnd = nl + 1;
    if (head.length > MAGIC.length + MAX_HEADER) break;
  }
  let name = "attachment";
  let type = "application/octet-stream";
  let signed: FileSignature | null = null;
  let rest = head;
  if (envelopeEnd > 0) {
    const meta = JSON.parse(new TextDecoder().decode(head.slice(MAGIC.length, envelopeEnd - 1)));
    name = safeName(meta.name);
    type = typeof meta.type === "string" && /^[\w.+-]+\/[\w.+-]+$/.test(meta.type) ? meta.type : type;
    if (typeof meta.query === "string" && typeof meta.sender === "string" && Number.isSafeInteger(meta.signed_at) && typeof meta.signature === "string") {
      signed = { query: meta.query, sender: meta.sender, signed_at: meta.signed_at, signature: meta.signature };
    }
    rest = head.slice(envelopeEnd);
  }
  // The file is hashed as it streams past, for its sender's signature.
  const h = sha256.create();
  const remainder = new ReadableStream<Uint8Array>({
    start(c) {
      if (rest.length) {
        h.update(rest);
        c.enqueue(rest);
      }
    },
    async pull(c) {
      const { value, done } = await reader.read();
      if (done) c.close();
      else {
        h.update(value);
        c.enqueue(value);
      }
    },
  });
  // Typed as data, never as a page: the browser must not render it in this origin.
  const blob = await new Response(remainder).blob();
  return { name, type, blob: new Blob([blob], { type: "application/octet-stream" }), signed, digest: h.digest() };
}

/// Saves a Blob under a name, as a download.
export function save(blob: Blob, name: string) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}
