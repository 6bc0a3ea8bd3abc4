//! Sessions over HTTPS: the web application's refresh token in an HttpOnly cookie, the header
//! without which the cookie is refused, and a person's own list of sessions, each of which
//! (or all at once) they can end.

use iro_advice_model::accounts::{AdviserKind, Role};
use serde_json::{json, Value};

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, json, TestApp, User, PASSWORD};

both_databases!(
    the_web_applications_refresh_token_lives_in_a_cookie_the_page_cannot_read,
    the_cookie_without_the_pages_header_is_refused_and_changes_nothing,
    people_see_and_end_their_own_sessions_and_nobody_elses,
);

const HEADER: &str = "X-IRO-Advice-Client";
const COOKIE: &str = "__Host-iro-advice-refresh";

/// Signs in as the web application does; returns the body and the Set-Cookie header.
async fn web_login(app: &TestApp, user: &User) -> (Value, String) {
    let code = app.fresh_totp(user);
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header(HEADER, "web")
        .json(&json!({"email": user.email, "password": PASSWORD, "totp_code": code}))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&res);
    (json(res, 200).await, cookie)
}

fn set_cookie(res: &reqwest::Response) -> String {
    let found: Vec<_> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(found.len(), 1, "exactly one cookie is set: {found:?}");
    found[0].clone()
}

/// The cookie's `name=value`, as a browser sends it back.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

async fn post_with(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    header: bool,
    body: &Value,
) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).json(body);
    if let Some(c) = cookie {
        req = req.header("Cookie", format!("theme=dark; {c}"));
    }
    if header {
        req = req.header(HEADER, "web");
    }
    req.send().await.unwrap()
}

