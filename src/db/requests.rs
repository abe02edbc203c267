//! Application rows, their events and case-number counters.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::agencies::like_prefix;
use super::schema::{agencies, request_documents, request_events, requests};
use super::{DbConnection, DbError, MultiBackend};
use crate::domain::access::Visibility;
use crate::domain::request::{Application, ListFilter, SortKey, State};
use crate::domain::stored;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = requests)]
#[diesel(treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct RequestCore {
    pub id: String,
    pub agency_id: String,
    pub case_number: String,
    pub case_year: i32,
    pub case_seq: i32,
    pub query_code: String,
    pub channel: String,
    pub arrived_at: NaiveDateTime,
    pub arrival_date: NaiveDate,
    pub signed_for_on: Option<NaiveDate>,
    pub confirmed_on: Option<NaiveDate>,
    pub applicant_kind: String,
    pub applicant_name: String,
    pub applicant_key: Option<String>,
    pub description: String,
    pub external_reference: Option<String>,
    pub state: String,
    pub receipt_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub due_provisional: bool,
    pub disposition: Option<String>,
    pub closed_on: Option<NaiveDate>,
    pub fee_notice_on: Option<NaiveDate>,
    pub fee_amount_fen: Option<i64>,
    pub fee_paid_on: Option<NaiveDate>,
    pub fee_paid_fen: Option<i64>,
    pub late: bool,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The documents of an application: intake details and the legal record, as JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = request_documents)]
#[diesel(treat_none_as_default_value = false)]
pub struct RequestDoc {
    pub request_id: String,
    pub details: String,
    pub workflow: String,
}

/// An application as the use cases handle it: the narrow row and its documents.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub core: RequestCore,
    /// Intake details (JSON).
    pub details: String,
    /// The legal record (JSON).
    pub workflow: String,
}

impl std::ops::Deref for RequestRow {
    type Target = RequestCore;
    fn deref(&self) -> &RequestCore {
        &self.core
    }
}

impl std::ops::DerefMut for RequestRow {
    fn deref_mut(&mut self) -> &mut RequestCore {
        &mut self.core
    }
}

impl RequestRow {
    fn doc(&self) -> RequestDoc {
        RequestDoc {
            request_id: self.core.id.clone(),
            details: self.details.clone(),
            workflow: self.workflow.clone(),
        }
    }
}

type Joined = (RequestCore, String, String);

fn joined(j: Joined) -> RequestRow {
    RequestRow {
        core: j.0,
        details: j.1,
        workflow: j.2,
    }
}

