//! Disclosure control for published counts, as the Department for Education publishes
//! children-looked-after statistics:
//!
//! 1. Primary suppression: every count from 1 to 4 is shown as `c` (0 is shown).
//! 2. Secondary suppression: no suppressed cell may be worked out from the row and column
//!    totals shown. Wherever a row or column (with its total) has exactly one suppressed
//!    cell, the smallest other cell in it is suppressed too, until no row or column has
//!    exactly one; a line with no other cell to hide has its total hidden instead.
//! 3. National and regional totals are rounded to the nearest `round_to` (5 by default)
//!    once no cell can be derived from them. Which totals those are depends on the table:
//!    column totals are always national; row totals are regional only in a table by region.
//!    Rounding a total can only widen what a reader can work out, never narrow it.
//!
//! These rules are applied to any table; the statistics module decides what its rows and
//! columns are (authorities or regions, periods, categories …).

use serde::{Deserialize, Serialize};

/// A published value: a count, or `c` where it is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Count(u64),
    Suppressed,
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Count(n) => s.serialize_u64(*n),
            Cell::Suppressed => s.serialize_str("c"),
        }
    }
}

/// A published value as it reads in JSON: a number, or `"c"` where withheld.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Published<T> {
    Value(T),
    Withheld(Withheld),
}

/// The one word a withheld value is written as.
#[derive(Deserialize)]
pub enum Withheld {
    #[serde(rename = "c")]
    C,
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Published::<u64>::deserialize(d)? {
            Published::Value(n) => Ok(Cell::Count(n)),
            Published::Withheld(_) => Ok(Cell::Suppressed),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Count(n) => write!(f, "{n}"),
            Cell::Suppressed => f.write_str("c"),
        }
    }
}

/// Counts smaller than this (and above zero) are withheld.
pub const MIN_SHOWN: u64 = 5;

fn primary(n: u64) -> bool {
    (1..MIN_SHOWN).contains(&n)
}

/// A table after disclosure control.
#[derive(Debug, Clone, Serialize)]
pub struct Controlled {
    pub cells: Vec<Vec<Cell>>,
    pub row_totals: Vec<Cell>,
    pub column_totals: Vec<Cell>,
    pub total: Cell,
    /// The rules that changed something, for the reader of the output.
    pub applied: Vec<&'static str>,
}

pub const RULE_PRIMARY: &str = "counts of 1 to 4 shown as c";
pub const RULE_SECONDARY: &str =
    "further cells shown as c so that none can be worked out from the totals";
pub const RULE_ROUNDING: &str =
    "national and regional totals rounded to the nearest multiple of round_totals_to";

/// To what multiple each kind of total is rounded (1: not rounded).
#[derive(Debug, Clone, Copy)]
pub struct Rounding {
    /// The total of each row.
    pub rows: u64,
    /// The total of each column, and the grand total.
    pub columns: u64,
}

impl Rounding {
    pub fn all(to: u64) -> Self {
        Rounding {
            rows: to,
            columns: to,
        }
    }
}

/// Applies the rules to a table of counts (`cells[row][column]`).
pub fn control(cells: &[Vec<u64>], rounding: Rounding) -> Controlled {
    control_with_hidden_rows(cells, rounding, &vec![false; cells.len()])
}

