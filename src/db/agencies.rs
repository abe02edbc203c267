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

/// An agency's code and path.
pub fn place(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, String)>> {
    agencies::table
        .find(id)
        .select((agencies::code, agencies::path))
        .get_result(conn)
        .optional()
}

/// `(id, code, path)` of at most `limit` agencies (`app::agency_places` keeps them all per
/// process).
pub fn places(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<(String, String, String)>> {
    agencies::table
        .select((agencies::id, agencies::code, agencies::path))
        .limit(limit)
        .load(conn)
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<AgencyRow>> {
    agencies::table
        .filter(agencies::code.eq(code))
        .select(AgencyRow::as_select())
        .get_result(conn)
        .optional()
}

/// An agency named by id or by (canonical) code.
#[derive(Debug, Clone, Copy)]
pub enum AgencyKey<'a> {
    Id(&'a str),
    Code(&'a str),
}

/// A user of an agency with the user's department, as [`find_with_member`] reads them.
pub type Member = (super::users::UserRow, Option<super::office::DepartmentRow>);

/// An agency, and the user `user_id` with its department when that user belongs to it: one
/// statement (intake needs both, and the user only in its own agency).
pub fn find_with_member(
    conn: &mut DbConnection,
    key: AgencyKey<'_>,
    user_id: Option<&str>,
) -> QueryResult<Option<(AgencyRow, Option<Member>)>> {
    use super::schema::{departments, users};
    let Some(user_id) = user_id else {
        let found = match key {
            AgencyKey::Id(id) => find(conn, id)?,
            AgencyKey::Code(code) => find_by_code(conn, code)?,
        };
        return Ok(found.map(|a| (a, None)));
    };
    // Owned: the multi-backend connection's loading wants one lifetime for every bound value.
    let user_id = user_id.to_owned();
    let joined = agencies::table
        .left_join(users::table.on(users::id.eq(user_id).and(users::agency_id.eq(agencies::id))))
        .left_join(departments::table.on(users::department_id.eq(departments::id.nullable())));
    let select = (
        AgencyRow::as_select(),
        Option::<super::users::UserRow>::as_select(),
        Option::<super::office::DepartmentRow>::as_select(),
    );
    let row = match key {
        AgencyKey::Id(id) => joined
            .filter(agencies::id.eq(id.to_owned()))
            .select(select)
            .get_result(conn)
            .optional()?,
        AgencyKey::Code(code) => joined
            .filter(agencies::code.eq(code.to_owned()))
            .select(select)
            .get_result(conn)
            .optional()?,
    };
    Ok(row.map(|(a, u, d)| (a, u.map(|u| (u, d)))))
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
