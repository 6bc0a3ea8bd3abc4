//! The web application's message catalogues: every message in English has its Welsh, with
//! the same values put into it, and no Welsh message is English left in place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// Messages the same in both languages on purpose: an organisation's name, and the mark of a
/// withheld number (the ONS convention, kept in Welsh releases too).
const SAME_IN_BOTH: &[&str] = &["roles.nairo", "withheldMark"];

fn catalogue(lang: &str) -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("web/messages/{lang}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{lang}.json: {e}"));
    let mut out = BTreeMap::new();
    flatten("", &value, &mut out);
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => panic!("{prefix}: a message must be text, not {other}"),
    }
}

/// The names of the values an ICU message takes: `{name}`, `{count, plural, …}`.
fn arguments(message: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = message.as_bytes();
    for (i, _) in message.match_indices('{') {
        let rest = &message[i + 1..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = rest.trim_start()[name.len()..].trim_start();
        let is_argument = !name.is_empty()
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && (after.starts_with('}') || after.starts_with(','));
        // An apostrophe before a brace quotes it (ICU): not an argument.
        let quoted = i > 0 && bytes[i - 1] == b'\'';
        if is_argument && !quoted {
            found.insert(name);
        }
    }
    found
}

/// Whether a message has words of its own, outside the values put into it.
fn words(message: &str) -> bool {
    let mut depth = 0;
    message.chars().any(|c| {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => return depth == 0 && c.is_alphabetic(),
        }
        false
    })
}

#[test]
fn every_message_exists_in_english_and_welsh() {
    let (en, cy) = (catalogue("en"), catalogue("cy"));
    let only_en: Vec<_> = en.keys().filter(|k| !cy.contains_key(*k)).collect();
    let only_cy: Vec<_> = cy.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(only_en.is_empty(), "messages with no Welsh: {only_en:?}");
    assert!(
        only_cy.is_empty(),
        "Welsh messages with no English: {only_cy:?}"
    );
}

#[test]
fn english_and_welsh_messages_take_the_same_values() {
    let (en, cy) = (catalogue("en"), catalogue("cy"));
    let differ: Vec<_> = en
        .iter()
        .filter_map(|(k, e)| {
            let c = cy.get(k)?;
            (arguments(e) != arguments(c))
                .then(|| format!("{k}: {:?} / {:?}", arguments(e), arguments(c)))
        })
        .collect();
    assert!(differ.is_empty(), "{differ:#?}");
}

#[test]
fn no_welsh_message_is_english_left_in_place() {
    let (en, cy) = (catalogue("en"), catalogue("cy"));
    let untranslated: Vec<_> = en
        .iter()
        .filter(|(k, e)| cy.get(*k) == Some(e) && !SAME_IN_BOTH.contains(&k.as_str()) && words(e))
        .map(|(k, _)| k)
        .collect();
    assert!(
        untranslated.is_empty(),
        "Welsh messages still in English: {untranslated:?}"
    );
}

#[test]
fn arguments_are_read_from_icu_messages() {
    assert_eq!(
        arguments("Entry {index}"),
        BTreeSet::from(["index".to_owned()])
    );
    assert_eq!(
        arguments("{count, plural, one {# query} other {# queries}} for {name}"),
        BTreeSet::from(["count".to_owned(), "name".to_owned()])
    );
    assert!(arguments("no values here").is_empty());
}

/// Every problem the service can report has its message in both languages, so that a Welsh
/// page never falls back to the service's English `detail`.
#[test]
fn every_problem_the_service_reports_has_a_message_in_both_languages() {
    for lang in ["en", "cy"] {
        let messages = catalogue(lang);
        let missing: Vec<&str> = iro_advice_model::problem::ProblemType::ALL
            .iter()
            .map(|p| p.slug())
            .filter(|slug| !messages.contains_key(&format!("problems.{slug}")))
            .collect();
        assert!(
            missing.is_empty(),
            "{lang}.json has no message for {missing:?}"
        );
    }
}
