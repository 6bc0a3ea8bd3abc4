//! Building one release: the period's counts, protected jointly with every earlier release
//! they share cells with, and audited before anything is stored.
//!
//! Everything NAIRO may see of a period (by authority and by region, every measure, every
//! total) is first written as *cells*: each a sum of *atoms*, the unpublished counts of one
//! authority (or of the authorities of a region too small to show, taken together) for one
//! thing in one month. A release of a quarter or a year shares atoms with the releases of its
//! months and quarters, so they are one system. Primary suppression withholds counts of 1 to
//! 4; then, until the [`audit`] proves every withheld cell (and every count of IROs who have
//! asked, which registered minus never-asked would give) keeps at least 4 possible values
//! given everything published, the cell that best protects each failing one is withheld too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::audit::{self, Op, System};
use super::disclosure::{self, Cell};
use super::model::{
    By, Median, MedianRow, Medians, PeriodReport, ReportSettings, Row, Table, MIN_IROS_FOR_OWN_ROW,
    MIN_VALUES_FOR_MEDIAN, RULE_MEDIANS, SHARED_ROW_TOTALS,
};
use super::report::{area_key, areas_for};
use super::sql::{count_measures, midnight, plan, CountRow, MedianRowSql, RegistrationRow};
use crate::db::DbConnection;
use iro_advice_model::period::{Month, Period, PeriodLength};

/// A withheld cell must keep at least this many values apart at its ends (4 values).
pub const MIN_WIDTH: i64 = 3;

/// Where a measure's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Source {
    /// Events in the period: the `n`th of [`count_measures`].
    Flow(usize),
    /// IROs registered at the period's end.
    Registered,
    /// IROs registered at the period's end who had never asked.
    NeverAsked,
}

struct Measure {
    name: &'static str,
    columns: Vec<&'static str>,
    source: Source,
}

fn measures() -> Vec<Measure> {
    let mut out: Vec<Measure> = count_measures()
        .into_iter()
        .enumerate()
        .map(|(i, m)| Measure {
            name: m.name,
            columns: m.columns,
            source: Source::Flow(i),
        })
        .collect();
    out.push(Measure {
        name: "registered_iros",
        columns: vec!["iros"],
        source: Source::Registered,
    });
    out.push(Measure {
        name: "registered_iros_never_asked",
        columns: vec!["iros"],
        source: Source::NeverAsked,
    });
    out
}

/// The measure whose row total stands for the total shared by the tables of queries.
const SHARED: usize = usize::MAX;

/// A row of a published table, whichever table it is in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AreaKey {
    Authority(String),
    /// The authorities of a region too small to show on their own.
    Group(String),
    Region(String),
    National,
}

/// One published number. The same number published twice has one key: the three tables of
/// queries share their row totals ([`SHARED`]), and a one-column table's row total is its
/// cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub period: String,
    pub area: AreaKey,
    measure: usize,
    /// `None` for the row's total.
    column: Option<usize>,
}

impl CellKey {
    fn new(
        measures: &[Measure],
        period: &str,
        area: AreaKey,
        measure: usize,
        column: Option<usize>,
    ) -> Self {
        let (measure, column) = match column {
            None if SHARED_ROW_TOTALS.contains(&measures[measure].name) => (SHARED, None),
            None if measures[measure].columns.len() == 1 => (measure, Some(0)),
            c => (measure, c),
        };
        CellKey {
            period: period.to_owned(),
            area,
            measure,
            column,
        }
    }

    /// A readable name, for the audit's report.
    pub fn describe(&self) -> String {
        let measures = measures();
        let (measure, column) = match self.measure {
            SHARED => ("queries", "total"),
            m => (
                measures[m].name,
                self.column.map_or("total", |c| measures[m].columns[c]),
            ),
        };
        format!(
            "{} {}: {measure}/{column}",
            self.period,
            area_name(&self.area)
        )
    }
}

fn area_name(area: &AreaKey) -> String {
    match area {
        AreaKey::Authority(code) => code.clone(),
        AreaKey::Group(region) => format!("other authorities in {region}"),
        AreaKey::Region(region) => region.clone(),
        AreaKey::National => "England and Wales".into(),
    }
}

/// The authorities of the reference list, by region.
struct Geography {
    regions: BTreeMap<String, Vec<String>>,
    region_of: HashMap<String, String>,
    names: Vec<(String, String, String)>,
}

impl Geography {
    fn load() -> Self {
        let mut regions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut region_of = HashMap::new();
        let mut names = Vec::new();
        for a in iro_advice_model::authorities::all() {
            regions
                .entry(a.region.clone())
                .or_default()
                .push(a.code.clone());
            region_of.insert(a.code.clone(), a.region.clone());
            names.push((a.code.clone(), a.name.clone(), a.region.clone()));
        }
        Geography {
            regions,
            region_of,
            names,
        }
    }

