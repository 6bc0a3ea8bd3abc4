//! Accounts and access over HTTPS: invitations, sign-up, sessions, TOTP, throttling, keys,
//! conflicts and the adviser directory.

use std::io::Write;

use iro_advice_model::accounts::{AdviserKind, Role};
use serde_json::{json, Value};

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, json, totp_code, unique_name, TestApp, PASSWORD};

both_databases!(
    the_whole_account_flow_works,
    every_role_must_enrol_a_second_factor_first,
    forged_and_expired_tokens_are_refused,
    a_totp_code_is_accepted_once,
    a_reused_refresh_token_revokes_its_family,
    logout_ends_the_session_at_once,
    an_attackers_failed_sign_ins_do_not_keep_the_owner_out,
    a_service_wide_flood_of_failures_locks_out_only_clients_without_a_device,
    a_burst_of_failures_reaches_the_ceiling_before_the_minutes_allowance_is_spent,
    a_locked_attempt_whose_code_cannot_be_right_costs_no_hash,
    a_guess_flood_with_the_password_never_wins_and_never_turns_the_owner_away,
    invitations_are_single_use_expire_and_leave_nothing_when_refused,
    nairo_may_invite_iros_only,
    keys_must_be_age_and_wrapped_identities_passphrase_protected,
    the_directory_lists_only_eligible_advisers,
    oversized_and_malformed_bodies_are_problems,
);

