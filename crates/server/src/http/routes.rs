//! Every route of the service, in one table: from a URL to its handler and to who may call
//! it, in one step. A route is declared once: its handler's `#[utoipa::path]` says its method,
//! its path (from [`iro_advice_api::paths`]) and its description; its line here says who may
//! call it and how large a body it takes. The route is mounted and documented from that line,
//! so nothing is reachable that is not listed here, nothing can be listed without its
//! [`Access`], and the OpenAPI document cannot miss a route or name one that does not exist.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{web, Route};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi;

use crate::accounts::handlers::{admin, auth, directory, invitations, me, passkeys, sessions};
use crate::http::access::{Access, Authorize};
use crate::http::openapi::RouteFacts;
use crate::http::state::JSON_LIMIT;
use crate::http::{error, health, monitoring};
use crate::log::handlers as log;
use crate::pressure::handlers as pressure;
use crate::queries::handlers::{ask, attachments, messages, read, transitions, uploads};
use crate::statistics::handlers as stats;
use crate::web::handlers as app;
use iro_advice_model::accounts::Role::{Admin, Adviser, Iro, Nairo};

/// One route: method, path pattern, who may call it, its handler, the largest JSON body it
/// takes, and its part of the OpenAPI document.
pub struct Endpoint {
    pub method: Method,
    /// The path as actix matches it (a parameter may carry a pattern: `{tile:.+}`).
    pub path: String,
    pub access: Access,
    pub json_limit: usize,
    route: fn() -> Route,
    /// The handler's own document: its one path and operation, and the schemas it uses.
    doc: OpenApi,
}

impl Endpoint {
    /// The path as OpenAPI writes it: a parameter's pattern (`{tile:.+}`) left out.
    pub fn doc_path(&self) -> String {
        doc_path(&self.path)
    }
}

fn doc_path(path: &str) -> String {
    let mut out = String::new();
    let mut in_pattern = false;
    for c in path.chars() {
        match c {
            ':' if out.rfind('{') > out.rfind('}') => in_pattern = true,
            '}' => {
                in_pattern = false;
                out.push(c);
            }
            _ if in_pattern => {}
            _ => out.push(c),
        }
    }
    out
}

/// Reads a handler's method and path from the document its `#[utoipa::path]` makes.
fn endpoint(doc: OpenApi, access: Access, json_limit: usize, route: fn() -> Route) -> Endpoint {
    let (path, item) = doc
        .paths
        .paths
        .iter()
        .next()
        .expect("a handler documents one path");
    let method = [
        (Method::GET, item.get.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::PATCH, item.patch.is_some()),
        (Method::DELETE, item.delete.is_some()),
    ]
    .into_iter()
    .find_map(|(m, documented)| documented.then_some(m))
    .expect("a handler documents one method");
    // A parameter that spans segments is matched by the pattern the API names for it.
    let path = iro_advice_api::paths::MULTI_SEGMENT
        .iter()
        .find(|p| doc_path(p) == *path)
        .map_or_else(|| path.clone(), |p| (*p).to_owned());
    Endpoint {
        method,
        path,
        access,
        json_limit,
        route,
        doc,
    }
}

/// `endpoint!(ACCESS, module::handler)`, or with a larger JSON body limit as a third
/// argument. The handler's document is derived here, so its method and path are read from
/// the one place they are written.
macro_rules! endpoint {
    ($access:expr, $($handler:ident)::+) => {
        endpoint!($access, $($handler)::+, JSON_LIMIT)
    };
    ($access:expr, $($handler:ident)::+, $limit:expr) => {{
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler)::+))]
        struct Documented;
        let method = <Documented as utoipa::OpenApi>::openapi();
        endpoint(method, $access, $limit, || web::route().to($($handler)::+))
    }};
}

/// A message body: an armored age file of up to 512 KiB, in JSON.
const MESSAGE_LIMIT: usize = 600 * 1024;
/// Routing carries every message of a query again.
const ROUTE_LIMIT: usize = 16 * 1024 * 1024;

