//! The audit every release passes before it is stored: for each withheld number, the least
//! and greatest values consistent with everything published, by linear programming over the
//! unknown counts (what tau-ARGUS calls an audit of a suppression pattern).
//!
//! The unknowns ("atoms") are counts that are never published on their own: one authority's
//! (or a group of authorities') count of one thing in one month. Every published number is a
//! sum of atoms, so what a reader knows is a set of linear equations and bounds over
//! non-negative atoms; the range of a withheld number is the minimum and maximum of its sum
//! over that set. Atoms pinned outright (a shown cell that is one atom, a shown zero) are
//! substituted first, and the rest split into independent components, so that each linear
//! programme is only as large as the tangle of withheld cells it is about.

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use microlp::{ComparisonOp, OptimizationDirection, Problem};

/// How a constraint compares its sum with its right-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Le,
    Ge,
}

/// `Σ coefficient × atom  op  rhs`.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub terms: Vec<(usize, f64)>,
    pub op: Op,
    pub rhs: f64,
}

/// What a reader of everything published knows, as linear constraints over atoms ≥ 0.
#[derive(Debug, Clone, Default)]
pub struct System {
    atoms: usize,
    constraints: Vec<Constraint>,
}

/// The least and greatest whole values a withheld number can take; `None` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub least: i64,
    pub greatest: Option<i64>,
}

impl Range {
    /// How many values apart the ends are (`greatest − least`), or `None` when unbounded.
    pub fn width(&self) -> Option<i64> {
        self.greatest.map(|g| g - self.least)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The published numbers contradict each other: nothing is consistent with all of them.
    #[error("the published numbers are inconsistent")]
    Infeasible,
    #[error("the linear programme could not be solved: {0}")]
    Solver(String),
}

/// Time one linear programme may take before the audit gives up on it (and so treats the
/// cell as not proven safe).
const LP_TIME_LIMIT: Duration = Duration::from_secs(20);
/// Slack for floating-point error when turning an LP bound into a whole number.
const EPSILON: f64 = 1e-6;

impl System {
    pub fn new() -> Self {
        System::default()
    }

    /// A new unknown count (≥ 0).
    pub fn atom(&mut self) -> usize {
        self.atoms += 1;
        self.atoms - 1
    }

    pub fn atoms(&self) -> usize {
        self.atoms
    }

    pub fn constrain(&mut self, terms: Vec<(usize, f64)>, op: Op, rhs: f64) {
        self.constraints.push(Constraint { terms, op, rhs });
    }

    /// `Σ atoms = value`.
    pub fn sum_is(&mut self, atoms: &[usize], value: f64) {
        self.constrain(atoms.iter().map(|a| (*a, 1.0)).collect(), Op::Eq, value);
    }

    /// The constraints that `values` (one per atom) break. The true counts break none:
    /// anything else is a fault in the model, never a release to store.
    pub fn broken_by(&self, values: &[u64]) -> Vec<&Constraint> {
        self.constraints
            .iter()
            .filter(|c| {
                let sum: f64 = c.terms.iter().map(|(a, k)| values[*a] as f64 * k).sum();
                match c.op {
                    Op::Eq => (sum - c.rhs).abs() > EPSILON,
                    Op::Le => sum > c.rhs + EPSILON,
                    Op::Ge => sum < c.rhs - EPSILON,
                }
            })
            .collect()
    }

