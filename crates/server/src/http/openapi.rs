//! The refusals every route can answer with, added to the OpenAPI document from the route
//! table and the closed set of problem types, so the document cannot drift from what the
//! service does: 401 wherever a token is needed, 403 wherever roles or a second factor are,
//! 400/413/415 wherever a JSON body is read, 404 wherever a path names a record, 503
//! wherever the database is asked, every error as `application/problem+json`.

use serde_json::{json, Map, Value};

use crate::http::access::Access;
use crate::http::error::PROBLEM_JSON;
use iro_advice_model::problem::ProblemType;

/// What the document needs to know about one route.
pub struct RouteFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub access: Access,
    /// Whether the route reads the database (all but liveness and this document).
    pub uses_database: bool,
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

/// The statuses a route may refuse with, whatever its handler does.
fn refusals(route: &RouteFacts<'_>, operation: &Value) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let reads_json = operation
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
        .is_some_and(|c| c.contains_key("application/json"));
    let has_body = operation.get("requestBody").is_some();
    let has_query = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    if reads_json || has_query || has_body {
        out.push((
            "400",
            "The request is malformed; the problem's detail says how.",
        ));
    }
    if route.access != Access::Public {
        out.push(("401", "A valid access token is required."));
    }
    if matches!(route.access, Access::Roles(_)) {
        out.push((
            "403",
            "This account may not do that, or must enrol a second factor first.",
        ));
    } else if !matches!(
        route.method,
        "get" | "head" | "options" | "GET" | "HEAD" | "OPTIONS"
    ) {
        // The web application's session cookie without its header: refused on every route.
        out.push((
            "403",
            "The web application's session cookie came without its X-IRO-Advice-Client header.",
        ));
    }
    if route.path.contains('{') {
        out.push((
            "404",
            "No such record, or not one the caller may see (the two are alike).",
        ));
    }
    if has_body {
        out.push(("413", "The request body is larger than this route accepts."));
    }
    if reads_json {
        out.push(("415", "The request body must be application/json."));
    }
    if route.uses_database {
        out.push(("503", "The database is not available; try again shortly."));
    }
    out
}

