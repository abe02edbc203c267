//! Letterhead rows: an agency's own letterhead fields, versioned.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::letterheads;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = letterheads)]
#[diesel(treat_none_as_null = true)]
pub struct LetterheadRow {
    pub agency_id: String,
    /// `domain::letterhead::Letterhead` as stored JSON (`"format": N`).
    pub fields: String,
    pub version: i32,
    pub updated_by: Option<String>,
    pub updated_at: NaiveDateTime,
}

/// The rows of these agencies (those that have one).
pub fn of_agencies(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<LetterheadRow>> {
    letterheads::table
        .filter(letterheads::agency_id.eq_any(ids))
        .select(LetterheadRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut DbConnection, row: &LetterheadRow) -> QueryResult<()> {
    diesel::insert_into(letterheads::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Writes the row if its stored version is still `expected`.
pub fn update_if_version(
    conn: &mut DbConnection,
    row: &LetterheadRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        letterheads::table
            .filter(letterheads::agency_id.eq(&row.agency_id))
            .filter(letterheads::version.eq(expected)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}