    /// Ready for questions: pinned atoms substituted, the rest split into components.
    pub fn prepare(&self) -> Prepared {
        Prepared::new(self)
    }
}

/// A [`System`] with its pinned atoms worked out and its free atoms grouped into components
/// that share no constraint.
pub struct Prepared {
    fixed: Vec<Option<f64>>,
    component: Vec<usize>,
    /// Per component: its atoms (in order) and its constraints over them.
    components: Vec<Component>,
    infeasible: bool,
}

struct Component {
    atoms: Vec<usize>,
    constraints: Vec<Constraint>,
}

impl Prepared {
    fn new(system: &System) -> Prepared {
        let mut fixed: Vec<Option<f64>> = vec![None; system.atoms];
        let mut infeasible = false;
        // Propagate pins through sums of non-negative atoms: a sum whose free part must be 0
        // pins all of it to 0; a sum with one free atom pins that atom.
        loop {
            let mut changed = false;
            for c in &system.constraints {
                if c.op != Op::Eq || c.terms.iter().any(|(_, k)| *k != 1.0) {
                    continue;
                }
                let known: f64 = c.terms.iter().filter_map(|(a, _)| fixed[*a]).sum();
                let free: Vec<usize> = c
                    .terms
                    .iter()
                    .filter(|(a, _)| fixed[*a].is_none())
                    .map(|(a, _)| *a)
                    .collect();
                let rest = c.rhs - known;
                if free.is_empty() {
                    if rest.abs() > EPSILON {
                        infeasible = true;
                    }
                    continue;
                }
                if rest.abs() <= EPSILON {
                    for a in free {
                        fixed[a] = Some(0.0);
                    }
                    changed = true;
                } else if let [a] = free.as_slice() {
                    if rest < -EPSILON {
                        infeasible = true;
                    }
                    fixed[*a] = Some(rest.max(0.0));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }

        // Union-find over the free atoms of each remaining constraint.
        let mut parent: Vec<usize> = (0..system.atoms).collect();
        fn find(parent: &mut [usize], mut a: usize) -> usize {
            while parent[a] != a {
                parent[a] = parent[parent[a]];
                a = parent[a];
            }
            a
        }
        let mut reduced: Vec<Constraint> = Vec::new();
        for c in &system.constraints {
            let known: f64 = c
                .terms
                .iter()
                .filter_map(|(a, k)| fixed[*a].map(|v| v * k))
                .sum();
            let terms: Vec<(usize, f64)> = c
                .terms
                .iter()
                .filter(|(a, _)| fixed[*a].is_none())
                .copied()
                .collect();
            let rhs = c.rhs - known;
            if terms.is_empty() {
                let holds = match c.op {
                    Op::Eq => rhs.abs() <= EPSILON,
                    Op::Le => rhs >= -EPSILON,
                    Op::Ge => rhs <= EPSILON,
                };
                infeasible |= !holds;
                continue;
            }
            let first = find(&mut parent, terms[0].0);
            for (a, _) in &terms[1..] {
                let root = find(&mut parent, *a);
                parent[root] = first;
            }
            reduced.push(Constraint {
                terms,
                op: c.op,
                rhs,
            });
        }
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut components: Vec<Component> = Vec::new();
        let mut component = vec![usize::MAX; system.atoms];
        for a in 0..system.atoms {
            if fixed[a].is_some() {
                continue;
            }
            let root = find(&mut parent, a);
            let next = index.len();
            let c = *index.entry(root).or_insert(next);
            if c == components.len() {
                components.push(Component {
                    atoms: Vec::new(),
                    constraints: Vec::new(),
                });
            }
            components[c].atoms.push(a);
            component[a] = c;
        }
        for c in reduced {
            let id = component[c.terms[0].0];
            components[id].constraints.push(c);
        }
        Prepared {
            fixed,
            component,
            components,
            infeasible,
        }
    }

    /// How many atoms are still unknown after pinning.
    pub fn free_atoms(&self) -> usize {
        self.fixed.iter().filter(|f| f.is_none()).count()
    }

    /// The component an atom is in, or None when the published numbers pin it.
    pub fn component_of(&self, atom: usize) -> Option<usize> {
        self.fixed[atom].is_none().then(|| self.component[atom])
    }

    /// The least and greatest values of `Σ atoms` over everything consistent with the
    /// constraints.
    pub fn range(&self, atoms: &[usize]) -> Result<Range, AuditError> {
        let (least, greatest) = self.bounds(atoms, true)?;
        Ok(Range {
            least: least.unwrap_or(0),
            greatest,
        })
    }

    /// A width `Σ atoms` (whose true value is `value`) is proven to keep: at least `need`
    /// when it keeps that much, else its exact width; `None` when unbounded. Asks for the
    /// greatest first: when that alone leaves room, the least is not needed.
    pub fn proven_width(
        &self,
        atoms: &[usize],
        value: u64,
        need: i64,
    ) -> Result<Option<i64>, AuditError> {
        let (_, greatest) = self.bounds(atoms, false)?;
        match greatest {
            None => return Ok(None),
            Some(g) if g - value as i64 >= need => return Ok(Some(g - value as i64)),
            Some(_) => {}
        }
        Ok(self.range(atoms)?.width())
    }

    /// Whether `Σ atoms`, whose true value is `value`, can take at least `width + 1` whole
    /// values.
    pub fn keeps_width(&self, atoms: &[usize], value: u64, width: i64) -> Result<bool, AuditError> {
        Ok(self
            .proven_width(atoms, value, width)?
            .is_none_or(|w| w >= width))
    }

    fn bounds(
        &self,
        atoms: &[usize],
        with_least: bool,
    ) -> Result<(Option<i64>, Option<i64>), AuditError> {
        if self.infeasible {
            return Err(AuditError::Infeasible);
        }
        let constant: f64 = atoms.iter().filter_map(|a| self.fixed[*a]).sum();
        let mut by_component: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for a in atoms {
            if self.fixed[*a].is_none() {
                by_component.entry(self.component[*a]).or_default().push(*a);
            }
        }
        // Components share nothing, so the extremes of a sum across them are the sums of
        // each component's extremes.
        let (mut least, mut greatest) = (constant, Some(constant));
        for (c, members) in by_component {
            if with_least {
                least += self
                    .solve(c, &members, OptimizationDirection::Minimize)?
                    .unwrap_or(0.0);
            }
            let g = self.solve(c, &members, OptimizationDirection::Maximize)?;
            greatest = match (greatest, g) {
                (Some(total), Some(g)) => Some(total + g),
                _ => None,
            };
        }
        Ok((
            with_least.then(|| (least - EPSILON).ceil() as i64),
            greatest.map(|g| (g + EPSILON).floor() as i64),
        ))
    }

    /// The extreme of `Σ members` within one component; `None` when unbounded.
    fn solve(
        &self,
        component: usize,
        members: &[usize],
        direction: OptimizationDirection,
    ) -> Result<Option<f64>, AuditError> {
        let comp = &self.components[component];
        let mut problem = Problem::new(direction);
        problem.set_time_limit(LP_TIME_LIMIT);
        let position: HashMap<usize, usize> = comp
            .atoms
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, i))
            .collect();
        let vars: Vec<_> = comp
            .atoms
            .iter()
            .map(|a| {
                let objective = if members.contains(a) { 1.0 } else { 0.0 };
                problem.add_var(objective, (0.0, f64::INFINITY))
            })
            .collect();
        for c in &comp.constraints {
            let expr: Vec<(microlp::Variable, f64)> = c
                .terms
                .iter()
                .map(|(a, k)| (vars[position[a]], *k))
                .collect();
            let op = match c.op {
                Op::Eq => ComparisonOp::Eq,
                Op::Le => ComparisonOp::Le,
                Op::Ge => ComparisonOp::Ge,
            };
            problem.add_constraint(expr, op, c.rhs);
        }
        // The solver is young and may panic on a hard problem: that is an audit that could
        // not prove the cell safe, never a crashed service.
        let outcome = catch_unwind(AssertUnwindSafe(|| problem.solve()))
            .map_err(|_| AuditError::Solver("the solver panicked".into()))?;
        match outcome {
            Ok(outcome) => match outcome.solution() {
                Some(s) => Ok(Some(s.objective())),
                None => Err(AuditError::Solver("time limit reached".into())),
            },
            Err(microlp::Error::Unbounded) => Ok(None),
            Err(microlp::Error::Infeasible) => Err(AuditError::Infeasible),
            Err(e) => Err(AuditError::Solver(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×2 table with every total shown and all four cells withheld: each cell can move
    /// along the one cycle, as far as the smallest cell it must take from.
    #[test]
    fn a_withheld_square_keeps_the_range_its_cycle_allows() {
        let mut s = System::new();
        let x: Vec<usize> = (0..4).map(|_| s.atom()).collect();
        // [[3, 7], [6, 2]]: rows 10, 8; columns 9, 9.
        s.sum_is(&[x[0], x[1]], 10.0);
        s.sum_is(&[x[2], x[3]], 8.0);
        s.sum_is(&[x[0], x[2]], 9.0);
        s.sum_is(&[x[1], x[3]], 9.0);
        let p = s.prepare();
        // x0 = 3 + t, x3 = 2 + t, x1 = 7 − t, x2 = 6 − t: t from −2 to 6.
        assert_eq!(
            p.range(&[x[0]]).unwrap(),
            Range {
                least: 1,
                greatest: Some(9)
            }
        );
        assert_eq!(p.range(&[x[3]]).unwrap().width(), Some(8));
        assert!(p.keeps_width(&[x[0]], 3, 3).unwrap());
    }

    #[test]
    fn a_cell_alone_in_its_line_is_pinned_and_a_missing_total_unbounds() {
        let mut s = System::new();
        let x: Vec<usize> = (0..3).map(|_| s.atom()).collect();
        s.sum_is(&[x[0], x[1], x[2]], 20.0);
        s.sum_is(&[x[1]], 12.0);
        s.sum_is(&[x[2]], 5.0);
        let p = s.prepare();
        assert_eq!(p.range(&[x[0]]).unwrap().width(), Some(0));
        assert!(!p.keeps_width(&[x[0]], 3, 3).unwrap());
        assert_eq!(p.free_atoms(), 0);

        let mut s = System::new();
        let y: Vec<usize> = (0..2).map(|_| s.atom()).collect();
        s.sum_is(&[y[0]], 9.0);
        let p = s.prepare();
        assert_eq!(p.range(&[y[1]]).unwrap().greatest, None);
        assert_eq!(p.range(&[y[0], y[1]]).unwrap().least, 9);
    }

    #[test]
    fn inequalities_and_rounded_totals_narrow_the_range() {
        // x + y between 8 and 12 (a total of 10 rounded to 5), y ≤ x, x shown as withheld.
        let mut s = System::new();
        let (x, y) = (s.atom(), s.atom());
        s.constrain(vec![(x, 1.0), (y, 1.0)], Op::Ge, 8.0);
        s.constrain(vec![(x, 1.0), (y, 1.0)], Op::Le, 12.0);
        s.constrain(vec![(y, 1.0), (x, -1.0)], Op::Le, 0.0);
        let p = s.prepare();
        assert_eq!(
            p.range(&[x]).unwrap(),
            Range {
                least: 4,
                greatest: Some(12)
            }
        );
        assert_eq!(p.range(&[y]).unwrap().greatest, Some(6));
    }

    #[test]
    fn contradictory_numbers_are_reported_not_bounded() {
        let mut s = System::new();
        let x = s.atom();
        s.sum_is(&[x], 4.0);
        s.sum_is(&[x], 5.0);
        assert!(matches!(
            s.prepare().range(&[x]),
            Err(AuditError::Infeasible)
        ));
    }
}
