//! Every route of the service, in one table: from a URL to its handler and to who may call
//! it, in one step. Nothing is reachable that is not listed here, and nothing can be listed
//! without its [`Access`]; `configure` wraps each resource in [`Authorize`].

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{web, Route};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::accounts::{admin, auth, directory, invitations, me, passkeys, sessions};
use crate::http::access::{Access, Authorize};
use crate::http::openapi::RouteFacts;
use crate::http::state::JSON_LIMIT;
use crate::http::{error, health};
use crate::log::handlers as log;
use crate::log::tiles;
use crate::monitoring;
use crate::pressure;
use crate::queries::{ask, attachments, messages, read, transitions, uploads};
use crate::statistics::access as stats;
use crate::web::handlers as app;
use iro_advice_model::accounts::Role::{Admin, Adviser, Iro, Nairo};

/// One route: method, path pattern, who may call it, its handler, and the largest JSON
/// body it takes.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub json_limit: usize,
    route: fn() -> Route,
}

impl Endpoint {
    /// The path as OpenAPI writes it: a parameter's pattern (`{tile:.+}`) left out.
    pub fn doc_path(&self) -> String {
        let mut out = String::new();
        let mut in_pattern = false;
        for c in self.path.chars() {
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
}

macro_rules! endpoint {
    ($method:ident $path:literal, $access:expr, $handler:path) => {
        endpoint!($method $path, $access, $handler, JSON_LIMIT)
    };
    ($method:ident $path:literal, $access:expr, $handler:path, $limit:expr) => {
        Endpoint {
            method: Method::$method,
            path: $path,
            access: $access,
            json_limit: $limit,
            route: || web::route().method(Method::$method).to($handler),
        }
    };
}

/// A message body: an armored age file of up to 512 KiB, in JSON.
const MESSAGE_LIMIT: usize = 600 * 1024;
/// Routing carries every message of a query again.
const ROUTE_LIMIT: usize = 16 * 1024 * 1024;

const ANY: Access = Access::ANY_ACCOUNT;
const ENROLLING: Access = Access::Enrolling;
const PUBLIC: Access = Access::Public;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(GET "/healthz", PUBLIC, health::healthz),
        endpoint!(GET "/readyz", PUBLIC, health::readyz),
        endpoint!(GET "/api/v1/openapi.json", PUBLIC, health::openapi),
        // the web application
        endpoint!(GET "/", PUBLIC, app::index),
        endpoint!(GET "/open", PUBLIC, app::open),
        endpoint!(GET "/assets/{file}", PUBLIC, app::asset),
        endpoint!(GET "/.well-known/iro-advice/web-manifest.json", PUBLIC, app::manifest),
        // accounts
        endpoint!(POST "/api/v1/accounts", PUBLIC, invitations::accept),
        endpoint!(GET "/api/v1/accounts", Access::Roles(&[Admin]), admin::list),
        endpoint!(POST "/api/v1/accounts/{id}/suspend", Access::Roles(&[Admin]), admin::suspend),
        endpoint!(POST "/api/v1/accounts/{id}/reactivate", Access::Roles(&[Admin]), admin::reactivate),
        endpoint!(POST "/api/v1/accounts/{id}/approve", Access::Roles(&[Admin]), admin::approve),
        endpoint!(POST "/api/v1/accounts/{id}/verify", Access::Roles(&[Admin]), admin::verify),
        endpoint!(POST "/api/v1/accounts/{id}/second-factor/reset", Access::Roles(&[Admin]), admin::reset_second_factor),
        endpoint!(GET "/api/v1/operations", Access::Roles(&[Admin]), monitoring::operations),
        endpoint!(POST "/api/v1/invitations", Access::Roles(&[Admin, Nairo]), invitations::invite),
        // sessions
        endpoint!(POST "/api/v1/auth/login", PUBLIC, auth::login),
        endpoint!(POST "/api/v1/auth/refresh", PUBLIC, auth::refresh),
        endpoint!(POST "/api/v1/auth/logout", PUBLIC, auth::logout),
        endpoint!(POST "/api/v1/auth/passkey/options", PUBLIC, passkeys::sign_in_options),
        // the caller's own account
        endpoint!(GET "/api/v1/me", ENROLLING, me::me),
        endpoint!(POST "/api/v1/me/totp", ENROLLING, me::totp_begin),
        endpoint!(POST "/api/v1/me/totp/confirm", ENROLLING, me::totp_confirm),
        endpoint!(POST "/api/v1/me/passkeys/options", ENROLLING, passkeys::creation_options),
        endpoint!(POST "/api/v1/me/passkeys", ENROLLING, passkeys::register),
        endpoint!(GET "/api/v1/me/passkeys", ENROLLING, passkeys::list),
        endpoint!(DELETE "/api/v1/me/passkeys/{id}", ANY, passkeys::remove),
        endpoint!(DELETE "/api/v1/me/totp", ANY, me::totp_remove),
        endpoint!(GET "/api/v1/me/sessions", ANY, sessions::list),
        endpoint!(DELETE "/api/v1/me/sessions", ANY, sessions::end_all),
        endpoint!(DELETE "/api/v1/me/sessions/{id}", ANY, sessions::end),
        endpoint!(POST "/api/v1/me/step-up/options", ENROLLING, passkeys::step_up_options),
        endpoint!(PUT "/api/v1/me/key", ANY, me::put_key),
        endpoint!(PUT "/api/v1/me/password", ANY, me::put_password),
        endpoint!(PUT "/api/v1/me/language", ENROLLING, me::put_language),
        endpoint!(GET "/api/v1/me/key", ANY, me::get_wrapped_identity),
        endpoint!(PUT "/api/v1/me/conflicts", Access::Roles(&[Adviser]), me::put_conflicts),
        endpoint!(PUT "/api/v1/me/availability", Access::Roles(&[Adviser]), me::put_availability),
        // directory
        endpoint!(GET "/api/v1/authorities", ANY, directory::authorities),
        endpoint!(GET "/api/v1/advisers", Access::Roles(&[Iro]), directory::advisers),
        // queries
        endpoint!(POST "/api/v1/queries", Access::Roles(&[Iro]), ask::ask, MESSAGE_LIMIT),
        endpoint!(GET "/api/v1/queries", Access::Roles(&[Iro, Adviser]), read::list),
        endpoint!(GET "/api/v1/queries/{id}", Access::Roles(&[Iro, Adviser]), read::show),
        endpoint!(POST "/api/v1/queries/{id}/accept", Access::Roles(&[Adviser]), transitions::accept),
        endpoint!(POST "/api/v1/queries/{id}/decline", Access::Roles(&[Adviser]), transitions::decline),
        endpoint!(POST "/api/v1/queries/{id}/route", Access::Roles(&[Iro]), transitions::route, ROUTE_LIMIT),
        endpoint!(POST "/api/v1/queries/{id}/close", Access::Roles(&[Iro]), transitions::close),
        endpoint!(POST "/api/v1/queries/{id}/messages", Access::Roles(&[Iro, Adviser]), messages::post, MESSAGE_LIMIT),
        endpoint!(POST "/api/v1/queries/{id}/attachments", Access::Roles(&[Iro, Adviser]), attachments::upload),
        endpoint!(GET "/api/v1/attachments/{id}", Access::Roles(&[Iro, Adviser]), attachments::download),
        endpoint!(PUT "/api/v1/attachments/{id}", Access::Roles(&[Iro]), attachments::replace),
        endpoint!(POST "/api/v1/queries/{id}/uploads", Access::Roles(&[Iro, Adviser]), uploads::start),
        endpoint!(PATCH "/api/v1/uploads/{id}", Access::Roles(&[Iro, Adviser]), uploads::append),
        endpoint!(POST "/api/v1/uploads/{id}/complete", Access::Roles(&[Iro, Adviser]), uploads::complete),
        endpoint!(DELETE "/api/v1/uploads/{id}", Access::Roles(&[Iro, Adviser]), uploads::cancel),
        // pressure reports
        endpoint!(POST "/api/v1/pressure-reports", Access::Roles(&[Iro]), pressure::report, MESSAGE_LIMIT),
        endpoint!(GET "/api/v1/pressure-reports", Access::Roles(&[Iro, Nairo]), pressure::list),
        endpoint!(GET "/api/v1/nairo/recipient", ANY, pressure::nairo_recipient),
        // the request log
        endpoint!(GET "/api/v1/me/receipts", ANY, log::receipts),
        endpoint!(GET "/api/v1/log/checkpoint", PUBLIC, log::checkpoint),
        endpoint!(GET "/api/v1/log/key", PUBLIC, log::key),
        endpoint!(GET "/api/v1/log/trust", PUBLIC, log::trust),
        endpoint!(GET "/api/v1/log/proof/inclusion", PUBLIC, log::inclusion),
        endpoint!(GET "/api/v1/log/proof/consistency", PUBLIC, log::consistency),
        endpoint!(GET "/api/v1/log/tile/{tile:.+}", PUBLIC, tiles::tile),
        // statistics
        endpoint!(GET "/api/v1/stats/access", Access::Roles(&[Nairo, Admin]), stats::access),
        endpoint!(GET "/api/v1/stats/releases", Access::Roles(&[Nairo, Admin]), stats::releases),
    ]
}

