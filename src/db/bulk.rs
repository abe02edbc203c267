//! Queries of bulk import and export: many case numbers at once, taken external references in
//! one query per chunk, and the keyset pages of a year's export.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::DbConnection;
use super::remedies::RemedyRow;
use super::requests::{EventRow, RequestCore, RequestRow, from_row};
use super::schema::{agencies, remedy_cases, request_documents, request_events, requests};
use crate::domain::request::Application;

#[derive(QueryableByName)]
struct Seq {
    #[diesel(sql_type = Integer)]
    last_seq: i32,
}

/// Takes `n` case numbers of an agency and year from the same counter as intake and returns
/// the last one: the numbers are `last - n + 1 ..= last`. Like
/// [`next_case_seq`](super::requests::next_case_seq) it holds the counter row until commit, and
/// a rollback gives the numbers back.
pub fn reserve_case_seqs(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
    n: i32,
) -> QueryResult<i32> {
    let row: Seq = diesel::sql_query(
        "INSERT INTO case_counters (agency_id, year, last_seq) VALUES ($1, $2, $3) \
         ON CONFLICT (agency_id, year) DO UPDATE SET last_seq = case_counters.last_seq + excluded.last_seq \
         RETURNING last_seq",
    )
    .bind::<Text, _>(agency_id)
    .bind::<Integer, _>(year)
    .bind::<Integer, _>(n)
    .get_result(conn)?;
    Ok(row.last_seq)
}

/// Which of these external references the agency already uses.
pub fn taken_external_references(
    conn: &mut DbConnection,
    agency_id: &str,
    references: &[String],
) -> QueryResult<Vec<String>> {
    let mut taken = Vec::new();
    for chunk in references.chunks(500) {
        let found: Vec<Option<String>> = requests::table
            .filter(requests::agency_id.eq(agency_id))
            .filter(requests::external_reference.eq_any(chunk))
            .select(requests::external_reference)
            .load(conn)?;
        taken.extend(found.into_iter().flatten());
    }
    Ok(taken)
}

/// Every agency's id, in id order (an export over the whole tree).
pub fn all_agency_ids(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    agencies::table
        .select(agencies::id)
        .order(agencies::id.asc())
        .load(conn)
}

/// One keyset page of an agency's applications of a case year, after `after_seq`, in case
/// number order: the unique index (agency_id, case_year, case_seq) answers it without a sort.
pub fn year_page(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
    after_seq: i32,
    limit: i64,
) -> Result<Vec<Application>, super::DbError> {
    let rows: Vec<(RequestCore, String, String)> = requests::table
        .inner_join(request_documents::table)
        .filter(requests::agency_id.eq(agency_id))
        .filter(requests::case_year.eq(year))
        .filter(requests::case_seq.gt(after_seq))
        .order(requests::case_seq.asc())
        .limit(limit)
        .select((
            RequestCore::as_select(),
            request_documents::details,
            request_documents::workflow,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(core, details, workflow)| {
            from_row(RequestRow {
                core,
                details,
                workflow,
            })
        })
        .collect()
}

/// The trails of these applications, by application and step.
pub fn events_of(conn: &mut DbConnection, request_ids: &[String]) -> QueryResult<Vec<EventRow>> {
    request_events::table
        .filter(request_events::request_id.eq_any(request_ids))
        .order((request_events::request_id.asc(), request_events::seq.asc()))
        .select(EventRow::as_select())
        .load(conn)
}

/// The reviews and lawsuits about these applications.
pub fn remedies_of(conn: &mut DbConnection, request_ids: &[String]) -> QueryResult<Vec<RemedyRow>> {
    remedy_cases::table
        .filter(remedy_cases::request_id.eq_any(request_ids))
        .order((remedy_cases::filed_on.asc(), remedy_cases::id.asc()))
        .select(RemedyRow::as_select())
        .load(conn)
}
