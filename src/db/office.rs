//! Departments, holders and hand-overs, internal consultations, flags and reminders.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::requests::Scope;
use super::schema::{
    departments, internal_consultations, reminders, request_flags, requests, users,
};
use super::{DbConnection, MultiBackend};
use crate::domain::office::Holder;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = departments)]
pub struct DepartmentRow {
    pub id: String,
    pub agency_id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_department(conn: &mut DbConnection, row: &DepartmentRow) -> QueryResult<()> {
    diesel::insert_into(departments::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_department(conn: &mut DbConnection, id: &str) -> QueryResult<Option<DepartmentRow>> {
    departments::table
        .find(id)
        .select(DepartmentRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn departments_of(conn: &mut DbConnection, agency_id: &str) -> QueryResult<Vec<DepartmentRow>> {
    departments::table
        .filter(departments::agency_id.eq(agency_id))
        .order((departments::name.asc(), departments::id.asc()))
        .select(DepartmentRow::as_select())
        .load(conn)
}

/// The departments named by these ids (names for lists and queues).
pub fn departments_by_ids(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<DepartmentRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    departments::table
        .filter(departments::id.eq_any(ids))
        .select(DepartmentRow::as_select())
        .load(conn)
}

/// A department's members as holders see them: `(id, display name, roles, disabled, email)`.
pub type Member = (String, String, String, bool, Option<String>);

pub fn members(conn: &mut DbConnection, department_id: &str) -> QueryResult<Vec<Member>> {
    users::table
        .filter(users::department_id.eq(department_id))
        .order(users::username.asc())
        .select((
            users::id,
            users::display_name,
            users::roles,
            users::disabled,
            users::email,
        ))
        .load(conn)
}

/// `(id, display name)` of these users.
pub fn user_names(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::display_name))
        .load(conn)
}

/// The holder columns of an application row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = requests)]
pub struct HolderCols {
    pub holder_user_id: Option<String>,
    pub holder_department_id: Option<String>,
    pub holder_since: Option<NaiveDateTime>,
    pub sender_user_id: Option<String>,
    pub sender_department_id: Option<String>,
}

impl From<HolderCols> for Holder {
    fn from(c: HolderCols) -> Holder {
        Holder {
            user_id: c.holder_user_id,
            department_id: c.holder_department_id,
            since: c.holder_since,
            sender_user_id: c.sender_user_id,
            sender_department_id: c.sender_department_id,
        }
    }
}

pub fn holder(conn: &mut DbConnection, request_id: &str) -> QueryResult<Option<Holder>> {
    requests::table
        .find(request_id)
        .select(HolderCols::as_select())
        .get_result(conn)
        .optional()
        .map(|o| o.map(Holder::from))
}

/// Writes a new holder and the application's next version, if the application is still at
/// `expected`. False: another change came first.
pub fn set_holder(
    conn: &mut DbConnection,
    request_id: &str,
    h: &Holder,
    expected: i32,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        requests::table
            .filter(requests::id.eq(request_id))
            .filter(requests::version.eq(expected)),
    )
    .set((
        requests::holder_user_id.eq(&h.user_id),
        requests::holder_department_id.eq(&h.department_id),
        requests::holder_since.eq(h.since),
        requests::sender_user_id.eq(&h.sender_user_id),
        requests::sender_department_id.eq(&h.sender_department_id),
        requests::version.eq(expected + 1),
        requests::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// The holders of these applications, by id (lists).
pub fn holders(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, HolderCols)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    requests::table
        .filter(requests::id.eq_any(ids))
        .select((requests::id, HolderCols::as_select()))
        .load(conn)
}

// ---------------------------------------------------------------------------------------------
// Internal consultations
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = internal_consultations)]
pub struct InternalConsultationRow {
    pub id: String,
    pub request_id: String,
    pub department_id: String,
    pub question: String,
    pub asked_by: Option<String>,
    pub asked_at: NaiveDateTime,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at: Option<NaiveDateTime>,
}

pub fn insert_consultation(
    conn: &mut DbConnection,
    row: &InternalConsultationRow,
) -> QueryResult<()> {
    diesel::insert_into(internal_consultations::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn consultations(
    conn: &mut DbConnection,
    request_id: &str,
) -> QueryResult<Vec<InternalConsultationRow>> {
    internal_consultations::table
        .filter(internal_consultations::request_id.eq(request_id))
        .order((
            internal_consultations::asked_at.asc(),
            internal_consultations::id.asc(),
        ))
        .select(InternalConsultationRow::as_select())
        .load(conn)
}

/// Records the answer once: false when it was answered already.
pub fn answer_consultation(
    conn: &mut DbConnection,
    id: &str,
    answer: &str,
    by: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        internal_consultations::table
            .filter(internal_consultations::id.eq(id))
            .filter(internal_consultations::answer.is_null()),
    )
    .set((
        internal_consultations::answer.eq(answer),
        internal_consultations::answered_by.eq(by),
        internal_consultations::answered_at.eq(at),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = request_flags)]
pub struct FlagRow {
    pub request_id: String,
    pub code: String,
    /// JSON: `{"zh", "en", "facts"}`.
    pub explanation: String,
    /// JSON array of application ids.
    pub related: String,
    pub raised_at: NaiveDateTime,
}

/// Raises a flag; a flag raised again replaces its explanation (the latest step's figures).
pub fn raise(conn: &mut DbConnection, row: &FlagRow) -> QueryResult<()> {
    let n = diesel::update(
        request_flags::table
            .filter(request_flags::request_id.eq(&row.request_id))
            .filter(request_flags::code.eq(&row.code)),
    )
    .set((
        request_flags::explanation.eq(&row.explanation),
        request_flags::related.eq(&row.related),
        request_flags::raised_at.eq(row.raised_at),
    ))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(request_flags::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// The flags of a new application: plain inserts (nothing to replace; usually none or one).
pub fn insert_flags(conn: &mut DbConnection, rows: &[FlagRow]) -> QueryResult<()> {
    for row in rows {
        diesel::insert_into(request_flags::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn flags_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<FlagRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    request_flags::table
        .filter(request_flags::request_id.eq_any(ids))
        .order((request_flags::request_id.asc(), request_flags::code.asc()))
        .select(FlagRow::as_select())
        .load(conn)
}

/// Which of these applications have a reply letter (drafted or issued).
pub fn with_reply_letter(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<String>> {
    use super::schema::notices;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    notices::table
        .filter(notices::request_id.eq_any(ids))
        .filter(notices::kind.eq("reply"))
        .select(notices::request_id)
        .distinct()
        .load(conn)
}

/// The same applicant's applications to an agency that arrived in `[from, to]`:
/// `(id, case number, details JSON)`, newest first, at most `limit`.
pub fn same_applicant_since(
    conn: &mut DbConnection,
    agency_id: &str,
    applicant_key: &str,
    (from, to): (NaiveDate, NaiveDate),
    limit: i64,
) -> QueryResult<Vec<(String, String, String, NaiveDate)>> {
    use super::schema::request_documents;
    requests::table
        .inner_join(request_documents::table)
        .filter(requests::agency_id.eq(agency_id))
        .filter(requests::applicant_key.eq(applicant_key))
        .filter(requests::arrival_date.between(from, to))
        // The index's order (`requests_agency_applicant_arrival`): no sort, however many.
        .order(requests::arrival_date.desc())
        .limit(limit)
        .select((
            requests::id,
            requests::case_number,
            request_documents::details,
            requests::arrival_date,
        ))
        .load(conn)
}

/// How many of the same applicant's applications to an agency arrived in `[from, to]`, and the
/// ids of the newest `listed` of them.
pub fn same_applicant_count(
    conn: &mut DbConnection,
    agency_id: &str,
    applicant_key: &str,
    (from, to): (NaiveDate, NaiveDate),
    listed: i64,
) -> QueryResult<(i64, Vec<String>)> {
    let ids: Vec<String> = requests::table
        .filter(requests::agency_id.eq(agency_id))
        .filter(requests::applicant_key.eq(applicant_key))
        .filter(requests::arrival_date.between(from, to))
        // The index's order (`requests_agency_applicant_arrival`): no sort, however many.
        .order(requests::arrival_date.desc())
        .limit(listed)
        .select(requests::id)
        .load(conn)?;
    if i64::try_from(ids.len()).unwrap_or(i64::MAX) < listed {
        return Ok((i64::try_from(ids.len()).unwrap_or(i64::MAX), ids));
    }
    let n = requests::table
        .filter(requests::agency_id.eq(agency_id))
        .filter(requests::applicant_key.eq(applicant_key))
        .filter(requests::arrival_date.between(from, to))
        .count()
        .get_result(conn)?;
    Ok((n, ids))
}

/// How many of an agency's applications arrived in `[from, to]`, and how many of those were
/// extended (a `extend` step in their trail).
pub fn extension_counts(
    conn: &mut DbConnection,
    agency_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<(i64, i64)> {
    use super::schema::request_events;
    let cases: i64 = requests::table
        .filter(requests::agency_id.eq(agency_id))
        .filter(requests::arrival_date.between(from, to))
        .count()
        .get_result(conn)?;
    let extended: i64 = requests::table
        .filter(requests::agency_id.eq(agency_id))
        .filter(requests::arrival_date.between(from, to))
        .filter(diesel::dsl::exists(
            request_events::table
                .filter(request_events::request_id.eq(requests::id))
                .filter(request_events::action.eq("extend")),
        ))
        .count()
        .get_result(conn)?;
    Ok((cases, extended))
}

// ---------------------------------------------------------------------------------------------
// Reminders
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reminders)]
pub struct ReminderRow {
    pub id: String,
    pub request_id: String,
    pub kind: String,
    pub occasion: String,
    pub agency_id: String,
    pub holder_user_id: Option<String>,
    pub holder_department_id: Option<String>,
    pub recipients: String,
    pub subject: String,
    pub body: String,
    pub created_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

/// Records a reminder unless one of its kind and occasion exists: true when this call
/// recorded it (so exactly one process publishes it).
pub fn record_reminder(conn: &mut DbConnection, row: &ReminderRow) -> QueryResult<bool> {
    let n = match conn {
        DbConnection::Postgres(c) => diesel::insert_into(reminders::table)
            .values(row)
            .on_conflict((reminders::request_id, reminders::kind, reminders::occasion))
            .do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_or_ignore_into(reminders::table)
            .values(row)
            .execute(c)?,
    };
    Ok(n == 1)
}

/// Pending reminders due at `now`, not leased by a live claim.
pub fn due_reminders(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ReminderRow>> {
    reminders::table
        .filter(reminders::status.eq("pending"))
        .filter(reminders::next_attempt_at.le(now))
        .filter(
            reminders::lease_until
                .is_null()
                .or(reminders::lease_until.lt(now)),
        )
        .order(reminders::next_attempt_at.asc())
        .limit(limit)
        .select(ReminderRow::as_select())
        .load(conn)
}

/// Leases a pending reminder until `until`; false when another process took it first, or
/// when it is no longer due: a process whose list of due reminders is older than another
/// process's failed attempt must not send again before the retry time that attempt set (an
/// attempt that failed after the server had taken the message would be delivered twice).
pub fn claim_reminder(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        reminders::table
            .filter(reminders::id.eq(id))
            .filter(reminders::status.eq("pending"))
            .filter(reminders::next_attempt_at.le(now))
            .filter(
                reminders::lease_until
                    .is_null()
                    .or(reminders::lease_until.lt(now)),
            ),
    )
    .set(reminders::lease_until.eq(Some(until)))
    .execute(conn)?;
    Ok(n == 1)
}

/// The outcome of one sending attempt, written only while this process's lease (`lease`)
/// still holds the reminder.
#[allow(clippy::too_many_arguments)]
pub fn reminder_outcome(
    conn: &mut DbConnection,
    id: &str,
    lease: NaiveDateTime,
    status: &str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
    error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(
        reminders::table
            .filter(reminders::id.eq(id))
            .filter(reminders::status.eq("pending"))
            .filter(reminders::lease_until.eq(lease)),
    )
    .set((
        reminders::status.eq(status),
        reminders::attempts.eq(attempts),
        reminders::next_attempt_at.eq(next_attempt_at),
        reminders::lease_until.eq(None::<NaiveDateTime>),
        reminders::sent_at.eq(sent_at),
        reminders::last_error.eq(error),
    ))
    .execute(conn)
    .map(|_| ())
}

pub fn reminders_of(conn: &mut DbConnection, request_id: &str) -> QueryResult<Vec<ReminderRow>> {
    reminders::table
        .filter(reminders::request_id.eq(request_id))
        .order((reminders::created_at.asc(), reminders::id.asc()))
        .select(ReminderRow::as_select())
        .load(conn)
}

/// What a reminder scan looks at: an open application with a holder, its state and windows
/// read from the stored row and documents.
pub type Holding = (super::requests::RequestCore, String, String, HolderCols);

/// Open applications that someone holds (user or department), by id after `after`, at most
/// `limit` (a scan pages through them).
pub fn held_open(conn: &mut DbConnection, after: &str, limit: i64) -> QueryResult<Vec<Holding>> {
    use super::requests::RequestCore;
    use super::schema::request_documents;
    requests::table
        .inner_join(request_documents::table)
        .filter(requests::id.gt(after))
        .filter(requests::state.ne("closed"))
        .filter(
            requests::holder_user_id
                .is_not_null()
                .or(requests::holder_department_id.is_not_null()),
        )
        .order(requests::id.asc())
        .limit(limit)
        .select((
            RequestCore::as_select(),
            request_documents::details,
            request_documents::workflow,
            HolderCols::as_select(),
        ))
        .load(conn)
}

type Boxed<'a> = requests::BoxedQuery<'a, MultiBackend>;

/// Open applications of a queue: held by one of `users` or one of `departments` (either may be
/// empty), or none held (`unassigned`), within `agencies`.
pub fn queue(
    conn: &mut DbConnection,
    agencies: &[String],
    users: &[String],
    departments: &[String],
    unassigned: bool,
    limit: i64,
) -> QueryResult<Vec<Holding>> {
    use super::requests::RequestCore;
    use super::schema::request_documents;
    let mut ids: Boxed<'_> = requests::table
        .filter(requests::state.ne("closed"))
        .filter(requests::agency_id.eq_any(agencies.to_vec()))
        .into_boxed();
    ids = match (users.is_empty(), departments.is_empty(), unassigned) {
        (_, _, true) => ids
            .filter(requests::holder_user_id.is_null())
            .filter(requests::holder_department_id.is_null()),
        (false, false, false) => ids.filter(
            requests::holder_user_id
                .eq_any(users.to_vec())
                .or(requests::holder_department_id.eq_any(departments.to_vec())),
        ),
        (false, true, false) => ids.filter(requests::holder_user_id.eq_any(users.to_vec())),
        (true, false, false) => {
            ids.filter(requests::holder_department_id.eq_any(departments.to_vec()))
        }
        (true, true, false) => return Ok(Vec::new()),
    };
    // Earliest due first (overdue ones lead), so a queue cut at `limit` keeps the urgent ones.
    let wanted: Vec<String> = ids
        .order((requests::due_date.asc(), requests::id.asc()))
        .select(requests::id)
        .limit(limit)
        .load(conn)?;
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    requests::table
        .inner_join(request_documents::table)
        .filter(requests::id.eq_any(wanted))
        .select((
            RequestCore::as_select(),
            request_documents::details,
            request_documents::workflow,
            HolderCols::as_select(),
        ))
        .load(conn)
}

/// `(holding department, holding user, open applications)`.
pub type HolderCount = (Option<String>, Option<String>, i64);

/// Open applications by holding department and by holding user, in scope.
pub fn open_by_holder(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<HolderCount>> {
    // GROUP BY cannot follow a boxed query, so the scope is spelled out per case.
    let q = requests::table
        .filter(requests::state.ne("closed"))
        .group_by((requests::holder_department_id, requests::holder_user_id))
        .select((
            requests::holder_department_id,
            requests::holder_user_id,
            diesel::dsl::count_star(),
        ));
    match scope {
        Scope::All => q.load(conn),
        Scope::Agencies(ids) => q.filter(requests::agency_id.eq_any(ids.clone())).load(conn),
    }
}

/// Open applications due before `before` without a reply letter (`reply_at_risk`), in scope.
pub fn count_reply_at_risk(
    conn: &mut DbConnection,
    scope: &Scope,
    before: NaiveDate,
) -> QueryResult<i64> {
    use super::schema::notices;
    super::requests::scoped(scope, super::requests::backend(conn))
        .filter(requests::state.ne("closed"))
        .filter(requests::due_date.lt(before))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            notices::table
                .filter(notices::request_id.eq(requests::id))
                .filter(notices::kind.eq("reply")),
        )))
        .count()
        .get_result(conn)
}

/// Applications carrying each stored flag, in scope (open and closed).
pub fn flag_counts(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<(String, i64)>> {
    let q = request_flags::table
        .inner_join(requests::table.on(requests::id.eq(request_flags::request_id)))
        .group_by(request_flags::code)
        .select((request_flags::code, diesel::dsl::count_star()));
    match scope {
        Scope::All => q.load(conn),
        Scope::Agencies(ids) => q.filter(requests::agency_id.eq_any(ids.clone())).load(conn),
    }
}

// ---------------------------------------------------------------------------------------------
// What a read shows of the office's work, in the read's own statement
// ---------------------------------------------------------------------------------------------

/// A correlated sub-select of fixed SQL per backend, pushed as is, whose text is named by a
/// type of its own (`T`, see [`FixedSql`]).
///
/// A `sql()` literal would make diesel prepare the statement again on every call. A fragment
/// whose text is only a value has no static query id either: diesel then writes the whole
/// statement's SQL on every call, only to find its prepared statement by that text. With the
/// text named by `T`, a query of such fragments and the query DSL keeps a static query id,
/// and a backend's own connection finds the prepared statement by type, writing no SQL
/// (`requests::load_detail`; through `DbConnection`, diesel's `MultiConnection` writes the SQL
/// on every call all the same). Each connection has its own statement cache and one backend,
/// and `T` gives one text per backend, so one type always stands for one text there.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<T> {
    sql: &'static str,
    named: std::marker::PhantomData<T>,
}

/// The text of a [`Fragment`] per backend: fixed for the process's life (built once at most).
pub trait FixedSql: 'static {
    fn sql(backend: super::Backend) -> &'static str;
}

impl<T: FixedSql> Fragment<T> {
    pub fn of(conn: &DbConnection) -> Self {
        Self::on(super::requests::backend(conn))
    }

    pub fn on(backend: super::Backend) -> Self {
        Fragment {
            sql: T::sql(backend),
            named: std::marker::PhantomData,
        }
    }

    /// The SQL pushed into the statement.
    pub fn text(&self) -> &'static str {
        self.sql
    }
}

impl<T> diesel::expression::Expression for Fragment<T> {
    type SqlType = diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

impl<T, DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for Fragment<T> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

impl<T: FixedSql> diesel::query_builder::QueryId for Fragment<T> {
    type QueryId = T;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<T, QS> diesel::expression::SelectableExpression<QS> for Fragment<T> {}
impl<T, QS> diesel::expression::AppearsOnTable<QS> for Fragment<T> {}
impl<T> diesel::expression::ValidGrouping<()> for Fragment<T> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// Declares fragment texts: `[pub] Name => "SQL"` (the same on both backends) or
/// `[pub] Name => postgres "SQL", sqlite "SQL"`.
macro_rules! fixed_sql {
    ($($(#[$doc:meta])* $vis:vis $name:ident => $pg:literal $(, $sqlite:literal)?;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::db::office::FixedSql for $name {
            fn sql(_backend: $crate::db::Backend) -> &'static str {
                $(if _backend == $crate::db::Backend::Sqlite { return $sqlite; })?
                $pg
            }
        }
    )*};
}

fixed_sql! {
    /// The holder's display name.
    pub HolderUserName =>
        "(SELECT u.display_name FROM users u WHERE u.id = requests.holder_user_id)";
    /// The holder department's name.
    pub HolderDepartmentName =>
        "(SELECT d.name FROM departments d WHERE d.id = requests.holder_department_id)";
    /// Whether a reply letter is drafted: `'y'` or NULL.
    pub ReplyDrafted =>
        "(SELECT 'y' WHERE EXISTS (SELECT 1 FROM notices n \
         WHERE n.request_id = requests.id AND n.kind = 'reply'))";
    /// The flags, packed with [`UNIT`] and [`RECORD`].
    pub PackedFlags =>
        "(SELECT string_agg(f.code || chr(31) || f.explanation || chr(31) || f.related, \
         chr(30) ORDER BY f.code) FROM request_flags f WHERE f.request_id = requests.id)",
        "(SELECT group_concat(f.code || char(31) || f.explanation || char(31) || f.related, \
         char(30)) FROM request_flags f WHERE f.request_id = requests.id)";
}
pub(super) use fixed_sql;

/// Unit and record separators of the packed flags: never in JSON text (escaped there).
pub const UNIT: char = '\u{1f}';
pub const RECORD: char = '\u{1e}';

/// The holder's name, its department's name, the packed flags and whether a reply letter
/// exists, as sub-selects on `requests`.
pub fn extras_fragments(
    backend: super::Backend,
) -> (
    Fragment<HolderUserName>,
    Fragment<HolderDepartmentName>,
    Fragment<PackedFlags>,
    Fragment<ReplyDrafted>,
) {
    (
        Fragment::on(backend),
        Fragment::on(backend),
        Fragment::on(backend),
        Fragment::on(backend),
    )
}

/// What a read shows of the office's work on one application.
#[derive(Debug, Clone)]
pub struct Extras {
    pub holder: HolderCols,
    pub holder_user_name: Option<String>,
    pub holder_department_name: Option<String>,
    /// `(code, explanation JSON, related JSON)`.
    pub flags: Vec<(String, String, String)>,
    pub reply_drafted: bool,
}

pub type ExtrasRow = (
    HolderCols,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl From<ExtrasRow> for Extras {
    fn from((holder, user, dept, flags, reply): ExtrasRow) -> Extras {
        Extras {
            holder,
            holder_user_name: user,
            holder_department_name: dept,
            flags: unpack_flags(flags.as_deref()),
            reply_drafted: reply.is_some(),
        }
    }
}

fn unpack_flags(packed: Option<&str>) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = packed
        .unwrap_or_default()
        .split(RECORD)
        .filter(|r| !r.is_empty())
        .filter_map(|r| {
            let mut it = r.splitn(3, UNIT);
            Some((
                it.next()?.to_string(),
                it.next()?.to_string(),
                it.next()?.to_string(),
            ))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The extras of these applications, in one statement.
pub fn extras(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, Extras)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (user, dept, flags, reply) = extras_fragments(super::requests::backend(conn));
    let rows: Vec<(String, ExtrasRow)> = requests::table
        .filter(requests::id.eq_any(ids))
        .select((
            requests::id,
            (HolderCols::as_select(), user, dept, flags, reply),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, row)| (id, Extras::from(row)))
        .collect())
}
