//! Passkeys as the second factor, with a software authenticator (tests/api/authenticator.rs):
//! enrolment, sign-in, step-up, and the attacks WebAuthn exists to stop — a phishing
//! origin, a replayed answer, a challenge used for another purpose, a cloned authenticator,
//! another account's passkey, and a stolen session adding its own factor.

use iro_advice_model::accounts::Role;
use serde_json::{json, Value};

use iro_advice_testkit::authenticator::{origin_of, Authenticator};
use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, json, TestApp, User, PASSWORD};

both_databases!(
    a_passkey_is_a_second_factor_from_enrolment_to_sign_in,
    a_passkeys_answer_counts_only_once_for_its_purpose_its_site_and_its_account,
    a_passkey_vouches_for_the_acts_that_need_a_fresh_factor,
    a_malformed_or_foreign_registration_changes_nothing,
    a_second_factor_changes_only_with_a_fresh_one_and_never_to_none,
    an_operators_reset_is_seen_by_the_owner_and_in_the_log,
    a_locked_attempt_whose_passkey_answer_cannot_be_right_costs_no_hash,
);

/// An unenrolled IRO signed in with the password alone.
async fn signed_in_without_factor(app: &TestApp) -> User {
    let admin = app.admin().await;
    let mut iro = app.unenrolled_iro(&admin).await;
    let tokens = json(app.login(&iro.email, PASSWORD, None).await, 200).await;
    iro.access = tokens["access_token"].as_str().unwrap().to_owned();
    iro.refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    iro
}

async fn add_passkey(app: &TestApp, access: &str, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/me/passkeys", Some(access), &body)
        .await
}

async fn creation_options(app: &TestApp, access: &str) -> Value {
    json(
        app.post_json("/api/v1/me/passkeys/options", Some(access), &json!({}))
            .await,
        200,
    )
    .await
}

async fn enrol(app: &TestApp, user: &User, authenticator: &mut Authenticator) -> Value {
    let options = creation_options(app, &user.access).await;
    let credential = authenticator.create(&options);
    json(
        add_passkey(
            app,
            &user.access,
            json!({"name": "work laptop", "credential": credential}),
        )
        .await,
        201,
    )
    .await
}

async fn sign_in_options(app: &TestApp) -> Value {
    json(
        app.post_json("/api/v1/auth/passkey/options", None, &json!({}))
            .await,
        200,
    )
    .await
}

async fn step_up_options(app: &TestApp, access: &str) -> Value {
    json(
        app.post_json("/api/v1/me/step-up/options", Some(access), &json!({}))
            .await,
        200,
    )
    .await
}

async fn login_with(app: &TestApp, user: &User, assertion: &Value) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/login",
        None,
        &json!({"email": user.email, "password": PASSWORD, "passkey": assertion}),
    )
    .await
}

