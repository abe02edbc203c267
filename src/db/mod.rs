//! Persistence: diesel only. One connection type over SQLite and PostgreSQL, chosen by the URL;
//! an r2d2 pool; embedded migrations per backend. No legal decision is taken here.

pub mod agencies;
pub mod audit;
pub mod bulk;
pub mod calendar;
pub mod clients;
pub mod feed;
pub mod remedies;
pub mod reports;
pub mod requests;
pub mod schema;
pub mod users;
pub mod webhooks;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseSettings;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection type over both backends. SQL that must differ per backend matches on it,
/// inside `db/` only.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    Postgres(String),
    /// A SQLite file path, or `:memory:`.
    Sqlite(String),
}

impl DbTarget {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DbError::Config("database.url is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbTarget::Postgres(url.to_string()));
        }
        if let Some(rest) = url.strip_prefix("sqlite://") {
            return Ok(DbTarget::Sqlite(rest.to_string()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return Ok(DbTarget::Sqlite(rest.to_string()));
        }
        if url.contains("://") {
            return Err(DbError::Config(format!(
                "database.url: unsupported scheme in {:?}; use sqlite://PATH or postgres://…",
                redact_url(url)
            )));
        }
        Ok(DbTarget::Sqlite(url.to_string()))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Postgres(_) => Backend::Postgres,
            DbTarget::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Hides a password in a URL before it reaches a log line or an error.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(String),
    /// A stored record this release cannot decode: named, so it can be found and repaired.
    #[error("stored {entity} {id} cannot be read: {reason}")]
    Unreadable {
        entity: &'static str,
        id: String,
        reason: String,
    },
}

/// Opens connections for the pool, picking the backend by URL, and passes the real error
/// through (the derive's own `establish` hides it).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: DbTarget,
    busy_timeout_ms: u32,
}

impl ConnectionManager {
    pub fn new(target: DbTarget, busy_timeout_ms: u32) -> Self {
        Self {
            target,
            busy_timeout_ms,
        }
    }

    pub fn connect_once(&self) -> Result<DbConnection, DbError> {
        match &self.target {
            DbTarget::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(|e| DbError::Connect(e.to_string()))?;
                // diesel prepares its statements; after five runs PostgreSQL may switch to a
                // generic plan that ignores the actual filter values (a date range, a state) and
                // scans the table. Lists over a million rows need the plan for the real values.
                conn.batch_execute("SET plan_cache_mode = force_custom_plan")
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(DbConnection::Postgres(conn))
            }
            DbTarget::Sqlite(path) => {
                if path != ":memory:"
                    && let Some(parent) = Path::new(path).parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        DbError::Connect(format!("cannot create folder {}: {e}", parent.display()))
                    })?;
                }
                let mut conn = SqliteConnection::establish(path)
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                // Per connection: WAL lets readers run beside the writer; foreign keys are off
                // by default in SQLite; the busy timeout makes writers queue instead of failing.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    self.busy_timeout_ms
                ))
                .map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<Self::Connection, Self::Error> {
        self.connect_once()
    }

    fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(DbError::Query)
    }

    fn has_broken(&self, _conn: &mut Self::Connection) -> bool {
        false
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// Connects once (so a bad URL fails at once with its reason), migrates when asked, then
/// builds the pool.
pub fn connect(settings: &DatabaseSettings, migrate: bool) -> Result<Database, DbError> {
    let target = DbTarget::parse(&settings.url)?;
    let manager = ConnectionManager::new(target.clone(), settings.sqlite_busy_timeout_ms);
    let mut first = manager.connect_once()?;
    if migrate {
        run_migrations(&mut first)?;
    }
    drop(first);
    let pool = Pool::builder()
        .max_size(settings.pool_max_size)
        .connection_timeout(Duration::from_secs(settings.pool_timeout_secs.max(1)))
        .build(manager)
        .map_err(|e| DbError::Pool(e.to_string()))?;
    Ok(Database {
        pool,
        backend: target.backend(),
    })
}

#[derive(Clone)]
pub struct Database {
    pub pool: DbPool,
    pub backend: Backend,
}

impl Database {
    pub fn get(&self) -> Result<PooledConn, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }
}

/// Applies every pending migration of the connection's backend; returns the versions applied.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConnection::Postgres(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts every applied migration, newest first (used by the up-down-up test).
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let reverted = match conn {
        DbConnection::Postgres(c) => c
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
        DbConnection::Sqlite(c) => c
            .revert_all_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
    };
    reverted.map_err(|e| DbError::Migration(e.to_string()))
}

/// Runs `f` inside one transaction; everything it wrote is rolled back when it fails.
pub fn transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        // SQLite: take the write lock at the start, so two writers queue on the busy timeout
        // instead of one failing with SQLITE_BUSY when it upgrades a read lock.
        DbConnection::Sqlite(_) => conn.immediate_transaction_multi(f),
        DbConnection::Postgres(_) => conn.transaction(f),
    }
}

trait ImmediateTransaction {
    fn immediate_transaction_multi<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>;
}

impl ImmediateTransaction for DbConnection {
    fn immediate_transaction_multi<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        // The multi-connection's transaction manager issues BEGIN; SQLite needs BEGIN IMMEDIATE.
        // Run the statement ourselves and keep diesel's bookkeeping out of the way.
        self.batch_execute("BEGIN IMMEDIATE")?;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *self)));
        match outcome {
            Ok(Ok(v)) => match self.batch_execute("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.batch_execute("ROLLBACK");
                    Err(e.into())
                }
            },
            Ok(Err(e)) => {
                let _ = self.batch_execute("ROLLBACK");
                Err(e)
            }
            Err(panic) => {
                // Never hand a connection back to the pool with a transaction open.
                let _ = self.batch_execute("ROLLBACK");
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// An instant cut to whole microseconds (what PostgreSQL keeps), so both backends store and
/// return the same value. "Now" comes from the application's clock (`crate::clock::Clock`).
pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp_micros(t.and_utc().timestamp_micros())
        .map(|d| d.naive_utc())
        .unwrap_or(t)
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
