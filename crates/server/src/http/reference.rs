//! The HTTP API's reference for the book, rendered from the OpenAPI document: every
//! operation with who may call it, its parameters, its body and its answers, then every
//! schema's fields. `iro-advice openapi markdown` writes `book/src/api/reference.md`; a test
//! fails when the committed file is not what it writes.

use serde_json::Value;

/// The whole reference, as Markdown.
pub fn markdown(doc: &Value) -> String {
    let mut out = String::from(
        "# OpenAPI reference\n\n<!-- Written by `iro-advice openapi markdown` from the service's \
         OpenAPI document: do not edit by hand. -->\n\n",
    );
    if let Some(description) = doc["info"]["description"].as_str() {
        out.push_str(&format!(
            "{description} The document itself is served at `GET /api/v1/openapi.json` \
             (version {}). Every refusal is `application/problem+json` \
             ([`Problem`](#problem)).\n\n",
            doc["info"]["version"].as_str().unwrap_or("")
        ));
    }
    out.push_str("## Operations\n");
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            out.push_str(&operation_section(path, method, operation));
        }
    }
    out.push_str("\n## Schemas\n");
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        out.push_str(&schema_section(name, schema));
    }
    out
}

fn operation_section(path: &str, method: &str, operation: &Value) -> String {
    let mut out = format!("\n### `{} {path}`\n\n", method.to_uppercase());
    if let Some(summary) = operation["summary"].as_str() {
        out.push_str(&format!("{}\n\n", one_paragraph(summary)));
    }
    if let Some(description) = operation["description"].as_str() {
        out.push_str(&format!("{}\n\n", one_paragraph(description)));
    }
    if let Some(who) = operation["x-access"].as_str() {
        out.push_str(&format!("**Who:** {who}.\n\n"));
    }
    let parameters = operation["parameters"].as_array();
    if parameters.is_some_and(|p| !p.is_empty()) {
        out.push_str("| parameter | in | type | required | meaning |\n|---|---|---|---|---|\n");
        for p in parameters.into_iter().flatten() {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                p["name"].as_str().unwrap_or(""),
                p["in"].as_str().unwrap_or(""),
                brief(&p["schema"]),
                if p["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                cell(p["description"].as_str().unwrap_or("")),
            ));
        }
        out.push('\n');
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for (media, body) in content {
            out.push_str(&format!(
                "**Body** (`{media}`): {}\n\n",
                brief(&body["schema"])
            ));
        }
    }
    out.push_str("| answer | meaning | body |\n|---|---|---|\n");
    for (status, response) in operation["responses"].as_object().into_iter().flatten() {
        let body = response["content"]
            .as_object()
            .and_then(|c| c.values().next())
            .map_or(String::new(), |c| brief(&c["schema"]));
        out.push_str(&format!(
            "| {status} | {} | {body} |\n",
            cell(response["description"].as_str().unwrap_or(""))
        ));
    }
    out
}

fn schema_section(name: &str, schema: &Value) -> String {
    let mut out = format!("\n### {name}\n\n");
    if let Some(description) = schema["description"].as_str() {
        out.push_str(&format!("{}\n\n", one_paragraph(description)));
    }
    match schema["properties"].as_object() {
        Some(properties) => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            out.push_str("| field | type | required | meaning |\n|---|---|---|---|\n");
            for (field, property) in properties {
                out.push_str(&format!(
                    "| `{field}` | {} | {} | {} |\n",
                    brief(property),
                    if required.contains(&field.as_str()) {
                        "yes"
                    } else {
                        "no"
                    },
                    cell(property["description"].as_str().unwrap_or("")),
                ));
            }
        }
        None => out.push_str(&format!("{}\n", brief(schema))),
    }
    out
}

/// A schema in a few words: a link for a named one, values for a closed list.
fn brief(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or("");
        return format!("[`{name}`](#{})", name.to_lowercase());
    }
    if let Some(value) = schema.get("const") {
        return format!("`{value}`");
    }
    if let Some(values) = schema["enum"].as_array() {
        if values.len() > 12 {
            return format!("one of {} values", values.len());
        }
        let shown: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        return shown.join(", ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(parts) = schema[key].as_array() {
            let parts: Vec<String> = parts.iter().map(brief).collect();
            return parts.join(" or ");
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let parts: Vec<String> = parts.iter().map(brief).collect();
        return parts.join(" and ");
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let shown: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => format!("array of {}", brief(&schema["items"])),
            "string" => match schema["format"].as_str() {
                Some(format) => format!("string ({format})"),
                None => "string".to_owned(),
            },
            other => other.to_owned(),
        })
        .collect();
    if shown.is_empty() {
        "any".to_owned()
    } else {
        shown.join(" or ")
    }
}

fn one_paragraph(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    one_paragraph(text)
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_are_named_briefly_and_tables_stay_tables() {
        assert_eq!(
            brief(&json!({"$ref": "#/components/schemas/QueryView"})),
            "[`QueryView`](#queryview)"
        );
        assert_eq!(
            brief(&json!({"type": ["string", "null"], "format": "date-time"})),
            "string (date-time) or null"
        );
        assert_eq!(
            brief(&json!({"type": "array", "items": {"enum": ["a", "b"]}})),
            "array of `\"a\"`, `\"b\"`"
        );
        assert_eq!(cell("a | b <c>\n d"), "a \\| b &lt;c&gt; d");
    }

    #[test]
    fn the_book_holds_the_reference_of_this_build() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../book/src/api/reference.md"
        );
        let written = markdown(&crate::http::routes::openapi());
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == written,
            "book/src/api/reference.md is stale: run `cargo run -- openapi markdown > book/src/api/reference.md`"
        );
        assert!(written.contains("### `POST /api/v1/queries`"));
        assert!(written.contains("**Who:** iro."));
    }
}