async fn the_whole_account_flow_works(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let nairo = app.user(&admin, Role::Nairo, None, None).await;

    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["role"], "iro");
    assert_eq!(me["authority_code"], "E06000019");
    assert_eq!(me["email"], iro.email);
    assert_eq!(me["totp_enabled"], true);
    let me = json(app.get_auth("/api/v1/me", &adviser.access).await, 200).await;
    assert_eq!(me["adviser_kind"], "solicitor");
    assert_eq!(me["totp_enabled"], true);
    assert_eq!(me["accepting"], true);

    let accounts = json(app.get_auth("/api/v1/accounts", &admin.access).await, 200).await;
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 4);
    for user in [&admin, &iro, &adviser, &nairo] {
        let row = accounts
            .iter()
            .find(|a| a["id"] == user.id.as_str())
            .unwrap();
        assert_eq!(row["role"], user.role.as_str());
        assert_eq!(row["status"], "active");
    }

    // Suspension refuses the account at once, the tokens it already holds included.
    let res = app
        .post_json(
            &format!("/api/v1/accounts/{}/suspend", iro.id),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        app.get_auth("/api/v1/me", &iro.access).await,
        401,
        "unauthenticated",
    )
    .await;
    // Told so only after the right password; a wrong one learns nothing of it.
    assert_problem(
        app.login(&iro.email, PASSWORD, Some(&app.fresh_totp(&iro)))
            .await,
        401,
        "account-suspended",
    )
    .await;
    assert_problem(
        app.login(&iro.email, "not the password at all", None).await,
        401,
        "invalid-credentials",
    )
    .await;
    let res = app
        .post_json(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": iro.refresh}),
        )
        .await;
    assert_problem(res, 401, "unauthenticated").await;
    let accounts = json(app.get_auth("/api/v1/accounts", &admin.access).await, 200).await;
    let row = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == iro.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["status"], "suspended");

    let res = app
        .post_json(
            &format!("/api/v1/accounts/{}/reactivate", iro.id),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let tokens = app.sign_in(&iro).await;
    let iro_access = tokens["access_token"].as_str().unwrap().to_owned();
    json(app.get_auth("/api/v1/me", &iro_access).await, 200).await;

    // An unknown account id is a 404 problem; an admin cannot suspend themselves.
    let res = app
        .post_json(
            "/api/v1/accounts/no-such-id/suspend",
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_problem(res, 404, "not-found").await;
    let res = app
        .post_json(
            &format!("/api/v1/accounts/{}/suspend", admin.id),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_problem(res, 422, "cannot-change-own-status").await;

    let authorities = json(app.get_auth("/api/v1/authorities", &iro_access).await, 200).await;
    let authorities = authorities.as_array().unwrap();
    assert_eq!(authorities.len(), 175);
    assert!(authorities
        .iter()
        .any(|a| a["code"] == "W06000015" && a["region"] == "Wales" && a["name_cy"] == "Caerdydd"));
    // Welsh names for the Welsh authorities only.
    let welsh = authorities.iter().filter(|a| a.get("name_cy").is_some());
    assert!(welsh
        .clone()
        .all(|a| a["code"].as_str().unwrap().starts_with('W')));
    assert_eq!(welsh.count(), 22);
}

async fn every_role_must_enrol_a_second_factor_first(app: TestApp) {
    let admin = app.admin().await;
    // An IRO too: an employer who learns the IRO's password must still not get in.
    let iro = app.unenrolled_iro(&admin).await;
    let tokens = json(app.login(&iro.email, PASSWORD, None).await, 200).await;
    let iro_access = tokens["access_token"].as_str().unwrap();
    json(app.get_auth("/api/v1/me", iro_access).await, 200).await;
    for res in [
        app.get_auth("/api/v1/advisers", iro_access).await,
        app.get_auth("/api/v1/queries", iro_access).await,
        app.post_json(
            "/api/v1/pressure-reports",
            Some(iro_access),
            &json!({"kind": "other", "occurred_on": "2026-11-01", "share_with_nairo": false}),
        )
        .await,
    ] {
        assert_problem(res, 403, "second-factor-enrolment-required").await;
    }
    let before = app.count("log_leaves");
    app.enrol_totp(iro_access).await;
    assert_eq!(app.count("log_leaves"), before + 1, "enrolment is logged");
    json(app.get_auth("/api/v1/advisers", iro_access).await, 200).await;

    let email = format!("{}@adviser.test", unique_name("adviser"));
    let invitation = app
        .invite(
            &admin.access,
            &json!({"role": "adviser", "email": email, "adviser_kind": "peer", "authority_code": "E08000025"}),
        )
        .await;
    app.sign_up(&invitation, PASSWORD).await;
    let tokens = json(app.login(&email, PASSWORD, None).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap();

    // Before enrolment: only /me and the enrolment endpoints answer.
    json(app.get_auth("/api/v1/me", access).await, 200).await;
    assert_problem(
        app.get_auth("/api/v1/authorities", access).await,
        403,
        "second-factor-enrolment-required",
    )
    .await;
    let res = app
        .put_json(
            "/api/v1/me/conflicts",
            access,
            &json!({"authority_codes": []}),
        )
        .await;
    assert_problem(res, 403, "second-factor-enrolment-required").await;

    // A wrong code does not enrol.
    let enrolment = json(
        app.post_json("/api/v1/me/totp", Some(access), &json!({}))
            .await,
        200,
    )
    .await;
    assert!(enrolment["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let res = app
        .post_json(
            "/api/v1/me/totp/confirm",
            Some(access),
            &json!({"code": "12345"}),
        )
        .await;
    assert_problem(res, 422, "totp-code-invalid").await;
    assert_problem(
        app.get_auth("/api/v1/authorities", access).await,
        403,
        "second-factor-enrolment-required",
    )
    .await;

    let secret = app.enrol_totp(access).await;
    json(app.get_auth("/api/v1/authorities", access).await, 200).await;
    // Once enabled, the second factor cannot be replaced with only an access token.
    let res = app
        .post_json("/api/v1/me/totp", Some(access), &json!({}))
        .await;
    assert_problem(res, 409, "totp-already-enabled").await;
    // And login now needs a code, which the answer says only to the right password.
    assert_problem(
        app.login(&email, PASSWORD, None).await,
        401,
        "second-factor-required",
    )
    .await;
    assert_problem(
        app.login(&email, "not the password at all", None).await,
        401,
        "invalid-credentials",
    )
    .await;
    json(
        app.login(&email, PASSWORD, Some(&totp_code(&secret, 1)))
            .await,
        200,
    )
    .await;

    // The secret is sealed at rest: the database holds neither it nor its base32 form.
    use diesel::prelude::*;
    use iro_advice_server::db::schema::accounts;
    let db = app.database();
    let mut conn = db.get().unwrap();
    let sealed: Option<Vec<u8>> = accounts::table
        .filter(accounts::email.eq(&email))
        .select(accounts::totp_secret)
        .first(&mut *conn)
        .unwrap();
    let sealed = sealed.unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
    let b32 = enrolment["secret"].as_str().unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains(b32));
    // And it is there, sealed: the service's key opens it to the very secret enrolled.
    let keys =
        iro_advice_server::keys::Keys::load_or_create(&app.settings.accounts.keys_dir).unwrap();
    let id: String = accounts::table
        .filter(accounts::email.eq(&email))
        .select(accounts::id)
        .first(&mut *conn)
        .unwrap();
    let opened = iro_advice_server::accounts::totp::Sealer::new(&keys.totp_seal).open(&id, &sealed);
    assert_eq!(opened.as_deref(), Some(secret.as_slice()));
}

fn forge(claims: &Value, header: jsonwebtoken::Header, key: &jsonwebtoken::EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

async fn forged_and_expired_tokens_are_refused(app: TestApp) {
    use base64::Engine;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let admin = app.admin().await;
    json(app.get_auth("/api/v1/me", &admin.access).await, 200).await;

    let genuine: Value =
        serde_json::from_slice(&b64.decode(admin.access.split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    let keys =
        iro_advice_server::keys::Keys::load_or_create(&app.settings.accounts.keys_dir).unwrap();
    let real_key = EncodingKey::from_ed_der(&keys.access_token_pkcs8);
    let now = chrono::Utc::now().timestamp();

    // Sanity: the real key with the genuine claims is accepted, so each refusal below is
    // down to the one thing changed.
    let resigned = forge(&genuine, Header::new(Algorithm::EdDSA), &real_key);
    json(app.get_auth("/api/v1/me", &resigned).await, 200).await;

    let mut expired = genuine.clone();
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 60);
    let mut wrong_audience = genuine.clone();
    wrong_audience["aud"] = json!("https://elsewhere.example/api/v1");
    let mut wrong_issuer = genuine.clone();
    wrong_issuer["iss"] = json!("https://elsewhere.example");
    let other_pkcs8 =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let other_key = EncodingKey::from_ed_der(other_pkcs8.as_ref());
    let none_token = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(&genuine).unwrap())
    );
    // The classic confusion: HMAC keyed with the server's public key.
    let hmac_token = forge(
        &genuine,
        Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(&keys.access_token_public),
    );

    for (what, token) in [
        (
            "expired",
            forge(&expired, Header::new(Algorithm::EdDSA), &real_key),
        ),
        (
            "wrong audience",
            forge(&wrong_audience, Header::new(Algorithm::EdDSA), &real_key),
        ),
        (
            "wrong issuer",
            forge(&wrong_issuer, Header::new(Algorithm::EdDSA), &real_key),
        ),
        (
            "another key",
            forge(&genuine, Header::new(Algorithm::EdDSA), &other_key),
        ),
        ("alg none", none_token),
        ("HS256", hmac_token),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let res = app.get_auth("/api/v1/me", &token).await;
        assert_eq!(res.status(), 401, "{what} was not refused");
        assert!(res.headers().contains_key("www-authenticate"), "{what}");
    }
    let res = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_problem(res, 401, "unauthenticated").await;
}

async fn a_totp_code_is_accepted_once(app: TestApp) {
    let admin = app.admin().await;
    let secret = admin.totp_secret.clone().unwrap();
    let code = totp_code(&secret, 1);
    json(app.login(&admin.email, PASSWORD, Some(&code)).await, 200).await;
    assert_problem(
        app.login(&admin.email, PASSWORD, Some(&code)).await,
        401,
        "second-factor-invalid",
    )
    .await;
    // The code used to enrol is older still, and refused too.
    let enrol_code = totp_code(&secret, 0);
    assert_problem(
        app.login(&admin.email, PASSWORD, Some(&enrol_code)).await,
        401,
        "second-factor-invalid",
    )
    .await;
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": token}),
    )
    .await
}

async fn a_reused_refresh_token_revokes_its_family(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("W06000015"), None).await;
    let first = json(refresh(&app, &iro.refresh).await, 200).await;
    let second_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let second_access = first["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, iro.refresh, "rotated");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 600);
    json(app.get_auth("/api/v1/me", &second_access).await, 200).await;

    // The old token again: refused, and everything in its family dies with it.
    assert_problem(refresh(&app, &iro.refresh).await, 401, "unauthenticated").await;
    assert_problem(refresh(&app, &second_refresh).await, 401, "unauthenticated").await;
    assert_problem(
        app.get_auth("/api/v1/me", &second_access).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        app.get_auth("/api/v1/me", &iro.access).await,
        401,
        "unauthenticated",
    )
    .await;
    // Another session of the same account is untouched.
    let other = app.sign_in(&iro).await;
    json(
        app.get_auth("/api/v1/me", other["access_token"].as_str().unwrap())
            .await,
        200,
    )
    .await;
    assert_problem(refresh(&app, "made-up").await, 401, "unauthenticated").await;
}

async fn logout_ends_the_session_at_once(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E09000033"), None).await;
    let res = app
        .post_json(
            "/api/v1/auth/logout",
            None,
            &json!({"refresh_token": iro.refresh}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        app.get_auth("/api/v1/me", &iro.access).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(refresh(&app, &iro.refresh).await, 401, "unauthenticated").await;
}

async fn an_attackers_failed_sign_ins_do_not_keep_the_owner_out(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let unknown = format!("{}@nobody.test", unique_name("ghost"));
    // The IRO's own client signed in once, and keeps the device token it was given.
    let first = json(
        app.login_from(&iro.email, PASSWORD, Some(&app.fresh_totp(&iro)), None)
            .await,
        200,
    )
    .await;
    let device = first["device_token"].as_str().unwrap().to_owned();
    assert!(first.get("failed_sign_ins").is_none(), "{first}");

    // The employer knows the email, and tries passwords (in case and spacing variants).
    let outbox = app.count("outbox");
    let variants = [
        iro.email.clone(),
        iro.email.to_uppercase(),
        format!("  {}", iro.email),
    ];
    let mut known_bodies = Vec::new();
    let mut unknown_bodies = Vec::new();
    for i in 0..5 {
        known_bodies.push(
            assert_problem(
                app.login(&variants[i % 3], "wrong password!!", None).await,
                401,
                "invalid-credentials",
            )
            .await,
        );
        unknown_bodies.push(
            assert_problem(
                app.login(&unknown, "wrong password!!", None).await,
                401,
                "invalid-credentials",
            )
            .await,
        );
    }
    assert_eq!(
        known_bodies, unknown_bodies,
        "known and unknown emails are answered alike"
    );
    assert_eq!(
        app.count("outbox"),
        outbox,
        "no mail: the only address the account has is its work address, which the employer's \
         mail server reads; the holder is told at the next sign-in"
    );

    // Without the device, the email is locked, and a guess tells nothing: the right
    // password is answered exactly as a wrong one.
    for email in [&iro.email, &unknown] {
        let right = app.login(email, PASSWORD, None).await;
        let retry_after: u64 = right.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
        let right = assert_problem(right, 429, "too-many-attempts").await;
        let wrong = app.login(email, "another guess!!", None).await;
        assert_eq!(assert_problem(wrong, 429, "too-many-attempts").await, right);
    }
    // A device token the account was never given is no way round it.
    let res = app
        .login_from(&iro.email, PASSWORD, None, Some("made-up-device-token"))
        .await;
    assert_eq!(res.status(), 429);

    // The IRO's own client is not locked: it is asked for the second factor as usual, gets
    // in with it, and says what happened.
    let res = app
        .login_from(&iro.email, PASSWORD, None, Some(&device))
        .await;
    assert_problem(res, 401, "second-factor-required").await;
    let back = json(
        app.login_from(
            &iro.email,
            PASSWORD,
            Some(&app.fresh_totp(&iro)),
            Some(&device),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(back["failed_sign_ins"], 5, "{back}");
    assert!(
        back.get("device_token").is_none(),
        "the device keeps its token"
    );
    // Wrong guesses from the device count against the device alone.
    for _ in 0..5 {
        let res = app
            .login_from(&iro.email, "fat fingers!!", None, Some(&device))
            .await;
        assert_problem(res, 401, "invalid-credentials").await;
    }
    assert_eq!(
        app.login_from(&iro.email, PASSWORD, None, Some(&device))
            .await
            .status(),
        429
    );

    // With a second factor, the right password and a valid code get in from anywhere, even
    // while the email is locked; the right password alone tells nothing.
    let secret = admin.totp_secret.as_ref().unwrap();
    for _ in 0..5 {
        app.login(&admin.email.to_uppercase(), "wrong password!!", None)
            .await;
    }
    assert_eq!(app.login(&admin.email, PASSWORD, None).await.status(), 429);
    let code = totp_code(secret, 1);
    assert_eq!(
        app.login(&admin.email, "wrong password!!", Some(&code))
            .await
            .status(),
        429
    );
    let admin_back = json(app.login(&admin.email, PASSWORD, Some(&code)).await, 200).await;
    assert_eq!(admin_back["failed_sign_ins"], 6, "{admin_back}");
}

/// A service whose ceiling is `per_minute` failed sign-ins, its admin, and an IRO signed in
/// once, with the device token their client keeps.
async fn with_ceiling(
    app: &TestApp,
    per_minute: &str,
) -> (
    TestApp,
    iro_advice_testkit::User,
    iro_advice_testkit::User,
    String,
) {
    with_setting(app, ("IRO_ADVICE_LOGIN_FAILURES_PER_MINUTE", per_minute)).await
}

/// A service with one setting changed, its admin, and an IRO signed in once, with the device
/// token their client keeps.
async fn with_setting(
    app: &TestApp,
    setting: (&str, &str),
) -> (
    TestApp,
    iro_advice_testkit::User,
    iro_advice_testkit::User,
    String,
) {
    let app = iro_advice_testkit::spawn_app_with(app.backend, &[setting])
        .await
        .unwrap();
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let device = json(
        app.login_from(&iro.email, PASSWORD, Some(&app.fresh_totp(&iro)), None)
            .await,
        200,
    )
    .await["device_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (app, admin, iro, device)
}

/// The IRO, on the device their client remembers, with the right password and a fresh code.
async fn signs_in_from_device(app: &TestApp, iro: &iro_advice_testkit::User, device: &str) {
    json(
        app.login_from(
            &iro.email,
            PASSWORD,
            Some(&app.fresh_totp(iro)),
            Some(device),
        )
        .await,
        200,
    )
    .await;
}

async fn a_service_wide_flood_of_failures_locks_out_only_clients_without_a_device(app: TestApp) {
    let (app, admin, iro, device) = with_ceiling(&app, "4").await;
    // Guesses spread over many emails, none of which reaches its own limit.
    for i in 0..4 {
        let res = app
            .login(&format!("target{i}@somewhere.test"), "guess!!guess", None)
            .await;
        assert_problem(res, 401, "invalid-credentials").await;
    }
    let res = app.login(&iro.email, PASSWORD, None).await;
    assert_problem(res, 429, "too-many-attempts").await;
    // The IRO's own client is outside the ceiling: asked for its code, not refused.
    let res = app
        .login_from(&iro.email, PASSWORD, None, Some(&device))
        .await;
    assert_problem(res, 401, "second-factor-required").await;
    signs_in_from_device(&app, &iro, &device).await;
    json(
        app.login(
            &admin.email,
            PASSWORD,
            Some(&totp_code(admin.totp_secret.as_ref().unwrap(), 1)),
        )
        .await,
        200,
    )
    .await;
}

async fn a_burst_of_failures_reaches_the_ceiling_before_the_minutes_allowance_is_spent(
    app: TestApp,
) {
    // 120 a minute: a sixth of it, 20, within ten seconds is a flood.
    let (app, _, iro, device) = with_ceiling(&app, "120").await;
    let before = app.count("login_failures");
    for i in 0..20 {
        let res = app
            .login(&format!("burst{i}@somewhere.test"), "guess!!guess", None)
            .await;
        assert_problem(res, 401, "invalid-credentials").await;
    }
    assert_eq!(app.count("login_failures"), before + 20);
    // The 21st, far short of the minute's 120, meets the ceiling, and costs no hash and no
    // record.
    let res = app
        .login("burst-next@somewhere.test", "guess!!guess", None)
        .await;
    assert_problem(res, 429, "too-many-attempts").await;
    assert_eq!(app.count("login_failures"), before + 20);
    // The IRO's own client is outside it.
    signs_in_from_device(&app, &iro, &device).await;
}

async fn a_locked_attempt_whose_code_cannot_be_right_costs_no_hash(app: TestApp) {
    use crate::monitoring::hashes_made;
    let (app, _, iro, _) = with_ceiling(&app, "4").await;
    for i in 0..4 {
        let res = app
            .login(&format!("flood{i}@somewhere.test"), "guess!!guess", None)
            .await;
        assert_problem(res, 401, "invalid-credentials").await;
    }
    // The ceiling holds. A flood that offers a code with every guess cannot be refused
    // unheard (the right password and a valid code get in), but a code that cannot be right
    // is refused without a hash: for an email with no account, or a wrong code for the
    // IRO's, with the right password or not.
    let secret = iro.totp_secret.as_ref().unwrap();
    let valid: Vec<String> = (-1..=1).map(|step| totp_code(secret, step)).collect();
    let wrong = (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !valid.contains(c))
        .unwrap();
    let hashes = hashes_made(&app);
    let failures = app.count("login_failures");
    let tries = [
        ("flood-next@somewhere.test", "guess!!guess"),
        (iro.email.as_str(), "guess!!guess"),
        (iro.email.as_str(), PASSWORD),
    ];
    for (email, password) in tries {
        let res = app.login(email, password, Some(&wrong)).await;
        assert_problem(res, 429, "too-many-attempts").await;
    }
    assert_eq!(hashes_made(&app), hashes, "no password was hashed");
    assert_eq!(
        app.count("login_failures"),
        failures + tries.len() as i64 + 2,
        "each is recorded as a failure, as a hashed one would be, and the two wrong codes for \
         the IRO's account count against its budget of codes"
    );
    // A code that may be right is worth its hash: with a wrong password it is refused like
    // any other guess (and not used up), with the right one it gets in.
    let code = app.fresh_totp(&iro);
    let res = app.login(&iro.email, "guess!!guess", Some(&code)).await;
    assert_problem(res, 429, "too-many-attempts").await;
    assert_eq!(hashes_made(&app), hashes + 1.0);
    json(app.login(&iro.email, PASSWORD, Some(&code)).await, 200).await;
    assert_eq!(hashes_made(&app), hashes + 2.0);
}

/// The attack as measured: the password is known (the employer has it), and codes are
/// guessed as fast as the server hashes, with 64 connections at once. Guesses from devices
/// the account does not know get ten wrong codes an hour, whatever the cores, after which no
/// code is even checked, the right one included; the owner's own device gets in throughout.
async fn a_guess_flood_with_the_password_never_wins_and_never_turns_the_owner_away(app: TestApp) {
    use crate::monitoring::hashes_made;
    let (app, _, iro, device) = with_setting(&app, ("IRO_ADVICE_PASSWORD_HASH_SLOTS", "1")).await;
    let secret = iro.totp_secret.clone().unwrap();
    let valid: Vec<String> = (-2..=2).map(|step| totp_code(&secret, step)).collect();
    let wrong: Vec<String> = (0..100_000u32)
        .map(|n| format!("{:06}", n * 7 + 13))
        .filter(|c| !valid.contains(c))
        .take(12)
        .collect();
    // Ten wrong codes with the right password: the first five refused as wrong, then the
    // email is locked; each counts against the account's budget.
    for code in &wrong[..10] {
        let res = app.login(&iro.email, PASSWORD, Some(code)).await;
        assert!(
            matches!(res.status().as_u16(), 401 | 429),
            "{}",
            res.status()
        );
    }
    // The budget is spent: the right code, with the right password, from a device the
    // account does not know, is not even checked.
    let hashes = hashes_made(&app);
    let res = app
        .login(&iro.email, PASSWORD, Some(&app.fresh_totp(&iro)))
        .await;
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry_after > 15 * 60 && retry_after <= 60 * 60,
        "{retry_after}"
    );
    assert_problem(res, 429, "too-many-attempts").await;
    assert_eq!(hashes_made(&app), hashes, "no hash spent on a spent budget");

    // The flood: 64 guessers at once for a few seconds, while the owner signs in from the
    // device their client keeps, again and again.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut guessers = Vec::new();
    for g in 0..64u32 {
        let (app_client, url, email, stop) = (
            app.client.clone(),
            app.url("/api/v1/auth/login"),
            iro.email.clone(),
            stop.clone(),
        );
        guessers.push(tokio::spawn(async move {
            let mut answers = std::collections::BTreeMap::<u16, u32>::new();
            let mut n = g;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n = n.wrapping_mul(2_654_435_761).wrapping_add(1);
                let res = app_client
                    .post(&url)
                    .json(&json!({"email": email, "password": PASSWORD,
                                  "totp_code": format!("{:06}", n % 1_000_000)}))
                    .send()
                    .await;
                if let Ok(res) = res {
                    *answers.entry(res.status().as_u16()).or_default() += 1;
                }
            }
            answers
        }));
    }
    let mut owner = Vec::new();
    for _ in 0..8 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let res = app
            .login_from(
                &iro.email,
                PASSWORD,
                Some(&app.fresh_totp(&iro)),
                Some(&device),
            )
            .await;
        owner.push(res.status().as_u16());
        // A code is accepted once: wait for the next step's code where needed.
        if res.status() != 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut flood = std::collections::BTreeMap::<u16, u32>::new();
    for g in guessers {
        for (status, n) in g.await.unwrap() {
            *flood.entry(status).or_default() += n;
        }
    }
    assert_eq!(
        owner,
        vec![200; 8],
        "the owner, during the flood: {owner:?}"
    );
    assert!(!flood.contains_key(&200), "a guess got in: {flood:?}");
    assert!(flood.values().sum::<u32>() > 64, "a flood: {flood:?}");
}

async fn invitations_are_single_use_expire_and_leave_nothing_when_refused(app: TestApp) {
    let email = format!("{}@iro.test", unique_name("iro"));
    let token = app.cli_invitation(Role::Iro, &email, Some("E06000019"), None);
    let before = app.count("accounts");

    for (password, slug) in [
        ("short", "weak-password"),
        (email.as_str(), "weak-password"),
    ] {
        let res = app
            .post_json(
                "/api/v1/accounts",
                None,
                &json!({"invitation": token, "password": password, "display_name": "X"}),
            )
            .await;
        assert_problem(res, 400, slug).await;
    }
    let res = app
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"invitation": token, "password": PASSWORD, "display_name": ""}),
        )
        .await;
    assert_problem(res, 400, "invalid-json").await;
    assert_eq!(app.count("accounts"), before, "refusals store nothing");

    // Either half alone opens nothing, and five wrong codes void the link for good: whoever
    // reads the invitee's mail cannot guess the code either.
    let (link, code) = token.split_once('.').unwrap();
    for half in [link, code] {
        let res = app
            .post_json(
                "/api/v1/accounts",
                None,
                &json!({"invitation": half, "password": PASSWORD, "display_name": "X"}),
            )
            .await;
        assert_problem(res, 400, "invalid-invitation").await;
    }
    let guessed = app.cli_invitation(
        Role::Iro,
        &format!("{}@iro.test", unique_name("guessed")),
        Some("E06000019"),
        None,
    );
    let (guessed_link, guessed_code) = guessed.split_once('.').unwrap();
    for wrong in [
        "AAAAA-AAAAA",
        "BBBBB-BBBBB",
        "CCCCC-CCCCC",
        "DDDDD-DDDDD",
        "EEEEE-EEEEE",
    ] {
        let res = app
            .post_json(
                "/api/v1/accounts",
                None,
                &json!({"invitation": guessed_link, "code": wrong, "password": PASSWORD, "display_name": "X"}),
            )
            .await;
        assert_problem(res, 400, "invalid-invitation").await;
    }
    let res = app
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"invitation": guessed_link, "code": guessed_code, "password": PASSWORD, "display_name": "X"}),
        )
        .await;
    assert_problem(res, 400, "invalid-invitation").await;
    assert_eq!(app.count("accounts"), before);

    // The halves apart, the code typed loosely, open it.
    let loose = code.replace('-', " ").to_lowercase();
    let created = json(
        app.post_json(
            "/api/v1/accounts",
            None,
            &json!({"invitation": link, "code": loose, "password": PASSWORD, "display_name": "X"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["role"], "iro");
    let res = app
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"invitation": token, "password": PASSWORD, "display_name": "Again"}),
        )
        .await;
    assert_problem(res, 400, "invalid-invitation").await;
    assert_eq!(app.count("accounts"), before + 1);

    // An expired invitation is refused exactly like an unknown one.
    let late = app.cli_invitation(
        Role::Iro,
        &format!("{}@iro.test", unique_name("late")),
        Some("E06000019"),
        None,
    );
    {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::invitations;
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::update(invitations::table.filter(invitations::token_hash.eq(
            iro_advice_server::keys::token_hash(late.split('.').next().unwrap()),
        )))
        .set(
            invitations::expires_at
                .eq(chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1)),
        )
        .execute(&mut *conn)
        .unwrap();
    }
    let res = app
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"invitation": late, "password": PASSWORD, "display_name": "Late"}),
        )
        .await;
    assert_problem(res, 400, "invalid-invitation").await;
    assert_eq!(app.count("accounts"), before + 1);

    // Stored only as a hash.
    use diesel::prelude::*;
    use iro_advice_server::db::schema::invitations;
    let db = app.database();
    let mut conn = db.get().unwrap();
    let stored: Vec<String> = invitations::table
        .select(invitations::token_hash)
        .load(&mut *conn)
        .unwrap();
    assert!(!stored.iter().any(|h| h == &token || h == &late));
    // What is stored is each token's hash.
    for t in [link, late.split('.').next().unwrap()] {
        assert!(
            stored.contains(&iro_advice_server::keys::token_hash(t)),
            "no hash stored"
        );
    }
}