/// Adds each route's refusals, and serves every error as a problem document.
pub fn complete(doc: &mut Value, routes: &[RouteFacts<'_>]) {
    for route in routes {
        let pointer = format!(
            "/paths/{}/{}",
            route.path.replace('~', "~0").replace('/', "~1"),
            route.method.to_lowercase()
        );
        let Some(operation) = doc.pointer_mut(&pointer) else {
            continue;
        };
        if let Some(o) = operation.as_object_mut() {
            o.insert("x-access".to_owned(), json!(who(route.access)));
        }
        let added = refusals(route, operation);
        let responses = operation
            .as_object_mut()
            .map(|o| o.entry("responses").or_insert_with(|| json!({})));
        let Some(Value::Object(responses)) = responses else {
            continue;
        };
        for (status, description) in added {
            responses
                .entry(status)
                .or_insert_with(|| problem_response(description));
        }
        for (status, response) in responses.iter_mut() {
            if status.starts_with('4') || status.starts_with('5') {
                as_problem(response);
            }
        }
    }
    describe_problem_types(doc);
    tighten(doc);
}

/// Who may call a route, in words: the document's `x-access`, which the HTTP reference shows.
fn who(access: Access) -> String {
    match access {
        Access::Public => "anyone".to_owned(),
        Access::Enrolling => "any account, before enrolling a second factor too".to_owned(),
        Access::Roles(roles) if roles.len() == Access::ANY_ACCOUNT_ROLES => {
            "any account".to_owned()
        }
        Access::Roles(roles) => roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Request schemas as strict as the service, where JSON Schema can say it: which fields an
/// invitation needs for each role, the authority codes that exist, the lengths of names and
/// passwords, the shape of age keys and files.
fn tighten(doc: &mut Value) {
    let codes: Vec<Value> = iro_advice_model::authorities::all()
        .iter()
        .map(|a| json!(a.code))
        .collect();
    let authority = json!({"type": "string", "enum": codes});
    let email = json!({"type": "string", "format": "email", "maxLength": 254});
    let schemas = "/components/schemas";
    set(
        doc,
        &format!("{schemas}/InvitationRequest"),
        json!({
            "description": "Who to invite. An IRO needs the ONS code of the authority that employs \
                            them; an adviser a kind, and a peer adviser also their authority; NAIRO \
                            reviewers and admins neither.",
            "oneOf": [
                invitation(&email, "iro", Some(&authority), None),
                invitation(&email, "adviser", None, Some("solicitor")),
                invitation(&email, "adviser", Some(&authority), Some("peer")),
                invitation(&email, "nairo", None, None),
                invitation(&email, "admin", None, None),
            ]
        }),
    );
    set(
        doc,
        &format!("{schemas}/AccountRequest/properties/password"),
        json!({
            "type": "string",
            "minLength": iro_advice_model::accounts::MIN_PASSWORD_CHARS,
            "maxLength": 256,
            "description": "At least 12 characters, and not the email address."
        }),
    );
    set(
        doc,
        &format!("{schemas}/AccountRequest/properties/display_name"),
        display_name(),
    );
    set(
        doc,
        &format!("{schemas}/AccountRequest/properties/notification_email"),
        email.clone(),
    );
    set(
        doc,
        &format!("{schemas}/ConflictsRequest/properties/authority_codes"),
        json!({"type": "array", "items": authority, "uniqueItems": false}),
    );
    set(
        doc,
        &format!("{schemas}/KeyRequest/properties/age_recipient"),
        json!({
            "type": "string",
            "pattern": "^age1[02-9ac-hj-np-z]{58}$",
            "description": "An age X25519 recipient."
        }),
    );
    for (schema, field, max) in [
        (
            "AskRequest",
            "body",
            iro_advice_model::ciphertext::MAX_ARMORED,
        ),
        (
            "MessageRequest",
            "body",
            iro_advice_model::ciphertext::MAX_ARMORED,
        ),
        (
            "ReencryptedMessage",
            "body",
            iro_advice_model::ciphertext::MAX_ARMORED,
        ),
        (
            "ReportRequest",
            "narrative",
            iro_advice_model::ciphertext::MAX_ARMORED,
        ),
        // A wrapped identity is a few hundred bytes; its route takes small bodies only.
        ("KeyRequest", "wrapped_identity", 32 * 1024),
    ] {
        set(
            doc,
            &format!("{schemas}/{schema}/properties/{field}"),
            armored(max),
        );
    }
}

fn invitation(email: &Value, role: &str, authority: Option<&Value>, kind: Option<&str>) -> Value {
    // A field a role does not have may be left out or null, nothing else.
    let absent = json!({"type": "null"});
    let mut properties = json!({
        "role": {"const": role},
        "email": email,
        "authority_code": absent,
        "adviser_kind": absent,
    });
    let mut required = vec!["role", "email"];
    if let Some(authority) = authority {
        properties["authority_code"] = authority.clone();
        required.push("authority_code");
    }
    if let Some(kind) = kind {
        properties["adviser_kind"] = json!({"const": kind});
        required.push("adviser_kind");
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required
    })
}

fn display_name() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        "description": "1 to 100 characters, not only spaces, no control characters."
    })
}

fn armored(max: usize) -> Value {
    json!({
        "type": "string",
        "maxLength": max,
        "pattern": "^\\s*-----BEGIN AGE ENCRYPTED FILE-----",
        "description": "An ASCII-armored age file encrypted to the readers' X25519 keys."
    })
}

/// Replaces the value at `pointer` if the document has it.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
    }
}

/// An error response declared with a JSON body becomes `application/problem+json`.
fn as_problem(response: &mut Value) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(schema) = content.remove("application/json") {
        content.insert(PROBLEM_JSON.to_owned(), schema);
    }
    if response["description"].as_str().is_some_and(str::is_empty) {
        response["description"] = json!("Refused; the problem's type and detail say why.");
    }
}

/// The problem schema lists every `type` the service can answer with.
fn describe_problem_types(doc: &mut Value) {
    let Some(problem) = doc.pointer_mut("/components/schemas/Problem/properties") else {
        return;
    };
    let types: Vec<Value> = ProblemType::ALL.iter().map(|p| json!(p.uri())).collect();
    if let Some(Value::Object(kind)) = problem.get_mut("type") {
        kind.insert("enum".into(), Value::Array(types));
    }
    if let Some(Value::Object(status)) = problem.get_mut("status") {
        let mut range = Map::new();
        range.insert("type".into(), json!("integer"));
        range.insert("minimum".into(), json!(400));
        range.insert("maximum".into(), json!(599));
        *status = range;
    }
}
