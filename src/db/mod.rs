//! Persistence: diesel only. One connection type over SQLite and PostgreSQL, chosen by the URL;
//! an r2d2 pool; embedded migrations per backend. No legal decision is taken here.

pub mod agencies;
pub mod audit;
pub mod bulk;
pub mod calendar;
pub mod clients;
pub mod documents;
pub mod feed;
pub mod idempotency;
pub mod letterheads;
pub mod notices;
pub mod office;
pub mod refresh_tokens;
pub mod remedies;
pub mod reports;
pub mod requests;
pub mod schema;
pub mod search;
pub mod secrets;
pub mod signals;
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
    cache_kib: u32,
}

impl ConnectionManager {
    pub fn new(target: DbTarget, busy_timeout_ms: u32) -> Self {
        Self {
            target,
            busy_timeout_ms,
            cache_kib: 2000,
        }
    }

    /// SQLite: the page cache of each connection, in KiB (`database.sqlite_cache_kib`;
    /// SQLite's own 2,000 unless set).
    pub fn with_cache_kib(mut self, kib: u32) -> Self {
        self.cache_kib = kib;
        self
    }

    pub fn connect_once(&self) -> Result<DbConnection, DbError> {
        match &self.target {
            DbTarget::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(|e| DbError::Connect(e.to_string()))?;
                // diesel prepares its statements, and after five runs PostgreSQL may keep a
                // generic plan. Lists whose plan depends on their filter values are planned per
                // call instead (`requests::PlannedPerCall`); the rest, reads by key above all,
                // keep their prepared plan.
                // Server messages in the C locale where the role may choose (see `contention`).
                conn.batch_execute(PG_MESSAGES_IN_C_LOCALE)
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
                // by default in SQLite; the busy timeout makes writers queue instead of failing;
                // the page cache is bounded (a negative size is in KiB).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -{};",
                    self.busy_timeout_ms, self.cache_kib
                ))
                .map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// A pooled connection: the connection, whether it was found broken, and how many statements
/// it has sent (counted by diesel's instrumentation, so BEGIN and COMMIT count as on the wire).
///
/// The pool does not test a connection when it hands it out (that was a `SELECT 1` before every
/// request). A connection is tested only after a request on it failed with a fault or an
/// unavailable database ([`ManagedConn::check`]); one that fails the test is
/// marked broken and the pool drops it instead of taking it back, so the next request gets a
/// fresh one.
pub struct ManagedConn {
    conn: DbConnection,
    broken: bool,
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ManagedConn {
    fn new(mut conn: DbConnection) -> Self {
        let statements = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = statements.clone();
        let count = move |event: diesel::connection::InstrumentationEvent<'_>| {
            if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Each statement's SQL at trace level under its own target
                // (`log.level = "warn,gongkai::sql=trace"`), for finding what a request sends
                // (bench/ratios.sh runs the same SQL in pgbench). Without the bound values:
                // they hold applicants' data.
                if tracing::enabled!(target: "gongkai::sql", tracing::Level::TRACE) {
                    let text = query.to_string();
                    let sql = text
                        .rsplit_once(" -- binds: ")
                        .map_or(text.as_str(), |(s, _)| s);
                    tracing::trace!(target: "gongkai::sql", sql);
                }
            }
        };
        match &mut conn {
            DbConnection::Postgres(c) => c.set_instrumentation(count),
            DbConnection::Sqlite(c) => c.set_instrumentation(count),
        }
        Self {
            conn,
            broken: false,
            statements,
        }
    }

