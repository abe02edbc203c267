//! Agency rows and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::agencies;
use crate::domain::access::Visibility;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agencies)]
pub struct AgencyRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub region: Option<String>,
    pub path: String,
    pub depth: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// `department` or `government`: which publication deadline of art. 49 applies.
    pub report_kind: String,
}

pub fn insert(conn: &mut DbConnection, row: &AgencyRow) -> QueryResult<()> {
    diesel::insert_into(agencies::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<AgencyRow>> {
    agencies::table
        .find(id)
        .select(AgencyRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<AgencyRow>> {
    agencies::table
        .filter(agencies::code.eq(code))
        .select(AgencyRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    agencies::table.count().get_result(conn)
}

/// Escapes `%`, `_` and `\` for a LIKE prefix match.
pub fn like_prefix(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

pub struct AgencyFilter<'a> {
    pub visibility: &'a Visibility,
    pub parent_id: Option<&'a str>,
    pub q: Option<&'a str>,
}

fn filtered<'a>(f: &'a AgencyFilter<'a>) -> agencies::BoxedQuery<'a, super::MultiBackend> {
    let mut query = agencies::table.into_boxed();
    query = match f.visibility {
        Visibility::Agency(id) => query.filter(agencies::id.eq(id.as_str())),
        Visibility::Subtree(path) => {
            query.filter(agencies::path.like(like_prefix(path)).escape('\\'))
        }
    };
    if let Some(parent) = f.parent_id {
        query = query.filter(agencies::parent_id.eq(parent));
    }
    if let Some(q) = f.q {
        let pattern = format!("%{}", like_prefix(q));
        query = query.filter(
            agencies::name
                .like(pattern.clone())
                .escape('\\')
                .or(agencies::code.like(pattern).escape('\\')),
        );
    }
    query
}

pub fn list(
    conn: &mut DbConnection,
    filter: &AgencyFilter<'_>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<AgencyRow>, i64)> {
    let total = filtered(filter).count().get_result(conn)?;
    let items = filtered(filter)
        .order((agencies::path.asc(), agencies::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(AgencyRow::as_select())
        .load(conn)?;
    Ok((items, total))
}
