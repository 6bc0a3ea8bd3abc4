//! The authorisation table: every route the application registers, called as every role,
//! anonymously, as a suspended account and as an adviser who has not enrolled in TOTP.
//!
//! The expected table below is written out by hand. A route added to `routes.rs` without a
//! row here fails the test, so every new route has its access stated twice: once where it
//! is registered, once where it is checked.

use iro_advice::accounts::domain::{AdviserKind, Role};
use iro_advice::routes::endpoints;
use serde_json::json;

use crate::both_databases;
use crate::helpers::{TestApp, User};

#[derive(Debug, Clone, Copy)]
enum Expect {
    Public,
    Enrolling,
    Roles(&'static [Role]),
}

use Expect::*;
use Role::{Admin, Adviser, Iro, Nairo};

const ANY: Expect = Roles(&[Iro, Adviser, Nairo, Admin]);

const TABLE: &[(&str, &str, Expect)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/api/v1/openapi.json", Public),
    ("POST", "/api/v1/accounts", Public),
    ("GET", "/api/v1/accounts", Roles(&[Admin])),
    ("POST", "/api/v1/accounts/{id}/suspend", Roles(&[Admin])),
    ("POST", "/api/v1/accounts/{id}/reactivate", Roles(&[Admin])),
    ("POST", "/api/v1/invitations", Roles(&[Admin, Nairo])),
    ("POST", "/api/v1/auth/login", Public),
    ("POST", "/api/v1/auth/refresh", Public),
    ("POST", "/api/v1/auth/logout", Public),
    ("GET", "/api/v1/me", Enrolling),
    ("POST", "/api/v1/me/totp", Enrolling),
    ("POST", "/api/v1/me/totp/confirm", Enrolling),
    ("PUT", "/api/v1/me/key", ANY),
    ("GET", "/api/v1/me/key", ANY),
    ("PUT", "/api/v1/me/conflicts", Roles(&[Adviser])),
    ("PUT", "/api/v1/me/availability", Roles(&[Adviser])),
    ("GET", "/api/v1/authorities", ANY),
    ("GET", "/api/v1/advisers", Roles(&[Iro])),
    ("POST", "/api/v1/queries", Roles(&[Iro])),
    ("GET", "/api/v1/queries", Roles(&[Iro, Adviser])),
    ("GET", "/api/v1/queries/{id}", Roles(&[Iro, Adviser])),
    ("POST", "/api/v1/queries/{id}/accept", Roles(&[Adviser])),
    ("POST", "/api/v1/queries/{id}/decline", Roles(&[Adviser])),
    ("POST", "/api/v1/queries/{id}/route", Roles(&[Iro])),
    ("POST", "/api/v1/queries/{id}/close", Roles(&[Iro])),
    (
        "POST",
        "/api/v1/queries/{id}/messages",
        Roles(&[Iro, Adviser]),
    ),
    (
        "POST",
        "/api/v1/queries/{id}/attachments",
        Roles(&[Iro, Adviser]),
    ),
    ("GET", "/api/v1/attachments/{id}", Roles(&[Iro, Adviser])),
    ("PUT", "/api/v1/attachments/{id}", Roles(&[Iro])),
    ("POST", "/api/v1/pressure-reports", Roles(&[Iro])),
    ("GET", "/api/v1/pressure-reports", Roles(&[Iro, Nairo])),
    ("GET", "/api/v1/nairo/recipient", ANY),
    ("GET", "/api/v1/me/receipts", ANY),
    ("GET", "/api/v1/log/checkpoint", Public),
    ("GET", "/api/v1/log/key", Public),
    ("GET", "/api/v1/log/proof/inclusion", Public),
    ("GET", "/api/v1/log/proof/consistency", Public),
    ("GET", "/api/v1/stats/access", Roles(&[Nairo, Admin])),
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
    (status, body["type"].as_str().unwrap_or_default().to_owned())
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
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
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
    let email = format!("{}@adviser.test", crate::helpers::unique_name("unenrolled"));
    let invited = app
        .post_json(
            "/api/v1/invitations",
            Some(&admin.access),
            &json!({"role": "adviser", "email": email, "adviser_kind": "solicitor"}),
        )
        .await;
    let invited: serde_json::Value = invited.json().await.unwrap();
    app.sign_up(invited["token"].as_str().unwrap(), crate::helpers::PASSWORD)
        .await;
    let tokens: serde_json::Value = app
        .login(&email, crate::helpers::PASSWORD, None)
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
    for (method, path, expect) in TABLE {
        let anonymous = call(&app, method, path, None).await;
        match expect {
            Public => {
                assert!(
                    ![401, 403].contains(&anonymous.0),
                    "{method} {path} refused anonymous: {anonymous:?}"
                );
                checked += 1;
                continue;
            }
            Enrolling | Roles(_) => {
                assert_eq!(
                    anonymous,
                    (401, "urn:iro-advice:problem:unauthenticated".into()),
                    "{method} {path} anonymous"
                );
            }
        }
        let (status, _) = call(&app, method, path, Some(&suspended.access)).await;
        assert_eq!(status, 401, "{method} {path} answered a suspended account");

        let (status, kind) = call(&app, method, path, Some(&unenrolled)).await;
        match expect {
            Enrolling => assert!(
                ![401, 403].contains(&status),
                "{method} {path} refused an enrolling account"
            ),
            _ => assert_eq!(
                (status, kind.as_str()),
                (403, "urn:iro-advice:problem:totp-enrolment-required"),
                "{method} {path} answered an adviser without TOTP"
            ),
        }

        for (user, role) in roles {
            let (status, kind) = call(&app, method, path, Some(&user.access)).await;
            let allowed = match expect {
                Enrolling => true,
                Roles(allowed) => allowed.contains(&role),
                Public => unreachable!(),
            };
            if allowed {
                assert!(
                    ![401, 403].contains(&status),
                    "{method} {path} refused {role}: {status} {kind}"
                );
            } else {
                assert_eq!(
                    (status, kind.as_str()),
                    (403, "urn:iro-advice:problem:forbidden"),
                    "{method} {path} answered {role}"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, TABLE.len());
}
