//! Stored releases: building the ones that are due, listing them, reading them back for the
//! report, and checking them against their leaves.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::model::{
    PeriodReport, ReportSettings, RULE_ENDED, RULE_MEDIANS, RULE_SMALL_AUTHORITIES,
};
use super::release::{self, due_at, linked_periods, Layout, Meta, Raw, ReleaseError};
use crate::config::Settings;
use crate::db::schema::{accounts, log_leaves, queries, statistics_releases};
use crate::db::{snapshot_transaction, write_transaction, Database, DbConnection};
use crate::log::{Actor, Event, Kind, LeafSummary, LogError, Subject};
use crate::tx::WriteContext;
use iro_advice_model::period::{Month, Period, PeriodLength};

/// The format of a release's header and tables; a new version is a new kind of release,
/// never a rewrite of a stored one.
pub const RELEASE_VERSION: u32 = 1;

/// What building releases needs from the settings.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseSettings {
    pub report: ReportSettings,
    pub follow_up_days: u32,
}

impl ReleaseSettings {
    pub fn from(settings: &Settings) -> Self {
        ReleaseSettings {
            report: ReportSettings {
                round_totals_to: settings.statistics.round_totals_to,
                reminder_routine_minutes: settings.queries.reminder_routine_minutes,
                reminder_urgent_minutes: settings.queries.reminder_urgent_minutes,
            },
            follow_up_days: settings.statistics.follow_up_days,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("stored release {period} cannot be read: {reason}")]
    Unreadable { period: String, reason: String },
    #[error("the release of {0} is not due yet: its period and follow-up window have not passed")]
    NotDue(String),
    #[error(transparent)]
    Pool(#[from] crate::db::DbError),
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = statistics_releases)]
struct StoredRelease {
    period: String,
    length: String,
    version: i32,
    built_at: NaiveDateTime,
    meta: String,
    by_authority: String,
    by_region: String,
    sha256: String,
    leaf_index: i64,
}

/// The SHA-256 a release's leaf carries: of its header and both views as stored.
pub fn digest(meta: &str, by_authority: &str, by_region: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"iro-advice statistics release\n");
    h.update(meta.as_bytes());
    h.update(b"\n");
    h.update(by_authority.as_bytes());
    h.update(b"\n");
    h.update(by_region.as_bytes());
    h.finalize().into()
}

pub use iro_advice_api::statistics::ReleaseListing;
use iro_advice_model::hex;

fn listing(r: &StoredRelease) -> Result<ReleaseListing, StoreError> {
    let meta: Meta = serde_json::from_str(&r.meta).map_err(|e| StoreError::Unreadable {
        period: r.period.clone(),
        reason: e.to_string(),
    })?;
    Ok(ReleaseListing {
        period: r.period.clone(),
        length: meta.length,
        version: r.version as u32,
        built_at: r.built_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        follow_up_days: meta.follow_up_days,
        rules: meta.rules,
        suppressed: meta.suppressed,
        narrowest_width: meta.narrowest_width,
        sha256: r.sha256.clone(),
        leaf_index: r.leaf_index as u64,
    })
}

/// Every stored release, oldest period first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<ReleaseListing>, StoreError> {
    let rows: Vec<StoredRelease> = statistics_releases::table
        .select(StoredRelease::as_select())
        .load(conn)?;
    let mut out: Vec<ReleaseListing> = rows.iter().map(listing).collect::<Result<_, _>>()?;
    // Oldest first; at one end, the month before its quarter before its year.
    out.sort_by(|a, b| {
        (&a.period[..4], a.period.len() == 4, &a.period).cmp(&(
            &b.period[..4],
            b.period.len() == 4,
            &b.period,
        ))
    });
    Ok(out)
}

/// The stored view (`by_authority` or `by_region` JSON) of each period asked for that has
/// a release.
pub fn views(
    conn: &mut DbConnection,
    periods: &[String],
    by: super::model::By,
) -> QueryResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, String, String)> = statistics_releases::table
        .filter(statistics_releases::period.eq_any(periods))
        .select((
            statistics_releases::period,
            statistics_releases::by_authority,
            statistics_releases::by_region,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(p, a, r)| match by {
            super::model::By::Authority => (p, a),
            super::model::By::Region => (p, r),
        })
        .collect())
}

/// The periods whose releases are due and not stored, in the order they must be built: a
/// month before the quarter and year it ends, a quarter before its year.
pub fn missing(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    follow_up_days: u32,
) -> QueryResult<Vec<Period>> {
    let first_iro: Option<NaiveDateTime> = accounts::table
        .filter(accounts::role.eq("iro"))
        .select(diesel::dsl::min(accounts::approved_at))
        .first(conn)?;
    let first_query: Option<NaiveDateTime> = queries::table
        .select(diesel::dsl::min(queries::created_at))
        .first(conn)?;
    let Some(first) = [first_iro, first_query].into_iter().flatten().min() else {
        return Ok(Vec::new());
    };
    let stored: std::collections::HashSet<String> = statistics_releases::table
        .select(statistics_releases::period)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut out = Vec::new();
    let mut month = Month::of(first.date());
    while let Some(m) = PeriodLength::Month.periods(month, month).pop() {
        if due_at(&m, follow_up_days) > now {
            break;
        }
        let mut ending = vec![m.clone()];
        for length in [PeriodLength::Quarter, PeriodLength::Year] {
            if let Some(p) = length.periods(month, month).pop() {
                if p.end == m.end {
                    ending.push(p);
                }
            }
        }
        out.extend(ending.into_iter().filter(|p| !stored.contains(&p.key)));
        month = month.next();
    }
    Ok(out)
}

