//! Rows of the documents on file (`request_files`): inserted, never updated or deleted.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::request_files;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = request_files)]
pub struct DocumentRow {
    pub id: String,
    pub request_id: String,
    pub agency_id: String,
    pub kind: String,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub note: Option<String>,
    pub supersedes: Option<String>,
    pub version: i32,
    pub uploaded_by: String,
    pub uploaded_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &DocumentRow) -> QueryResult<()> {
    diesel::insert_into(request_files::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<DocumentRow>> {
    request_files::table
        .find(id)
        .select(DocumentRow::as_select())
        .get_result(conn)
        .optional()
}

/// One page of an application's documents, oldest first, with the total.
pub fn for_request(
    conn: &mut DbConnection,
    request_id: &str,
    kind: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<DocumentRow>, i64)> {
    let filtered = || {
        let mut q = request_files::table
            .filter(request_files::request_id.eq(request_id.to_string()))
            .into_boxed();
        if let Some(k) = kind {
            q = q.filter(request_files::kind.eq(k.to_string()));
        }
        q
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((request_files::uploaded_at.asc(), request_files::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(DocumentRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// `(superseded, superseding)` pairs for these documents: which of them a later version
/// replaced, and by which.
pub fn successors(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    let pairs: Vec<(Option<String>, String)> = request_files::table
        .filter(request_files::supersedes.eq_any(ids.to_vec()))
        .select((request_files::supersedes, request_files::id))
        .load(conn)?;
    Ok(pairs
        .into_iter()
        .filter_map(|(old, new)| old.map(|o| (o, new)))
        .collect())
}
