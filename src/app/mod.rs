//! Use cases: load rows, ask the domain, store the result and its audit event in one
//! transaction. Diesel runs here only through `db/`, always off the async workers.

pub mod agencies;
pub mod agency_places;
pub mod audit_log;
pub mod auth;
pub mod bootstrap;
pub mod bulk;
pub mod calendar;
pub mod clients;
pub mod documents;
pub mod executor;
pub mod feed;
pub mod idempotency;
pub mod letterheads;
pub mod mailer;
pub mod notice_render;
pub mod notices;
pub mod office;
pub mod principals;
pub mod refresh_tokens;
pub mod remedies;
pub mod reminders;
pub mod report_export;
pub mod reports;
pub mod requests;
pub mod seed;
pub mod users;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::auth::jwt::TokenKeys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, Database, DbConnection, DbError};
use crate::domain::access::Denied;
use crate::domain::text::Text;
use crate::domain::validation::FieldError;
use crate::text;

/// Everything a use case needs, shared by all workers.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub tokens: TokenKeys,
    /// Trusted identity providers and their keys.
    pub federation: crate::auth::federated::FederatedIssuers,
    pub settings: Arc<Settings>,
    pub tz: chrono_tz::Tz,
    /// The working-day calendar, refreshed when any process changes it.
    pub calendar: calendar::CalendarCache,
    /// The one source of "now" and "today" (`clock.today` pins the date outside production).
    pub clock: Clock,
    /// The folder of uploaded documents (`documents.dir`).
    pub documents: crate::blobstore::BlobStore,
    /// The threads database work runs on, and a permit per pooled connection.
    pub executor: executor::DbExecutor,
    /// Who tokens name, kept until any process changes a user, client or agency.
    pub principals: principals::PrincipalCache,
    /// Each agency's code and path, kept under the same watch.
    pub agency_places: agency_places::AgencyPlaces,
}

/// Who is asking and under which request id, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: Option<String>,
}

