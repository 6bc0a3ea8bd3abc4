//! The application's state: what every handler can reach. Services never see it; a handler
//! hands them what they need (the storage, a setting, the accounts' keys), so they run and
//! are tested without HTTP.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::config::Settings;
use crate::db::{DbConnection, DbError};
use crate::tx::{Storage, Tx};

/// Default largest JSON body; routes that take more say so in the route table.
pub const JSON_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
pub struct AppState {
    /// The database, the log's keys and the witnesses: what every act needs.
    pub storage: Storage,
    pub settings: Arc<Settings>,
    /// Tokens, second factors, password hashing and the sign-in ceiling.
    pub accounts: Arc<Accounts>,
    /// The OpenAPI document, rendered once at start by the layer that knows the routes.
    pub openapi: Arc<String>,
    /// Requests counted for the operator's metrics.
    pub monitoring: Arc<crate::telemetry::Monitoring>,
    /// The web application this instance serves, and its manifest.
    pub web: Arc<crate::web::assets::Bundle>,
}

impl AppState {
    /// Runs `f` in one write transaction (see [`Storage::write`]).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.storage.write(f).await
    }

    /// Runs `f` with a connection on the blocking pool, for reads.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.storage.read(f).await
    }
}