    /// Statements this connection has sent since it was opened.
    pub fn statements(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether a check found the connection dead.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether the connection still answers (after a failed request, or while the pool is
    /// suspect). One that does not (the server restarted, the network dropped it) is marked
    /// broken and leaves the pool when it is given back.
    pub fn check(&mut self) -> bool {
        if self.conn.batch_execute("SELECT 1").is_err() {
            self.broken = true;
        }
        !self.broken
    }
}

impl std::ops::Deref for ManagedConn {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for ManagedConn {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = ManagedConn;
    type Error = DbError;

    fn connect(&self) -> Result<Self::Connection, Self::Error> {
        self.connect_once().map(ManagedConn::new)
    }

    fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error> {
        conn.conn.batch_execute("SELECT 1").map_err(DbError::Query)
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        // A panic inside a transaction, or a transaction left open, or a connection that
        // failed its check after an error: never hand it out again.
        conn.broken
            || std::thread::panicking()
            || match &mut conn.conn {
                DbConnection::Postgres(c) => diesel::r2d2::R2D2Connection::is_broken(c),
                DbConnection::Sqlite(c) => diesel::r2d2::R2D2Connection::is_broken(c),
            }
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// Connects once (so a bad URL fails at once with its reason), migrates when asked, then
/// builds the pool.
pub fn connect(settings: &DatabaseSettings, migrate: bool) -> Result<Database, DbError> {
    let target = DbTarget::parse(&settings.url)?;
    let manager = ConnectionManager::new(target.clone(), settings.sqlite_busy_timeout_ms)
        .with_cache_kib(settings.sqlite_cache_kib);
    let mut first = manager.connect_once()?;
    if migrate {
        run_migrations(&mut first)?;
    }
    drop(first);
    let pool = Pool::builder()
        .max_size(settings.pool_max_size)
        .connection_timeout(Duration::from_secs(settings.pool_timeout_secs.max(1)))
        // No `SELECT 1` before every use: a broken connection is found when it is used and
        // dropped then (`ManagedConn::check`, `Database::get`, `has_broken`).
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| DbError::Pool(e.to_string()))?;
    Ok(Database {
        pool,
        backend: target.backend(),
        in_memory: matches!(&target, DbTarget::Sqlite(p) if p == ":memory:"),
        manager: ConnectionManager::new(target, settings.sqlite_busy_timeout_ms)
            .with_cache_kib(settings.sqlite_cache_kib),
        suspect_until: Default::default(),
    })
}

#[derive(Clone)]
pub struct Database {
    pub pool: DbPool,
    pub backend: Backend,
    /// A SQLite `:memory:` database: every connection sees a database of its own, so nothing
    /// can watch it from beside the pool.
    pub in_memory: bool,
    /// Opens connections outside the pool (the change watcher's).
    pub manager: ConnectionManager,
    /// Until when (`monotonic_millis`) connections are checked before use: set when one was
    /// found dead, since its siblings in the pool likely are too (a database restart).
    suspect_until: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// How long after a dead connection was found connections are checked before use.
const SUSPECT_MILLIS: i64 = 30_000;

/// Milliseconds on a monotonic clock since the process first asked (a duration, not a date:
/// the application's clock is for dates).
fn monotonic_millis() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

impl Database {
    /// A connection from the pool. Not tested first (no `SELECT 1` per use), except for a
    /// while after a dead one was found: then each is checked and dead ones are dropped.
    pub fn get(&self) -> Result<PooledConn, DbError> {
        let suspect = self
            .suspect_until
            .load(std::sync::atomic::Ordering::Relaxed)
            > monotonic_millis();
        if !suspect {
            return self.pool.get().map_err(|e| DbError::Pool(e.to_string()));
        }
        // At most every idle connection once, then a fresh one.
        for _ in 0..=self.pool.max_size() {
            let mut conn = self.pool.get().map_err(|e| DbError::Pool(e.to_string()))?;
            if conn.check() {
                return Ok(conn);
            }
        }
        Err(DbError::Pool("no live database connection".into()))
    }

    /// A connection was found dead: check connections before use for a while.
    pub fn mark_suspect(&self) {
        self.suspect_until.store(
            monotonic_millis() + SUSPECT_MILLIS,
            std::sync::atomic::Ordering::Relaxed,
        );
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
    transaction_begun(conn, Begin::Plain, f)
}

/// How a transaction begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    Plain,
    /// Deferring the references intake writes before the application's row
    /// ([`requests::DEFER_INTAKE_REFERENCES_PG`]), sent with `BEGIN` in one round trip: on
    /// PostgreSQL a statement, a hand-off to the server and back fewer per intake.
    DeferringIntakeReferences,
}

/// [`transaction`], begun as `begin` says.
pub fn transaction_begun<T, E, F>(conn: &mut DbConnection, begin: Begin, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match (conn, begin) {
        // SQLite: take the write lock at the start, so two writers queue on the busy timeout
        // instead of one failing with SQLITE_BUSY when it upgrades a read lock.
        (conn @ DbConnection::Sqlite(_), Begin::Plain) => {
            conn.immediate_transaction_multi("BEGIN IMMEDIATE", f)
        }
        (conn @ DbConnection::Sqlite(_), Begin::DeferringIntakeReferences) => conn
            .immediate_transaction_multi(
                &format!(
                    "BEGIN IMMEDIATE; {}",
                    requests::DEFER_INTAKE_REFERENCES_SQLITE
                ),
                f,
            ),
        (conn @ DbConnection::Postgres(_), Begin::Plain) => conn.transaction(f),
        (conn @ DbConnection::Postgres(_), Begin::DeferringIntakeReferences) => {
            postgres_transaction_begun(
                conn,
                &format!("BEGIN; {}", requests::DEFER_INTAKE_REFERENCES_PG),
                f,
            )
        }
    }
}

/// A PostgreSQL transaction begun with `begin` (several statements in one round trip), kept in
/// diesel's bookkeeping as its own `transaction` keeps it: committed when `f` succeeds, rolled
/// back when it fails or panics.
fn postgres_transaction_begun<T, E, F>(conn: &mut DbConnection, begin: &str, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    fn pg(conn: &mut DbConnection) -> Result<&mut PgConnection, diesel::result::Error> {
        match conn {
            DbConnection::Postgres(pg) => Ok(pg),
            // Called for PostgreSQL only.
            DbConnection::Sqlite(_) => Err(diesel::result::Error::BrokenTransactionManager),
        }
    }
    AnsiTransactionManager::begin_transaction_sql(pg(conn)?, begin)?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *conn)));
    match outcome {
        Ok(Ok(v)) => {
            AnsiTransactionManager::commit_transaction(pg(conn)?)?;
            Ok(v)
        }
        Ok(Err(e)) => match pg(conn).and_then(AnsiTransactionManager::rollback_transaction) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
        Err(panic) => {
            // Never hand a connection back to the pool with a transaction open.
            let _ = pg(conn).and_then(AnsiTransactionManager::rollback_transaction);
            std::panic::resume_unwind(panic)
        }
    }
}

trait ImmediateTransaction {
    fn immediate_transaction_multi<T, E, F>(&mut self, begin: &str, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>;
}

impl ImmediateTransaction for DbConnection {
    fn immediate_transaction_multi<T, E, F>(&mut self, begin: &str, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        // The multi-connection's transaction manager issues BEGIN; SQLite needs BEGIN IMMEDIATE.
        // Run the statement ourselves and keep diesel's bookkeeping out of the way.
        self.batch_execute(begin)?;
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

/// Sets `lc_messages` to `C` for the session when the role may (superusers, or a role granted
/// `SET` on it); otherwise keeps the server's setting without raising an error.
pub const PG_MESSAGES_IN_C_LOCALE: &str = "DO $$ BEGIN PERFORM set_config('lc_messages', 'C', false); \
     EXCEPTION WHEN insufficient_privilege THEN NULL; END $$";

/// Contention: the statement lost a race with another transaction and may succeed when
/// retried. Not a fault of ours; answered 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contention {
    /// PostgreSQL SQLSTATE 40001 `serialization_failure`.
    SerializationFailure,
    /// PostgreSQL SQLSTATE 40P01 `deadlock_detected`.
    DeadlockDetected,
    /// PostgreSQL SQLSTATE 55P03 `lock_not_available` (`NOWAIT`, `lock_timeout`).
    LockNotAvailable,
    /// SQLite `SQLITE_BUSY` ("database is locked"), after the busy timeout.
    SqliteBusy,
    /// SQLite `SQLITE_LOCKED` ("database table is locked").
    SqliteLocked,
}

impl Contention {
    /// The PostgreSQL SQLSTATE, for the PostgreSQL kinds.
    pub fn sqlstate(self) -> Option<&'static str> {
        match self {
            Contention::SerializationFailure => Some("40001"),
            Contention::DeadlockDetected => Some("40P01"),
            Contention::LockNotAvailable => Some("55P03"),
            Contention::SqliteBusy | Contention::SqliteLocked => None,
        }
    }
}

impl std::fmt::Display for Contention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Contention::SerializationFailure => {
                f.write_str("contention: SQLSTATE 40001 serialization_failure")
            }
            Contention::DeadlockDetected => {
                f.write_str("contention: SQLSTATE 40P01 deadlock_detected")
            }
            Contention::LockNotAvailable => {
                f.write_str("contention: SQLSTATE 55P03 lock_not_available")
            }
            Contention::SqliteBusy => f.write_str("contention: SQLITE_BUSY"),
            Contention::SqliteLocked => f.write_str("contention: SQLITE_LOCKED"),
        }
    }
}

