//! One code path for SQLite and PostgreSQL.
//!
//! `DbConnection` is diesel's `MultiConnection` over both backends. The backend is chosen from
//! the URL scheme here, never by letting diesel try each variant in turn (SQLite would happily
//! "open" a postgres:// URL as a file name). Per-backend SQL, where the portable query builder
//! cannot express something, lives in this module only.

pub mod schema;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::{DatabaseSettings, DatabaseUrl};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises concurrent `migrate` runs of several instances against one PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x1_20AD_71CE;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// The vocabulary and ids of [`iro_advice_model`] bind as SQL text on either backend (the
/// model crate stores them for each backend; the connection that dispatches between the two
/// is this crate's, so its impl is here).
macro_rules! bind_as_text {
    ($($t:ty),* $(,)?) => {$(
        impl diesel::serialize::ToSql<diesel::sql_types::Text, MultiBackend> for $t {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, MultiBackend>,
            ) -> diesel::serialize::Result {
                let text = iro_advice_model::vocabulary::AsText::as_text(self);
                out.set_value((diesel::sql_types::Text, text));
                Ok(diesel::serialize::IsNull::No)
            }
        }
    )*};
}

bind_as_text!(
    iro_advice_model::accounts::AccountId,
    iro_advice_model::accounts::SessionId,
    iro_advice_model::accounts::Role,
    iro_advice_model::accounts::AdviserKind,
    iro_advice_model::accounts::AccountStatus,
    iro_advice_model::accounts::Language,
    iro_advice_model::authorities::AuthorityCode,
    iro_advice_model::leaf::Kind,
    iro_advice_model::period::By,
    iro_advice_model::period::PeriodLength,
    iro_advice_model::pressure::PressureReportId,
    iro_advice_model::pressure::PressureKind,
    iro_advice_model::queries::QueryId,
    iro_advice_model::queries::MessageId,
    iro_advice_model::queries::AttachmentId,
    iro_advice_model::queries::Category,
    iro_advice_model::queries::Stage,
    iro_advice_model::queries::Urgency,
    iro_advice_model::queries::Outcome,
    iro_advice_model::queries::DeclineReason,
    iro_advice_model::queries::QueryStatus,
);

/// The service's clock: UTC, as stored in every timestamp column.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Reads a stored vocabulary value; a value the code does not know is a corrupt row.
pub fn parse_stored<T: std::str::FromStr>(value: &str) -> diesel::QueryResult<T> {
    value.parse::<T>().map_err(|_| {
        diesel::result::Error::DeserializationError(
            format!("unexpected stored value {value:?}").into(),
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("background task failed")]
    Blocking,
}

/// Whether a query failed because the database went away under it (a restart, a failover,
/// an administrator's termination) rather than because of the query: the request may be
/// tried again once the pool has reconnected, so it is a 503, not a 500.
pub fn connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            // PostgreSQL's admin_shutdown (57P01), crash_shutdown (57P02) and
            // cannot_connect_now (57P03) carry no kind of their own in diesel.
            let message = info.message();
            [
                "terminating connection",
                "server closed the connection",
                "the database system is",
                "connection to server",
                "no connection to the server",
            ]
            .iter()
            .any(|m| message.contains(m))
        }
        // A transaction whose rollback failed: the connection went away mid-transaction.
        // The pool discards the connection (`has_broken`).
        Error::BrokenTransactionManager => true,
        Error::RollbackErrorOnCommit {
            rollback_error,
            commit_error,
        } => connection_lost(rollback_error) || connection_lost(commit_error),
        _ => false,
    }
}

/// Whether a write failed for want of disk space (SQLite's SQLITE_FULL, PostgreSQL's
/// disk_full): the transaction rolled back whole, nothing is half written, and the same
/// request succeeds once the operator frees space, so it is a 503 with `Retry-After`.
pub fn storage_full(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database or disk is full")
                || message.contains("No space left on device")
                || message.contains("could not extend file")
        }
        _ => false,
    }
}

