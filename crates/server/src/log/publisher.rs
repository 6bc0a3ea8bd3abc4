//! The publisher: every `IRO_ADVICE_LOG_PUBLISH_SECONDS`, the acts recorded since the last
//! publication are appended in a shuffled batch under one signed checkpoint, so that what
//! the public sees of the tree's growth dates no act more finely than the interval. Acts
//! are durable (and receipted) when they happen; only their publication waits.

use std::sync::Arc;
use std::time::Duration;

use super::keys::{LogError, LogKeys};
use super::store;
use super::witnessing::Witnessing;
use crate::db::Database;

/// Publishes what is pending now; returns the tree's size after.
pub async fn publish_now(db: &Database, keys: Arc<LogKeys>) -> Result<u64, LogError> {
    db.write(move |conn| store::publish(conn, &keys)).await
}

pub fn spawn(db: Database, keys: Arc<LogKeys>, witnessing: Arc<Witnessing>, every: Duration) {
    tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(every).await;
            match publish_now(&db, keys.clone()).await {
                Ok(_) => witnessing.appended(),
                // Nothing is lost: the acts stay pending until a publication succeeds.
                Err(e) => tracing::warn!(error = %e, "publishing the log's pending leaves failed"),
            }
        }
    });
}
