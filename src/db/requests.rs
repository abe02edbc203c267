//! Application rows, their events and case-number counters.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::agencies::like_prefix;
use super::office::{FixedSql, Fragment};
use super::schema::{agencies, request_documents, request_events, requests};
use super::{Backend, DbConnection, DbError, MultiBackend};
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
    /// The grams `q` searches (`db::search`), derived from the case number, applicant name and
    /// description on every write.
    pub search_text: Option<String>,
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
    RequestRow {
        core: core_of(a),
        details: stored::encode_details(&a.details),
        workflow: stored::encode_workflow(&a.workflow),
    }
}

fn doc_of(a: &Application) -> RequestDoc {
    RequestDoc {
        request_id: a.id.clone(),
        details: stored::encode_details(&a.details),
        workflow: stored::encode_workflow(&a.workflow),
    }
}

fn core_of(a: &Application) -> RequestCore {
    let wf = &a.workflow;
    let fee = wf.fee.as_ref();
    RequestCore {
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
        search_text: Some(super::search::document_grams(&[
            &a.case_number,
            &a.details.applicant.name,
            &a.details.description,
        ])),
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

/// Inserts a new application's row, with its first holder (`(user, department, since)`) when a
/// user of its agency registered it: one statement. Intake writes it near its end, with the
/// case number, after its documents ([`DEFER_INTAKE_REFERENCES_PG`]).
pub fn insert_row(
    conn: &mut DbConnection,
    a: &Application,
    holder: Option<(&str, Option<&str>, NaiveDateTime)>,
) -> QueryResult<()> {
    let (user, dept, since) = match holder {
        Some((u, d, at)) => (Some(u), d, Some(at)),
        None => (None, None, None),
    };
    diesel::insert_into(requests::table)
        .values((
            &core_of(a),
            requests::holder_user_id.eq(user),
            requests::holder_department_id.eq(dept),
            requests::holder_since.eq(since),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The application's documents (its typed record), which hold no case number: written before
/// [`insert_row`], in a transaction that defers their reference ([`DEFER_INTAKE_REFERENCES_PG`]).
pub fn insert_documents(conn: &mut DbConnection, a: &Application) -> QueryResult<()> {
    diesel::insert_into(request_documents::table)
        .values(&doc_of(a))
        .execute(conn)
        .map(|_| ())
}

/// Lets an intake write its application's documents, first trail event and flags before the
/// application's row, until the commit: the row comes last, with the case number, so that the
/// agency's counter row is locked only for the last few statements (issue 15). The references
/// from those three tables are checked at the commit instead of at each insert, in this
/// transaction only. On PostgreSQL they are declared `DEFERRABLE` (immediate unless a
/// transaction defers them: migration `intake_numbered_last`); SQLite defers every foreign key
/// of the transaction, and resets the setting itself at its end. Sent with the transaction's
/// `BEGIN`, in the same round trip ([`super::Begin::DeferringIntakeReferences`]).
pub const DEFER_INTAKE_REFERENCES_PG: &str = "SET CONSTRAINTS request_documents_request_id_fkey, \
     request_events_request_id_fkey, request_flags_request_id_fkey DEFERRED";
/// [`DEFER_INTAKE_REFERENCES_PG`] for SQLite.
pub const DEFER_INTAKE_REFERENCES_SQLITE: &str = "PRAGMA defer_foreign_keys = ON";

pub fn load(conn: &mut DbConnection, id: &str) -> Result<Option<Application>, DbError> {
    decoded(
        with_documents!()
            .filter(requests::id.eq(id))
            .get_result::<Joined>(conn)
            .optional()?,
    )
}

/// An application as its detail shows it, read in one statement: the application with its
/// documents and the acts of its trail that a notice performs but that were recorded without
/// one ([`NoticeType::performing_actions`](crate::domain::notice::NoticeType::performing_actions)).
/// Its agency's code and path come with it (see [`load_detail`]).
pub struct Detail {
    pub app: Application,
    /// `(action, on_date)` in trail order.
    pub acts_without_notice: Vec<(String, Option<NaiveDate>)>,
    /// The holder and the flags.
    pub extras: super::office::Extras,
    /// Whether any review or lawsuit case names the application (the read loads them only
    /// then: most applications have none, and their read is one statement).
    pub has_remedies: bool,
}

type DetailRow = (
    RequestCore,
    String,
    String,
    (Option<String>, Option<String>),
    super::office::ExtrasRow,
);

/// The columns of a read (see [`load_detail`]): the same on both backends, written once for
/// its two statements.
macro_rules! detail_columns {
    ($backend:expr $(, $more:expr)?) => {{
        let (user, dept, flags, reply) = super::office::extras_fragments($backend);
        (
            // The columns themselves (the same on both backends); `as_select()` is one
            // backend's.
            <RequestCore as Selectable<diesel::pg::Pg>>::construct_selection(),
            request_documents::details,
            request_documents::workflow,
            (
                requests::acts_without_notice,
                Fragment::<RemediesExist>::on($backend),
            ),
            (
                <super::office::HolderCols as Selectable<diesel::pg::Pg>>::construct_selection(),
                user,
                dept,
                flags,
                reply,
            ),
            $($more,)?
        )
    }};
}

/// The one statement of a read (see [`load_detail`]), for either backend's own connection.
/// Every part of it has a static query id, so diesel finds its prepared statement by type
/// without writing its SQL again (a test checks that).
fn detail_query<'a>(
    backend: Backend,
    id: &'a str,
) -> impl diesel::query_dsl::LoadQuery<'a, PgConnection, DetailRow>
+ diesel::query_dsl::LoadQuery<'a, SqliteConnection, DetailRow>
+ diesel::query_builder::QueryId
+ 'a {
    requests::table
        .inner_join(request_documents::table)
        .filter(requests::id.eq(id))
        .select(detail_columns!(backend))
}

/// [`detail_query`] with the agency's code and path, for a process that does not hold every
/// agency's (`app::agency_places`).
fn detail_query_with_agency<'a>(
    backend: Backend,
    id: &'a str,
) -> impl diesel::query_dsl::LoadQuery<'a, PgConnection, DetailWithAgencyRow>
+ diesel::query_dsl::LoadQuery<'a, SqliteConnection, DetailWithAgencyRow>
+ diesel::query_builder::QueryId
+ 'a {
    requests::table
        .inner_join(request_documents::table)
        .inner_join(agencies::table)
        .filter(requests::id.eq(id))
        .select(detail_columns!(backend, (agencies::code, agencies::path)))
}

type DetailWithAgencyRow = (
    RequestCore,
    String,
    String,
    (Option<String>, Option<String>),
    super::office::ExtrasRow,
    AgencyPlace,
);

/// An agency's `(code, path)`.
pub type AgencyPlace = (String, String);

/// See [`Detail`]. The acts are the application's own column (`seq|action|date;…`, written
/// with each such event: [`insert_event`]), so the detail aggregates no trail: one statement
/// over the application's and its documents' primary keys, and small indexed look-ups. With
/// `with_agency` it joins the agency for its code and path (the second value); without, the
/// caller knows them (a process that keeps every agency's: the join was about a tenth of the
/// statement on PostgreSQL).
pub fn load_detail(
    conn: &mut DbConnection,
    id: &str,
    with_agency: bool,
) -> Result<Option<(Detail, Option<AgencyPlace>)>, DbError> {
    // On the backend's own connection, past diesel's `MultiConnection`: its wrapper writes a
    // statement's SQL text on every call (twice: to check it may be cached and to collect its
    // binds), even when the statement is prepared already. The backend's own connection finds
    // the prepared statement by the query's type. This is every read's statement.
    let row: Option<(DetailRow, Option<AgencyPlace>)> = if with_agency {
        let joined: Option<DetailWithAgencyRow> = match conn {
            DbConnection::Postgres(c) => detail_query_with_agency(Backend::Postgres, id)
                .get_result(c)
                .optional()?,
            DbConnection::Sqlite(c) => detail_query_with_agency(Backend::Sqlite, id)
                .get_result(c)
                .optional()?,
        };
        joined.map(|(core, details, workflow, own, extras, agency)| {
            ((core, details, workflow, own, extras), Some(agency))
        })
    } else {
        let alone: Option<DetailRow> = match conn {
            DbConnection::Postgres(c) => detail_query(Backend::Postgres, id)
                .get_result(c)
                .optional()?,
            DbConnection::Sqlite(c) => {
                detail_query(Backend::Sqlite, id).get_result(c).optional()?
            }
        };
        alone.map(|row| (row, None))
    };
    let Some(((core, details, workflow, (acts, has_remedies), extras), agency)) = row else {
        return Ok(None);
    };
    let app = from_row(joined((core, details, workflow)))?;
    Ok(Some((
        Detail {
            app,
            acts_without_notice: parse_acts(acts),
            extras: extras.into(),
            has_remedies: has_remedies.is_some(),
        },
        agency,
    )))
}

/// The acts of an application's trail that a notice performs but that were recorded without
/// one, in trail order: the same column as [`load_detail`] reads, for an application already
/// loaded (an answer that shows the detail after a change).
pub fn acts_without_notice(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Vec<(String, Option<NaiveDate>)>> {
    let found: Option<Option<String>> = requests::table
        .filter(requests::id.eq(id))
        .select(requests::acts_without_notice)
        .get_result(conn)
        .optional()?;
    Ok(parse_acts(found.flatten()))
}

/// How the kept `acts_without_notice` compares with what the trails give by the rule in SQL
/// ([`ActsWithoutNotice`], which the migration's backfill applied): the check that the two
/// writings of the rule agree (`tests/api`).
#[derive(Debug)]
pub struct ActsCheck {
    /// Applications with at least one such act kept.
    pub noted: usize,
    /// Applications whose kept acts differ from their trail's (compared parsed and ordered).
    pub drifted: Vec<String>,
}

/// See [`ActsCheck`]: reads every application.
pub fn check_acts_without_notice(conn: &mut DbConnection) -> QueryResult<ActsCheck> {
    let acts = Fragment::<ActsWithoutNotice>::of(conn);
    let rows: Vec<(String, Option<String>, Option<String>)> = requests::table
        .select((requests::id, requests::acts_without_notice, acts))
        .load(conn)?;
    let noted = rows.iter().filter(|(_, kept, _)| kept.is_some()).count();
    let drifted = rows
        .into_iter()
        .filter(|(_, kept, derived)| parse_acts(kept.clone()) != parse_acts(derived.clone()))
        .map(|(id, _, _)| id)
        .collect();
    Ok(ActsCheck { noted, drifted })
}

/// `seq|action|date;…` (in any order) into `(action, date)` in trail order.
fn parse_acts(acts: Option<String>) -> Vec<(String, Option<NaiveDate>)> {
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
    parsed.into_iter().map(|(_, a, d)| (a, d)).collect()
}

/// `seq|action|date;…` of the acts of an application's trail that a notice performs but that
/// were recorded without one, as a correlated sub-select on `requests`: the rule the read
/// applied until the application kept them itself ([`act_without_notice`]), and the rule of
/// the migration that filled the column for the applications before it; kept to check that
/// the two agree ([`check_acts_without_notice`]).
#[derive(Debug, Clone, Copy)]
struct ActsWithoutNotice;

impl FixedSql for ActsWithoutNotice {
    fn sql(backend: Backend) -> &'static str {
        static PG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        // The domain's own action codes (a fixed list, never input): checked all the same
        // before they enter SQL text.
        let listed = || {
            let listed = crate::domain::notice::NoticeType::performing_actions()
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
        let sql = match backend {
            Backend::Postgres => PG.get_or_init(|| {
                format!(
                    "(SELECT string_agg(e.seq || '|' || e.action || '|' || \
                     coalesce(to_char(e.on_date, 'YYYY-MM-DD'), ''), ';') FROM request_events e \
                     WHERE e.request_id = requests.id AND e.action IN ({}) \
                     AND (e.payload::jsonb -> 'notice_id') IS NULL)",
                    listed()
                )
            }),
            Backend::Sqlite => SQLITE.get_or_init(|| {
                format!(
                    "(SELECT group_concat(e.seq || '|' || e.action || '|' || \
                     coalesce(e.on_date, ''), ';') FROM request_events e \
                     WHERE e.request_id = requests.id AND e.action IN ({}) \
                     AND json_type(e.payload, '$.notice_id') IS NULL)",
                    listed()
                )
            }),
        };
        sql.as_str()
    }
}

super::office::fixed_sql! {
    /// Whether a review or lawsuit names the application (`'y'` or NULL), correlated on the
    /// outer row over `remedy_cases_request`.
    RemediesExist =>
        "(SELECT 'y' WHERE EXISTS (SELECT 1 FROM remedy_cases c WHERE c.request_id = requests.id))";
}

/// The agency an application belongs to, without decoding it.
pub fn agency_of(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    requests::table
        .find(id)
        .select(requests::agency_id)
        .get_result(conn)
        .optional()
}

pub fn find_by_case_number(
    conn: &mut DbConnection,
    case_number: &str,
) -> Result<Option<Application>, DbError> {
    decoded(
        with_documents!()
            .filter(requests::case_number.eq(case_number))
            .get_result::<Joined>(conn)
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
            .get_result::<Joined>(conn)
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
/// rollback returns the number: no gaps, no duplicates. Intake takes it near its end, so that
/// the row is held for a few statements only ([`DEFER_INTAKE_REFERENCES_PG`]).
///
/// On PostgreSQL the same statement first takes a transaction-level advisory lock of the
/// agency and year ([`CASE_NUMBER_LOCK_CLASS`]), so that intakes queue for the number in the
/// order they asked. Waiters on a row lock are not served in order: pgbench's counter-last
/// script went from 604/s, p99 254 ms to 747/s, p99 74 ms behind this lock at 32 clients
/// (`bench/ratios.sh`). Only the order changes; the row lock still makes the numbers gapless
/// (bulk import takes its ranges without the advisory lock).
pub fn next_case_seq(conn: &mut DbConnection, agency_id: &str, year: i32) -> QueryResult<i32> {
    let row: Seq = match conn {
        DbConnection::Postgres(_) => diesel::sql_query(NEXT_CASE_SEQ_PG)
            .bind::<Text, _>(agency_id)
            .bind::<Integer, _>(year)
            .bind::<Integer, _>(CASE_NUMBER_LOCK_CLASS)
            .get_result(conn)?,
        DbConnection::Sqlite(_) => diesel::sql_query(
            "INSERT INTO case_counters (agency_id, year, last_seq) VALUES ($1, $2, 1) \
             ON CONFLICT (agency_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1 \
             RETURNING last_seq",
        )
        .bind::<Text, _>(agency_id)
        .bind::<Integer, _>(year)
        .get_result(conn)?,
    };
    Ok(row.last_seq)
}

/// The first key of the advisory locks that order intakes for case numbers (the second is a
/// hash of agency and year): a class of its own, apart from any one-key advisory lock.
pub const CASE_NUMBER_LOCK_CLASS: i32 = 0x6763_6e6f; // "gcno"

/// [`next_case_seq`] on PostgreSQL: the advisory lock (a volatile function in a CTE is run once,
/// before the insert reads its row), then the upsert.
const NEXT_CASE_SEQ_PG: &str = "WITH queued AS (\
       SELECT pg_advisory_xact_lock($3, hashtext($1 || '/' || $2::text))) \
     INSERT INTO case_counters (agency_id, year, last_seq) SELECT $1, $2, 1 FROM queued \
     ON CONFLICT (agency_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1 \
     RETURNING last_seq";

/// Appends an event to a trail; an act that a notice performs, recorded without one, is also
/// noted on its application, in the same transaction (see [`act_without_notice`]).
pub fn insert_event(conn: &mut DbConnection, row: &EventRow) -> QueryResult<()> {
    diesel::insert_into(request_events::table)
        .values(row)
        .execute(conn)?;
    if let Some(part) = act_without_notice(row) {
        use diesel::sql_types::{Nullable, Text};
        diesel::update(requests::table.find(&row.request_id))
            .set(
                requests::acts_without_notice.eq(diesel::dsl::sql::<Nullable<Text>>(
                    "coalesce(acts_without_notice || ';', '') || ",
                )
                .bind::<Text, _>(part)),
            )
            .execute(conn)?;
    }
    Ok(())
}

/// `seq|action|date` of an event that is an act a notice performs
/// ([`NoticeType::performs`](crate::domain::notice::NoticeType::performs)) but whose payload
/// names no notice (`notice_id` absent; present as `null` counts as named, as it always did in
/// SQL); `None` for every other event. An application keeps these, `;`-separated, as
/// `acts_without_notice`, written with the event, so that a read does not aggregate the trail
/// (issue 15). The trail is append-only, so the column never goes stale; [`ActsWithoutNotice`]
/// computes the same from the trail (the migration's backfill, and a test on every row).
fn act_without_notice(row: &EventRow) -> Option<String> {
    let named = serde_json::from_str::<serde_json::Value>(&row.payload)
        .is_ok_and(|p| p.get("notice_id").is_some());
    (crate::domain::notice::NoticeType::performs(&row.action) && !named).then(|| {
        format!(
            "{}|{}|{}",
            row.seq,
            row.action,
            row.on_date
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        )
    })
}

pub fn next_event_seq(conn: &mut DbConnection, request_id: &str) -> QueryResult<i32> {
    use diesel::dsl::max;
    let m: Option<i32> = request_events::table
        .filter(request_events::request_id.eq(request_id))
        .select(max(request_events::seq))
        .get_result(conn)?;
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

/// The applications in scope, as the start of a list or count whose plan depends on its
/// filter values: on PostgreSQL the statement is planned for each call's values (see
/// [`PlannedPerCall`]).
pub(crate) fn scoped(scope: &Scope, dialect: Backend) -> Boxed<'_> {
    let q = requests::table.into_boxed();
    let q = match dialect {
        Backend::Postgres => q.filter(PlannedPerCall),
        Backend::Sqlite => q,
    };
    match scope {
        Scope::All => q,
        Scope::Agencies(ids) if ids.len() == 1 => q.filter(requests::agency_id.eq(ids[0].as_str())),
        Scope::Agencies(ids) => q.filter(requests::agency_id.eq_any(ids.clone())),
    }
}

/// The applications of a list: in scope and meeting every filter. `page_order`: the sort of
/// a page being read (`None` for a count), for SQLite's indexes below.
fn filtered<'a>(
    scope: &'a Scope,
    f: &'a ListFilter,
    backend: Backend,
    drive: &'a SearchDrive,
    page_order: Option<SortKey>,
) -> Boxed<'a> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    // SQLite's planner (the bundled release) does not weigh a page's `LIMIT`: offered an index
    // of the filter that does not give the sort's order, it reads all the filter's rows and
    // sorts them (`channel=letter`, newest first: 166,667 rows over a million, 0.4 s) instead
    // of walking the sort's index to the page's 51. A filter's index is offered to a page only
    // where it also gives the order (`+column` takes a term out of index selection); counts
    // use them freely.
    // A search driven by its filters' few rows ([`SearchDrive::Filtered`]) reads them by
    // whichever index finds them and sorts them.
    let unindexed = |sorted_by: SortKey| {
        backend == Backend::Sqlite
            && page_order.is_some_and(|order| order != sorted_by)
            && !matches!(drive, SearchDrive::Filtered)
    };
    let mut q = scoped(scope, backend);
    // A page of a search walked beside filters of many rows (SQLite, [`SearchDrive::Walk`]):
    // the sort's index is to drive it, not the states' index, which the planner otherwise
    // takes and checks each row of the state (`q=张伟&state=closed`: most of the table,
    // 3.6 s over a million).
    let search_drives = backend == Backend::Sqlite
        && page_order.is_some()
        && matches!(drive, SearchDrive::Walk { .. })
        && f.q
            .as_deref()
            .is_some_and(|t| !super::search::query_grams(t).is_empty());
    if !f.states.is_empty() && search_drives {
        type Condition = Box<dyn BoxableExpression<requests::table, MultiBackend, SqlType = Bool>>;
        let mut states: Option<Condition> = None;
        for state in &f.states {
            let term: Condition =
                Box::new(sql::<Bool>("+requests.state = ").bind::<Text, _>(state.code()));
            states = Some(match states {
                None => term,
                Some(before) => Box::new(before.or(term)),
            });
        }
        if let Some(states) = states {
            q = q.filter(states);
        }
    } else if !f.states.is_empty() {
        q = q.filter(requests::state.eq_any(f.states.iter().map(|s| s.code()).collect::<Vec<_>>()));
    }
    if let Some(a) = &f.agency_id {
        q = q.filter(requests::agency_id.eq(a.as_str()));
    }
    if let Some(c) = f.channel {
        // requests_channel_received: (channel, receipt_date, id).
        // With a receipt range the channel's slice of it is small: offered whatever the sort.
        let ranged = f.received_from.is_some() || f.received_to.is_some();
        q = if unindexed(SortKey::Received) && !ranged {
            q.filter(sql::<Bool>("+requests.channel = ").bind::<Text, _>(c.code()))
        } else {
            q.filter(requests::channel.eq(c.code()))
        };
    }
    if let Some(k) = f.applicant_kind {
        // requests_kind_created: (applicant_kind, created_at, id).
        q = if unindexed(SortKey::Created) {
            q.filter(sql::<Bool>("+requests.applicant_kind = ").bind::<Text, _>(k.code()))
        } else {
            q.filter(requests::applicant_kind.eq(k.code()))
        };
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
    if let Some(flag) = &f.flag {
        use super::schema::{notices, request_flags};
        if flag == "reply_at_risk" {
            let before = f.reply_risk_before.unwrap_or(NaiveDate::MIN);
            q = q
                .filter(requests::state.ne(State::Closed.code()))
                .filter(requests::due_date.lt(before))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    notices::table
                        .filter(notices::request_id.eq(requests::id))
                        .filter(notices::kind.eq("reply")),
                )));
        } else {
            q = q.filter(diesel::dsl::exists(
                request_flags::table
                    .filter(request_flags::request_id.eq(requests::id))
                    .filter(request_flags::code.eq(flag.as_str())),
            ));
        }
    }
    if let Some(text) = &f.q {
        q = search(q, text, backend, drive);
    }
    q
}

