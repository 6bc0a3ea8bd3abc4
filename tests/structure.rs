//! The shape of the code, checked from its source: dependencies among `src/` modules run one
//! way (`server → routes → handlers → services → app/db`), with no import cycle.
//!
//! Every file is a module. A module depends on another when it names it through `crate::…`
//! or `super::…` (in a `use` or inline) outside its test module; a `mod` declaration is not a
//! dependency. A path resolves to the longest module it starts with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

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
            if parts == ["main"] {
                continue;
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
    let full: Module = match segments.first() {
        Some(&"crate") => segments[1..].iter().map(|s| s.to_string()).collect(),
        Some(&"super") => module[..module.len().saturating_sub(1)]
            .iter()
            .cloned()
            .chain(segments[1..].iter().map(|s| s.to_string()))
            .collect(),
        _ => return None,
    };
    (1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|candidate| known.contains_key(candidate))
        .filter(|target| target != module)
}

fn dependencies() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    known
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
        .collect()
}

fn name(m: &Module) -> String {
    m.join("::")
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
fn no_module_imports_one_that_imports_it_back() {
    let graph = dependencies();
    assert!(graph.len() > 50, "the source tree was not read");
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
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn only_the_server_knows_the_routes_and_only_the_command_line_knows_the_server() {
    let graph = dependencies();
    let routes = vec!["routes".to_owned()];
    let server = vec!["server".to_owned()];
    for (module, deps) in &graph {
        if deps.contains(&routes) {
            assert_eq!(module, &server, "{} imports the route table", name(module));
        }
        if deps.contains(&server) {
            assert_eq!(name(module), "cli", "{} imports the server", name(module));
        }
    }
    // The check itself sees real edges: the server does use the route table.
    assert!(graph[&server].contains(&routes));
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
