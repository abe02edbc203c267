//! The change feed and the webhook outbox written with it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::requests::Scope;
use super::schema::{agencies, feed_events, feed_state, webhook_outbox, webhook_subscriptions};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = feed_events, treat_none_as_default_value = false)]
pub struct FeedRow {
    pub seq: i64,
    pub id: String,
    pub occurred_at: NaiveDateTime,
    pub agency_id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub request_id: Option<String>,
    pub event_type: String,
    pub payload: String,
}

/// Takes the next `n` sequence numbers and returns the last. The UPDATE locks feed_state's one
/// row until the transaction ends, so a later writer waits and takes the following numbers:
/// numbers are handed out in commit order, and a rolled-back writer gives its numbers back
/// (docs/FEED.md).
pub fn take_seqs(conn: &mut DbConnection, n: i64) -> QueryResult<i64> {
    diesel::update(feed_state::table.filter(feed_state::id.eq(1)))
        .set(feed_state::last_seq.eq(feed_state::last_seq + n))
        .returning(feed_state::last_seq)
        .get_result(conn)
}

/// Writes events, in chunks that stay under both databases' bind-parameter limits.
pub fn insert_many(conn: &mut DbConnection, rows: &[FeedRow]) -> QueryResult<()> {
    // Owned rows without defaults: otherwise diesel inserts row by row on SQLite inside a
    // transaction of its own, which cannot nest in ours.
    for chunk in rows.chunks(500) {
        let chunk = chunk.to_vec();
        match conn {
            DbConnection::Postgres(c) => diesel::insert_into(feed_events::table)
                .values(chunk)
                .execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(feed_events::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(())
}

/// Events after `after` in the scope, in sequence order.
pub fn page(
    conn: &mut DbConnection,
    scope: &Scope,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<FeedRow>> {
    let mut q = feed_events::table
        .filter(feed_events::seq.gt(after))
        .order(feed_events::seq.asc())
        .limit(limit)
        .select(FeedRow::as_select())
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Agencies(ids) => q = q.filter(feed_events::agency_id.eq_any(ids.clone())),
    }
    q.load(conn)
}

/// The highest sequence number handed out so far.
pub fn last_seq(conn: &mut DbConnection) -> QueryResult<i64> {
    feed_state::table
        .filter(feed_state::id.eq(1))
        .select(feed_state::last_seq)
        .first(conn)
}

/// One event by its sequence number.
pub fn find(conn: &mut DbConnection, seq: i64) -> QueryResult<Option<FeedRow>> {
    feed_events::table
        .find(seq)
        .select(FeedRow::as_select())
        .first(conn)
        .optional()
}

/// Enabled subscriptions with the path of their agency and their event types.
pub fn active_subscriptions(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, String)>> {
    webhook_subscriptions::table
        .inner_join(agencies::table)
        .filter(webhook_subscriptions::enabled.eq(true))
        .select((
            webhook_subscriptions::id,
            agencies::path,
            webhook_subscriptions::event_types,
        ))
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_outbox, treat_none_as_default_value = false)]
pub struct OutboxRow {
    pub subscription_id: String,
    pub event_seq: i64,
    pub ordering_key: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn insert_outbox(conn: &mut DbConnection, rows: &[OutboxRow]) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        let chunk = chunk.to_vec();
        match conn {
            DbConnection::Postgres(c) => diesel::insert_into(webhook_outbox::table)
                .values(chunk)
                .execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(webhook_outbox::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(())
}
