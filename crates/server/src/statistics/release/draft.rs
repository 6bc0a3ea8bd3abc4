//! The release being built, phase by phase: which authorities stand alone and every number
//! it shows; what earlier releases already decided; then withholding more until the audit
//! proves every withheld number keeps its width.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::super::disclosure::{self, Cell};
use super::super::model::MIN_IROS_FOR_OWN_ROW;
use super::cells::{AreaKey, CellKey, Geography, Layout, Measure};
use super::known::MIN_WIDTH;
use super::known::{publish, rounded, shown, Known, Prover, Target};
use super::raw::Raw;
use iro_advice_model::period::{Period, PeriodLength};

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("{0} cannot be protected by withholding more of this release")]
    Unprotectable(String),
    #[error("the records disagree with the releases already published ({0}); nothing was built")]
    Inconsistent(String),
}

/// Phase 1, the layout: the authorities with enough registered IROs at the period's end to
/// stand alone, and every number the release publishes, each once.
pub(super) fn lay_out(
    geo: &Geography,
    measures: &[Measure],
    period: &Period,
    raw: &Raw,
) -> (Layout, Vec<CellKey>) {
    let own: BTreeSet<String> = raw
        .registered_at_end()
        .iter()
        .filter(|(_, n)| **n >= MIN_IROS_FOR_OWN_ROW)
        .map(|(c, _)| c.to_string())
        .collect();
    let mut keys = Vec::new();
    let mut seen = HashSet::new();
    for area in geo.areas(&own) {
        for (m, measure) in measures.iter().enumerate() {
            for column in (0..measure.columns.len()).map(Some).chain([None]) {
                let key = CellKey::new(measures, &period.key, area.clone(), m, column);
                if seen.insert(key.clone()) {
                    keys.push(key);
                }
            }
        }
    }
    let layout = Layout {
        period: period.clone(),
        own,
        published: BTreeMap::new(),
    };
    (layout, keys)
}

/// This release's numbers as sums of atoms, and which of them are withheld.
pub(super) struct Draft {
    pub keys: Vec<CellKey>,
    atoms: Vec<Vec<usize>>,
    pub values: Vec<u64>,
    /// Withheld for being 1 to 4.
    pub primary: BTreeSet<usize>,
    pub hidden: BTreeSet<usize>,
    /// Shown or withheld as they must be, and never chosen to protect another.
    frozen: HashSet<usize>,
    /// The numbers of this release that count each atom.
    by_atom: HashMap<usize, Vec<usize>>,
}

