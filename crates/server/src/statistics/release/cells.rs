//! What a release publishes, named: measures and their columns, the rows (areas) of a
//! period, one key per published number, and a stored release read back as its reader
//! sees it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::disclosure::Cell;
use super::super::model::{By, PeriodReport, SHARED_ROW_TOTALS};
use super::super::sql::count_measures;
use iro_advice_model::period::Period;

/// Where a measure's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Source {
    /// Events in the period: the `n`th of [`count_measures`].
    Flow(usize),
    /// IROs registered at the period's end.
    Registered,
    /// IROs registered at the period's end who had never asked.
    NeverAsked,
}

pub(super) struct Measure {
    pub name: &'static str,
    pub columns: Vec<&'static str>,
    pub source: Source,
}

pub(super) fn measures() -> Vec<Measure> {
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
pub(super) const SHARED: usize = usize::MAX;

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
    pub(super) measure: usize,
    /// `None` for the row's total.
    pub(super) column: Option<usize>,
}

impl CellKey {
    pub(super) fn new(
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

pub(super) fn area_name(area: &AreaKey) -> String {
    match area {
        AreaKey::Authority(code) => code.clone(),
        AreaKey::Group(region) => format!("other authorities in {region}"),
        AreaKey::Region(region) => region.clone(),
        AreaKey::National => "England and Wales".into(),
    }
}

/// The authorities of the reference list, by region.
pub(super) struct Geography {
    pub regions: BTreeMap<String, Vec<String>>,
    pub region_of: HashMap<String, String>,
    pub names: Vec<(String, String, String)>,
}

impl Geography {
    pub(super) fn load() -> Self {
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
    pub(super) fn areas(&self, own: &BTreeSet<String>) -> Vec<AreaKey> {
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
    pub(super) own: BTreeSet<String>,
    pub(super) published: BTreeMap<CellKey, Cell>,
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
