//! `iro-advice client audit --identity FILE`: NAIRO's audit of the log and the statistics
//! releases. Every leaf up to the checkpoint this profile verified is read from the public
//! tiles (and checked to rebuild its root); every opening is fetched encrypted to NAIRO's key,
//! decrypted with the identity given, and checked against its leaf; the acts they record are
//! counted again as the releases count them, and each number a release shows is compared with
//! the recount. Any leaf without an opening, any opening that does not open its leaf, and any
//! number that differs is reported, and the command fails.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use iro_advice_api::statistics::{AccessReport, Cell, ReleaseListing};
use iro_advice_api::{paths, IndexedOpening};
use iro_advice_model::leaf::opaque::{self, Opening};
use iro_advice_model::leaf::{Details, Kind, LeafSummary};
use iro_advice_model::period::{Month, PeriodLength};
use iro_advice_model::pressure::PressureKind;
use iro_advice_model::queries::{Category, DeclineReason, Outcome, Stage};
use iro_advice_tlog::merkle::{leaf_hash, Frontier};
use serde::Serialize;

use super::api::Api;
use super::error::ClientError;
use super::output::Output;

/// The most openings the service returns to one request.
const OPENINGS_PER_REQUEST: u64 = 50_000;

/// What the audit found.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    pub leaves: u64,
    pub opened: u64,
    /// Opaque leaves the service gave no opening for.
    pub unopened: Vec<u64>,
    /// Openings that do not open their leaf.
    pub mismatched: Vec<u64>,
    pub releases: Vec<ReleaseAudit>,
}

#[derive(Debug, Serialize)]
pub struct ReleaseAudit {
    pub period: String,
    /// Numbers compared.
    pub compared: u64,
    /// `measure/area/column: published N, recounted M`.
    pub differences: Vec<String>,
}

impl Findings {
    pub fn clean(&self) -> bool {
        self.unopened.is_empty()
            && self.mismatched.is_empty()
            && self.releases.iter().all(|r| r.differences.is_empty())
    }
}

/// One act as its opening records it.
struct Fact {
    summary: LeafSummary,
    details: Details,
}

/// The acts, linked as the releases count them.
#[derive(Default)]
struct Facts {
    /// Per account pseudonym: when the statistics start counting it (its approval).
    approved: HashMap<[u8; 32], chrono::DateTime<chrono::Utc>>,
    /// Per query pseudonym: (asked at, its IRO's pseudonym, authority, category, stage).
    queries: HashMap<[u8; 32], Asked>,
    /// Per query pseudonym: when it closed, and how.
    closed: HashMap<[u8; 32], (chrono::DateTime<chrono::Utc>, Outcome)>,
    declines: Vec<([u8; 32], chrono::DateTime<chrono::Utc>, DeclineReason)>,
    pressure: Vec<Reported>,
}

struct Reported {
    iro: Option<[u8; 32]>,
    at: chrono::DateTime<chrono::Utc>,
    authority: String,
    kind: PressureKind,
}

struct Asked {
    at: chrono::DateTime<chrono::Utc>,
    iro: [u8; 32],
    authority: String,
    category: Category,
    stage: Stage,
}

/// The actor pseudonym in a version-1 encoding: after kind, time and authority.
fn actor_of(body: &[u8]) -> Option<[u8; 32]> {
    let len = *body.get(10)? as usize;
    body.get(11 + len..11 + len + 32)?.try_into().ok()
}