/// `q`: the rows whose stored grams hold every gram of the text (the index: GIN on PostgreSQL,
/// FTS5 on SQLite), then the exact substring recheck on the original columns, so the result is
/// the old `LIKE '%text%'`. Rows still awaiting their grams (written by a release before the
/// search column, filled after start; a partial index finds them) are rechecked alone.
///
/// Where the grams alone are exact ([`grams_are_exact`]: one or two ideographs or digits, the
/// common search for a name) the recheck is kept only for those rows:
/// `grams OR (search_text IS NULL AND like)`. Not for its own cost, which is small: PostgreSQL
/// estimates `grams AND like` as independent, expects a hundredth of the matches (90 for
/// 张伟's 8,670 over a million, 7,913 for 娜's 88,000), and so reads and sorts every match
/// instead of walking the sort's index, and counts them instead of estimating.
///
/// On SQLite the form depends on `drive` ([`SearchDrive`]).
///
/// [`grams_are_exact`]: super::search::grams_are_exact
fn search<'a>(q: Boxed<'a>, text: &str, backend: Backend, drive: &'a SearchDrive) -> Boxed<'a> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    let like = text_like(text);
    let grams = super::search::query_grams(text);
    if grams.is_empty() {
        return q.filter(like);
    }
    let exact = super::search::grams_are_exact(text);
    match (backend, drive) {
        // The matches themselves, read by id and sorted; a longer text rechecks each.
        (Backend::Sqlite, SearchDrive::Matches(ids)) if exact => {
            q.filter(requests::id.eq_any(ids.iter().map(String::as_str)))
        }
        (Backend::Sqlite, SearchDrive::Matches(ids)) => q
            .filter(requests::id.eq_any(ids.iter().map(String::as_str)))
            .filter(like),
        // A walk of the sort's index, or of the few rows of the other filters, checks each
        // row's own columns: a page reads a page's worth of rows, where a check against the
        // FTS5 matches first listed every one of them (娜: 87,602 over a million, 0.5 s before
        // the first row; with `state=processing` 1.7 s, each walked row's id probed in them).
        // The rows awaiting their grams are checked the same way.
        (Backend::Sqlite, SearchDrive::Walk { .. } | SearchDrive::Filtered) => q.filter(like),
        (Backend::Postgres, _) => {
            let held =
                sql::<Bool>("(string_to_array(requests.search_text, ' ') @> string_to_array(")
                    .bind::<Text, _>(grams.join(" "))
                    .sql(", ' '))");
            if exact {
                q.filter(held.or(requests::search_text.is_null().and(like)))
            } else {
                q.filter(held.or(requests::search_text.is_null()))
                    .filter(like)
            }
        }
    }
}