    /// Every row a period publishes, given which authorities have a row of their own.
    fn areas(&self, own: &BTreeSet<String>) -> Vec<AreaKey> {
        let mut out = vec![AreaKey::National];
        for (region, members) in &self.regions {
            out.push(AreaKey::Region(region.clone()));
            for code in members {
                if own.contains(code) {
                    out.push(AreaKey::Authority(code.clone()));
                }
            }
            if members.iter().any(|c| !own.contains(c)) {
                out.push(AreaKey::Group(region.clone()));
            }
        }
        out
    }
}

/// One period's publication: which authorities stand alone, and every number shown or
/// withheld.
pub struct Layout {
    pub period: Period,
    own: BTreeSet<String>,
    published: BTreeMap<CellKey, Cell>,
}

impl Layout {
    /// Reads a stored release as its reader does: from its published tables alone.
    pub fn from_published(
        period: Period,
        by_authority: &PeriodReport,
        by_region: &PeriodReport,
    ) -> Layout {
        let measures = measures();
        let index: HashMap<&str, usize> = measures
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name, i))
            .collect();
        let mut own = BTreeSet::new();
        let mut published = BTreeMap::new();
        for (by, report) in [(By::Authority, by_authority), (By::Region, by_region)] {
            for table in &report.tables {
                let Some(&m) = index.get(table.measure.as_str()) else {
                    continue;
                };
                // A one-column table's row total is its cell, shown exactly first and then
                // perhaps rounded: the exact showing is what a reader knows.
                let mut put = |area: AreaKey, column: Option<usize>, cell: Cell| {
                    published
                        .entry(CellKey::new(&measures, &period.key, area, m, column))
                        .or_insert(cell);
                };
                for row in &table.rows {
                    let area = match (by, &row.area.code) {
                        (By::Region, _) => AreaKey::Region(row.area.region.clone()),
                        (By::Authority, Some(code)) => {
                            own.insert(code.clone());
                            AreaKey::Authority(code.clone())
                        }
                        (By::Authority, None) => AreaKey::Group(row.area.region.clone()),
                    };
                    for (c, cell) in row.cells.iter().enumerate() {
                        put(area.clone(), Some(c), *cell);
                    }
                    put(area, None, row.total);
                }
                for (c, cell) in table.totals.iter().enumerate() {
                    put(AreaKey::National, Some(c), *cell);
                }
                put(AreaKey::National, None, table.total);
            }
        }
        Layout {
            period,
            own,
            published,
        }
    }
}

/// Per area: the median in hours and how many values stand behind it.
type AreaMedians = HashMap<String, (f64, i64)>;

/// What the database says about the months of a release, per authority: never published
/// as it is.
pub struct Raw {
    months: Vec<Month>,
    /// Per flow measure: (month, authority) → count per column.
    flows: Vec<HashMap<(usize, String), Vec<u64>>>,
    /// Per month: authority → (registered, never asked) at the month's end.
    stocks: Vec<HashMap<String, (u64, u64)>>,
    /// Medians over the whole period: per report kind (None: national), area → (hours, n).
    medians: Vec<(Option<By>, AreaMedians)>,
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
    fn registered_at_end(&self) -> HashMap<&str, u64> {
        self.stocks
            .last()
            .map(|s| s.iter().map(|(k, (r, _))| (k.as_str(), *r)).collect())
            .unwrap_or_default()
    }
}

/// The unpublished counts atoms stand for: one authority's, or those of a region's
/// authorities that never stand alone in any period containing the month.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    Own(String),
    Grouped(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum What {
    Flow(usize, usize),
    Asked,
    Never,
}

/// The linear system of a set of layouts over their common months.
struct Model<'a> {
    geo: &'a Geography,
    measures: &'a [Measure],
    months: Vec<Month>,
    /// Per month: class → its authorities.
    classes: Vec<BTreeMap<Class, Vec<String>>>,
    /// Per month: authority → its class.
    class_of: Vec<HashMap<String, Class>>,
    atoms: HashMap<(usize, Class, What), usize>,
    system: System,
    /// The true value of each atom, where the raw counts are at hand.
    values: Vec<u64>,
    /// Atoms tied to each other by the structure alone (the same queries counted by
    /// category, by stage and by outcome): withholding one of them can free the other.
    related: HashMap<usize, Vec<usize>>,
}

