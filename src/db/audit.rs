//! The append-only audit log of administrative changes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::audit_log;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: Option<String>,
    pub actor_label: String,
    pub agency_id: Option<String>,
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub payload: String,
    pub request_id: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &AuditRow) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn for_entity(
    conn: &mut DbConnection,
    entity_type: &str,
    entity_id: &str,
) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::entity_type.eq(entity_type))
        .filter(audit_log::entity_id.eq(entity_id))
        .order((audit_log::occurred_at.asc(), audit_log::id.asc()))
        .load(conn)
}

/// A page of the log, newest first, for the agencies given (None: every entry).
pub fn list(
    conn: &mut DbConnection,
    agency_ids: Option<&[String]>,
    entity_type: Option<&str>,
    entity_id: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<AuditRow>, i64)> {
    let filtered = || {
        let mut q = audit_log::table.into_boxed();
        if let Some(ids) = agency_ids {
            q = q.filter(audit_log::agency_id.eq_any(ids.to_vec()));
        }
        if let Some(t) = entity_type {
            q = q.filter(audit_log::entity_type.eq(t.to_string()));
        }
        if let Some(i) = entity_id {
            q = q.filter(audit_log::entity_id.eq(i.to_string()));
        }
        q
    };
    let total = filtered().count().get_result(conn)?;
    let items = filtered()
        .order((audit_log::occurred_at.desc(), audit_log::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}
