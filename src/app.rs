//! The application's state and its write context.
//!
//! [`AppState`] is what every handler can reach; it knows nothing of routes or of the HTTP
//! server, so handlers and services depend on it and never the other way round
//! (`server → routes → handlers → services → app/db`). [`Tx`] is one write transaction with
//! what an act needs beside the connection (the log's keys, the public URL, the clock), so a
//! service writes `tx.record(…)` and `tx.notify(…)` without plumbing.

use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::accounts::domain::{AccountId, Email, Language};
use crate::accounts::tokens::TokenKeys;
use crate::config::Settings;
use crate::db::{Database, DbConnection, DbError};
use crate::error::ApiError;
use crate::log::witnessing::Witnessing;
use crate::log::{Event, LogError, LogKeys, Receipt};
use crate::mail::{self, Notice, When};
use crate::queries::domain::Urgency;

/// Default largest JSON body; routes that take more say so in the route table.
pub const JSON_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    pub tokens: TokenKeys,
    /// TOTP and passkey verification: the sealing key and the relying party.
    pub factors: Arc<crate::accounts::factors::Factors>,
    /// Bounded password hashing, off the database connections.
    pub hashing: Arc<crate::accounts::passwords::Hashing>,
    pub log: Arc<LogKeys>,
    /// The witnesses the log's checkpoints are submitted to, and what is known of them.
    pub witnessing: Arc<Witnessing>,
    /// The OpenAPI document, rendered once at start by the layer that knows the routes.
    pub openapi: Arc<String>,
    /// Until when (Unix seconds) the service-wide sign-in ceiling, last found reached in
    /// the database, refuses attempts without a device token at once.
    pub sign_in_ceiling_until: Arc<std::sync::atomic::AtomicI64>,
    /// Requests counted for the operator's metrics.
    pub monitoring: Arc<crate::telemetry::Monitoring>,
    /// The web application this instance serves, and its manifest.
    pub web: Arc<crate::web::assets::Bundle>,
}

impl AppState {
    /// What a write transaction carries besides its connection.
    pub fn context(&self) -> WriteContext {
        WriteContext {
            log: self.log.clone(),
            public_url: self.settings.server.public_url.clone(),
            digest_minutes: self.settings.mail.digest_minutes,
        }
    }

    /// Runs `f` in one write transaction on the blocking pool: everything it records and
    /// notifies commits with the act, or nothing does.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let context = self.context();
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

    /// The time of this act: one instant for everything the transaction writes.
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }

    /// Appends the act to the request log, in this transaction; returns its receipt.
    pub fn record(&mut self, event: Event<'_>) -> Result<Receipt, LogError> {
        crate::log::record(self.conn, &self.context.log, event)
    }

    /// Tells an account that something is waiting, at the address it chose for notices, in
    /// this transaction so that a mail server that is down loses nothing: at once for an
    /// urgent query, in the next digest for a routine one.
    pub fn notify(&mut self, account: &AccountId, urgency: Urgency) -> Result<(), ApiError> {
        let when = match urgency {
            Urgency::Urgent => When::Now,
            Urgency::Routine => When::Digest {
                within_minutes: self.context.digest_minutes,
            },
        };
        self.notify_when(account, when)
    }

    /// Tells an account at once: for what concerns its security (a key registered, failed
    /// sign-ins, a changed password), which must not wait for a digest.
    pub fn notify_now(&mut self, account: &AccountId) -> Result<(), ApiError> {
        self.notify_when(account, When::Now)
    }

    fn notify_when(&mut self, account: &AccountId, when: When) -> Result<(), ApiError> {
        let (address, language) = crate::accounts::store::notification_address(self.conn, account)?;
        let email = Email::parse(&address)
            .map_err(|e| ApiError::Internal(format!("stored address: {e}")))?;
        Ok(mail::enqueue(
            self.conn,
            &email,
            &self.context.public_url,
            Notice::Waiting,
            when,
            language,
        )?)
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
            language,
        )
    }
}
