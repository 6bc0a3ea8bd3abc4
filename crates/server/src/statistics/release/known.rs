//! What a reader of a set of releases knows, as one linear system over *atoms* (the
//! unpublished counts of one authority, or of a region's small authorities together, for one
//! thing in one month), and what that reader must not learn. Building a release and auditing
//! stored ones read the same [`Known`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::audit::{self, Op, System};
use super::super::disclosure::{self, Cell};
use super::super::model::{MIN_IROS_FOR_OWN_ROW, SHARED_ROW_TOTALS};
use super::cells::{area_name, AreaKey, CellKey, Geography, Layout, Measure, Source, SHARED};
use super::raw::Raw;
use iro_advice_model::period::Month;

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
pub(super) struct Model<'a> {
    geo: &'a Geography,
    measures: &'a [Measure],
    pub months: Vec<Month>,
    /// Per month: class → its authorities.
    classes: Vec<BTreeMap<Class, Vec<String>>>,
    /// Per month: authority → its class.
    class_of: Vec<HashMap<String, Class>>,
    atoms: HashMap<(usize, Class, What), usize>,
    pub system: System,
    /// The true value of each atom, where the raw counts are at hand.
    pub values: Vec<u64>,
    /// Atoms tied to each other by the structure alone (the same queries counted by
    /// category, by stage and by outcome): withholding one of them can free the other.
    pub related: HashMap<usize, Vec<usize>>,
}

