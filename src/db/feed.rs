//! The change feed, its numbering rounds, and the webhook outbox written with each event.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::DbConnection;
use super::requests::Scope;
use super::schema::{agencies, feed_events, feed_state, webhook_outbox, webhook_subscriptions};

/// A numbered event, as readers see it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = feed_events)]
pub struct FeedRow {
    #[diesel(select_expression = feed_events::seq.assume_not_null())]
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

/// An event as written: not numbered yet; `write_no` comes from the database.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = feed_events, treat_none_as_default_value = false)]
pub struct NewFeedRow {
    pub id: String,
    pub seq: Option<i64>,
    pub occurred_at: NaiveDateTime,
    pub agency_id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub request_id: Option<String>,
    pub event_type: String,
    pub payload: String,
}

/// Writes events, in chunks that stay under both databases' bind-parameter limits. Owned rows
/// without defaults: otherwise diesel inserts row by row on SQLite inside a transaction of its
/// own, which cannot nest in ours.
pub fn insert_many(conn: &mut DbConnection, rows: &[NewFeedRow]) -> QueryResult<()> {
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

/// Whether committed events wait for their numbers.
pub fn has_unnumbered(conn: &mut DbConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        feed_events::table.filter(feed_events::seq.is_null()),
    ))
    .get_result(conn)
}

/// Largest number of events one round numbers (a backlog takes several rounds).
pub const ROUND_SIZE: i64 = 5000;

/// One numbering round; call inside a transaction of its own. Locks feed_state's row (rounds
/// of all processes take turns), gives the committed unnumbered events the next numbers in
/// write order, and returns how many it numbered. Events of transactions still running are
/// invisible here and get later numbers in a later round, so a number, once visible, never has
/// an unnumbered or invisible event before it.
pub fn number_round(conn: &mut DbConnection) -> QueryResult<i64> {
    let last: i64 = match conn {
        DbConnection::Postgres(c) => feed_state::table
            .filter(feed_state::id.eq(1))
            .select(feed_state::last_seq)
            .for_update()
            .get_result(c)?,
        // SQLite: the transaction holds the database's write lock already.
        DbConnection::Sqlite(c) => feed_state::table
            .filter(feed_state::id.eq(1))
            .select(feed_state::last_seq)
            .get_result(c)?,
    };
    let sql = super::reports::portable(
        conn,
        "UPDATE feed_events SET seq = n.seq \
         FROM (SELECT write_no, $1 + row_number() OVER (ORDER BY write_no) AS seq \
               FROM feed_events WHERE seq IS NULL ORDER BY write_no LIMIT $2) AS n \
         WHERE feed_events.write_no = n.write_no"
            .to_string(),
    );
    let numbered = diesel::sql_query(sql)
        .bind::<BigInt, _>(last)
        .bind::<BigInt, _>(ROUND_SIZE)
        .execute(conn)?;
    let numbered = i64::try_from(numbered).unwrap_or(i64::MAX);
    if numbered > 0 {
        diesel::update(feed_state::table.filter(feed_state::id.eq(1)))
            .set(feed_state::last_seq.eq(last + numbered))
            .execute(conn)?;
    }
    Ok(numbered)
}

/// Numbered events after `after` in the scope, in number order.
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

/// The highest number handed out so far.
pub fn last_seq(conn: &mut DbConnection) -> QueryResult<i64> {
    feed_state::table
        .filter(feed_state::id.eq(1))
        .select(feed_state::last_seq)
        .get_result(conn)
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
    pub event_id: String,
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
