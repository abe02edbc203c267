//! System clients (client credentials).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{agencies, api_clients};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = api_clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub agency_id: String,
    pub scopes: String,
    pub secret_hash: String,
    pub disabled: bool,
    pub token_generation: i32,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &ClientRow) -> QueryResult<()> {
    diesel::insert_into(api_clients::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ClientRow>> {
    api_clients::table
        .find(id)
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()
}

/// A client with the path of its agency, for authentication.
pub fn find_with_agency_path(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<(ClientRow, String)>> {
    api_clients::table
        .inner_join(agencies::table)
        .filter(api_clients::id.eq(id))
        .select((ClientRow::as_select(), agencies::path))
        .get_result(conn)
        .optional()
}

/// The clients of the agencies whose path starts with `prefix`, oldest first.
pub fn list_in_subtree(
    conn: &mut DbConnection,
    prefix: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<ClientRow>, i64)> {
    let pattern = format!("{prefix}%");
    let total = api_clients::table
        .inner_join(agencies::table)
        .filter(agencies::path.like(&pattern))
        .count()
        .get_result(conn)?;
    let items = api_clients::table
        .inner_join(agencies::table)
        .filter(agencies::path.like(&pattern))
        .order((api_clients::created_at.asc(), api_clients::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(ClientRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// Writes the row if its stored version is still `expected`; false when it moved on.
pub fn update_if_version(
    conn: &mut DbConnection,
    row: &ClientRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        api_clients::table
            .filter(api_clients::id.eq(&row.id))
            .filter(api_clients::version.eq(expected)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}