/// The old substring search on the original columns: the recheck of a gram match, and on
/// SQLite the check of a walk.
fn text_like(
    text: &str,
) -> Box<dyn BoxableExpression<requests::table, MultiBackend, SqlType = diesel::sql_types::Bool>> {
    let pattern = format!("%{}", like_prefix(text));
    Box::new(
        requests::case_number
            .like(pattern.clone())
            .escape('\\')
            .or(requests::applicant_name.like(pattern.clone()).escape('\\'))
            .or(requests::description.like(pattern).escape('\\')),
    )
}

/// How SQLite finds the rows of a search (`q`), whose plan it cannot choose itself: it cannot
/// tell how many rows an FTS5 query matches. PostgreSQL plans from the gram index's
/// statistics and ignores this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchDrive {
    /// Walk the sort's index and check each row's columns: a page stops after its rows, soon
    /// when matches are common, but reads the whole table when they are few. Its count streams
    /// the FTS5 matches joined to the rows ([`search_total`]); or, with an `estimate`, when
    /// the rows of the other filters are many but fewer than the matches, the default total
    /// is that estimate and an exact one reads those rows, checking their columns.
    Walk { estimate: Option<i64> },
    /// SQLite: the ids of every row that may match (the FTS5 matches, and the rows awaiting
    /// their grams whose columns hold the text), at most [`FEW_SEARCH_MATCHES`], listed once
    /// before the list; the page reads them by id and sorts them, whatever its depth, and the
    /// count counts them.
    Matches(Vec<String>),
    /// SQLite, a search of many matches with other filters (the scope among them) of at most
    /// [`FEW_FILTERED_ROWS`] rows: their indexes find those rows, each checked on its columns;
    /// the page sorts them, the count counts them. Walking the sort's index instead read the
    /// whole table when the two met rarely.
    Filtered,
}

