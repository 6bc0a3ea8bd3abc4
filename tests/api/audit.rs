//! NAIRO's audit (`iro-advice audit --identity FILE`), on both databases: with NAIRO's key it
//! opens every leaf and recounts every statistics release from the log alone. A release built
//! honestly agrees number for number; one built after the operator deleted queries from the
//! database differs; a withheld opening and an altered one are each named.

use age::secrecy::ExposeSecret;
use chrono::{Datelike, Duration, Utc};
use diesel::prelude::*;
use iro_advice_model::accounts::Role;
use iro_advice_server::db::schema::{log_openings, queries};
use iro_advice_testkit::client::Client;
use iro_advice_testkit::{binary, spawn_app_with, Backend, TestApp};

use crate::statistics::stats_cli;

mod nairo_recounts_every_release_from_the_log {
    #[actix_web::test]
    async fn sqlite() {
        super::nairo_recounts_every_release_from_the_log(super::Backend::Sqlite).await;
    }
    #[actix_web::test]
    #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn postgres() {
        super::nairo_recounts_every_release_from_the_log(super::Backend::Postgres).await;
    }
}

fn month(date: chrono::NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

fn sql(app: &TestApp, statement: &str) {
    let db = app.database();
    let mut conn = db.get().unwrap();
    diesel::sql_query(statement).execute(&mut *conn).unwrap();
}

/// Runs `iro-advice audit` as NAIRO's analyst would; returns (exit code, stdout + stderr).
fn audit(client: &Client, identity: &std::path::Path) -> (i32, String) {
    let out = binary()
        .args(["audit", "--identity"])
        .arg(identity)
        .arg("--profile-dir")
        .arg(client.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn nairo_recounts_every_release_from_the_log(backend: Backend) {
    let nairo_key = age::x25519::Identity::generate();
    let recipient = nairo_key.to_public().to_string();
    let Some(app) = spawn_app_with(backend, &[("IRO_ADVICE_NAIRO_RECIPIENT", &recipient)]).await
    else {
        return;
    };
    let today = Utc::now().date_naive();
    let first = month(today - Duration::days(150));
    let out = stats_cli(
        &app,
        &[
            "demo",
            "seed",
            "--iros",
            "60",
            "--queries",
            "1200",
            "--from",
            &first,
            "--seed",
            "5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Two whole months: the first is released honestly now; the second after the operator
    // has deleted queries of its month from the database.
    let this_month = today.with_day(1).unwrap();
    let honest = month(this_month - Duration::days(100));
    let victim_start = (this_month - Duration::days(1)).with_day(1).unwrap();
    let victim = month(victim_start);
    let out = stats_cli(&app, &["stats", "release", "--period", &honest]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let admin = app.admin().await;
    let analyst = app.user(&admin, Role::Nairo, None, None).await;
    let (client, _) = Client::login(&app, &analyst, &[]);
    let identity = client.path().join("nairo-identity.txt");
    std::fs::write(
        &identity,
        format!("{}\n", nairo_key.to_string().expose_secret()),
    )
    .unwrap();

    // Honest: every leaf opens, and every number the release shows is recounted.
    let (code, text) = audit(&client, &identity);
    assert_eq!(code, 0, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{honest}:")))
        .unwrap_or_else(|| panic!("no line for {honest}: {text}"));
    let compared: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(compared >= 10 && line.ends_with("all agree."), "{line}");
    // Another's identity opens nothing.
    let stranger = client.path().join("stranger.txt");
    std::fs::write(
        &stranger,
        format!(
            "{}\n",
            age::x25519::Identity::generate()
                .to_string()
                .expose_secret()
        ),
    )
    .unwrap();
    let (code, text) = audit(&client, &stranger);
    assert_ne!(code, 0);
    assert!(text.contains("not encrypted to this identity"), "{text}");

    // The operator deletes twelve of the victim month's queries, then its release is built.
    let gone: Vec<String> = {
        let db = app.database();
        let mut conn = db.get().unwrap();
        queries::table
            .filter(queries::created_at.ge(victim_start.and_hms_opt(0, 0, 0).unwrap()))
            .filter(queries::created_at.lt(this_month.and_hms_opt(0, 0, 0).unwrap()))
            .order(queries::id)
            .select(queries::id)
            .limit(12)
            .load(&mut *conn)
            .unwrap()
    };
    assert_eq!(gone.len(), 12, "the seed has queries in {victim}");
    let ids = gone
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    sql(
        &app,
        &format!("DELETE FROM attachments WHERE query_id IN ({ids})"),
    );
    sql(
        &app,
        &format!("DELETE FROM messages WHERE query_id IN ({ids})"),
    );
    sql(
        &app,
        &format!("DELETE FROM query_declines WHERE query_id IN ({ids})"),
    );
    sql(&app, &format!("DELETE FROM queries WHERE id IN ({ids})"));
    let out = stats_cli(&app, &["stats", "release", "--period", &victim]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, text) = audit(&client, &identity);
    assert_eq!(code, 5, "{text}");
    let differing = text
        .lines()
        .find(|l| l.starts_with(&format!("{victim}:")))
        .unwrap_or_else(|| panic!("no line for {victim}: {text}"));
    assert!(differing.contains("DIFFER"), "{differing}");
    // Every difference is a count of queries the log holds and the release left out.
    let differences: Vec<(u64, u64)> = text
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("queries_by_") || l.trim_start().starts_with("declines_by_")
        })
        .map(|l| {
            let (_, numbers) = l.split_once(": published ").unwrap();
            let (published, recounted) = numbers.split_once(", recounted ").unwrap();
            (published.parse().unwrap(), recounted.parse().unwrap())
        })
        .collect();
    assert!(!differences.is_empty(), "{text}");
    assert!(differences.iter().all(|(p, r)| r > p), "{text}");
    // The honest release still agrees.
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{honest}:")) && l.ends_with("all agree.")),
        "{text}"
    );

    // The operator withholds one opening and alters another.
    let (withheld, altered): (i64, i64) = {
        let db = app.database();
        let mut conn = db.get().unwrap();
        let some: Vec<i64> = log_openings::table
            .order(log_openings::idx.desc())
            .select(log_openings::idx)
            .limit(2)
            .load(&mut *conn)
            .unwrap();
        (some[0], some[1])
    };
    sql(
        &app,
        &format!("DELETE FROM log_openings WHERE idx = {withheld}"),
    );
    sql(
        &app,
        &format!("UPDATE log_openings SET details = 'pressure=other' WHERE idx = {altered}"),
    );
    let (code, text) = audit(&client, &identity);
    assert_eq!(code, 5, "{text}");
    assert!(
        text.contains(&format!("NO OPENING for 1 leaf/leaves (first: {withheld})")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "OPENING DOES NOT MATCH for 1 leaf/leaves (first: {altered})"
        )),
        "{text}"
    );
}