/// Whether a database error is contention, and which.
///
/// How each is recognised, since diesel 2.3 does not hand out the SQLSTATE or the SQLite result
/// code (its PostgreSQL error information type is private and reads the SQLSTATE only to pick a
/// `DatabaseErrorKind`; this crate forbids `unsafe`, so libpq cannot be asked directly):
///
/// - **40001**: diesel maps exactly this SQLSTATE to `DatabaseErrorKind::SerializationFailure`.
/// - **40P01, 55P03**: diesel reports them as `Unknown`. PostgreSQL raises each of them with a
///   fixed primary message (`deadlock detected`; `could not obtain lock on …`, `canceling
///   statement due to lock timeout`), given in the session's `lc_messages` language. Every
///   PostgreSQL connection sets `lc_messages = 'C'` when it opens (where the role may; see
///   [`PG_MESSAGES_IN_C_LOCALE`]), so the messages are the untranslated ones matched here. A
///   deployment whose role may not set it and whose server speaks another language gets these
///   two as 500s with the cause logged, never as silent successes. `tests/api/errors.rs`
///   provokes each of the three on a real server and checks the classification.
/// - **SQLite**: the message is `sqlite3_errmsg`, which SQLite never translates: `database is
///   locked` is the fixed text of `SQLITE_BUSY`, `database table is locked` of `SQLITE_LOCKED`.
pub fn contention(e: &diesel::result::Error) -> Option<Contention> {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(kind, info) = e else {
        return None;
    };
    if matches!(kind, DatabaseErrorKind::SerializationFailure) {
        return Some(Contention::SerializationFailure);
    }
    if !matches!(kind, DatabaseErrorKind::Unknown) {
        return None;
    }
    let message = info.message();
    if message == "deadlock detected" {
        Some(Contention::DeadlockDetected)
    } else if message.starts_with("could not obtain lock on ")
        || message == "canceling statement due to lock timeout"
    {
        Some(Contention::LockNotAvailable)
    } else if message.starts_with("database is locked") {
        Some(Contention::SqliteBusy)
    } else if message.starts_with("database table is locked") {
        Some(Contention::SqliteLocked)
    } else {
        None
    }
}

