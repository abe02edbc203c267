//! The yearly report's SQL: aggregates over applications and cases (never rows counted in
//! Rust) and drill-downs, both rendered from the cell rules of `domain::report::cells`; the
//! entered parts, and published versions.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};

pub use crate::domain::report::cells::RemedyCounting;
use crate::domain::report::cells::{
    self, CellRule, Cmp, Cond, DateField, Facts, TableRules, TextField, YearBounds,
};

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

// ---------------------------------------------------------------------------------------------
// Tables 三 and 四: the cell rules of `domain::report::cells`, rendered as SQL
// ---------------------------------------------------------------------------------------------

/// The column (or expression) of a fact.
fn date_column(f: DateField) -> &'static str {
    match f {
        DateField::ReceiptDate => "receipt_date",
        DateField::ClosedOn => "closed_on",
        DateField::CaseReceived => "COALESCE(received_on, filed_on)",
        DateField::DecidedOn => "decided_on",
    }
}

fn text_column(f: TextField) -> &'static str {
    match f {
        TextField::ApplicantKind => "applicant_kind",
        TextField::Disposition => "disposition",
        TextField::CaseKind => "kind",
        TextField::Route => "route",
        TextField::Outcome => "outcome",
    }
}

fn quoted(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// A rule as SQL. The year's days are literals (both backends store dates as ISO text or
/// `date`, so they compare as dates), so the text binds only the scope (`$1`).
fn render(conn: &DbConnection, c: &Cond, y: &YearBounds) -> String {
    let list = |vs: &[&str]| vs.iter().map(|v| quoted(v)).collect::<Vec<_>>().join(", ");
    let join = |cs: &[Cond], op: &str, empty: &str| {
        if cs.is_empty() {
            empty.to_string()
        } else {
            let parts: Vec<String> = cs.iter().map(|c| render(conn, c, y)).collect();
            format!("({})", parts.join(op))
        }
    };
    match c {
        Cond::True => "1 = 1".into(),
        Cond::All(cs) => join(cs, " AND ", "1 = 1"),
        Cond::Any(cs) => join(cs, " OR ", "1 = 0"),
        Cond::DateSet(f) => format!("{} IS NOT NULL", date_column(*f)),
        Cond::DateUnset(f) => format!("{} IS NULL", date_column(*f)),
        Cond::Date(f, cmp, b) => {
            let op = match cmp {
                Cmp::Lt => "<",
                Cmp::Le => "<=",
                Cmp::Ge => ">=",
                Cmp::Gt => ">",
            };
            let day = y.date(*b).format("%Y-%m-%d").to_string();
            let literal = match conn {
                DbConnection::Postgres(_) => format!("DATE '{day}'"),
                DbConnection::Sqlite(_) => format!("'{day}'"),
            };
            format!("{} {op} {literal}", date_column(*f))
        }
        Cond::TextSet(f) => format!("{} IS NOT NULL", text_column(*f)),
        Cond::TextUnset(f) => format!("{} IS NULL", text_column(*f)),
        Cond::TextIn(_, vs) if vs.is_empty() => "1 = 0".into(),
        Cond::TextIn(f, vs) => format!("{} IN ({})", text_column(*f), list(vs)),
        Cond::TextNotIn(f, vs) if vs.is_empty() => format!("{} IS NOT NULL", text_column(*f)),
        Cond::TextNotIn(f, vs) => format!("{} NOT IN ({})", text_column(*f), list(vs)),
    }
}

const KEY_SLOTS: usize = 3;
const SUM_SLOTS: usize = 8;

/// One group of the aggregate: its key codes and one count per distinct `when`.
#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = Nullable<Text>)]
    k0: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    k1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    k2: Option<String>,
    #[diesel(sql_type = BigInt)]
    s0: i64,
    #[diesel(sql_type = BigInt)]
    s1: i64,
    #[diesel(sql_type = BigInt)]
    s2: i64,
    #[diesel(sql_type = BigInt)]
    s3: i64,
    #[diesel(sql_type = BigInt)]
    s4: i64,
    #[diesel(sql_type = BigInt)]
    s5: i64,
    #[diesel(sql_type = BigInt)]
    s6: i64,
    #[diesel(sql_type = BigInt)]
    s7: i64,
}

/// The key codes of a group, as facts for the rules' `select`s.
struct GroupKeys<'a> {
    fields: &'a [TextField],
    values: [Option<String>; KEY_SLOTS],
}

