//! Statistics releases attacked as a NAIRO analyst would, on both databases: a quarter less
//! its shown months, a region less its shown authorities, registered less never-asked, and a
//! linear-programming audit written here from the published JSON alone (it shares no code
//! with the service's audit; the solver crate is the only thing in common). Then: a release
//! never changes once built, and its hash is a leaf that `log verify` checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::prelude::*;
use iro_advice_server::db::schema::{accounts, pressure_reports, queries, statistics_releases};
use microlp::{ComparisonOp, OptimizationDirection, Problem};
use serde_json::Value;

use crate::statistics::{nairo, release, seed, seed_args, stats_cli, table};
use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, json, unique_name, TestApp, PASSWORD};

both_databases!(
    releases_withstand_differencing_and_an_independent_audit,
    a_release_is_frozen_and_its_hash_is_a_leaf_that_log_verify_checks,
    a_quarter_whose_region_is_the_sum_of_its_shown_months_is_still_protected,
    a_nairo_nomination_counts_only_once_an_admin_approves_it,
);

/// Seed 19 of these settings once made the service give up on 2026-Q2 ("cannot be
/// protected"): an authority stood alone in the quarter but not in its months, and its
/// region's cell was already public as the sum of three shown months, so no number sharing
/// a count with the withheld cell was left to withhold. The protection must reach the
/// authority's siblings in the region instead.
async fn a_quarter_whose_region_is_the_sum_of_its_shown_months_is_still_protected(app: TestApp) {
    let out = stats_cli(
        &app,
        &[
            "demo",
            "seed",
            "--iros",
            "160",
            "--queries",
            "2000",
            "--from",
            "2026-05",
            "--until",
            "2026-12",
            "--seed",
            "19",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stats_cli(&app, &["stats", "release", "--period", "2026-Q2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("released 2026-Q2:"), "{printed}");
    // And the audit, run again over what was stored, finds every withheld number wide.
    let out = stats_cli(&app, &["stats", "audit"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The published tables of one period, by authority and by region.
struct Published {
    period: String,
    months: Vec<String>,
    by_authority: Value,
    by_region: Value,
}

fn months_of(period: &str) -> Vec<String> {
    match period.split_once("-Q") {
        Some((y, q)) => {
            let q: u32 = q.parse().unwrap();
            (0..3)
                .map(|i| format!("{y}-{:02}", (q - 1) * 3 + 1 + i))
                .collect()
        }
        None => vec![period.to_owned()],
    }
}

async fn fetch(app: &TestApp, token: &str, length: &str, from: &str, to: &str) -> Vec<Published> {
    let get = |by: &'static str| {
        let path = format!("/api/v1/stats/access?by={by}&period={length}&from={from}&to={to}");
        async move { json(app.get_auth(&path, token).await, 200).await }
    };
    let (a, r) = (get("authority").await, get("region").await);
    a["periods"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r["periods"].as_array().unwrap())
        .map(|(a, r)| {
            assert_eq!(a["period"], r["period"]);
            let period = a["period"].as_str().unwrap().to_owned();
            Published {
                months: months_of(&period),
                period,
                by_authority: a.clone(),
                by_region: r.clone(),
            }
        })
        .collect()
}

/// A published cell as a number, or None for `c`.
fn n(v: &Value) -> Option<u64> {
    v.as_u64()
}

const FLOWS: &[&str] = &[
    "queries_by_category",
    "queries_by_stage",
    "queries_by_outcome",
    "not_accepted_within_reminder_time",
    "declines_by_reason",
    "pressure_reports_by_kind",
];

/// The three differencing attacks of the issue, on every pair of levels published.
fn differencing(quarter: &Published, months: &[&Published]) -> Vec<String> {
    let mut recovered = Vec::new();
    // 1. A quarter less its shown months gives the one withheld month.
    for view in ["by_authority", "by_region"] {
        let q = match view {
            "by_authority" => &quarter.by_authority,
            _ => &quarter.by_region,
        };
        for measure in FLOWS {
            let qt = table(q, measure);
            for row in qt["rows"].as_array().unwrap() {
                let name = row["name"].as_str().unwrap();
                for (c, cell) in row["cells"].as_array().unwrap().iter().enumerate() {
                    let Some(total) = n(cell) else { continue };
                    let mut hidden = Vec::new();
                    let mut known = 0;
                    for m in months {
                        let mp = match view {
                            "by_authority" => &m.by_authority,
                            _ => &m.by_region,
                        };
                        let mrow = table(mp, measure)["rows"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|r| r["name"] == name);
                        match mrow.map(|r| &r["cells"][c]) {
                            Some(v) if n(v).is_some() => known += n(v).unwrap(),
                            _ => hidden.push(m.period.clone()),
                        }
                    }
                    if hidden.len() == 1 {
                        let value = total - known;
                        if (1..=4).contains(&value) {
                            recovered.push(format!(
                                "{} {name} {measure}[{c}] = {value} (quarter less months)",
                                hidden[0]
                            ));
                        }
                    }
                }
            }
        }
    }
    // 2. A region less its shown authorities (and group) gives the withheld one; 3.
    //    registered less never-asked gives the IROs who asked.
    for p in months.iter().copied().chain([quarter]) {
        for measure in FLOWS {
            let at = table(&p.by_authority, measure);
            let rt = table(&p.by_region, measure);
            for region in rt["rows"].as_array().unwrap() {
                let name = region["name"].as_str().unwrap();
                let members: Vec<&Value> = at["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["region"] == name)
                    .collect();
                for (c, cell) in region["cells"].as_array().unwrap().iter().enumerate() {
                    let Some(total) = n(cell) else { continue };
                    let hidden: Vec<&&Value> = members
                        .iter()
                        .filter(|r| n(&r["cells"][c]).is_none())
                        .collect();
                    if hidden.len() == 1 {
                        let known: u64 = members.iter().filter_map(|r| n(&r["cells"][c])).sum();
                        let value = total - known;
                        if (1..=4).contains(&value) {
                            recovered.push(format!(
                                "{} {} {measure}[{c}] = {value} (region less authorities)",
                                p.period, hidden[0]["name"]
                            ));
                        }
                    }
                }
            }
        }
        for view in [&p.by_authority, &p.by_region] {
            let reg = table(view, "registered_iros")["rows"].as_array().unwrap();
            let never = table(view, "registered_iros_never_asked")["rows"]
                .as_array()
                .unwrap();
            for (r, nv) in reg.iter().zip(never) {
                if let (Some(r0), Some(n0)) = (n(&r["cells"][0]), n(&nv["cells"][0])) {
                    if (1..=4).contains(&(r0 - n0)) {
                        recovered.push(format!(
                            "{} {} asked = {} (registered less never asked)",
                            p.period,
                            r["name"],
                            r0 - n0
                        ));
                    }
                }
            }
        }
    }
    recovered
}

/// The reader's unknowns: one authority's count of one thing (measure, column) in one
/// month, or its IROs who had / had not asked at a month's end.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Var {
    Flow(String, String, &'static str, usize),
    Asked(String, String),
    Never(String, String),
}

/// Everything published, as sums of unknowns: `lo ≤ Σ vars ≤ hi`.
struct Lp {
    rows: Vec<(Vec<Var>, f64, f64)>,
    ties: Vec<(Vec<Var>, Vec<Var>)>,
    at_most: Vec<(Vec<Var>, Vec<Var>)>,
    withheld: Vec<(String, Vec<Var>)>,
}

/// The attacker's model, built from the published JSON and the public list of
/// authorities alone.
fn model(published: &[&Published], authorities: &[(String, String)]) -> Lp {
    let mut lp = Lp {
        rows: Vec::new(),
        ties: Vec::new(),
        at_most: Vec::new(),
        withheld: Vec::new(),
    };
    let mut all_months = BTreeSet::new();
    for p in published {
        all_months.extend(p.months.iter().cloned());
        let own: BTreeSet<&str> = table(&p.by_authority, "registered_iros")["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["code"].as_str())
            .collect();
        let round = p.by_region["round_totals_to"].as_u64().unwrap_or(5);
        let last = p.months.last().unwrap().clone();
        let members = |row: &Value, national: bool| -> Vec<&str> {
            authorities
                .iter()
                .filter(|(code, region)| {
                    national
                        || match row["code"].as_str() {
                            Some(c) => c == code,
                            None if row["name"].as_str().unwrap().starts_with("Other ") => {
                                region == row["region"].as_str().unwrap()
                                    && !own.contains(code.as_str())
                            }
                            None => region == row["region"].as_str().unwrap(),
                        }
                })
                .map(|(c, _)| c.as_str())
                .collect()
        };
        for (view, rounded_rows) in [(&p.by_authority, false), (&p.by_region, true)] {
            for t in view["tables"].as_array().unwrap() {
                let measure = t["measure"].as_str().unwrap();
                let columns = t["columns"].as_array().unwrap().len();
                let vars = |codes: &[&str], column: Option<usize>| -> Vec<Var> {
                    let mut out = Vec::new();
                    for code in codes {
                        match measure {
                            "registered_iros" => {
                                out.push(Var::Asked(last.clone(), code.to_string()));
                                out.push(Var::Never(last.clone(), code.to_string()));
                            }
                            "registered_iros_never_asked" => {
                                out.push(Var::Never(last.clone(), code.to_string()))
                            }
                            _ => {
                                let m = FLOWS.iter().find(|f| **f == measure).unwrap();
                                for month in &p.months {
                                    for c in column.map_or(0..columns, |c| c..c + 1) {
                                        out.push(Var::Flow(month.clone(), code.to_string(), m, c));
                                    }
                                }
                            }
                        }
                    }
                    out
                };
                let mut put =
                    |what: String, cell: &Value, vars: Vec<Var>, rounded: bool| match n(cell) {
                        Some(v) if rounded => {
                            let half = (round / 2) as f64;
                            lp.rows.push((
                                vars,
                                v as f64 - half,
                                v as f64 - half + (round - 1) as f64,
                            ));
                        }
                        Some(v) => lp.rows.push((vars, v as f64, v as f64)),
                        None => lp.withheld.push((what, vars)),
                    };
                for row in t["rows"].as_array().unwrap() {
                    let codes = members(row, false);
                    let name = row["name"].as_str().unwrap();
                    for (c, cell) in row["cells"].as_array().unwrap().iter().enumerate() {
                        put(
                            format!("{} {name} {measure}[{c}]", p.period),
                            cell,
                            vars(&codes, Some(c)),
                            false,
                        );
                    }
                    put(
                        format!("{} {name} {measure} total", p.period),
                        &row["total"],
                        vars(&codes, None),
                        rounded_rows && round > 1,
                    );
                }
                let everyone = members(&Value::Null, true);
                for (c, cell) in t["totals"].as_array().unwrap().iter().enumerate() {
                    put(
                        format!("{} national {measure}[{c}]", p.period),
                        cell,
                        vars(&everyone, Some(c)),
                        round > 1,
                    );
                }
                put(
                    format!("{} national {measure} total", p.period),
                    &t["total"],
                    vars(&everyone, None),
                    round > 1,
                );
            }
        }
        // An authority has a row of its own exactly when it has 5 registered IROs.
        for (code, _) in authorities {
            let both = vec![
                Var::Asked(last.clone(), code.clone()),
                Var::Never(last.clone(), code.clone()),
            ];
            if own.contains(code.as_str()) {
                lp.rows.push((both, 5.0, f64::INFINITY));
            } else {
                lp.rows.push((both, 0.0, 4.0));
            }
        }
    }
    // The tables of queries count the same queries; one not accepted in time is one.
    let columns =
        |p: &Published, m: &str| table(&p.by_region, m)["columns"].as_array().unwrap().len();
    for month in all_months {
        for (code, _) in authorities {
            let p = published[0];
            let sum = |m: &'static str| -> Vec<Var> {
                (0..columns(p, m))
                    .map(|c| Var::Flow(month.clone(), code.clone(), m, c))
                    .collect()
            };
            let cat = sum(FLOWS[0]);
            lp.ties.push((cat.clone(), sum(FLOWS[1])));
            lp.ties.push((cat.clone(), sum(FLOWS[2])));
            lp.at_most.push((sum(FLOWS[3]), cat));
        }
    }
    lp
}

/// The least and greatest values of each withheld number, by linear programming.
fn audit(lp: &Lp, sample: usize) -> Vec<(String, f64, Option<f64>)> {
    // Unknowns that a shown zero pins are zero.
    let mut zero: BTreeSet<&Var> = BTreeSet::new();
    for (vars, lo, hi) in &lp.rows {
        if *lo <= 0.0 && *hi == 0.0 {
            zero.extend(vars.iter());
        }
    }
    let mut index: BTreeMap<&Var, usize> = BTreeMap::new();
    fn live<'a>(zero: &BTreeSet<&Var>, vars: &'a [Var]) -> Vec<&'a Var> {
        vars.iter().filter(|v| !zero.contains(v)).collect()
    }
    let mut constraints: Vec<(Vec<&Var>, Vec<&Var>, f64, f64)> = Vec::new();
    for (vars, lo, hi) in &lp.rows {
        constraints.push((live(&zero, vars), Vec::new(), *lo, *hi));
    }
    for (a, b) in &lp.ties {
        constraints.push((live(&zero, a), live(&zero, b), 0.0, 0.0));
    }
    for (a, b) in &lp.at_most {
        constraints.push((live(&zero, a), live(&zero, b), f64::NEG_INFINITY, 0.0));
    }
    for (plus, minus, _, _) in &constraints {
        for v in plus.iter().chain(minus) {
            let next = index.len();
            index.entry(v).or_insert(next);
        }
    }
    // Components, so that each programme holds only what touches the cell.
    let mut parent: Vec<usize> = (0..index.len()).collect();
    fn root(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (plus, minus, _, _) in &constraints {
        let ids: Vec<usize> = plus.iter().chain(minus).map(|v| index[v]).collect();
        for w in ids.windows(2) {
            let (a, b) = (root(&mut parent, w[0]), root(&mut parent, w[1]));
            parent[a] = b;
        }
    }
    let mut out = Vec::new();
    let step = (lp.withheld.len() / sample.max(1)).max(1);
    for (what, vars) in lp.withheld.iter().step_by(step).take(sample) {
        let target: Vec<usize> = live(&zero, vars)
            .iter()
            .filter_map(|v| index.get(v).copied())
            .collect();
        if target.is_empty() {
            out.push((what.clone(), 0.0, Some(0.0)));
            continue;
        }
        // Every component the number touches: its sum spans them all.
        let comps: BTreeSet<usize> = target.iter().map(|v| root(&mut parent, *v)).collect();
        let members: Vec<usize> = (0..index.len())
            .filter(|i| comps.contains(&root(&mut parent, *i)))
            .collect();
        let mut extremes = Vec::new();
        for direction in [
            OptimizationDirection::Minimize,
            OptimizationDirection::Maximize,
        ] {
            let mut problem = Problem::new(direction);
            let var: HashMap<usize, microlp::Variable> = members
                .iter()
                .map(|i| {
                    (
                        *i,
                        problem.add_var(
                            if target.contains(i) { 1.0 } else { 0.0 },
                            (0.0, f64::INFINITY),
                        ),
                    )
                })
                .collect();
            for (plus, minus, lo, hi) in &constraints {
                let terms: Vec<(microlp::Variable, f64)> = plus
                    .iter()
                    .map(|v| (index[v], 1.0))
                    .chain(minus.iter().map(|v| (index[v], -1.0)))
                    .filter_map(|(i, k)| var.get(&i).map(|x| (*x, k)))
                    .collect();
                if terms.is_empty() {
                    continue;
                }
                if lo == hi {
                    problem.add_constraint(terms, ComparisonOp::Eq, *lo);
                } else {
                    if lo.is_finite() {
                        problem.add_constraint(terms.clone(), ComparisonOp::Ge, *lo);
                    }
                    if hi.is_finite() {
                        problem.add_constraint(terms, ComparisonOp::Le, *hi);
                    }
                }
            }
            extremes.push(match problem.solve() {
                Ok(outcome) => Some(outcome.solution().unwrap().objective()),
                Err(microlp::Error::Unbounded) => None,
                Err(e) => panic!("{what}: {e}"),
            });
        }
        out.push((what.clone(), extremes[0].unwrap_or(0.0), extremes[1]));
    }
    out
}

/// Fixed data (seed 7 from May to November 2026, where a quarter once gave away a month
/// that grouped an authority with its neighbours), so that a failure is repeatable;
/// `IRO_ADVICE_TEST_SEED` tries other data and `IRO_ADVICE_TEST_SAMPLE` audits more of the
/// withheld numbers (120 by default), for a search by hand.
async fn releases_withstand_differencing_and_an_independent_audit(app: TestApp) {
    let chosen = std::env::var("IRO_ADVICE_TEST_SEED").unwrap_or_else(|_| "7".into());
    let (from, to) = ("2026-05".to_owned(), "2026-12".to_owned());
    seed_args(
        &app,
        &[
            "--iros",
            "120",
            "--queries",
            "1500",
            "--from",
            &from,
            "--until",
            &to,
            "--seed",
            &chosen,
        ],
    );
    let token = nairo(&app).await;
    let quarters = fetch(&app, &token, "quarter", &from, &to).await;
    let months = fetch(&app, &token, "month", &from, &to).await;
    let authorities: Vec<(String, String)> =
        json(app.get_auth("/api/v1/authorities", &token).await, 200)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["code"].as_str().unwrap().to_owned(),
                    a["region"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    // A quarter whose months were all seeded.
    let quarter = quarters
        .iter()
        .find(|q| q.months.iter().all(|m| m.as_str() >= from.as_str()))
        .expect("a whole quarter in the seed");
    let its_months: Vec<&Published> = months
        .iter()
        .filter(|m| quarter.months.contains(&m.period))
        .collect();
    assert_eq!(its_months.len(), 3);

    let recovered = differencing(quarter, &its_months);
    assert!(
        recovered.is_empty(),
        "recovered by differencing: {recovered:#?}"
    );

    let published: Vec<&Published> = its_months.iter().copied().chain([quarter]).collect();
    let lp = model(&published, &authorities);
    assert!(
        lp.withheld.len() > 20,
        "a small seed withholds cells: {}",
        lp.withheld.len()
    );
    let sample = std::env::var("IRO_ADVICE_TEST_SAMPLE").map_or(120, |s| s.parse().unwrap());
    let audited = audit(&lp, sample);
    let mut narrow = Vec::new();
    for (what, least, greatest) in &audited {
        let (lo, hi) = ((least - 1e-6).ceil(), greatest.map(|g| (g + 1e-6).floor()));
        // A withheld zero that can be worked out as zero discloses nothing a release does
        // not show anyway (zeros are published); anything else must keep 4 values.
        let zero = lo == 0.0 && hi == Some(0.0);
        if hi.is_some_and(|hi| hi - lo < 3.0) && !zero {
            narrow.push(format!("{what}: {lo} to {hi:?}"));
        }
    }
    assert!(
        narrow.is_empty(),
        "pinned to fewer than 4 values: {narrow:#?}"
    );
    // The attack has teeth: it bounds cells, and works out exactly a month's cell that the
    // quarter and the other months show, once that cell is marked withheld in a copy.
    assert!(
        audited.iter().any(|(_, _, g)| g.is_some()),
        "nothing was bounded"
    );
    let mut probe = None;
    let view_of = |p: &Published, authority: bool| -> Value {
        if authority {
            p.by_authority.clone()
        } else {
            p.by_region.clone()
        }
    };
    'search: for authority_view in [false, true] {
        for (i, m) in its_months.iter().enumerate() {
            for measure in FLOWS {
                let view = view_of(m, authority_view);
                let t = table(&view, measure);
                for (r, row) in t["rows"].as_array().unwrap().iter().enumerate() {
                    for (c, cell) in row["cells"].as_array().unwrap().iter().enumerate() {
                        if n(cell).is_none_or(|v| v == 0) {
                            continue;
                        }
                        let shown_in = |p: &Published| {
                            table(&view_of(p, authority_view), measure)["rows"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .find(|x| x["name"] == row["name"])
                                .is_some_and(|x| n(&x["cells"][c]).is_some())
                        };
                        if shown_in(quarter) && its_months.iter().all(|o| shown_in(o)) {
                            probe = Some((i, authority_view, *measure, r, c, n(cell).unwrap()));
                            break 'search;
                        }
                    }
                }
            }
        }
    }
    let (i, authority_view, measure, r, c, value) =
        probe.expect("a month cell the quarter and other months show");
    let mut copies: Vec<Published> = published
        .iter()
        .map(|p| Published {
            period: p.period.clone(),
            months: p.months.clone(),
            by_authority: p.by_authority.clone(),
            by_region: p.by_region.clone(),
        })
        .collect();
    let view = if authority_view {
        &mut copies[i].by_authority
    } else {
        &mut copies[i].by_region
    };
    let t = view["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["measure"] == measure)
        .unwrap();
    let name = format!(
        "{} {} {measure}[{c}]",
        its_months[i].period,
        t["rows"][r]["name"].as_str().unwrap()
    );
    t["rows"][r]["cells"][c] = Value::from("c");
    let refs: Vec<&Published> = copies.iter().collect();
    let mut probe_lp = model(&refs, &authorities);
    probe_lp.withheld.retain(|(what, _)| *what == name);
    let pinned = audit(&probe_lp, 1);
    assert_eq!(pinned.len(), 1);
    assert_eq!(pinned[0].1.round(), value as f64, "{pinned:?}");
    assert_eq!(
        pinned[0].2.map(f64::round),
        Some(value as f64),
        "{pinned:?}"
    );

    // The service's own audit agrees.
    let out = stats_cli(&app, &["stats", "audit", "--show", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit passed"));
}

async fn a_release_is_frozen_and_its_hash_is_a_leaf_that_log_verify_checks(app: TestApp) {
    let (from, to) = seed(&app, "60", "500");
    let token = nairo(&app).await;
    let path = format!("/api/v1/stats/access?by=authority&period=month&from={from}&to={to}");
    let before = json(app.get_auth(&path, &token).await, 200).await;
    let listed = json(app.get_auth("/api/v1/stats/releases", &token).await, 200).await;
    let listed = listed.as_array().unwrap();
    assert!(listed.len() >= 5, "{listed:?}");
    for r in listed {
        assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
        assert!(r["narrowest_width"].as_i64().is_none_or(|w| w >= 3), "{r}");
    }
    // Unreleased ended periods are listed, never computed: none here, all were built.
    assert_eq!(before["not_released"], Value::Array(vec![]));

    // Every open query of an old month closes now: no published number moves, and
    // nothing is rebuilt.
    let db = app.database();
    let mut conn = db.get().unwrap();
    let closed = diesel::update(queries::table.filter(queries::closed_at.is_null()))
        .set((
            queries::closed_at.eq(chrono::Utc::now().naive_utc()),
            queries::outcome.eq("advice_given"),
            queries::status.eq("closed"),
        ))
        .execute(&mut *conn)
        .unwrap();
    assert!(closed > 0);
    release(&app);
    let after = json(app.get_auth(&path, &token).await, 200).await;
    assert_eq!(before["periods"], after["periods"]);
    let relisted = json(app.get_auth("/api/v1/stats/releases", &token).await, 200).await;
    assert_eq!(relisted.as_array().unwrap().len(), listed.len());

    // The log carries each release's hash; a release changed in the database fails.
    let verify = stats_cli(&app, &["log", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains(&format!("{} statistics", listed.len()))
    );
    let first = listed[0]["period"].as_str().unwrap();
    let stored: String = statistics_releases::table
        .find(first)
        .select(statistics_releases::by_region)
        .first(&mut *conn)
        .unwrap();
    let edited = stored.replacen("\"c\"", "7", 1);
    assert_ne!(edited, stored, "the release withholds something to edit");
    diesel::update(statistics_releases::table.find(first))
        .set(statistics_releases::by_region.eq(&edited))
        .execute(&mut *conn)
        .unwrap();
    let verify = stats_cli(&app, &["log", "verify"]);
    assert!(!verify.status.success());
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(
        err.contains(&format!("release {first} does not match")),
        "{err}"
    );
}

/// NAIRO could once mint IROs in any authority and so lift a small one over the
/// five-IRO threshold, or plant counts it knows and subtract them. Its invitations are now
/// nominations: the account works, but it and everything it does count in a release only
/// from an admin's approval.
async fn a_nairo_nomination_counts_only_once_an_admin_approves_it(app: TestApp) {
    use chrono::Datelike;
    use iro_advice_model::accounts::Role;
    const AUTHORITY: &str = "E06000019";
    let admin = app.admin().await;
    let nairo = app.user(&admin, Role::Nairo, None, None).await;
    let mut iros = Vec::new();
    let mut emails = Vec::new();
    for (inviter, n) in [(&admin, 5), (&nairo, 4)] {
        for _ in 0..n {
            let email = format!("{}@iro.test", unique_name("iro"));
            emails.push(email.clone());
            let invitation = app
                .invite(
                    &inviter.access,
                    &serde_json::json!({"role": "iro", "email": email, "authority_code": AUTHORITY}),
                )
                .await;
            let created = app.sign_up(&invitation, PASSWORD).await;
            iros.push(created["id"].as_str().unwrap().to_owned());
        }
    }
    let (invited, nominated) = iros.split_at(5);

    let listed = json(app.get_auth("/api/v1/accounts", &admin.access).await, 200).await;
    let approved_at = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()["approved_at"]
            .clone()
    };
    for id in invited {
        assert!(
            approved_at(id).is_string(),
            "an admin's invitation is approved"
        );
    }
    for id in nominated {
        assert!(approved_at(id).is_null(), "a nomination waits");
    }
    // Until it is approved, a nomination sees itself and nothing else: no adviser list (with
    // its open-query counts), no query, no pressure report.
    let waiting = json(app.login(&emails[8], PASSWORD, None).await, 200).await;
    let waiting = waiting["access_token"].as_str().unwrap().to_owned();
    let me = json(app.get_auth("/api/v1/me", &waiting).await, 200).await;
    assert_eq!(me["awaiting_approval"], true, "{me}");
    let leaves = app.count("log_leaves");
    assert_problem(
        app.get_auth("/api/v1/advisers", &waiting).await,
        403,
        "awaiting-approval",
    )
    .await;
    let res = app
        .post_json(
            "/api/v1/pressure-reports",
            Some(&waiting),
            &serde_json::json!({"kind": "other", "occurred_on": "2026-11-02", "share_with_nairo": false}),
        )
        .await;
    assert_problem(res, 403, "awaiting-approval").await;
    assert_eq!(app.count("log_leaves"), leaves);

    // An admin approves two of the four; NAIRO cannot approve its own nominations.
    let approve = |id: &str| format!("/api/v1/accounts/{id}/approve");
    let res = app
        .post_json(
            &approve(&nominated[0]),
            Some(&nairo.access),
            &serde_json::json!({}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    for id in &nominated[..2] {
        let leaves = app.count("log_leaves");
        let res = app
            .post_json(&approve(id), Some(&admin.access), &serde_json::json!({}))
            .await;
        assert_eq!(res.status(), 204);
        assert_eq!(
            app.count("log_leaves"),
            leaves + 1,
            "the approval is a leaf"
        );
    }
    // Approving twice, or an admin's own invitee, or no one: refused, and nothing is logged.
    let leaves = app.count("log_leaves");
    for id in [nominated[0].as_str(), invited[0].as_str()] {
        let res = app
            .post_json(&approve(id), Some(&admin.access), &serde_json::json!({}))
            .await;
        assert_problem(res, 409, "already-approved").await;
    }
    let res = app
        .post_json(
            &approve(&uuid::Uuid::new_v4().to_string()),
            Some(&admin.access),
            &serde_json::json!({}),
        )
        .await;
    assert_problem(res, 404, "not-found").await;
    assert_eq!(app.count("log_leaves"), leaves);

    // All nine registered, were approved (where they were) and reported pressure last
    // month; the month's release counts the seven approved and their reports only.
    let today = chrono::Utc::now().date_naive();
    let last_month = (today.with_day(1).unwrap() - chrono::Duration::days(1))
        .with_day(10)
        .unwrap();
    let registered = last_month.and_hms_opt(9, 0, 0).unwrap();
    let db = app.database();
    let mut conn = db.get().unwrap();
    for id in &iros {
        let at: Option<chrono::NaiveDateTime> = accounts::table
            .find(id)
            .select(accounts::approved_at)
            .first(&mut *conn)
            .unwrap();
        diesel::update(accounts::table.find(id))
            .set((
                accounts::created_at.eq(registered),
                accounts::approved_at.eq(at.map(|_| registered)),
            ))
            .execute(&mut *conn)
            .unwrap();
        diesel::insert_into(pressure_reports::table)
            .values((
                pressure_reports::id.eq(uuid::Uuid::new_v4().to_string()),
                pressure_reports::iro_id.eq(id),
                pressure_reports::authority_code.eq(AUTHORITY),
                pressure_reports::kind.eq("discouraged_from_advice"),
                pressure_reports::occurred_on.eq(last_month),
                pressure_reports::shared_with_nairo.eq(false),
                pressure_reports::created_at.eq(registered + chrono::Duration::days(1)),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    release(&app);
    let month = last_month.format("%Y-%m").to_string();
    let report = json(
        app.get_auth(
            &format!("/api/v1/stats/access?by=authority&period=month&from={month}&to={month}"),
            &nairo.access,
        )
        .await,
        200,
    )
    .await;
    let period = &report["periods"][0];
    assert_eq!(period["period"], month.as_str());
    let cell = |measure: &str, column: usize| {
        table(period, measure)["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == AUTHORITY)
            .unwrap_or_else(|| panic!("{AUTHORITY} has no row in {measure}: {period}"))["cells"]
            [column]
            .clone()
    };
    assert_eq!(cell("registered_iros", 0), 7);
    assert_eq!(cell("registered_iros_never_asked", 0), 7);
    assert_eq!(cell("pressure_reports_by_kind", 0), 7);
}
