//! Keys the operator cannot swap, tried as an insider would, with the real client: a key
//! changed in the database behind the log's back, a key changed "properly" as a new logged
//! version by someone holding the service's keys, and an older version served again. The
//! IRO's client refuses each and sends nothing; the adviser's own client raises the alarm.

use diesel::prelude::*;
use iro_advice_model::accounts::{AccountId, AdviserKind, AgeRecipient, Role};
use iro_advice_server::db::schema::accounts;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{Client, TestApp, User};

both_databases!(a_swapped_key_is_refused_and_its_owner_alarmed);

/// A client signed in with a key of its own.
fn with_key(app: &TestApp, user: &User) -> Client {
    let (client, _) = Client::login(app, user, &[]);
    client.ok(&["keygen"]);
    client
}

/// The IRO's client asks `adviser` a routine question (written beside its profile), with
/// any `extra` arguments.
fn ask(iro_client: &Client, adviser: &str, extra: &[&str]) -> iro_advice_testkit::Ran {
    let question = iro_client.file(
        "question.txt",
        b"Can the care plan change without a review?",
    );
    let mut args = vec![
        "ask",
        "--adviser",
        adviser,
        "--category",
        "care_plan_drift",
        "--stage",
        "informal",
        "--urgency",
        "routine",
        "--body",
        question.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    iro_client.run(&args)
}

fn key_of(app: &TestApp, id: &str) -> (Option<String>, Option<i64>) {
    let db = app.database();
    let mut conn = db.get().unwrap();
    accounts::table
        .find(id)
        .select((accounts::age_recipient, accounts::key_leaf))
        .first(&mut *conn)
        .unwrap()
}

/// The insider's edit: the row changed, nothing logged.
fn set_row(app: &TestApp, id: &str, recipient: &str, leaf: Option<i64>) {
    let db = app.database();
    let mut conn = db.get().unwrap();
    diesel::update(accounts::table.find(id))
        .set((
            accounts::age_recipient.eq(recipient),
            accounts::key_leaf.eq(leaf),
        ))
        .execute(&mut *conn)
        .unwrap();
}

async fn a_swapped_key_is_refused_and_its_owner_alarmed(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let iro_client = with_key(&app, &iro);
    let adviser_client = with_key(&app, &adviser);
    let ask = |extra: &[&str]| ask(&iro_client, &adviser.id, extra);
    // The first question pins the adviser's key, proven in the log.
    let ran = ask(&[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(app.count("queries"), 1);
    let keys = iro_client.ok(&["keys"]);
    let (genuine, genuine_leaf) = key_of(&app, &adviser.id);
    let genuine = genuine.unwrap();
    assert!(keys.contains(&adviser.id), "{keys}");
    let fingerprint = adviser_client.ok(&["keys"]);
    let own_line = fingerprint.lines().next().unwrap().to_owned();
    let own_fp = own_line.trim_start_matches("Your key:").trim();
    assert!(
        keys.contains(own_fp),
        "the fingerprints compare: {keys} / {own_line}"
    );

    // (1) The insider's UPDATE: another key in the row, nothing in the log.
    let insider = age::x25519::Identity::generate().to_public().to_string();
    set_row(&app, &adviser.id, &insider, genuine_leaf);
    let before = (
        app.count("queries"),
        app.count("messages"),
        app.count("log_leaves"),
    );
    let ran = ask(&[]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(
        ran.stderr.contains("not the key the log holds"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("Nothing was sent"), "{}", ran.stderr);
    assert_eq!(
        (
            app.count("queries"),
            app.count("messages"),
            app.count("log_leaves")
        ),
        before
    );
    set_row(&app, &adviser.id, &genuine, genuine_leaf);
    // The adviser's client, meanwhile, has read the log up to here and found nothing amiss.
    adviser_client.ok(&["inbox"]);

    // A split view: a new key version logged for the adviser, then the row put back, so
    // that the adviser is shown their own key while others could be served the new one.
    // The adviser's client reads every key event since it last looked, from the log's
    // tiles checked against its checkpoint, and raises the alarm all the same.
    let register = |recipient: &str| {
        let db = app.database();
        let mut conn = db.get().unwrap();
        let context = iro_advice_server::http::server::write_context(&app.settings).unwrap();
        iro_advice_server::db::write_transaction(&mut conn, |conn| {
            let mut tx = iro_advice_server::tx::Tx::new(conn, &context);
            iro_advice_server::accounts::profile::register_key(
                &mut tx,
                &AccountId::from_string(adviser.id.clone()),
                &AgeRecipient::parse(recipient).unwrap(),
                None,
            )
        })
        .unwrap();
    };
    register(&insider);
    set_row(&app, &adviser.id, &genuine, genuine_leaf);
    let ran = adviser_client.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("ALARM: the log records a key"),
        "{}",
        ran.stderr
    );
    // The IRO, who pinned the genuine key, is not affected.
    let ran = ask(&[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);

    // (2) The same swap made "properly" by someone with the service's keys: a new, logged
    // key version. The IRO's client refuses it unless told by name to accept it.
    let outbox = app.count("outbox");
    register(&insider);
    // The adviser is told by mail (content-free, like every notice).
    assert_eq!(app.count("outbox"), outbox + 1);
    let before = (app.count("queries"), app.count("messages"));
    let ran = ask(&[]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(ran.stderr.contains("key has CHANGED"), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("The new key is NOT signed by the key you pinned"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(own_fp),
        "the old fingerprint: {}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains(&format!("--accept-key-change {}", adviser.id)),
        "{}",
        ran.stderr
    );
    assert_eq!((app.count("queries"), app.count("messages")), before);
    // The adviser's own client raises the alarm at its next command.
    let ran = adviser_client.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("ALARM"), "{}", ran.stderr);
    // Told to accept it (as if the adviser had confirmed the fingerprint), the IRO's client
    // sends, and pins the new version.
    let ran = ask(&["--accept-key-change", &adviser.id]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(app.count("queries"), before.0 + 1);

    // (3) The older version served again, row and leaf both: refused as older.
    set_row(&app, &adviser.id, &genuine, genuine_leaf);
    let ran = ask(&[]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(ran.stderr.contains("older key"), "{}", ran.stderr);
    assert_eq!(app.count("queries"), before.0 + 1);
}

both_databases!(a_conflict_removed_and_restored_behind_the_advisers_back_raises_the_alarm);

async fn a_conflict_removed_and_restored_behind_the_advisers_back_raises_the_alarm(app: TestApp) {
    let admin = app.admin().await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let client = with_key(&app, &adviser);
    let out = client.ok(&["conflicts", "--authority", "E06000019"]);
    assert!(out.contains("E06000019"), "{out}");
    // The adviser's own change is known as theirs.
    client.ok(&["inbox"]);

    // Someone with the service's keys removes the conflict, lets an IRO of that authority
    // reach the adviser, and puts it back, so that the table looks untouched.
    let outbox = app.count("outbox");
    let declare = |codes: &[&str]| {
        let db = app.database();
        let mut conn = db.get().unwrap();
        let context = iro_advice_server::http::server::write_context(&app.settings).unwrap();
        let codes: Vec<iro_advice_model::authorities::AuthorityCode> = codes
            .iter()
            .map(|c| iro_advice_model::authorities::AuthorityCode::parse(c).unwrap())
            .collect();
        iro_advice_server::db::write_transaction(&mut conn, |conn| {
            let mut tx = iro_advice_server::tx::Tx::new(conn, &context);
            iro_advice_server::accounts::profile::declare_conflicts(
                &mut tx,
                &AccountId::from_string(adviser.id.clone()),
                &codes,
            )
        })
        .unwrap();
    };
    declare(&[]);
    declare(&["E06000019"]);
    // The adviser was told twice, and the table is as it was.
    assert_eq!(app.count("outbox"), outbox + 2);
    let me = iro_advice_testkit::json(app.get_auth("/api/v1/me", &adviser.access).await, 200).await;
    assert_eq!(me["conflicts"], serde_json::json!(["E06000019"]));
    // The adviser's client reads the log since it last looked, and raises the alarm.
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("change to your declared conflicts"),
        "{}",
        ran.stderr
    );
}

both_databases!(a_conflict_added_in_the_database_alone_is_raised_by_the_advisers_client);

/// No leaf at all: a conflict row written straight into the database, so that queries from
/// an authority the adviser never declared are hidden from them (or, removed, routed to them).
async fn a_conflict_added_in_the_database_alone_is_raised_by_the_advisers_client(app: TestApp) {
    use iro_advice_server::db::schema::adviser_conflicts;
    let admin = app.admin().await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let client = with_key(&app, &adviser);
    client.ok(&["conflicts", "--authority", "E06000019"]);
    client.ok(&["inbox"]);
    let leaves = app.count("log_leaves");
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::insert_into(adviser_conflicts::table)
            .values((
                adviser_conflicts::adviser_id.eq(&adviser.id),
                adviser_conflicts::authority_code.eq("E08000025"),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    assert_eq!(app.count("log_leaves"), leaves, "no leaf");
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("not the set you last declared here")
            && ran.stderr.contains("E08000025"),
        "{}",
        ran.stderr
    );
    // Put back as declared; then the adviser stops taking queries, and the database alone
    // says they take them again (to route queries to someone who said they could not).
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::delete(
            adviser_conflicts::table.filter(adviser_conflicts::authority_code.eq("E08000025")),
        )
        .execute(&mut *conn)
        .unwrap();
    }
    client.ok(&["availability", "--accepting", "false"]);
    client.ok(&["inbox"]);
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::update(accounts::table.find(&adviser.id))
            .set(accounts::accepting.eq(true))
            .execute(&mut *conn)
            .unwrap();
    }
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("the service says you are accepting new queries"),
        "{}",
        ran.stderr
    );

    // A split view: someone with the service's keys logs the adviser as accepting again,
    // then puts the row back, so that the adviser is shown what they set. The adviser's
    // client reads the tagged leaf and raises the alarm all the same.
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::update(accounts::table.find(&adviser.id))
            .set(accounts::accepting.eq(false))
            .execute(&mut *conn)
            .unwrap();
        let context = iro_advice_server::http::server::write_context(&app.settings).unwrap();
        iro_advice_server::db::write_transaction(&mut conn, |conn| {
            let mut tx = iro_advice_server::tx::Tx::new(conn, &context);
            iro_advice_server::accounts::profile::set_availability(
                &mut tx,
                &AccountId::from_string(adviser.id.clone()),
                true,
            )
        })
        .unwrap();
        diesel::update(accounts::table.find(&adviser.id))
            .set(accounts::accepting.eq(false))
            .execute(&mut *conn)
            .unwrap();
    }
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("the log records that you are accepting new queries"),
        "{}",
        ran.stderr
    );
}

both_databases!(an_insider_given_a_pinned_advisers_name_is_refused_until_the_iro_confirms);

/// The relabelling attack: the operator gives an insider adviser the name of the solicitor
/// the IRO wrote to before, and sets the real one to not accepting. No leaf changes; the
/// insider's key is genuinely theirs and proven. The IRO's client, which pinned the solicitor
/// by name as well as by key, refuses until the IRO confirms.
async fn an_insider_given_a_pinned_advisers_name_is_refused_until_the_iro_confirms(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let solicitor = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let insider = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let iro_client = with_key(&app, &iro);
    with_key(&app, &solicitor);
    let insider_client = with_key(&app, &insider);
    // The owner's client notes who the log says it is.
    insider_client.ok(&["inbox"]);
    let ask = |adviser: &str, extra: &[&str]| ask(&iro_client, adviser, extra);
    let ran = ask(&solicitor.id, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);

    // The operator's relabelling, in the database alone.
    let name: String = {
        let db = app.database();
        let mut conn = db.get().unwrap();
        let name: String = accounts::table
            .find(&solicitor.id)
            .select(accounts::display_name)
            .first(&mut *conn)
            .unwrap();
        diesel::update(accounts::table.find(&insider.id))
            .set(accounts::display_name.eq(&name))
            .execute(&mut *conn)
            .unwrap();
        diesel::update(accounts::table.find(&solicitor.id))
            .set(accounts::accepting.eq(false))
            .execute(&mut *conn)
            .unwrap();
        name
    };
    let listed =
        iro_advice_testkit::json(app.get_auth("/api/v1/advisers", &iro.access).await, 200).await;
    let shown: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["display_name"] == name.as_str())
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        shown,
        vec![insider.id.as_str()],
        "the list now shows the insider under the name"
    );
    let queries = app.count("queries");
    // A name in the database alone is no name: the insider's key event commits to its own,
    // and nothing the IRO says lets the service's word stand in for the log's.
    for extra in [&[][..], &["--accept-key-change", insider.id.as_str()][..]] {
        let ran = ask(&insider.id, extra);
        assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
        assert!(
            ran.stderr
                .contains("not what its key event in the log holds")
                && ran.stderr.contains("Nothing was sent"),
            "{}",
            ran.stderr
        );
    }
    assert_eq!(app.count("queries"), queries, "nothing was sent");

    // The operator gets the new name into the log: any act that logs the insider's key
    // (here an administrator's check of the insider) commits to the name the database holds.
    let res = app
        .post_json(
            &format!("/api/v1/accounts/{}/verify", insider.id),
            Some(&admin.access),
            &serde_json::json!({"sra_number": "123456"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    // The owner of a renamed account is told (here the insider, who knew; a real solicitor
    // renamed behind their back would be).
    let ran = insider_client.run(&["inbox"]);
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("the log now records your account as {name}")),
        "{}",
        ran.stderr
    );
    let ran = ask(&insider.id, &[]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains(&format!("is also called {name}"))
            && ran.stderr.contains("Nothing was sent"),
        "{}",
        ran.stderr
    );
    assert_eq!(app.count("queries"), queries, "nothing was sent");
    // The IRO checks by phone and confirms: then it goes.
    let ran = ask(&insider.id, &["--accept-key-change", &insider.id]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(app.count("queries"), queries + 1);
}

both_databases!(nairos_key_is_proven_and_pinned_like_any_other);

async fn nairos_key_is_proven_and_pinned_like_any_other(app: TestApp) {
    let first = age::x25519::Identity::generate().to_public().to_string();
    let second = age::x25519::Identity::generate().to_public().to_string();
    let url = app.database_url();
    let keys = app.settings.accounts.keys_dir.to_str().unwrap().to_owned();
    // One data directory too, so that whichever instance delivers a mail, it lands where
    // the test reads it.
    let data = app.data_dir.path().to_str().unwrap().to_owned();
    let tls = iro_advice_server::tls::dev_certificate_files(app.data_dir.path());
    let (cert, key) = (
        tls.cert.to_str().unwrap().to_owned(),
        tls.key.to_str().unwrap().to_owned(),
    );
    // The same database, keys and certificate, with NAIRO's key set: logged at start.
    let with_nairo = |recipient: String| {
        let (url, keys, cert, key) = (url.clone(), keys.clone(), cert.clone(), key.clone());
        let data = data.clone();
        async move {
            iro_advice_testkit::spawn_app_with(
                app.backend,
                &[
                    ("IRO_ADVICE_DATA_DIR", &data),
                    ("DATABASE_URL", &url),
                    ("IRO_ADVICE_KEYS_DIR", &keys),
                    ("IRO_ADVICE_TLS_CERT", &cert),
                    ("IRO_ADVICE_TLS_KEY", &key),
                    ("IRO_ADVICE_NAIRO_RECIPIENT", &recipient),
                ],
            )
            .await
            .unwrap()
        }
    };
    let one = with_nairo(first.clone()).await;
    let admin = one.admin().await;
    let iro = one.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let client = with_key(&one, &iro);
    let narrative = client.profile.path().join("what-happened.txt");
    std::fs::write(&narrative, "Told not to contact a solicitor.").unwrap();
    let narrative = narrative.to_str().unwrap().to_owned();
    let report = [
        "pressure",
        "--kind",
        "discouraged_from_advice",
        "--date",
        "2026-11-02",
        "--narrative",
        &narrative,
        "--share-with-nairo",
    ];
    // Shared with NAIRO: its key proven in the log and pinned.
    client.ok(&report);
    assert!(client.ok(&["keys"]).contains("nairo"));

    // The operator restarts with another "NAIRO" key: a new, logged version. The IRO's client
    // refuses to encrypt to it until told to accept the change.
    drop(one);
    let two = with_nairo(second.clone()).await;
    // Let the new server start before the client, a blocking call, is run.
    assert_eq!(two.get("/healthz").await.status(), 200);
    let profile = client.profile.path().join("profile.json");
    let settings = std::fs::read_to_string(&profile)
        .unwrap()
        .replace(&app_base(&profile), &two.base);
    std::fs::write(&profile, settings).unwrap();
    let reports = two.count("pressure_reports");
    let ran = client.run(&report);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(
        ran.stderr.contains("NAIRO's key has CHANGED"),
        "{}",
        ran.stderr
    );
    assert_eq!(two.count("pressure_reports"), reports);
    let mut accepted = report.to_vec();
    accepted.extend_from_slice(&["--accept-key-change", "nairo"]);
    client.ok(&accepted);
    assert_eq!(two.count("pressure_reports"), reports + 1);
}

/// The server address a profile holds.
fn app_base(profile: &std::path::Path) -> String {
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(profile).unwrap()).unwrap();
    settings["server"].as_str().unwrap().to_owned()
}

mod an_advisers_state_changed_in_the_database_alone_is_not_served {
    #[actix_web::test]
    async fn sqlite() {
        super::an_advisers_state_changed_in_the_database_alone_is_not_served(
            iro_advice_testkit::Backend::Sqlite,
        )
        .await;
    }
    #[actix_web::test]
    #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn postgres() {
        super::an_advisers_state_changed_in_the_database_alone_is_not_served(
            iro_advice_testkit::Backend::Postgres,
        )
        .await;
    }
}

/// The service itself reads an adviser's availability and conflicts only as their latest
/// logged change says: a conflict row deleted, or "accepting" flipped, in the database alone
/// takes the adviser out of every list and refuses a question to them, and putting the
/// database back brings them back. It holds while changes wait for the log's next
/// publication (they are checked among the waiting leaves), so it costs the adviser nothing.
async fn an_advisers_state_changed_in_the_database_alone_is_not_served(
    backend: iro_advice_testkit::Backend,
) {
    use iro_advice_server::db::schema::adviser_conflicts;
    use iro_advice_testkit::{armored, assert_problem, json, spawn_app_with};
    // Leaves wait for publication (an hour): the check reads the waiting ones.
    let Some(app) = spawn_app_with(backend, &[("IRO_ADVICE_LOG_PUBLISH_SECONDS", "3600")]).await
    else {
        return;
    };
    let admin = app.admin().await;
    let herefordshire = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let wirral = app.user(&admin, Role::Iro, Some("E08000025"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let adviser_key = app.register_key(&adviser).await;
    let iro_key = app.register_key(&herefordshire).await;
    let listed = |iro: &User| {
        let access = iro.access.clone();
        let app = &app;
        async move {
            json(app.get_auth("/api/v1/advisers", &access).await, 200)
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let res = app
        .put_json(
            "/api/v1/me/conflicts",
            &adviser.access,
            &serde_json::json!({"authority_codes": ["E06000019"]}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.count("log_pending"),
        1,
        "the change waits for publication"
    );
    assert!(!listed(&herefordshire).await.contains(&adviser.id));
    assert!(
        listed(&wirral).await.contains(&adviser.id),
        "a change waiting for publication is the latest: the adviser is served as it says"
    );

    let db = app.database();
    let edit = |sql: &dyn Fn(&mut iro_advice_server::db::DbConnection)| {
        let mut conn = db.get().unwrap();
        sql(&mut conn);
    };
    // The operator deletes the conflict, in the database alone, to put the adviser before
    // the authority's IROs.
    edit(&|conn| {
        diesel::delete(
            adviser_conflicts::table.filter(adviser_conflicts::adviser_id.eq(&adviser.id)),
        )
        .execute(conn)
        .unwrap();
    });
    let (queries, leaves) = (app.count("queries"), app.count("log_pending"));
    assert!(!listed(&herefordshire).await.contains(&adviser.id));
    assert!(!listed(&wirral).await.contains(&adviser.id));
    let to = [iro_key.to_public(), adviser_key.to_public()];
    let ask = serde_json::json!({"adviser_id": adviser.id, "category": "placement",
        "stage": "formal", "urgency": "routine", "body": armored("a question", &to)});
    let res = app
        .post_json("/api/v1/queries", Some(&herefordshire.access), &ask)
        .await;
    assert_problem(res, 422, "adviser-not-eligible").await;
    assert_eq!(
        (app.count("queries"), app.count("log_pending")),
        (queries, leaves),
        "nothing stored, nothing logged"
    );
    // Put back, the adviser is served again where they may be.
    edit(&|conn| {
        diesel::insert_into(adviser_conflicts::table)
            .values((
                adviser_conflicts::adviser_id.eq(&adviser.id),
                adviser_conflicts::authority_code.eq("E06000019"),
            ))
            .execute(conn)
            .unwrap();
    });
    assert!(listed(&wirral).await.contains(&adviser.id));

    // The adviser stops taking queries; the database alone says they take them again.
    let res = app
        .put_json(
            "/api/v1/me/availability",
            &adviser.access,
            &serde_json::json!({"accepting": false}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert!(!listed(&wirral).await.contains(&adviser.id));
    edit(&|conn| {
        diesel::update(accounts::table.find(&adviser.id))
            .set(accounts::accepting.eq(true))
            .execute(conn)
            .unwrap();
    });
    assert!(
        !listed(&wirral).await.contains(&adviser.id),
        "not what their latest logged change says"
    );
    // Winding the count back to an older change does not help either.
    edit(&|conn| {
        diesel::update(accounts::table.find(&adviser.id))
            .set(accounts::availability_changes.eq(0))
            .execute(conn)
            .unwrap();
    });
    assert!(!listed(&wirral).await.contains(&adviser.id));
    edit(&|conn| {
        diesel::update(accounts::table.find(&adviser.id))
            .set((
                accounts::accepting.eq(false),
                accounts::availability_changes.eq(1),
            ))
            .execute(conn)
            .unwrap();
    });
    // The adviser's own change is served at once.
    let res = app
        .put_json(
            "/api/v1/me/availability",
            &adviser.access,
            &serde_json::json!({"accepting": true}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert!(listed(&wirral).await.contains(&adviser.id));
}

both_databases!(a_key_changed_on_a_device_that_held_the_old_one_is_shown_as_handed_over);

/// A key change carries the old key's signature on the new one when the device that changes
/// it held the old key: correspondents are told so beside the change (they still confirm it
/// by phone). A handover that is not the current key's signature is refused, and changes
/// nothing.
async fn a_key_changed_on_a_device_that_held_the_old_one_is_shown_as_handed_over(app: TestApp) {
    use iro_advice_testkit::assert_problem;
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let iro_client = with_key(&app, &iro);
    let adviser_client = with_key(&app, &adviser);
    let ask = || ask(&iro_client, &adviser.id, &[]);
    let ran = ask();
    assert_eq!(ran.code, 0, "{}", ran.stderr);

    let before = key_of(&app, &adviser.id);
    let other = age::x25519::Identity::generate().to_public().to_string();
    let res = app
        .put_json(
            "/api/v1/me/key",
            &adviser.access,
            &serde_json::json!({"age_recipient": other,
                "handover": {"signed_at": 1_700_000_000, "signature": "A".repeat(86) + "=="}}),
        )
        .await;
    assert_problem(res, 400, "invalid-signature").await;
    assert_eq!(key_of(&app, &adviser.id), before, "nothing changed");

    adviser_client.ok(&["keygen", "--force", "--totp", &app.fresh_totp(&adviser)]);
    assert_ne!(key_of(&app, &adviser.id), before);
    let ran = ask();
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("key has CHANGED")
            && ran
                .stderr
                .contains("The new key is signed by the key you pinned"),
        "{}",
        ran.stderr
    );
    // The adviser's own client knows the new key as its own.
    adviser_client.ok(&["inbox"]);
}
