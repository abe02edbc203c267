//! Refresh tokens of the password grant and their families (one family per login). Only the
//! SHA-256 of a token is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{refresh_families, refresh_tokens};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_families)]
pub struct FamilyRow {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct TokenRow {
    pub token_hash: String,
    pub family_id: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_family(conn: &mut DbConnection, row: &FamilyRow) -> QueryResult<()> {
    diesel::insert_into(refresh_families::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn insert_token(conn: &mut DbConnection, row: &TokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Uses a token up: one conditional UPDATE, so of two uses (in any processes) at most one
/// finds it unused. True when this call used it up.
pub fn use_up(conn: &mut DbConnection, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// A token with its family.
pub fn find(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<(TokenRow, FamilyRow)>> {
    refresh_tokens::table
        .inner_join(refresh_families::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((TokenRow::as_select(), FamilyRow::as_select()))
        .get_result(conn)
        .optional()
}

/// Revokes a family unless it already is; true when this call revoked it.
pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<bool> {
    let n = diesel::update(
        refresh_families::table
            .filter(refresh_families::id.eq(family_id))
            .filter(refresh_families::revoked_at.is_null()),
    )
    .set((
        refresh_families::revoked_at.eq(now),
        refresh_families::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Revokes every live family of a user; how many.
pub fn revoke_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(
        refresh_families::table
            .filter(refresh_families::user_id.eq(user_id))
            .filter(refresh_families::revoked_at.is_null())
            .filter(refresh_families::expires_at.gt(now)),
    )
    .set((
        refresh_families::revoked_at.eq(now),
        refresh_families::revoked_reason.eq(reason),
    ))
    .execute(conn)
}

/// Forgets a user's families (and their tokens) that ended before `before`: none of their
/// tokens can be used any more, and the audit log keeps what happened to them. Per user (at
/// its login), so that concurrent logins of different users never wait on each other.
pub fn delete_ended(
    conn: &mut DbConnection,
    user_id: &str,
    before: NaiveDateTime,
) -> QueryResult<usize> {
    let ended = refresh_families::table
        .filter(refresh_families::user_id.eq(user_id))
        .filter(refresh_families::expires_at.lt(before))
        .select(refresh_families::id);
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::family_id.eq_any(ended)))
        .execute(conn)?;
    diesel::delete(
        refresh_families::table
            .filter(refresh_families::user_id.eq(user_id))
            .filter(refresh_families::expires_at.lt(before)),
    )
    .execute(conn)
}
