// The annual access report: one template for England and Wales, each nation, each region and
// each authority a release lets stand on its own. Every number on it is read from the year's
// frozen releases (or is a ratio of two of them), so it discloses nothing a release does not.
// The browser's "save as PDF" turns it into the document NAIRO sends out.

import { useEffect, useState } from "preact/hooks";
import { call, Problem, type AccessReport, type Cell, type ReleaseListing, type StatsPeriod } from "../api";
import { BarChart, numberText, ratio } from "../charts";
import { areaName, authorities } from "../areas";
import { fill, m } from "../messages";
import { ErrorSummary, Select, asData, type FieldError } from "../ui";
import { Rules } from "./Statistics";

/// An area of the report: the whole, a nation, a region or an authority.
interface Area {
  key: string;
  name: string;
  kind: "all" | "nation" | "region" | "authority";
}

const WALES = "Wales";

/// One measure's numbers for an area: its cells by column and its total.
interface Numbers {
  columns: string[];
  cells: Cell[];
  total: Cell;
}

function minus(a: Cell, b: Cell): Cell {
  return typeof a === "number" && typeof b === "number" ? a - b : "c";
}

/// An area's numbers in one period's release; England is the whole less Wales, which is a
/// sum of published numbers and so discloses nothing more.
function numbersFor(period: StatsPeriod | undefined, byAuthority: StatsPeriod | undefined, area: Area, measure: string): Numbers | null {
  const source = area.kind === "authority" ? byAuthority : period;
  const t = source?.tables.find((x) => x.measure === measure);
  if (!t) return null;
  if (area.kind === "all") return { columns: t.columns, cells: t.totals, total: t.total };
  if (area.key === "england") {
    const wales = t.rows.find((r) => r.name === WALES);
    if (!wales) return { columns: t.columns, cells: t.totals, total: t.total };
    return { columns: t.columns, cells: t.totals.map((c, i) => minus(c, wales.cells[i])), total: minus(t.total, wales.total) };
  }
  const row = t.rows.find((r) => (area.kind === "authority" ? r.code === area.key : r.name === area.key));
  return row ? { columns: t.columns, cells: row.cells, total: row.total } : null;
}

/// A figure of the report: "no release" where there is none, "c" where withheld.
function figureText(v: Cell | null | undefined, unit = ""): string {
  return v === null || v === undefined ? m.reportNoFigure : numberText(v, unit);
}

interface Year {
  roundTo: number;
  region: StatsPeriod | undefined;
  authority: StatsPeriod | undefined;
  release: ReleaseListing | undefined;
}

async function year(y: number, releases: ReleaseListing[]): Promise<Year> {
  const get = (by: string) => call<AccessReport>("GET", `/api/v1/stats/access?by=${by}&period=year&from=${y}-01&to=${y}-12`);
  const [region, authority] = await Promise.all([get("region"), get("authority")]);
  const of = (r: AccessReport) => r.periods.find((p) => p.period === String(y));
  return { roundTo: region.round_totals_to, region: of(region), authority: of(authority), release: releases.find((r) => r.length === "year" && r.period === String(y)) };
}

export function AnnualReport() {
  const [releases, setReleases] = useState<ReleaseListing[] | null>(null);
  const [chosenYear, setChosenYear] = useState("");
  const [areaKey, setAreaKey] = useState("all");
  const [years, setYears] = useState<{ now: Year; before: Year } | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const fail = (e: unknown) => setErrors([{ field: "report-year", text: e instanceof Problem ? e.plain : String(e) }]);

  const [, setNamesRead] = useState(false);
  useEffect(() => {
    authorities().then(() => setNamesRead(true), () => undefined);
    call<ReleaseListing[]>("GET", "/api/v1/stats/releases")
      .then((list) => {
        setReleases(list);
        const newest = list.filter((r) => r.length === "year").map((r) => r.period).sort().at(-1);
        if (newest) setChosenYear(newest);
      })
      .catch(fail);
  }, []);

  useEffect(() => {
    if (!chosenYear || !releases) return;
    const y = Number(chosenYear);
    Promise.all([year(y, releases), year(y - 1, releases)])
      .then(([now, before]) => setYears({ now, before }))
      .catch(fail);
  }, [chosenYear, releases]);

  const yearReleases = (releases ?? []).filter((r) => r.length === "year").map((r) => r.period).sort().reverse();
  const areas: { group: string; list: Area[] }[] = [];
  if (years?.now.region) {
    const regionRows = years.now.region.tables[0]?.rows ?? [];
    const hasWales = regionRows.some((r) => r.name === WALES);
    areas.push({ group: m.reportNations, list: [{ key: "all", name: m.statsNational, kind: "all" }, ...(hasWales ? [{ key: "england", name: m.reportEngland, kind: "nation" as const }, { key: WALES, name: m.reportWales, kind: "nation" as const }] : [])] });
    areas.push({ group: m.reportRegions, list: regionRows.filter((r) => r.name !== WALES).map((r) => ({ key: r.name, name: areaName(r), kind: "region" as const })) });
  }
  if (years?.now.authority) {
    const rows = years.now.authority.tables[0]?.rows ?? [];
    areas.push({ group: m.reportAuthorities, list: rows.filter((r) => r.code).map((r) => ({ key: r.code as string, name: areaName(r), kind: "authority" as const })) });
  }
  const area = areas.flatMap((g) => g.list).find((a) => a.key === areaKey) ?? areas[0]?.list[0];

  return (
    <>
      <ErrorSummary errors={errors} />
      <div class="no-print">
        <h1>{m.reportTitle}</h1>
        <p>{m.reportIntro}</p>
        {releases && yearReleases.length === 0 && <p>{m.reportNoYear}</p>}
        {yearReleases.length > 0 && (
          <div class="columns">
            <Select id="report-year" label={m.reportYear} width="short" value={chosenYear} onChange={setChosenYear}>
              {yearReleases.map((y) => (
                <option key={y} value={y} {...asData}>
                  {y}
                </option>
              ))}
            </Select>
            <Select id="report-area" label={m.reportArea} value={area?.key ?? ""} onChange={setAreaKey}>
              {areas.map((g) => (
                <optgroup key={g.group} label={g.group}>
                  {g.list.map((a) => (
                    <option key={a.key} value={a.key} {...asData}>
                      {a.name}
                    </option>
                  ))}
                </optgroup>
              ))}
            </Select>
          </div>
        )}
        {years && area && (
          <p>
            <button type="button" class="button" onClick={() => print()}>
              {m.reportPrint}
            </button>
          </p>
        )}
      </div>
      {years && area && <Report year={Number(chosenYear)} area={area} now={years.now} before={years.before} />}
    </>
  );
}

