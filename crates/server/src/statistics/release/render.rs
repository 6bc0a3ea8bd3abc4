//! A built release written as the tables NAIRO reads: rows by authority or region, rules
//! applied, rounding and medians.

use std::collections::HashMap;

use super::super::disclosure::{self, Cell};
use super::super::model::{
    By, Median, MedianRow, Medians, PeriodReport, ReportSettings, Row, Table,
    MIN_VALUES_FOR_MEDIAN, RULE_MEDIANS,
};
use super::super::report::{area_key, areas_for};
use super::cells::{AreaKey, CellKey, Geography, Layout, Measure};
use super::draft::Draft;
use super::raw::Raw;
use iro_advice_model::period::Period;

/// What a release's tables are written from.
pub(super) struct Rendering<'a> {
    pub geo: &'a Geography,
    pub measures: &'a [Measure],
    pub period: &'a Period,
    pub layout: &'a Layout,
    pub draft: &'a Draft,
    pub raw: &'a Raw,
    pub settings: &'a ReportSettings,
}

impl Rendering<'_> {
    /// The release's tables by authority or by region, as NAIRO reads them.
    pub fn report(&self, by: By) -> PeriodReport {
        let Rendering {
            geo,
            measures,
            period,
            layout,
            draft,
            raw,
            settings,
        } = *self;
        let (keys, values, primary) = (&draft.keys, &draft.values, &draft.primary);
        let registered = &raw.registered_at_end();
        let position: HashMap<&CellKey, usize> =
            keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let authorities: Vec<(&str, &str, &str)> = geo
            .names
            .iter()
            .map(|(c, n, r)| (c.as_str(), n.as_str(), r.as_str()))
            .collect();
        let areas = areas_for(by, &authorities, registered);
        let area_of = |key: &str| -> AreaKey {
            match by {
                By::Region => AreaKey::Region(key.to_owned()),
                By::Authority => match key.strip_prefix("region:") {
                    Some(region) => AreaKey::Group(region.to_owned()),
                    None => AreaKey::Authority(key.to_owned()),
                },
            }
        };
        let round = |n: u64, to: u64| if to > 1 { (n + to / 2) / to * to } else { n };
        let row_rounding = match by {
            By::Region => settings.round_totals_to,
            By::Authority => 1,
        };
        let mut tables = Vec::new();
        for (m, measure) in measures.iter().enumerate() {
            let (mut any_primary, mut any_secondary) = (false, false);
            let mut show = |area: AreaKey, column: Option<usize>, round_to: u64| -> Cell {
                let key = CellKey::new(measures, &period.key, area, m, column);
                let i = position[&key];
                match layout.published[&key] {
                    Cell::Suppressed => {
                        if primary.contains(&i) {
                            any_primary = true;
                        } else {
                            any_secondary = true;
                        }
                        Cell::Suppressed
                    }
                    Cell::Count(_) => Cell::Count(round(values[i], round_to)),
                }
            };
            let mut rows = Vec::new();
            for (key, area) in &areas {
                let a = area_of(key);
                let cells = (0..measure.columns.len())
                    .map(|c| show(a.clone(), Some(c), 1))
                    .collect();
                let total = show(a, None, row_rounding);
                rows.push(Row {
                    area: area.clone(),
                    cells,
                    total,
                });
            }
            let totals = (0..measure.columns.len())
                .map(|c| show(AreaKey::National, Some(c), settings.round_totals_to))
                .collect();
            let total = show(AreaKey::National, None, settings.round_totals_to);
            let mut rules_applied = Vec::new();
            if any_primary {
                rules_applied.push(disclosure::RULE_PRIMARY.to_owned());
            }
            if any_secondary {
                rules_applied.push(disclosure::RULE_SECONDARY.to_owned());
            }
            if settings.round_totals_to > 1 {
                rules_applied.push(disclosure::rounding_rule(settings.round_totals_to));
            }
            tables.push(Table {
                measure: measure.name.to_owned(),
                columns: measure.columns.iter().map(|c| (*c).to_owned()).collect(),
                rows,
                totals,
                total,
                rules_applied,
            });
        }

        let median = |m: Option<&(f64, i64)>| match m {
            Some((h, n)) if *n >= MIN_VALUES_FOR_MEDIAN => Median::Hours((h * 10.0).round() / 10.0),
            _ => Median::Suppressed,
        };
        let of = |which: Option<By>| {
            raw.medians
                .iter()
                .find(|(b, _)| *b == which)
                .map(|(_, m)| m)
        };
        let region_of = |code: &str| geo.region_of.get(code).map(String::as_str).unwrap_or("");
        let rows: Vec<MedianRow> = areas
            .iter()
            .map(|(key, area)| {
                let sql_key = match by {
                    By::Region => key.clone(),
                    By::Authority => match key.strip_prefix("region:") {
                        Some(_) => key.clone(),
                        None => area_key(by, key, region_of(key), registered),
                    },
                };
                MedianRow {
                    area: area.clone(),
                    median_hours: median(of(Some(by)).and_then(|m| m.get(&sql_key))),
                }
            })
            .collect();
        let national = median(of(None).and_then(|m| m.get("national")));
        let withheld = rows.iter().any(|r| r.median_hours == Median::Suppressed)
            || national == Median::Suppressed;
        PeriodReport {
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
        }
    }
}