async fn delete(app: &TestApp, path: impl AsRef<str>, token: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path.as_ref()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn access(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

async fn the_web_applications_refresh_token_lives_in_a_cookie_the_page_cannot_read(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;

    let (body, set) = web_login(&app, &iro).await;
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token in what the page reads: {body}"
    );
    assert!(set.starts_with(&format!("{COOKIE}=")), "{set}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            set.split("; ").any(|a| a == attribute),
            "{attribute} missing from {set}"
        );
    }
    let max_age: i64 = set
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    let hours = app.settings.accounts.session_hours;
    assert!(max_age > 0 && max_age <= hours * 3600, "Max-Age {max_age}");
    json(app.get_auth("/api/v1/me", &access(&body)).await, 200).await;

    // The refresh endpoint reads the cookie and sets the next one.
    let first = cookie_pair(&set);
    let res = post_with(&app, "/api/v1/auth/refresh", Some(&first), true, &json!({})).await;
    let next_set = set_cookie(&res);
    let renewed = json(res, 200).await;
    assert!(renewed.get("refresh_token").is_none(), "{renewed}");
    let second = cookie_pair(&next_set);
    assert_ne!(first, second, "the token in the cookie rotates");
    json(app.get_auth("/api/v1/me", &access(&renewed)).await, 200).await;

    // Without a cookie there is nothing to continue.
    assert_problem(
        post_with(&app, "/api/v1/auth/refresh", None, true, &json!({})).await,
        401,
        "unauthenticated",
    )
    .await;

    // A copied, already rotated cookie is a reuse: the whole session dies.
    assert_problem(
        post_with(&app, "/api/v1/auth/refresh", Some(&first), true, &json!({})).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        post_with(
            &app,
            "/api/v1/auth/refresh",
            Some(&second),
            true,
            &json!({}),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        app.get_auth("/api/v1/me", &access(&renewed)).await,
        401,
        "unauthenticated",
    )
    .await;

    // Signing out clears the cookie and ends the session at once.
    let (body, set) = web_login(&app, &iro).await;
    let res = post_with(
        &app,
        "/api/v1/auth/logout",
        Some(&cookie_pair(&set)),
        true,
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), 204);
    let cleared = set_cookie(&res);
    assert!(
        cleared.starts_with(&format!("{COOKIE}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_problem(
        app.get_auth("/api/v1/me", &access(&body)).await,
        401,
        "unauthenticated",
    )
    .await;

    // The command-line client's sign-in is unchanged: its refresh token in the body.
    let cli = app.sign_in(&iro).await;
    assert!(cli["refresh_token"].as_str().is_some_and(|t| t.len() > 20));
}

async fn the_cookie_without_the_pages_header_is_refused_and_changes_nothing(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let (body, set) = web_login(&app, &iro).await;
    let cookie = cookie_pair(&set);
    let token = access(&body);

    // What a cross-site form could send: the cookie, no header. Refused on a public route
    // and on an authenticated one alike, before any handler runs.
    for path in ["/api/v1/auth/refresh", "/api/v1/auth/logout"] {
        assert_problem(
            post_with(&app, path, Some(&cookie), false, &json!({})).await,
            403,
            "cross-site-request",
        )
        .await;
    }
    let res = app
        .client
        .delete(app.url("/api/v1/me/sessions"))
        .bearer_auth(&token)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "cross-site-request").await;
    let res = app
        .client
        .put(app.url("/api/v1/me/availability"))
        .bearer_auth(&token)
        .header("Cookie", &cookie)
        .header(HEADER, "not-the-page")
        .json(&json!({"accepting": false}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "cross-site-request").await;

    // Nothing happened: the session is alive and the cookie's token was not spent.
    json(app.get_auth("/api/v1/me", &token).await, 200).await;
    let sessions = json(app.get_auth("/api/v1/me/sessions", &token).await, 200).await;
    assert_eq!(sessions.as_array().unwrap().len(), 2, "{sessions}");
    let res = post_with(
        &app,
        "/api/v1/auth/refresh",
        Some(&cookie),
        true,
        &json!({}),
    )
    .await;
    json(res, 200).await;
    // Reading is no state change: a GET with the cookie and no header is answered.
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    json(res, 200).await;
}

async fn people_see_and_end_their_own_sessions_and_nobody_elses(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let (web, set) = web_login(&app, &iro).await;
    let web_access = access(&web);
    // The web session refreshes once, so it has been active since it began.
    let res = post_with(
        &app,
        "/api/v1/auth/refresh",
        Some(&cookie_pair(&set)),
        true,
        &json!({}),
    )
    .await;
    let web_access_now = access(&json(res, 200).await);
    let cli = app.sign_in(&iro).await;
    let cli_access = access(&cli);

    let list = json(app.get_auth("/api/v1/me/sessions", &iro.access).await, 200).await;
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 3, "{list:?}");
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["client"], "api");
    let web_entry = list.iter().find(|s| s["client"] == "web").unwrap();
    assert!(web_entry["last_active_at"].is_string(), "{web_entry}");
    let hours = app.settings.accounts.session_hours;
    // RFC 3339 with the zone, as every time the API gives.
    let started =
        chrono::DateTime::parse_from_rfc3339(web_entry["started_at"].as_str().unwrap()).unwrap();
    let ends =
        chrono::DateTime::parse_from_rfc3339(web_entry["ends_at"].as_str().unwrap()).unwrap();
    assert_eq!(ends - started, chrono::Duration::hours(hours));
    let web_id = web_entry["id"].as_str().unwrap().to_owned();

    // Someone else's session is no business of the IRO's: 404, and it goes on working.
    let theirs = json(
        app.get_auth("/api/v1/me/sessions", &adviser.access).await,
        200,
    )
    .await;
    let theirs = theirs[0]["id"].as_str().unwrap().to_owned();
    let res = delete(&app, format!("/api/v1/me/sessions/{theirs}"), &iro.access).await;
    assert_problem(res, 404, "not-found").await;
    json(app.get_auth("/api/v1/me", &adviser.access).await, 200).await;

    // The web session, ended from the command line's: its access token stops at once.
    let res = delete(&app, format!("/api/v1/me/sessions/{web_id}"), &cli_access).await;
    assert_eq!(res.status(), 204);
    for token in [&web_access, &web_access_now] {
        assert_problem(
            app.get_auth("/api/v1/me", token).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    let list = json(app.get_auth("/api/v1/me/sessions", &cli_access).await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    // Ending it twice finds nothing.
    let res = delete(&app, format!("/api/v1/me/sessions/{web_id}"), &cli_access).await;
    assert_problem(res, 404, "not-found").await;

    // Signing out everywhere ends every session of the account, the caller's own included,
    // and no one else's.
    let res = delete(&app, "/api/v1/me/sessions", &iro.access).await;
    assert_eq!(res.status(), 204);
    for token in [&iro.access, &cli_access] {
        assert_problem(
            app.get_auth("/api/v1/me", token).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    assert_problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": cli["refresh_token"]}),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    json(app.get_auth("/api/v1/me", &adviser.access).await, 200).await;
}
