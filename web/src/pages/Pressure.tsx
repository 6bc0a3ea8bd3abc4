import { useEffect, useState } from "preact/hooks";
import { call, Problem } from "../api";
import { useSession } from "../app";
import { encryptText, identity, recipientOf } from "../crypto";
import type { KeyProof } from "../api";
import { KeyRefused, LogRewritten, verifiedRecipient } from "../log";
import { fill, m } from "../messages";
import { signReport } from "../signing";
import { Button, ErrorSummary, Form, Radios, TextArea, errorFor, type FieldError } from "../ui";

/// A date typed as GOV.UK asks for one: three boxes, day, month and year.
function parseDate(day: string, month: string, year: string): string | null {
  const [d, mo, y] = [day, month, year].map((v) => Number(v.trim()));
  if (!Number.isInteger(d) || !Number.isInteger(mo) || !Number.isInteger(y) || y < 2000) return null;
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCDate() !== d || date.getUTCMonth() !== mo - 1 || date.getTime() > Date.now()) return null;
  return date.toISOString().slice(0, 10);
}

export function Pressure() {
  const s = useSession();
  const [kind, setKind] = useState("");
  const [day, setDay] = useState("");
  const [month, setMonth] = useState("");
  const [year, setYear] = useState("");
  const [narrative, setNarrative] = useState("");
  const [share, setShare] = useState(false);
  const [nairo, setNairo] = useState<{ age_recipient: string; key_proof?: KeyProof | null } | null | undefined>(undefined);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call<{ age_recipient: string; key_proof?: KeyProof | null }>("GET", "/api/v1/nairo/recipient")
      .then(setNairo)
      .catch(() => setNairo(null));
  }, []);

  const submit = async () => {
    const found: FieldError[] = [];
    if (!kind) found.push({ field: "kind", text: m.chooseKind });
    const occurred = parseDate(day, month, year);
    if (!occurred) found.push({ field: "date-day", text: m.pressureDateInvalid });
    setErrors(found);
    const mine = identity();
    if (found.length || !mine) return;
    setBusy(true);
    try {
      const body: Record<string, unknown> = { kind, occurred_on: occurred, share_with_nairo: share && !!nairo };
      if (narrative.trim()) {
        const to = [await recipientOf(mine)];
        // NAIRO's key as the log proves it (logged when the service started with it).
        if (share && nairo && s.me) to.push(await verifiedRecipient(s.me.id, "nairo", nairo.age_recipient, nairo.key_proof));
        body.narrative = await encryptText(narrative, to);
      }
      if (s.me) body.signature = signReport(mine, s.me.id, kind, occurred as string, body.share_with_nairo as boolean, body.narrative as string | undefined);
      const created = await call<{ id: string; receipt: { leaf_index?: number | null } }>("POST", "/api/v1/pressure-reports", body);
      const index = created.receipt.leaf_index;
      s.setNotice(() => (index == null ? m.reportedPending : fill(m.reported, { index })));
      s.go("#/");
    } catch (e) {
      if (e instanceof LogRewritten) return s.alarm(e);
      if (e instanceof KeyRefused) {
        setErrors([{ field: "share", text: fill(m.keyRefused, { why: e.message }) }]);
        return;
      }
      const p = e instanceof Problem ? e : null;
      setErrors([{ field: p?.type === "invalid-date" ? "date-day" : "kind", text: p ? p.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  const dateError = errorFor(errors, "date-day");
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.pressureTitle}</h1>
      <p class="lede">{m.pressureIntro}</p>
      <Form onSubmit={submit}>
        <Radios id="kind" legend={m.pressureKind} value={kind} onChange={setKind} error={errorFor(errors, "kind")} options={Object.entries(m.kindsPressure).map(([value, label]) => ({ value, label }))} />
        <div class={dateError ? "field field-error" : "field"}>
          <fieldset role="group" aria-describedby={dateError ? "date-hint date-error" : "date-hint"}>
            <legend>{m.pressureDate}</legend>
            <p class="hint" id="date-hint">
              {m.pressureDateHint}
            </p>
            {dateError && (
              <p class="error-message" id="date-error">
                <span class="visually-hidden">Error: </span>
                {dateError}
              </p>
            )}
            <div class="date-input">
              {(
                [
                  ["date-day", m.day, day, setDay, "2"],
                  ["date-month", m.month, month, setMonth, "2"],
                  ["date-year", m.year, year, setYear, "4"],
                ] as const
              ).map(([id, label, value, set, width]) => (
                <div class="date-item" key={id}>
                  <label for={id}>{label}</label>
                  <input id={id} name={id} class={`input input-width-${width}`} inputMode="numeric" value={value} aria-invalid={dateError ? true : undefined} onInput={(e) => set((e.target as HTMLInputElement).value)} />
                </div>
              ))}
            </div>
          </fieldset>
        </div>
        <TextArea id="narrative" label={m.narrative} hint={m.narrativeHint} value={narrative} onInput={setNarrative} />
        {nairo === null ? (
          <p class="hint">{m.shareUnavailable}</p>
        ) : (
          <div class="field checkbox">
            <input id="share" type="checkbox" checked={share} aria-describedby="share-hint" onChange={(e) => setShare((e.target as HTMLInputElement).checked)} />
            <label for="share">{m.shareWithNairo}</label>
            <p class="hint radio-hint" id="share-hint">
              {m.shareHint}
            </p>
          </div>
        )}
        <Button busy={busy}>{m.sendReport}</Button>
      </Form>
    </>
  );
}
