// The operator's status page: the database, the mail outbox, the log and each witness, and
// the statistics releases made and due — what an operator on call checks first. Counts and
// ages only, read from `GET /api/v1/operations`; nothing here names a person.

import { useEffect, useState } from "preact/hooks";
import { call, Problem, type OperationsStatus } from "../api";
import { fill, m } from "../messages";
import { ErrorSummary, asData, dateTimeText, type FieldError } from "../ui";

export function Operations() {
  const [status, setStatus] = useState<OperationsStatus | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  const load = async () => {
    setBusy(true);
    try {
      setStatus(await call<OperationsStatus>("GET", "/api/v1/operations"));
      setErrors([]);
    } catch (e) {
      setErrors([{ field: "ops-refresh", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const s = status;
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.opsTitle}</h1>
      <p>{m.opsIntro}</p>
      <p>
        <button type="button" id="ops-refresh" class="button button-secondary" disabled={busy} onClick={load}>
          {busy ? m.working : m.opsRefresh}
        </button>
      </p>
      {s && (
        <>
          {s.sign_in_ceiling && (
            <div class="notice notice-warning" role="alert">
              {m.opsSignInCeiling}
            </div>
          )}
          <section aria-labelledby="ops-database">
            <h2 id="ops-database">{m.opsDatabase}</h2>
            {s.database_up ? <p>{fill(m.opsDatabaseUp, { busy: s.pool.connections - s.pool.idle, max: s.pool.max })}</p> : <p><strong class="tag tag-urgent">{m.opsDatabaseDown}</strong></p>}
          </section>
          <section aria-labelledby="ops-mail">
            <h2 id="ops-mail">{m.opsOutbox}</h2>
            <p id="ops-pending">
              {fill(m.opsPending, { count: s.outbox.pending })}
              {s.outbox.failing > 0 && (
                <>
                  {" "}
                  <strong>{fill(m.opsFailing, { count: s.outbox.failing })}</strong>
                </>
              )}
            </p>
            {s.outbox.pending > 0 && <p>{fill(m.opsOldest, { minutes: Math.floor(s.outbox.oldest_pending_secs / 60) })}</p>}
            <p class="hint">{m.opsTransport[s.outbox.transport]}</p>
          </section>
          <section aria-labelledby="ops-log">
            <h2 id="ops-log">{m.opsLog}</h2>
            <p id="ops-log-size">{fill(m.opsLogSize, { size: s.log_size, served: s.served_size })}</p>
            {s.witnesses.length === 0 ? (
              <p>{m.opsNoWitness}</p>
            ) : (
              <>
                <p>{fill(m.logQuorum, { quorum: s.quorum, count: s.witnesses.length })}</p>
                <table class="table" id="ops-witnesses">
                  <caption class="visually-hidden">{m.opsLog}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{m.logWitness}</th>
                      <th scope="col">{m.opsWitnessSize}</th>
                      <th scope="col">{m.opsWitnessState}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.witnesses.map((w) => (
                      <tr key={w.key}>
                        <td {...asData}>{w.name}</td>
                        <td>{w.cosigned_size}</td>
                        <td>
                          {w.refused_as_inconsistent ? (
                            <strong class="tag tag-urgent">{m.opsWitnessRefused}</strong>
                          ) : w.failing ? (
                            <>
                              <strong class="tag tag-urgent">{m.opsWitnessFailing}</strong>
                              {w.problem && (
                                <p class="hint">
                                  <code>{w.problem}</code>
                                </p>
                              )}
                            </>
                          ) : (
                            m.opsWitnessOk
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
          </section>
          <section aria-labelledby="ops-releases">
            <h2 id="ops-releases">{m.opsReleases}</h2>
            {s.releases && (
              <>
                <p id="ops-releases-stored">{fill(m.opsReleasesStored, { count: s.releases.stored, period: s.releases.latest?.period ?? "", date: s.releases.latest ? dateTimeText(s.releases.latest.built_at) : "" })}</p>
                {s.releases.due.length > 0 ? (
                  <>
                    <p id="ops-releases-due">{fill(m.opsReleasesDue, { periods: s.releases.due.join(", ") })}</p>
                    <p>
                      <code>iro-advice stats release</code>
                    </p>
                  </>
                ) : (
                  <p id="ops-releases-due">{m.opsReleasesNoneDue}</p>
                )}
              </>
            )}
          </section>
        </>
      )}
    </>
  );
}