async fn nairo_may_invite_iros_only(app: TestApp) {
    let admin = app.admin().await;
    let nairo = app.user(&admin, Role::Nairo, None, None).await;
    let before = app.count("invitations");
    let mail_before = app.count("outbox");
    let res = app
        .post_json(
            "/api/v1/invitations",
            Some(&nairo.access),
            &json!({"role": "adviser", "email": "x@adviser.test", "adviser_kind": "solicitor"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .post_json(
            "/api/v1/invitations",
            Some(&nairo.access),
            &json!({"role": "iro", "email": "x@iro.test"}),
        )
        .await;
    assert_problem(res, 422, "invalid-invitation").await;
    let res = app
        .post_json(
            "/api/v1/invitations",
            Some(&nairo.access),
            &json!({"role": "iro", "email": "x@iro.test", "authority_code": "E99999999"}),
        )
        .await;
    assert_problem(res, 400, "invalid-json").await;
    assert_eq!(
        app.count("invitations"),
        before,
        "refused invitations store nothing"
    );
    assert_eq!(app.count("outbox"), mail_before, "and send nothing");

    let res = app
        .post_json(
            "/api/v1/invitations",
            Some(&nairo.access),
            &json!({"role": "iro", "email": "x@iro.test", "authority_code": "E06000019"}),
        )
        .await;
    let body = json(res, 201).await;
    assert_eq!(body["code"].as_str().unwrap().len(), 11);
    assert!(body["expires_at"].as_str().is_some());
    assert!(
        body.get("token").is_none(),
        "the link's half goes only by mail"
    );

    // An email with an account is answered exactly as a new one: same status, same fields,
    // one leaf each; only the new one gets mail, and the other invitation can never become
    // an account.
    let leaves = |app: &TestApp| app.count("log_leaves");
    let mut answers = Vec::new();
    for email in [iro_email(), nairo.email.clone()] {
        let (leaves_before, mail_before) = (leaves(&app), app.count("outbox"));
        let res = app
            .post_json(
                "/api/v1/invitations",
                Some(&nairo.access),
                &json!({"role": "iro", "email": email, "authority_code": "E06000019"}),
            )
            .await;
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap();
        let mut shape: Vec<(String, usize)> = body
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().len()))
            .collect();
        shape.sort();
        answers.push((status, shape));
        assert_eq!(leaves(&app), leaves_before + 1);
        let mailed = app.count("outbox") - mail_before;
        assert_eq!(mailed, i64::from(email != nairo.email), "mail for {email}");
    }
    assert_eq!(answers[0], answers[1]);
    // Even both halves of one (here from the console) make no second account for an email.
    let whole = app.cli_invitation(Role::Iro, &nairo.email, Some("E06000019"), None);
    let res = app
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"invitation": whole, "password": PASSWORD, "display_name": "X"}),
        )
        .await;
    assert_problem(res, 409, "account-exists").await;
}