async fn a_passkey_is_a_second_factor_from_enrolment_to_sign_in(app: TestApp) {
    let iro = signed_in_without_factor(&app).await;
    let origin = origin_of(&app.settings.server.public_url);
    // A second session, opened before the passkey, that enrolment must end.
    let other = json(app.login(&iro.email, PASSWORD, None).await, 200).await;
    let other = other["access_token"].as_str().unwrap().to_owned();
    assert_problem(
        app.get_auth("/api/v1/advisers", &iro.access).await,
        403,
        "second-factor-enrolment-required",
    )
    .await;

    let options = creation_options(&app, &iro.access).await;
    let host = url::Url::parse(&app.settings.server.public_url).unwrap();
    assert_eq!(options["rp"]["id"], host.host_str().unwrap());
    assert_eq!(options["attestation"], "none");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["pubKeyCredParams"][0]["alg"], -7);
    assert_eq!(options["user"]["name"], iro.email);
    assert_eq!(options["excludeCredentials"], json!([]));

    let leaves = app.count("log_leaves");
    let mut authenticator = Authenticator::p256(&origin);
    let credential = authenticator.create(&options);
    let added = json(
        add_passkey(
            &app,
            &iro.access,
            json!({"name": "  work laptop ", "credential": credential}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(added["id"], authenticator.id());
    assert_eq!(added["name"], "work laptop");
    assert_eq!(
        app.count("log_leaves"),
        leaves + 1,
        "the enrolment is in the log"
    );

    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["passkey_enabled"], true);
    assert_eq!(me["totp_enabled"], false);
    json(app.get_auth("/api/v1/advisers", &iro.access).await, 200).await;
    assert_problem(
        app.get_auth("/api/v1/me", &other).await,
        401,
        "unauthenticated",
    )
    .await;
    let listed = json(app.get_auth("/api/v1/me/passkeys", &iro.access).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], authenticator.id());

    // The same registration again, even vouched for by the passkey: its challenge is spent.
    let proof = authenticator.get(&step_up_options(&app, &iro.access).await);
    assert_problem(
        add_passkey(
            &app,
            &iro.access,
            json!({"credential": credential, "passkey": proof}),
        )
        .await,
        422,
        "passkey-invalid",
    )
    .await;
    assert_eq!(app.count("passkeys"), 1);

    // From now on the password alone is not enough; the passkey is.
    assert_problem(
        app.login(&iro.email, PASSWORD, None).await,
        401,
        "second-factor-required",
    )
    .await;
    let options = sign_in_options(&app).await;
    assert_eq!(
        options["allowCredentials"],
        json!([]),
        "nothing about any account"
    );
    let assertion = authenticator.get(&options);
    let tokens = json(login_with(&app, &iro, &assertion).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap();
    json(app.get_auth("/api/v1/advisers", access).await, 200).await;
    let listed = json(app.get_auth("/api/v1/me/passkeys", access).await, 200).await;
    assert!(listed[0]["last_used_at"].is_string());

    // A wrong password with a good passkey answer is still a wrong password.
    let assertion = authenticator.get(&sign_in_options(&app).await);
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": iro.email, "password": "not the password at all", "passkey": assertion}),
        )
        .await;
    assert_problem(res, 401, "invalid-credentials").await;

    // A second authenticator of another kind (Ed25519), vouched for by the first.
    let second = json(sign_in_with(&app, &iro, &mut authenticator).await, 200).await;
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    let mut ed = Authenticator::ed25519(&origin);
    let options = creation_options(&app, &second_access).await;
    assert_eq!(options["excludeCredentials"][0]["id"], authenticator.id());
    let credential = ed.create(&options);
    let proof = authenticator.get(&step_up_options(&app, &second_access).await);
    let outbox = app.count("outbox");
    json(
        add_passkey(
            &app,
            &second_access,
            json!({"name": "security key", "credential": credential, "passkey": proof}),
        )
        .await,
        201,
    )
    .await;
    let tokens = json(
        login_with(&app, &iro, &ed.get(&sign_in_options(&app).await)).await,
        200,
    )
    .await;
    assert!(tokens["access_token"].is_string());
    assert_eq!(
        app.count("outbox"),
        outbox,
        "nothing to the work address, the only one this account gave (its employer reads it)"
    );
}

