//! NAIRO's access report in the terminal, and as CSV.

use std::path::Path;

use super::api::Api;
use super::error::ClientError;
use super::output::Output;
use super::render::table;

/// Prints the report as tables and, on request, writes it as CSV: both from one answer, so
/// that the two always agree and the server builds the report once.
pub async fn stats(api: &Api, path: &str, csv: Option<&Path>) -> Result<Output, ClientError> {
    use iro_advice_api::statistics::AccessReport;
    let report: AccessReport = api.get(path).await?;
    let mut text = format!(
        "Access to advice by {}, per {}, {} to {}.\nRules: {}.\n",
        report.by,
        report.period,
        report.from,
        report.to,
        report.rules.join("; ")
    );
    if !report.not_yet_ended.is_empty() {
        text.push_str(&format!(
            "Not yet ended, so left out: {}.\n",
            report.not_yet_ended.join(", ")
        ));
    }
    const NATIONAL: &str = "England and Wales";
    for p in &report.periods {
        text.push_str(&format!("\n== {} ({} to {})\n", p.period, p.start, p.end));
        for t in &p.tables {
            text.push_str(&format!("\n-- {}", t.measure));
            if !t.rules_applied.is_empty() {
                text.push_str(&format!(" ({})", t.rules_applied.join("; ")));
            }
            text.push('\n');
            let line = |area: &str, cells: &[iro_advice_api::statistics::Cell], total| {
                std::iter::once(area.to_owned())
                    .chain(cells.iter().chain([total]).map(ToString::to_string))
                    .collect::<Vec<_>>()
            };
            let mut rows = vec![std::iter::once("area")
                .chain(t.columns.iter().map(String::as_str))
                .chain(["total"])
                .map(str::to_owned)
                .collect::<Vec<_>>()];
            rows.extend(
                t.rows
                    .iter()
                    .map(|r| line(&r.area.name, &r.cells, &r.total)),
            );
            rows.push(line(NATIONAL, &t.totals, &t.total));
            text.push_str(&table(&rows));
            text.push('\n');
        }
        let m = &p.median_hours_to_first_reply;
        text.push_str("\n-- median hours from submission to first reply\n");
        let mut rows = vec![vec!["area".to_owned(), "median_hours".to_owned()]];
        rows.extend(
            m.rows
                .iter()
                .map(|r| vec![r.area.name.clone(), r.median_hours.to_string()]),
        );
        rows.push(vec![NATIONAL.to_owned(), m.national.to_string()]);
        text.push_str(&table(&rows));
        text.push('\n');
    }
    if let Some(file) = csv {
        let body = iro_advice_api::statistics::to_csv(&report);
        std::fs::write(file, body).map_err(|e| ClientError::io(file, e))?;
        text.push_str(&format!("\nCSV written to {}.\n", file.display()));
    }
    Output::new(text, report)
}