/// The columns and documents of an application (the narrow columns are what lists, reports and
/// indexes read; the documents are the typed record, versioned).
pub(crate) fn to_row(a: &Application) -> RequestRow {
    let wf = &a.workflow;
    let fee = wf.fee.as_ref();
    RequestRow {
        core: RequestCore {
            id: a.id.clone(),
            agency_id: a.agency_id.clone(),
            case_number: a.case_number.clone(),
            case_year: a.case_year,
            case_seq: a.case_seq,
            query_code: a.query_code.clone(),
            channel: a.channel.code().to_string(),
            arrived_at: a.arrived_at,
            arrival_date: a.arrival_date,
            signed_for_on: a.signed_for_on,
            confirmed_on: a.confirmed_on,
            applicant_kind: a.details.applicant.kind.code().to_string(),
            applicant_name: a.details.applicant.name.clone(),
            applicant_key: a.details.applicant.key(),
            description: a.details.description.clone(),
            external_reference: a.details.external_reference.clone(),
            state: wf.state.code().to_string(),
            receipt_date: wf.clock.receipt_date,
            due_date: a.due_date,
            due_provisional: a.due_provisional,
            disposition: wf.disposition().map(|d| d.code().to_string()),
            closed_on: wf.clock.closed_on,
            fee_notice_on: fee.map(|f| f.notice_on),
            fee_amount_fen: fee.map(|f| f.amount_fen),
            fee_paid_on: fee.and_then(|f| f.paid_on),
            fee_paid_fen: fee.and_then(|f| f.paid_fen),
            late: wf.late(),
            version: a.version,
            created_by: a.created_by.clone(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        },
        details: stored::encode_details(&a.details),
        workflow: stored::encode_workflow(wf),
    }
}

fn unreadable(id: &str, what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Unreadable {
        entity: "application",
        id: id.to_string(),
        reason: format!("{what}: {e}"),
    }
}

/// Decodes a stored application. A channel code or a document that this release cannot read
/// is reported with the application's id.
pub(crate) fn from_row(r: RequestRow) -> Result<Application, DbError> {
    let c = r.core;
    let channel = crate::domain::request::Channel::parse(&c.channel)
        .ok_or_else(|| unreadable(&c.id, "channel", &c.channel))?;
    let details =
        stored::decode_details(&r.details).map_err(|e| unreadable(&c.id, "details", e))?;
    let workflow =
        stored::decode_workflow(&r.workflow).map_err(|e| unreadable(&c.id, "workflow", e))?;
    Ok(Application {
        id: c.id,
        agency_id: c.agency_id,
        case_number: c.case_number,
        case_year: c.case_year,
        case_seq: c.case_seq,
        query_code: c.query_code,
        channel,
        arrived_at: c.arrived_at,
        arrival_date: c.arrival_date,
        signed_for_on: c.signed_for_on,
        confirmed_on: c.confirmed_on,
        details,
        workflow,
        due_date: c.due_date,
        due_provisional: c.due_provisional,
        version: c.version,
        created_by: c.created_by,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn decoded(o: Option<Joined>) -> Result<Option<Application>, DbError> {
    o.map(|j| from_row(joined(j))).transpose()
}

/// `requests` with its documents.
macro_rules! with_documents {
    () => {
        requests::table
            .inner_join(request_documents::table)
            .select((
                RequestCore::as_select(),
                request_documents::details,
                request_documents::workflow,
            ))
    };
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = request_events)]
#[diesel(treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub request_id: String,
    pub seq: i32,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub on_date: Option<NaiveDate>,
    pub state_before: Option<String>,
    pub state_after: String,
    pub payload: String,
    pub http_request_id: Option<String>,
}

pub fn insert(conn: &mut DbConnection, a: &Application) -> QueryResult<()> {
    let row = to_row(a);
    diesel::insert_into(requests::table)
        .values(&row.core)
        .execute(conn)?;
    diesel::insert_into(request_documents::table)
        .values(&row.doc())
        .execute(conn)
        .map(|_| ())
}

pub fn load(conn: &mut DbConnection, id: &str) -> Result<Option<Application>, DbError> {
    decoded(
        with_documents!()
            .filter(requests::id.eq(id))
            .first::<Joined>(conn)
            .optional()?,
    )
}

/// An application as its detail shows it, read in one statement: the application with its
/// documents, its agency's code and path (for the caller's scope), and the acts of its trail
/// that a notice performs but that were recorded without one (`performing`: those acts' codes).
pub struct Detail {
    pub app: Application,
    pub agency_code: String,
    pub agency_path: String,
    /// `(action, on_date)` in trail order.
    pub acts_without_notice: Vec<(String, Option<NaiveDate>)>,
}

/// See [`Detail`]. The acts come from a correlated sub-select over the event trail's
/// `(request_id, seq)` index, aggregated to one text (`seq|action|date;…`), so the detail costs
/// one statement instead of three.
pub fn load_detail(
    conn: &mut DbConnection,
    id: &str,
    performing: &[&str],
) -> Result<Option<Detail>, DbError> {
    let acts = ActsWithoutNotice::for_backend(conn, performing);
    type Row = (RequestCore, String, String, String, String, Option<String>);
    let row: Option<Row> = requests::table
        .inner_join(request_documents::table)
        .inner_join(agencies::table)
        .filter(requests::id.eq(id))
        .select((
            RequestCore::as_select(),
            request_documents::details,
            request_documents::workflow,
            agencies::code,
            agencies::path,
            acts,
        ))
        .first(conn)
        .optional()?;
    let Some((core, details, workflow, agency_code, agency_path, acts)) = row else {
        return Ok(None);
    };
    let app = from_row(joined((core, details, workflow)))?;
    let mut parsed: Vec<(i64, String, Option<NaiveDate>)> = acts
        .unwrap_or_default()
        .split(';')
        .filter(|p| !p.is_empty())
        .filter_map(|part| {
            let mut it = part.splitn(3, '|');
            let seq = it.next()?.parse().ok()?;
            let action = it.next()?.to_string();
            let on = it.next().and_then(|d| d.parse().ok());
            Some((seq, action, on))
        })
        .collect();
    parsed.sort_by_key(|(seq, _, _)| *seq);
    Ok(Some(Detail {
        app,
        agency_code,
        agency_path,
        acts_without_notice: parsed.into_iter().map(|(_, a, d)| (a, d)).collect(),
    }))
}

/// The correlated sub-select of [`load_detail`]: `seq|action|date;…` of the acts of an
/// application's trail that a notice performs but that were recorded without one. Its SQL is
/// fixed per backend, built once, and pushed as is, so diesel caches the prepared statement of
/// the whole detail query by its text (a `sql()` literal would make it re-prepare every time:
/// SQLite's parser was the largest single cost of a read).
#[derive(Debug, Clone, Copy)]
struct ActsWithoutNotice(&'static str);

impl ActsWithoutNotice {
    fn for_backend(conn: &DbConnection, performing: &[&str]) -> Self {
        static PG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        // Our own action codes, never input: checked all the same before they enter SQL text.
        let listed = || {
            let listed = performing
                .iter()
                .filter(|a| {
                    !a.is_empty()
                        && a.chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                })
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(",");
            if listed.is_empty() {
                "''".to_string()
            } else {
                listed
            }
        };
        let sql = match conn {
            DbConnection::Postgres(_) => PG.get_or_init(|| {
                format!(
                    "(SELECT string_agg(e.seq || '|' || e.action || '|' || \
                     coalesce(to_char(e.on_date, 'YYYY-MM-DD'), ''), ';') FROM request_events e \
                     WHERE e.request_id = requests.id AND e.action IN ({}) \
                     AND (e.payload::jsonb -> 'notice_id') IS NULL)",
                    listed()
                )
            }),
            DbConnection::Sqlite(_) => SQLITE.get_or_init(|| {
                format!(
                    "(SELECT group_concat(e.seq || '|' || e.action || '|' || \
                     coalesce(e.on_date, ''), ';') FROM request_events e \
                     WHERE e.request_id = requests.id AND e.action IN ({}) \
                     AND json_type(e.payload, '$.notice_id') IS NULL)",
                    listed()
                )
            }),
        };
        Self(sql.as_str())
    }
}

impl diesel::expression::Expression for ActsWithoutNotice {
    type SqlType = diesel::sql_types::Nullable<Text>;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for ActsWithoutNotice {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

impl diesel::query_builder::QueryId for ActsWithoutNotice {
    type QueryId = ();
    // Not static: two backends' texts differ; cached by its SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> diesel::expression::SelectableExpression<QS> for ActsWithoutNotice {}
impl<QS> diesel::expression::AppearsOnTable<QS> for ActsWithoutNotice {}
impl diesel::expression::ValidGrouping<()> for ActsWithoutNotice {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// The agency an application belongs to, without decoding it.
pub fn agency_of(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    requests::table
        .find(id)
        .select(requests::agency_id)
        .first(conn)
        .optional()
}

pub fn find_by_case_number(
    conn: &mut DbConnection,
    case_number: &str,
) -> Result<Option<Application>, DbError> {
    decoded(
        with_documents!()
            .filter(requests::case_number.eq(case_number))
            .first::<Joined>(conn)
            .optional()?,
    )
}

pub fn find_by_external_reference(
    conn: &mut DbConnection,
    agency_id: &str,
    reference: &str,
) -> Result<Option<Application>, DbError> {
    decoded(
        with_documents!()
            .filter(requests::agency_id.eq(agency_id))
            .filter(requests::external_reference.eq(reference))
            .first::<Joined>(conn)
            .optional()?,
    )
}

/// Saves a changed application when the stored version is still `expected`; false when another
/// writer got there first (the caller answers 412).
pub fn save(conn: &mut DbConnection, a: &Application, expected: i32) -> QueryResult<bool> {
    let row = to_row(a);
    let n = diesel::update(
        requests::table
            .filter(requests::id.eq(&row.id))
            .filter(requests::version.eq(expected)),
    )
    .set(&row.core)
    .execute(conn)?;
    if n != 1 {
        return Ok(false);
    }
    diesel::update(request_documents::table.find(&row.id))
        .set(&row.doc())
        .execute(conn)?;
    Ok(true)
}

#[derive(QueryableByName)]
struct Seq {
    #[diesel(sql_type = Integer)]
    last_seq: i32,
}

/// The next case number of an agency and year. The upsert takes the counter row's lock until
/// the transaction ends, so concurrent intakes (also from other processes) queue, and a
/// rollback returns the number: no gaps, no duplicates.
pub fn next_case_seq(conn: &mut DbConnection, agency_id: &str, year: i32) -> QueryResult<i32> {
    let row: Seq = diesel::sql_query(
        "INSERT INTO case_counters (agency_id, year, last_seq) VALUES ($1, $2, 1) \
         ON CONFLICT (agency_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1 \
         RETURNING last_seq",
    )
    .bind::<Text, _>(agency_id)
    .bind::<Integer, _>(year)
    .get_result(conn)?;
    Ok(row.last_seq)
}

pub fn insert_event(conn: &mut DbConnection, row: &EventRow) -> QueryResult<()> {
    diesel::insert_into(request_events::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn next_event_seq(conn: &mut DbConnection, request_id: &str) -> QueryResult<i32> {
    use diesel::dsl::max;
    let m: Option<i32> = request_events::table
        .filter(request_events::request_id.eq(request_id))
        .select(max(request_events::seq))
        .first(conn)?;
    Ok(m.unwrap_or(0) + 1)
}

pub fn events(conn: &mut DbConnection, request_id: &str) -> QueryResult<Vec<EventRow>> {
    request_events::table
        .filter(request_events::request_id.eq(request_id))
        .order(request_events::seq.asc())
        .select(EventRow::as_select())
        .load(conn)
}

/// How many applications of the same applicant (by identity number or credit code) were
/// received in the calendar month `[from, to]`, counting only those received on or before `upto`
/// or created before this one (for the per-piece fee's ordinal).
pub fn count_same_applicant(
    conn: &mut DbConnection,
    agency_id: &str,
    applicant_key: &str,
    from: NaiveDate,
    to: NaiveDate,
    before: (NaiveDate, NaiveDateTime),
) -> QueryResult<i64> {
    let (receipt, created) = before;
    // Each agency counts the applications it received (the fee Measures charge per agency).
    requests::table
        .filter(requests::agency_id.eq(agency_id))
        .filter(requests::applicant_key.eq(applicant_key))
        .filter(requests::receipt_date.between(from, to))
        .filter(
            requests::receipt_date.lt(receipt).or(requests::receipt_date
                .eq(receipt)
                .and(requests::created_at.le(created))),
        )
        .count()
        .get_result(conn)
}

type Boxed<'a> = requests::BoxedQuery<'a, MultiBackend>;

/// A caller's agencies, resolved to ids before the main query: a plain `agency_id IN (…)` list
/// lets the planner use the agency-leading indexes, where a sub-select over paths did not.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The root's subtree: every agency (the tree has one root), no filter.
    All,
    Agencies(Vec<String>),
}

/// A materialised path of depth 0: `/id/`.
fn is_root_path(path: &str) -> bool {
    path.matches('/').count() == 2
}

pub fn resolve(conn: &mut DbConnection, visibility: &Visibility) -> QueryResult<Scope> {
    Ok(match visibility {
        Visibility::Agency(id) => Scope::Agencies(vec![id.clone()]),
        Visibility::Subtree(path) if is_root_path(path) => Scope::All,
        Visibility::Subtree(path) => Scope::Agencies(
            agencies::table
                .filter(agencies::path.like(like_prefix(path)).escape('\\'))
                .select(agencies::id)
                .load(conn)?,
        ),
    })
}

pub fn scoped(scope: &Scope) -> Boxed<'_> {
    let q = requests::table.into_boxed();
    match scope {
        Scope::All => q,
        Scope::Agencies(ids) if ids.len() == 1 => q.filter(requests::agency_id.eq(ids[0].as_str())),
        Scope::Agencies(ids) => q.filter(requests::agency_id.eq_any(ids.clone())),
    }
}

fn filtered<'a>(scope: &'a Scope, f: &'a ListFilter) -> Boxed<'a> {
    let mut q = scoped(scope);
    if !f.states.is_empty() {
        q = q.filter(requests::state.eq_any(f.states.iter().map(|s| s.code()).collect::<Vec<_>>()));
    }
    if let Some(a) = &f.agency_id {
        q = q.filter(requests::agency_id.eq(a.as_str()));
    }
    if let Some(c) = f.channel {
        q = q.filter(requests::channel.eq(c.code()));
    }
    if let Some(k) = f.applicant_kind {
        q = q.filter(requests::applicant_kind.eq(k.code()));
    }
    if let Some(d) = f.received_from {
        q = q.filter(requests::receipt_date.ge(d));
    }
    if let Some(d) = f.received_to {
        q = q.filter(requests::receipt_date.le(d));
    }
    if let Some(d) = f.due_before {
        q = q.filter(requests::due_date.lt(d));
    }
    if let Some((overdue, today)) = f.overdue_on {
        if overdue {
            q = q
                .filter(requests::state.ne(State::Closed.code()))
                .filter(requests::due_date.lt(today));
        } else {
            q = q.filter(
                requests::state
                    .eq(State::Closed.code())
                    .or(requests::due_date.is_null())
                    .or(requests::due_date.ge(today)),
            );
        }
    }
    if let Some(l) = f.late {
        q = q.filter(requests::late.eq(l));
    }
    if let Some(d) = f.disposition {
        q = q.filter(requests::disposition.eq(d.code()));
    }
    if let Some(r) = &f.external_reference {
        q = q.filter(requests::external_reference.eq(r.as_str()));
    }
    if let Some(text) = &f.q {
        let pattern = format!("%{}", like_prefix(text));
        q = q.filter(
            requests::case_number
                .like(pattern.clone())
                .escape('\\')
                .or(requests::applicant_name.like(pattern.clone()).escape('\\'))
                .or(requests::description.like(pattern).escape('\\')),
        );
    }
    q
}

pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filter: &ListFilter,
    sort: (SortKey, bool),
    offset: i64,
    limit: i64,
) -> Result<(Vec<Application>, i64), DbError> {
    let scope = resolve(conn, visibility)?;
    let total = filtered(&scope, filter).count().get_result(conn)?;
    let q = filtered(&scope, filter);
    let (key, desc) = sort;
    let q = match (key, desc) {
        // Rows without the date sort last either way, the same on both databases.
        (SortKey::Received, false) => q.order((
            requests::receipt_date.is_null().asc(),
            requests::receipt_date.asc(),
            requests::id.asc(),
        )),
        (SortKey::Received, true) => q.order((
            requests::receipt_date.is_null().asc(),
            requests::receipt_date.desc(),
            requests::id.desc(),
        )),
        (SortKey::Due, false) => q.order((
            requests::due_date.is_null().asc(),
            requests::due_date.asc(),
            requests::id.asc(),
        )),
        (SortKey::Due, true) => q.order((
            requests::due_date.is_null().asc(),
            requests::due_date.desc(),
            requests::id.desc(),
        )),
        (SortKey::Created, false) => q.order((requests::created_at.asc(), requests::id.asc())),
        (SortKey::Created, true) => q.order((requests::created_at.desc(), requests::id.desc())),
        (SortKey::CaseNumber, false) => q.order((requests::case_number.asc(), requests::id.asc())),
        (SortKey::CaseNumber, true) => q.order((requests::case_number.desc(), requests::id.desc())),
    };
    // Two steps: the page's ids first, which the covering sort indexes answer without touching
    // the wide rows, then those rows by primary key.
    let ids: Vec<String> = q
        .offset(offset)
        .limit(limit)
        .select(requests::id)
        .load(conn)?;
    Ok((by_ids(conn, &ids)?, total))
}

/// The applications with these ids, in the order of `ids`: one query.
pub fn by_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Application>, DbError> {
    rows_by_ids(conn, ids)?.into_iter().map(from_row).collect()
}

/// The rows with these ids, with their documents, in the order of `ids`: one query.
pub(crate) fn rows_by_ids(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<RequestRow>> {
    let mut rows: Vec<RequestRow> = with_documents!()
        .filter(requests::id.eq_any(ids))
        .load::<Joined>(conn)?
        .into_iter()
        .map(joined)
        .collect();
    let position: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|r| position.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(rows)
}

/// Applications whose period may touch a day of `[from, to]` (a calendar year that changed):
/// received by `to`, and open, or closed or due on or after `from`.
pub fn timed_within(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Application>, DbError> {
    with_documents!()
        .filter(requests::receipt_date.le(to))
        .filter(
            requests::state
                .ne(State::Closed.code())
                .or(requests::closed_on.ge(from))
                .or(requests::due_date.ge(from)),
        )
        .load::<Joined>(conn)?
        .into_iter()
        .map(|j| from_row(joined(j)))
        .collect()
}

/// Counts by state in scope.
pub fn count_by_state(
    conn: &mut DbConnection,
    visibility: &Visibility,
) -> QueryResult<Vec<(String, i64)>> {
    use diesel::dsl::count_star;
    // GROUP BY cannot follow a boxed query, so the scope is spelled out per case.
    match resolve(conn, visibility)? {
        Scope::All => requests::table
            .group_by(requests::state)
            .select((requests::state, count_star()))
            .load(conn),
        Scope::Agencies(ids) => requests::table
            .filter(requests::agency_id.eq_any(ids))
            .group_by(requests::state)
            .select((requests::state, count_star()))
            .load(conn),
    }
}

/// Open applications due on or before `until` and not yet overdue on `today`.
pub fn count_due_between(
    conn: &mut DbConnection,
    visibility: &Visibility,
    today: NaiveDate,
    until: NaiveDate,
) -> QueryResult<i64> {
    let scope = resolve(conn, visibility)?;
    scoped(&scope)
        .filter(requests::state.ne("closed"))
        .filter(requests::due_date.ge(today))
        .filter(requests::due_date.le(until))
        .count()
        .get_result(conn)
}

pub fn count_overdue(
    conn: &mut DbConnection,
    visibility: &Visibility,
    today: NaiveDate,
) -> QueryResult<i64> {
    let scope = resolve(conn, visibility)?;
    scoped(&scope)
        .filter(requests::state.ne("closed"))
        .filter(requests::due_date.lt(today))
        .count()
        .get_result(conn)
}

pub fn count_late_closed_between(
    conn: &mut DbConnection,
    visibility: &Visibility,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<i64> {
    let scope = resolve(conn, visibility)?;
    scoped(&scope)
        .filter(requests::late.eq(true))
        .filter(requests::closed_on.between(from, to))
        .count()
        .get_result(conn)
}

#[derive(QueryableByName)]
struct Hits {
    #[diesel(sql_type = Integer)]
    hits: i32,
}

/// Counts one hit in a fixed window and returns the hits so far; forgets the bucket's older
/// windows. Shared by all processes through the database.
pub fn rate_limit_hit(
    conn: &mut DbConnection,
    bucket: &str,
    window_start: i64,
) -> QueryResult<i32> {
    use super::schema::rate_limits;
    diesel::delete(
        rate_limits::table
            .filter(rate_limits::bucket.eq(bucket))
            .filter(rate_limits::window_start.lt(window_start)),
    )
    .execute(conn)?;
    let row: Hits = diesel::sql_query(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
         RETURNING hits",
    )
    .bind::<Text, _>(bucket)
    .bind::<diesel::sql_types::BigInt, _>(window_start)
    .get_result(conn)?;
    Ok(row.hits)
}

/// The hits of a bucket in a window, without counting one.
pub fn rate_limit_hits(
    conn: &mut DbConnection,
    bucket: &str,
    window_start: i64,
) -> QueryResult<i32> {
    use super::schema::rate_limits;
    let hits: Option<i32> = rate_limits::table
        .filter(rate_limits::bucket.eq(bucket))
        .filter(rate_limits::window_start.eq(window_start))
        .select(rate_limits::hits)
        .first(conn)
        .optional()?;
    Ok(hits.unwrap_or(0))
}

/// Forgets every window of a bucket.
pub fn rate_limit_clear(conn: &mut DbConnection, bucket: &str) -> QueryResult<usize> {
    use super::schema::rate_limits;
    diesel::delete(rate_limits::table.filter(rate_limits::bucket.eq(bucket))).execute(conn)
}

/// Bulk insert (seeding and imports).
pub fn insert_many(conn: &mut DbConnection, applications: &[Application]) -> QueryResult<()> {
    // Multi-row INSERT is not available through the multi-backend: use the inner connection.
    for chunk in applications.chunks(500) {
        let rows: Vec<RequestRow> = chunk.iter().map(to_row).collect();
        let docs: Vec<RequestDoc> = rows.iter().map(RequestRow::doc).collect();
        // Owned values: SQLite's multi-row INSERT applies to `Vec<T>`, not to references.
        let cores: Vec<RequestCore> = rows.into_iter().map(|r| r.core).collect();
        match conn {
            DbConnection::Postgres(c) => {
                diesel::insert_into(requests::table)
                    .values(cores)
                    .execute(c)?;
                diesel::insert_into(request_documents::table)
                    .values(&docs)
                    .execute(c)?;
            }
            DbConnection::Sqlite(c) => {
                diesel::insert_into(requests::table)
                    .values(cores)
                    .execute(c)?;
                diesel::insert_into(request_documents::table)
                    .values(&docs)
                    .execute(c)?;
            }
        };
    }
    Ok(())
}

pub fn insert_events(conn: &mut DbConnection, rows: &[EventRow]) -> QueryResult<()> {
    for chunk in rows.chunks(1000) {
        match conn {
            DbConnection::Postgres(c) => diesel::insert_into(request_events::table)
                .values(chunk)
                .execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(request_events::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(())
}

/// Sets a case counter to at least `last_seq` (after a bulk insert that numbered cases itself).
pub fn set_case_counter(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
    last_seq: i32,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO case_counters (agency_id, year, last_seq) VALUES ($1, $2, $3) \
         ON CONFLICT (agency_id, year) DO UPDATE SET last_seq = \
         CASE WHEN case_counters.last_seq > excluded.last_seq THEN case_counters.last_seq ELSE excluded.last_seq END",
    )
    .bind::<Text, _>(agency_id)
    .bind::<Integer, _>(year)
    .bind::<Integer, _>(last_seq)
    .execute(conn)
    .map(|_| ())
}

/// The tables a bulk load fills.
const BULK_TABLES: [&str; 3] = ["requests", "request_documents", "request_events"];

/// Refreshes the planner's statistics of the tables an import fills. PostgreSQL's ANALYZE
/// samples a bounded number of rows (readers and writers go on; two ANALYZEs of one table
/// wait for each other); SQLite's is bounded by `analysis_limit` (rows looked at per index),
/// so it stays short at any size while it holds the write lock.
pub fn analyze(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("ANALYZE {}", BULK_TABLES.join(", ")))
        }
        DbConnection::Sqlite(c) => c.batch_execute(&format!(
            "PRAGMA analysis_limit = 1000; {}",
            BULK_TABLES
                .iter()
                .map(|t| format!("ANALYZE {t};"))
                .collect::<String>()
        )),
    }
}

/// Whether the planner has statistics of `table` (tests and diagnostics).
pub fn has_statistics(conn: &mut DbConnection, table: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n = match conn {
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stats WHERE schemaname = current_schema() AND tablename = $1",
        )
        .bind::<Text, _>(table)
        .get_result::<Count>(c)?
        .n,
        DbConnection::Sqlite(c) => {
            // sqlite_stat1 exists only once ANALYZE has run.
            match diesel::sql_query("SELECT count(*) AS n FROM sqlite_stat1 WHERE tbl = ?")
                .bind::<Text, _>(table)
                .get_result::<Count>(c)
            {
                Ok(c) => c.n,
                Err(_) => 0,
            }
        }
    };
    Ok(n > 0)
}

/// Refreshes planner statistics (and, on PostgreSQL, the visibility map that index-only counts
/// need) after a bulk load.
pub fn analyze_after_bulk_load(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        // One statement per call: several in one string run as one transaction block, where
        // PostgreSQL does not vacuum.
        DbConnection::Postgres(c) => BULK_TABLES
            .iter()
            .chain(&["remedy_cases"])
            .try_for_each(|t| c.batch_execute(&format!("VACUUM ANALYZE {t}"))),
        DbConnection::Sqlite(c) => c.batch_execute("ANALYZE;"),
    }
}