/// Up to this many FTS5 matches a SQLite search page reads the matches ([`SearchDrive`])
/// instead of walking the sort's index. A walk to a page of 51 reads about 51 × rows ÷
/// matches rows, the matches' read reads each match: over 300,000 rows a name of 5 matches
/// took 111 ms walking and under 1 ms read, one of 30,000 took 35 ms walking and 92 ms read,
/// one of 2,143 8 and 12 ms. The two meet near √(51 × rows), 3,900 over 300,000 and 7,100
/// over a million; the one bound keeps the read within a few milliseconds at any size.
pub const FEW_SEARCH_MATCHES: i64 = 5_000;

/// Up to this many rows of a SQLite search's other filters, a search of many matches reads
/// those rows and checks each one's columns ([`SearchDrive::Filtered`]). Over a million:
/// `q=娜&state=processing` (7,543 rows, 640 of them matches) 5 ms for the page and 34 ms for
/// the count, where the walk of the sort's index took 17 ms (reading 80,000 rows) and the
/// count by the matches 1.9 s; at that rate 20,000 rows would take about 0.1 s (not measured).
pub const FEW_FILTERED_ROWS: i64 = 20_000;

/// The plain walk: every statement built for it but the page's own ([`filtered`]).
const WALK: &SearchDrive = &SearchDrive::Walk { estimate: None };

/// The rows meeting a text of `matches` rows and filters of `rows`, out of `all`, taken as
/// independent; at least one.
fn independent_estimate(matches: i64, rows: i64, all: i64) -> i64 {
    if all <= 0 {
        return 1;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "an estimate: counts of rows are far below 2^52, the product is rounded"
    )]
    let estimate = (matches as f64 * rows as f64 / all as f64).round() as i64;
    estimate.max(1)
}

/// The drive of a list's search: on SQLite, when the text's grams match at most
/// [`FEW_SEARCH_MATCHES`] rows (listed up to one more, from FTS5 alone, with the rows awaiting
/// their grams), [`SearchDrive::Matches`] with their ids: one FTS5 query for the page and its
/// count, where the page and the count each asked FTS5 again.
fn search_drive(
    conn: &mut DbConnection,
    scope: &Scope,
    f: &ListFilter,
) -> QueryResult<SearchDrive> {
    let Some(text) = &f.q else {
        return Ok(WALK.clone());
    };
    let grams = super::search::query_grams(text);
    if backend(conn) != Backend::Sqlite || grams.is_empty() {
        return Ok(WALK.clone());
    }
    // From FTS5 alone (its rows are the live applications' grams, kept by triggers): finding
    // each in `requests` first cost a lookup per match (22 ms for 5,001 over a million).
    let mut ids: Vec<String> = Around::<_, Text>::new(
        "SELECT request_id FROM request_search WHERE request_search MATCH ",
        diesel::dsl::sql::<Text>("")
            .bind::<Text, _>(super::search::fts5_query(&grams))
            .sql(" LIMIT ")
            .bind::<diesel::sql_types::BigInt, _>(FEW_SEARCH_MATCHES + 1),
        "",
    )
    .load(conn)?;
    // Listing them costs little more than counting them where their grams are several common
    // ones (a case number's digit pairs: 40 ms either way over a million), and 20 ms more for
    // one common ideograph (娜); counting first cost the former both.
    if i64::try_from(ids.len()).unwrap_or(i64::MAX) > FEW_SEARCH_MATCHES {
        return many_matches(conn, scope, f, &grams);
    }
    // Rows awaiting their grams (after an upgrade, until they are filled): a partial index.
    let left = FEW_SEARCH_MATCHES + 1 - i64::try_from(ids.len()).unwrap_or(0);
    ids.extend(
        requests::table
            .filter(requests::search_text.is_null())
            .filter(text_like(text))
            .select(requests::id)
            .limit(left)
            .load::<String>(conn)?,
    );
    Ok(
        if i64::try_from(ids.len()).unwrap_or(i64::MAX) <= FEW_SEARCH_MATCHES {
            SearchDrive::Matches(ids)
        } else {
            return many_matches(conn, scope, f, &grams);
        },
    )
}

/// The drive of a SQLite search of more than [`FEW_SEARCH_MATCHES`] FTS5 matches of its
/// `grams`: [`SearchDrive::Filtered`] when its other filters (the scope among them) hold at
/// most [`FEW_FILTERED_ROWS`] rows, else [`SearchDrive::Walk`]. Two counts, each bounded: the
/// matches (FTS5's index alone: 6 ms for 娜's 87,602 over a million) and the filters' rows by
/// their own indexes, up to one past the larger of the matches and that bound.
fn many_matches(
    conn: &mut DbConnection,
    scope: &Scope,
    f: &ListFilter,
    grams: &[String],
) -> QueryResult<SearchDrive> {
    let others = beside_text(f);
    if matches!(scope, Scope::All) && others == ListFilter::default() {
        return Ok(WALK.clone());
    }
    let matches: i64 = Around::<_, diesel::sql_types::BigInt>::new(
        "SELECT count(*) FROM request_search WHERE request_search MATCH ",
        diesel::dsl::sql::<diesel::sql_types::BigInt>("")
            .bind::<Text, _>(super::search::fts5_query(grams)),
        "",
    )
    .get_result(conn)?;
    let rows: i64 = Around::<_, diesel::sql_types::BigInt>::new(
        "SELECT count(*) FROM (",
        filtered(scope, &others, Backend::Sqlite, WALK, None)
            .select(requests::id)
            .limit(matches.max(FEW_FILTERED_ROWS) + 1),
        ") AS few",
    )
    .get_result(conn)?;
    if rows <= FEW_FILTERED_ROWS {
        return Ok(SearchDrive::Filtered);
    }
    if rows > matches {
        return Ok(WALK.clone());
    }
    // More rows than the bound, and fewer than the matches: counting them reads each
    // (`q=娜&agency_id=…`, 50,000 rows over a million: 250 ms). The estimate takes the text
    // and the filters as independent, as PostgreSQL's planner does, and the table's size as
    // its largest rowid (one B-tree descent; close while applications are seldom deleted);
    // `total=exact` counts.
    let all: Option<i64> =
        Around::<_, diesel::sql_types::Nullable<diesel::sql_types::BigInt>>::new(
            "SELECT max(rowid) FROM requests",
            diesel::dsl::sql::<diesel::sql_types::BigInt>(""),
            "",
        )
        .get_result(conn)?;
    Ok(SearchDrive::Walk {
        estimate: Some(independent_estimate(matches, rows, all.unwrap_or(0))),
    })
}