impl Facts for GroupKeys<'_> {
    fn date(&self, _: DateField) -> Option<NaiveDate> {
        None
    }

    fn text(&self, f: TextField) -> Option<&str> {
        let i = self.fields.iter().position(|g| *g == f)?;
        self.values.get(i).and_then(|v| v.as_deref())
    }
}

/// Every cell of a table in one pass over the scope's rows: `GROUP BY` the key codes with one
/// `SUM(CASE WHEN <when> …)` per distinct date condition; a cell sums, over the groups its
/// `select` picks, the count of its term's `when`.
fn aggregate(
    conn: &mut DbConnection,
    table: &str,
    rules: &TableRules,
    scope: &ReportScope,
    y: &YearBounds,
) -> QueryResult<BTreeMap<(&'static str, &'static str), i64>> {
    let whens = rules.whens();
    if whens.len() > SUM_SLOTS || rules.keys.len() > KEY_SLOTS {
        return Err(diesel::result::Error::QueryBuilderError(
            "a report table has more date conditions or key codes than the aggregate holds".into(),
        ));
    }
    let (cond, param) = scope.condition();
    let keys: Vec<String> = (0..KEY_SLOTS)
        .map(|i| match rules.keys.get(i) {
            Some(f) => format!("{} AS k{i}", text_column(*f)),
            None => format!("CAST(NULL AS TEXT) AS k{i}"),
        })
        .collect();
    let sums: Vec<String> = (0..SUM_SLOTS)
        .map(|i| match whens.get(i) {
            Some(w) => format!(
                "CAST(COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS BIGINT) AS s{i}",
                render(conn, w, y)
            ),
            None => format!("CAST(0 AS BIGINT) AS s{i}"),
        })
        .collect();
    let group_by: Vec<&str> = rules.keys.iter().map(|f| text_column(*f)).collect();
    let sql = format!(
        "SELECT {}, {} FROM {table} WHERE {cond} AND {} GROUP BY {}",
        keys.join(", "),
        sums.join(", "),
        render(conn, &rules.universe, y),
        group_by.join(", "),
    );
    let groups: Vec<GroupRow> = diesel::sql_query(portable(conn, sql))
        .bind::<Text, _>(&param)
        .load(conn)?;
    // Which sum each term reads.
    let slots: Vec<Vec<(&Cond, usize)>> = rules
        .cells
        .iter()
        .map(|c| {
            c.terms
                .iter()
                .map(|t| {
                    (
                        &t.select,
                        whens.iter().position(|w| *w == &t.when).unwrap_or(0),
                    )
                })
                .collect()
        })
        .collect();
    let mut out: BTreeMap<(&'static str, &'static str), i64> =
        rules.cells.iter().map(|c| ((c.row, c.column), 0)).collect();
    for g in groups {
        let counts = [g.s0, g.s1, g.s2, g.s3, g.s4, g.s5, g.s6, g.s7];
        let keys = GroupKeys {
            fields: &rules.keys,
            values: [g.k0, g.k1, g.k2],
        };
        for (cell, terms) in rules.cells.iter().zip(&slots) {
            for (select, slot) in terms {
                if select.holds(&keys, y) {
                    *out.entry((cell.row, cell.column)).or_insert(0) += counts[*slot];
                }
            }
        }
    }
    Ok(out)
}

fn bounds(start: NaiveDate) -> QueryResult<YearBounds> {
    use chrono::Datelike;
    YearBounds::new(start.year()).ok_or_else(|| {
        diesel::result::Error::QueryBuilderError("a report year out of range".into())
    })
}

/// Table 三's counts for the year starting at `start` (every cell of both formats, and the
/// previous year's `carried_out` for the continuity check) in one pass over the scope's
/// received applications. The covering index `requests_report` makes it an index-only scan on
/// PostgreSQL.
pub fn application_counts(
    conn: &mut DbConnection,
    scope: &ReportScope,
    start: NaiveDate,
    _end: NaiveDate,
) -> QueryResult<crate::domain::report::ApplicationCounts> {
    let y = bounds(start)?;
    let counted = aggregate(conn, "requests", cells::applications(), scope, &y)?;
    let mut c = crate::domain::report::ApplicationCounts::default();
    for ((row, column), n) in counted {
        if row == cells::PREVIOUS_CARRIED_OUT {
            c.previous_carried_out.insert(column.to_string(), n);
        } else {
            c.cells.insert((row.to_string(), column.to_string()), n);
        }
    }
    Ok(c)
}