const ANY: Access = Access::ANY_ACCOUNT;
const ENROLLING: Access = Access::Enrolling;
const PUBLIC: Access = Access::Public;
const IRO: Access = Access::Roles(&[Iro]);
const ADVISER: Access = Access::Roles(&[Adviser]);
const ADMIN: Access = Access::Roles(&[Admin]);
const CORRESPONDENTS: Access = Access::Roles(&[Iro, Adviser]);
const NAIRO: Access = Access::Roles(&[Nairo]);

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(PUBLIC, health::healthz),
        endpoint!(PUBLIC, health::readyz),
        endpoint!(PUBLIC, health::openapi),
        // the web application
        endpoint!(PUBLIC, app::index),
        endpoint!(PUBLIC, app::open),
        endpoint!(PUBLIC, app::asset),
        endpoint!(PUBLIC, app::manifest),
        // accounts
        endpoint!(PUBLIC, invitations::accept),
        endpoint!(ADMIN, admin::list),
        endpoint!(ADMIN, admin::suspend),
        endpoint!(ADMIN, admin::reactivate),
        endpoint!(ADMIN, admin::approve),
        endpoint!(ADMIN, admin::verify),
        endpoint!(ADMIN, admin::reset_second_factor),
        endpoint!(ADMIN, monitoring::operations),
        endpoint!(Access::Roles(&[Admin, Nairo]), invitations::invite),
        // sessions
        endpoint!(PUBLIC, auth::login),
        endpoint!(PUBLIC, auth::refresh),
        endpoint!(PUBLIC, auth::logout),
        endpoint!(PUBLIC, passkeys::sign_in_options),
        // the caller's own account
        endpoint!(ENROLLING, me::me),
        endpoint!(ENROLLING, me::totp_begin),
        endpoint!(ENROLLING, me::totp_confirm),
        endpoint!(ENROLLING, passkeys::creation_options),
        endpoint!(ENROLLING, passkeys::register),
        endpoint!(ENROLLING, passkeys::list),
        endpoint!(ANY, passkeys::remove),
        endpoint!(ANY, me::totp_remove),
        endpoint!(ANY, sessions::list),
        endpoint!(ANY, sessions::end_all),
        endpoint!(ANY, sessions::end),
        endpoint!(ENROLLING, passkeys::step_up_options),
        endpoint!(ANY, me::put_key),
        endpoint!(ANY, me::put_password),
        endpoint!(ENROLLING, me::put_language),
        endpoint!(ANY, me::get_wrapped_identity),
        endpoint!(ADVISER, me::put_conflicts),
        endpoint!(ADVISER, me::put_availability),
        // directory
        endpoint!(ANY, directory::authorities),
        endpoint!(IRO, directory::advisers),
        // queries
        endpoint!(IRO, ask::ask, MESSAGE_LIMIT),
        endpoint!(CORRESPONDENTS, read::list),
        endpoint!(CORRESPONDENTS, read::show),
        endpoint!(ADVISER, transitions::accept),
        endpoint!(ADVISER, transitions::decline),
        endpoint!(IRO, transitions::route, ROUTE_LIMIT),
        endpoint!(IRO, transitions::close),
        endpoint!(CORRESPONDENTS, messages::post, MESSAGE_LIMIT),
        endpoint!(CORRESPONDENTS, attachments::upload),
        endpoint!(CORRESPONDENTS, attachments::download),
        endpoint!(IRO, attachments::replace),
        endpoint!(CORRESPONDENTS, uploads::start),
        endpoint!(CORRESPONDENTS, uploads::append),
        endpoint!(CORRESPONDENTS, uploads::complete),
        endpoint!(CORRESPONDENTS, uploads::cancel),
        // pressure reports
        endpoint!(IRO, pressure::report, MESSAGE_LIMIT),
        endpoint!(Access::Roles(&[Iro, Nairo]), pressure::list),
        endpoint!(ANY, pressure::nairo_recipient),
        // the request log
        endpoint!(ANY, log::receipts),
        endpoint!(ANY, log::directory),
        endpoint!(NAIRO, log::openings),
        endpoint!(PUBLIC, log::checkpoint),
        endpoint!(PUBLIC, log::key),
        endpoint!(PUBLIC, log::trust),
        endpoint!(PUBLIC, log::inclusion),
        endpoint!(PUBLIC, log::consistency),
        endpoint!(PUBLIC, log::tile),
        // statistics
        endpoint!(Access::Roles(&[Nairo, Admin]), stats::access),
        endpoint!(Access::Roles(&[Nairo, Admin]), stats::releases),
    ]
}