/// A list's filters other than its text `q`.
fn beside_text(f: &ListFilter) -> ListFilter {
    ListFilter {
        q: None,
        ..f.clone()
    }
}

/// SQLite: the total of a search walked ([`SearchDrive::Walk`]): the FTS5 matches streamed and
/// joined to the rows by id, each checked against the other filters (and the text, for a
/// longer one), stopping at one past [`EXACT_TOTAL_LIMIT`] unless the exact total is asked; the
/// rows awaiting their grams are counted beside them. Counting through `id IN (matches)` first
/// listed every match (娜: 87,602 over a million) before the first was counted.
fn search_total(
    conn: &mut DbConnection,
    scope: &Scope,
    filter: &ListFilter,
    wanted: TotalWanted,
    seen: i64,
) -> QueryResult<Total> {
    let cap = match wanted {
        TotalWanted::None => return Ok(Total::None),
        TotalWanted::Exact => None,
        TotalWanted::Estimate | TotalWanted::Auto => Some(EXACT_TOTAL_LIMIT + 1),
    };
    let text = filter.q.as_deref().unwrap_or_default();
    let others = beside_text(filter);
    let count: i64 = search_count(scope, &others, text, cap).get_result(conn)?;
    Ok(match cap {
        Some(_) => capped_total(count, seen),
        None => Total::Exact(count),
    })
}

/// The count of [`search_total`]: the rows of `others` (the list's filters but `q`) holding
/// `text`, at most `cap` (each part).
fn search_count<'a>(
    scope: &'a Scope,
    others: &'a ListFilter,
    text: &str,
    cap: Option<i64>,
) -> SearchCount<
    impl diesel::query_builder::QueryFragment<MultiBackend> + 'a,
    impl diesel::query_builder::QueryFragment<MultiBackend> + 'a,
> {
    // No `search_text IS NOT NULL`: only rows with grams have FTS5 rows (the triggers), and
    // checking it read each match's table page where the id index alone finds the row (8,667
    // matches over a million: 53 ms against ~10).
    let exact = super::search::grams_are_exact(text);
    // Every application, no other filter, a text whose grams are exact: the FTS5 matches are
    // the result, counted without the join (its lookup of each row by id cost 49 ms for
    // 8,667 matches over a million).
    let joined = !(exact && matches!(scope, Scope::All) && *others == ListFilter::default());
    let mut candidates = filtered(scope, others, Backend::Sqlite, WALK, None);
    if !exact {
        candidates = candidates.filter(text_like(text));
    }
    let awaiting = filtered(scope, others, Backend::Sqlite, WALK, None)
        .filter(text_like(text))
        .select(requests::id);
    SearchCount {
        joined,
        candidates: candidates.select(requests::id),
        fts: super::search::fts5_query(&super::search::query_grams(text)),
        limit: cap.map(|c| format!(" LIMIT {c}")).unwrap_or_default(),
        awaiting,
    }
}

/// SQLite's plan (`EXPLAIN QUERY PLAN`, one line per step) of the count of a search walked
/// ([`search_total`]) over every agency, so a test shows that it streams the FTS5 matches
/// and finds each row by its id. Empty on PostgreSQL or without a text of grams.
pub fn explain_search_total(conn: &mut DbConnection, filter: &ListFilter) -> QueryResult<String> {
    let Some(text) = filter.q.as_deref() else {
        return Ok(String::new());
    };
    if backend(conn) != Backend::Sqlite || super::search::query_grams(text).is_empty() {
        return Ok(String::new());
    }
    let others = beside_text(filter);
    let scope = Scope::All;
    type Step = (Integer, Integer, Integer, Text);
    let steps: Vec<(i32, i32, i32, String)> = Around::<_, Step>::new(
        "EXPLAIN QUERY PLAN ",
        search_count(&scope, &others, text, Some(EXACT_TOTAL_LIMIT + 1)),
        "",
    )
    .load(conn)?;
    Ok(steps
        .into_iter()
        .map(|(.., detail)| detail)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `SELECT` the number of FTS5 matches among `candidates` plus the rows awaiting their grams
/// among `awaiting` ([`search_total`]). `CROSS JOIN` keeps SQLite's loop order: the matches
/// (or the rows awaiting their grams) outside, each row looked up by id (the flattened
/// candidates' primary key).
struct SearchCount<C, A> {
    /// Whether the matches are joined to `candidates` (else counted alone).
    joined: bool,
    candidates: C,
    fts: String,
    limit: String,
    awaiting: A,
}

impl<C, A> diesel::query_builder::QueryId for SearchCount<C, A> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C, A> diesel::query_builder::Query for SearchCount<C, A> {
    type SqlType = diesel::sql_types::BigInt;
}

impl<C, A> diesel::query_builder::QueryFragment<MultiBackend> for SearchCount<C, A>
where
    C: diesel::query_builder::QueryFragment<MultiBackend>,
    A: diesel::query_builder::QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT (SELECT count(*) FROM (SELECT 1 FROM request_search ");
        if self.joined {
            out.push_sql("CROSS JOIN (");
            self.candidates.walk_ast(out.reborrow())?;
            out.push_sql(") AS f ON f.id = request_search.request_id ");
        }
        out.push_sql("WHERE request_search MATCH ");
        out.push_bind_param::<Text, _>(&self.fts)?;
        out.push_sql(&self.limit);
        // The rows awaiting their grams from their partial index, each looked up among the
        // rows of the filters: offered the filters' index, SQLite read every row of
        // `state=closed` to find none awaiting (971,833 over a million, 2.9 s).
        out.push_sql(")) + (SELECT count(*) FROM (SELECT 1 FROM requests AS w CROSS JOIN (");
        self.awaiting.walk_ast(out.reborrow())?;
        out.push_sql(") AS a ON a.id = w.id WHERE w.search_text IS NULL");
        out.push_sql(&self.limit);
        out.push_sql("))");
        Ok(())
    }
}

impl<C, A> RunQueryDsl<DbConnection> for SearchCount<C, A> {}

/// Which SQL dialect a query is built for, where the two differ.
pub(crate) fn backend(conn: &DbConnection) -> Backend {
    match conn {
        DbConnection::Postgres(_) => Backend::Postgres,
        DbConnection::Sqlite(_) => Backend::Sqlite,
    }
}

/// Up to this many matching rows, a list's default total is an exact count; beyond, an
/// estimate (counting every row of a large result would cost more than the page).
pub const EXACT_TOTAL_LIMIT: i64 = 10_000;

/// When PostgreSQL's planner expects more matches than this, the default total is its
/// estimate without the capped count: counting 10,001 rows of a filter that matches a large
/// share of a million costs more than the page itself (20–150 ms against 5–10). Twice the
/// exact limit: a result of 10,000 or fewer is answered with an estimate only when the planner
/// overestimates it more than twice (over a million seeded rows its estimates of the list
/// filters were within 30 %, within 5 % for those above 20,000, combined ones too).
pub const SURELY_LARGE_ESTIMATE: i64 = 2 * EXACT_TOTAL_LIMIT;

/// The same with `q`: above this many expected matches the default total is the planner's
/// estimate. Counting a search reads every matching row from the table, one page each (the
/// gram index holds where they are, not their visibility), where the other filters' counts
/// read an index only: 8,670 matches over a million cost 23 ms warm and 170 ms cold, more
/// than the page. The gram index's statistics keep its estimates close (9,399 for those
/// 8,670); a query whose recheck stays ([`search`]) is underestimated and counted.
pub const SURELY_LARGE_SEARCH: i64 = 2_000;

/// The total a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalWanted {
    Exact,
    Estimate,
    None,
    /// Exact up to [`EXACT_TOTAL_LIMIT`] matches, an estimate beyond.
    Auto,
}

/// The total given with a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Exact(i64),
    /// PostgreSQL's planner estimate, never below the rows seen.
    Estimate(i64),
    /// SQLite's capped count: more rows match than [`EXACT_TOTAL_LIMIT`], at least this many
    /// (SQLite has no planner estimate to give).
    AtLeast(i64),
    None,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Skip this many rows (page numbers).
    Offset(i64),
    /// After this row of the sort order (a cursor): its sort value and its id.
    After(SortValue, String),
}

