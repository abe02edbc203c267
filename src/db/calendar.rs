//! Stored calendar notices.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::calendar_years;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = calendar_years)]
pub struct CalendarYearRow {
    pub year: i32,
    pub schedule: String,
    pub source: String,
    pub version: i32,
    pub updated_at: NaiveDateTime,
    pub updated_by: Option<String>,
}

pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<CalendarYearRow>> {
    calendar_years::table
        .order(calendar_years::year.asc())
        .select(CalendarYearRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, year: i32) -> QueryResult<Option<CalendarYearRow>> {
    calendar_years::table
        .find(year)
        .select(CalendarYearRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn insert(conn: &mut DbConnection, row: &CalendarYearRow) -> QueryResult<()> {
    diesel::insert_into(calendar_years::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn update(conn: &mut DbConnection, row: &CalendarYearRow) -> QueryResult<()> {
    diesel::update(calendar_years::table.find(row.year))
        .set(row)
        .execute(conn)
        .map(|_| ())
}

/// A number that changes whenever any notice is added or replaced (versions only grow and
/// rows are never deleted), so every process can tell cheaply that its cached calendar is stale.
pub fn revision(conn: &mut DbConnection) -> QueryResult<(i64, i64)> {
    use diesel::dsl::{count_star, sum};
    let (n, s): (i64, Option<i64>) = calendar_years::table
        .select((count_star(), sum(calendar_years::version)))
        .get_result(conn)?;
    Ok((n, s.unwrap_or(0)))
}
