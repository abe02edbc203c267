//! Notice rows and the document-number counters.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::DbConnection;
use super::schema::{notice_settings, notices};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = notices)]
#[diesel(treat_none_as_null = true)]
pub struct NoticeRow {
    pub id: String,
    pub request_id: String,
    pub agency_id: String,
    /// `domain::notice::NoticeType` code.
    pub kind: String,
    /// `draft`, `submitted`, `approved`, `issued`.
    pub state: String,
    /// The fields of the act, as sent (a JSON object with `on`).
    pub fields: String,
    /// Section key → the office's text (JSON object).
    pub paragraphs: String,
    /// The approval record (JSON array).
    pub approvals: String,
    /// Service attempts (JSON array).
    pub service: String,
    pub number: Option<String>,
    pub issued_on: Option<NaiveDate>,
    pub issued_text: Option<String>,
    pub text_sha256: Option<String>,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &NoticeRow) -> QueryResult<()> {
    diesel::insert_into(notices::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<NoticeRow>> {
    notices::table
        .find(id)
        .select(NoticeRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn of_request(conn: &mut DbConnection, request_id: &str) -> QueryResult<Vec<NoticeRow>> {
    notices::table
        .filter(notices::request_id.eq(request_id))
        .order((notices::created_at.asc(), notices::id.asc()))
        .select(NoticeRow::as_select())
        .load(conn)
}

/// Writes the row if its stored version is still `expected`.
pub fn update_if_version(
    conn: &mut DbConnection,
    row: &NoticeRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        notices::table
            .filter(notices::id.eq(&row.id))
            .filter(notices::version.eq(expected)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}

#[derive(QueryableByName)]
struct Seq {
    #[diesel(sql_type = Integer)]
    last_seq: i32,
}

/// The next document number of an agency, year and pattern. The upsert holds the counter row
/// until the issuing transaction ends: numbers are gapless, also across processes.
pub fn next_number(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
    pattern: &str,
) -> QueryResult<i32> {
    let row: Seq = diesel::sql_query(
        "INSERT INTO document_numbers (agency_id, year, pattern, last_seq) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (agency_id, year, pattern) DO UPDATE SET last_seq = document_numbers.last_seq + 1 \
         RETURNING last_seq",
    )
    .bind::<Text, _>(agency_id)
    .bind::<Integer, _>(year)
    .bind::<Text, _>(pattern)
    .get_result(conn)?;
    Ok(row.last_seq)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = notice_settings)]
pub struct NoticeSettingsRow {
    pub agency_id: String,
    /// JSON array of notice type codes.
    pub approval_required: String,
    pub version: i32,
    pub updated_by: Option<String>,
    pub updated_at: NaiveDateTime,
}

/// The settings rows of these agencies (those that have one).
pub fn settings_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<NoticeSettingsRow>> {
    notice_settings::table
        .filter(notice_settings::agency_id.eq_any(ids))
        .select(NoticeSettingsRow::as_select())
        .load(conn)
}

pub fn insert_settings(conn: &mut DbConnection, row: &NoticeSettingsRow) -> QueryResult<()> {
    diesel::insert_into(notice_settings::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Writes the row if its stored version is still `expected`.
pub fn update_settings_if_version(
    conn: &mut DbConnection,
    row: &NoticeSettingsRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        notice_settings::table
            .filter(notice_settings::agency_id.eq(&row.agency_id))
            .filter(notice_settings::version.eq(expected)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}