impl Draft {
    /// Phase 2, primary suppression: every number written in the known system's atoms, and
    /// every count from 1 to 4 withheld.
    pub fn express(keys: Vec<CellKey>, layout: &Layout, known: &mut Known, raw: &Raw) -> Self {
        let atoms: Vec<Vec<usize>> = keys
            .iter()
            .map(|k| known.model.expression(layout, k, raw))
            .collect();
        let values: Vec<u64> = atoms.iter().map(|a| known.value_of(a)).collect();
        let primary: BTreeSet<usize> = (0..keys.len())
            .filter(|i| disclosure::primary(values[*i]))
            .collect();
        let mut by_atom: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, atoms) in atoms.iter().enumerate() {
            for a in atoms {
                by_atom.entry(*a).or_default().push(i);
            }
        }
        Draft {
            keys,
            atoms,
            values,
            hidden: primary.clone(),
            primary,
            frozen: HashSet::new(),
            by_atom,
        }
    }

    /// Phase 3: a number an earlier release already published (a quarter's registered IROs
    /// are its last month's) is shown or withheld as it was there, and never chosen to
    /// protect another: showing it again would say nothing new, hiding it would hide
    /// nothing.
    pub fn keep_what_was_published(&mut self, known: &Known) {
        for (i, atoms) in self.atoms.iter().enumerate() {
            let mut sorted = atoms.clone();
            sorted.sort_unstable();
            if let Some(cell) = known.published.get(&sorted) {
                self.frozen.insert(i);
                match cell {
                    Cell::Suppressed => self.hidden.insert(i),
                    Cell::Count(_) => self.hidden.remove(&i),
                };
            }
        }
    }

    /// Phase 4: a number every month of which is shown exactly (in the same row) is
    /// already published as their sum: it is shown, and never chosen to protect another.
    pub fn show_sums_of_shown_months(&mut self, linked: &[Layout], months: usize, round_to: u64) {
        let month_layouts: Vec<&Layout> = linked
            .iter()
            .filter(|l| l.period.length() == PeriodLength::Month)
            .collect();
        if month_layouts.len() != months || months < 2 {
            return;
        }
        for (i, key) in self.keys.iter().enumerate() {
            // A group's members differ from period to period: its cells are not sums of
            // the months' group cells.
            if self.frozen.contains(&i)
                || rounded(key, round_to)
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
                self.frozen.insert(i);
            }
        }
    }

    /// Phase 5: a quarter (or year) withholds at least what its months (and quarters)
    /// withheld, cell for cell: then no shown total of this release is a shown sum less
    /// one withheld cell of an earlier one, and each of its lines inherits their
    /// two-or-more withheld cells. The audit finds whatever this leaves open.
    pub fn inherit_withheld(&mut self, linked: &[Layout], geo: &Geography) {
        let index: HashMap<(&AreaKey, usize, Option<usize>), usize> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| ((&k.area, k.measure, k.column), i))
            .collect();
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
                        if !self.frozen.contains(i) && self.values[*i] > 0 {
                            self.hidden.insert(*i);
                        }
                    }
                }
            }
        }
    }

    /// Phase 6, secondary suppression: audit, and for each number that fails withhold the
    /// shown number that best protects it, until everything passes. Returns the narrowest
    /// width any withheld number keeps (`None`: all unbounded, or none withheld).
    ///
    /// Withholding a number only removes a constraint, so no range ever narrows: a number
    /// proven safe stays safe, and each round checks only what failed or is newly withheld.
    pub fn protect(
        &mut self,
        known: &mut Known,
        round_to: u64,
    ) -> Result<Option<i64>, ReleaseError> {
        let atom_months = known.atom_months();
        let months = known.model.months.len();
        let fixed = known.targets.len();
        let mut pending: Vec<usize> = (0..fixed).collect();
        let mut checked: HashSet<usize> = HashSet::new();
        let mut narrowest: Option<i64> = None;
        loop {
            let mut system = known.model.system.clone();
            for (i, atoms) in self.atoms.iter().enumerate() {
                if !self.hidden.contains(&i) {
                    let value = shown(&self.keys[i], self.values[i], round_to);
                    publish(&mut system, atoms, &self.keys[i], value, round_to);
                }
            }
            for &i in &self.hidden {
                if checked.insert(i) {
                    known.target(
                        self.keys[i].describe(),
                        Some(self.keys[i].clone()),
                        self.atoms[i].clone(),
                    );
                    pending.push(known.targets.len() - 1);
                }
            }
            let mut prover = Prover::new(&system, atom_months.clone(), &known.model.values, months);
            let mut failing: Vec<usize> = Vec::new();
            for &t in &pending {
                let target = &known.targets[t];
                match prover.width(&system, &target.atoms, target.value) {
                    Ok(None) => {}
                    Ok(Some(w)) if w >= MIN_WIDTH => {
                        narrowest = Some(narrowest.map_or(w, |n| n.min(w)))
                    }
                    _ => failing.push(t),
                }
            }
            if failing.is_empty() {
                return Ok(narrowest);
            }
            let newly = self.choose_withholding(&failing, known, &mut prover, &system);
            if newly.is_empty() {
                self.show_what_protects_nothing(&failing, known)?;
                known.targets.truncate(fixed);
                checked.clear();
                pending = (0..fixed).collect();
                narrowest = None;
                continue;
            }
            self.hidden.extend(newly);
            pending = failing;
        }
    }

    /// For each failing number, the shown number of this release that shares an atom with
    /// it at the least cost: the smallest count with room to move (at least [`MIN_WIDTH`]),
    /// else the largest; a cell before a total.
    fn choose_withholding(
        &self,
        failing: &[usize],
        known: &Known,
        prover: &mut Prover,
        system: &super::super::audit::System,
    ) -> BTreeSet<usize> {
        let cost = |k: usize| {
            let key = &self.keys[k];
            let small = self.values[k] < MIN_WIDTH as u64;
            let total = key.column.is_none() || key.area == AreaKey::National;
            let size = if small {
                u64::MAX - self.values[k]
            } else {
                self.values[k]
            };
            (small, total, size, k)
        };
        let sharing = |atoms: &mut dyn Iterator<Item = &usize>| {
            atoms
                .flat_map(|a| self.by_atom.get(a).into_iter().flatten())
                .copied()
                .filter(|k| !self.hidden.contains(k) && !self.frozen.contains(k))
                .min_by_key(|k| cost(*k))
        };
        let mut newly = BTreeSet::new();
        for &t in failing {
            let target: &Target = &known.targets[t];
            // The numbers of this release that count any of its atoms, smallest first: the
            // region's cell that a withheld authority is part of comes before the nation's.
            let mut containers: Vec<usize> = target
                .atoms
                .iter()
                .flat_map(|a| self.by_atom.get(a).into_iter().flatten())
                .copied()
                .collect();
            containers.sort_unstable_by_key(|k| (self.atoms[*k].len(), *k));
            containers.dedup();
            // A number sharing an atom with it; else one sharing an atom tied to its atoms
            // by the structure (a stage cell for a total of queries by category); else a
            // sibling inside a number that contains it, when that number is already public
            // (a region's quarter cell, the sum of its shown months).
            let best = sharing(&mut target.atoms.iter())
                .or_else(|| {
                    sharing(
                        &mut target
                            .atoms
                            .iter()
                            .flat_map(|a| known.model.related.get(a).into_iter().flatten()),
                    )
                })
                .or_else(|| {
                    containers
                        .iter()
                        .find_map(|k| sharing(&mut self.atoms[*k].iter()))
                });
            if let Some(best) = best {
                newly.insert(best);
                continue;
            }
            // No shown number of this release is near it: withhold every shown number of
            // this release in the tangle of unknowns of it and its containers (its own atoms
            // may all be pinned, and so in no tangle).
            let prepared = prover.exact_system(system);
            let components: HashSet<usize> = containers
                .iter()
                .flat_map(|k| self.atoms[*k].iter())
                .chain(target.atoms.iter())
                .filter_map(|a| prepared.component_of(*a))
                .collect();
            for (k, atoms) in self.atoms.iter().enumerate() {
                if !self.hidden.contains(&k)
                    && !self.frozen.contains(&k)
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
        newly
    }

    /// A number withheld only to protect others, that nothing more this release can
    /// withhold keeps from being worked out, protects nothing: it is shown (as zeros are)
    /// and everything is checked again, since showing adds a constraint. When there is none,
    /// the release cannot be protected.
    fn show_what_protects_nothing(
        &mut self,
        failing: &[usize],
        known: &Known,
    ) -> Result<(), ReleaseError> {
        let shown: Vec<usize> = failing
            .iter()
            .filter_map(|t| known.targets[*t].key.as_ref())
            .filter_map(|k| self.keys.iter().position(|x| x == k))
            .filter(|i| !disclosure::primary(self.values[*i]) && !self.frozen.contains(i))
            .collect();
        if shown.is_empty() {
            return Err(ReleaseError::Unprotectable(
                known.targets[failing[0]].what.clone(),
            ));
        }
        for i in shown {
            self.hidden.remove(&i);
            self.frozen.insert(i);
        }
        Ok(())
    }

    /// Phase 7: the layout as published.
    pub fn publish_into(&self, layout: &mut Layout) {
        layout.published = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let cell = if self.hidden.contains(&i) {
                    Cell::Suppressed
                } else {
                    Cell::Count(self.values[i])
                };
                (k.clone(), cell)
            })
            .collect();
    }
}