/// As [`control`], with the totals of some rows withheld from the start. Tables that share
/// their row totals (queries by category, by stage, by outcome) must withhold the same ones,
/// or one table would give back a total that another withholds to protect its cells.
pub fn control_with_hidden_rows(
    cells: &[Vec<u64>],
    rounding: Rounding,
    forced_rows: &[bool],
) -> Controlled {
    let rows = cells.len();
    let cols = cells.first().map_or(0, Vec::len);
    let row_sum: Vec<u64> = cells.iter().map(|r| r.iter().sum()).collect();
    let col_sum: Vec<u64> = (0..cols)
        .map(|c| cells.iter().map(|r| r[c]).sum())
        .collect();
    let grand: u64 = row_sum.iter().sum();

    let mut hidden: Vec<Vec<bool>> = cells
        .iter()
        .map(|r| r.iter().map(|n| primary(*n)).collect())
        .collect();
    let mut row_hidden: Vec<bool> = row_sum.iter().map(|n| primary(*n)).collect();
    let mut col_hidden: Vec<bool> = col_sum.iter().map(|n| primary(*n)).collect();
    let mut grand_hidden = primary(grand);
    let mut applied = Vec::new();
    if hidden.iter().flatten().any(|h| *h)
        || row_hidden.iter().chain(&col_hidden).any(|h| *h)
        || grand_hidden
    {
        applied.push(RULE_PRIMARY);
    }

    // Secondary suppression, to a fixed point: each line whose total is shown must hide
    // none or at least two of its cells. The totals line (row totals, column totals, grand
    // total) is a line too.
    let mut secondary = false;
    for (hide, forced) in row_hidden.iter_mut().zip(forced_rows) {
        if *forced && !*hide {
            *hide = true;
            secondary = true;
        }
    }
    loop {
        let mut changed = false;
        // A withheld row total whose cells are all shown is their sum.
        for r in 0..rows {
            if row_hidden[r] && !hidden[r].iter().any(|h| *h) {
                if let Some(c) = (0..cols).min_by_key(|c| (cells[r][*c], *c)) {
                    hidden[r][c] = true;
                    changed = true;
                }
            }
        }
        for r in 0..rows {
            if row_hidden[r] {
                continue;
            }
            if hidden[r].iter().filter(|h| **h).count() == 1 {
                match (0..cols)
                    .filter(|c| !hidden[r][*c])
                    .min_by_key(|c| (cells[r][*c], *c))
                {
                    Some(c) => hidden[r][c] = true,
                    None => row_hidden[r] = true,
                }
                changed = true;
            }
        }
        for c in 0..cols {
            if col_hidden[c] {
                continue;
            }
            if (0..rows).filter(|r| hidden[*r][c]).count() == 1 {
                match (0..rows)
                    .filter(|r| !hidden[*r][c])
                    .min_by_key(|r| (cells[*r][c], *r))
                {
                    Some(r) => hidden[r][c] = true,
                    None => col_hidden[c] = true,
                }
                changed = true;
            }
        }
        // The totals line: a hidden total must not follow from the grand total and the
        // other totals. Another total is hidden with it, preferably one whose line already
        // hides a cell; otherwise its smallest cell goes too, or its cells would give the
        // total back.
        if !grand_hidden {
            if row_hidden.iter().filter(|h| **h).count() == 1 {
                let pick = (0..rows)
                    .filter(|r| !row_hidden[*r])
                    .min_by_key(|r| (!hidden[*r].iter().any(|h| *h), row_sum[*r], *r));
                if let Some(r) = pick {
                    row_hidden[r] = true;
                    if !hidden[r].iter().any(|h| *h) {
                        if let Some(c) = (0..cols).min_by_key(|c| (cells[r][*c], *c)) {
                            hidden[r][c] = true;
                        }
                    }
                    changed = true;
                } else {
                    // The only row: its total is the grand total.
                    grand_hidden = true;
                    changed = true;
                }
            }
            if !grand_hidden && col_hidden.iter().filter(|h| **h).count() == 1 {
                let pick = (0..cols)
                    .filter(|c| !col_hidden[*c])
                    .min_by_key(|c| (!(0..rows).any(|r| hidden[r][*c]), col_sum[*c], *c));
                if let Some(c) = pick {
                    col_hidden[c] = true;
                    if !(0..rows).any(|r| hidden[r][c]) {
                        if let Some(r) = (0..rows).min_by_key(|r| (cells[*r][c], *r)) {
                            hidden[r][c] = true;
                        }
                    }
                    changed = true;
                } else {
                    grand_hidden = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
        secondary = true;
    }
    if secondary {
        applied.push(RULE_SECONDARY);
    }

    let show_total = |n: u64, hide: bool, to: u64| {
        if hide {
            Cell::Suppressed
        } else if to > 1 {
            Cell::Count((n + to / 2) / to * to)
        } else {
            Cell::Count(n)
        }
    };
    if rounding.columns > 1 || (rounding.rows > 1 && rows > 0) {
        applied.push(RULE_ROUNDING);
    }
    Controlled {
        cells: cells
            .iter()
            .zip(&hidden)
            .map(|(r, h)| {
                r.iter()
                    .zip(h)
                    .map(|(n, hide)| {
                        if *hide {
                            Cell::Suppressed
                        } else {
                            Cell::Count(*n)
                        }
                    })
                    .collect()
            })
            .collect(),
        row_totals: row_sum
            .iter()
            .zip(&row_hidden)
            .map(|(n, h)| show_total(*n, *h, rounding.rows))
            .collect(),
        column_totals: col_sum
            .iter()
            .zip(&col_hidden)
            .map(|(n, h)| show_total(*n, *h, rounding.columns))
            .collect(),
        total: show_total(grand, grand_hidden, rounding.columns),
        applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an attacker can work out: every cell, row total and column total that follows
    /// exactly from the shown ones, by differencing along any line, repeated until nothing
    /// more follows. Totals are taken as exact (rounding only helps).
    fn derivable(c: &Controlled, raw: &[Vec<u64>]) -> Vec<(usize, usize)> {
        let rows = raw.len();
        let cols = raw.first().map_or(0, Vec::len);
        let mut known: Vec<Vec<Option<u64>>> = c
            .cells
            .iter()
            .zip(raw)
            .map(|(r, raw_r)| {
                r.iter()
                    .zip(raw_r)
                    .map(|(cell, n)| matches!(cell, Cell::Count(_)).then_some(*n))
                    .collect()
            })
            .collect();
        let row_sum: Vec<u64> = raw.iter().map(|r| r.iter().sum()).collect();
        let col_sum: Vec<u64> = (0..cols).map(|j| raw.iter().map(|r| r[j]).sum()).collect();
        let mut row_known: Vec<Option<u64>> = c
            .row_totals
            .iter()
            .zip(&row_sum)
            .map(|(t, n)| matches!(t, Cell::Count(_)).then_some(*n))
            .collect();
        let mut col_known: Vec<Option<u64>> = c
            .column_totals
            .iter()
            .zip(&col_sum)
            .map(|(t, n)| matches!(t, Cell::Count(_)).then_some(*n))
            .collect();
        let grand: Option<u64> = matches!(c.total, Cell::Count(_)).then(|| row_sum.iter().sum());
        loop {
            let mut progress = false;
            for i in 0..rows {
                let unknown: Vec<usize> = (0..cols).filter(|j| known[i][*j].is_none()).collect();
                if let (Some(total), [j]) = (row_known[i], unknown.as_slice()) {
                    known[i][*j] = Some(
                        total
                            - (0..cols)
                                .filter(|k| k != j)
                                .map(|k| known[i][k].unwrap())
                                .sum::<u64>(),
                    );
                    progress = true;
                }
                if row_known[i].is_none() && unknown.is_empty() {
                    row_known[i] = Some(known[i].iter().map(|v| v.unwrap()).sum());
                    progress = true;
                }
            }
            for j in 0..cols {
                let unknown: Vec<usize> = (0..rows).filter(|i| known[*i][j].is_none()).collect();
                if let (Some(total), [i]) = (col_known[j], unknown.as_slice()) {
                    known[*i][j] = Some(
                        total
                            - (0..rows)
                                .filter(|k| k != i)
                                .map(|k| known[k][j].unwrap())
                                .sum::<u64>(),
                    );
                    progress = true;
                }
                if col_known[j].is_none() && unknown.is_empty() {
                    col_known[j] = Some((0..rows).map(|i| known[i][j].unwrap()).sum());
                    progress = true;
                }
            }
            if let Some(g) = grand {
                let unknown: Vec<usize> = (0..rows).filter(|i| row_known[*i].is_none()).collect();
                if let [i] = unknown.as_slice() {
                    row_known[*i] = Some(
                        g - (0..rows)
                            .filter(|k| k != i)
                            .map(|k| row_known[k].unwrap())
                            .sum::<u64>(),
                    );
                    progress = true;
                }
                let unknown: Vec<usize> = (0..cols).filter(|j| col_known[*j].is_none()).collect();
                if let [j] = unknown.as_slice() {
                    col_known[*j] = Some(
                        g - (0..cols)
                            .filter(|k| k != j)
                            .map(|k| col_known[k].unwrap())
                            .sum::<u64>(),
                    );
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        let mut out = Vec::new();
        for (i, (published, worked_out)) in c.cells.iter().zip(&known).enumerate() {
            for (j, (cell, value)) in published.iter().zip(worked_out).enumerate() {
                if *cell == Cell::Suppressed && value.is_some() {
                    out.push((i, j));
                }
            }
        }
        out
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn no_published_cell_is_1_to_4_and_no_suppressed_cell_can_be_derived() {
        let mut rng = Rng(0xd15c_105e_0000_0001);
        for case in 0..20_000 {
            let rows = 1 + (rng.next() % 9) as usize;
            let cols = 1 + (rng.next() % 7) as usize;
            // Small counts are common in these tables: many authorities have few IROs.
            let table: Vec<Vec<u64>> = (0..rows)
                .map(|_| {
                    (0..cols)
                        .map(|_| match rng.next() % 4 {
                            0 => 0,
                            1 => 1 + rng.next() % 4,
                            2 => 5 + rng.next() % 10,
                            _ => rng.next() % 60,
                        })
                        .collect()
                })
                .collect();
            let round_to = if case % 2 == 0 { 5 } else { 1 };
            // A third of the cases start with some row totals withheld, as when tables
            // that share row totals are made consistent.
            let forced: Vec<bool> = (0..rows)
                .map(|_| case % 3 == 0 && rng.next() % 5 == 0)
                .collect();
            let c = control_with_hidden_rows(&table, Rounding::all(round_to), &forced);
            for (r, f) in forced.iter().enumerate() {
                assert!(!f || c.row_totals[r] == Cell::Suppressed, "case {case}");
            }
            for (i, row) in c.cells.iter().enumerate() {
                for (j, cell) in row.iter().enumerate() {
                    if let Cell::Count(n) = cell {
                        assert!(!primary(*n), "case {case}: a {n} is published");
                        assert_eq!(*n, table[i][j]);
                    }
                }
            }
            for total in c
                .row_totals
                .iter()
                .chain(&c.column_totals)
                .chain([&c.total])
            {
                if let Cell::Count(n) = total {
                    assert!(!primary(*n), "case {case}: a total of {n} is published");
                    assert!(round_to == 1 || n % 5 == 0);
                }
            }
            let leaked = derivable(&c, &table);
            assert!(
                leaked.is_empty(),
                "case {case}: {leaked:?} can be derived from {table:?} -> {c:?}"
            );
        }
    }

    #[test]
    fn a_lone_small_count_takes_its_neighbours_with_it() {
        let c = control(&[vec![3, 10, 20], vec![12, 30, 40]], Rounding::all(1));
        assert_eq!(c.cells[0][0], Cell::Suppressed);
        // Its row and column would give it away: the smallest others go too.
        assert_eq!(c.cells[0][1], Cell::Suppressed);
        assert_eq!(c.cells[1][0], Cell::Suppressed);
        assert_eq!(c.cells[1][1], Cell::Suppressed);
        assert_eq!(c.cells[0][2], Cell::Count(20));
        assert_eq!(c.applied, vec![RULE_PRIMARY, RULE_SECONDARY]);
        // Zeros are shown: they are not small numbers of people.
        let z = control(&[vec![0, 10], vec![10, 20]], Rounding::all(5));
        assert_eq!(z.cells[0][0], Cell::Count(0));
        assert_eq!(z.total, Cell::Count(40));
        assert_eq!(z.applied, vec![RULE_ROUNDING]);
        assert_eq!(serde_json::to_string(&Cell::Suppressed).unwrap(), r#""c""#);
    }
}