fn iro_email() -> String {
    format!("{}@iro.test", unique_name("iro"))
}

fn passphrase_wrapped(identity: &age::x25519::Identity) -> String {
    use age::secrecy::ExposeSecret;
    let mut recipient =
        age::scrypt::Recipient::new("correct horse battery staple".to_owned().into());
    // The least the service accepts.
    recipient.set_work_factor(18);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut out = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut writer = encryptor.wrap_output(armor).unwrap();
    writer
        .write_all(identity.to_string().expose_secret().as_bytes())
        .unwrap();
    writer.finish().unwrap().finish().unwrap();
    String::from_utf8(out).unwrap()
}

fn encrypted_to_key(identity: &age::x25519::Identity) -> String {
    iro_advice_testkit::armored("not a passphrase-wrapped identity", &[identity.to_public()])
}

async fn keys_must_be_age_and_wrapped_identities_passphrase_protected(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();

    for body in [
        json!({"age_recipient": "age1notarealkey"}),
        json!({"age_recipient": recipient, "wrapped_identity": "-----BEGIN AGE ENCRYPTED FILE-----\nnope\n-----END AGE ENCRYPTED FILE-----\n"}),
        json!({"age_recipient": recipient, "wrapped_identity": encrypted_to_key(&identity)}),
        json!({"age_recipient": recipient, "wrapped_identity": "plain text"}),
    ] {
        let res = app.put_json("/api/v1/me/key", &iro.access, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
        assert!(
            me.get("age_recipient").is_none(),
            "nothing stored after a refusal"
        );
    }
    // Downloading the wrapped identity needs a fresh second factor, not only the session.
    assert_problem(
        app.get_auth("/api/v1/me/key", &iro.access).await,
        403,
        "step-up-required",
    )
    .await;

    let wrapped = passphrase_wrapped(&identity);
    let res = app
        .put_json(
            "/api/v1/me/key",
            &iro.access,
            &json!({"age_recipient": recipient, "wrapped_identity": wrapped}),
        )
        .await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["age_recipient"], recipient);
    let code = app.fresh_totp(&iro);
    let get_key = |code: Option<String>| {
        let mut req = app
            .client
            .get(app.url("/api/v1/me/key"))
            .bearer_auth(&iro.access);
        if let Some(code) = code {
            req = req.header("X-Step-Up-Code", code);
        }
        req.send()
    };
    assert_problem(get_key(None).await.unwrap(), 403, "step-up-required").await;
    let back = json(get_key(Some(code.clone())).await.unwrap(), 200).await;
    assert_eq!(back["wrapped_identity"], wrapped);
    // A code is good once.
    assert_problem(get_key(Some(code)).await.unwrap(), 403, "step-up-required").await;
    // Replacing the key needs a fresh code too; the first key did not.
    let other = age::x25519::Identity::generate().to_public().to_string();
    let res = app
        .put_json(
            "/api/v1/me/key",
            &iro.access,
            &json!({"age_recipient": other}),
        )
        .await;
    assert_problem(res, 403, "step-up-required").await;
    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["age_recipient"], recipient, "nothing changed");
}

