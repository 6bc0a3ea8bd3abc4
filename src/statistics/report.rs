//! The access report: what NAIRO may see of how IROs get advice, by authority or region and
//! period, with every number computed by the database and every table put through
//! [`disclosure`](super::disclosure) before it leaves this module.
//!
//! An authority with fewer than 3 registered IROs at the end of a period has no row of its
//! own in that period: its numbers go into "Other authorities in <region>". The rule is the
//! same in SQL (an authority has its own row from the period its third IRO registered in)
//! and in the registered-IRO counts, which say the same thing.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::disclosure::{self, Cell, Controlled, Rounding};
use super::model::SHARED_ROW_TOTALS;
pub use super::model::{
    AccessReport, AccessRequest, Area, By, Median, MedianRow, Medians, PeriodReport,
    ReportSettings, Row, Table, MIN_IROS_FOR_OWN_ROW, MIN_VALUES_FOR_MEDIAN, RULE_ENDED,
    RULE_MEDIANS, RULE_SMALL_AUTHORITIES,
};
use super::period::Period;
use super::sql::{
    count_measures, midnight, plan, CountMeasure, CountRow, MedianRowSql, RegistrationRow,
};
use crate::db::{Backend, DbConnection};

/// The periods asked for, split into those that have ended and those that have not.
fn split_periods(request: &AccessRequest, now: NaiveDateTime) -> (Vec<Period>, Vec<Period>) {
    request
        .length
        .periods(request.from, request.to)
        .into_iter()
        .partition(|p| midnight(p.end) <= now)
}

/// The report's statements as one script of plain SQL with the values written in, for
/// running the same aggregates through `sqlite3` or `psql` (the benchmark's comparison).
pub fn script(
    backend: Backend,
    request: &AccessRequest,
    settings: &ReportSettings,
    now: NaiveDateTime,
) -> String {
    let (ended, _) = split_periods(request, now);
    let (Some(first), Some(last)) = (ended.first(), ended.last()) else {
        return String::new();
    };
    let plan = plan(
        backend,
        request,
        settings,
        now,
        (midnight(first.start), midnight(last.end)),
    );
    std::iter::once(&plan.registrations)
        .chain(plan.counts.iter().map(|(_, s)| s))
        .chain([&plan.medians, &plan.national_medians])
        .map(|s| format!("{};\n", s.literal()))
        .collect()
}