/// The closed set of failures a use case reports. `http::problem` maps each to one status and
/// a stable code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing not found, named in both languages (`text!("申请", "application")`).
    #[error("{0} not found")]
    NotFound(Text),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A bulk import with bad lines: each problem with its line; nothing was written.
    /// `errors` holds at most [`bulk::MAX_REPORTED_ERRORS`]; `total` counts them all.
    #[error("import refused: {total} problems")]
    ImportRejected {
        errors: Vec<bulk::LineError>,
        total: usize,
    },
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: Text },
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: Text },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: Text },
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: Text },
    #[error("the If-Match header is required for this change")]
    PreconditionRequired,
    #[error("the record has changed since it was read")]
    PreconditionFailed,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// Too many failed logins for this account or address (`auth::check_login_throttle`).
    #[error("too many failed login attempts")]
    TooManyLoginAttempts { retry_after_secs: u64 },
    /// Contention or an unreachable database: the client may retry (503). Keeps its cause.
    #[error("service unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A fault of ours. Keeps the whole source chain for the log (rendered once, by
    /// `http::problem`); the client sees only `internal_error`.
    /// A stored record this release cannot decode (named so that it can be found).
    #[error("stored {entity} {id} cannot be read: {reason}")]
    Unreadable {
        entity: &'static str,
        id: String,
        reason: String,
    },
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl AppError {
    pub fn conflict(code: &'static str, detail: Text) -> Self {
        AppError::Conflict { code, detail }
    }

    pub fn forbidden(code: &'static str, detail: Text) -> Self {
        AppError::Forbidden { code, detail }
    }

    pub fn field(field: &str, code: &'static str, message: Text) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    /// An internal error caused by `source`, kept with its chain.
    pub fn internal<E>(source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        AppError::Internal(anyhow::Error::new(source))
    }

    /// An internal error caused by `source`, with what we were doing.
    pub fn internal_while<E, C>(context: C, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        C: std::fmt::Display + Send + Sync + 'static,
    {
        AppError::Internal(anyhow::Error::new(source).context(context))
    }

    /// An internal error without an underlying error value (a broken invariant of ours).
    pub fn bug(message: impl std::fmt::Display + std::fmt::Debug + Send + Sync + 'static) -> Self {
        AppError::Internal(anyhow::Error::msg(message))
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        // Contention, not a fault: the client may retry (503 with Retry-After). Which errors
        // are contention is decided by `db::contention` (SQLSTATE 40001/40P01/55P03, SQLite
        // busy/locked); see there for how.
        match db::contention(&e) {
            Some(c) => AppError::Unavailable(anyhow::Error::new(e).context(c.to_string())),
            None if db::connection_lost(&e) => AppError::Unavailable(
                anyhow::Error::new(e).context("the database connection was lost"),
            ),
            None => AppError::Internal(anyhow::Error::new(e).context("database")),
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Pool(_) | DbError::Connect(_) => AppError::Unavailable(anyhow::Error::new(e)),
            DbError::Query(q) => AppError::from(q),
            DbError::Unreadable { entity, id, reason } => {
                AppError::Unreadable { entity, id, reason }
            }
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// Why a record is reached: to read it (the actor's visibility: a supervisor reads its
/// subtree) or to handle it ([`crate::domain::access::Actor::may_handle`]: its own agency, or an
/// admin above it). Outside the visibility a record is "not found"; seen but not one's own to
/// handle, 403 `not_own_agency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    Read,
    Handle,
}

impl Reach {
    pub(crate) fn check(
        self,
        actor: &crate::domain::access::Actor,
        agency_id: &str,
        agency_path: &str,
        what: Text,
    ) -> Result<(), AppError> {
        let r = match self {
            Reach::Read if actor.sees(agency_id, agency_path) => Ok(()),
            Reach::Read => Err(Denied::OutOfScope),
            Reach::Handle => actor.may_handle(agency_id, agency_path),
        };
        match r {
            Ok(()) => Ok(()),
            Err(Denied::OutOfScope) => Err(AppError::NotFound(what)),
            Err(d) => Err(d.into()),
        }
    }
}

impl From<Denied> for AppError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::OutOfScope => AppError::NotFound(text!("记录", "record")),
            Denied::MissingRole(role) => {
                let zh = crate::domain::access::Role::parse(role).map_or(role, |r| r.name_zh());
                AppError::Forbidden {
                    code: "forbidden",
                    detail: text!(
                        "此操作须具有{zh}（{role}）角色",
                        "this action needs the role {role}"
                    ),
                }
            }
            Denied::NotOwnAgency => AppError::Forbidden {
                code: "not_own_agency",
                detail: text!(
                    "下级机关的记录只能查阅，须由该机关的经办人、审批人办理",
                    "records of an agency below yours are read here; that agency's own clerks and approvers handle them"
                ),
            },
            Denied::MissingScope(scope) => AppError::Forbidden {
                code: "insufficient_scope",
                detail: text!(
                    "该客户端的令牌缺少权限范围 {scope}",
                    "this client's token lacks the scope {scope}"
                ),
            },
        }
    }
}

impl From<Vec<FieldError>> for AppError {
    fn from(v: Vec<FieldError>) -> Self {
        AppError::Validation(v)
    }
}

tokio::task_local! {
    /// The database connection of the request being served, and the statements it sent.
    static REQUEST_DB: RequestDb;
}

/// One request's database use: the connection it holds between its database steps (so a
/// request takes one connection from the pool however many steps it has: authentication, the
/// work, a replay look-up) and how many statements it sent.
#[derive(Default)]
struct RequestDb {
    /// Whether the connection is kept between steps (see [`request_scope`]).
    keep: bool,
    conn: std::cell::RefCell<Option<Held>>,
    statements: std::cell::Cell<u64>,
}

/// A pooled connection with the permit that stands for it (see `executor`).
type Held = (db::PooledConn, tokio::sync::OwnedSemaphorePermit);

/// Serves `work` as one request and answers the number of SQL statements its database steps
/// sent (BEGIN and COMMIT count). With `keep_connection` its steps share one pooled
/// connection, given back when `work` ends: for requests without a body, whose steps follow
/// each other without waiting on the client. A request with a body gives the connection back
/// after each step, so that a client sending its body slowly never holds one. Either way a
/// request holds at most one connection at a time.
pub async fn request_scope<F: std::future::Future>(
    keep_connection: bool,
    work: F,
) -> (F::Output, u64) {
    let scope = RequestDb {
        keep: keep_connection,
        ..RequestDb::default()
    };
    REQUEST_DB
        .scope(scope, async move {
            let out = work.await;
            let statements = REQUEST_DB.with(|r| {
                r.conn.borrow_mut().take();
                r.statements.get()
            });
            (out, statements)
        })
        .await
}

impl AppState {
    /// Runs blocking database work on the blocking pool with a pooled connection: the
    /// request's own when it holds one, else one from the pool (kept for the request's later
    /// steps). A step that fails with a fault or an unavailable database checks its
    /// connection, and a dead one leaves the pool.
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    {
        let db = self.db.clone();
        let held = REQUEST_DB
            .try_with(|r| r.conn.borrow_mut().take())
            .ok()
            .flatten();
        // A permit first (waiting without a thread), so the job never waits on the pool.
        // `Ok`: the request's own connection and permit; `Err`: a permit for a new one.
        let held: Result<Held, tokio::sync::OwnedSemaphorePermit> = match held {
            Some(h) => Ok(h),
            None => Err(self.executor.permit().await.ok_or_else(|| {
                AppError::Unavailable(anyhow::anyhow!("the database threads have stopped"))
            })?),
        };
        // What the job logs belongs to the request it serves (its request id).
        let span = tracing::Span::current();
        let ran = self
            .executor
            .run(move || {
                let _entered = span.enter();
                let (mut conn, permit) = match held {
                    Ok(h) => h,
                    Err(permit) => match db.get() {
                        Ok(c) => (c, permit),
                        Err(e) => return (Err(AppError::from(e)), None, 0),
                    },
                };
                let before = conn.statements();
                let outcome = f(&mut conn);
                if matches!(
                    outcome,
                    Err(AppError::Internal(_) | AppError::Unavailable(_))
                ) && !conn.check()
                {
                    db.mark_suspect();
                }
                let sent = conn.statements().saturating_sub(before);
                // A connection found dead goes back to the pool now, which drops it.
                let held = (!conn.is_broken()).then_some((conn, permit));
                (outcome, held, sent)
            })
            .await;
        let Some((outcome, held, sent)) = ran else {
            return Err(AppError::bug(
                "a database job panicked or its thread stopped",
            ));
        };
        // Outside a request (start-up, schedulers) the connection goes back to the pool here.
        let _ = REQUEST_DB.try_with(|r| {
            r.statements.set(r.statements.get() + sent);
            let mut slot = r.conn.borrow_mut();
            if r.keep && slot.is_none() {
                *slot = held;
            }
        });
        outcome
    }

    /// Like [`with_conn`](Self::with_conn), inside one transaction: all or nothing.
    pub async fn in_transaction<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    {
        self.in_transaction_begun(db::Begin::Plain, f).await
    }

    /// [`in_transaction`](Self::in_transaction), begun as `begin` says.
    pub async fn in_transaction_begun<T, F>(&self, begin: db::Begin, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    {
        self.with_conn(move |conn| db::transaction_begun(conn, begin, f))
            .await
    }

    /// Whether the database answers.
    /// Readiness: a live database connection within `within`, or `Unavailable`. Runs beside
    /// the request executor (a probe while the database is down must not take the threads
    /// requests need) and gives up after `within` even when the database does not answer, so
    /// a load balancer's probe is answered in time.
    pub async fn ready(&self, within: std::time::Duration) -> Result<(), AppError> {
        let db = self.db.clone();
        let probe = tokio::task::spawn_blocking(move || {
            // After a database restart the idle connections are dead: each found dead leaves
            // the pool (`check` marks it broken), the next is tried, until one lives or the
            // time is up.
            let deadline = std::time::Instant::now() + within;
            for _ in 0..=db.pool.max_size() {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                let mut conn = db
                    .pool
                    .get_timeout(left)
                    .map_err(|e| DbError::Pool(e.to_string()))?;
                if conn.check() {
                    return Ok(());
                }
                db.mark_suspect();
            }
            Err(DbError::Pool("no live database connection".into()))
        });
        match tokio::time::timeout(within + std::time::Duration::from_millis(100), probe).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(AppError::Unavailable(
                anyhow::Error::new(e).context("readiness"),
            )),
            Ok(Err(e)) => Err(AppError::Unavailable(
                anyhow::Error::new(e).context("readiness probe"),
            )),
            Err(_) => Err(AppError::Unavailable(anyhow::anyhow!(
                "readiness: the database did not answer within {within:?}"
            ))),
        }
    }

    /// Today's date where the agency is, by the application's clock (the domain never reads
    /// a clock).
    pub fn today(&self) -> NaiveDate {
        self.clock.today()
    }

    /// The current instant, by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The current instant as stored (UTC, whole microseconds), by the application's clock.
    pub fn now_micros(&self) -> NaiveDateTime {
        self.clock.now_micros()
    }
}

/// Writes one audit event, stamped `now` (the application's clock); call inside the
/// transaction of the change it records.
#[allow(clippy::too_many_arguments)]
pub fn audit(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    actor: Option<&crate::domain::access::Actor>,
    agency_id: Option<&str>,
    entity: (&str, &str),
    action: &str,
    payload: serde_json::Value,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let row = db::audit::AuditRow {
        id: uuid::Uuid::new_v4().to_string(),
        occurred_at: now,
        actor_user_id: actor.map(|a| a.user_id.clone()),
        actor_label: actor
            .map(|a| a.recorded_as())
            .unwrap_or_else(|| "system".to_string()),
        agency_id: agency_id.map(str::to_string),
        entity_type: entity.0.to_string(),
        entity_id: entity.1.to_string(),
        action: action.to_string(),
        payload: payload.to_string(),
        request_id: ctx.request_id.clone(),
    };
    db::audit::insert(conn, &row)?;
    if feed::AUDITED_FEED_ENTITIES.contains(&row.entity_type.as_str())
        && let Some(agency_id) = &row.agency_id
    {
        let data = serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
        feed::publish(
            conn,
            now,
            feed::Event {
                agency_id: agency_id.clone(),
                entity_type: row.entity_type.clone(),
                entity_id: row.entity_id.clone(),
                request_id: data
                    .get("request_id")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
                event_type: format!("{}.{}", row.entity_type, row.action),
                payload: data,
            },
        )?;
    }
    Ok(())
}

/// A page request, validated.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub const DEFAULT_PER_PAGE: i64 = 50;
    pub const MAX_PER_PAGE: i64 = 200;

    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> Result<Self, AppError> {
        let mut errors = Vec::new();
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(Self::DEFAULT_PER_PAGE);
        if !(1..=1_000_000).contains(&page) {
            errors.push(FieldError::not_between("page", 1, 1_000_000));
        }
        if !(1..=Self::MAX_PER_PAGE).contains(&per_page) {
            errors.push(FieldError::not_between("per_page", 1, Self::MAX_PER_PAGE));
        }
        if errors.is_empty() {
            Ok(Page { page, per_page })
        } else {
            Err(AppError::Validation(errors))
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// One page of results with the total count.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: Page,
    pub total: i64,
}

impl<T> Paged<T> {
    /// The same page with each item converted (rows into views).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            total: self.total,
        }
    }
}
