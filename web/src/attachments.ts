// Attachments, encrypted and decrypted as streams in the page. The file's name and type go
// inside the encryption, in the envelope the command-line client writes and reads:
//
//   IRO-ADVICE-ATTACHMENT/1\n{"name":"minutes.pdf","type":"application/pdf"}\n<the file>

import { Decrypter, Encrypter } from "age-encryption";
import { authHeaders, problem, Problem, renew } from "./api";
import { identity } from "./crypto";

const MAGIC = "IRO-ADVICE-ATTACHMENT/1\n";
const MAX_HEADER = 4096;

/// The file encrypted to `recipients`, as a Blob the browser may keep on disk: a large file
/// never has to fit in the page's memory.
export async function encryptFile(file: File, recipients: string[]): Promise<Blob> {
  const envelope = `${MAGIC}${JSON.stringify({ name: file.name, type: file.type || "application/octet-stream" })}\n`;
  const plain = new Blob([envelope, file]).stream();
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return new Response(await e.encrypt(plain)).blob();
}

/// Sends an encrypted attachment to a query, reporting progress from 0 to 1.
export function upload(queryId: string, body: Blob, progress: (done: number) => void): Promise<{ id: string; size: number }> {
  return send("POST", `/api/v1/queries/${encodeURIComponent(queryId)}/attachments`, body, progress);
}

/// Sends with progress; an access token that expired meanwhile is renewed from the session
/// and the (already encrypted) body sent once more.
async function send(method: string, path: string, body: Blob, progress: (done: number) => void) {
  const first = await attempt(method, path, body, progress);
  if (first.status !== 401 || !(await renew())) return answer(first);
  return answer(await attempt(method, path, body, progress));
}

async function answer(xhr: XMLHttpRequest): Promise<{ id: string; size: number }> {
  if (xhr.status === 200 || xhr.status === 201) return JSON.parse(xhr.responseText || "{}");
  throw await problem(new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText }));
}

function attempt(method: string, path: string, body: Blob, progress: (done: number) => void): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Problem(0, "network", "network"));
    xhr.send(body);
  });
}

/// A name that is safe to save under: no directories, no hidden or control characters.
function safeName(name: unknown): string {
  const base = String(name ?? "").split(/[\\/]/).pop() ?? "";
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, "").replace(/^\.+/, "").trim();
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
export async function reencrypt(queryId: string, a: { id: string; replaceable: boolean }, recipients: string[], progress: (done: number) => void) {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  const sealed = await new Response(await e.encrypt(await plaintext(a.id))).blob();
  return a.replaceable ? send("PUT", `/api/v1/attachments/${encodeURIComponent(a.id)}`, sealed, progress) : upload(queryId, sealed, progress);
}

/// Fetches and decrypts an attachment; its name and type from inside the encryption.
export async function openAttachment(id: string): Promise<{ name: string; type: string; blob: Blob }> {
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
  let rest = head;
  if (envelopeEnd > 0) {
    const meta = JSON.parse(new TextDecoder().decode(head.slice(MAGIC.length, envelopeEnd - 1)));
    name = safeName(meta.name);
    type = typeof meta.type === "string" && /^[\w.+-]+\/[\w.+-]+$/.test(meta.type) ? meta.type : type;
    rest = head.slice(envelopeEnd);
  }
  const remainder = new ReadableStream<Uint8Array>({
    start(c) {
      if (rest.length) c.enqueue(rest);
    },
    async pull(c) {
      const { value, done } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
  });
  // Typed as data, never as a page: the browser must not render it in this origin.
  const blob = await new Response(remainder).blob();
  return { name, type, blob: new Blob([blob], { type: "application/octet-stream" }) };
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