/// Builds the report; run it on one snapshot of the database.
pub fn build(
    conn: &mut DbConnection,
    request: &AccessRequest,
    settings: &ReportSettings,
    now: NaiveDateTime,
) -> QueryResult<AccessReport> {
    let backend = conn.backend();
    let (ended, not_yet) = split_periods(request, now);
    let mut rules = vec![
        RULE_ENDED,
        disclosure::RULE_PRIMARY,
        disclosure::RULE_SECONDARY,
    ];
    if settings.round_totals_to > 1 {
        rules.push(disclosure::RULE_ROUNDING);
    }
    if request.by == By::Authority {
        rules.push(RULE_SMALL_AUTHORITIES);
    }
    rules.push(RULE_MEDIANS);
    let mut report = AccessReport {
        by: request.by,
        period: request.length,
        from: request.from.to_string(),
        to: request.to.to_string(),
        rules: rules.into_iter().map(str::to_owned).collect(),
        round_totals_to: settings.round_totals_to,
        not_yet_ended: not_yet.into_iter().map(|p| p.key).collect(),
        periods: Vec::new(),
    };
    let (Some(first), Some(last)) = (ended.first(), ended.last()) else {
        return Ok(report);
    };
    let (start, end) = (midnight(first.start), midnight(last.end));
    let plan = plan(backend, request, settings, now, (start, end));
    let registrations: Vec<RegistrationRow> = plan.registrations.load(conn)?;
    let mut counts: HashMap<&'static str, Vec<CountRow>> = HashMap::new();
    for (name, statement) in plan.counts {
        counts.insert(name, statement.load(conn)?);
    }
    let medians: Vec<MedianRowSql> = plan.medians.load(conn)?;
    let national_medians: Vec<MedianRowSql> = plan.national_medians.load(conn)?;
    let measures = count_measures();

    // The reference list the authorities table is synced from at every start.
    let authorities: Vec<(&str, &str, &str)> = crate::authorities::all()
        .iter()
        .map(|a| (a.code.as_str(), a.name.as_str(), a.region.as_str()))
        .collect();
    let region_of: HashMap<&str, &str> = authorities
        .iter()
        .map(|(code, _, region)| (*code, *region))
        .collect();

    for period in &ended {
        // Registered and never-asked IROs per authority at the period's end.
        let mut registered: HashMap<&str, u64> = HashMap::new();
        let mut never_asked: HashMap<&str, u64> = HashMap::new();
        for r in &registrations {
            if r.registered <= period.key {
                *registered.entry(&r.authority).or_default() += r.n as u64;
                if r.first_asked
                    .as_deref()
                    .is_none_or(|f| f > period.key.as_str())
                {
                    *never_asked.entry(&r.authority).or_default() += r.n as u64;
                }
            }
        }
        let areas = areas_for(request.by, &authorities, &registered);
        let index: HashMap<&str, usize> = areas
            .iter()
            .enumerate()
            .map(|(i, (key, _))| (key.as_str(), i))
            .collect();
        let area_of_authority = |code: &str| {
            let region = region_of.get(code).copied().unwrap_or_default();
            area_key(request.by, code, region, &registered)
        };
        let row_rounding = match request.by {
            By::Region => settings.round_totals_to,
            By::Authority => 1,
        };
        let rounding = Rounding {
            rows: row_rounding,
            columns: settings.round_totals_to,
        };

        let mut counted: Vec<(&CountMeasure, Vec<Vec<u64>>)> = Vec::new();
        for m in &measures {
            let mut cells = vec![vec![0u64; m.columns.len()]; areas.len()];
            for row in counts[m.name].iter().filter(|r| r.period == period.key) {
                let (Some(&i), Some(j)) = (
                    index.get(row.area.as_str()),
                    m.columns.iter().position(|c| *c == row.col),
                ) else {
                    return Err(diesel::result::Error::DeserializationError(
                        format!("{} row for an unknown area or column", m.name).into(),
                    ));
                };
                cells[i][j] += row.n as u64;
            }
            counted.push((m, cells));
        }
        // The tables of queries share their row totals (queries per area): each withholds
        // every total that any of them must, until they agree.
        let shares = |m: &CountMeasure| SHARED_ROW_TOTALS.contains(&m.name);
        let mut forced = vec![false; areas.len()];
        let shared: Vec<Controlled> = loop {
            let controlled: Vec<Controlled> = counted
                .iter()
                .filter(|(m, _)| shares(m))
                .map(|(_, cells)| disclosure::control_with_hidden_rows(cells, rounding, &forced))
                .collect();
            let union: Vec<bool> = (0..areas.len())
                .map(|r| {
                    controlled
                        .iter()
                        .any(|c| c.row_totals[r] == Cell::Suppressed)
                })
                .collect();
            if union == forced {
                break controlled;
            }
            forced = union;
        };
        let mut shared = shared.into_iter();
        let mut tables = Vec::new();
        for (m, cells) in &counted {
            let controlled = if shares(m) {
                shared.next().expect("one per shared table")
            } else {
                disclosure::control(cells, rounding)
            };
            tables.push(table(m.name, m.columns.clone(), &areas, controlled));
        }
        for (name, per_authority) in [
            ("registered_iros", &registered),
            ("registered_iros_never_asked", &never_asked),
        ] {
            let mut cells = vec![vec![0u64; 1]; areas.len()];
            for (code, n) in per_authority.iter() {
                let key = area_of_authority(code);
                let Some(&i) = index.get(key.as_str()) else {
                    continue;
                };
                cells[i][0] += *n;
            }
            let controlled = disclosure::control(&cells, rounding);
            tables.push(table(name, vec!["iros"], &areas, controlled));
        }

        let median = |m: Option<&MedianRowSql>| match m {
            Some(m) if m.n >= MIN_VALUES_FOR_MEDIAN => {
                Median::Hours((m.median * 10.0).round() / 10.0)
            }
            _ => Median::Suppressed,
        };
        let by_area: HashMap<&str, &MedianRowSql> = medians
            .iter()
            .filter(|m| m.period == period.key)
            .map(|m| (m.area.as_str(), m))
            .collect();
        let rows: Vec<MedianRow> = areas
            .iter()
            .map(|(key, area)| MedianRow {
                area: area.clone(),
                median_hours: median(by_area.get(key.as_str()).copied()),
            })
            .collect();
        let national = median(national_medians.iter().find(|m| m.period == period.key));
        let withheld = rows.iter().any(|r| r.median_hours == Median::Suppressed)
            || national == Median::Suppressed;
        report.periods.push(PeriodReport {
            period: period.key.clone(),
            start: period.start.to_string(),
            end: period
                .end
                .pred_opt()
                .expect("a period ends after it starts")
                .to_string(),
            tables,
            median_hours_to_first_reply: Medians {
                rows,
                national,
                rules_applied: if withheld {
                    vec![RULE_MEDIANS.to_owned()]
                } else {
                    Vec::new()
                },
            },
        });
    }
    Ok(report)
}

