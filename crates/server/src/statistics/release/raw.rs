//! The raw counts of a release's months, per authority: read on one snapshot, never
//! published as they are.

use std::collections::HashMap;

use diesel::prelude::*;

use super::super::model::{By, ReportSettings};
use super::super::sql::{count_measures, midnight, plan, CountRow, MedianRowSql, RegistrationRow};
use crate::db::DbConnection;
use iro_advice_model::period::{Month, Period};

/// Per area: the median in hours and how many values stand behind it.
pub(super) type AreaMedians = HashMap<String, (f64, i64)>;

/// What the database says about the months of a release, per authority: never published
/// as it is.
pub struct Raw {
    pub(super) months: Vec<Month>,
    /// Per flow measure: (month, authority) → count per column.
    pub(super) flows: Vec<HashMap<(usize, String), Vec<u64>>>,
    /// Per month: authority → (registered, never asked) at the month's end.
    pub(super) stocks: Vec<HashMap<String, (u64, u64)>>,
    /// Medians over the whole period: per report kind (None: national), area → (hours, n).
    pub(super) medians: Vec<(Option<By>, AreaMedians)>,
}

impl Raw {
    /// Reads a period's raw counts; run it on one snapshot.
    pub fn load(
        conn: &mut DbConnection,
        period: &Period,
        settings: &ReportSettings,
        follow_up_days: u32,
    ) -> QueryResult<Raw> {
        let months = period.months();
        let month_index: HashMap<String, usize> = months
            .iter()
            .enumerate()
            .map(|(i, m)| (m.to_string(), i))
            .collect();
        let plan = plan(
            conn.backend(),
            period.length(),
            settings,
            follow_up_days,
            (midnight(period.start), midnight(period.end)),
        );
        let registrations: Vec<RegistrationRow> = plan.registrations.load(conn)?;
        let flow_measures = count_measures();
        let mut flows = Vec::new();
        for ((_, statement), m) in plan.counts.into_iter().zip(&flow_measures) {
            let rows: Vec<CountRow> = statement.load(conn)?;
            let mut counts: HashMap<(usize, String), Vec<u64>> = HashMap::new();
            for r in rows {
                let (Some(&mi), Some(c)) = (
                    month_index.get(&r.period),
                    m.columns.iter().position(|c| *c == r.col),
                ) else {
                    return Err(diesel::result::Error::DeserializationError(
                        format!("{} row for an unknown month or column", m.name).into(),
                    ));
                };
                counts
                    .entry((mi, r.area))
                    .or_insert_with(|| vec![0; m.columns.len()])[c] += r.n as u64;
            }
            flows.push(counts);
        }
        let mut stocks = vec![HashMap::new(); months.len()];
        for (mi, month) in months.iter().enumerate() {
            let key = month.to_string();
            for r in &registrations {
                if r.registered <= key {
                    let e: &mut (u64, u64) = stocks[mi].entry(r.authority.clone()).or_default();
                    e.0 += r.n as u64;
                    if r.first_asked.as_deref().is_none_or(|f| f > key.as_str()) {
                        e.1 += r.n as u64;
                    }
                }
            }
        }
        let mut medians = Vec::new();
        for (by, statement) in plan.medians {
            let rows: Vec<MedianRowSql> = statement.load(conn)?;
            medians.push((
                by,
                rows.into_iter()
                    .filter(|r| r.period == period.key)
                    .map(|r| (r.area, (r.median, r.n)))
                    .collect(),
            ));
        }
        Ok(Raw {
            months,
            flows,
            stocks,
            medians,
        })
    }

    /// Registered IROs per authority at the end of the period.
    pub(super) fn registered_at_end(&self) -> HashMap<&str, u64> {
        self.stocks
            .last()
            .map(|s| s.iter().map(|(k, (r, _))| (k.as_str(), *r)).collect())
            .unwrap_or_default()
    }
}