impl<'a> Model<'a> {
    fn new(
        geo: &'a Geography,
        measures: &'a [Measure],
        months: Vec<Month>,
        layouts: &[&Layout],
    ) -> Self {
        let mut classes = Vec::new();
        let mut class_of = Vec::new();
        for month in &months {
            let mut by_class: BTreeMap<Class, Vec<String>> = BTreeMap::new();
            let mut of = HashMap::new();
            for (code, _, region) in &geo.names {
                let alone = layouts
                    .iter()
                    .any(|l| l.period.months().contains(month) && l.own.contains(code));
                let class = if alone {
                    Class::Own(code.clone())
                } else {
                    Class::Grouped(region.clone())
                };
                by_class
                    .entry(class.clone())
                    .or_default()
                    .push(code.clone());
                of.insert(code.clone(), class);
            }
            classes.push(by_class);
            class_of.push(of);
        }
        Model {
            geo,
            measures,
            months,
            classes,
            class_of,
            atoms: HashMap::new(),
            system: System::new(),
            values: Vec::new(),
            related: HashMap::new(),
        }
    }

    fn atom(&mut self, month: usize, class: &Class, what: What, raw: Option<&Raw>) -> usize {
        let key = (month, class.clone(), what);
        if let Some(a) = self.atoms.get(&key) {
            return *a;
        }
        let members = &self.classes[month][class];
        let value: u64 = raw.map_or(0, |raw| {
            members
                .iter()
                .map(|code| match &key.2 {
                    What::Flow(m, c) => raw.flows[*m]
                        .get(&(month, code.clone()))
                        .map_or(0, |v| v[*c]),
                    What::Asked => raw.stocks[month].get(code).map_or(0, |(r, n)| r - n),
                    What::Never => raw.stocks[month].get(code).map_or(0, |(_, n)| *n),
                })
                .sum()
        });
        let a = self.system.atom();
        self.values.push(value);
        self.atoms.insert(key, a);
        a
    }

    /// The classes whose counts a row adds up in one month.
    fn members(&self, layout: &Layout, month: usize, area: &AreaKey) -> BTreeSet<Class> {
        let of = &self.class_of[month];
        let pick = |codes: &mut dyn Iterator<Item = &String>| -> BTreeSet<Class> {
            codes.map(|c| of[c].clone()).collect()
        };
        match area {
            AreaKey::Authority(code) => of.get(code).cloned().into_iter().collect(),
            AreaKey::Group(region) => pick(
                &mut self.geo.regions[region]
                    .iter()
                    .filter(|c| !layout.own.contains(*c)),
            ),
            AreaKey::Region(region) => pick(&mut self.geo.regions[region].iter()),
            AreaKey::National => pick(&mut self.geo.names.iter().map(|n| &n.0)),
        }
    }

    fn month_index(&self, m: &Month) -> usize {
        self.months
            .iter()
            .position(|x| x == m)
            .expect("every layout's months are the model's")
    }

    /// The model's indexes of a layout's months.
    fn months_of(&self, layout: &Layout) -> Vec<usize> {
        layout
            .period
            .months()
            .iter()
            .map(|m| self.month_index(m))
            .collect()
    }

    /// The atoms a published number adds up.
    fn expression(&mut self, layout: &Layout, key: &CellKey, raw: Option<&Raw>) -> Vec<usize> {
        let months = self.months_of(layout);
        let last = *months.last().expect("a period has months");
        let mut out = Vec::new();
        let (measure, columns): (usize, Vec<usize>) = match (key.measure, key.column) {
            (SHARED, _) => (0, (0..self.measures[0].columns.len()).collect()),
            (m, Some(c)) => (m, vec![c]),
            (m, None) => (m, (0..self.measures[m].columns.len()).collect()),
        };
        match self.measures[measure].source {
            Source::Flow(f) => {
                for &mi in &months {
                    for class in self.members(layout, mi, &key.area) {
                        for &c in &columns {
                            out.push(self.atom(mi, &class, What::Flow(f, c), raw));
                        }
                    }
                }
            }
            Source::Registered | Source::NeverAsked => {
                for class in self.members(layout, last, &key.area) {
                    if self.measures[measure].source == Source::Registered {
                        out.push(self.atom(last, &class, What::Asked, raw));
                    }
                    out.push(self.atom(last, &class, What::Never, raw));
                }
            }
        }
        out
    }

    /// The count of IROs who had asked, in an area at the period's end: published nowhere,
    /// but registered minus never-asked, so protected like a cell.
    fn asked(&mut self, layout: &Layout, area: &AreaKey, raw: Option<&Raw>) -> Vec<usize> {
        let last = self.month_index(layout.period.months().last().expect("a period has months"));
        self.members(layout, last, area)
            .into_iter()
            .map(|class| self.atom(last, &class, What::Asked, raw))
            .collect()
    }

