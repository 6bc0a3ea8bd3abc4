// NAIRO's view of the statistics releases: the released tables for a range of periods, with
// withheld numbers marked and explained, charts drawn from the same numbers (each with its
// table and a sentence), and the CSV the API serves, byte for byte.

import { useEffect, useState } from "preact/hooks";
import { call, callText, Problem, type AccessReport, type ReleaseListing, type StatsPeriod, type StatsTable } from "../api";
import { save } from "../attachments";
import { areaName, authorities } from "../areas";
import { fill, m } from "../messages";
import { BarChart, numberText, ratio, type Bar } from "../charts";
import { Button, ErrorSummary, Form, Radios, Select, TextInput, When, asData, errorFor, type FieldError } from "../ui";

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/// The month `back` months before this one, as YYYY-MM.
function monthsAgo(back: number): string {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - back);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

/// The vocabulary a measure's columns come from, for their names.
function columnName(measure: string, column: string): string {
  const tables: Record<string, Record<string, string>> = {
    queries_by_category: m.categories,
    queries_by_stage: m.stages,
    queries_by_outcome: m.outcomes,
    declines_by_reason: m.declineReasons,
    pressure_reports_by_kind: m.kindsPressure,
  };
  return tables[measure]?.[column] ?? m.statsColumns[column] ?? column;
}

/// Requests per 100 registered IROs in each area of a period.
function perHundred(queries: StatsTable | undefined, iros: StatsTable | undefined): Bar[] {
  if (!queries || !iros) return [];
  return queries.rows.map((row) => {
    const registered = iros.rows.find((r) => r.code === row.code && r.name === row.name)?.total;
    return { label: areaName(row), value: ratio(row.total, registered, 100) };
  });
}

