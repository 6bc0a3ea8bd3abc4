//! The authorisation table: every route the application registers, called as every role,
//! anonymously, as a suspended account and as an adviser who has not enrolled in TOTP.
//!
//! The expected table below is written out by hand. A route added to `routes.rs` without a
//! row here fails the test, so every new route has its access stated twice: once where it
//! is registered, once where it is checked.

use iro_advice_model::accounts::{AdviserKind, Role};
use iro_advice_server::http::routes::endpoints;
use serde_json::json;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{TestApp, User};

#[derive(Debug, Clone, Copy)]
enum Expect {
    Public,
    Enrolling,
    Roles(&'static [Role]),
}

use Expect::*;
use Role::{Admin, Adviser, Iro, Nairo};

const ANY: Expect = Roles(&[Iro, Adviser, Nairo, Admin]);

/// Every route, who may call it, and exactly what an allowed caller gets back for the
/// test's call (a fresh id, an empty JSON object as the body): the status and problem slug
/// ("" for a success) that show the request got past authorisation to the handler.
const TABLE: &[(&str, &str, Expect, (u16, &str))] = &[
    ("GET", "/healthz", Public, (200, "")),
    ("GET", "/readyz", Public, (200, "")),
    ("GET", "/api/v1/openapi.json", Public, (200, "")),
    ("GET", "/", Public, (200, "")),
    ("GET", "/open", Public, (200, "")),
    ("GET", "/assets/{file}", Public, (404, "not-found")),
    (
        "GET",
        "/.well-known/iro-advice/web-manifest.json",
        Public,
        (200, ""),
    ),
    ("POST", "/api/v1/accounts", Public, (400, "invalid-json")),
    ("GET", "/api/v1/accounts", Roles(&[Admin]), (200, "")),
    (
        "POST",
        "/api/v1/accounts/{id}/suspend",
        Roles(&[Admin]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/reactivate",
        Roles(&[Admin]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/approve",
        Roles(&[Admin]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/verify",
        Roles(&[Admin]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/second-factor/reset",
        Roles(&[Admin]),
        (404, "not-found"),
    ),
    ("GET", "/api/v1/operations", Roles(&[Admin]), (200, "")),
    (
        "POST",
        "/api/v1/invitations",
        Roles(&[Admin, Nairo]),
        (400, "invalid-json"),
    ),
    ("POST", "/api/v1/auth/login", Public, (400, "invalid-json")),
    // An empty body presents no refresh token (the web application's is in a cookie).
    (
        "POST",
        "/api/v1/auth/refresh",
        Public,
        (401, "unauthenticated"),
    ),
    ("POST", "/api/v1/auth/logout", Public, (204, "")),
    ("POST", "/api/v1/auth/passkey/options", Public, (200, "")),
    ("POST", "/api/v1/me/passkeys/options", Enrolling, (200, "")),
    (
        "POST",
        "/api/v1/me/passkeys",
        Enrolling,
        (400, "invalid-json"),
    ),
    ("GET", "/api/v1/me/passkeys", Enrolling, (200, "")),
    ("POST", "/api/v1/me/step-up/options", Enrolling, (200, "")),
    (
        "DELETE",
        "/api/v1/me/passkeys/{id}",
        ANY,
        (403, "step-up-required"),
    ),
    ("DELETE", "/api/v1/me/totp", ANY, (403, "step-up-required")),
    ("GET", "/api/v1/me/sessions", ANY, (200, "")),
    (
        "DELETE",
        "/api/v1/me/sessions/{id}",
        ANY,
        (404, "not-found"),
    ),
    ("GET", "/api/v1/me", Enrolling, (200, "")),
    ("POST", "/api/v1/me/totp", Enrolling, (200, "")),
    (
        "POST",
        "/api/v1/me/totp/confirm",
        Enrolling,
        (400, "invalid-json"),
    ),
    ("PUT", "/api/v1/me/key", ANY, (400, "invalid-json")),
    ("GET", "/api/v1/me/key", ANY, (403, "step-up-required")),
    ("PUT", "/api/v1/me/password", ANY, (400, "invalid-json")),
    (
        "PUT",
        "/api/v1/me/language",
        Enrolling,
        (400, "invalid-json"),
    ),
    (
        "PUT",
        "/api/v1/me/conflicts",
        Roles(&[Adviser]),
        (400, "invalid-json"),
    ),
    (
        "PUT",
        "/api/v1/me/availability",
        Roles(&[Adviser]),
        (400, "invalid-json"),
    ),
    ("GET", "/api/v1/authorities", ANY, (200, "")),
    ("GET", "/api/v1/advisers", Roles(&[Iro]), (200, "")),
    (
        "POST",
        "/api/v1/queries",
        Roles(&[Iro]),
        (400, "invalid-json"),
    ),
    ("GET", "/api/v1/queries", Roles(&[Iro, Adviser]), (200, "")),
    (
        "GET",
        "/api/v1/queries/{id}",
        Roles(&[Iro, Adviser]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/accept",
        Roles(&[Adviser]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/decline",
        Roles(&[Adviser]),
        (400, "invalid-json"),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/route",
        Roles(&[Iro]),
        (400, "invalid-json"),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/close",
        Roles(&[Iro]),
        (400, "invalid-json"),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/messages",
        Roles(&[Iro, Adviser]),
        (400, "invalid-json"),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/attachments",
        Roles(&[Iro, Adviser]),
        (404, "not-found"),
    ),
    (
        "GET",
        "/api/v1/attachments/{id}",
        Roles(&[Iro, Adviser]),
        (404, "not-found"),
    ),
    (
        "PUT",
        "/api/v1/attachments/{id}",
        Roles(&[Iro]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/uploads",
        Roles(&[Iro, Adviser]),
        (404, "not-found"),
    ),
    // No Upload-Offset: refused before anything is looked up.
    (
        "PATCH",
        "/api/v1/uploads/{id}",
        Roles(&[Iro, Adviser]),
        (400, "bad-request"),
    ),
    (
        "POST",
        "/api/v1/uploads/{id}/complete",
        Roles(&[Iro, Adviser]),
        (404, "not-found"),
    ),
    (
        "DELETE",
        "/api/v1/uploads/{id}",
        Roles(&[Iro, Adviser]),
        (404, "not-found"),
    ),
    (
        "POST",
        "/api/v1/pressure-reports",
        Roles(&[Iro]),
        (400, "invalid-json"),
    ),
    (
        "GET",
        "/api/v1/pressure-reports",
        Roles(&[Iro, Nairo]),
        (200, ""),
    ),
    ("GET", "/api/v1/nairo/recipient", ANY, (404, "not-found")),
    ("GET", "/api/v1/me/receipts", ANY, (200, "")),
    ("GET", "/api/v1/me/directory", ANY, (200, "")),
    (
        "GET",
        "/api/v1/log/openings",
        Roles(&[Nairo]),
        (400, "bad-request"),
    ),
    ("GET", "/api/v1/log/checkpoint", Public, (200, "")),
    ("GET", "/api/v1/log/key", Public, (200, "")),
    ("GET", "/api/v1/log/trust", Public, (200, "")),
    (
        "GET",
        "/api/v1/log/proof/inclusion",
        Public,
        (400, "bad-request"),
    ),
    (
        "GET",
        "/api/v1/log/proof/consistency",
        Public,
        (400, "bad-request"),
    ),
    (
        "GET",
        "/api/v1/log/tile/{tile:.+}",
        Public,
        (404, "not-found"),
    ),
    (
        "GET",
        "/api/v1/stats/access",
        Roles(&[Nairo, Admin]),
        (400, "invalid-statistics-request"),
    ),
    (
        "GET",
        "/api/v1/stats/releases",
        Roles(&[Nairo, Admin]),
        (200, ""),
    ),
    // Last: it signs each allowed caller out everywhere.
    ("DELETE", "/api/v1/me/sessions", ANY, (204, "")),
];

both_databases!(every_route_answers_exactly_who_it_should);

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let path = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(method.clone(), app.url(&path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if method == reqwest::Method::POST || method == reqwest::Method::PUT {
        req = req.json(&json!({}));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    let slug = body["type"]
        .as_str()
        .map(|t| t.trim_start_matches("urn:iro-advice:problem:").to_owned())
        .unwrap_or_default();
    (status, slug)
}

/// What an allowed caller gets; an account that has enrolled cannot begin enrolment again.
fn answer_for(method: &str, path: &str, answer: (u16, &str)) -> (u16, String) {
    if (method, path) == ("POST", "/api/v1/me/totp") {
        return (409, "totp-already-enabled".into());
    }
    (answer.0, answer.1.to_owned())
}

async fn every_route_answers_exactly_who_it_should(app: TestApp) {
    // The table and the application agree on which routes exist.
    let mut registered: Vec<(String, String)> = endpoints()
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_owned()))
        .collect();
    registered.sort();
    let mut expected: Vec<(String, String)> = TABLE
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(
        registered, expected,
        "a route is missing from this test's table, or from the app"
    );

    let admin = app.admin().await;
    let iro = app.user(&admin, Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let nairo = app.user(&admin, Nairo, None, None).await;
    let suspended = app.user(&admin, Iro, Some("E06000019"), None).await;
    app.post_json(
        &format!("/api/v1/accounts/{}/suspend", suspended.id),
        Some(&admin.access),
        &json!({}),
    )
    .await;
    // An adviser who signed up and logged in but has not enrolled in TOTP.
    let email = format!(
        "{}@adviser.test",
        iro_advice_testkit::unique_name("unenrolled")
    );
    let invitation = app
        .invite(
            &admin.access,
            &json!({"role": "adviser", "email": email, "adviser_kind": "solicitor"}),
        )
        .await;
    app.sign_up(&invitation, iro_advice_testkit::PASSWORD).await;
    let tokens: serde_json::Value = app
        .login(&email, iro_advice_testkit::PASSWORD, None)
        .await
        .json()
        .await
        .unwrap();
    let unenrolled = tokens["access_token"].as_str().unwrap().to_owned();

    let roles: [(&User, Role); 4] = [
        (&iro, Iro),
        (&adviser, Adviser),
        (&nairo, Nairo),
        (&admin, Admin),
    ];
    let mut checked = 0;
    for (method, path, expect, answer) in TABLE {
        let answer = (answer.0, answer.1.to_owned());
        let anonymous = call(&app, method, path, None).await;
        match expect {
            Public => {
                assert_eq!(anonymous, answer, "{method} {path} anonymous");
                checked += 1;
                continue;
            }
            Enrolling | Roles(_) => {
                assert_eq!(
                    anonymous,
                    (401, "unauthenticated".into()),
                    "{method} {path} anonymous"
                );
            }
        }
        let (status, _) = call(&app, method, path, Some(&suspended.access)).await;
        assert_eq!(status, 401, "{method} {path} answered a suspended account");

        let unenrolled_answer = call(&app, method, path, Some(&unenrolled)).await;
        match expect {
            Enrolling => assert_eq!(
                unenrolled_answer, answer,
                "{method} {path} as an adviser who is enrolling"
            ),
            _ => assert_eq!(
                unenrolled_answer,
                (403, "second-factor-enrolment-required".into()),
                "{method} {path} answered an adviser without TOTP"
            ),
        }

        for (user, role) in roles {
            let got = call(&app, method, path, Some(&user.access)).await;
            let allowed = match expect {
                Enrolling => true,
                Roles(allowed) => allowed.contains(&role),
                Public => unreachable!(),
            };
            let wanted = if allowed {
                answer_for(method, path, (answer.0, &answer.1))
            } else {
                (403, "forbidden".into())
            };
            assert_eq!(got, wanted, "{method} {path} as {role}");
        }
        checked += 1;
    }
    assert_eq!(checked, TABLE.len());
}
