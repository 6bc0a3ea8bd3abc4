//! Nobody can speak for anyone: every message is signed inside its encryption by its
//! author's own key (the age key the log proves), and readers check it. The operator's
//! attack, performed here: with the database (and every key the service holds), it stores a
//! reply in the solicitor's name, encrypted to both readers' public keys, unsigned or signed
//! with a key of its own. The IRO's client shows it as not signed by the solicitor, never as
//! their words; the solicitor's own client raises the alarm.

use diesel::prelude::*;
use iro_advice_model::accounts::{AdviserKind, Role};
use iro_advice_server::db::schema::messages;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{armored, signed_armored, Client, TestApp};

both_databases!(a_reply_forged_in_an_advisers_name_is_shown_as_forged_and_the_adviser_alarmed);

async fn a_reply_forged_in_an_advisers_name_is_shown_as_forged_and_the_adviser_alarmed(
    app: TestApp,
) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let solicitor = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let (iro_cli, sol_cli) = (Client::setup(&app, &iro), Client::setup(&app, &solicitor));
    let question = iro_cli.file("q.txt", b"Can the plan change without a review?");
    let asked = iro_cli.ok(&[
        "ask",
        "--adviser",
        &solicitor.id,
        "--category",
        "care_plan_drift",
        "--stage",
        "formal",
        "--urgency",
        "routine",
        "--body",
        question.to_str().unwrap(),
    ]);
    let id = asked.trim_end().lines().last().unwrap().to_owned();
    sol_cli.ok(&["accept", &id]);
    let genuine = "Escalate to the DCS, and consider a referral to Cafcass.";
    let reply = sol_cli.file("r.txt", genuine.as_bytes());
    sol_cli.ok(&["reply", &id, "--body", reply.to_str().unwrap()]);
    // Before the attack, both sides see every message as signed.
    let shown = iro_cli.json(&["show", &id]);
    let statuses: Vec<&str> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["signature"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["signed", "signed"], "{shown}");
    sol_cli.ok(&["show", &id]);

    // The operator's forgeries, stored as the solicitor's: one unsigned, one signed with a
    // key of the operator's own under the solicitor's id.
    let recipients = [
        iro_cli.identity().to_public(),
        sol_cli.identity().to_public(),
    ];
    let forged = "You must NOT go to Cafcass; use your authority's lawyers.";
    let operators_key = age::x25519::Identity::generate();
    let bodies = [
        armored(forged, &recipients),
        signed_armored(forged, &recipients, &operators_key, &solicitor.id, &id),
    ];
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        for (n, body) in bodies.iter().enumerate() {
            diesel::insert_into(messages::table)
                .values((
                    messages::id.eq(uuid::Uuid::new_v4().to_string()),
                    messages::query_id.eq(&id),
                    messages::sender_id.eq(&solicitor.id),
                    messages::sender_role.eq("adviser"),
                    messages::body.eq(Some(body.as_str())),
                    messages::created_at
                        .eq(chrono::Utc::now().naive_utc()
                            + chrono::Duration::seconds(n as i64 + 1)),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
    }

    // The IRO's client: the genuine reply as the solicitor's, both forgeries as not signed by
    // them, each with the text only after the warning.
    let shown = iro_cli.ok(&["show", &id]);
    let name = shown
        .lines()
        .find_map(|l| {
            l.strip_prefix("IRO ")
                .and_then(|l| l.split(", adviser ").nth(1))
        })
        .unwrap()
        .to_owned();
    assert!(
        shown.contains(&format!("--- {name} (adviser) at"))
            && shown.contains("signed by their key\n"),
        "{shown}"
    );
    let warning = format!("--- NOT SIGNED BY {name}");
    assert_eq!(shown.matches(&warning).count(), 2, "{shown}");
    for part in shown.split(&warning).skip(1) {
        assert!(part.contains(forged), "{shown}");
    }
    let detail = iro_cli.json(&["show", &id]);
    let statuses: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["signature"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["signed", "signed", "not_signed", "not_signed"],
        "{detail}"
    );

    // The solicitor's own client: an alarm, naming the messages in their name.
    let ran = sol_cli.run(&["show", &id]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("2 message(s) in your name that your key did not sign"),
        "{}",
        ran.stderr
    );
    // Files too: the solicitor's client signs what it attaches (the signature in the
    // envelope, inside the encryption); the operator's file in their name is not signed.
    let letter = sol_cli.file("advice-letter.txt", b"Advice: escalate to the DCS.");
    let attached = sol_cli.json(&["attach", &id, letter.to_str().unwrap()]);
    let genuine_file = attached["id"].as_str().unwrap().to_owned();
    let envelope = format!(
        "IRO-ADVICE-ATTACHMENT/1\n{{\"name\":\"advice-letter.txt\",\"type\":\"text/plain\"}}\n{forged}"
    );
    let res = iro_advice_testkit::upload(
        &app,
        &solicitor.access,
        &id,
        iro_advice_testkit::encrypt(envelope.as_bytes(), &recipients, false),
    )
    .await;
    assert_eq!(res.status(), 201, "the service takes it: it cannot tell");
    let forged_file = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let downloads = iro_cli.profile.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let fetch = |file: &str, out: &str| {
        iro_cli.json(&[
            "fetch",
            file,
            "--out",
            downloads.join(out).to_str().unwrap(),
        ])
    };
    let got = fetch(&genuine_file, "genuine.txt");
    assert_eq!(
        (got["signature"].as_str(), got["signed_by"].as_str()),
        (Some("signed"), Some(name.as_str())),
        "{got}"
    );
    let got = fetch(&forged_file, "forged.txt");
    assert_eq!(got["signature"], "not_signed", "{got}");
    let said = iro_cli.ok(&[
        "fetch",
        &forged_file,
        "--force",
        "--out",
        downloads.join("forged.txt").to_str().unwrap(),
    ]);
    assert!(said.contains("NOT SIGNED by its sender's key"), "{said}");
}

both_databases!(a_sign_in_behind_the_owners_back_stays_in_the_log_they_read);

/// The operator signs in as the solicitor (their password hash swapped, their TOTP secret
/// unsealed), then deletes the session's rows. The sign-in is a leaf tagged for its owner:
/// the solicitor's client finds it and says that no open session matches it.
async fn a_sign_in_behind_the_owners_back_stays_in_the_log_they_read(app: TestApp) {
    use iro_advice_server::db::schema::sessions;
    let admin = app.admin().await;
    let solicitor = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let sol_cli = Client::setup(&app, &solicitor);
    sol_cli.ok(&["inbox"]);
    let own = sol_cli.json(&["sessions"]);
    let before = own["sign_ins"].as_array().unwrap().len();

    // The operator's sign-in, and the rows it then removes.
    let leaves = app.count("log_leaves");
    let tokens = iro_advice_testkit::json(
        app.login(
            &solicitor.email,
            iro_advice_testkit::PASSWORD,
            Some(&app.fresh_totp(&solicitor)),
        )
        .await,
        200,
    )
    .await;
    assert!(tokens["access_token"].is_string());
    assert_eq!(app.count("log_leaves"), leaves + 1, "the sign-in is a leaf");
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        let newest: String = sessions::table
            .filter(sessions::account_id.eq(&solicitor.id))
            .order(sessions::created_at.desc())
            .select(sessions::id)
            .first(&mut *conn)
            .unwrap();
        diesel::delete(sessions::table.find(newest))
            .execute(&mut *conn)
            .unwrap();
    }

    // The solicitor's client reads the log at its next command and lists the sign-in.
    sol_cli.ok(&["inbox"]);
    let listed = sol_cli.json(&["sessions"]);
    let sign_ins = listed["sign_ins"].as_array().unwrap();
    assert_eq!(sign_ins.len(), before + 1, "{listed}");
    assert!(
        sign_ins.iter().any(|s| s["open"] == false),
        "the operator's sign-in matches no open session: {listed}"
    );
    let text = sol_cli.ok(&["sessions"]);
    assert!(
        text.contains("no session open now") && text.contains("tell NAIRO"),
        "{text}"
    );
}