    /// An authority's own counts over a period in which its release grouped it with its
    /// region's other authorities, where another release covering those months shows it
    /// alone: no release publishes them, but the other's cells less the neighbouring
    /// periods' would give them (a quarter that shows it, less the two months that do, gives
    /// the month that grouped it), so each from 1 to 4 is protected like a cell. One per
    /// flow measure and column: (what, atoms, true value).
    fn grouped_but_known(
        &mut self,
        layout: &Layout,
        raw: Option<&Raw>,
    ) -> Vec<(String, Vec<usize>, u64)> {
        let months = self.months_of(layout);
        let mut out = Vec::new();
        let codes: Vec<String> = self.geo.names.iter().map(|n| n.0.clone()).collect();
        for code in codes {
            let own = Class::Own(code.clone());
            if layout.own.contains(&code) || months.iter().any(|m| self.class_of[*m][&code] != own)
            {
                continue;
            }
            for (f, columns, name) in self
                .measures
                .iter()
                .filter_map(|m| match m.source {
                    Source::Flow(f) => Some((f, m.columns.len(), m.name)),
                    _ => None,
                })
                .collect::<Vec<_>>()
            {
                for c in 0..columns {
                    let atoms: Vec<usize> = months
                        .iter()
                        .map(|m| self.atom(*m, &own, What::Flow(f, c), raw))
                        .collect();
                    let value: u64 = atoms.iter().map(|a| self.values[*a]).sum();
                    if !disclosure::primary(value) {
                        continue;
                    }
                    out.push((
                        format!(
                            "{} {code} {name}[{c}], counted with its region's other authorities",
                            layout.period.key
                        ),
                        atoms,
                        value,
                    ));
                }
            }
        }
        out
    }

    /// What anyone knows without reading a number: the tables of queries count the same
    /// queries; a query counted as not accepted in time is a query; an authority stands
    /// alone exactly when it has enough registered IROs.
    fn structure(&mut self, layouts: &[&Layout], raw: Option<&Raw>) {
        let flow_of = |name: &str| {
            self.measures
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| match m.source {
                    Source::Flow(f) => Some((f, m.columns.len())),
                    _ => None,
                })
                .expect("the tables of queries are flows")
        };
        let shared: Vec<(usize, usize)> = SHARED_ROW_TOTALS.iter().map(|n| flow_of(n)).collect();
        let late = flow_of("not_accepted_within_reminder_time");
        for mi in 0..self.months.len() {
            let classes: Vec<Class> = self.classes[mi].keys().cloned().collect();
            for class in classes {
                let mut sums: Vec<Vec<usize>> = Vec::new();
                for &(f, n) in &shared {
                    sums.push(
                        (0..n)
                            .map(|c| self.atom(mi, &class, What::Flow(f, c), raw))
                            .collect(),
                    );
                }
                for other in &sums[1..] {
                    let mut terms: Vec<(usize, f64)> = sums[0].iter().map(|a| (*a, 1.0)).collect();
                    terms.extend(other.iter().map(|a| (*a, -1.0)));
                    self.system.constrain(terms, Op::Eq, 0.0);
                }
                let late_atom = self.atom(mi, &class, What::Flow(late.0, 0), raw);
                let tied: Vec<usize> = sums.iter().flatten().copied().chain([late_atom]).collect();
                for a in &tied {
                    self.related.insert(*a, tied.clone());
                }
                let mut terms: Vec<(usize, f64)> = vec![(late_atom, 1.0)];
                terms.extend(sums[0].iter().map(|a| (*a, -1.0)));
                self.system.constrain(terms, Op::Le, 0.0);
            }
        }
        let below = (MIN_IROS_FOR_OWN_ROW - 1) as f64;
        for layout in layouts {
            let last =
                self.month_index(layout.period.months().last().expect("a period has months"));
            let classes: Vec<(Class, usize)> = self.classes[last]
                .iter()
                .map(|(c, members)| (c.clone(), members.len()))
                .collect();
            for (class, size) in classes {
                let terms = vec![
                    (self.atom(last, &class, What::Asked, raw), 1.0),
                    (self.atom(last, &class, What::Never, raw), 1.0),
                ];
                match &class {
                    Class::Own(code) if layout.own.contains(code) => {
                        self.system
                            .constrain(terms, Op::Ge, MIN_IROS_FOR_OWN_ROW as f64)
                    }
                    _ => self.system.constrain(terms, Op::Le, below * size as f64),
                }
            }
        }
    }
}

/// Whether a number is shown rounded: national totals, and regional row totals (a
/// one-column table's row total is its cell, shown exactly).
fn rounded(key: &CellKey, round_to: u64) -> bool {
    round_to > 1
        && matches!(
            (&key.area, key.column),
            (AreaKey::National, _) | (AreaKey::Region(_), None)
        )
}

