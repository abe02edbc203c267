//! Review and litigation case rows.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::agencies::like_prefix;
use super::schema::{agencies, remedy_cases};
use super::{DbConnection, MultiBackend};
use crate::domain::access::Visibility;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = remedy_cases)]
#[diesel(treat_none_as_null = true)]
pub struct RemedyRow {
    pub id: String,
    pub kind: String,
    pub agency_id: String,
    pub request_id: Option<String>,
    pub applicant_name: String,
    pub body_name: String,
    pub filed_on: NaiveDate,
    pub received_on: Option<NaiveDate>,
    pub act_known_on: Option<NaiveDate>,
    pub route: Option<String>,
    pub review_id: Option<String>,
    pub instance: Option<String>,
    pub decision_type: Option<String>,
    pub decided_on: Option<NaiveDate>,
    pub outcome: String,
    pub notes: Option<String>,
    pub filing_deadline: Option<NaiveDate>,
    pub filing_rule: Option<String>,
    pub filed_late: bool,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The day the review decision was served on the applicant (reviews).
    pub decision_served_on: Option<NaiveDate>,
    /// Where the filing limit starts, and on what evidence (`remedy::StartBasis` codes).
    pub filing_starts_on: Option<NaiveDate>,
    pub filing_start_basis: Option<String>,
    /// A direct suit against a refusal replied since 2024-01-01 (review comes first).
    pub review_first_required: bool,
}

pub fn insert(conn: &mut DbConnection, row: &RemedyRow) -> QueryResult<()> {
    diesel::insert_into(remedy_cases::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RemedyRow>> {
    remedy_cases::table
        .find(id)
        .select(RemedyRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn update_if_version(
    conn: &mut DbConnection,
    row: &RemedyRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        remedy_cases::table
            .filter(remedy_cases::id.eq(&row.id))
            .filter(remedy_cases::version.eq(expected)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}

pub fn for_request(conn: &mut DbConnection, request_id: &str) -> QueryResult<Vec<RemedyRow>> {
    remedy_cases::table
        .filter(remedy_cases::request_id.eq(request_id))
        .order((remedy_cases::filed_on.asc(), remedy_cases::id.asc()))
        .select(RemedyRow::as_select())
        .load(conn)
}

/// Suits that name this review.
pub fn suits_after(conn: &mut DbConnection, review_id: &str) -> QueryResult<Vec<RemedyRow>> {
    remedy_cases::table
        .filter(remedy_cases::review_id.eq(review_id))
        .select(RemedyRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Default)]
pub struct RemedyFilter {
    pub route: Option<String>,
    pub outcome: Option<String>,
    pub pending: Option<bool>,
    pub filed_from: Option<NaiveDate>,
    pub filed_to: Option<NaiveDate>,
    pub decided_from: Option<NaiveDate>,
    pub decided_to: Option<NaiveDate>,
    pub request_id: Option<String>,
}

fn filtered<'a>(
    kind: &'a str,
    vis: &'a Visibility,
    f: &'a RemedyFilter,
) -> remedy_cases::BoxedQuery<'a, MultiBackend> {
    let mut q = remedy_cases::table
        .into_boxed()
        .filter(remedy_cases::kind.eq(kind));
    q = match vis {
        Visibility::Agency(id) => q.filter(remedy_cases::agency_id.eq(id.as_str())),
        Visibility::Subtree(path) => q.filter(
            remedy_cases::agency_id.eq_any(
                agencies::table
                    .filter(agencies::path.like(like_prefix(path)).escape('\\'))
                    .select(agencies::id),
            ),
        ),
    };
    if let Some(r) = &f.route {
        q = q.filter(remedy_cases::route.eq(r.as_str()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(remedy_cases::outcome.eq(o.as_str()));
    }
    if let Some(p) = f.pending {
        q = if p {
            q.filter(remedy_cases::outcome.eq("pending"))
        } else {
            q.filter(remedy_cases::outcome.ne("pending"))
        };
    }
    if let Some(d) = f.filed_from {
        q = q.filter(remedy_cases::filed_on.ge(d));
    }
    if let Some(d) = f.filed_to {
        q = q.filter(remedy_cases::filed_on.le(d));
    }
    if let Some(d) = f.decided_from {
        q = q.filter(remedy_cases::decided_on.ge(d));
    }
    if let Some(d) = f.decided_to {
        q = q.filter(remedy_cases::decided_on.le(d));
    }
    if let Some(r) = &f.request_id {
        q = q.filter(remedy_cases::request_id.eq(r.as_str()));
    }
    q
}

pub fn list(
    conn: &mut DbConnection,
    kind: &str,
    vis: &Visibility,
    f: &RemedyFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<RemedyRow>, i64)> {
    let total = filtered(kind, vis, f).count().get_result(conn)?;
    let items = filtered(kind, vis, f)
        .order((remedy_cases::filed_on.desc(), remedy_cases::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(RemedyRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// The cases with these ids, in the order of `ids`: one query.
pub fn rows_by_ids(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<RemedyRow>> {
    let mut rows: Vec<RemedyRow> = remedy_cases::table
        .filter(remedy_cases::id.eq_any(ids))
        .select(RemedyRow::as_select())
        .load(conn)?;
    rows.sort_by_key(|r| ids.iter().position(|i| *i == r.id).unwrap_or(usize::MAX));
    Ok(rows)
}
