import { useEffect, useState } from "preact/hooks";
import { call, Problem, type AdviserEntry } from "../api";
import { useSession } from "../app";
import { KeyChanged, LogRewritten, verifiedRecipient } from "../log";
import { KeyChangeWarning, keyRefusal } from "./KeyChange";
import { sendFile } from "../attachments";
import { encryptText, identity, recipientOf } from "../crypto";
import { fill, m } from "../messages";
import { looksLikeNames } from "../names";
import { OPENING, signMessage } from "../signing";
import { Button, ErrorSummary, Form, Radios, TextArea, errorFor, type FieldError } from "../ui";

const options = (table: Record<string, string>) => Object.entries(table).map(([value, label]) => ({ value, label }));

export function Ask() {
  const s = useSession();
  const [advisers, setAdvisers] = useState<AdviserEntry[] | null>(null);
  const [adviser, setAdviser] = useState("");
  const [category, setCategory] = useState("");
  const [stage, setStage] = useState("");
  const [urgency, setUrgency] = useState("");
  const [question, setQuestion] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState<string | null>(null);
  const [names, setNames] = useState<string[]>([]);
  const [confirmed, setConfirmed] = useState(false);
  const [change, setChange] = useState<KeyChanged | null>(null);
  const [accepted, setAccepted] = useState(false);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call<AdviserEntry[]>("GET", "/api/v1/advisers")
      .then(setAdvisers)
      .catch((e) => setErrors([{ field: "adviser", text: e instanceof Problem ? e.plain : String(e) }]));
  }, []);

  const submit = async () => {
    const found: FieldError[] = [];
    if (!adviser) found.push({ field: "adviser", text: m.chooseAdviser });
    if (!category) found.push({ field: "category", text: m.chooseCategory });
    if (!stage) found.push({ field: "stage", text: m.chooseStage });
    if (!urgency) found.push({ field: "urgency", text: m.chooseUrgency });
    if (!question.trim()) found.push({ field: "question", text: m.required.replace("{field}", "your question") });
    const limit = s.me?.max_attachment_bytes ?? Infinity;
    for (const f of files) {
      if (f.size > limit * 0.99 - 8192) found.push({ field: "attachments", text: fill(m.attachTooLarge, { name: f.name, limit: Math.floor(limit / 1048576) }) });
    }
    setErrors(found);
    if (found.length) return;
    const flagged = looksLikeNames(question);
    if (flagged.length && !(confirmed && flagged.join() === names.join())) {
      setNames(flagged);
      setConfirmed(false);
      setErrors([{ field: "question", text: fill(m.nameCheck, { names: flagged.join(", ") }) }]);
      return;
    }
    const chosen = advisers?.find((a) => a.id === adviser);
    const mine = identity();
    if (!chosen || !mine || !s.me) return;
    setBusy(true);
    try {
      const acceptChange = accepted && change?.account === chosen.id;
      const theirs = await verifiedRecipient(s.me.id, chosen.id, chosen.age_recipient, chosen.key_proof, acceptChange, chosen.display_name);
      setChange(null);
      // Signed by this IRO's key as the opening question (its id is the service's to give).
      const body = await encryptText(signMessage(mine, OPENING, s.me.id, question), [await recipientOf(mine), theirs]);
      const created = await call<{ id: string }>("POST", "/api/v1/queries", { adviser_id: adviser, category, stage, urgency, body });
      for (const f of files) {
        setProgress(fill(m.uploading, { name: f.name, percent: 0 }));
        await sendFile(created.id, f, [await recipientOf(mine), theirs], s.me.id, (done) => setProgress(fill(m.uploading, { name: f.name, percent: Math.round(done * 100) })));
      }
      setProgress(null);
      s.setNotice(() => fill(m.sent, { adviser: chosen.display_name }));
      s.go(`#/queries/${created.id}`);
    } catch (e) {
      if (e instanceof LogRewritten) return s.alarm(e);
      const refusal = keyRefusal(e, chosen.display_name, "adviser");
      if (refusal) {
        setChange(refusal.change);
        setAccepted(false);
        setErrors([refusal.error]);
      } else {
        setErrors([{ field: "adviser", text: e instanceof Problem ? e.plain : String(e) }]);
      }
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  if (advisers === null) return <p>{m.loading}</p>;
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.askTitle}</h1>
      {advisers.length === 0 ? (
        <p class="lede">{m.noAdvisers}</p>
      ) : (
        <Form onSubmit={submit}>
          <Radios
            id="adviser"
            legend={m.adviser}
            hint={m.adviserHint}
            value={adviser}
            onChange={setAdviser}
            error={errorFor(errors, "adviser")}
            options={advisers.map((a) => ({
              value: a.id,
              label: a.display_name,
              hint: fill(m.adviserOption, { kind: m.kinds[a.kind] ?? a.kind, count: a.open_queries, checked: a.verified ? "yes" : "no" }),
              data: true,
            }))}
          />
          <Radios id="category" legend={m.category} value={category} onChange={setCategory} error={errorFor(errors, "category")} options={options(m.categories)} />
          <Radios id="stage" legend={m.stage} value={stage} onChange={setStage} error={errorFor(errors, "stage")} options={options(m.stages)} />
          <Radios id="urgency" legend={m.urgency} value={urgency} onChange={setUrgency} error={errorFor(errors, "urgency")} options={options(m.urgencies)} />
          <TextArea id="question" label={m.question} hint={m.questionHint} value={question} onInput={setQuestion} error={errorFor(errors, "question")} />
          <div class={errorFor(errors, "attachments") ? "field field-error" : "field"}>
            <label for="attachments">{m.attachFiles}</label>
            <p class="hint" id="attachments-hint">
              {m.attachFilesHint}
            </p>
            {errorFor(errors, "attachments") && <p class="error-message">{errorFor(errors, "attachments")}</p>}
            <input id="attachments" type="file" multiple class="file-input" aria-describedby="attachments-hint" onChange={(e) => setFiles(Array.from((e.target as HTMLInputElement).files ?? []))} />
          </div>
          {progress && (
            <p role="status" class="progress">
              {progress}
            </p>
          )}
          {change && <KeyChangeWarning change={change} name={advisers.find((a) => a.id === change.account)?.display_name ?? ""} accepted={accepted} setAccepted={setAccepted} />}
          {names.length > 0 && (
            <div class="field checkbox">
              <input id="names-confirmed" type="checkbox" checked={confirmed} onChange={(e) => setConfirmed((e.target as HTMLInputElement).checked)} />
              <label for="names-confirmed">{m.nameCheckConfirm}</label>
            </div>
          )}
          <Button busy={busy}>{m.send}</Button>
        </Form>
      )}
    </>
  );
}
