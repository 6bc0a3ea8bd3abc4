//! Faults the service must survive without losing what it acknowledged: the process killed,
//! the database restarted, the mail server away, two instances on one database. A target of
//! its own, because some of these stop the PostgreSQL server every other test uses: cargo
//! runs test binaries one after another, and the tests here one at a time ([`serial`]).

// Tests stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

mod database_restart;
mod full_disk;
mod kill;
mod mail_outage;
mod two_instances;

/// Held for the whole of each test here: a restarted database or a killed process must not
/// fail a neighbour, and a neighbour's load must not blur what a test measures.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// An admin and `n` IROs of one authority, on `app`.
pub async fn iros(app: &iro_advice_testkit::TestApp, n: usize) -> Vec<iro_advice_testkit::User> {
    let admin = app.admin().await;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            app.user(
                &admin,
                iro_advice_model::accounts::Role::Iro,
                Some("E06000019"),
                None,
            )
            .await,
        );
    }
    out
}

/// The pressure report every load here makes.
pub fn report() -> serde_json::Value {
    serde_json::json!({"kind": "refused_funding", "occurred_on": "2026-11-02", "share_with_nairo": false})
}
