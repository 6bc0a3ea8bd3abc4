//! One write transaction with what an act needs beside the connection (the log's keys, the
//! public URL, the clock), so that a service writes `tx.record(…)` and `tx.notify(…)` without
//! plumbing, and everything it records and notifies commits with the act, or nothing does.

use std::sync::Arc;

use chrono::NaiveDateTime;
use iro_advice_api::Receipt;
use iro_advice_model::accounts::{Email, Language};

use crate::db::{Database, DbConnection, DbError};
use crate::log::witnessing::Witnessing;
use crate::log::{Event, LogError, LogKeys};
use crate::mail::{self, Notice, When};

/// The database, with what an act carries beside its connection: what a service needs to
/// read and to act, whoever calls it (a handler, a background task, a test).
#[derive(Clone)]
pub struct Storage {
    pub db: Database,
    pub context: WriteContext,
    /// The witnesses the log's checkpoints are submitted to.
    pub witnessing: Arc<Witnessing>,
}

impl Storage {
    /// Runs `f` in one write transaction on the blocking pool: everything it records and
    /// notifies commits with the act, or nothing does.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let context = self.context.clone();
        let done = self
            .db
            .write(move |conn| f(&mut Tx::new(conn, &context)))
            .await;
        if done.is_ok() {
            // The act may have appended to the log: its checkpoint goes to the witnesses.
            self.witnessing.appended();
        }
        done
    }

    /// Runs `f` with a connection on the blocking pool, for reads.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.db.run(f).await
    }
}

/// The keys and addresses an act needs inside its transaction; cheap to clone.
#[derive(Clone)]
pub struct WriteContext {
    pub log: Arc<LogKeys>,
    pub public_url: String,
    /// Routine notices wait up to this long for a digest (0: none).
    pub digest_minutes: u64,
}

/// One write transaction and its context.
pub struct Tx<'a> {
    pub conn: &'a mut DbConnection,
    context: &'a WriteContext,
    now: NaiveDateTime,
}

impl<'a> Tx<'a> {
    pub fn new(conn: &'a mut DbConnection, context: &'a WriteContext) -> Self {
        Tx {
            conn,
            context,
            now: crate::db::now(),
        }
    }

    /// The log's keys, to read what the log says (a query's latest status act).
    pub fn log_keys(&self) -> Arc<LogKeys> {
        self.context.log.clone()
    }

    /// The time of this act: one instant for everything the transaction writes.
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }

    /// Appends the act to the request log, in this transaction; returns its receipt.
    pub fn record(&mut self, event: Event<'_>) -> Result<Receipt, LogError> {
        crate::log::record_at(self.conn, &self.context.log, event, self.now)
    }

    /// Tells `to` that something is waiting, in this transaction so that a mail server that
    /// is down loses nothing: at once, or in the next digest (within the configured minutes).
    pub fn notify(
        &mut self,
        to: &Email,
        language: Language,
        when: When,
    ) -> diesel::QueryResult<()> {
        mail::enqueue(
            self.conn,
            to,
            &self.context.public_url,
            Notice::Waiting,
            when,
            self.context.digest_minutes,
            language,
        )
    }

    /// Queues a notice to an address at once (an invitee's, who has no account yet).
    pub fn send(
        &mut self,
        to: &Email,
        notice: Notice<'_>,
        language: Language,
    ) -> diesel::QueryResult<()> {
        mail::enqueue(
            self.conn,
            to,
            &self.context.public_url,
            notice,
            When::Now,
            self.context.digest_minutes,
            language,
        )
    }
}
