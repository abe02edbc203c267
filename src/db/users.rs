//! User rows and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{agencies, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_null = true)]
pub struct UserRow {
    pub id: String,
    pub agency_id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: String,
    pub disabled: bool,
    pub token_generation: i32,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The department (业务处室) of the user's agency it belongs to, if any.
    pub department_id: Option<String>,
    /// Where reminders go.
    pub email: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()
}

/// A user with the path of its agency, for authentication.
pub fn find_with_agency_path(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<(UserRow, String)>> {
    users::table
        .inner_join(agencies::table)
        .filter(users::id.eq(id))
        .select((UserRow::as_select(), agencies::path))
        .get_result(conn)
        .optional()
}

pub fn list_for_agency(
    conn: &mut DbConnection,
    agency_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<UserRow>, i64)> {
    let total = users::table
        .filter(users::agency_id.eq(agency_id))
        .count()
        .get_result(conn)?;
    let items = users::table
        .filter(users::agency_id.eq(agency_id))
        .order((users::username.asc(), users::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(UserRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// Saves a changed user when its version is still `expected_version`; false when another
/// writer got there first.
pub fn update_if_version(
    conn: &mut DbConnection,
    row: &UserRow,
    expected_version: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        users::table
            .filter(users::id.eq(&row.id))
            .filter(users::version.eq(expected_version)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}