async fn the_directory_lists_only_eligible_advisers(app: TestApp) {
    let admin = app.admin().await;
    // The IRO works for Herefordshire (E06000019).
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let solicitor = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let conflicted = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let same_employer = app
        .user(
            &admin,
            Role::Adviser,
            Some("E06000019"),
            Some(AdviserKind::Peer),
        )
        .await;
    let other_peer = app
        .user(
            &admin,
            Role::Adviser,
            Some("E08000025"),
            Some(AdviserKind::Peer),
        )
        .await;
    // Never registers a key, so is never listed.
    let _keyless = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let on_leave = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let suspended = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    for a in [
        &solicitor,
        &conflicted,
        &same_employer,
        &other_peer,
        &on_leave,
        &suspended,
    ] {
        app.register_key(a).await;
    }
    let res = app
        .put_json(
            "/api/v1/me/conflicts",
            &conflicted.access,
            &json!({"authority_codes": ["E06000019", "E08000025"]}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .put_json(
            "/api/v1/me/conflicts",
            &conflicted.access,
            &json!({"authority_codes": ["NOTACODE"]}),
        )
        .await;
    assert_problem(res, 400, "invalid-json").await;
    let me = json(app.get_auth("/api/v1/me", &conflicted.access).await, 200).await;
    assert_eq!(
        me["conflicts"],
        json!(["E06000019", "E08000025"]),
        "a refused update changes nothing"
    );
    let res = app
        .put_json(
            "/api/v1/me/availability",
            &on_leave.access,
            &json!({"accepting": false}),
        )
        .await;
    assert_eq!(res.status(), 204);
    app.post_json(
        &format!("/api/v1/accounts/{}/suspend", suspended.id),
        Some(&admin.access),
        &json!({}),
    )
    .await;

    let listed = json(app.get_auth("/api/v1/advisers", &iro.access).await, 200).await;
    let mut ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![solicitor.id.as_str(), other_peer.id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == other_peer.id.as_str())
        .unwrap();
    assert_eq!(entry["kind"], "peer");
    assert!(entry["age_recipient"].as_str().unwrap().starts_with("age1"));

    // Advisers themselves may not browse the directory.
    assert_problem(
        app.get_auth("/api/v1/advisers", &solicitor.access).await,
        403,
        "forbidden",
    )
    .await;
}

async fn oversized_and_malformed_bodies_are_problems(app: TestApp) {
    let huge = "x".repeat(200 * 1024);
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": "a@b.test", "password": huge}),
        )
        .await;
    assert_problem(res, 413, "payload-too-large").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid-json").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported-media-type").await;
    assert_eq!(
        app.count("login_failures"),
        0,
        "nothing recorded for refused bodies"
    );
}