/// Opens connections of the backend named by the URL, and prepares SQLite ones.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    busy_timeout_ms: u32,
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, DbError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                // WAL lets readers run beside the one writer; busy_timeout makes a second
                // writer wait for the lock instead of failing.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    self.busy_timeout_ms
                ))?;
                Ok(DbConnection::Sqlite(conn))
            }
            // GSSAPI encryption off unless the URL asks for it: libpq's default ("prefer")
            // calls into Kerberos on every connect, and Kerberos aborts the process when a
            // connect on one thread meets its teardown at exit on another, which short-lived
            // commands hit.
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(&with_default_param(url.expose(), "gssencmode", "disable"))
                    .map(DbConnection::Postgres)
                    .map_err(|e| DbError::Connect(e.to_string()))
            }
        }
    }
}

/// Runs the same diesel code on whichever connection is inside, for the statements the
/// `MultiConnection` cannot build itself (multi-row inserts, upserts).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}
pub use on_backend;

/// A PostgreSQL URL with `key=value` added to its parameters, unless it sets `key` already.
pub fn with_default_param(url: &str, key: &str, value: &str) -> String {
    if url.contains(&format!("{key}=")) {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&{key}={value}")
    } else {
        format!("{url}?{key}={value}")
    }
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Sqlite(_) => Backend::Sqlite,
            DbConnection::Postgres(_) => Backend::Postgres,
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.open().map_err(|e| match e {
            DbError::Query(q) => r2d2::Error::QueryError(q),
            other => r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(
                other.to_string(),
            )),
        })
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        use diesel::r2d2::R2D2Connection;
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

pub type Conn = PooledConnection<ConnectionManager>;

#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub connections: u32,
    pub idle_connections: u32,
    pub max: u32,
}

/// The pool, shared by every request handler and background task.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager>,
    backend: Backend,
    /// The pool's connections, shared out between writes and everything else (see
    /// [`Turns`]).
    turns: Turns,
}

/// Requests wait for a connection here, in order and on the async side, rather than on
/// blocking threads inside the pool, which wakes its waiters in no order: measured under
/// 1,000 connections of mixed load, reads waited behind writers that held every connection
/// while they queued for the log's lock; and once writers were limited but took their
/// connection from the same pool, hundreds of waiting reads starved them (15 writes a
/// second). So the connections are split: a few for write transactions, the rest for
/// everything else, and neither waits for the other.
#[derive(Clone)]
struct Turns {
    writes: std::sync::Arc<tokio::sync::Semaphore>,
    others: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Turns {
    /// Appends to the log are strictly serial (SQLite's write lock, PostgreSQL's lock on
    /// the log's head row), so more writers would only wait on the lock holding connections;
    /// on SQLite a writer waiting on the lock sleeps in its busy handler, by steps of up to
    /// 100 ms. On PostgreSQL a second writer prepares its act while the first commits.
    fn new(backend: Backend, pool_size: u32) -> Self {
        let pool_size = pool_size.max(2) as usize;
        let writes = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => (pool_size / 4).clamp(1, 2),
        };
        Turns {
            writes: std::sync::Arc::new(tokio::sync::Semaphore::new(writes)),
            others: std::sync::Arc::new(tokio::sync::Semaphore::new(pool_size - writes)),
        }
    }
}