/// The row an authority's facts go into in one period: the rule the SQL's `areas` table
/// applies too.
fn area_key(by: By, code: &str, region: &str, registered: &HashMap<&str, u64>) -> String {
    match by {
        By::Region => region.to_owned(),
        By::Authority if registered.get(code).copied().unwrap_or(0) >= MIN_IROS_FOR_OWN_ROW => {
            code.to_owned()
        }
        By::Authority => format!("region:{region}"),
    }
}

/// The rows of one period: every region, or every authority with its own row grouped by
/// region and followed by the region's other authorities together.
fn areas_for(
    by: By,
    authorities: &[(&str, &str, &str)],
    registered: &HashMap<&str, u64>,
) -> Vec<(String, Area)> {
    let mut regions: BTreeMap<&str, Vec<&(&str, &str, &str)>> = BTreeMap::new();
    for a in authorities {
        regions.entry(a.2).or_default().push(a);
    }
    let mut out = Vec::new();
    for (region, mut members) in regions {
        match by {
            By::Region => out.push((
                region.to_owned(),
                Area {
                    code: None,
                    name: region.to_owned(),
                    region: region.to_owned(),
                },
            )),
            By::Authority => {
                members.sort_by_key(|a| a.1);
                let (own, rest): (Vec<_>, Vec<_>) = members
                    .into_iter()
                    .partition(|(code, _, region)| area_key(by, code, region, registered) == *code);
                for (code, name, region) in own {
                    out.push((
                        code.to_string(),
                        Area {
                            code: Some(code.to_string()),
                            name: name.to_string(),
                            region: region.to_string(),
                        },
                    ));
                }
                if !rest.is_empty() {
                    out.push((
                        format!("region:{region}"),
                        Area {
                            code: None,
                            name: format!("Other authorities in {region}"),
                            region: region.to_owned(),
                        },
                    ));
                }
            }
        }
    }
    out
}

fn table(
    measure: &'static str,
    columns: Vec<&'static str>,
    areas: &[(String, Area)],
    controlled: Controlled,
) -> Table {
    Table {
        measure: measure.to_owned(),
        columns: columns.into_iter().map(str::to_owned).collect(),
        rows: areas
            .iter()
            .zip(controlled.cells)
            .zip(controlled.row_totals)
            .map(|(((_, area), cells), total)| Row {
                area: area.clone(),
                cells,
                total,
            })
            .collect(),
        totals: controlled.column_totals,
        total: controlled.total,
        rules_applied: controlled.applied.into_iter().map(str::to_owned).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_authorities_are_grouped_within_their_region() {
        let authorities = [
            ("E1", "Bigtown", "North"),
            ("E2", "Smallville", "North"),
            ("E3", "Midcity", "South"),
        ];
        let registered: HashMap<&str, u64> = [("E1", 3), ("E2", 2), ("E3", 7)].into();
        let areas = areas_for(By::Authority, &authorities, &registered);
        let names: Vec<&str> = areas.iter().map(|(_, a)| a.name.as_str()).collect();
        assert_eq!(names, ["Bigtown", "Other authorities in North", "Midcity"]);
        assert_eq!(areas[1].0, "region:North");
        let regions = areas_for(By::Region, &authorities, &registered);
        assert_eq!(regions.len(), 2);
    }
}