/// A number as it is shown.
fn shown(key: &CellKey, value: u64, round_to: u64) -> u64 {
    if rounded(key, round_to) {
        (value + round_to / 2) / round_to * round_to
    } else {
        value
    }
}

/// What a shown number tells: its value exactly, or within the rounding of a total.
/// `value` is the number as shown.
fn publish(system: &mut System, atoms: &[usize], key: &CellKey, value: u64, round_to: u64) {
    if rounded(key, round_to) {
        // (n + to/2) / to * to == value  ⇔  value − to/2 ≤ n ≤ value − to/2 + to − 1.
        let low = value as f64 - (round_to / 2) as f64;
        let high = low + (round_to - 1) as f64;
        let terms: Vec<(usize, f64)> = atoms.iter().map(|a| (*a, 1.0)).collect();
        system.constrain(terms.clone(), Op::Ge, low);
        system.constrain(terms, Op::Le, high);
    } else {
        system.sum_is(atoms, value as f64);
    }
}

/// A number that must keep its width: a withheld cell, or a hidden count of IROs who asked.
pub struct Target {
    pub what: String,
    pub key: Option<CellKey>,
    atoms: Vec<usize>,
    pub value: Option<u64>,
}

/// One audited number: the width it is proven to keep (`None`: unbounded), or why none
/// could be proven.
pub struct Audited {
    pub what: String,
    pub width: Result<Option<i64>, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("{0} cannot be protected by withholding more of this release")]
    Unprotectable(String),
    #[error("the records disagree with the releases already published ({0}); nothing was built")]
    Inconsistent(String),
}

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
    let registered = raw.registered_at_end();
    let own: BTreeSet<String> = registered
        .iter()
        .filter(|(_, n)| **n >= MIN_IROS_FOR_OWN_ROW)
        .map(|(c, _)| c.to_string())
        .collect();
    let areas = geo.areas(&own);
    let mut current = Layout {
        period: period.clone(),
        own,
        published: BTreeMap::new(),
    };
    // Every number this release publishes.
    let mut keys: Vec<CellKey> = Vec::new();
    {
        let mut seen = HashSet::new();
        for area in &areas {
            for (m, measure) in measures.iter().enumerate() {
                for column in (0..measure.columns.len()).map(Some).chain([None]) {
                    let key = CellKey::new(&measures, &period.key, area.clone(), m, column);
                    if seen.insert(key.clone()) {
                        keys.push(key);
                    }
                }
            }
        }
    }

    // The model is the same in every round; only which of this release's numbers are
    // shown changes. What the earlier releases publish, and what anyone knows of the
    // structure, is written once.
    let layouts: Vec<&Layout> = linked.iter().chain([&current]).collect();
    let mut model = Model::new(&geo, &measures, raw.months.clone(), &layouts);
    model.structure(&layouts, Some(raw));
    let current_atoms: Vec<Vec<usize>> = keys
        .iter()
        .map(|k| model.expression(&current, k, Some(raw)))
        .collect();
    let values: Vec<u64> = current_atoms
        .iter()
        .map(|atoms| atoms.iter().map(|a| model.values[*a]).sum())
        .collect();
    let mut targets: Vec<Target> = Vec::new();
    let mut twins: HashMap<Vec<usize>, Cell> = HashMap::new();
    for layout in linked {
        for (key, cell) in &layout.published {
            let atoms = model.expression(layout, key, Some(raw));
            let value: u64 = atoms.iter().map(|a| model.values[*a]).sum();
            let mut sorted = atoms.clone();
            sorted.sort_unstable();
            twins.insert(sorted, *cell);
            match cell {
                Cell::Count(v) => {
                    publish(&mut model.system, &atoms, key, *v, settings.round_totals_to)
                }
                Cell::Suppressed => targets.push(Target {
                    what: key.describe(),
                    key: Some(key.clone()),
                    atoms,
                    value: Some(value),
                }),
            }
        }
    }
    for layout in &layouts {
        for area in geo.areas(&layout.own) {
            let atoms = model.asked(layout, &area, Some(raw));
            let value: u64 = atoms.iter().map(|a| model.values[*a]).sum();
            if disclosure::primary(value) {
                targets.push(Target {
                    what: format!(
                        "{} {}: IROs who had asked (registered minus never asked)",
                        layout.period.key,
                        area_name(&area)
                    ),
                    key: None,
                    atoms,
                    value: Some(value),
                });
            }
        }
    }
    for layout in &layouts {
        for (what, atoms, value) in model.grouped_but_known(layout, Some(raw)) {
            targets.push(Target {
                what,
                key: None,
                atoms,
                value: Some(value),
            });
        }
    }
    let base = model.system.clone();
    // The true counts satisfy everything a reader knows, or the model (or the stored
    // releases, against today's records) is wrong: never build on that.
    if let Some(c) = base.broken_by(&model.values).first() {
        return Err(ReleaseError::Inconsistent(format!(
            "{} terms {:?} {}",
            c.terms.len(),
            c.op,
            c.rhs
        )));
    }

    let primary: BTreeSet<usize> = (0..keys.len())
        .filter(|i| disclosure::primary(values[*i]))
        .collect();
    let mut hidden: BTreeSet<usize> = primary.clone();
    // A number an earlier release already published (a quarter's registered IROs are its
    // last month's) is shown or withheld as it was there, and never chosen to protect
    // another: showing it again would say nothing new, hiding it would hide nothing.
    let mut frozen: HashSet<usize> = HashSet::new();
    for (i, atoms) in current_atoms.iter().enumerate() {
        let mut sorted = atoms.clone();
        sorted.sort_unstable();
        if let Some(cell) = twins.get(&sorted) {
            frozen.insert(i);
            match cell {
                Cell::Suppressed => {
                    hidden.insert(i);
                }
                Cell::Count(_) => {
                    hidden.remove(&i);
                }
            }
        }
    }
    // A quarter (or year) withholds at least what its months (and quarters) withheld, cell
    // for cell: then no shown total of this release is a shown sum less one withheld cell
    // of an earlier one, and each of its lines inherits their two-or-more withheld cells.
    // The audit below finds whatever this leaves open.
    {
        let index: HashMap<(&AreaKey, usize, Option<usize>), usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| ((&k.area, k.measure, k.column), i))
            .collect();
        // A number every month of which is shown exactly (in the same row) is already
        // published as their sum: it is shown, and never chosen to protect another.
        let month_layouts: Vec<&Layout> = linked
            .iter()
            .filter(|l| l.period.length() == PeriodLength::Month)
            .collect();
        if month_layouts.len() == raw.months.len() && raw.months.len() > 1 {
            for (i, key) in keys.iter().enumerate() {
                // A group's members differ from period to period: its cells are not sums
                // of the months' group cells.
                if frozen.contains(&i)
                    || rounded(key, settings.round_totals_to)
                    || matches!(key.area, AreaKey::Group(_))
                {
                    continue;
                }
                let summed = month_layouts.iter().all(|l| {
                    let month_key = CellKey {
                        period: l.period.key.clone(),
                        ..key.clone()
                    };
                    matches!(l.published.get(&month_key), Some(Cell::Count(_)))
                });
                if summed {
                    frozen.insert(i);
                }
            }
        }
        for layout in linked {
            for (key, cell) in &layout.published {
                if *cell != Cell::Suppressed {
                    continue;
                }
                let mut areas = vec![key.area.clone()];
                if let AreaKey::Group(region) = &key.area {
                    for code in &geo.regions[region] {
                        if !layout.own.contains(code) {
                            areas.push(AreaKey::Authority(code.clone()));
                        }
                    }
                }
                // A zero is shown, as zeros always are: withholding one protects nothing.
                for area in &areas {
                    if let Some(i) = index.get(&(area, key.measure, key.column)) {
                        if !frozen.contains(i) && values[*i] > 0 {
                            hidden.insert(*i);
                        }
                    }
                }
            }
        }
    }
    let mut by_atom: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, atoms) in current_atoms.iter().enumerate() {
        for a in atoms {
            by_atom.entry(*a).or_default().push(i);
        }
    }

    // The month each atom counts in, for the restricted audits below.
    let mut atom_month = vec![0usize; model.system.atoms()];
    for ((month, _, _), a) in &model.atoms {
        atom_month[*a] = *month;
    }

    // Withholding a number only removes a constraint, so no range ever narrows: a number
    // proven safe stays safe, and each round checks only what failed or is newly withheld.
    let fixed_targets = targets.len();
    let mut pending: Vec<usize> = (0..fixed_targets).collect();
    let mut checked_current: HashSet<usize> = HashSet::new();
    let mut narrowest: Option<i64> = None;
    loop {
        let mut system = base.clone();
        for (i, atoms) in current_atoms.iter().enumerate() {
            if !hidden.contains(&i) {
                let value = shown(&keys[i], values[i], settings.round_totals_to);
                publish(
                    &mut system,
                    atoms,
                    &keys[i],
                    value,
                    settings.round_totals_to,
                );
            }
        }
        for &i in &hidden {
            if checked_current.insert(i) {
                targets.push(Target {
                    what: keys[i].describe(),
                    key: Some(keys[i].clone()),
                    atoms: current_atoms[i].clone(),
                    value: Some(values[i]),
                });
                pending.push(targets.len() - 1);
            }
        }
        let restricted = restrictions(&system, &atom_month, &model.values, raw.months.len());
        let mut exact: Option<audit::Prepared> = None;
        let mut failing: Vec<usize> = Vec::new();
        for &t in &pending {
            let target = &targets[t];
            let width = prove(
                &restricted,
                &mut exact,
                &system,
                &atom_month,
                &target.atoms,
                target.value.unwrap_or(0),
            );
            match width {
                Ok(None) => {}
                Ok(Some(w)) if w >= MIN_WIDTH => {
                    narrowest = Some(narrowest.map_or(w, |n| n.min(w)))
                }
                _ => failing.push(t),
            }
        }
        if failing.is_empty() {
            break;
        }
        let prepared = exact.unwrap_or_else(|| system.prepare());

        // For each failing number, withhold the shown number of this release that shares
        // an atom with it at the least cost: the smallest count with room to move (at least
        // MIN_WIDTH), else the largest; a cell before a total.
        let cost = |k: usize| {
            let key = &keys[k];
            let small = values[k] < MIN_WIDTH as u64;
            let total = key.column.is_none() || key.area == AreaKey::National;
            (
                small,
                total,
                if small {
                    u64::MAX - values[k]
                } else {
                    values[k]
                },
                k,
            )
        };
        let mut newly = BTreeSet::new();
        for &t in &failing {
            let target = &targets[t];
            let sharing = |atoms: &mut dyn Iterator<Item = &usize>| {
                atoms
                    .flat_map(|a| by_atom.get(a).into_iter().flatten())
                    .copied()
                    .filter(|k| !hidden.contains(k) && !frozen.contains(k))
                    .min_by_key(|k| cost(*k))
            };
            // The numbers of this release that count any of its atoms, smallest first: the
            // region's cell that a withheld authority is part of comes before the nation's.
            let mut containers: Vec<usize> = target
                .atoms
                .iter()
                .flat_map(|a| by_atom.get(a).into_iter().flatten())
                .copied()
                .collect();
            containers.sort_unstable_by_key(|k| (current_atoms[*k].len(), *k));
            containers.dedup();
            // A number sharing an atom with it; else one sharing an atom tied to its atoms
            // by the structure (a stage cell for a total of queries by category); else a
            // sibling within a number that contains it.
            let best = sharing(&mut target.atoms.iter())
                .or_else(|| {
                    sharing(
                        &mut target
                            .atoms
                            .iter()
                            .flat_map(|a| model.related.get(a).into_iter().flatten()),
                    )
                })
                // A sibling inside a number that contains it, when that number is already
                // public (a region's quarter cell, the sum of its shown months).
                .or_else(|| {
                    containers
                        .iter()
                        .find_map(|k| sharing(&mut current_atoms[*k].iter()))
                });
            if let Some(best) = best {
                newly.insert(best);
                continue;
            }
            // No shown number of this release is near it: withhold every shown number of
            // this release in the tangle of unknowns of it and its containers (its own atoms
            // may all be pinned, and so in no tangle).
            let components: HashSet<usize> = containers
                .iter()
                .flat_map(|k| current_atoms[*k].iter())
                .chain(target.atoms.iter())
                .filter_map(|a| prepared.component_of(*a))
                .collect();
            for (k, atoms) in current_atoms.iter().enumerate() {
                if !hidden.contains(&k)
                    && !frozen.contains(&k)
                    && atoms.iter().any(|a| {
                        prepared
                            .component_of(*a)
                            .is_some_and(|c| components.contains(&c))
                    })
                {
                    newly.insert(k);
                }
            }
        }
        if newly.is_empty() {
            // A number withheld only to protect others, that nothing more this release can
            // withhold keeps from being worked out, protects nothing: show it (as zeros are
            // shown) and check everything again, since showing adds a constraint.
            let zeros: Vec<usize> = failing
                .iter()
                .filter_map(|t| targets[*t].key.as_ref())
                .filter_map(|k| keys.iter().position(|x| x == k))
                .filter(|i| !disclosure::primary(values[*i]) && !frozen.contains(i))
                .collect();
            if zeros.is_empty() {
                return Err(ReleaseError::Unprotectable(
                    targets[failing[0]].what.clone(),
                ));
            }
            for i in zeros {
                hidden.remove(&i);
                frozen.insert(i);
            }
            targets.truncate(fixed_targets);
            checked_current.clear();
            pending = (0..fixed_targets).collect();
            narrowest = None;
            continue;
        }
        hidden.extend(newly);
        pending = failing;
    }
    current.published = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let cell = if hidden.contains(&i) {
                Cell::Suppressed
            } else {
                Cell::Count(values[i])
            };
            (k.clone(), cell)
        })
        .collect();
    let suppressed = hidden.len();

    let render = |by: By| -> PeriodReport {
        render(
            &geo,
            &measures,
            period,
            &current,
            &keys,
            &values,
            &primary,
            &registered,
            raw,
            settings,
            by,
        )
    };
    Ok(Built {
        by_authority: render(By::Authority),
        by_region: render(By::Region),
        suppressed,
        narrowest,
    })
}