async fn a_passkeys_answer_counts_only_once_for_its_purpose_its_site_and_its_account(app: TestApp) {
    let iro = signed_in_without_factor(&app).await;
    let origin = origin_of(&app.settings.server.public_url);
    let mut authenticator = Authenticator::p256(&origin);
    enrol(&app, &iro, &mut authenticator).await;

    // Replayed: the answer that signed in once does not sign in again.
    let assertion = authenticator.get(&sign_in_options(&app).await);
    json(login_with(&app, &iro, &assertion).await, 200).await;
    assert_problem(
        login_with(&app, &iro, &assertion).await,
        401,
        "second-factor-invalid",
    )
    .await;

    // Phished: a look-alike site relays the service's challenge, and the browser reports
    // the look-alike's origin in what the passkey signs.
    let options = sign_in_options(&app).await;
    authenticator.origin = "https://iro-advice-login.example".into();
    let assertion = authenticator.get(&options);
    authenticator.origin = origin.clone();
    assert_problem(
        login_with(&app, &iro, &assertion).await,
        401,
        "second-factor-invalid",
    )
    .await;

    // A step-up challenge answered is not a sign-in.
    let session = json(
        login_with(&app, &iro, &authenticator.get(&sign_in_options(&app).await)).await,
        200,
    )
    .await;
    let access = session["access_token"].as_str().unwrap();
    let assertion = authenticator.get(&step_up_options(&app, access).await);
    assert_problem(
        login_with(&app, &iro, &assertion).await,
        401,
        "second-factor-invalid",
    )
    .await;

    // A tampered signature.
    let mut assertion = authenticator.get(&sign_in_options(&app).await);
    let signature = assertion["response"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    assertion["response"]["signature"] = json!(format!("{flipped}{}", &signature[1..]));
    assert_problem(
        login_with(&app, &iro, &assertion).await,
        401,
        "second-factor-invalid",
    )
    .await;

    // A cloned authenticator: its counter is behind the one the service has seen.
    authenticator.counter = 1;
    let assertion = authenticator.get(&sign_in_options(&app).await);
    assert_problem(
        login_with(&app, &iro, &assertion).await,
        401,
        "second-factor-invalid",
    )
    .await;

    // Another account's passkey does not stand for this one, even with this password.
    let admin = app.admin().await;
    let mut other = app.unenrolled_iro(&admin).await;
    let tokens = json(app.login(&other.email, PASSWORD, None).await, 200).await;
    other.access = tokens["access_token"].as_str().unwrap().to_owned();
    let mut others = Authenticator::p256(&origin);
    enrol(&app, &other, &mut others).await;
    let assertion = others.get(&sign_in_options(&app).await);
    assert_problem(
        login_with(&app, &iro, &assertion).await,
        401,
        "second-factor-invalid",
    )
    .await;
    // ... and its own owner gets in with it.
    json(login_with(&app, &other, &assertion).await, 200).await;
}

async fn a_locked_attempt_whose_passkey_answer_cannot_be_right_costs_no_hash(app: TestApp) {
    use crate::monitoring::hashes_made;
    let iro = signed_in_without_factor(&app).await;
    let origin = origin_of(&app.settings.server.public_url);
    let mut authenticator = Authenticator::p256(&origin);
    enrol(&app, &iro, &mut authenticator).await;
    let used = authenticator.get(&sign_in_options(&app).await);
    json(login_with(&app, &iro, &used).await, 200).await;
    // Someone else, who knows the email, locks it.
    for _ in 0..5 {
        let res = app.login(&iro.email, "guess!!guess", None).await;
        assert_problem(res, 401, "invalid-credentials").await;
    }
    // Answers that no password could make count: refused, recorded, and never hashed.
    let hashes = hashes_made(&app);
    let options = sign_in_options(&app).await;
    authenticator.origin = "https://iro-advice-login.example".into();
    let phished = authenticator.get(&options);
    authenticator.origin = origin.clone();
    let mut made_up = authenticator.get(&sign_in_options(&app).await);
    made_up["id"] = json!("bm90LWEtcGFzc2tleQ");
    let failures = app.count("login_failures");
    for assertion in [&used, &phished, &made_up] {
        let res = login_with(&app, &iro, assertion).await;
        assert_problem(res, 429, "too-many-attempts").await;
    }
    assert_eq!(hashes_made(&app), hashes, "no password was hashed");
    assert_eq!(app.count("login_failures"), failures + 3);
    // The owner's passkey, with the owner's password, still gets in.
    let res = login_with(&app, &iro, &authenticator.get(&sign_in_options(&app).await)).await;
    json(res, 200).await;
    assert_eq!(hashes_made(&app), hashes + 1.0);
}

async fn a_passkey_vouches_for_the_acts_that_need_a_fresh_factor(app: TestApp) {
    let iro = signed_in_without_factor(&app).await;
    let origin = origin_of(&app.settings.server.public_url);
    let mut authenticator = Authenticator::p256(&origin);
    enrol(&app, &iro, &mut authenticator).await;
    let options = step_up_options(&app, &iro.access).await;
    assert_eq!(options["allowCredentials"][0]["id"], authenticator.id());

    // The first key needs only the session; replacing it needs a fresh factor.
    app.register_key(&iro).await;
    let replacement = age::x25519::Identity::generate().to_public().to_string();
    assert_problem(
        app.put_json(
            "/api/v1/me/key",
            &iro.access,
            &json!({"age_recipient": replacement}),
        )
        .await,
        403,
        "step-up-required",
    )
    .await;
    // A sign-in challenge is not a step-up.
    let wrong_purpose = authenticator.get(&sign_in_options(&app).await);
    assert_problem(
        app.put_json(
            "/api/v1/me/key",
            &iro.access,
            &json!({"age_recipient": replacement, "passkey": wrong_purpose}),
        )
        .await,
        403,
        "step-up-required",
    )
    .await;
    let proof = authenticator.get(&step_up_options(&app, &iro.access).await);
    let res = app
        .put_json(
            "/api/v1/me/key",
            &iro.access,
            &json!({"age_recipient": replacement, "passkey": proof}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["age_recipient"], replacement.as_str());

    // The password, with a passkey instead of a code.
    let new_password = "another long enough passphrase";
    let proof = authenticator.get(&step_up_options(&app, &iro.access).await);
    let res = app
        .put_json(
            "/api/v1/me/password",
            &iro.access,
            &json!({"current_password": PASSWORD, "new_password": new_password, "passkey": proof}),
        )
        .await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    let assertion = authenticator.get(&sign_in_options(&app).await);
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": iro.email, "password": new_password, "passkey": assertion}),
        )
        .await;
    json(res, 200).await;

    // A stolen session alone cannot add the thief's factor: neither a passkey nor TOTP.
    let mut thiefs = Authenticator::p256(&origin);
    let credential = thiefs.create(&creation_options(&app, &iro.access).await);
    assert_problem(
        add_passkey(&app, &iro.access, json!({"credential": credential})).await,
        403,
        "step-up-required",
    )
    .await;
    assert_eq!(app.count("passkeys"), 1);
    assert_problem(
        app.post_json("/api/v1/me/totp", Some(&iro.access), &json!({}))
            .await,
        409,
        "totp-already-enabled",
    )
    .await;
}

async fn a_malformed_or_foreign_registration_changes_nothing(app: TestApp) {
    let iro = signed_in_without_factor(&app).await;
    let admin = app.admin().await;
    let origin = origin_of(&app.settings.server.public_url);
    let leaves = app.count("log_leaves");
    let register = |credential: Value| {
        let app = &app;
        let access = iro.access.clone();
        async move { add_passkey(app, &access, json!({"credential": credential})).await }
    };

    // Not CBOR at all.
    let mut authenticator = Authenticator::p256(&origin);
    let mut credential = authenticator.create(&creation_options(&app, &iro.access).await);
    credential["response"]["attestationObject"] = json!("bm90IGNib3I");
    assert_problem(register(credential).await, 422, "passkey-invalid").await;
    // Made for another site (its RP ID), or reported from another origin.
    let mut options = creation_options(&app, &iro.access).await;
    options["rp"]["id"] = json!("evil.example");
    let credential = authenticator.create(&options);
    assert_problem(register(credential).await, 422, "passkey-invalid").await;
    let mut elsewhere = Authenticator::p256("https://evil.example");
    let credential = elsewhere.create(&creation_options(&app, &iro.access).await);
    assert_problem(register(credential).await, 422, "passkey-invalid").await;
    // A challenge the service never issued.
    let mut options = creation_options(&app, &iro.access).await;
    options["challenge"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let credential = authenticator.create(&options);
    assert_problem(register(credential).await, 422, "passkey-invalid").await;
    // Another account's registration challenge.
    let credential = authenticator.create(&creation_options(&app, &admin.access).await);
    assert_problem(register(credential).await, 422, "passkey-invalid").await;
    // A name that is no name.
    let credential = authenticator.create(&creation_options(&app, &iro.access).await);
    let body = json!({"name": "x".repeat(61), "credential": credential});
    let res = add_passkey(&app, &iro.access, body).await;
    assert_problem(res, 400, "bad-request").await;

    assert_eq!(app.count("passkeys"), 0);
    assert_eq!(
        app.count("log_leaves"),
        leaves,
        "no leaf for what did not happen"
    );
    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["passkey_enabled"], false);
    assert_eq!(iro.role, Role::Iro);
}

/// A request with a passkey's step-up answer in its header, as a request without a body
/// carries one.
async fn delete_with_passkey(
    app: &TestApp,
    path: &str,
    access: &str,
    authenticator: &mut Authenticator,
) -> reqwest::Response {
    let proof = authenticator.get(&step_up_options(app, access).await);
    app.client
        .delete(app.url(path))
        .bearer_auth(access)
        .header(
            "x-step-up-passkey",
            iro_advice_testkit::authenticator::b64(proof.to_string().as_bytes()),
        )
        .send()
        .await
        .unwrap()
}

async fn a_second_factor_changes_only_with_a_fresh_one_and_never_to_none(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let origin = origin_of(&app.settings.server.public_url);
    // From TOTP to a passkey: the code vouches for the passkey...
    let mut authenticator = Authenticator::p256(&origin);
    let credential = authenticator.create(&creation_options(&app, &iro.access).await);
    let code = app.fresh_totp(&iro);
    json(
        add_passkey(
            &app,
            &iro.access,
            json!({"credential": credential, "totp_code": code}),
        )
        .await,
        201,
    )
    .await;
    let other = json(sign_in_with(&app, &iro, &mut authenticator).await, 200).await;
    let other = other["access_token"].as_str().unwrap().to_owned();

    // ... and the passkey for the code's removal; nothing without a fresh factor.
    let res = app
        .client
        .delete(app.url("/api/v1/me/totp"))
        .bearer_auth(&iro.access)
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "step-up-required").await;
    let (leaves, outbox) = (app.count("log_leaves"), app.count("outbox"));
    let res = delete_with_passkey(&app, "/api/v1/me/totp", &iro.access, &mut authenticator).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    assert_eq!(
        app.count("log_leaves"),
        leaves + 1,
        "a second_factor_removed leaf"
    );
    assert_eq!(
        app.count("outbox"),
        outbox,
        "nothing to the work address, the only one this account gave (its employer reads it)"
    );
    assert_problem(
        app.get_auth("/api/v1/me", &other).await,
        401,
        "unauthenticated",
    )
    .await;
    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(
        (me["totp_enabled"].clone(), me["passkey_enabled"].clone()),
        (json!(false), json!(true))
    );
    let code = iro_advice_testkit::totp_code(iro.totp_secret.as_ref().unwrap(), 1);
    assert_problem(
        app.login(&iro.email, PASSWORD, Some(&code)).await,
        401,
        "second-factor-invalid",
    )
    .await;

    // The only factor left cannot go, even vouched for by itself.
    let id = authenticator.id();
    let path = format!("/api/v1/me/passkeys/{id}");
    let res = delete_with_passkey(&app, &path, &iro.access, &mut authenticator).await;
    assert_problem(res, 409, "last-second-factor").await;
    assert_eq!(app.count("passkeys"), 1);

    // With a second passkey it can, vouched for by the other one.
    let mut spare = Authenticator::ed25519(&origin);
    let credential = spare.create(&creation_options(&app, &iro.access).await);
    let proof = authenticator.get(&step_up_options(&app, &iro.access).await);
    json(
        add_passkey(
            &app,
            &iro.access,
            json!({"credential": credential, "passkey": proof}),
        )
        .await,
        201,
    )
    .await;
    let res = delete_with_passkey(&app, &path, &iro.access, &mut spare).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.count("passkeys"), 1);
    assert_problem(
        sign_in_with(&app, &iro, &mut authenticator).await,
        401,
        "second-factor-invalid",
    )
    .await;
    json(sign_in_with(&app, &iro, &mut spare).await, 200).await;
    let res = delete_with_passkey(&app, &path, &iro.access, &mut spare).await;
    assert_problem(res, 404, "not-found").await;
}