/// The value of a row's sort key, as a cursor carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// Receipt or due date; `None` for rows without it (they sort last either way).
    Date(Option<NaiveDate>),
    Created(NaiveDateTime),
    CaseNumber(String),
}

impl SortValue {
    fn of(key: SortKey, a: &Application) -> SortValue {
        match key {
            SortKey::Received => SortValue::Date(a.workflow.clock.receipt_date),
            SortKey::Due => SortValue::Date(a.due_date),
            SortKey::Created => SortValue::Created(a.created_at),
            SortKey::CaseNumber => SortValue::CaseNumber(a.case_number.clone()),
        }
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Application>,
    pub total: Total,
    /// The last row's sort value and id when more rows follow (the next cursor).
    pub next: Option<(SortValue, String)>,
}

/// `<before> <query> <after>`: a query wrapped in SQL of its own (a capped count, an EXPLAIN),
/// keeping the inner query's bind parameters.
struct Around<Q, ST> {
    before: &'static str,
    inner: Q,
    after: &'static str,
    _sql_type: std::marker::PhantomData<ST>,
}

impl<Q, ST> Around<Q, ST> {
    fn new(before: &'static str, inner: Q, after: &'static str) -> Self {
        Around {
            before,
            inner,
            after,
            _sql_type: std::marker::PhantomData,
        }
    }
}

impl<Q, ST> diesel::query_builder::QueryId for Around<Q, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, ST: diesel::sql_types::SqlType> diesel::query_builder::Query for Around<Q, ST> {
    type SqlType = ST;
}

impl<Q, ST> diesel::query_builder::QueryFragment<MultiBackend> for Around<Q, ST>
where
    Q: diesel::query_builder::QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        out.push_sql(self.before);
        self.inner.walk_ast(out.reborrow())?;
        out.push_sql(self.after);
        Ok(())
    }
}

impl<Q, ST> RunQueryDsl<DbConnection> for Around<Q, ST> {}

/// PostgreSQL's estimate of the rows a query returns (`EXPLAIN`, nothing run).
fn planner_rows(conn: &mut DbConnection, q: Boxed<'_>) -> QueryResult<i64> {
    let plan: String = Around::<_, Text>::new("EXPLAIN (FORMAT JSON) ", q.select(requests::id), "")
        .get_result(conn)?;
    let rows = serde_json::from_str::<serde_json::Value>(&plan)
        .ok()
        .and_then(|v| v.get(0)?.get("Plan")?.get("Plan Rows")?.as_f64())
        .unwrap_or(0.0);
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the planner's row estimate is a whole number in an f64"
    )]
    Ok(rows.max(0.0).round() as i64)
}

/// The total that a page of page numbers shows by itself: when nothing follows it and it has
/// rows (or starts at the top), the rows before it and its own are all there are.
fn shown_total(start: &Start, shown: i64, more: bool) -> Option<i64> {
    match start {
        Start::Offset(skipped) if !more && (shown > 0 || *skipped == 0) => Some(skipped + shown),
        _ => None,
    }
}

/// The default total on PostgreSQL, given the planner's estimate: `None` when the matches
/// must be counted (up to the exact limit), else the estimate, never below the rows seen.
/// `searching`: the list has a `q` ([`SURELY_LARGE_SEARCH`]).
fn estimate_without_count(planner: i64, seen: i64, searching: bool) -> Option<Total> {
    let surely_large = if searching {
        SURELY_LARGE_SEARCH
    } else {
        SURELY_LARGE_ESTIMATE
    };
    (planner > surely_large).then(|| Total::Estimate(planner.max(seen)))
}

fn count_total<'a>(
    conn: &mut DbConnection,
    base: &dyn Fn() -> Boxed<'a>,
    wanted: TotalWanted,
    seen: i64,
    searching: bool,
) -> QueryResult<Total> {
    let backend = backend(conn);
    // Count at most one row past the limit: bounded work at any size.
    let capped = |conn: &mut DbConnection| -> QueryResult<i64> {
        Around::<_, diesel::sql_types::BigInt>::new(
            "SELECT count(*) FROM (",
            base().select(requests::id).limit(EXACT_TOTAL_LIMIT + 1),
            ") AS capped",
        )
        .get_result(conn)
    };
    match (wanted, backend) {
        (TotalWanted::None, _) => Ok(Total::None),
        (TotalWanted::Exact, _) => Ok(Total::Exact(base().count().get_result(conn)?)),
        // SQLite has no planner estimate: the capped count, a lower bound beyond the limit.
        // Counting every match read each of them (a filter of a large share of a million,
        // `channel=letter`, `late=true`, cost 0.9–1.8 s against a page of 10–20 ms).
        (TotalWanted::Estimate | TotalWanted::Auto, Backend::Sqlite) => {
            Ok(capped_total(capped(conn)?, seen))
        }
        (TotalWanted::Estimate, Backend::Postgres) => {
            Ok(Total::Estimate(planner_rows(conn, base())?.max(seen)))
        }
        (TotalWanted::Auto, Backend::Postgres) => {
            // Planning costs far less than counting: a result the planner expects to be far
            // above the limit is not counted at all.
            let planner = planner_rows(conn, base())?;
            if let Some(total) = estimate_without_count(planner, seen, searching) {
                return Ok(total);
            }
            match capped_total(capped(conn)?, seen) {
                Total::AtLeast(n) => Ok(Total::Estimate(planner.max(n))),
                total => Ok(total),
            }
        }
    }
}

/// The total of a capped count (of at most [`EXACT_TOTAL_LIMIT`] + 1 rows): exact up to the
/// limit, else at least what was counted, never below the rows the page has seen.
fn capped_total(capped: i64, seen: i64) -> Total {
    if capped <= EXACT_TOTAL_LIMIT {
        Total::Exact(capped)
    } else {
        Total::AtLeast(capped.max(seen))
    }
}

/// The order of a sort's index, `(key, id)`, ties broken by the id. Rows without the date sort
/// last either way, the same on both databases: a dated sort reads the dated rows in this
/// order (`key IS NOT NULL`, a range of the index), then the undated ones by id.
fn index_ordered(q: Boxed<'_>, key: SortKey, desc: bool) -> Boxed<'_> {
    match (key, desc) {
        (SortKey::Received, false) => q.order((requests::receipt_date.asc(), requests::id.asc())),
        (SortKey::Received, true) => q.order((requests::receipt_date.desc(), requests::id.desc())),
        (SortKey::Due, false) => q.order((requests::due_date.asc(), requests::id.asc())),
        (SortKey::Due, true) => q.order((requests::due_date.desc(), requests::id.desc())),
        (SortKey::Created, false) => q.order((requests::created_at.asc(), requests::id.asc())),
        (SortKey::Created, true) => q.order((requests::created_at.desc(), requests::id.desc())),
        (SortKey::CaseNumber, false) => q.order((requests::case_number.asc(), requests::id.asc())),
        (SortKey::CaseNumber, true) => q.order((requests::case_number.desc(), requests::id.desc())),
    }
}

fn is_dated(key: SortKey) -> bool {
    matches!(key, SortKey::Received | SortKey::Due)
}

/// The first run of a page: the rows with the sort key, in the index's order.
fn keyed_run(q: Boxed<'_>, key: SortKey, desc: bool) -> Boxed<'_> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    let q = if is_dated(key) {
        q.filter(sql::<Bool>(&format!("{} IS NOT NULL", sort_column(key))))
    } else {
        q
    };
    index_ordered(q, key, desc)
}

/// The sort key's column, as SQL (for the row comparison of a cursor).
fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::Received => "requests.receipt_date",
        SortKey::Due => "requests.due_date",
        SortKey::Created => "requests.created_at",
        SortKey::CaseNumber => "requests.case_number",
    }
}

