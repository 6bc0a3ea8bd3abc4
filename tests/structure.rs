//! The shape of the code, checked from the manifests and the source: the workspace's crates
//! depend only on crates below them, and inside the server no module imports from a layer
//! above its own, nor one that imports it back.
//!
//! Crates, bottom to top: `tlog` (transparency-log parts), `model` (the vocabulary), `api`
//! (the wire), then `client` and `witness` side by side, `server`, `testkit`, and the binary.
//!
//! Server modules, bottom to top: plumbing (`config`, `db`, `keys`, `tls`, `telemetry`), the
//! log and mail, the write transaction and the authorities table, accounts, queries and
//! pressure reports, statistics, the web application and the operator's tools, and on top
//! the HTTP edge: `http` and every feature's `handlers`. Only the edge names `actix_web`.
//!
//! Every file is a module. A module depends on another when it names it through `crate::…`
//! or `super::…` (in a `use` or inline) outside its test module; a `mod` declaration is not a
//! dependency. A path resolves to the longest module it starts with.

// Tests stop at the first surprise.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's crates by layer; a crate may depend only on crates of lower layers.
const CRATE_LAYERS: &[(&str, u8)] = &[
    ("iro-advice-tlog", 0),
    ("iro-advice-model", 1),
    ("iro-advice-api", 2),
    ("iro-advice-client", 3),
    ("iro-advice-witness", 3),
    ("iro-advice-server", 4),
    ("iro-advice-testkit", 5),
    ("iro-advice", 6),
];

/// What the layers below the server must never link: a database or an HTTP server. (The
/// model's `diesel` feature is optional and only the server turns it on.)
const SERVER_ONLY: &[&str] = &["diesel", "diesel_migrations", "actix-web"];
const BELOW_THE_SERVER: &[&str] = &[
    "iro-advice-tlog",
    "iro-advice-model",
    "iro-advice-api",
    "iro-advice-client",
];

/// Server modules by layer, by their first path segment; `http` and any `handlers` module
/// are the edge, above everything.
const MODULE_LAYERS: &[(&str, u8)] = &[
    ("config", 0),
    ("db", 0),
    ("keys", 0),
    ("tls", 0),
    ("telemetry", 0),
    ("log", 1),
    ("mail", 1),
    ("tx", 2),
    ("authorities", 2),
    ("accounts", 3),
    ("queries", 4),
    ("pressure", 4),
    ("statistics", 5),
    ("web", 6),
    ("backup", 6),
    ("demo", 6),
];
const EDGE: u8 = 7;

type Module = Vec<String>;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// --- crates ---

/// `(crate, dependency, kind, optional)` for every dependency of every workspace crate.
fn crate_dependencies() -> Vec<(String, String, String, bool)> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut deps = Vec::new();
    for package in meta["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        for d in package["dependencies"].as_array().unwrap() {
            deps.push((
                name.to_owned(),
                d["name"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap_or("normal").to_owned(),
                d["optional"].as_bool().unwrap_or(false),
            ));
        }
    }
    deps
}

fn crate_layer(name: &str) -> Option<u8> {
    CRATE_LAYERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| *l)
}

/// The dependencies that break the layering: onto a crate of the same or a higher layer,
/// or onto what only the server may link.
fn crate_violations(deps: &[(String, String, String, bool)]) -> Vec<String> {
    let mut out = Vec::new();
    for (krate, dep, kind, optional) in deps {
        if let (Some(from), Some(to)) = (crate_layer(krate), crate_layer(dep)) {
            if to >= from {
                out.push(format!(
                    "{krate} depends on {dep} ({kind}), which is not below it"
                ));
            }
        }
        if BELOW_THE_SERVER.contains(&krate.as_str())
            && SERVER_ONLY.contains(&dep.as_str())
            && kind == "normal"
            && !optional
        {
            out.push(format!("{krate} links {dep}, which only the server may"));
        }
    }
    out
}

