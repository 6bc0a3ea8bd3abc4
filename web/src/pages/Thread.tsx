import { useEffect, useState } from "preact/hooks";
import { call, Problem, type QueryDetail } from "../api";
import { useSession } from "../app";
import { openAttachment, save, sendFile } from "../attachments";
import { decryptText, encryptText, identity, recipientOf } from "../crypto";
import { KeyChanged, KeyRefused, LogRewritten, verifiedRecipient } from "../log";
import { KeyChangeWarning, keyRefusal } from "./KeyChange";
import { RouteQuery } from "./Route";
import { OPENING, fileSigned, openMessage, signMessage } from "../signing";
import { fill, m } from "../messages";
import { authorities, authorityName } from "../areas";
import { Button, ErrorSummary, Notice, Form, Radios, TextArea, When, asData, dateText, errorFor, say, type FieldError } from "../ui";

interface Shown {
  id: string;
  mine: boolean;
  from: "iro" | "adviser";
  at: string;
  text: string | null;
  problem?: "erased" | "cannotDecrypt";
  /// Whether the sender's key (as the log proves it) signed it: false means the service shows
  /// it as theirs but it is not their words; null, that it could not be checked.
  signed?: boolean | null;
}

export function Thread({ id }: { id: string }) {
  const s = useSession();
  const [query, setQuery] = useState<QueryDetail | null>(null);
  const [shown, setShown] = useState<Shown[]>([]);
  const [reply, setReply] = useState("");
  const [reason, setReason] = useState("");
  const [outcome, setOutcome] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<string | null>(null);
  const [change, setChange] = useState<KeyChanged | null>(null);
  const [accepted, setAccepted] = useState(false);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  // The participants' keys, as the log proves them, that signatures are checked with.
  const [signers, setSigners] = useState<Map<string, string>>(new Map());
  const [unsigned, setUnsigned] = useState<Record<string, boolean>>({});
  // The IRO's authority by name (in Welsh for a Welsh authority on a Welsh page), as the
  // adviser weighs conflicts by name, not by ONS code.
  const [authority, setAuthority] = useState<string | null>(null);
  const role = s.me?.role;
  const otherName = () => (role === "iro" ? (query?.adviser_name ?? "") : (query?.iro_name ?? ""));

  const load = async () => {
    const q = await call<QueryDetail>("GET", `/api/v1/queries/${encodeURIComponent(id)}`);
    // Each message is checked against its sender's key as the log proves it and this browser
    // pinned it: the service says whose words they are, the signature says so.
    const keys = new Map<string, string>();
    const own = identity();
    if (own && s.me) keys.set(s.me.id, await recipientOf(own));
    const other = role === "iro" ? { id: q.adviser_id, recipient: q.adviser_recipient, proof: q.adviser_key_proof, name: q.adviser_name } : { id: q.iro_id, recipient: q.iro_recipient, proof: q.iro_key_proof, name: q.iro_name };
    if (other.recipient && s.me && other.id !== s.me.id) {
      try {
        keys.set(other.id, await verifiedRecipient(s.me.id, other.id, other.recipient, other.proof, false, other.name));
      } catch (e) {
        if (e instanceof LogRewritten) throw e;
        // A key that cannot be proven or changed checks nothing: shown as not checked.
      }
    }
    const out: Shown[] = [];
    for (const [index, msg] of q.messages.entries()) {
      const mine = msg.sender_id === s.me?.id;
      const from = msg.sender_role === "iro" ? "iro" : "adviser";
      if (!msg.body) {
        out.push({ id: msg.id, mine, from, at: msg.created_at, text: null, problem: "erased" });
        continue;
      }
      try {
        const plain = await decryptText(msg.body);
        const key = keys.get(msg.sender_id);
        if (!key) {
          out.push({ id: msg.id, mine, from, at: msg.created_at, text: plain, signed: null });
          continue;
        }
        const opened = openMessage(plain, index === 0 ? OPENING : q.id, msg.sender_id, key);
        out.push({ id: msg.id, mine, from, at: msg.created_at, text: opened.text, signed: opened.signedAt !== null });
      } catch {
        out.push({ id: msg.id, mine, from, at: msg.created_at, text: null, problem: "cannotDecrypt" });
      }
    }
    setQuery(q);
    setShown(out);
    setSigners(keys);
    if (q.authority_code) {
      const found = (await authorities()).find((a) => a.code === q.authority_code);
      setAuthority(found ? authorityName(found) : q.authority_code);
    }
  };

  useEffect(() => {
    load().catch((e) => setErrors([{ field: "messages", text: e instanceof Problem ? e.plain : String(e) }]));
  }, [id]);

  const act = async (field: string, f: () => Promise<unknown>) => {
    setBusy(true);
    setErrors([]);
    s.setNotice(null);
    try {
      await f();
      await load();
    } catch (e) {
      if (e instanceof LogRewritten) return s.alarm(e);
      const refusal = keyRefusal(e, otherName(), field);
      if (refusal) {
        setChange(refusal.change);
        setAccepted(false);
        setErrors([refusal.error]);
      } else setErrors([{ field, text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  const sendReply = () => {
    if (!reply.trim()) {
      setErrors([{ field: "reply", text: m.required.replace("{field}", "your reply") }]);
      return;
    }
    return act("reply", async () => {
      const to = await recipients();
      const mine = identity();
      if (!mine || !s.me) throw new KeyRefused("your key is locked");
      await call("POST", `/api/v1/queries/${encodeURIComponent(id)}/messages`, { body: await encryptText(signMessage(mine, id, s.me.id, reply), to) });
      setReply("");
    });
  };

  /// Our own key from the unlocked identity; theirs only as the log proves it.
  const recipients = async (): Promise<string[]> => {
    const mine = identity();
    if (!query || !mine || !s.me) throw new KeyRefused("your key is locked");
    const [account, recipient, proof] =
      role === "iro" ? [query.adviser_id, query.adviser_recipient, query.adviser_key_proof] : [query.iro_id, query.iro_recipient, query.iro_key_proof];
    if (!recipient) throw new KeyRefused("they have no key");
    const theirs = await verifiedRecipient(s.me.id, account, recipient, proof, accepted && change?.account === account, otherName());
    setChange(null);
    return [await recipientOf(mine), theirs];
  };

  /// A declined query is no longer the adviser's to see: back to the inbox.
  const decline = async () => {
    setBusy(true);
    try {
      await call("POST", `/api/v1/queries/${encodeURIComponent(id)}/decline`, { reason });
      s.setNotice(() => m.declined);
      s.go("#/");
    } catch (e) {
      setErrors([{ field: "decline-reason", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  const attach = () => {
    if (!file) {
      setErrors([{ field: "attachment", text: m.chooseFile }]);
      return;
    }
    return act("attachment", async () => {
      await sendFile(id, file, await recipients(), s.me?.id ?? "", (done) => setProgress(fill(m.uploading, { name: file.name, percent: Math.round(done * 100) })));
      setProgress(null);
      setFile(null);
    });
  };

  if (!query) {
    return (
      <>
        <ErrorSummary errors={errors} />
        {!errors.length && <p>{m.loading}</p>}
      </>
    );
  }
  // An adviser writes once they have accepted; the IRO while the query is theirs to pursue.
  const canWrite = query.status !== "closed" && query.status !== "declined" && (role === "iro" || query.status === "accepted");
  return (
    <>
      <ErrorSummary errors={errors} />
      {s.notice && <Notice success>{say(s.notice)}</Notice>}
      <span class="caption">{m.status[query.status] ?? query.status}</span>
      <h1>{m.categories[query.category] ?? query.category}</h1>
      <dl class="summary">
        <dt>{m.stage}</dt>
        <dd>{m.stages[query.stage] ?? query.stage}</dd>
        <dt>{m.urgency}</dt>
        <dd>{m.urgencies[query.urgency] ?? query.urgency}</dd>
        <dt>{role === "iro" ? m.columnAdviser : m.columnIro}</dt>
        <dd {...asData}>{role === "iro" ? query.adviser_name : fill(m.iroWithAuthority, { name: query.iro_name, authority: authority ?? query.authority_code ?? "" })}</dd>
        {query.outcome && (
          <>
            <dt>{m.outcome}</dt>
            <dd>{m.outcomes[query.outcome] ?? query.outcome}</dd>
          </>
        )}
      </dl>

      <h2 id="messages">{m.messages}</h2>
      {shown.some((x) => x.mine && x.signed === false) && (
        <div class="warning-panel" role="alert" id="forged-in-your-name">
          <h3>{m.forgedInYourNameTitle}</h3>
          <p>{m.forgedInYourName}</p>
        </div>
      )}
      <ol class="messages">
        {shown.map((x) => (
          <li key={x.id} class={x.mine ? "message message-mine" : "message"}>
            <p class="message-meta">
              <strong>{x.mine ? m.fromYou : fill(x.from === "iro" ? m.fromIroNamed : m.fromAdviserNamed, { name: x.from === "iro" ? query.iro_name : query.adviser_name })}</strong>, <When at={x.at} />
            </p>
            {x.signed === false && (
              <p class="message-forged" role="alert">
                <strong>{fill(m.notSignedBy, { name: x.mine ? m.fromYou : x.from === "iro" ? query.iro_name : query.adviser_name })}</strong>
              </p>
            )}
            {x.text !== null ? (
              <p class={x.signed === false ? "message-body message-body-forged" : "message-body"} {...asData}>
                {x.text}
              </p>
            ) : (
              <p class="message-problem">{x.problem === "erased" ? m.erased : m.cannotDecrypt}</p>
            )}
          </li>
        ))}
      </ol>

      {query.attachments.length > 0 && (
        <>
          <h2 id="attachments-heading">{m.attachments}</h2>
          <ul class="attachments" aria-labelledby="attachments-heading">
            {query.attachments.map((a, i) => (
              <li key={a.id}>
                <button type="button" class="link-button" onClick={() => act("attachments-heading", async () => {
                  const opened = await openAttachment(a.id);
                  // Signed by its sender's key for this query, or marked before it is saved.
                  const key = opened.signed && opened.signed.query === query.id ? signers.get(opened.signed.sender) : undefined;
                  const ok = !!(opened.signed && key && fileSigned(key, opened.signed, opened.digest));
                  setUnsigned((u) => ({ ...u, [a.id]: !ok }));
                  save(opened.blob, opened.name);
                })}>
                  {fill(m.openAttachment, { n: i + 1 })}
                </button>{" "}
                <span class="hint">{fill(m.attachmentSize, { size: `${Math.max(1, Math.round(a.size / 1024))} KB`, date: dateText(a.created_at) })}</span>
                {unsigned[a.id] && (
                  <p class="message-forged" role="alert">
                    <strong>{m.fileNotSigned}</strong>
                  </p>
                )}
              </li>
            ))}
          </ul>
        </>
      )}

      {role === "adviser" && query.status === "submitted" && (
        <section aria-labelledby="respond">
          <h2 id="respond">{m.respond}</h2>
          <Button kind="primary" type="button" busy={busy} onClick={() => act("accept", () => call("POST", `/api/v1/queries/${encodeURIComponent(id)}/accept`, {}))}>
            {m.accept}
          </Button>
          <Form
            onSubmit={() =>
              reason
                ? decline()
                : setErrors([{ field: "decline-reason", text: m.chooseDeclineReason }])
            }
          >
            <Radios id="decline-reason" legend={m.declineReason} hint={m.declineReasonHint} value={reason} onChange={setReason} error={errorFor(errors, "decline-reason")} options={Object.entries(m.declineReasons).map(([value, label]) => ({ value, label }))} />
            <Button kind="warning" busy={busy}>
              {m.decline}
            </Button>
          </Form>
        </section>
      )}

      {canWrite && (
        <Form onSubmit={sendReply}>
          {change && <KeyChangeWarning change={change} name={otherName()} accepted={accepted} setAccepted={setAccepted} />}
          <TextArea id="reply" rows={5} label={m.reply} value={reply} onInput={setReply} error={errorFor(errors, "reply")} />
          <Button busy={busy}>{m.sendReply}</Button>
        </Form>
      )}

      {canWrite && (
        <Form onSubmit={attach}>
          <div class={errorFor(errors, "attachment") ? "field field-error" : "field"}>
            <label for="attachment">{m.addAttachment}</label>
            <p class="hint" id="attachment-hint">
              {m.attachFilesHint}
            </p>
            {errorFor(errors, "attachment") && <p class="error-message">{errorFor(errors, "attachment")}</p>}
            <input id="attachment" type="file" class="file-input" aria-describedby="attachment-hint" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
          </div>
          {progress && (
            <p role="status" class="progress">
              {progress}
            </p>
          )}
          <Button kind="secondary" busy={busy}>
            {m.attach}
          </Button>
        </Form>
      )}

      {role === "iro" && (query.status === "declined" || (query.status === "submitted" && query.waited_past_reminder)) && (
        <RouteQuery query={query} onDone={() => load()} />
      )}

      {role === "iro" && query.status === "accepted" && (
        <Form
          onSubmit={() =>
            outcome
              ? act("outcome", () => call("POST", `/api/v1/queries/${encodeURIComponent(id)}/close`, { outcome }))
              : setErrors([{ field: "outcome", text: m.chooseOutcome }])
          }
        >
          <Radios id="outcome" legend={m.outcome} value={outcome} onChange={setOutcome} error={errorFor(errors, "outcome")} options={Object.entries(m.outcomes).map(([value, label]) => ({ value, label }))} />
          <Button kind="secondary" busy={busy}>
            {m.close}
          </Button>
        </Form>
      )}
      <p>
        <a href="#/">{m.back}</a>
      </p>
    </>
  );
}