function Report({ year, area, now, before }: { year: number; area: Area; now: Year; before: Year }) {
  const get = (y: Year, measure: string) => numbersFor(y.region, y.authority, area, measure);
  // A ratio is withheld where a number it needs is; absent where the release has no row.
  const share = (part: Cell | undefined, whole: Cell | undefined): Cell | undefined => (part === undefined || whole === undefined ? undefined : (ratio(part, whole, 100) ?? "c"));
  const figure = (y: Year) => {
    const iros = get(y, "registered_iros")?.total;
    const queries = get(y, "queries_by_category")?.total;
    const late = get(y, "not_accepted_within_reminder_time")?.total;
    return {
      iros,
      never: get(y, "registered_iros_never_asked")?.total,
      queries,
      perHundred: share(queries, iros),
      late,
      lateShare: share(late, queries),
      declines: get(y, "declines_by_reason")?.total,
      pressure: get(y, "pressure_reports_by_kind")?.total,
    };
  };
  const a = figure(now);
  const b = before.region ? figure(before) : null;
  const rows: [string, Cell | undefined, Cell | undefined, string?][] = [
    [m.reportIros, a.iros, b?.iros],
    [m.reportNeverAsked, a.never, b?.never],
    [m.reportQueries, a.queries, b?.queries],
    [m.reportPerHundred, a.perHundred, b?.perHundred],
    [m.reportLate, a.late, b?.late],
    [m.reportLateShare, a.lateShare, b?.lateShare, "%"],
    [m.reportDeclines, a.declines, b?.declines],
    [m.reportPressureCount, a.pressure, b?.pressure],
  ];
  const topics = get(now, "queries_by_category");
  const kinds = get(now, "pressure_reports_by_kind");
  const bars = (n: Numbers | null, names: Record<string, string>) => (n ? n.columns.map((c, i) => ({ label: names[c] ?? c, value: typeof n.cells[i] === "number" ? (n.cells[i] as number) : null })) : []);
  return (
    <article class="report-document" aria-labelledby="report-heading">
      <p class="caption">{m.reportCaption}</p>
      <h2 id="report-heading" class="report-title">
        {fill(m.reportHeading, { year })}
        <br />
        <span {...asData}>{area.name}</span>
      </h2>
      <p>{fill(m.reportAbout, { year })}</p>
      <h3>{m.reportHeadlines}</h3>
      <table class="table table-numbers">
        <caption class="visually-hidden">{m.reportHeadlines}</caption>
        <thead>
          <tr>
            <th scope="col">{m.reportFigure}</th>
            <th scope="col" class="numeric" {...asData}>
              {year}
            </th>
            <th scope="col" class="numeric" {...asData}>
              {year - 1}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, x, y, unit]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td class="numeric">{figureText(x, unit)}</td>
              <td class="numeric">{b ? figureText(y, unit) : m.reportNoFigure}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!b && <p class="hint">{fill(m.reportNoLastYear, { year: year - 1 })}</p>}
      <p class="hint">{m.withheldExplained}</p>
      <BarChart id="report-topics" title={fill(m.reportTopicsChart, { year })} bars={bars(topics, m.categories)} labelHeading={m.reportTopic} valueHeading={m.reportQueries} />
      <BarChart id="report-kinds" title={fill(m.reportKindsChart, { year })} bars={bars(kinds, m.kindsPressure)} labelHeading={m.chartPressureKind} valueHeading={m.chartPressureValue} />
      <Rules byAuthority={area.kind === "authority"} roundTo={now.roundTo} />
      <h3>{m.reportVerifyTitle}</h3>
      <p>{m.reportVerify}</p>
      <ul class="list">
        {[now.release, before.release].filter((r): r is ReleaseListing => !!r).map((r) => (
          <li key={r.period}>
            {fill(m.reportRelease, { period: r.period, entry: r.leaf_index })}
            <br />
            <code class="hash">{r.sha256}</code>
          </li>
        ))}
      </ul>
    </article>
  );
}