/// Whether a database error means the connection is gone (the server restarted or closed
/// it, the network dropped it): the work did not happen or its outcome is unknown, and the
/// client may retry (503). libpq's texts for these are fixed English messages.
pub fn connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(kind, info) = e else {
        return false;
    };
    if matches!(kind, DatabaseErrorKind::ClosedConnection) {
        return true;
    }
    let m = info.message();
    [
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection to server",
        "the database system is shutting down",
        "the database system is starting up",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A unique violation of the index on an agency's external references (`requests_external_reference`),
/// not of another unique key of the row (the case number): PostgreSQL names the index,
/// SQLite's message the columns.
pub fn is_external_reference_taken(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => {
            info.constraint_name() == Some("requests_external_reference")
                || info.message().contains("requests.external_reference")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_external_reference_taken;
    use diesel::result::{DatabaseErrorKind, Error};

    fn unique(message: &str) -> Error {
        Error::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(message.to_string()),
        )
    }

    /// Only the external reference's unique index is the caller's conflict; a case number
    /// taken (a counter fault) is not reported as one.
    #[test]
    fn only_the_external_references_index_is_a_reference_taken() {
        assert!(is_external_reference_taken(&unique(
            "UNIQUE constraint failed: requests.agency_id, requests.external_reference"
        )));
        assert!(!is_external_reference_taken(&unique(
            "UNIQUE constraint failed: requests.agency_id, requests.case_year, requests.case_seq"
        )));
        assert!(!is_external_reference_taken(&unique(
            "UNIQUE constraint failed: requests.case_number"
        )));
        assert!(!is_external_reference_taken(&Error::NotFound));
    }
}
