//! The yearly report's SQL: aggregates over applications and cases (never rows counted in
//! Rust), the entered parts, and published versions.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};

use super::DbConnection;
use super::agencies::like_prefix;
use super::schema::{report_drafts, report_versions};

/// Which agencies a report covers.
#[derive(Debug, Clone)]
pub enum ReportScope {
    Agency(String),
    /// The agency with this path and all below (roll-up).
    Subtree(String),
}

impl ReportScope {
    /// The SQL condition on `agency_id` and its one text parameter.
    fn condition(&self) -> (&'static str, String) {
        match self {
            ReportScope::Agency(id) => ("agency_id = $1", id.clone()),
            ReportScope::Subtree(path) => (
                "agency_id IN (SELECT id FROM agencies WHERE path LIKE $1 ESCAPE '\\')",
                like_prefix(path),
            ),
        }
    }
}

/// PostgreSQL numbers parameters `$1`; SQLite reads `$1` as a *named* parameter numbered by first
/// appearance, so for SQLite the same text is written with `?1`, which keeps the explicit index.
pub(crate) fn portable(conn: &DbConnection, sql: String) -> String {
    match conn {
        DbConnection::Postgres(_) => sql,
        DbConnection::Sqlite(_) => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

#[derive(QueryableByName)]
struct FlowRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    disposition: Option<String>,
    #[diesel(sql_type = BigInt)]
    new_count: i64,
    #[diesel(sql_type = BigInt)]
    carried_in: i64,
    #[diesel(sql_type = BigInt)]
    closed_in_year: i64,
    #[diesel(sql_type = BigInt)]
    carried_out: i64,
    #[diesel(sql_type = BigInt)]
    previous_carried_out: i64,
}

/// Table 三's counts for year `[start, end]` in one pass: applications with a receipt date only
/// (one awaiting confirmation is not yet received, §3), grouped by applicant kind and
/// disposition, with the previous year's `carried_out` for the continuity check. The covering
/// index `requests_report` makes it an index-only scan on PostgreSQL.
pub fn application_counts(
    conn: &mut DbConnection,
    scope: &ReportScope,
    start: NaiveDate,
    end: NaiveDate,
) -> QueryResult<crate::domain::report::ApplicationCounts> {
    let (cond, param) = scope.condition();
    let previous_end = start.pred_opt().unwrap_or(start);
    let sum = |expr: &str| {
        format!("CAST(COALESCE(SUM(CASE WHEN {expr} THEN 1 ELSE 0 END), 0) AS BIGINT)")
    };
    let rows: Vec<FlowRow> = diesel::sql_query(portable(
        conn,
        format!(
            "SELECT applicant_kind AS kind, disposition, \
               {} AS new_count, {} AS carried_in, {} AS closed_in_year, {} AS carried_out, {} AS previous_carried_out \
             FROM requests WHERE {cond} AND receipt_date IS NOT NULL AND receipt_date <= $3 \
             GROUP BY applicant_kind, disposition",
            sum("receipt_date >= $2"),
            sum("receipt_date < $2 AND (closed_on IS NULL OR closed_on >= $2)"),
            sum("disposition IS NOT NULL AND closed_on >= $2 AND closed_on <= $3"),
            sum("closed_on IS NULL OR closed_on > $3"),
            sum("receipt_date <= $4 AND (closed_on IS NULL OR closed_on > $4)"),
        ),
    ))
    .bind::<Text, _>(&param)
    .bind::<Date, _>(start)
    .bind::<Date, _>(end)
    .bind::<Date, _>(previous_end)
    .load(conn)?;
    let mut c = crate::domain::report::ApplicationCounts::default();
    for r in rows {
        *c.new.entry(r.kind.clone()).or_insert(0) += r.new_count;
        *c.carried_in.entry(r.kind.clone()).or_insert(0) += r.carried_in;
        *c.carried_out.entry(r.kind.clone()).or_insert(0) += r.carried_out;
        *c.previous_carried_out.entry(r.kind.clone()).or_insert(0) += r.previous_carried_out;
        if let Some(d) = r.disposition
            && r.closed_in_year > 0
        {
            *c.closed.entry((d, r.kind)).or_insert(0) += r.closed_in_year;
        }
    }
    Ok(c)
}

#[derive(QueryableByName)]
struct RemedyCount {
    #[diesel(sql_type = Text)]
    grp: String,
    #[diesel(sql_type = Text)]
    oc: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How a case is assigned to a report year (domain.md §8; a setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemedyCounting {
    /// Received (notified; else filed) in the year, with its outcome as of 31 December.
    ReceivedInYear,
    /// Received in the year, or pending at its start and decided in it.
    ActiveInYear,
}

const REMEDY_GROUP_SQL: &str = "CASE WHEN kind = 'review' THEN 'review' \
     WHEN route = 'after_review' THEN 'litigation_after_review' ELSE 'litigation_direct' END";
const REMEDY_OUTCOME_SQL: &str =
    "CASE WHEN decided_on IS NOT NULL AND decided_on <= $3 THEN outcome ELSE 'pending' END";

fn remedy_year_condition(counting: RemedyCounting) -> &'static str {
    match counting {
        RemedyCounting::ReceivedInYear => {
            "COALESCE(received_on, filed_on) >= $2 AND COALESCE(received_on, filed_on) <= $3"
        }
        RemedyCounting::ActiveInYear => {
            "((COALESCE(received_on, filed_on) >= $2 AND COALESCE(received_on, filed_on) <= $3) \
              OR (COALESCE(received_on, filed_on) < $2 AND decided_on >= $2 AND decided_on <= $3))"
        }
    }
}

/// Table 四's counts per (group, outcome).
pub fn remedy_counts(
    conn: &mut DbConnection,
    scope: &ReportScope,
    start: NaiveDate,
    end: NaiveDate,
    counting: RemedyCounting,
) -> QueryResult<BTreeMap<(String, String), i64>> {
    let (cond, param) = scope.condition();
    let rows: Vec<RemedyCount> = diesel::sql_query(portable(
        conn,
        format!(
            "SELECT grp, oc, CAST(COUNT(*) AS BIGINT) AS n FROM ( \
           SELECT {REMEDY_GROUP_SQL} AS grp, {REMEDY_OUTCOME_SQL} AS oc FROM remedy_cases \
           WHERE {cond} AND {} ) AS cases GROUP BY grp, oc",
            remedy_year_condition(counting)
        ),
    ))
    .bind::<Text, _>(&param)
    .bind::<Date, _>(start)
    .bind::<Date, _>(end)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| ((r.grp, r.oc), r.n)).collect())
}

