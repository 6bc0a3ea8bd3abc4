//! What the operator's console does beyond invitations and suspension: checking advisers,
//! resetting a lost second factor, the language of an account and of its mail.

use iro_advice_model::accounts::{AdviserKind, Role};
use serde_json::json;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, json, unique_name, TestApp, PASSWORD};

both_databases!(
    an_admin_checks_an_adviser_and_iros_see_it,
    an_admin_resets_a_lost_second_factor_and_the_owner_is_told,
    the_account_chooses_the_language_of_its_mail,
);

/// The event kind of each act in the caller's receipts (byte 1 of the act's encoding, in
/// the opening of an opaque leaf).
async fn receipt_kinds(app: &TestApp, token: &str) -> Vec<u8> {
    use base64::Engine;
    let receipts = json(app.get_auth("/api/v1/me/receipts", token).await, 200).await;
    receipts
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let act = r["opening"]["body"]
                .as_str()
                .or(r["leaf_data"].as_str())
                .unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(act)
                .unwrap()[1]
        })
        .collect()
}

fn verify(id: &str) -> String {
    format!("/api/v1/accounts/{id}/verify")
}

async fn an_admin_checks_an_adviser_and_iros_see_it(app: TestApp) {
    let admin = app.admin().await;
    let solicitor = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let peer = app
        .user(
            &admin,
            Role::Adviser,
            Some("E09000002"),
            Some(AdviserKind::Peer),
        )
        .await;
    app.register_key(&solicitor).await;
    app.register_key(&peer).await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let nairo = app.user(&admin, Role::Nairo, None, None).await;
    let leaves = app.count("log_leaves");

    // Refusals change nothing and log nothing.
    let refusals = [
        (&solicitor.id, json!({}), 422, "invalid-verification"),
        (
            &solicitor.id,
            json!({"sra_number": "12a456"}),
            400,
            "invalid-json",
        ),
        (
            &solicitor.id,
            json!({"sra_number": "1234"}),
            400,
            "invalid-json",
        ),
        (
            &peer.id,
            json!({"sra_number": "123456"}),
            422,
            "invalid-verification",
        ),
        (&iro.id, json!({}), 422, "invalid-verification"),
        (&admin.id, json!({}), 422, "invalid-verification"),
    ];
    for (id, body, status, slug) in refusals {
        let res = app.post_json(&verify(id), Some(&admin.access), &body).await;
        assert_problem(res, status, slug).await;
    }
    let res = app
        .post_json(
            &verify(&uuid::Uuid::new_v4().to_string()),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_problem(res, 404, "not-found").await;
    // NAIRO cannot vouch for anyone.
    let res = app
        .post_json(&verify(&peer.id), Some(&nairo.access), &json!({}))
        .await;
    assert_problem(res, 403, "forbidden").await;
    assert_eq!(app.count("log_leaves"), leaves, "no leaf for a refusal");

    let listed = || async {
        json(app.get_auth("/api/v1/advisers", &iro.access).await, 200)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["id"].as_str().unwrap().to_owned(), a["verified"].clone()))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let before = listed().await;
    assert_eq!(before[&solicitor.id], false);
    assert_eq!(before[&peer.id], false);

    let res = app
        .post_json(
            &verify(&solicitor.id),
            Some(&admin.access),
            &json!({"sra_number": " 654 321 "}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .post_json(&verify(&peer.id), Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.count("log_leaves"),
        leaves + 4,
        "each check is logged, with the key event that commits to it"
    );

    let after = listed().await;
    assert_eq!(after[&solicitor.id], true);
    assert_eq!(after[&peer.id], true);
    // Correspondents are shown the verification as the adviser's key event commits to it.
    let advisers = json(app.get_auth("/api/v1/advisers", &iro.access).await, 200).await;
    let solicitors = advisers
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == solicitor.id.as_str())
        .unwrap()
        .clone();
    let proof: iro_advice_api::KeyProof =
        serde_json::from_value(solicitors["key_proof"].clone()).unwrap();
    let event = proof.read(&solicitor.id).unwrap();
    assert_eq!(
        event.version, 2,
        "the verification is the key's second version"
    );
    let claim = proof.identity.clone().unwrap();
    assert!(claim.verified && claim.sra_number.as_deref() == Some("654321"));
    assert_eq!(
        proof.check_identity(&event, solicitors["display_name"].as_str().unwrap()),
        Ok(())
    );
    let accounts = json(app.get_auth("/api/v1/accounts", &admin.access).await, 200).await;
    let row = |id: &str| {
        accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()
            .clone()
    };
    let s = row(&solicitor.id);
    assert_eq!(s["sra_number"], "654321", "{s}");
    assert_eq!(s["verified_by"], admin.id.as_str());
    assert!(s["verified_at"].is_string());
    let p = row(&peer.id);
    assert!(p.get("sra_number").is_none(), "{p}");
    assert_eq!(p["verified_by"], admin.id.as_str());
    assert!(row(&iro.id).get("verified_at").is_none());
    // The adviser sees that they were checked.
    let me = json(app.get_auth("/api/v1/me", &solicitor.access).await, 200).await;
    assert!(me["verified_at"].is_string(), "{me}");

    // The leaf records the act, by the admin, about the adviser.
    let kinds = receipt_kinds(&app, &admin.access).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == iro_advice_server::log::Kind::AdviserVerified.code())
            .count(),
        2,
        "{kinds:?}"
    );
}