/// The same system with every month but one taken as known to the reader, one per month:
/// more than any reader knows, so a width proven in one holds, and its linear programmes
/// are only a month's size. None for a single month (the system itself is that small).
fn restrictions(
    system: &System,
    atom_month: &[usize],
    values: &[u64],
    months: usize,
) -> Vec<audit::Prepared> {
    if months < 2 {
        return Vec::new();
    }
    (0..months)
        .map(|m| {
            let mut s = system.clone();
            for (a, month) in atom_month.iter().enumerate() {
                if *month != m {
                    s.sum_is(&[a], values[a] as f64);
                }
            }
            s.prepare()
        })
        .collect()
}

/// The width `Σ atoms` is proven to keep: at least [`MIN_WIDTH`] if a month's restriction
/// shows it, else exactly by linear programming over the whole system. `None` when
/// unbounded.
fn prove(
    restricted: &[audit::Prepared],
    exact: &mut Option<audit::Prepared>,
    system: &System,
    atom_month: &[usize],
    atoms: &[usize],
    value: u64,
) -> Result<Option<i64>, String> {
    let mut touched: Vec<usize> = atoms.iter().map(|a| atom_month[*a]).collect();
    touched.sort_unstable();
    touched.dedup();
    for m in touched.into_iter().filter(|m| *m < restricted.len()) {
        if let Ok(w) = restricted[m].proven_width(atoms, value, MIN_WIDTH) {
            if w.is_none_or(|w| w >= MIN_WIDTH) {
                return Ok(w);
            }
        }
    }
    exact
        .get_or_insert_with(|| system.prepare())
        .proven_width(atoms, value, MIN_WIDTH)
        .map_err(|e| e.to_string())
}

