// The pressure reports IROs chose to share with NAIRO: kind, date and authority, and the
// narrative, decrypted here with NAIRO's key. The key file is read into this page's memory
// only, and forgotten with it; the service never sees it.

import { useEffect, useState } from "preact/hooks";
import { call, Problem, type Authority, type SharedReport } from "../api";
import { decryptTextWith, secretFrom } from "../crypto";
import { authorities, authorityName } from "../areas";
import { fill, m } from "../messages";
import { ErrorSummary, When, asData, type FieldError } from "../ui";

export function SharedReports() {
  const [reports, setReports] = useState<SharedReport[] | null>(null);
  const [keys, setKeys] = useState<string[]>([]);
  const [read, setRead] = useState<Record<string, string | null>>({});
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [known, setKnown] = useState<Authority[]>([]);

  useEffect(() => {
    authorities().then(setKnown, () => undefined);
    call<SharedReport[]>("GET", "/api/v1/pressure-reports")
      .then(setReports)
      .catch((e) => setErrors([{ field: "nairo-key", text: e instanceof Problem ? e.plain : String(e) }]));
  }, []);

  // Every narrative is tried with the keys at hand: the account's own, and a file chosen here.
  useEffect(() => {
    if (!reports) return;
    (async () => {
      const out: Record<string, string | null> = {};
      for (const r of reports) {
        if (!r.narrative) continue;
        out[r.id] = await decryptTextWith(r.narrative, keys).catch(() => null);
      }
      setRead(out);
    })();
  }, [reports, keys]);

  const chooseKey = async (file: File | undefined) => {
    if (!file) return;
    try {
      setKeys([secretFrom(await file.text())]);
      setErrors([]);
    } catch {
      setErrors([{ field: "nairo-key", text: m.nairoKeyWrong }]);
    }
  };

  const locked = reports?.some((r) => r.narrative && read[r.id] === null) ?? false;
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.sharedTitle}</h1>
      <p>{m.sharedIntro}</p>
      {locked && (
        <div class="field">
          <label for="nairo-key">{m.nairoKey}</label>
          <p class="hint" id="nairo-key-hint">
            {m.nairoKeyHint}
          </p>
          <input id="nairo-key" type="file" class="file-input" aria-describedby="nairo-key-hint" onChange={(e) => chooseKey((e.target as HTMLInputElement).files?.[0])} />
        </div>
      )}
      {reports === null && !errors.length && <p>{m.loading}</p>}
      {reports?.length === 0 && <p>{m.sharedNone}</p>}
      <ol class="reports">
        {reports?.map((r) => (
          <li key={r.id} class="report">
            <h2 class="small-heading">{m.kindsPressure[r.kind] ?? r.kind}</h2>
            <dl class="summary">
              <dt>{m.sharedHappened}</dt>
              <dd>
                <When at={r.occurred_on} />
              </dd>
              <dt>{m.sharedAuthority}</dt>
              <dd {...asData}>{((a) => (a ? authorityName(a) : r.authority_code))(known.find((a) => a.code === r.authority_code))}</dd>
              <dt>{m.sharedRecorded}</dt>
              <dd>
                <When at={r.created_at} />
              </dd>
            </dl>
            {!r.narrative ? (
              <p class="hint">{m.sharedNoNarrative}</p>
            ) : read[r.id] ? (
              <blockquote class="message-body" {...asData}>
                {read[r.id]}
              </blockquote>
            ) : (
              <p class="hint">{fill(m.sharedLocked, { kind: m.kindsPressure[r.kind] ?? r.kind })}</p>
            )}
          </li>
        ))}
      </ol>
    </>
  );
}
