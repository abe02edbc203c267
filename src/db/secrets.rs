//! Secrets the service generates for itself and keeps with its data (`service_secrets`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::service_secrets;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = service_secrets)]
pub struct SecretRow {
    pub name: String,
    pub value: String,
    pub created_at: NaiveDateTime,
}

/// The secret named `name`, made from `candidate` when there is none yet. Several processes
/// starting at once all get the one that was stored first.
pub fn get_or_insert(
    conn: &mut DbConnection,
    name: &str,
    candidate: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let row = SecretRow {
        name: name.to_string(),
        value: candidate.to_string(),
        created_at: now,
    };
    match conn {
        DbConnection::Postgres(c) => {
            diesel::insert_into(service_secrets::table)
                .values(&row)
                .on_conflict(service_secrets::name)
                .do_nothing()
                .execute(c)?;
        }
        DbConnection::Sqlite(c) => {
            diesel::insert_or_ignore_into(service_secrets::table)
                .values(&row)
                .execute(c)?;
        }
    }
    service_secrets::table
        .find(name)
        .select(service_secrets::value)
        .get_result(conn)
}

/// Replaces the secret named `name` (or stores it): true when one was replaced.
pub fn replace(
    conn: &mut DbConnection,
    name: &str,
    value: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(service_secrets::table.find(name))
        .set((
            service_secrets::value.eq(value),
            service_secrets::created_at.eq(now),
        ))
        .execute(conn)?;
    if n == 1 {
        return Ok(true);
    }
    get_or_insert(conn, name, value, now)?;
    Ok(false)
}