#[test]
fn every_crate_depends_only_on_crates_below_it() {
    let deps = crate_dependencies();
    let named: BTreeSet<&str> = deps.iter().map(|(k, ..)| k.as_str()).collect();
    let layered: BTreeSet<&str> = CRATE_LAYERS.iter().map(|(n, _)| *n).collect();
    assert_eq!(named, layered, "a crate is missing from CRATE_LAYERS");
    // The check sees real edges: the server does depend on the model.
    assert!(deps
        .iter()
        .any(|(k, d, ..)| k == "iro-advice-server" && d == "iro-advice-model"));
    let violations = crate_violations(&deps);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_crate_check_finds_an_upward_or_sideways_dependency() {
    let dep = |k: &str, d: &str| (k.to_owned(), d.to_owned(), "normal".to_owned(), false);
    assert!(crate_violations(&[dep("iro-advice-server", "iro-advice-model")]).is_empty());
    assert_eq!(
        crate_violations(&[dep("iro-advice-model", "iro-advice-server")]).len(),
        1
    );
    assert_eq!(
        crate_violations(&[dep("iro-advice-client", "iro-advice-witness")]).len(),
        1
    );
    assert_eq!(
        crate_violations(&[dep("iro-advice-client", "diesel")]).len(),
        1
    );
    let optional = (
        "iro-advice-model".to_owned(),
        "diesel".to_owned(),
        "normal".to_owned(),
        true,
    );
    assert!(crate_violations(&[optional]).is_empty());
}

// --- the server's modules ---

fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let mut parts: Module = relative
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            out.insert(parts, without_tests_and_comments(&text));
        }
    }
    out
}

/// The code before the file's test module (always last in a file here), without comments.
fn without_tests_and_comments(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let close = tree.rfind('}').expect("a closing brace");
    let prefix = &tree[..open];
    let mut parts = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for c in tree[open + 1..close].chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p))
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// Every `crate::`/`super::` path a module's code names.
fn named_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for statement in code.split(';') {
        let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(i) = statement.find("use ") {
            let tree = statement[i + 4..].trim();
            if tree.starts_with("crate::") || tree.starts_with("super::") {
                paths.extend(expand(tree));
            }
        }
    }
    for root in ["crate::", "super::"] {
        for at in word_starts(code, root) {
            let end = code[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            // `crate::a::{…}` is a use tree, read above.
            if !code[at..end].ends_with("::") {
                paths.push(code[at..end].to_owned());
            }
        }
    }
    paths
}

/// Where `needle` starts a path: not inside a longer name or path.
fn word_starts<'a>(code: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(needle)
        .map(|(at, _)| at)
        .filter(move |&at| {
            at == 0 || {
                let before = code.as_bytes()[at - 1];
                !(before.is_ascii_alphanumeric() || before == b'_' || before == b':')
            }
        })
}

fn resolve(module: &Module, path: &str, known: &BTreeMap<Module, String>) -> Option<Module> {
    let segments: Vec<&str> = path
        .split("::")
        .map(|s| s.split(" as ").next().unwrap_or(s).trim())
        .filter(|s| !s.is_empty() && *s != "self")
        .collect();
    let mut full: Module = Vec::new();
    match segments.first() {
        Some(&"crate") => full.extend(segments[1..].iter().map(|s| s.to_string())),
        Some(&"super") => {
            // `super` from a directory's `mod.rs` is the directory's parent.
            let mut base = module.clone();
            let mut rest = &segments[..];
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
            full = base;
            full.extend(rest.iter().map(|s| s.to_string()));
        }
        _ => return None,
    }
    (1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|candidate| known.contains_key(candidate))
        .filter(|target| target != module)
}

fn dependencies(src: &Path) -> (BTreeMap<Module, String>, BTreeMap<Module, BTreeSet<Module>>) {
    let known = modules(src);
    let graph = known
        .iter()
        .map(|(module, code)| {
            let mut deps: BTreeSet<Module> = named_paths(code)
                .iter()
                .filter_map(|p| resolve(module, p, &known))
                .collect();
            // A module also names its own children by their bare names (`store::find`).
            for child in known
                .keys()
                .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            {
                let bare = format!("{}::", child[module.len()]);
                if word_starts(code, &bare).next().is_some() {
                    deps.insert(child.clone());
                }
            }
            (module.clone(), deps)
        })
        .collect();
    (known, graph)
}

fn server_graph() -> (BTreeMap<Module, String>, BTreeMap<Module, BTreeSet<Module>>) {
    dependencies(&workspace().join("crates/server/src"))
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "lib".to_owned()
    } else {
        m.join("::")
    }
}