impl<'a> Model<'a> {
    pub(super) fn new(
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

    fn atom(&mut self, month: usize, class: &Class, what: What, raw: &Raw) -> usize {
        let key = (month, class.clone(), what);
        if let Some(a) = self.atoms.get(&key) {
            return *a;
        }
        let members = &self.classes[month][class];
        let value: u64 = members
            .iter()
            .map(|code| match &key.2 {
                What::Flow(m, c) => raw.flows[*m]
                    .get(&(month, code.clone()))
                    .map_or(0, |v| v[*c]),
                What::Asked => raw.stocks[month].get(code).map_or(0, |(r, n)| r - n),
                What::Never => raw.stocks[month].get(code).map_or(0, |(_, n)| *n),
            })
            .sum();
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
    pub(super) fn expression(&mut self, layout: &Layout, key: &CellKey, raw: &Raw) -> Vec<usize> {
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
    fn asked(&mut self, layout: &Layout, area: &AreaKey, raw: &Raw) -> Vec<usize> {
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
    /// flow measure and column: (what, atoms).
    fn grouped_but_known(&mut self, layout: &Layout, raw: &Raw) -> Vec<(String, Vec<usize>)> {
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
                    ));
                }
            }
        }
        out
    }

    /// What anyone knows without reading a number: the tables of queries count the same
    /// queries; a query counted as not accepted in time is a query; an authority stands
    /// alone exactly when it has enough registered IROs.
    fn structure(&mut self, layouts: &[&Layout], raw: &Raw) {
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

/// A withheld cell must keep at least this many values apart at its ends (4 values).
pub const MIN_WIDTH: i64 = 3;

/// One audited number: the width it is proven to keep (`None`: unbounded), or why none
/// could be proven.
pub struct Audited {
    pub what: String,
    pub width: Result<Option<i64>, String>,
}

/// Whether a number is shown rounded: national totals, and regional row totals (a
/// one-column table's row total is its cell, shown exactly).
pub(super) fn rounded(key: &CellKey, round_to: u64) -> bool {
    round_to > 1
        && matches!(
            (&key.area, key.column),
            (AreaKey::National, _) | (AreaKey::Region(_), None)
        )
}

/// A number as it is shown.
pub(super) fn shown(key: &CellKey, value: u64, round_to: u64) -> u64 {
    if rounded(key, round_to) {
        (value + round_to / 2) / round_to * round_to
    } else {
        value
    }
}

/// What a shown number tells: its value exactly, or within the rounding of a total.
/// `value` is the number as shown.
pub(super) fn publish(
    system: &mut System,
    atoms: &[usize],
    key: &CellKey,
    value: u64,
    round_to: u64,
) {
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

/// A number that must keep its width: a withheld cell, or a hidden count that published
/// numbers would otherwise give away.
pub(super) struct Target {
    pub what: String,
    /// The published number it is, if it is one.
    pub key: Option<CellKey>,
    pub atoms: Vec<usize>,
    /// Its true value.
    pub value: u64,
}

/// Everything a reader of some releases knows, and everything they must not learn.
pub(super) struct Known<'a> {
    pub model: Model<'a>,
    /// Every withheld number of these releases, every hidden count of IROs who asked, and
    /// every grouped authority's count that a longer period would give.
    pub targets: Vec<Target>,
    /// Each published number, by its atoms (sorted), as it was published.
    pub published: HashMap<Vec<usize>, Cell>,
}

impl<'a> Known<'a> {
    /// The structure anyone knows, every number `layouts` publish (a layout being built
    /// publishes none yet), and what they must keep hidden.
    pub fn of(
        geo: &'a Geography,
        measures: &'a [Measure],
        raw: &Raw,
        layouts: &[&Layout],
        round_to: u64,
    ) -> Self {
        let mut model = Model::new(geo, measures, raw.months.clone(), layouts);
        model.structure(layouts, raw);
        let mut known = Known {
            model,
            targets: Vec::new(),
            published: HashMap::new(),
        };
        for layout in layouts {
            for (key, cell) in &layout.published {
                let atoms = known.model.expression(layout, key, raw);
                let mut sorted = atoms.clone();
                sorted.sort_unstable();
                known.published.insert(sorted, *cell);
                match cell {
                    Cell::Count(v) => publish(&mut known.model.system, &atoms, key, *v, round_to),
                    Cell::Suppressed => known.target(key.describe(), Some(key.clone()), atoms),
                }
            }
        }
        for layout in layouts {
            for area in geo.areas(&layout.own) {
                let atoms = known.model.asked(layout, &area, raw);
                if disclosure::primary(known.value_of(&atoms)) {
                    let what = format!(
                        "{} {}: IROs who had asked (registered minus never asked)",
                        layout.period.key,
                        area_name(&area)
                    );
                    known.target(what, None, atoms);
                }
            }
        }
        for layout in layouts {
            for (what, atoms) in known.model.grouped_but_known(layout, raw) {
                known.target(what, None, atoms);
            }
        }
        known
    }

    pub fn value_of(&self, atoms: &[usize]) -> u64 {
        atoms.iter().map(|a| self.model.values[*a]).sum()
    }

    pub fn target(&mut self, what: String, key: Option<CellKey>, atoms: Vec<usize>) {
        let value = self.value_of(&atoms);
        self.targets.push(Target {
            what,
            key,
            atoms,
            value,
        });
    }

    /// A constraint the true counts break, described: then the model, or the stored
    /// releases against today's records, is wrong, and nothing may be built on it.
    pub fn contradiction(&self) -> Option<String> {
        self.model
            .system
            .broken_by(&self.model.values)
            .first()
            .map(|c| format!("{} terms {:?} {}", c.terms.len(), c.op, c.rhs))
    }

    /// The month each atom counts in.
    pub fn atom_months(&self) -> Vec<usize> {
        let mut out = vec![0usize; self.model.system.atoms()];
        for ((month, _, _), a) in &self.model.atoms {
            out[*a] = *month;
        }
        out
    }

    /// Every target with the width it is proven to keep: the audit of stored releases.
    pub fn audit(self) -> Vec<Audited> {
        let atom_months = self.atom_months();
        let months = self.model.months.len();
        let mut prover = Prover::new(&self.model.system, atom_months, &self.model.values, months);
        self.targets
            .into_iter()
            .map(|t| Audited {
                width: prover.width(&self.model.system, &t.atoms, t.value),
                what: t.what,
            })
            .collect()
    }
}

/// Proves the widths sums of atoms keep under one system, cheaply where it can.
pub(super) struct Prover {
    /// The same system with every month but one taken as known to the reader, one per
    /// month: more than any reader knows, so a width proven in one holds, and its linear
    /// programmes are only a month's size. Empty for a single month (the system itself is
    /// that small).
    restricted: Vec<audit::Prepared>,
    /// The whole system, prepared when a restriction cannot prove something.
    exact: Option<audit::Prepared>,
    atom_months: Vec<usize>,
}

impl Prover {
    pub fn new(system: &System, atom_months: Vec<usize>, values: &[u64], months: usize) -> Self {
        let restricted = if months < 2 {
            Vec::new()
        } else {
            (0..months)
                .map(|m| {
                    let mut s = system.clone();
                    for (a, month) in atom_months.iter().enumerate() {
                        if *month != m {
                            s.sum_is(&[a], values[a] as f64);
                        }
                    }
                    s.prepare()
                })
                .collect()
        };
        Prover {
            restricted,
            exact: None,
            atom_months,
        }
    }

    /// The width `Σ atoms` is proven to keep: at least [`MIN_WIDTH`] if a month's
    /// restriction shows it, else exactly by linear programming over the whole `system`.
    /// `None` when unbounded.
    pub fn width(
        &mut self,
        system: &System,
        atoms: &[usize],
        value: u64,
    ) -> Result<Option<i64>, String> {
        let mut touched: Vec<usize> = atoms.iter().map(|a| self.atom_months[*a]).collect();
        touched.sort_unstable();
        touched.dedup();
        for m in touched.into_iter().filter(|m| *m < self.restricted.len()) {
            if let Ok(w) = self.restricted[m].proven_width(atoms, value, MIN_WIDTH) {
                if w.is_none_or(|w| w >= MIN_WIDTH) {
                    return Ok(w);
                }
            }
        }
        self.exact_system(system)
            .proven_width(atoms, value, MIN_WIDTH)
            .map_err(|e| e.to_string())
    }

    /// The whole system, prepared once.
    pub fn exact_system(&mut self, system: &System) -> &audit::Prepared {
        self.exact.get_or_insert_with(|| system.prepare())
    }
}