fn stored_layout(conn: &mut DbConnection, period: &Period) -> Result<Option<Layout>, StoreError> {
    let row: Option<(String, String)> = statistics_releases::table
        .find(&period.key)
        .select((
            statistics_releases::by_authority,
            statistics_releases::by_region,
        ))
        .first(conn)
        .optional()?;
    let Some((a, r)) = row else {
        return Ok(None);
    };
    let unreadable = |e: serde_json::Error| StoreError::Unreadable {
        period: period.key.clone(),
        reason: e.to_string(),
    };
    let a: PeriodReport = serde_json::from_str(&a).map_err(unreadable)?;
    let r: PeriodReport = serde_json::from_str(&r).map_err(unreadable)?;
    Ok(Some(Layout::from_published(period.clone(), &a, &r)))
}

/// Every rule a release applies, as its header states them.
fn rules(settings: &ReleaseSettings) -> Vec<String> {
    let mut rules = vec![
        RULE_ENDED.to_owned(),
        format!(
            "counts as they stood at the end of each query's month plus {} days; never \
             recomputed",
            settings.follow_up_days
        ),
        super::disclosure::RULE_PRIMARY.to_owned(),
        super::disclosure::RULE_SECONDARY.to_owned(),
        format!(
            "audited by linear programming with the releases it shares cells with: every \
             withheld number keeps at least {} possible values",
            release::MIN_WIDTH + 1
        ),
    ];
    if settings.report.round_totals_to > 1 {
        rules.push(super::disclosure::rounding_rule(
            settings.report.round_totals_to,
        ));
    }
    rules.push(RULE_SMALL_AUTHORITIES.to_owned());
    rules.push(RULE_MEDIANS.to_owned());
    rules
}

