//! Building one release: the period's counts, protected jointly with every earlier release
//! they share cells with, and audited before anything is stored.
//!
//! Everything NAIRO may see of a period (by authority and by region, every measure, every
//! total) is first written as *cells*: each a sum of *atoms*, the unpublished counts of one
//! authority (or of the authorities of a region too small to show, taken together) for one
//! thing in one month. A release of a quarter or a year shares atoms with the releases of its
//! months and quarters, so they are one system ([`known`]). Primary suppression withholds
//! counts of 1 to 4; then, until the [`audit`](super::audit) proves every withheld cell (and
//! every count of IROs who have asked, which registered minus never-asked would give) keeps
//! at least 4 possible values given everything published, the cell that best protects each
//! failing one is withheld too ([`draft`]).

mod cells;
mod draft;
mod known;
mod raw;
mod render;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::model::{By, PeriodReport, ReportSettings};
use super::sql::midnight;
use cells::{measures, Geography};
pub use cells::{AreaKey, CellKey, Layout};
pub use draft::ReleaseError;
use draft::{lay_out, Draft};
use iro_advice_model::period::{Period, PeriodLength};
use known::Known;
pub use known::{Audited, MIN_WIDTH};
pub use raw::Raw;
use render::Rendering;

/// A built release, before it is stored.
pub struct Built {
    pub by_authority: PeriodReport,
    pub by_region: PeriodReport,
    pub suppressed: usize,
    /// The narrowest width any withheld cell keeps (None: all unbounded or none withheld).
    pub narrowest: Option<i64>,
}

/// Builds the release of `period` from its raw counts, protected with the releases it
/// shares cells with (`linked`, already published).
pub fn build(
    period: &Period,
    raw: &Raw,
    linked: &[Layout],
    settings: &ReportSettings,
) -> Result<Built, ReleaseError> {
    let geo = Geography::load();
    let measures = measures();
    let round_to = settings.round_totals_to;
    let (mut layout, keys) = lay_out(&geo, &measures, period, raw);
    let layouts: Vec<&Layout> = linked.iter().chain([&layout]).collect();
    let mut known = Known::of(&geo, &measures, raw, &layouts, round_to);
    // The true counts satisfy everything a reader knows, or the model (or the stored
    // releases, against today's records) is wrong: never build on that.
    if let Some(broken) = known.contradiction() {
        return Err(ReleaseError::Inconsistent(broken));
    }
    let mut draft = Draft::express(keys, &layout, &mut known, raw);
    draft.keep_what_was_published(&known);
    draft.show_sums_of_shown_months(linked, raw.months.len(), round_to);
    draft.inherit_withheld(linked, &geo);
    let narrowest = draft.protect(&mut known, round_to)?;
    draft.publish_into(&mut layout);
    let rendering = Rendering {
        geo: &geo,
        measures: &measures,
        period,
        layout: &layout,
        draft: &draft,
        raw,
        settings,
    };
    Ok(Built {
        by_authority: rendering.report(By::Authority),
        by_region: rendering.report(By::Region),
        suppressed: draft.hidden.len(),
        narrowest,
    })
}

/// Audits stored releases that share cells (a year's months, quarters and the year) against
/// the raw counts of their months: every withheld number, and every hidden count of IROs who
/// asked, with the width it is proven to keep.
pub fn audit_stored(layouts: &[Layout], raw: &Raw, settings: &ReportSettings) -> Vec<Audited> {
    let geo = Geography::load();
    let measures = measures();
    let refs: Vec<&Layout> = layouts.iter().collect();
    Known::of(&geo, &measures, raw, &refs, settings.round_totals_to).audit()
}

/// The periods within `period` whose releases it shares cells with.
pub fn linked_periods(period: &Period) -> Vec<Period> {
    match period.length() {
        PeriodLength::Month => Vec::new(),
        PeriodLength::Quarter => period.within(PeriodLength::Month),
        PeriodLength::Year => {
            let mut out = period.within(PeriodLength::Month);
            out.extend(period.within(PeriodLength::Quarter));
            out
        }
    }
}

/// The moment a period's release is due: its end plus the follow-up window.
pub fn due_at(period: &Period, follow_up_days: u32) -> NaiveDateTime {
    midnight(period.end) + chrono::Duration::days(i64::from(follow_up_days))
}

/// The stored form of a release's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub version: u32,
    pub period: String,
    pub length: PeriodLength,
    pub start: String,
    pub end: String,
    pub follow_up_days: u32,
    pub round_totals_to: u64,
    pub rules: Vec<String>,
    pub suppressed: usize,
    pub narrowest_width: Option<i64>,
}
