//! The change feed: every event on applications, reviews, lawsuits and reports, numbered in
//! commit order, read by cursor; and the webhook outbox rows written with each event.

use std::collections::HashMap;

use serde_json::Value;

use super::{AppError, AppState};
use crate::db::{self, DbConnection, feed::FeedRow, feed::NewFeedRow, feed::OutboxRow};
use crate::domain::access::{Actor, Scope};

/// An event to publish, inside the transaction of the change it records.
pub struct Event {
    pub agency_id: String,
    /// `application`, `review`, `litigation` or `report`.
    pub entity_type: String,
    pub entity_id: String,
    pub request_id: Option<String>,
    /// `<entity_type>.<action>`, e.g. `application.intake`.
    pub event_type: String,
    pub payload: Value,
}

/// The entity types whose audit events are published (applications publish their own).
pub const AUDITED_FEED_ENTITIES: [&str; 3] = ["review", "litigation", "report"];

/// Whether a subscription's event types take this event type: `*`, the exact type, or
/// `<entity>.*`.
pub fn type_matches(patterns: &str, event_type: &str) -> bool {
    patterns.split(',').map(str::trim).any(|p| {
        p == "*"
            || p == event_type
            || p.strip_suffix(".*").is_some_and(|entity| {
                event_type
                    .strip_prefix(entity)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

/// Writes the event, unnumbered, with one outbox row for each enabled webhook subscription of
/// an agency at or above the event's agency that takes its type. Takes no lock: numbers are
/// given after commit by [`number`].
pub fn publish(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    ev: Event,
) -> Result<(), AppError> {
    publish_many(conn, now, vec![ev])
}

/// Writes several events of one transaction, in this order, stamped `now`.
pub fn publish_many(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    events: Vec<Event>,
) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    let agencies: Vec<&str> = events.iter().map(|e| e.agency_id.as_str()).collect();
    let subscribers = Subscribers::of(conn, &agencies)?;
    publish_to(conn, now, events, &subscribers)
}

/// The active webhook subscriptions and the paths of the agencies whose events will be
/// published: read before a step that must keep its locks short (intake reads them before it
/// takes the case number), then used by [`publish_to`].
pub struct Subscribers {
    subs: Vec<(String, String, String)>,
    paths: HashMap<String, Option<String>>,
}

impl Subscribers {
    pub fn of(conn: &mut DbConnection, agency_ids: &[&str]) -> Result<Self, AppError> {
        let subs = db::feed::active_subscriptions(conn)?;
        let mut paths: HashMap<String, Option<String>> = HashMap::new();
        if !subs.is_empty() {
            for id in agency_ids {
                if !paths.contains_key(*id) {
                    let path = db::agencies::find(conn, id)?.map(|a| a.path);
                    paths.insert((*id).to_string(), path);
                }
            }
        }
        Ok(Self { subs, paths })
    }

    /// [`of`](Self::of) for one agency whose path the caller already read (intake): one
    /// statement.
    pub fn of_agency(
        conn: &mut DbConnection,
        agency_id: &str,
        path: &str,
    ) -> Result<Self, AppError> {
        let subs = db::feed::active_subscriptions(conn)?;
        let paths = HashMap::from([(agency_id.to_string(), Some(path.to_string()))]);
        Ok(Self { subs, paths })
    }
}

/// Writes events of agencies whose subscribers were read with [`Subscribers::of`].
pub fn publish_to(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    events: Vec<Event>,
    subscribers: &Subscribers,
) -> Result<(), AppError> {
    let Subscribers { subs, paths } = subscribers;
    let mut rows = Vec::with_capacity(events.len());
    let mut outbox = Vec::new();
    for ev in events {
        let id = uuid::Uuid::new_v4().to_string();
        if let Some(Some(path)) = paths.get(&ev.agency_id) {
            let ordering_key = match &ev.request_id {
                Some(r) => format!("application:{r}"),
                None => format!("{}:{}", ev.entity_type, ev.entity_id),
            };
            for (subscription_id, sub_path, types) in subs {
                if path.starts_with(sub_path.as_str()) && type_matches(types, &ev.event_type) {
                    outbox.push(OutboxRow {
                        subscription_id: subscription_id.clone(),
                        event_id: id.clone(),
                        ordering_key: ordering_key.clone(),
                        status: "pending".into(),
                        attempts: 0,
                        next_attempt_at: now,
                        lease_until: None,
                        last_error: None,
                        delivered_at: None,
                        created_at: now,
                    });
                }
            }
        }
        rows.push(NewFeedRow {
            id,
            seq: None,
            occurred_at: now,
            agency_id: ev.agency_id,
            entity_type: ev.entity_type,
            entity_id: ev.entity_id,
            request_id: ev.request_id,
            event_type: ev.event_type,
            payload: ev.payload.to_string(),
        });
    }
    db::feed::insert_many(conn, &rows)?;
    db::feed::insert_outbox(conn, &outbox)?;
    Ok(())
}

/// Numbers every committed unnumbered event, in rounds of their own short transactions (see
/// `db::feed::number_round`). The webhook dispatcher calls it first, so what it delivers is
/// numbered up to the moment it asked; readers of the feed number by the page
/// ([`numbered_page`]).
pub fn number(conn: &mut DbConnection) -> Result<(), AppError> {
    while db::feed::has_unnumbered(conn)? {
        let n = db::transaction(conn, db::feed::number_round)?;
        if n < db::feed::ROUND_SIZE {
            break;
        }
    }
    Ok(())
}

/// A page of numbered events after `after`, numbering committed events a round at a time only
/// while the page is not full: the first reader after a large import numbers the rounds its
/// page needs (one, for up to 1,000 events of 5,000), not the whole backlog (100,000 events
/// took that reader 3.2 s), and the next pages number on.
fn numbered_page(
    conn: &mut DbConnection,
    scope: &db::requests::Scope,
    after: i64,
    limit: i64,
) -> Result<Vec<FeedRow>, AppError> {
    page_caught_up(&mut Stored { conn, scope }, after, limit)
}

/// What [`page_caught_up`] asks of the feed's table (a trait so that a test can interleave
/// another process's numbering between its statements).
trait Numbering {
    type Row;
    fn page(&mut self, after: i64, limit: i64) -> Result<Vec<Self::Row>, AppError>;
    fn has_unnumbered(&mut self) -> Result<bool, AppError>;
    fn number_round(&mut self) -> Result<(), AppError>;
}

struct Stored<'a> {
    conn: &'a mut DbConnection,
    scope: &'a db::requests::Scope,
}

impl Numbering for Stored<'_> {
    type Row = FeedRow;
    fn page(&mut self, after: i64, limit: i64) -> Result<Vec<FeedRow>, AppError> {
        Ok(db::feed::page(self.conn, self.scope, after, limit)?)
    }
    fn has_unnumbered(&mut self) -> Result<bool, AppError> {
        Ok(db::feed::has_unnumbered(self.conn)?)
    }
    fn number_round(&mut self) -> Result<(), AppError> {
        db::transaction(self.conn, db::feed::number_round)?;
        Ok(())
    }
}

/// The loop of [`numbered_page`]. Whether unnumbered events remain is asked *before* the page
/// is read: "none" then means every event committed before that question had its number, so
/// the page read after it holds them all, and a page that is not full means the reader has
/// caught up. (Asked after the page, the answer could come from a later moment: another
/// process may number, between the two statements, events the page did not see, and a short
/// page would then skip them for good.)
fn page_caught_up<F: Numbering>(
    feed: &mut F,
    after: i64,
    limit: i64,
) -> Result<Vec<F::Row>, AppError> {
    loop {
        let pending = feed.has_unnumbered()?;
        let events = feed.page(after, limit)?;
        let full = i64::try_from(events.len()).unwrap_or(i64::MAX) >= limit;
        if full || !pending {
            return Ok(events);
        }
        // Numbers none when another process numbered them meanwhile: the page is read again.
        feed.number_round()?;
    }
}

/// One event of the feed as the app layer hands it out.
#[derive(Debug, Clone)]
pub struct FeedEventView {
    /// The cursor position.
    pub seq: i64,
    pub id: String,
    pub occurred_at: chrono::NaiveDateTime,
    pub agency_id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub request_id: Option<String>,
    pub event_type: String,
    /// The event's data, as stored (JSON text).
    pub payload: String,
}

impl From<FeedRow> for FeedEventView {
    fn from(r: FeedRow) -> Self {
        FeedEventView {
            seq: r.seq,
            id: r.id,
            occurred_at: r.occurred_at,
            agency_id: r.agency_id,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            request_id: r.request_id,
            event_type: r.event_type,
            payload: r.payload,
        }
    }
}

/// A page of the feed.
pub struct FeedPage {
    pub events: Vec<FeedEventView>,
    /// Give as `after` to read on; the same cursor when nothing new has arrived.
    pub next_cursor: i64,
}

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Events in the actor's scope after the cursor.
pub async fn read(
    state: &AppState,
    actor: Actor,
    after: i64,
    limit: i64,
) -> Result<FeedPage, AppError> {
    actor.require_scope(Scope::FeedRead)?;
    state
        .with_conn(move |conn| {
            if after > db::feed::last_seq(conn)? {
                return Err(AppError::field(
                    "after",
                    "unknown_cursor",
                    crate::text!(
                        "此游标超前于订阅源：并非本服务给出",
                        "this cursor is ahead of the feed: it was not given by this service"
                    ),
                ));
            }
            let scope = db::requests::resolve(conn, &actor.visibility())?;
            let events = numbered_page(conn, &scope, after, limit)?;
            let next_cursor = events.last().map_or(after, |e| e.seq);
            Ok(FeedPage {
                events: events.into_iter().map(FeedEventView::from).collect(),
                next_cursor,
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::{AppError, Numbering, page_caught_up, type_matches};
    use crate::db::feed::ROUND_SIZE;

    /// A feed of `committed` events of which the first `numbered` have their numbers; when
    /// `raced`, another process numbers all of them right after the reader's first page, as the
    /// webhook dispatcher may.
    struct Raced {
        committed: i64,
        numbered: i64,
        raced: bool,
        pages_read: u32,
        rounds: u32,
    }

    impl Numbering for Raced {
        type Row = i64;
        fn page(&mut self, after: i64, limit: i64) -> Result<Vec<i64>, AppError> {
            let rows = (after + 1..=self.numbered).take(limit as usize).collect();
            self.pages_read += 1;
            if self.raced && self.pages_read == 1 {
                self.numbered = self.committed;
            }
            Ok(rows)
        }
        fn has_unnumbered(&mut self) -> Result<bool, AppError> {
            Ok(self.numbered < self.committed)
        }
        fn number_round(&mut self) -> Result<(), AppError> {
            self.rounds += 1;
            self.numbered = self.committed.min(self.numbered + ROUND_SIZE);
            Ok(())
        }
    }

    #[test]
    fn a_short_page_holds_every_event_numbered_by_another_process_while_it_was_read() {
        let mut feed = Raced {
            committed: 6,
            numbered: 5,
            raced: true,
            pages_read: 0,
            rounds: 0,
        };
        let page = page_caught_up(&mut feed, 0, 1000).unwrap();
        assert_eq!(
            page,
            vec![1, 2, 3, 4, 5, 6],
            "the sixth event is not skipped"
        );
        assert_eq!(feed.pages_read, 2, "the page is read again");
        assert_eq!(
            feed.rounds, 1,
            "one round, which found nothing left to number"
        );
    }

    #[test]
    fn a_full_page_is_answered_without_numbering_the_backlog() {
        let mut feed = Raced {
            committed: 100_000,
            numbered: 0,
            raced: false,
            pages_read: 0,
            rounds: 0,
        };
        let page = page_caught_up(&mut feed, 0, 100).unwrap();
        assert_eq!(page, (1..=100).collect::<Vec<_>>());
        assert_eq!(feed.rounds, 1, "one round");
        assert_eq!(feed.numbered, ROUND_SIZE);
    }

    #[test]
    fn subscription_patterns_match_exact_types_entities_and_everything() {
        assert!(type_matches("*", "report.report_published"));
        assert!(type_matches("application.intake", "application.intake"));
        assert!(type_matches("review.*, application.*", "application.reply"));
        assert!(!type_matches("application.*", "applications.reply"));
        assert!(!type_matches("application.intake", "application.reply"));
        assert!(!type_matches("report.*", "review.case_recorded"));
    }
}