/// Table 四's counts per (group, outcome), `total` included.
pub fn remedy_counts(
    conn: &mut DbConnection,
    scope: &ReportScope,
    start: NaiveDate,
    _end: NaiveDate,
    counting: RemedyCounting,
) -> QueryResult<BTreeMap<(String, String), i64>> {
    let y = bounds(start)?;
    let counted = aggregate(conn, "remedy_cases", cells::remedies(counting), scope, &y)?;
    Ok(counted
        .into_iter()
        .map(|((g, o), n)| ((g.to_string(), o.to_string()), n))
        .collect())
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

/// Ids (a page, in `order`) and count of the rows of `table` in scope that a cell counts.
#[allow(clippy::too_many_arguments)]
fn cell_rows(
    conn: &mut DbConnection,
    table: &str,
    rules: &TableRules,
    cell: &CellRule,
    scope: &ReportScope,
    y: &YearBounds,
    order: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<String>, i64)> {
    let (cond, param) = scope.condition();
    let base = format!(
        "FROM {table} WHERE {cond} AND {}",
        render(conn, &rules.condition(cell), y)
    );
    let total: CountRow = diesel::sql_query(portable(
        conn,
        format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {base}"),
    ))
    .bind::<Text, _>(&param)
    .get_result(conn)?;
    let ids: Vec<IdRow> = diesel::sql_query(portable(
        conn,
        format!("SELECT id {base} ORDER BY {order} LIMIT {limit} OFFSET {offset}"),
    ))
    .bind::<Text, _>(&param)
    .load(conn)?;
    Ok((ids.into_iter().map(|r| r.id).collect(), total.n))
}

/// Ids (a page, by receipt date) and count of the applications counted in one cell of table 三.
pub fn application_cell(
    conn: &mut DbConnection,
    scope: &ReportScope,
    year: &YearBounds,
    cell: &CellRule,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<String>, i64)> {
    let rules = cells::applications();
    let order = "receipt_date, id";
    cell_rows(
        conn, "requests", rules, cell, scope, year, order, offset, limit,
    )
}

/// Ids (a page, by filing date) and count of the cases counted in one cell of table 四.
#[allow(clippy::too_many_arguments)]
pub fn remedy_cell(
    conn: &mut DbConnection,
    scope: &ReportScope,
    year: &YearBounds,
    counting: RemedyCounting,
    cell: &CellRule,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<String>, i64)> {
    let rules = cells::remedies(counting);
    let order = "filed_on, id";
    cell_rows(
        conn,
        "remedy_cases",
        rules,
        cell,
        scope,
        year,
        order,
        offset,
        limit,
    )
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
    /// Bumped by every write of the report; the report's ETag.
    pub revision: i32,
}

pub fn find_draft(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
) -> QueryResult<Option<DraftRow>> {
    report_drafts::table
        .find((agency_id, year))
        .select(DraftRow::as_select())
        .get_result(conn)
        .optional()
}

/// Writes the draft if its stored revision is still `row.revision - 1` (no row counts as
/// revision 0). False when another write came first.
pub fn save_draft(conn: &mut DbConnection, row: &DraftRow) -> QueryResult<bool> {
    let n = diesel::update(
        report_drafts::table
            .find((&row.agency_id, row.year))
            .filter(report_drafts::revision.eq(row.revision - 1)),
    )
    .set(row)
    .execute(conn)?;
    if n == 1 {
        return Ok(true);
    }
    if row.revision != 1 || find_draft(conn, &row.agency_id, row.year)?.is_some() {
        return Ok(false);
    }
    match diesel::insert_into(report_drafts::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        // A concurrent first write inserted it.
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
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
        .get_result(conn)?;
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

/// The agencies in view whose report of `year` has no published version, in tree order (at most
/// `limit`), with how many there are in all.
pub fn unpublished(
    conn: &mut DbConnection,
    visibility: &crate::domain::access::Visibility,
    year: i32,
    limit: i64,
) -> QueryResult<(Vec<super::agencies::AgencyRow>, i64)> {
    use super::agencies::AgencyRow;
    use super::schema::agencies;
    use crate::domain::access::Visibility;
    let published = report_versions::table
        .filter(report_versions::year.eq(year))
        .filter(report_versions::reopened_at.is_null())
        .select(report_versions::agency_id);
    let scoped = || {
        let q = agencies::table
            .filter(agencies::id.ne_all(published))
            .into_boxed();
        match visibility {
            Visibility::Agency(id) => q.filter(agencies::id.eq(id.clone())),
            Visibility::Subtree(path) => {
                q.filter(agencies::path.like(like_prefix(path)).escape('\\'))
            }
        }
    };
    let total = scoped().count().get_result(conn)?;
    let rows = scoped()
        .order((agencies::path.asc(), agencies::id.asc()))
        .limit(limit)
        .select(AgencyRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}