/// A module's layer: the edge for `http` and any `handlers`, else its feature's.
fn layer(m: &Module) -> Option<u8> {
    if m.is_empty() {
        return Some(EDGE);
    }
    if m[0] == "http" || m.iter().any(|s| s == "handlers") {
        return Some(EDGE);
    }
    MODULE_LAYERS
        .iter()
        .find(|(n, _)| *n == m[0])
        .map(|(_, l)| *l)
}

/// The imports that reach up a layer.
fn upward(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let mut out = Vec::new();
    for (module, deps) in graph {
        let Some(from) = layer(module) else { continue };
        for dep in deps {
            let Some(to) = layer(dep) else { continue };
            if to > from {
                out.push(format!(
                    "{} (layer {from}) imports {} (layer {to})",
                    name(module),
                    name(dep)
                ));
            }
        }
    }
    out
}

/// A cycle through `start`, if there is one, as the modules along it.
fn cycle_from(start: &Module, graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn every_server_module_has_a_layer() {
    let (known, _) = server_graph();
    assert!(known.len() > 50, "the source tree was not read");
    let unlayered: Vec<String> = known
        .keys()
        .filter(|m| layer(m).is_none())
        .map(name)
        .collect();
    assert!(
        unlayered.is_empty(),
        "modules with no layer: {}",
        unlayered.join(", ")
    );
}

#[test]
fn no_server_module_imports_from_a_layer_above_its_own() {
    let (_, graph) = server_graph();
    // The check sees real edges: handlers do reach down into their services.
    assert!(graph[&vec![
        "queries".to_owned(),
        "handlers".to_owned(),
        "ask".to_owned()
    ]]
        .contains(&vec!["queries".to_owned(), "service".to_owned()]));
    let up = upward(&graph);
    assert!(up.is_empty(), "upward imports:\n{}", up.join("\n"));
}

#[test]
fn only_the_edge_speaks_http() {
    let (known, _) = server_graph();
    let speaking: Vec<String> = known
        .iter()
        .filter(|(m, code)| layer(m) != Some(EDGE) && code.contains("actix_web"))
        .map(|(m, _)| name(m))
        .collect();
    assert!(
        speaking.is_empty(),
        "below the HTTP edge, these name actix_web: {}",
        speaking.join(", ")
    );
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for src in ["crates/server/src", "crates/client/src", "crates/tlog/src"] {
        let (known, graph) = dependencies(&workspace().join(src));
        assert!(!known.is_empty(), "{src} was not read");
        let cycles: Vec<String> = graph
            .keys()
            .filter_map(|module| {
                cycle_from(module, &graph).map(|cycle| {
                    let mut names: Vec<String> = cycle.iter().map(name).collect();
                    names.push(name(module));
                    names.join(" → ")
                })
            })
            .collect();
        assert!(
            cycles.is_empty(),
            "{src}: import cycles:\n{}",
            cycles.join("\n")
        );
    }
}

#[test]
fn only_the_server_knows_the_routes() {
    let (_, graph) = server_graph();
    let routes = vec!["http".to_owned(), "routes".to_owned()];
    let server = vec!["http".to_owned(), "server".to_owned()];
    for (module, deps) in &graph {
        if deps.contains(&routes) {
            assert_eq!(module, &server, "{} imports the route table", name(module));
        }
    }
    assert!(graph[&server].contains(&routes));
}

#[test]
fn the_layer_check_finds_an_upward_import() {
    let m = |path: &str| path.split("::").map(str::to_owned).collect::<Module>();
    let graph = BTreeMap::from([
        (m("accounts::store"), BTreeSet::from([m("db")])),
        (m("log::store"), BTreeSet::from([m("queries::service")])),
        (
            m("queries::handlers::ask"),
            BTreeSet::from([m("queries::service")]),
        ),
    ]);
    assert_eq!(
        upward(&graph),
        vec!["log::store (layer 1) imports queries::service (layer 4)"]
    );
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let a = vec!["a".to_owned()];
    let b = vec!["b".to_owned()];
    let graph = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(cycle_from(&a, &graph), Some(vec![a, b]));
}

#[test]
fn use_trees_expand_to_every_path() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e}}"),
        vec!["crate::a::b", "crate::a::c::d", "crate::a::c::e"]
    );
}