/// The ids of up to `limit` rows from `start` in the sort order. After a cursor, the row
/// comparison `(key, id) > (value, id)` is a range of the sort's index on both databases, so a
/// page costs the same at any depth; by offset the index is read in order and the skipped rows
/// counted off. A dated sort reads the dated rows first, then the undated ones by id.
fn page_ids<'a>(
    conn: &mut DbConnection,
    base: &dyn Fn() -> Boxed<'a>,
    (key, desc): (SortKey, bool),
    start: &Start,
    limit: i64,
) -> QueryResult<Vec<String>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Date, Timestamp};
    let column = sort_column(key);
    let undated = |conn: &mut DbConnection, after_id: Option<String>, skip: i64, n: i64| {
        let mut q = base().filter(sql::<Bool>(&format!("{column} IS NULL")));
        q = match (after_id, desc) {
            (Some(id), true) => q.filter(requests::id.lt(id)),
            (Some(id), false) => q.filter(requests::id.gt(id)),
            (None, _) => q,
        };
        let q = if desc {
            q.order(requests::id.desc())
        } else {
            q.order(requests::id.asc())
        };
        q.offset(skip)
            .limit(n)
            .select(requests::id)
            .load::<String>(conn)
    };
    let head = || {
        sql::<Bool>(&format!(
            "({column}, requests.id) {} (",
            if desc { "<" } else { ">" }
        ))
    };
    let mut q = base();
    let offset = match start {
        Start::Offset(offset) => *offset,
        Start::After(SortValue::Date(None), id) => {
            return undated(conn, Some(id.clone()), 0, limit);
        }
        Start::After(SortValue::Date(Some(d)), id) => {
            q = q.filter(
                head()
                    .bind::<Date, _>(*d)
                    .sql(", ")
                    .bind::<Text, _>(id.clone())
                    .sql(")"),
            );
            0
        }
        Start::After(SortValue::Created(t), id) => {
            q = q.filter(
                head()
                    .bind::<Timestamp, _>(*t)
                    .sql(", ")
                    .bind::<Text, _>(id.clone())
                    .sql(")"),
            );
            0
        }
        Start::After(SortValue::CaseNumber(c), id) => {
            q = q.filter(
                head()
                    .bind::<Text, _>(c.clone())
                    .sql(", ")
                    .bind::<Text, _>(id.clone())
                    .sql(")"),
            );
            0
        }
    };
    let mut ids: Vec<String> = keyed_run(q, key, desc)
        .offset(offset)
        .limit(limit)
        .select(requests::id)
        .load(conn)?;
    let found = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    if is_dated(key) && found < limit {
        // Past the dated rows. An offset beyond them skips that many undated ones; their count
        // is needed only here, at the end of the list.
        let skip = if found == 0 && offset > 0 {
            let dated: i64 = base()
                .filter(sql::<Bool>(&format!("{column} IS NOT NULL")))
                .count()
                .get_result(conn)?;
            (offset - dated).max(0)
        } else {
            0
        };
        ids.extend(undated(conn, None, skip, limit - found)?);
    }
    Ok(ids)
}

/// One page of the applications the caller sees, in the sort order, from `start`, with the
/// total asked for.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filter: &ListFilter,
    sort: (SortKey, bool),
    start: &Start,
    limit: i64,
    total: TotalWanted,
) -> Result<ListPage, DbError> {
    let scope = resolve(conn, visibility)?;
    let dialect = backend(conn);
    let drive = search_drive(conn, &scope, filter)?;
    let base = || filtered(&scope, filter, dialect, &drive, Some(sort.0));
    let count_base = || filtered(&scope, filter, dialect, &drive, None);
    // One row more than the page tells whether another page follows. Two steps: the page's
    // ids first, which the sort indexes answer without the wide rows, then those rows by
    // primary key.
    let mut ids = page_ids(conn, &base, sort, start, limit + 1)?;
    let skipped = match start {
        Start::Offset(offset) => *offset,
        Start::After(..) => 0,
    };
    let more = i64::try_from(ids.len()).unwrap_or(i64::MAX) > limit;
    ids.truncate(usize::try_from(limit).unwrap_or(0));
    let items = by_ids(conn, &ids)?;
    let shown = i64::try_from(items.len()).unwrap_or(0);
    let seen = skipped + shown + i64::from(more);
    let walk_estimate = match drive {
        SearchDrive::Walk { estimate } => estimate,
        _ => None,
    };
    // A last page of page numbers counts the matches itself: no count, exact whatever was
    // asked (except none).
    let total = match shown_total(start, shown, more) {
        Some(n) if total != TotalWanted::None => Total::Exact(n),
        // A search walked beside filters of fewer rows than its matches (SQLite).
        _ if matches!(total, TotalWanted::Auto | TotalWanted::Estimate)
            && walk_estimate.is_some() =>
        {
            Total::Estimate(walk_estimate.unwrap_or_default().max(seen))
        }
        // A search walked on SQLite counts from its FTS5 matches (a count by the walk's own
        // check would read the table).
        _ if dialect == Backend::Sqlite
            && drive == *WALK
            && filter
                .q
                .as_deref()
                .is_some_and(|q| !super::search::query_grams(q).is_empty()) =>
        {
            search_total(conn, &scope, filter, total, seen)?
        }
        _ => count_total(conn, &count_base, total, seen, filter.q.is_some())?,
    };
    let next = if more {
        items
            .last()
            .map(|a| (SortValue::of(sort.0, a), a.id.clone()))
    } else {
        None
    };
    Ok(ListPage { items, total, next })
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
    scoped(&scope, backend(conn))
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
    scoped(&scope, backend(conn))
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
    scoped(&scope, backend(conn))
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
        .get_result(conn)
        .optional()?;
    Ok(hits.unwrap_or(0))
}

/// Gives back one hit of a bucket in a window (an attempt counted before it was judged, that
/// turned out not to count).
pub fn rate_limit_release(
    conn: &mut DbConnection,
    bucket: &str,
    window_start: i64,
) -> QueryResult<usize> {
    use super::schema::rate_limits;
    diesel::update(
        rate_limits::table
            .filter(rate_limits::bucket.eq(bucket))
            .filter(rate_limits::window_start.eq(window_start))
            .filter(rate_limits::hits.gt(0)),
    )
    .set(rate_limits::hits.eq(rate_limits::hits - 1))
    .execute(conn)
}

/// Takes the next slot of a bucket that lets one attempt through per `interval`: the row's
/// `hits` holds the offset (seconds from `window_start`) before which no further attempt
/// passes. `None`: taken (the next one passes `interval` from `now_offset`); `Some(wait)`: the
/// slot is someone else's, for `wait` more seconds. Each statement is atomic on its own (a
/// conditional UPDATE; an INSERT that does nothing on conflict), so of concurrent attempts in
/// any processes exactly one takes a free slot.
pub fn rate_limit_take_slot(
    conn: &mut DbConnection,
    bucket: &str,
    window_start: i64,
    now_offset: i32,
    interval: i32,
) -> QueryResult<Option<i32>> {
    use super::schema::rate_limits;
    let next = now_offset.saturating_add(interval);
    let took = diesel::update(
        rate_limits::table
            .filter(rate_limits::bucket.eq(bucket))
            .filter(rate_limits::window_start.eq(window_start))
            .filter(rate_limits::hits.le(now_offset)),
    )
    .set(rate_limits::hits.eq(next))
    .execute(conn)?;
    if took == 1 {
        return Ok(None);
    }
    diesel::delete(
        rate_limits::table
            .filter(rate_limits::bucket.eq(bucket))
            .filter(rate_limits::window_start.lt(window_start)),
    )
    .execute(conn)?;
    let row = (
        rate_limits::bucket.eq(bucket),
        rate_limits::window_start.eq(window_start),
        rate_limits::hits.eq(next),
    );
    let inserted = match conn {
        DbConnection::Postgres(c) => diesel::insert_into(rate_limits::table)
            .values(row)
            .on_conflict((rate_limits::bucket, rate_limits::window_start))
            .do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_or_ignore_into(rate_limits::table)
            .values(row)
            .execute(c)?,
    };
    if inserted == 1 {
        return Ok(None);
    }
    let until = rate_limit_hits(conn, bucket, window_start)?;
    Ok(Some(until.saturating_sub(now_offset).max(1)))
}

/// Forgets every window of a bucket.
pub fn rate_limit_clear(conn: &mut DbConnection, bucket: &str) -> QueryResult<usize> {
    use super::schema::rate_limits;
    diesel::delete(rate_limits::table.filter(rate_limits::bucket.eq(bucket))).execute(conn)
}

