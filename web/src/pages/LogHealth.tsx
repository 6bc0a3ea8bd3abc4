// The log as NAIRO sees it: the newest checkpoint this browser verified, each witness's
// cosignature and its time, and how the log grew, read from the releases' own log entries.

import { useEffect, useState } from "preact/hooks";
import { call, Problem, type ReleaseListing } from "../api";
import { useSession, watchLog } from "../app";
import { BarChart } from "../charts";
import { LogRewritten, logHealth } from "../log";
import { fill, m } from "../messages";
import { ErrorSummary, When, asData, type FieldError } from "../ui";

export function LogHealth() {
  const s = useSession();
  const [health, setHealth] = useState<Awaited<ReturnType<typeof logHealth>> | null>(null);
  const [releases, setReleases] = useState<ReleaseListing[]>([]);
  const [errors, setErrors] = useState<FieldError[]>([]);

  useEffect(() => {
    (async () => {
      if (!(await watchLog(s))) return;
      setHealth(await logHealth());
      setReleases(await call<ReleaseListing[]>("GET", "/api/v1/stats/releases"));
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
          <h2 class="small-heading">{m.trustLog}</h2>
          <p>
            <code class="secret log-key">{health.logKey}</code>
          </p>
        </>
      )}
      {growth.length > 0 && <BarChart id="log-growth" title={m.logGrowthTitle} bars={growth} labelHeading={m.statsPeriod} valueHeading={m.logGrowthValue} />}
    </>
  );
}