/// Registers every endpoint, one resource per path so that a known path with another
/// method answers 405, each wrapped in the authorisation its methods declare.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: BTreeMap<String, Vec<Endpoint>> = BTreeMap::new();
    for e in endpoints() {
        by_path.entry(e.path.clone()).or_default().push(e);
    }
    for (path, group) in by_path {
        let rules = group.iter().map(|e| (e.method.clone(), e.access)).collect();
        let limit = group
            .iter()
            .map(|e| e.json_limit)
            .max()
            .unwrap_or(JSON_LIMIT);
        let mut resource = web::resource(path).app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(error::json_error),
        );
        for e in &group {
            resource = resource.route((e.route)().method(e.method.clone()));
        }
        let allow: String = group
            .iter()
            .map(|e| e.method.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { error::method_not_allowed(&allow) }
        }));
        cfg.service(resource.wrap(Authorize::new(rules)));
    }
}

/// The OpenAPI document: each handler's own description, gathered from the route table and
/// completed from it with the refusals every route can give.
pub fn openapi() -> serde_json::Value {
    let endpoints = endpoints();
    let mut doc = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("iro-advice")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Independent legal advice for Independent Reviewing Officers: end-to-end \
                     encrypted queries, a tamper-evident request log, and disclosure-controlled \
                     statistics for NAIRO.",
                ))
                .license(Some(utoipa::openapi::License::new("AGPL-3.0-or-later")))
                .build(),
        )
        .build();
    for e in &endpoints {
        doc.merge(e.doc.clone());
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.schemas.insert(
        "Problem".to_owned(),
        <iro_advice_api::Problem as utoipa::PartialSchema>::schema(),
    );
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    let paths: Vec<String> = endpoints.iter().map(Endpoint::doc_path).collect();
    let facts: Vec<RouteFacts<'_>> = endpoints
        .iter()
        .zip(&paths)
        .map(|(e, path)| RouteFacts {
            method: e.method.as_str(),
            path,
            access: e.access,
            uses_database: !matches!(
                path.as_str(),
                "/healthz" | "/api/v1/openapi.json" | "/" | "/open" | "/assets/{file}"
            ),
        })
        .collect();
    crate::http::openapi::complete(&mut doc, &facts);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_documented_and_every_documented_path_exists() {
        let doc = openapi();
        let paths = doc["paths"].as_object().unwrap();
        for e in endpoints() {
            let method = e.method.as_str().to_lowercase();
            assert!(
                paths
                    .get(&e.doc_path())
                    .and_then(|p| p.get(&method))
                    .is_some(),
                "{} {} is not in the OpenAPI document",
                e.method,
                e.path
            );
        }
        let count: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(
            count,
            endpoints().len(),
            "the document lists a route that does not exist"
        );
    }

    #[test]
    fn every_refusal_a_route_can_give_is_documented_as_a_problem() {
        let doc = openapi();
        for e in endpoints() {
            let method = e.method.as_str().to_lowercase();
            let path = e.doc_path();
            let responses = doc["paths"][&path][&method]["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {} has no responses", e.path));
            let has = |status: &str| responses.contains_key(status);
            // Public routes may refuse too (a wrong password is a 401), so these are "if".
            if e.access != Access::Public {
                assert!(has("401"), "{method} {} lacks 401", e.path);
            }
            if matches!(e.access, Access::Roles(_)) {
                assert!(has("403"), "{method} {} lacks 403", e.path);
            }
            if e.path.contains('{') {
                assert!(has("404"), "{method} {} lacks 404", e.path);
            }
            let reads_json = doc["paths"][&path][&method]["requestBody"]["content"]
                .get("application/json")
                .is_some();
            if reads_json {
                for status in ["400", "413", "415"] {
                    assert!(has(status), "{method} {} lacks {status}", e.path);
                }
            }
            for (status, response) in responses {
                if status.as_str() >= "400" {
                    let content = response["content"].as_object().unwrap();
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        [crate::http::error::PROBLEM_JSON],
                        "{method} {} {status}",
                        e.path
                    );
                }
            }
        }
        let types = doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(types, iro_advice_model::problem::ProblemType::ALL.len());
    }

    #[test]
    fn no_path_and_method_is_declared_twice() {
        let mut seen = std::collections::HashSet::new();
        for e in endpoints() {
            assert!(
                seen.insert((e.method.clone(), e.path.clone())),
                "{} {}",
                e.method,
                e.path
            );
        }
    }
}