both_databases!(a_pressure_report_made_or_changed_in_an_iros_name_raises_their_alarm);

/// A pressure report is signed by its IRO's key for the IRO's own client (NAIRO never sees
/// the signature, which would name them). The operator, with the IRO's session, makes a
/// report in their name, or changes the kind of one they made: the IRO's client stops with
/// the alarm at its next command. A signature that does not verify is refused outright.
async fn a_pressure_report_made_or_changed_in_an_iros_name_raises_their_alarm(app: TestApp) {
    use iro_advice_server::db::schema::pressure_reports;
    use iro_advice_testkit::{assert_problem, json};
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let cli = Client::setup(&app, &iro);
    let narrative = cli.file(
        "what-happened.txt",
        b"My manager told me not to ask anyone.",
    );
    let out = cli.ok(&[
        "pressure",
        "--kind",
        "discouraged_from_advice",
        "--date",
        "2026-11-20",
        "--narrative",
        narrative.to_str().unwrap(),
    ]);
    assert!(out.contains("Recorded"), "{out}");
    cli.ok(&["inbox"]);
    // The IRO sees their own signature; nobody else is shown one.
    let listed = json(
        app.get_auth("/api/v1/pressure-reports", &iro.access).await,
        200,
    )
    .await;
    assert!(listed[0]["signature"]["signature"].is_string(), "{listed}");

    // A signature that is not the IRO's key's: refused, nothing stored, nothing logged.
    let (reports, leaves) = (app.count("pressure_reports"), app.count("log_pending"));
    let leaves = leaves + app.count("log_leaves");
    let res = app
        .post_json(
            "/api/v1/pressure-reports",
            Some(&iro.access),
            &serde_json::json!({"kind": "refused_funding", "occurred_on": "2026-11-21",
                "signature": {"signed_at": 1_700_000_000, "signature": listed[0]["signature"]["signature"]}}),
        )
        .await;
    assert_problem(res, 400, "invalid-signature").await;
    assert_eq!(app.count("pressure_reports"), reports);
    assert_eq!(
        app.count("log_pending") + app.count("log_leaves"),
        leaves,
        "no leaf for a refusal"
    );

    // The operator changes the kind of the IRO's report in the database.
    let set_kind = |kind: &str| {
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::update(pressure_reports::table)
            .set(pressure_reports::kind.eq(kind))
            .execute(&mut *conn)
            .unwrap();
    };
    set_kind("other");
    let ran = cli.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains(
            "a pressure report in your name that your key did not sign (other, 2026-11-20"
        ),
        "{}",
        ran.stderr
    );
    set_kind("discouraged_from_advice");
    cli.ok(&["inbox"]);

    // The operator, with the IRO's session, makes a report in their name.
    let res = app
        .post_json(
            "/api/v1/pressure-reports",
            Some(&iro.access),
            &serde_json::json!({"kind": "told_to_use_authority_lawyers", "occurred_on": "2026-11-22"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ran = cli.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("told_to_use_authority_lawyers, 2026-11-22"),
        "{}",
        ran.stderr
    );
}