impl Database {
    /// Connects, failing at once with a clear error when the database cannot be reached.
    pub fn connect(settings: &DatabaseSettings) -> Result<Self, DbError> {
        if let DatabaseUrl::Sqlite(path) = settings.url() {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| DbError::Connect(format!("{}: {e}", parent.display())))?;
            }
            // Owner-only, whoever's umask: SQLite gives its -wal and -shm files the mode of
            // the database file.
            iro_advice_model::files::own_file_only(path)
                .map_err(|e| DbError::Connect(format!("{}: {e}", path.display())))?;
        }
        let manager = ConnectionManager {
            url: settings.url().clone(),
            busy_timeout_ms: settings.sqlite_busy_timeout_ms,
        };
        // Prove the URL works before building the pool, so a bad one gives its own error
        // rather than a pool time-out.
        manager.open()?;
        let pool = Pool::builder()
            .max_size(settings.pool_size)
            // No connections opened in the background: a command that exits while one is
            // being opened would race the client library's teardown.
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(settings.connect_timeout_secs))
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build_unchecked(manager);
        let backend = match settings.url() {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        };
        Ok(Database {
            pool,
            backend,
            turns: Turns::new(backend, settings.pool_size),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn get(&self) -> Result<Conn, DbError> {
        Ok(self.pool.get()?)
    }

    /// How many connections are open, how many of them idle, and the most there may be.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle_connections: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// Runs `f` with a connection on the blocking thread pool, never on an async worker.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.in_turn(false, f).await
    }

    /// Like `run`, inside a write transaction (see [`write_transaction`]), on one of the
    /// connections kept for writes.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.in_turn(true, move |conn| write_transaction(conn, f))
            .await
    }

    async fn in_turn<T, E, F>(&self, write: bool, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let queue = if write {
            &self.turns.writes
        } else {
            &self.turns.others
        };
        let turn = queue
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| E::from(DbError::Blocking))?;
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            // Given back when the work ends, which it does even when the request that
            // started it has gone.
            let _turn = turn;
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Blocking))?
    }

    /// True when a connection can be had and answers, within `timeout`.
    pub async fn is_ready(&self, timeout: Duration) -> bool {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || match pool.get_timeout(timeout) {
            Ok(mut conn) => conn.batch_execute("SELECT 1").is_ok(),
            Err(_) => false,
        })
        .await
        .unwrap_or(false)
    }

    /// Runs the pending migrations of this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.get()?;
        let migrate_err =
            |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
        match &mut *conn {
            DbConnection::Sqlite(c) => {
                let ran = c
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map_err(migrate_err)?;
                Ok(ran.len())
            }
            DbConnection::Postgres(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
                let ran = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len());
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
                ran.map_err(migrate_err)
            }
        }
    }
}

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite a plain (deferred) transaction that reads and then writes can fail with
/// "database is locked" no matter the busy timeout, because the lock upgrade cannot wait.
/// `BEGIN IMMEDIATE` takes the write lock up front, so concurrent writers queue instead.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    transaction_as(conn, "BEGIN IMMEDIATE", "BEGIN", f)
}

/// Runs `f` on one consistent snapshot of the database, so that a long read (log
/// verification, a statistics report) never mixes rows from before and after a concurrent
/// write. SQLite in WAL mode fixes a read transaction's snapshot at its first read.
pub fn snapshot_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    transaction_as(
        conn,
        "BEGIN DEFERRED",
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        f,
    )
}

fn transaction_as<T, E, F>(
    conn: &mut DbConnection,
    sqlite: &str,
    postgres: &str,
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // The MultiConnection's transaction manager delegates to the inner connection's, so
    // beginning on the inner one and committing through the outer one stay in step.
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, sqlite)?,
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(c, postgres)?,
    }
    type Manager = <DbConnection as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => match Manager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit_err) => {
                let _ = Manager::rollback_transaction(conn);
                Err(commit_err.into())
            }
        },
        Err(e) => {
            Manager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Small key-value table for the service's own bookkeeping.
pub mod meta {
    use super::schema::service_meta::dsl::*;
    use super::DbConnection;
    use diesel::prelude::*;

    pub fn get(conn: &mut DbConnection, name: &str) -> QueryResult<Option<String>> {
        service_meta.find(name).select(value).first(conn).optional()
    }

    /// Inserts or replaces `name` in one statement.
    pub fn set(conn: &mut DbConnection, name: &str, new_value: &str) -> QueryResult<()> {
        // The upsert is built on the inner connection: diesel's MultiConnection has no
        // `on_conflict`, though each backend does.
        let row = (key.eq(name), value.eq(new_value));
        super::on_backend!(conn, |c| diesel::insert_into(service_meta)
            .values(row)
            .on_conflict(key)
            .do_update()
            .set(value.eq(new_value))
            .execute(c))
        .map(drop)
    }
}