#[derive(QueryableByName)]
struct FeeRow {
    #[diesel(sql_type = BigInt)]
    notices: i64,
    #[diesel(sql_type = BigInt)]
    charged: i64,
    #[diesel(sql_type = BigInt)]
    collected: i64,
}

/// Fee notices issued in the year, the amount they charged, and the amount paid in the year (fen).
pub fn fee_totals(
    conn: &mut DbConnection,
    scope: &ReportScope,
    start: NaiveDate,
    end: NaiveDate,
) -> QueryResult<(i64, i64, i64)> {
    let (cond, param) = scope.condition();
    let r: FeeRow = diesel::sql_query(portable(conn, format!(
        "SELECT \
           CAST(COALESCE(SUM(CASE WHEN fee_notice_on >= $2 AND fee_notice_on <= $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS notices, \
           CAST(COALESCE(SUM(CASE WHEN fee_notice_on >= $2 AND fee_notice_on <= $3 THEN fee_amount_fen ELSE 0 END), 0) AS BIGINT) AS charged, \
           CAST(COALESCE(SUM(CASE WHEN fee_paid_on >= $2 AND fee_paid_on <= $3 THEN fee_paid_fen ELSE 0 END), 0) AS BIGINT) AS collected \
         FROM requests WHERE {cond} AND fee_notice_on IS NOT NULL"
    )))
    .bind::<Text, _>(&param)
    .bind::<Date, _>(start)
    .bind::<Date, _>(end)
    .get_result(conn)?;
    Ok((r.notices, r.charged, r.collected))
}