/// Audits stored releases that share cells (a year's months, quarters and the year) against
/// the raw counts of their months: every withheld number, and every hidden count of IROs who
/// asked, with the width it is proven to keep.
pub fn audit_stored(layouts: &[Layout], raw: &Raw, settings: &ReportSettings) -> Vec<Audited> {
    let geo = Geography::load();
    let measures = measures();
    let refs: Vec<&Layout> = layouts.iter().collect();
    let mut model = Model::new(&geo, &measures, raw.months.clone(), &refs);
    model.structure(&refs, Some(raw));
    let mut targets: Vec<(String, Vec<usize>)> = Vec::new();
    for layout in layouts {
        for (key, cell) in &layout.published {
            let atoms = model.expression(layout, key, Some(raw));
            match cell {
                Cell::Count(v) => {
                    publish(&mut model.system, &atoms, key, *v, settings.round_totals_to)
                }
                Cell::Suppressed => targets.push((key.describe(), atoms)),
            }
        }
        for area in geo.areas(&layout.own) {
            let atoms = model.asked(layout, &area, Some(raw));
            let value: u64 = atoms.iter().map(|a| model.values[*a]).sum();
            if disclosure::primary(value) {
                targets.push((
                    format!(
                        "{} {}: IROs who had asked",
                        layout.period.key,
                        area_name(&area)
                    ),
                    atoms,
                ));
            }
        }
    }
    for layout in layouts {
        for (what, atoms, _) in model.grouped_but_known(layout, Some(raw)) {
            targets.push((what, atoms));
        }
    }
    let mut atom_month = vec![0usize; model.system.atoms()];
    for ((month, _, _), a) in &model.atoms {
        atom_month[*a] = *month;
    }
    let restricted = restrictions(&model.system, &atom_month, &model.values, raw.months.len());
    let mut exact = None;
    targets
        .into_iter()
        .map(|(what, atoms)| {
            let value = atoms.iter().map(|a| model.values[*a]).sum();
            Audited {
                what,
                width: prove(
                    &restricted,
                    &mut exact,
                    &model.system,
                    &atom_month,
                    &atoms,
                    value,
                ),
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn render(
    geo: &Geography,
    measures: &[Measure],
    period: &Period,
    layout: &Layout,
    keys: &[CellKey],
    values: &[u64],
    primary: &BTreeSet<usize>,
    registered: &HashMap<&str, u64>,
    raw: &Raw,
    settings: &ReportSettings,
    by: By,
) -> PeriodReport {
    let position: HashMap<&CellKey, usize> = keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
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
    let withheld =
        rows.iter().any(|r| r.median_hours == Median::Suppressed) || national == Median::Suppressed;
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