/// Registers every endpoint, one resource per path so that a known path with another
/// method answers 405, each wrapped in the authorisation its methods declare.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: BTreeMap<&'static str, Vec<Endpoint>> = BTreeMap::new();
    for e in endpoints() {
        by_path.entry(e.path).or_default().push(e);
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
            resource = resource.route((e.route)());
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

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "iro-advice",
        description = "Independent legal advice for Independent Reviewing Officers: \
                       end-to-end encrypted queries, a tamper-evident request log, \
                       and disclosure-controlled statistics for NAIRO."
    ),
    paths(
        health::healthz, health::readyz, health::openapi,
        app::index, app::open, app::asset, app::manifest,
        invitations::accept, admin::list, admin::suspend, admin::reactivate, admin::approve, invitations::invite,
        admin::verify, admin::reset_second_factor, monitoring::operations, me::put_language,
        auth::login, auth::refresh, auth::logout, passkeys::sign_in_options,
        passkeys::creation_options, passkeys::register, passkeys::list, passkeys::step_up_options,
        passkeys::remove, me::totp_remove, sessions::list, sessions::end, sessions::end_all,
        me::me, me::totp_begin, me::totp_confirm, me::put_key, me::get_wrapped_identity, me::put_password,
        me::put_conflicts, me::put_availability,
        directory::authorities, directory::advisers,
        ask::ask, read::list, read::show, transitions::accept, transitions::decline,
        transitions::route, transitions::close, messages::post,
                attachments::upload, attachments::download, attachments::replace,
                uploads::start, uploads::append, uploads::complete, uploads::cancel,
        pressure::report, pressure::list, pressure::nairo_recipient,
        log::receipts, log::checkpoint, log::key, log::trust, log::inclusion, log::consistency,
        tiles::tile,
        stats::access, stats::releases,
    ),
    components(schemas(iro_advice_api::Problem)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The OpenAPI document: the handlers' own descriptions, completed from this table with the
/// refusals every route can give.
pub fn openapi() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let endpoints = endpoints();
    let paths: Vec<String> = endpoints.iter().map(Endpoint::doc_path).collect();
    let facts: Vec<RouteFacts<'_>> = endpoints
        .iter()
        .zip(&paths)
        .map(|(e, path)| RouteFacts {
            method: e.method.as_str(),
            path,
            access: e.access,
            uses_database: !matches!(
                e.path,
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
                seen.insert((e.method.clone(), e.path)),
                "{} {}",
                e.method,
                e.path
            );
        }
    }
}
