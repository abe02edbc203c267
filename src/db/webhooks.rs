//! Webhook subscriptions, the outbox's claims and outcomes, and the delivery log.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};

use super::DbConnection;
use super::feed::FeedRow;
use super::schema::{
    agencies, feed_events, webhook_deliveries, webhook_outbox, webhook_subscriptions,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub agency_id: String,
    pub url: String,
    pub secret: String,
    pub event_types: String,
    pub enabled: bool,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &SubscriptionRow) -> QueryResult<()> {
    diesel::insert_into(webhook_subscriptions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SubscriptionRow>> {
    webhook_subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn update_if_version(
    conn: &mut DbConnection,
    row: &SubscriptionRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::id.eq(&row.id))
            .filter(webhook_subscriptions::version.eq(expected)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}

/// The subscriptions of agencies whose path starts with `prefix`, oldest first.
pub fn list_in_subtree(
    conn: &mut DbConnection,
    prefix: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<SubscriptionRow>, i64)> {
    let pattern = super::agencies::like_prefix(prefix);
    let total = webhook_subscriptions::table
        .inner_join(agencies::table)
        .filter(agencies::path.like(&pattern).escape('\\'))
        .count()
        .get_result(conn)?;
    let items = webhook_subscriptions::table
        .inner_join(agencies::table)
        .filter(agencies::path.like(&pattern).escape('\\'))
        .order((
            webhook_subscriptions::created_at.asc(),
            webhook_subscriptions::id.asc(),
        ))
        .offset(offset)
        .limit(limit)
        .select(SubscriptionRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// A delivery that is due: the outbox row's key, its attempt count.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueRow {
    #[diesel(sql_type = Text)]
    pub subscription_id: String,
    #[diesel(sql_type = Text)]
    pub event_id: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Deliveries due at `now`, oldest first: of numbered events (the feed's order), of an enabled
/// subscription, not reserved by a live claim, and each the earliest pending one of its
/// subscription and ordering key — so one application's events go out one after the other,
/// in order, also across retries.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<DueRow>> {
    let sql = super::reports::portable(
        conn,
        "SELECT o.subscription_id, o.event_id, o.attempts \
         FROM webhook_outbox o \
         JOIN webhook_subscriptions s ON s.id = o.subscription_id \
         JOIN feed_events f ON f.id = o.event_id \
         WHERE o.status = 'pending' AND s.enabled = TRUE AND f.seq IS NOT NULL \
           AND o.next_attempt_at <= $1 AND (o.lease_until IS NULL OR o.lease_until < $1) \
           AND NOT EXISTS (SELECT 1 FROM webhook_outbox p JOIN feed_events pf ON pf.id = p.event_id \
               WHERE p.subscription_id = o.subscription_id AND p.ordering_key = o.ordering_key \
                 AND p.status = 'pending' AND pf.write_no < f.write_no) \
         ORDER BY f.seq LIMIT $2"
            .to_string(),
    );
    diesel::sql_query(sql)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(conn)
}

/// Reserves a due delivery until `until`; false when another process took it first.
pub fn claim(
    conn: &mut DbConnection,
    subscription_id: &str,
    event_id: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        webhook_outbox::table
            .filter(webhook_outbox::subscription_id.eq(subscription_id))
            .filter(webhook_outbox::event_id.eq(event_id))
            .filter(webhook_outbox::status.eq("pending"))
            .filter(
                webhook_outbox::lease_until
                    .is_null()
                    .or(webhook_outbox::lease_until.lt(now)),
            ),
    )
    .set(webhook_outbox::lease_until.eq(Some(until)))
    .execute(conn)?;
    Ok(n == 1)
}

/// The subscriptions and numbered events of a round's claimed deliveries, by id, in two
/// queries.
pub fn claimed_parts(
    conn: &mut DbConnection,
    subscription_ids: &[String],
    event_ids: &[String],
) -> QueryResult<(HashMap<String, SubscriptionRow>, HashMap<String, FeedRow>)> {
    let subs = webhook_subscriptions::table
        .filter(webhook_subscriptions::id.eq_any(subscription_ids))
        .select(SubscriptionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let events = feed_events::table
        .filter(feed_events::id.eq_any(event_ids))
        .filter(feed_events::seq.is_not_null())
        .select(FeedRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    Ok((subs, events))
}

/// What happened to one attempt.
pub struct Outcome {
    pub subscription_id: String,
    pub event_id: String,
    /// The attempt's number, from 1.
    pub attempt: i32,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: NaiveDateTime,
    /// When to try again; `None` with a failure: given up.
    pub retry_at: Option<NaiveDateTime>,
}

/// Writes an attempt's outcome into the outbox row and the delivery log.
pub fn record(conn: &mut DbConnection, o: &Outcome) -> QueryResult<()> {
    let target = webhook_outbox::table
        .filter(webhook_outbox::subscription_id.eq(&o.subscription_id))
        .filter(webhook_outbox::event_id.eq(&o.event_id));
    if o.succeeded {
        diesel::update(target)
            .set((
                webhook_outbox::status.eq("delivered"),
                webhook_outbox::attempts.eq(o.attempt),
                webhook_outbox::delivered_at.eq(Some(o.at)),
                webhook_outbox::lease_until.eq(None::<NaiveDateTime>),
                webhook_outbox::last_error.eq(None::<String>),
            ))
            .execute(conn)?;
    } else {
        let (status, next) = match o.retry_at {
            Some(at) => ("pending", at),
            None => ("failed", o.at),
        };
        diesel::update(target)
            .set((
                webhook_outbox::status.eq(status),
                webhook_outbox::attempts.eq(o.attempt),
                webhook_outbox::next_attempt_at.eq(next),
                webhook_outbox::lease_until.eq(None::<NaiveDateTime>),
                webhook_outbox::last_error.eq(o.error.clone()),
            ))
            .execute(conn)?;
    }
    diesel::insert_into(webhook_deliveries::table)
        .values(&DeliveryRow {
            id: uuid::Uuid::new_v4().to_string(),
            subscription_id: o.subscription_id.clone(),
            event_id: o.event_id.clone(),
            attempt: o.attempt,
            attempted_at: o.at,
            succeeded: o.succeeded,
            status_code: o.status_code,
            error: o.error.clone(),
            duration_ms: o.duration_ms,
        })
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub subscription_id: String,
    pub event_id: String,
    pub attempt: i32,
    pub attempted_at: NaiveDateTime,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// An attempt with its event's number (cursor) and type.
pub type LoggedDelivery = (DeliveryRow, Option<i64>, String);

/// A subscription's delivery attempts, newest first, with the number and type of each event.
pub fn deliveries(
    conn: &mut DbConnection,
    subscription_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<LoggedDelivery>, i64)> {
    let total = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .count()
        .get_result(conn)?;
    let items = webhook_deliveries::table
        .inner_join(feed_events::table.on(feed_events::id.eq(webhook_deliveries::event_id)))
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .order((
            webhook_deliveries::attempted_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .offset(offset)
        .limit(limit)
        .select((
            DeliveryRow::as_select(),
            feed_events::seq,
            feed_events::event_type,
        ))
        .load(conn)?;
    Ok((items, total))
}

/// Counts of a subscription's outbox rows by status: pending, delivered, failed.
pub fn outbox_counts(
    conn: &mut DbConnection,
    subscription_id: &str,
) -> QueryResult<Vec<(String, i64)>> {
    webhook_outbox::table
        .filter(webhook_outbox::subscription_id.eq(subscription_id))
        .group_by(webhook_outbox::status)
        .select((webhook_outbox::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Puts a subscription's given-up deliveries back in the queue, due now; returns how many.
pub fn requeue_failed(
    conn: &mut DbConnection,
    subscription_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        webhook_outbox::table
            .filter(webhook_outbox::subscription_id.eq(subscription_id))
            .filter(webhook_outbox::status.eq("failed")),
    )
    .set((
        webhook_outbox::status.eq("pending"),
        webhook_outbox::attempts.eq(0),
        webhook_outbox::next_attempt_at.eq(now),
        webhook_outbox::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}