/// The SQL condition of one cell of table 三 (for the drill-down), over `requests`.
pub fn application_cell_condition(row: &str) -> Option<String> {
    let received = "receipt_date IS NOT NULL";
    Some(match row {
        "new" => format!("{received} AND receipt_date >= $2 AND receipt_date <= $3"),
        "carried_in" => {
            format!("{received} AND receipt_date < $2 AND (closed_on IS NULL OR closed_on >= $2)")
        }
        "carried_out" => {
            format!("{received} AND receipt_date <= $3 AND (closed_on IS NULL OR closed_on > $3)")
        }
        "total" => format!(
            "{received} AND disposition IS NOT NULL AND closed_on >= $2 AND closed_on <= $3"
        ),
        "other" => format!(
            "{received} AND disposition LIKE 'other.%' AND closed_on >= $2 AND closed_on <= $3"
        ),
        d if crate::domain::disposition::Disposition::parse(d).is_some() => {
            format!("{received} AND disposition = '{d}' AND closed_on >= $2 AND closed_on <= $3")
        }
        _ => return None,
    })
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Ids (a page, stable order) and count of the applications counted in one cell.
#[allow(clippy::too_many_arguments)]
pub fn application_cell(
    conn: &mut DbConnection,
    scope: &ReportScope,
    start: NaiveDate,
    end: NaiveDate,
    condition: &str,
    kind: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<String>, i64)> {
    let (cond, param) = scope.condition();
    let kind_cond = if kind.is_some() {
        "AND applicant_kind = $4"
    } else {
        "AND $4 IS NULL"
    };
    let base = format!("FROM requests WHERE {cond} AND {condition} {kind_cond}");
    let total: CountRow = diesel::sql_query(portable(
        conn,
        format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {base}"),
    ))
    .bind::<Text, _>(&param)
    .bind::<Date, _>(start)
    .bind::<Date, _>(end)
    .bind::<Nullable<Text>, _>(kind)
    .get_result(conn)?;
    let ids: Vec<IdRow> = diesel::sql_query(portable(
        conn,
        format!("SELECT id {base} ORDER BY receipt_date, id LIMIT {limit} OFFSET {offset}"),
    ))
    .bind::<Text, _>(&param)
    .bind::<Date, _>(start)
    .bind::<Date, _>(end)
    .bind::<Nullable<Text>, _>(kind)
    .load(conn)?;
    Ok((ids.into_iter().map(|r| r.id).collect(), total.n))
}

/// Ids and count of the cases counted in one cell of table 四.
#[allow(clippy::too_many_arguments)]
pub fn remedy_cell(
    conn: &mut DbConnection,
    scope: &ReportScope,
    start: NaiveDate,
    end: NaiveDate,
    counting: RemedyCounting,
    group: &str,
    outcome: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<String>, i64)> {
    let (cond, param) = scope.condition();
    let outcome_cond = if outcome.is_some() {
        "AND oc = $5"
    } else {
        "AND $5 IS NULL"
    };
    let base = format!(
        "FROM (SELECT id, filed_on, {REMEDY_GROUP_SQL} AS grp, {REMEDY_OUTCOME_SQL} AS oc FROM remedy_cases \
         WHERE {cond} AND {}) AS cases WHERE grp = $4 {outcome_cond}",
        remedy_year_condition(counting)
    );
    let total: CountRow = diesel::sql_query(portable(
        conn,
        format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {base}"),
    ))
    .bind::<Text, _>(&param)
    .bind::<Date, _>(start)
    .bind::<Date, _>(end)
    .bind::<Text, _>(group)
    .bind::<Nullable<Text>, _>(outcome)
    .get_result(conn)?;
    let ids: Vec<IdRow> = diesel::sql_query(portable(
        conn,
        format!("SELECT id {base} ORDER BY filed_on, id LIMIT {limit} OFFSET {offset}"),
    ))
    .bind::<Text, _>(&param)
    .bind::<Date, _>(start)
    .bind::<Date, _>(end)
    .bind::<Text, _>(group)
    .bind::<Nullable<Text>, _>(outcome)
    .load(conn)?;
    Ok((ids.into_iter().map(|r| r.id).collect(), total.n))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = report_drafts)]
pub struct DraftRow {
    pub agency_id: String,
    pub year: i32,
    pub proactive: String,
    pub narrative: String,
    pub updated_at: NaiveDateTime,
    pub updated_by: Option<String>,
}

pub fn find_draft(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
) -> QueryResult<Option<DraftRow>> {
    report_drafts::table
        .find((agency_id, year))
        .select(DraftRow::as_select())
        .first(conn)
        .optional()
}

pub fn save_draft(conn: &mut DbConnection, row: &DraftRow) -> QueryResult<()> {
    let n = diesel::update(report_drafts::table.find((&row.agency_id, row.year)))
        .set(row)
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(report_drafts::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = report_versions)]
pub struct VersionRow {
    pub agency_id: String,
    pub year: i32,
    pub version: i32,
    pub snapshot: String,
    pub published_at: NaiveDateTime,
    pub published_by: String,
    pub reopened_at: Option<NaiveDateTime>,
    pub reopened_by: Option<String>,
    pub reopen_reason: Option<String>,
}

pub fn versions(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
) -> QueryResult<Vec<VersionRow>> {
    report_versions::table
        .filter(report_versions::agency_id.eq(agency_id))
        .filter(report_versions::year.eq(year))
        .order(report_versions::version.asc())
        .select(VersionRow::as_select())
        .load(conn)
}

pub fn insert_version(conn: &mut DbConnection, row: &VersionRow) -> QueryResult<()> {
    diesel::insert_into(report_versions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn reopen(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
    version: i32,
    by: &str,
    reason: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        report_versions::table
            .filter(report_versions::agency_id.eq(agency_id))
            .filter(report_versions::year.eq(year))
            .filter(report_versions::version.eq(version))
            .filter(report_versions::reopened_at.is_null()),
    )
    .set((
        report_versions::reopened_at.eq(Some(at)),
        report_versions::reopened_by.eq(Some(by)),
        report_versions::reopen_reason.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Whether the agency has a published, not reopened report for the year: its figures are frozen.
pub fn is_published(conn: &mut DbConnection, agency_id: &str, year: i32) -> QueryResult<bool> {
    use diesel::dsl::count_star;
    let n: i64 = report_versions::table
        .filter(report_versions::agency_id.eq(agency_id))
        .filter(report_versions::year.eq(year))
        .filter(report_versions::reopened_at.is_null())
        .select(count_star())
        .first(conn)?;
    Ok(n > 0)
}

pub fn published_years(conn: &mut DbConnection, agency_id: &str) -> QueryResult<Vec<i32>> {
    report_versions::table
        .filter(report_versions::agency_id.eq(agency_id))
        .filter(report_versions::reopened_at.is_null())
        .select(report_versions::year)
        .distinct()
        .load(conn)
}