/// Builds and stores the release of `period` with its leaf, building first any release it
/// builds on that is missing. `Ok(None)` when it is already stored (another instance may
/// have just built it).
pub fn build(
    conn: &mut DbConnection,
    context: &WriteContext,
    settings: &ReleaseSettings,
    period: &Period,
    now: NaiveDateTime,
    actor: Actor<'_>,
) -> Result<Option<ReleaseListing>, StoreError> {
    if due_at(period, settings.follow_up_days) > now {
        return Err(StoreError::NotDue(period.key.clone()));
    }
    for earlier in linked_periods(period) {
        build(conn, context, settings, &earlier, now, actor)?;
    }
    if is_stored(conn, period)? {
        return Ok(None);
    }
    let (raw, linked) = snapshot_transaction(conn, |conn| -> Result<_, StoreError> {
        let raw = Raw::load(conn, period, &settings.report, settings.follow_up_days)?;
        let mut linked = Vec::new();
        for p in linked_periods(period) {
            if let Some(layout) = stored_layout(conn, &p)? {
                linked.push(layout);
            }
        }
        Ok((raw, linked))
    })?;
    let built = release::build(period, &raw, &linked, &settings.report)?;
    let meta = Meta {
        version: RELEASE_VERSION,
        period: period.key.clone(),
        length: period.length(),
        start: period.start.to_string(),
        end: built.by_region.end.clone(),
        follow_up_days: settings.follow_up_days,
        round_totals_to: settings.report.round_totals_to,
        rules: rules(settings),
        suppressed: built.suppressed,
        narrowest_width: built.narrowest,
    };
    let (meta_json, by_authority, by_region) = (
        to_json(&meta),
        to_json(&built.by_authority),
        to_json(&built.by_region),
    );
    let sum = digest(&meta_json, &by_authority, &by_region);
    let stored = write_transaction(conn, |conn| -> Result<Option<StoredRelease>, StoreError> {
        if is_stored(conn, period)? {
            return Ok(None);
        }
        let receipt = crate::log::record(
            conn,
            &context.log,
            Event {
                details: crate::log::Details::None,
                kind: Kind::StatisticsReleased,
                actor,
                subject: Subject::Release {
                    period: &period.key,
                    digest: sum,
                },
                authority: None,
            },
        )?;
        let row = StoredRelease {
            period: period.key.clone(),
            length: period.length().as_str().to_owned(),
            version: RELEASE_VERSION as i32,
            built_at: crate::db::now(),
            meta: meta_json.clone(),
            by_authority: by_authority.clone(),
            by_region: by_region.clone(),
            sha256: hex(&sum),
            leaf_index: crate::log::published(&receipt)? as i64,
        };
        diesel::insert_into(statistics_releases::table)
            .values((
                statistics_releases::period.eq(&row.period),
                statistics_releases::length.eq(&row.length),
                statistics_releases::version.eq(row.version),
                statistics_releases::built_at.eq(row.built_at),
                statistics_releases::meta.eq(&row.meta),
                statistics_releases::by_authority.eq(&row.by_authority),
                statistics_releases::by_region.eq(&row.by_region),
                statistics_releases::sha256.eq(&row.sha256),
                statistics_releases::leaf_index.eq(row.leaf_index),
            ))
            .execute(conn)?;
        Ok(Some(row))
    });
    match stored {
        Ok(Some(row)) => Ok(Some(listing(&row)?)),
        Ok(None) => Ok(None),
        // Another instance stored it between our check and our insert.
        Err(StoreError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_stored(conn: &mut DbConnection, period: &Period) -> QueryResult<bool> {
    Ok(statistics_releases::table
        .find(&period.key)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// The service's own types, which cannot fail to become JSON.
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("release types serialise")
}

/// Builds every release that is due and missing; returns what was built.
pub fn build_missing(
    conn: &mut DbConnection,
    context: &WriteContext,
    settings: &ReleaseSettings,
    now: NaiveDateTime,
    actor: Actor<'_>,
) -> Result<Vec<ReleaseListing>, StoreError> {
    let mut built = Vec::new();
    for period in missing(conn, now, settings.follow_up_days)? {
        if let Some(r) = build(conn, context, settings, &period, now, actor)? {
            built.push(r);
        }
    }
    Ok(built)
}

/// Every withheld number of every stored release, audited with the releases it shares
/// cells with (a year's months, quarters and the year) against the raw counts: what
/// `iro-advice stats audit` prints.
pub fn audit(
    conn: &mut DbConnection,
    settings: &ReleaseSettings,
) -> Result<Vec<release::Audited>, StoreError> {
    let periods: Vec<String> = statistics_releases::table
        .select(statistics_releases::period)
        .load(conn)?;
    let mut years: std::collections::BTreeMap<String, Vec<Layout>> = Default::default();
    for key in periods {
        let period: Period = key.parse().map_err(|reason| StoreError::Unreadable {
            period: key.clone(),
            reason,
        })?;
        if let Some(layout) = stored_layout(conn, &period)? {
            years.entry(key[..4].to_owned()).or_default().push(layout);
        }
    }
    let mut out = Vec::new();
    for (year, layouts) in years {
        let period: Period = year.parse().map_err(|reason| StoreError::Unreadable {
            period: year.clone(),
            reason,
        })?;
        let raw = snapshot_transaction(conn, |conn| {
            Raw::load(conn, &period, &settings.report, settings.follow_up_days)
        })?;
        out.extend(release::audit_stored(&layouts, &raw, &settings.report));
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseCheckError {
    #[error("release {0} does not match the hash its leaf carries")]
    Mismatch(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// For `log verify`: every stored release hashes to what its leaf says.
pub fn check_against_log(conn: &mut DbConnection) -> Result<usize, ReleaseCheckError> {
    let rows: Vec<StoredRelease> = statistics_releases::table
        .select(StoredRelease::as_select())
        .load(conn)?;
    for r in &rows {
        let sum = digest(&r.meta, &r.by_authority, &r.by_region);
        let leaf: Option<Vec<u8>> = log_leaves::table
            .find(r.leaf_index)
            .select(log_leaves::data)
            .first(conn)
            .optional()?;
        let proven = leaf
            .as_deref()
            .and_then(LeafSummary::decode)
            .is_some_and(|l| {
                l.kind == Kind::StatisticsReleased
                    && l.subject == crate::log::release_pseudonym(&r.period)
                    && l.extension == sum
            });
        if !proven || r.sha256 != hex(&sum) {
            return Err(ReleaseCheckError::Mismatch(r.period.clone()));
        }
    }
    Ok(rows.len())
}

/// How often the service looks for releases that have fallen due.
const CHECK_EVERY: StdDuration = StdDuration::from_secs(3600);

/// Builds due releases at start and then hourly, until the process stops. Several
/// instances may race: the period's primary key lets one store it.
pub fn spawn(db: Database, settings: Arc<Settings>, context: WriteContext) {
    let release = ReleaseSettings::from(&settings);
    tokio::task::spawn_local(async move {
        loop {
            let c = context.clone();
            let result = db
                .run(move |conn| -> Result<Vec<ReleaseListing>, StoreError> {
                    build_missing(conn, &c, &release, crate::db::now(), Actor::System)
                })
                .await;
            match result {
                Ok(built) if built.is_empty() => {}
                Ok(built) => {
                    for r in built {
                        tracing::info!(period = %r.period, suppressed = r.suppressed, "statistics release built");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "building statistics releases failed"),
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    });
}