export function Statistics() {
  const [releases, setReleases] = useState<ReleaseListing[] | null>(null);
  const [by, setBy] = useState("region");
  const [length, setLength] = useState("quarter");
  const [from, setFrom] = useState(monthsAgo(12));
  const [to, setTo] = useState(monthsAgo(1));
  const [report, setReport] = useState<AccessReport | null>(null);
  const [chosen, setChosen] = useState<string>("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  const query = () => `by=${by}&period=${length}&from=${from}&to=${to}`;

  const show = async () => {
    const found: FieldError[] = [];
    if (!MONTH.test(from)) found.push({ field: "from", text: m.statsMonthInvalid });
    if (!MONTH.test(to)) found.push({ field: "to", text: m.statsMonthInvalid });
    setErrors(found);
    if (found.length) return;
    setBusy(true);
    try {
      const r = await call<AccessReport>("GET", `/api/v1/stats/access?${query()}`);
      setReport(r);
      setChosen(r.periods.at(-1)?.period ?? "");
    } catch (e) {
      setErrors([{ field: "from", text: e instanceof Problem ? e.plain : String(e) }]);
    } finally {
      setBusy(false);
    }
  };

  // Welsh names of the Welsh authorities, for the page in Welsh.
  const [, setNamesRead] = useState(false);
  useEffect(() => {
    authorities().then(() => setNamesRead(true), () => undefined);
    call<ReleaseListing[]>("GET", "/api/v1/stats/releases")
      .then(setReleases)
      .catch((e) => setErrors([{ field: "from", text: e instanceof Problem ? e.plain : String(e) }]));
    show();
  }, []);

  const download = async () => {
    try {
      const csv = await callText(`/api/v1/stats/access?${query()}&format=csv`, "text/csv");
      save(new Blob([csv], { type: "text/csv" }), `iro-advice-access-${by}-${length}-${from}-${to}.csv`);
    } catch (e) {
      setErrors([{ field: "from", text: e instanceof Problem ? e.plain : String(e) }]);
    }
  };

  const period = report?.periods.find((p) => p.period === chosen);
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>{m.statsTitle}</h1>
      <p>{m.statsIntro}</p>
      <Form onSubmit={show}>
        <div class="columns">
          <Radios id="by" legend={m.statsBy} value={by} onChange={setBy} options={[{ value: "region", label: m.statsByRegion }, { value: "authority", label: m.statsByAuthority }]} />
          <Radios id="length" legend={m.statsLength} value={length} onChange={setLength} options={["month", "quarter", "year"].map((v) => ({ value: v, label: m.statsLengths[v] }))} />
        </div>
        <div class="columns">
          <TextInput id="from" label={m.statsFrom} hint={m.statsMonthHint} width="short" value={from} onInput={setFrom} error={errorFor(errors, "from")} />
          <TextInput id="to" label={m.statsTo} hint={m.statsMonthHint} width="short" value={to} onInput={setTo} error={errorFor(errors, "to")} />
        </div>
        <Button busy={busy}>{m.statsShow}</Button>
      </Form>

      {report && (
        <>
          <p>
            <button type="button" class="button button-secondary" onClick={download}>
              {m.statsDownload}
            </button>
          </p>
          {(report.not_released ?? []).length > 0 && <p class="hint">{fill(m.statsNotReleased, { periods: (report.not_released ?? []).join(", ") })}</p>}
          {report.periods.length === 0 ? (
            <p>{m.statsNone}</p>
          ) : (
            <>
              <Trend report={report} />
              <Select id="period" label={m.statsShowPeriod} width="short" value={chosen} onChange={setChosen}>
                {report.periods.map((p) => (
                  <option key={p.period} value={p.period} {...asData}>
                    {p.period}
                  </option>
                ))}
              </Select>
              {period && <PeriodView period={period} by={report.by} />}
              <Rules byAuthority={report.by === "authority"} roundTo={report.round_totals_to} />
            </>
          )}
        </>
      )}

      <h2>{m.statsReleasesTitle}</h2>
      {releases && (
        <table class="table">
          <caption class="visually-hidden">{m.statsReleasesTitle}</caption>
          <thead>
            <tr>
              <th scope="col">{m.statsPeriod}</th>
              <th scope="col">{m.statsBuilt}</th>
              <th scope="col" class="numeric">
                {m.statsSuppressed}
              </th>
            </tr>
          </thead>
          <tbody>
            {releases.map((r) => (
              <tr key={`${r.period}-${r.version}`}>
                <td {...asData}>{r.period}</td>
                <td>
                  <When at={r.built_at.endsWith("Z") ? r.built_at : `${r.built_at}Z`} />
                </td>
                <td class="numeric">{r.suppressed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/// The national share of queries not accepted within the reminder time, period by period.
function Trend({ report }: { report: AccessReport }) {
  const bars: Bar[] = report.periods.map((p) => {
    const late = p.tables.find((t) => t.measure === "not_accepted_within_reminder_time")?.total;
    const all = p.tables.find((t) => t.measure === "queries_by_category")?.total;
    return { label: p.period, value: ratio(late, all, 100) };
  });
  return <BarChart id="late-share" title={m.chartLateTitle} unit="%" bars={bars} labelHeading={m.statsPeriod} valueHeading={m.chartLateValue} />;
}

function PeriodView({ period, by }: { period: StatsPeriod; by: string }) {
  const table = (name: string) => period.tables.find((t) => t.measure === name);
  const pressure = table("pressure_reports_by_kind");
  const kinds: Bar[] = pressure ? pressure.columns.map((c, i) => ({ label: columnName(pressure.measure, c), value: typeof pressure.totals[i] === "number" ? (pressure.totals[i] as number) : null })) : [];
  return (
    <section aria-labelledby="period-heading">
      <h2 id="period-heading">{fill(m.statsPeriodHeading, { period: period.period })}</h2>
      <BarChart
        id="per-hundred"
        title={fill(by === "region" ? m.chartPerHundredRegion : m.chartPerHundredAuthority, { period: period.period })}
        bars={perHundred(table("queries_by_category"), table("registered_iros"))}
        labelHeading={by === "region" ? m.statsByRegion : m.statsByAuthority}
        valueHeading={m.chartPerHundredValue}
      />
      <BarChart id="pressure-kinds" title={fill(m.chartPressureTitle, { period: period.period })} bars={kinds} labelHeading={m.chartPressureKind} valueHeading={m.chartPressureValue} />
      <p class="hint">{m.withheldExplained}</p>
      {period.tables.map((t) => (
        <ReleasedTable key={t.measure} table={t} period={period.period} />
      ))}
    </section>
  );
}

function ReleasedTable({ table, period }: { table: StatsTable; period: string }) {
  const id = `table-${table.measure}`;
  return (
    <div class="table-scroll" role="region" aria-labelledby={id} tabIndex={0}>
      <table class="table table-numbers">
        <caption id={id}>{fill(m.statsTableCaption, { measure: m.measures[table.measure] ?? table.measure, period })}</caption>
        <thead>
          <tr>
            <th scope="col">{m.statsArea}</th>
            {table.columns.map((c) => (
              <th scope="col" class="numeric" key={c}>
                {columnName(table.measure, c)}
              </th>
            ))}
            <th scope="col" class="numeric">
              {m.statsColumns.total}
            </th>
          </tr>
        </thead>
        <tbody>
          {table.rows.map((r) => (
            <tr key={`${r.code ?? ""}${r.name}`}>
              <th scope="row" {...asData}>
                {areaName(r)}
              </th>
              {r.cells.map((c, i) => (
                <td class="numeric" key={i}>
                  {numberText(c)}
                </td>
              ))}
              <td class="numeric">{numberText(r.total)}</td>
            </tr>
          ))}
          <tr class="table-total">
            <th scope="row">{m.statsNational}</th>
            {table.totals.map((c, i) => (
              <td class="numeric" key={i}>
                {numberText(c)}
              </td>
            ))}
            <td class="numeric">{numberText(table.total)}</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

/// The rules every release follows, in the page's language (the API states them in English).
export function Rules({ byAuthority, roundTo }: { byAuthority: boolean; roundTo: number }) {
  return (
    <section aria-labelledby="rules-heading">
      <h2 id="rules-heading">{m.rulesTitle}</h2>
      <ul class="list">
        <li>{m.ruleEnded}</li>
        <li>{m.rulePrimary}</li>
        <li>{m.ruleSecondary}</li>
        {roundTo > 1 && <li>{fill(m.ruleRounding, { n: roundTo })}</li>}
        {byAuthority && <li>{m.ruleSmallAuthorities}</li>}
        <li>{m.ruleVerify}</li>
      </ul>
    </section>
  );
}