async fn an_operators_reset_is_seen_by_the_owner_and_in_the_log(app: TestApp) {
    use iro_advice_model::accounts::Email;
    use iro_advice_server::accounts::second_factor::reset_by_operator;
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let origin = origin_of(&app.settings.server.public_url);
    let mut authenticator = Authenticator::p256(&origin);
    let credential = authenticator.create(&creation_options(&app, &iro.access).await);
    let code = app.fresh_totp(&iro);
    json(
        add_passkey(
            &app,
            &iro.access,
            json!({"credential": credential, "totp_code": code}),
        )
        .await,
        201,
    )
    .await;
    let context = iro_advice_server::http::server::write_context(&app.settings).unwrap();
    let db = app.database();
    let (leaves, outbox) = (app.count("log_leaves"), app.count("outbox"));

    let unknown = Email::parse("nobody@nowhere.test").unwrap();
    assert!(reset_by_operator(&mut db.get().unwrap(), &context, &unknown).is_err());
    assert_eq!(
        app.count("log_leaves"),
        leaves,
        "nothing for an account that is not there"
    );

    let email = Email::parse(&iro.email).unwrap();
    let id = reset_by_operator(&mut db.get().unwrap(), &context, &email).unwrap();
    assert_eq!(id.as_str(), iro.id);
    assert_eq!(
        app.count("log_leaves"),
        leaves + 1,
        "a second_factor_removed leaf"
    );
    assert_eq!(
        app.count("outbox"),
        outbox,
        "nothing to the work address, the only one this account gave (its employer reads it)"
    );
    assert_eq!(app.count("passkeys"), 0);
    assert_problem(
        app.get_auth("/api/v1/me", &iro.access).await,
        401,
        "unauthenticated",
    )
    .await;
    // The password alone now signs in, to enrolment and nothing else.
    let tokens = json(app.login(&iro.email, PASSWORD, None).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_problem(
        app.get_auth("/api/v1/advisers", access).await,
        403,
        "second-factor-enrolment-required",
    )
    .await;
    let me = json(app.get_auth("/api/v1/me", access).await, 200).await;
    assert_eq!(
        (me["totp_enabled"].clone(), me["passkey_enabled"].clone()),
        (json!(false), json!(false))
    );
}

/// Signs `user` in afresh with a passkey.
async fn sign_in_with(
    app: &TestApp,
    user: &User,
    authenticator: &mut Authenticator,
) -> reqwest::Response {
    let assertion = authenticator.get(&sign_in_options(app).await);
    login_with(app, user, &assertion).await
}
