// The log as NAIRO sees it: the newest checkpoint this browser verified, each witness's
// cosignature and its time, whether the service still asks the witness NAIRO runs, and how
// the log grew, read from the releases' own log entries.

import { useEffect, useState } from "preact/hooks";
import { call, Problem, type ReleaseListing } from "../api";
import { useSession, watchLog } from "../app";
import { BarChart } from "../charts";
import { LogRewritten, auditOpenings, logHealth } from "../log";
import { secretFrom } from "../crypto";
import { fill, m } from "../messages";
import { Button, ErrorSummary, Form, TextInput, When, asData, type FieldError } from "../ui";

export function LogHealth() {
  const s = useSession();
  const [health, setHealth] = useState<Awaited<ReturnType<typeof logHealth>> | null>(null);
  const [releases, setReleases] = useState<ReleaseListing[]>([]);
  const [errors, setErrors] = useState<FieldError[]>([]);

  useEffect(() => {
    (async () => {
      if (!(await watchLog(s))) return;
      // Shown together, so that the page never shows a checkpoint without the growth.
      const [h, r] = await Promise.all([logHealth(), call<ReleaseListing[]>("GET", "/api/v1/stats/releases")]);
      setReleases(r);
      setHealth(h);
    })().catch((e) => {
      if (e instanceof LogRewritten) s.alarm(e);
      else setErrors([{ field: "log-size", text: e instanceof Problem ? e.plain : String(e) }]);
    });
  }, []);

  const growth = [...releases].sort((a, b) => a.leaf_index - b.leaf_index).map((r) => ({ label: r.period, value: r.leaf_index + 1 }));
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.logTitle}</h1>
      <p>{m.logIntro}</p>
      {health && (
        <>
          <p id="log-size" class="lead">
            {fill(m.logSize, { size: health.size })}
          </p>
          <h2>{m.logWitnessesTitle}</h2>
          {health.cosignatures.length === 0 ? (
            <p>{m.logNoWitness}</p>
          ) : (
            <>
              <p>{fill(m.logQuorum, { quorum: health.quorum, count: health.cosignatures.length })}</p>
              <table class="table">
                <caption class="visually-hidden">{m.logWitnessesTitle}</caption>
                <thead>
                  <tr>
                    <th scope="col">{m.logWitness}</th>
                    <th scope="col">{m.logCosigned}</th>
                  </tr>
                </thead>
                <tbody>
                  {health.cosignatures.map((c) => (
                    <tr key={c.witness}>
                      <td {...asData}>{c.witness}</td>
                      <td>{c.time === null ? <strong class="tag tag-urgent">{m.logNotCosigned}</strong> : <When at={new Date(c.time * 1000)} time />}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          <OwnWitness advertised={health.advertised} cosignatures={health.cosignatures} />
          <h2 class="small-heading">{m.trustLog}</h2>
          <p>
            <code class="secret log-key">{health.logKey}</code>
          </p>
        </>
      )}
      {growth.length > 0 && <BarChart id="log-growth" title={m.logGrowthTitle} bars={growth} labelHeading={m.statsPeriod} valueHeading={m.logGrowthValue} />}
      {health && <OpeningsAudit />}
    </>
  );
}

/// NAIRO's check that every entry opens with NAIRO's key: the key file is read into this
/// page's memory only, and forgotten with it.
function OpeningsAudit() {
  const s = useSession();
  const [state, setState] = useState<{ busy: boolean; result?: Awaited<ReturnType<typeof auditOpenings>>; error?: string }>({ busy: false });
  const run = async (file: File | undefined) => {
    if (!file) return;
    let key: string;
    try {
      key = secretFrom(await file.text());
    } catch {
      setState({ busy: false, error: m.nairoKeyWrong });
      return;
    }
    setState({ busy: true });
    try {
      setState({ busy: false, result: await auditOpenings(key) });
    } catch (e) {
      if (e instanceof LogRewritten) return s.alarm(e);
      const why = e instanceof Problem ? e.plain : e instanceof Error ? e.message : String(e);
      setState({ busy: false, error: fill(m.logAuditFailed, { why }) });
    }
  };
  const r = state.result;
  const clean = r && r.unopened.length === 0 && r.mismatched.length === 0;
  return (
    <section aria-labelledby="log-audit-title">
      <h2 id="log-audit-title">{m.logAuditTitle}</h2>
      <p>{m.logAuditIntro}</p>
      <div class={state.error ? "field field-error" : "field"}>
        <label for="audit-key">{m.nairoKey}</label>
        <p class="hint" id="audit-key-hint">
          {m.nairoKeyHint}
        </p>
        {state.error && (
          <p class="error-message" id="audit-key-error">
            {state.error}
          </p>
        )}
        <input id="audit-key" type="file" class="file-input" aria-describedby={state.error ? "audit-key-hint audit-key-error" : "audit-key-hint"} disabled={state.busy} onChange={(e) => run((e.target as HTMLInputElement).files?.[0])} />
      </div>
      <div id="log-audit" role="status">
        {state.busy && <p>{m.loading}</p>}
        {clean && <p class="notice notice-success">{fill(m.logAuditClean, { size: r.size, opened: r.opened })}</p>}
        {r && !clean && (
          <div class="notice notice-warning" role="alert">
            {r.unopened.length > 0 && <p>{fill(m.logAuditUnopened, { count: r.unopened.length, first: r.unopened[0] })}</p>}
            {r.mismatched.length > 0 && <p>{fill(m.logAuditMismatched, { count: r.mismatched.length, first: r.mismatched[0] })}</p>}
          </div>
        )}
      </div>
    </section>
  );
}

const OWN_WITNESS = "iro-advice-nairo-witness";
// A C2SP verifier key: name+hex key id+base64 key.
const VERIFIER_KEY = /^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/;

/// The witness NAIRO runs: its key kept in this browser, and each visit checks that the
/// service still asks it (an operator who drops it would leave the log unwatched by NAIRO)
/// and that it cosigned the newest checkpoint.
function OwnWitness({ advertised, cosignatures }: { advertised: string[]; cosignatures: { witness: string; time: number | null }[] }) {
  const [key, setKey] = useState<string | null>(() => {
    try {
      return localStorage.getItem(OWN_WITNESS);
    } catch {
      return null;
    }
  });
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | undefined>();
  let state: "cosigned" | "waiting" | "missing" | null = null;
  if (key) {
    const name = key.split("+")[0];
    if (!advertised.includes(key)) state = "missing";
    else state = cosignatures.some((c) => c.witness === name && c.time !== null) ? "cosigned" : "waiting";
  }
  return (
    <section aria-labelledby="own-witness">
      <h2 id="own-witness">{m.logOwnWitness}</h2>
      {key ? (
        <>
          <p>
            <code class="secret log-key" id="own-witness-key">
              {key}
            </code>
          </p>
          {state === "missing" ? (
            <div class="notice notice-warning" role="alert" id="own-witness-state">
              {m.logOwnWitnessMissing}
            </div>
          ) : (
            <p id="own-witness-state" role="status">
              {state === "cosigned" ? m.logOwnWitnessCosigned : m.logOwnWitnessWaiting}
            </p>
          )}
          <p>
            <button
              type="button"
              class="button button-secondary"
              onClick={() => {
                localStorage.removeItem(OWN_WITNESS);
                setKey(null);
              }}
            >
              {m.logOwnWitnessForget}
            </button>
          </p>
        </>
      ) : (
        <>
          <p>{m.logOwnWitnessIntro}</p>
          <Form
            onSubmit={() => {
              const k = typed.trim();
              if (!VERIFIER_KEY.test(k)) {
                setError(m.logOwnWitnessInvalid);
                document.getElementById("own-witness-input")?.focus();
                return;
              }
              setError(undefined);
              localStorage.setItem(OWN_WITNESS, k);
              setKey(k);
            }}
          >
            <TextInput id="own-witness-input" label={m.logOwnWitnessKey} value={typed} onInput={setTyped} error={error} autocomplete="off" />
            <Button>{m.logOwnWitnessSave}</Button>
          </Form>
        </>
      )}
    </section>
  );
}
