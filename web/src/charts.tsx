// Charts as SVG that a screen reader can use: each is an image with a title and a sentence
// saying what it shows, followed by the same numbers as a table. Numbers a release withholds
// are drawn as nothing and marked, never estimated.

import type { Cell } from "./api";
import { fill, m } from "./messages";
import { asData } from "./ui";

/// `translate="no"` on SVG, which has no `translate` property for Preact to set.
const svgData = { translate: "no" } as Record<string, string>;

export interface Bar {
  label: string;
  /// null where the release withholds a number the bar needs.
  value: number | null;
}

const ROW = 26;
const LABEL = 270;
const WIDTH = 680;

/// A released number, or a ratio of two, as every console page writes it: "c" where withheld.
export function numberText(v: Cell, unit = ""): string {
  return v === "c" ? m.withheldMark : `${v.toLocaleString("en-GB", { maximumFractionDigits: 1 })}${unit}`;
}

/// `part` per `per` of `whole`, to one decimal; null where either is withheld or there is
/// nothing to divide by (a chart or report never estimates what a release withholds).
export function ratio(part: Cell | undefined, whole: Cell | undefined, per: number): number | null {
  return typeof part === "number" && typeof whole === "number" && whole > 0 ? Math.round((part * per * 10) / whole) / 10 : null;
}

/// The sentence a chart is summarised by: its largest and smallest shown values, and how
/// many bars are withheld.
function summary(bars: Bar[], unit?: string): string {
  const shown = bars.filter((b): b is { label: string; value: number } => b.value !== null);
  const withheld = bars.length - shown.length;
  if (!shown.length) return m.chartAllWithheld;
  const top = shown.reduce((a, b) => (b.value > a.value ? b : a));
  const low = shown.reduce((a, b) => (b.value < a.value ? b : a));
  const values = { highest: top.label, high: numberText(top.value, unit), lowest: low.label, low: numberText(low.value, unit) };
  const text = fill(top.value === low.value ? m.chartSummarySame : m.chartSummary, values);
  // Only whether bars are withheld, not how many: a count of withheld cells is not a number
  // any release publishes.
  return withheld ? fill(m.chartSummaryWithheld, { summary: text }) : text;
}

/// Bar labels are data (area names, periods), shown as the release names them.
export function BarChart(p: { id: string; title: string; bars: Bar[]; unit?: string; labelHeading: string; valueHeading: string }) {
  const max = Math.max(1, ...p.bars.map((b) => b.value ?? 0));
  const height = p.bars.length * ROW + 8;
  const plot = WIDTH - LABEL - 70;
  const text = summary(p.bars, p.unit);
  return (
    <figure class="chart" aria-labelledby={`${p.id}-title`}>
      <figcaption id={`${p.id}-title`} class="chart-title">
        {p.title}
      </figcaption>
      <svg role="img" aria-labelledby={`${p.id}-title ${p.id}-desc`} viewBox={`0 0 ${WIDTH} ${height}`} width="100%" preserveAspectRatio="xMinYMin meet">
        <desc id={`${p.id}-desc`}>{text}</desc>
        {p.bars.map((b, i) => {
          const y = 4 + i * ROW;
          const w = b.value === null ? 0 : Math.max(1, (b.value / max) * plot);
          return (
            <g key={`${b.label}-${i}`}>
              <text x={LABEL - 8} y={y + ROW / 2 + 4} text-anchor="end" class="chart-label" {...svgData}>
                {b.label.length > 38 ? `${b.label.slice(0, 37)}…` : b.label}
              </text>
              {b.value === null ? (
                <text x={LABEL + 4} y={y + ROW / 2 + 4} class="chart-withheld">
                  {m.withheldMark}
                </text>
              ) : (
                <>
                  <rect x={LABEL} y={y + 3} width={w} height={ROW - 8} class="chart-bar" />
                  <text x={LABEL + w + 6} y={y + ROW / 2 + 4} class="chart-value">
                    {numberText(b.value, p.unit)}
                  </text>
                </>
              )}
            </g>
          );
        })}
      </svg>
      <p class="chart-summary">{text}</p>
      <details>
        <summary>{m.chartShowTable}</summary>
        <table class="table">
          <caption class="visually-hidden">{p.title}</caption>
          <thead>
            <tr>
              <th scope="col">{p.labelHeading}</th>
              <th scope="col" class="numeric">
                {p.valueHeading}
              </th>
            </tr>
          </thead>
          <tbody>
            {p.bars.map((b, i) => (
              <tr key={`${b.label}-${i}`}>
                <th scope="row" {...asData}>
                  {b.label}
                </th>
                <td class="numeric">{b.value === null ? m.withheldMark : numberText(b.value, p.unit)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