impl Facts {
    fn gather(acts: &[(Vec<u8>, Fact)]) -> Facts {
        let mut f = Facts::default();
        for (body, Fact { summary, details }) in acts {
            let actor = actor_of(body);
            match (summary.kind, details) {
                (Kind::AccountCreated, Details::Account { counted: true, .. })
                | (Kind::AccountApproved, _) => {
                    let e = f.approved.entry(summary.subject).or_insert(summary.at);
                    *e = (*e).min(summary.at);
                }
                (Kind::QuerySubmitted, Details::Query { category, stage }) => {
                    if let (Some(iro), Some(authority)) = (actor, &summary.authority) {
                        f.queries.insert(
                            summary.subject,
                            Asked {
                                at: summary.at,
                                iro,
                                authority: authority.clone(),
                                category: *category,
                                stage: *stage,
                            },
                        );
                    }
                }
                (Kind::QueryClosed, Details::Outcome(o)) => {
                    f.closed.insert(summary.subject, (summary.at, *o));
                }
                (Kind::QueryDeclined, Details::Decline(r)) => {
                    f.declines.push((summary.subject, summary.at, *r));
                }
                (Kind::PressureReported, Details::Pressure(k)) => {
                    if let Some(authority) = &summary.authority {
                        f.pressure.push(Reported {
                            iro: actor,
                            at: summary.at,
                            authority: authority.clone(),
                            kind: *k,
                        });
                    }
                }
                _ => {}
            }
        }
        f
    }

    /// Whether the account was counted by `at`.
    fn counted(&self, account: &[u8; 32], at: chrono::DateTime<chrono::Utc>) -> bool {
        self.approved.get(account).is_some_and(|a| *a <= at)
    }

    /// The release's counts: (measure, authority, column) → count, for the months given.
    fn count(
        &self,
        months: &[Month],
        follow_up_days: u32,
    ) -> BTreeMap<(String, String, String), u64> {
        let month_of = |t: chrono::DateTime<chrono::Utc>| Month::of(t.date_naive());
        let within = |t| months.contains(&month_of(t));
        let mut out: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        let mut add = |measure: &str, authority: &str, column: &str| {
            *out.entry((measure.into(), authority.into(), column.into()))
                .or_default() += 1;
        };
        for (query, q) in &self.queries {
            if !within(q.at) || !self.counted(&q.iro, q.at) {
                continue;
            }
            add("queries_by_category", &q.authority, q.category.as_str());
            add("queries_by_stage", &q.authority, q.stage.as_str());
            // The outcome as it stood at the cutoff: the month after the query's month,
            // plus the follow-up window.
            let cutoff = month_of(q.at)
                .next()
                .first_day()
                .and_hms_opt(0, 0, 0)
                .map(|m| m.and_utc() + chrono::Duration::days(i64::from(follow_up_days)));
            let outcome = match (self.closed.get(query), cutoff) {
                (Some((at, o)), Some(cutoff)) if *at < cutoff => o.as_str(),
                _ => "open",
            };
            add("queries_by_outcome", &q.authority, outcome);
        }
        for (query, at, reason) in &self.declines {
            let Some(q) = self.queries.get(query) else {
                continue;
            };
            if within(*at) && self.counted(&q.iro, q.at) {
                add("declines_by_reason", &q.authority, reason.as_str());
            }
        }
        for p in &self.pressure {
            if within(p.at) && p.iro.is_some_and(|i| self.counted(&i, p.at)) {
                add("pressure_reports_by_kind", &p.authority, p.kind.as_str());
            }
        }
        out
    }
}

/// The measures the audit recounts from the log alone. The others (registered IROs, queries
/// not accepted in time, medians) depend on what no leaf records (urgency, the reminder
/// settings, replies' first times) and are said not to be recounted.
const RECOUNTED: [&str; 4] = [
    "queries_by_category",
    "queries_by_stage",
    "declines_by_reason",
    "pressure_reports_by_kind",
];
const RECOUNTED_OUTCOMES: &str = "queries_by_outcome";