/// Bulk insert (seeding and imports).
/// Inserts applications with their documents and, for applications written with their trails
/// (`gongkai seed`), those events: each application's `acts_without_notice` from its own
/// events, in the same insert.
pub fn insert_many(
    conn: &mut DbConnection,
    applications: &[Application],
    events: &[EventRow],
) -> QueryResult<()> {
    let mut acts: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for e in events {
        if let Some(part) = act_without_notice(e) {
            acts.entry(e.request_id.as_str())
                .and_modify(|a| {
                    a.push(';');
                    a.push_str(&part);
                })
                .or_insert(part);
        }
    }
    // Multi-row INSERT is not available through the multi-backend: use the inner connection.
    for chunk in applications.chunks(500) {
        let rows: Vec<RequestRow> = chunk.iter().map(to_row).collect();
        let docs: Vec<RequestDoc> = rows.iter().map(RequestRow::doc).collect();
        // Owned values: SQLite's multi-row INSERT applies to `Vec<T>`, not to references.
        let cores: Vec<_> = rows
            .into_iter()
            .map(|r| {
                let noted = acts.get(r.core.id.as_str()).cloned();
                (r.core, requests::acts_without_notice.eq(noted))
            })
            .collect();
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
    for chunk in events.chunks(1000) {
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

/// Fills `search_text` of up to `batch` rows written before the column existed (by an older
/// release); returns how many it filled. Called in batches after start until none is left.
pub fn fill_search_text(conn: &mut DbConnection, batch: i64) -> QueryResult<usize> {
    let rows: Vec<(String, String, String, String)> = requests::table
        .filter(requests::search_text.is_null())
        .select((
            requests::id,
            requests::case_number,
            requests::applicant_name,
            requests::description,
        ))
        .limit(batch)
        .load(conn)?;
    for (id, case_number, name, description) in &rows {
        let grams = super::search::document_grams(&[case_number, name, description]);
        diesel::update(requests::table.find(id))
            .set(requests::search_text.eq(grams))
            .execute(conn)?;
    }
    Ok(rows.len())
}

/// PostgreSQL's plan (`EXPLAIN`, text) of the first page's ids of a list over every agency:
/// the query `list` runs first (the keyed run), so tests and the list benchmark show which indexes it uses. Empty on
/// SQLite.
pub fn explain_list(
    conn: &mut DbConnection,
    filter: &ListFilter,
    sort: (SortKey, bool),
    limit: i64,
) -> QueryResult<String> {
    if backend(conn) == Backend::Sqlite {
        return Ok(String::new());
    }
    let scope = Scope::All;
    let q = keyed_run(
        filtered(&scope, filter, Backend::Postgres, WALK, Some(sort.0)),
        sort.0,
        sort.1,
    )
    .limit(limit)
    .select(requests::id);
    let lines: Vec<String> = Around::<_, Text>::new("EXPLAIN ", q, "").load(conn)?;
    Ok(lines.join("\n"))
}

/// `TRUE`, written into a PostgreSQL statement whose best plan depends on its values (a list
/// filtered by state, dates or channel over a million applications): it keeps diesel from
/// caching the statement as a named prepared one, so PostgreSQL plans it for each call's
/// values instead of settling on a generic plan after five runs that ignores them (a date
/// range's selectivity, a rare state). Every other statement is prepared once and may use a
/// generic plan: a read by primary key is not planned again on every request (forcing custom
/// plans for every statement cost the single-application read three quarters of its rate).
#[derive(Debug, Clone, Copy)]
pub struct PlannedPerCall;

impl diesel::expression::Expression for PlannedPerCall {
    type SqlType = diesel::sql_types::Bool;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for PlannedPerCall {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql("TRUE");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for PlannedPerCall {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> diesel::expression::SelectableExpression<QS> for PlannedPerCall {}
impl<QS> diesel::expression::AppearsOnTable<QS> for PlannedPerCall {}
impl diesel::expression::ValidGrouping<()> for PlannedPerCall {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_static_id<Q: diesel::query_builder::QueryId>(_: &Q) -> bool {
        Q::HAS_STATIC_QUERY_ID
    }

    #[test]
    fn a_search_beside_filters_is_estimated_as_independent_of_them() {
        // 娜 (87,602 matches) in one agency of 50,000 over a million.
        assert_eq!(independent_estimate(87_602, 50_000, 1_000_000), 4_380);
        assert_eq!(independent_estimate(20_999, 20_999, 21_002), 20_996);
        // Never nothing (the walk found the filters and the text each many times), and an
        // empty table answers too.
        assert_eq!(independent_estimate(6_000, 21_000, 1_000_000_000), 1);
        assert_eq!(independent_estimate(6_000, 21_000, 0), 1);
    }

    #[test]
    fn a_last_page_of_page_numbers_gives_its_own_total() {
        // Page 1 of 3 rows, nothing after it: 3.
        assert_eq!(shown_total(&Start::Offset(0), 3, false), Some(3));
        // An empty list: 0.
        assert_eq!(shown_total(&Start::Offset(0), 0, false), Some(0));
        // Page 3 at 50 a page, with 7 rows: 107.
        assert_eq!(shown_total(&Start::Offset(100), 7, false), Some(107));
        // More rows follow: unknown.
        assert_eq!(shown_total(&Start::Offset(0), 50, true), None);
        // Past the end: the rows before the offset are not known to exist.
        assert_eq!(shown_total(&Start::Offset(100), 0, false), None);
        // After a cursor the rows before it are not counted.
        let after = Start::After(SortValue::CaseNumber("x".into()), "id".into());
        assert_eq!(shown_total(&after, 3, false), None);
    }

    #[test]
    fn only_a_result_far_above_the_exact_limit_goes_uncounted() {
        // At or below twice the limit the matches are counted (a planner off by up to twice
        // must not turn 10,000 or fewer into an estimate).
        assert_eq!(estimate_without_count(EXACT_TOTAL_LIMIT, 51, false), None);
        assert_eq!(
            estimate_without_count(SURELY_LARGE_ESTIMATE, 51, false),
            None
        );
        assert_eq!(
            estimate_without_count(SURELY_LARGE_ESTIMATE + 1, 51, false),
            Some(Total::Estimate(SURELY_LARGE_ESTIMATE + 1))
        );
        // A search is estimated sooner: its count reads every match from the table.
        assert_eq!(estimate_without_count(SURELY_LARGE_SEARCH, 51, true), None);
        assert_eq!(
            estimate_without_count(SURELY_LARGE_SEARCH + 1, 51, true),
            Some(Total::Estimate(SURELY_LARGE_SEARCH + 1))
        );
        assert_eq!(
            estimate_without_count(SURELY_LARGE_SEARCH + 1, 51, false),
            None
        );
        // Never below the rows the page has seen.
        assert_eq!(
            estimate_without_count(30_000, 40_001, false),
            Some(Total::Estimate(40_001))
        );
    }

    #[test]
    fn a_capped_count_is_exact_up_to_the_limit_and_a_lower_bound_beyond() {
        assert_eq!(capped_total(0, 0), Total::Exact(0));
        assert_eq!(
            capped_total(EXACT_TOTAL_LIMIT, 51),
            Total::Exact(EXACT_TOTAL_LIMIT)
        );
        assert_eq!(
            capped_total(EXACT_TOTAL_LIMIT + 1, 51),
            Total::AtLeast(EXACT_TOTAL_LIMIT + 1)
        );
        // A deep page has seen more rows than the cap counts.
        assert_eq!(
            capped_total(EXACT_TOTAL_LIMIT + 1, 40_001),
            Total::AtLeast(40_001)
        );
    }

    /// Without a static query id diesel writes a statement's whole SQL on every call, only to
    /// find its prepared statement by that text (≈ 6 % of a read's CPU on SQLite).
    #[test]
    fn a_reads_statement_is_found_by_type_on_both_backends() {
        for backend in [Backend::Postgres, Backend::Sqlite] {
            assert!(
                has_static_id(&detail_query(backend, "some-id")),
                "{backend:?}"
            );
            assert!(
                has_static_id(&detail_query_with_agency(backend, "some-id")),
                "{backend:?}, with the agency"
            );
        }
    }

    #[test]
    fn each_fragment_type_gives_its_own_text_per_backend() {
        let pg = Fragment::<ActsWithoutNotice>::on(Backend::Postgres);
        let lite = Fragment::<ActsWithoutNotice>::on(Backend::Sqlite);
        assert!(pg.text().contains("string_agg"), "{}", pg.text());
        assert!(lite.text().contains("group_concat"), "{}", lite.text());
        // Built once: the same text on every call.
        assert!(std::ptr::eq(
            lite.text(),
            Fragment::<ActsWithoutNotice>::on(Backend::Sqlite).text()
        ));
    }
}
