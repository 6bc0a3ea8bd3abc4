//! The application's state: what every handler can reach. Services never see it; a handler
//! hands them what they need (a transaction, a setting), so they run and are tested without
//! HTTP.

use std::sync::Arc;

use crate::accounts::tokens::TokenKeys;
use crate::config::Settings;
use crate::db::{Database, DbConnection, DbError};
use crate::log::witnessing::Witnessing;
use crate::log::LogKeys;
use crate::tx::{Tx, WriteContext};

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