fn months_of(start: &str, length: PeriodLength) -> Option<Vec<Month>> {
    let first = Month::of(chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").ok()?);
    let n = match length {
        PeriodLength::Month => 1,
        PeriodLength::Quarter => 3,
        PeriodLength::Year => 12,
    };
    Some(
        std::iter::successors(Some(first), |m| Some(m.next()))
            .take(n)
            .collect(),
    )
}

fn rounded(n: u64, to: u64) -> u64 {
    if to > 1 {
        (n + to / 2) / to * to
    } else {
        n
    }
}

/// Compares one release's published tables (by authority) with the recount.
fn compare(
    report: &AccessReport,
    period: &iro_advice_api::statistics::PeriodReport,
    counts: &BTreeMap<(String, String, String), u64>,
    audit: &mut ReleaseAudit,
) {
    for table in &period.tables {
        let recounted =
            RECOUNTED.contains(&table.measure.as_str()) || table.measure == RECOUNTED_OUTCOMES;
        if !recounted {
            continue;
        }
        let count = |authority: Option<&str>, column: Option<&str>| -> u64 {
            counts
                .iter()
                .filter(|((m, a, c), _)| {
                    *m == table.measure
                        && authority.is_none_or(|x| x == a)
                        && column.is_none_or(|x| x == c)
                })
                .map(|(_, n)| n)
                .sum()
        };
        let mut check = |what: String, shown: &Cell, recount: u64| {
            if let Cell::Count(n) = shown {
                audit.compared += 1;
                if *n != recount {
                    audit
                        .differences
                        .push(format!("{what}: published {n}, recounted {recount}"));
                }
            }
        };
        for row in &table.rows {
            // Rows of a region's small authorities together name no one authority.
            let Some(code) = row.area.code.as_deref() else {
                continue;
            };
            for (column, cell) in table.columns.iter().zip(&row.cells) {
                let what = format!("{}/{}/{column}", table.measure, code);
                check(what, cell, count(Some(code), Some(column)));
            }
            let what = format!("{}/{}/total", table.measure, code);
            check(what, &row.total, count(Some(code), None));
        }
        for (column, cell) in table.columns.iter().zip(&table.totals) {
            let what = format!("{}/national/{column}", table.measure);
            check(
                what,
                cell,
                rounded(count(None, Some(column)), report.round_totals_to),
            );
        }
        let what = format!("{}/national/total", table.measure);
        check(
            what,
            &table.total,
            rounded(count(None, None), report.round_totals_to),
        );
    }
}

/// Runs the audit with NAIRO's identity.
pub async fn audit(api: &Api, identity: &Path) -> Result<Output, ClientError> {
    let identity = super::crypto::load_identity(identity)?;
    let profile = api.profile();
    let pinned = profile.pinned()?.ok_or_else(|| {
        ClientError::Profile("this profile has no pinned log key: log in again".into())
    })?;
    let (checkpoint, _) = super::trust::held_checkpoint(profile, &pinned)?
        .ok_or_else(|| ClientError::Profile("this profile holds no checkpoint yet".into()))?;
    let leaves = super::watch::entries(api, 0, checkpoint.size).await?;
    let mut frontier = Frontier::default();
    for leaf in &leaves {
        frontier.push(leaf_hash(leaf));
    }
    if frontier.root() != checkpoint.root {
        return Err(ClientError::Profile(
            "the log's tiles do not rebuild the checkpoint this profile verified".into(),
        ));
    }
    let mut openings: HashMap<u64, Opening> = HashMap::new();
    let mut from = 0;
    while from < checkpoint.size {
        let to = (from + OPENINGS_PER_REQUEST).min(checkpoint.size);
        let armored = api
            .get_bytes(&format!("{}?from={from}&to={to}", paths::LOG_OPENINGS))
            .await?;
        let text = String::from_utf8(armored)
            .map_err(|_| ClientError::Profile("the openings are not text".into()))?;
        let plain = super::crypto::decrypt_armored(&text, &identity).map_err(|_| {
            ClientError::Crypto(
                "the openings are not encrypted to this identity: give NAIRO's identity (the \
                 key whose recipient the service has as IRO_ADVICE_NAIRO_RECIPIENT)"
                    .into(),
            )
        })?;
        for line in plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let line: IndexedOpening = serde_json::from_slice(line)
                .map_err(|e| ClientError::Profile(format!("an opening: {e}")))?;
            let Some(opening) = line.opening.parse() else {
                return Err(ClientError::Profile(format!(
                    "the opening of leaf {} is malformed",
                    line.leaf_index
                )));
            };
            openings.insert(line.leaf_index, opening);
        }
        from = to;
    }

    let mut findings = Findings {
        leaves: checkpoint.size,
        ..Findings::default()
    };
    let mut acts = Vec::new();
    for (index, leaf) in leaves.iter().enumerate() {
        let index = index as u64;
        let (body, summary, details) = if opaque::is_opaque(leaf) {
            let Some(opening) = openings.get(&index) else {
                findings.unopened.push(index);
                continue;
            };
            let (Ok(summary), Some(details)) =
                (opening.open(leaf), Details::parse(&opening.details))
            else {
                findings.mismatched.push(index);
                continue;
            };
            findings.opened += 1;
            (opening.body.clone(), summary, details)
        } else {
            // A public fact, or an act logged before leaves were opaque (its details
            // unknown: such acts are not recounted).
            let Some(summary) = LeafSummary::decode(leaf) else {
                continue;
            };
            (leaf.clone(), summary, Details::None)
        };
        acts.push((body, Fact { summary, details }));
    }
    let facts = Facts::gather(&acts);

    let releases: Vec<ReleaseListing> = api.get(paths::STATS_RELEASES).await?;
    for release in &releases {
        let mut audit = ReleaseAudit {
            period: release.period.clone(),
            compared: 0,
            differences: Vec::new(),
        };
        // The release's own months, as its report by authority shows them.
        let Some(start) = period_start(&release.period, release.length) else {
            continue;
        };
        let Some(months) = months_of(&start, release.length) else {
            continue;
        };
        let (first, last) = (months[0], months[months.len() - 1]);
        let report: AccessReport = api
            .get(&format!(
                "{}?by=authority&period={}&from={first}&to={last}",
                paths::STATS_ACCESS,
                release.length
            ))
            .await?;
        let Some(period) = report.periods.iter().find(|p| p.period == release.period) else {
            audit
                .differences
                .push("the release is listed but its report is not served".into());
            findings.releases.push(audit);
            continue;
        };
        let counts = facts.count(&months, release.follow_up_days);
        compare(&report, period, &counts, &mut audit);
        findings.releases.push(audit);
    }

    let mut text = format!(
        "{} leaves read from the log and checked against its checkpoint; {} opened with \
         NAIRO's key.\n",
        findings.leaves, findings.opened
    );
    if !findings.unopened.is_empty() {
        text.push_str(&format!(
            "NO OPENING for {} leaf/leaves (first: {}): the service withholds what they \
             record.\n",
            findings.unopened.len(),
            findings.unopened[0]
        ));
    }
    if !findings.mismatched.is_empty() {
        text.push_str(&format!(
            "OPENING DOES NOT MATCH for {} leaf/leaves (first: {}): the service altered \
             what they record.\n",
            findings.mismatched.len(),
            findings.mismatched[0]
        ));
    }
    for r in &findings.releases {
        if r.differences.is_empty() {
            text.push_str(&format!(
                "{}: {} published numbers recounted from the log; all agree.\n",
                r.period, r.compared
            ));
        } else {
            text.push_str(&format!(
                "{}: {} of {} published numbers DIFFER from the recount:\n  {}\n",
                r.period,
                r.differences.len(),
                r.compared,
                r.differences.join("\n  ")
            ));
        }
    }
    text.push_str(
        "Recounted: queries by category, stage and outcome, declines by reason, pressure \
         reports by kind (per authority, and national totals as rounded). Not recounted \
         (no leaf records what they need): registered IROs, queries not accepted in time, \
         median times to a first reply.",
    );
    if findings.clean() {
        Output::new(text, findings)
    } else {
        Err(ClientError::Audit(text))
    }
}

/// The first day of a period, from its name: `2026-03`, `2026-Q1`, `2026`.
fn period_start(key: &str, length: PeriodLength) -> Option<String> {
    match length {
        PeriodLength::Month => Some(format!("{key}-01")),
        PeriodLength::Quarter => {
            let (year, q) = key.split_once("-Q")?;
            let q: u32 = q.parse().ok()?;
            Some(format!("{year}-{:02}-01", (q - 1) * 3 + 1))
        }
        PeriodLength::Year => Some(format!("{key}-01-01")),
    }
}