fn reset(id: &str) -> String {
    format!("/api/v1/accounts/{id}/second-factor/reset")
}

async fn an_admin_resets_a_lost_second_factor_and_the_owner_is_told(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let (leaves, outbox) = (app.count("log_leaves"), app.count("outbox"));

    let res = app
        .post_json(&reset(&admin.id), Some(&admin.access), &json!({}))
        .await;
    assert_problem(res, 422, "cannot-change-own-status").await;
    let res = app
        .post_json(
            &reset(&uuid::Uuid::new_v4().to_string()),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_problem(res, 404, "not-found").await;
    let res = app
        .post_json(&reset(&admin.id), Some(&iro.access), &json!({}))
        .await;
    assert_problem(res, 403, "forbidden").await;
    assert_eq!(
        (app.count("log_leaves"), app.count("outbox")),
        (leaves, outbox)
    );

    let res = app
        .post_json(&reset(&iro.id), Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.count("log_leaves"), leaves + 1, "a logged event");
    assert_eq!(
        app.count("outbox"),
        outbox,
        "nothing to the work address, the only one this account gave (its employer reads \
         it): the owner finds the reset at the next sign-in, and in the log"
    );
    // Every session of the owner ended; the old code no longer counts.
    assert_problem(
        app.get_auth("/api/v1/me", &iro.access).await,
        401,
        "unauthenticated",
    )
    .await;
    // The password alone opens enrolment, and nothing else.
    let tokens = json(app.login(&iro.email, PASSWORD, None).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_problem(
        app.get_auth("/api/v1/queries", access).await,
        403,
        "second-factor-enrolment-required",
    )
    .await;
    let me = json(app.get_auth("/api/v1/me", access).await, 200).await;
    assert_eq!(me["totp_enabled"], false);
    // The admin's own receipts hold the reset.
    assert!(receipt_kinds(&app, &admin.access)
        .await
        .contains(&iro_advice_server::log::Kind::SecondFactorRemoved.code()));
}

async fn the_account_chooses_the_language_of_its_mail(app: TestApp) {
    let admin = app.admin().await;
    let email = format!("{}@iro.test", iro_advice_testkit::unique_name("cymraeg"));
    let invitation = app
        .invite(
            &admin.access,
            &json!({"role": "iro", "email": email, "authority_code": "W06000015", "language": "cy"}),
        )
        .await;
    let mail = app.mail_to(&email, "/open#").await;
    assert!(mail.contains("Mae rhywbeth yn aros amdanoch."), "{mail}");
    assert!(!mail.contains("Something is waiting"), "{mail}");
    // A private address for notices: notices about sign-ins and second factors go there
    // only, never to the work address.
    let private = format!("{}@home.test", unique_name("private"));
    let created = json(
        app.post_json(
            "/api/v1/accounts",
            None,
            &json!({"invitation": invitation, "password": PASSWORD,
                    "display_name": "Test Person", "notification_email": private}),
        )
        .await,
        201,
    )
    .await;
    let tokens = json(app.login(&email, PASSWORD, None).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let me = json(app.get_auth("/api/v1/me", &access).await, 200).await;
    assert_eq!(me["id"], created["id"]);
    assert_eq!(
        me["language"], "cy",
        "the invitation's language, until chosen"
    );

    // A language the service does not have is refused and changes nothing.
    let res = app
        .put_json("/api/v1/me/language", &access, &json!({"language": "fr"}))
        .await;
    assert_problem(res, 400, "invalid-json").await;
    let me = json(app.get_auth("/api/v1/me", &access).await, 200).await;
    assert_eq!(me["language"], "cy");

    // The owner chooses English; the next notice (an admin's reset) is in English.
    let res = app
        .put_json("/api/v1/me/language", &access, &json!({"language": "en"}))
        .await;
    assert_eq!(res.status(), 204);
    let me = json(app.get_auth("/api/v1/me", &access).await, 200).await;
    assert_eq!(me["language"], "en");
    let id = me["id"].as_str().unwrap();
    let outbox = app.count("outbox");
    let res = app
        .post_json(&reset(id), Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.count("outbox"), outbox + 1);
    app.mail_to(&private, "Something is waiting for you.").await;
}
