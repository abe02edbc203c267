//! Who a token names, kept in memory: an authenticated request reads no user, client or agency
//! row when the same token was seen before (issue 15: one statement fewer and one database
//! hop fewer on every request).
//!
//! Correct across processes: every change that can refuse or alter an actor (a user's or
//! client's generation, `disabled`, roles or scopes, agency; an agency's place in the tree)
//! moves a signal by trigger in its own transaction (`db::signals`). A change of the working-day
//! calendar moves it too: the calendar cache keeps what it read while this cache's epoch stays
//! (`calendar::CalendarCache`), and every agency's code and path are read again by the watcher
//! after each signal (`agency_places`). A thread per process
//! watches it — PostgreSQL `LISTEN`, SQLite a revision read — every [`POLL`] and empties the
//! cache when it moves; the process that made the change empties its own at once, before it
//! answers. While the watch is down (its connection lost, a `:memory:` database) nothing is
//! cached and every request reads the database, as before.
//!
//! A look-up that started before a change must not put its older answer back after the cache
//! was emptied: each look-up notes the cache's epoch first, and its answer is kept only if no
//! emptying happened meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::db;
use crate::domain::access::Actor;

/// How often the watcher looks for changes made by other processes: the longest another
/// process may still accept a token after the commit that revoked it.
pub const POLL: Duration = Duration::from_millis(5);
/// How often the PostgreSQL watch proves its connection alive.
const PROBE: Duration = Duration::from_secs(1);
/// An entry older than this is read again even without a signal.
const TTL: Duration = Duration::from_secs(60);
/// At most this many tokens are kept; when full, the cache starts over.
const CAPACITY: usize = 10_000;

/// What an actor is looked up by: the token's subject, generation and (clients) scope.
pub type Key = (String, i32, Option<String>);

#[derive(Clone)]
pub struct PrincipalCache {
    inner: Arc<Inner>,
}

/// What a watcher runs after each emptying, on its own connection, with the cache (for its
/// epoch): other caches kept under the same signal read what they keep again
/// (`agency_places`).
type Refill = Box<dyn Fn(&mut db::DbConnection, &PrincipalCache) + Send + Sync>;

struct Inner {
    entries: RwLock<HashMap<Key, (Actor, Instant)>>,
    refills: RwLock<Vec<Refill>>,
    /// Moved by every emptying; a look-up's answer is kept only under the epoch it began in.
    epoch: AtomicU64,
    /// Whether changes are being watched; nothing is cached otherwise.
    live: AtomicBool,
}

impl PrincipalCache {
    /// A cache that keeps nothing (every look-up reads the database).
    pub fn off() -> Self {
        Self {
            inner: Arc::new(Inner {
                entries: RwLock::new(HashMap::new()),
                refills: RwLock::new(Vec::new()),
                epoch: AtomicU64::new(0),
                live: AtomicBool::new(false),
            }),
        }
    }

    /// A cache watched by a thread of its own; the thread ends soon after the last clone of
    /// the cache is dropped.
    pub fn watched(database: &db::Database) -> std::io::Result<Self> {
        let cache = Self::off();
        if database.in_memory {
            return Ok(cache);
        }
        let weak = Arc::downgrade(&cache.inner);
        let manager = database.manager.clone();
        std::thread::Builder::new()
            .name("gongkai-principals".into())
            .spawn(move || watch(&weak, &manager))?;
        Ok(cache)
    }

    /// The actor for `key`, when kept and fresh.
    pub fn get(&self, key: &Key) -> Option<Actor> {
        if !self.inner.live.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.inner.entries.read().ok()?;
        let (actor, at) = entries.get(key)?;
        (at.elapsed() < TTL).then(|| actor.clone())
    }

    /// The epoch to hand to [`put`](Self::put): note it before reading the database.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Keeps what a look-up that began at `epoch` read, unless the cache was emptied since.
    pub fn put(&self, key: Key, actor: Actor, epoch: u64) {
        if !self.inner.live.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut entries) = self.inner.entries.write() else {
            return;
        };
        // Checked under the lock that emptying takes too.
        if self.inner.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (actor, Instant::now()));
    }

    /// Forgets every actor: called by the process that changed one, after its commit, and by
    /// the watcher for changes made elsewhere.
    pub fn invalidate(&self) {
        self.inner.invalidate();
    }

    /// Runs `refill` on the watcher's connection each time the watch goes live and after each
    /// change it sees (not after [`invalidate`](Self::invalidate) by this process: its own
    /// change moves the signal too, and the watch sees it within [`POLL`]). `refill` must not
    /// hold a clone of this cache (the watcher ends when the last one is dropped).
    pub fn refill_after_changes(&self, refill: Refill) {
        if let Ok(mut refills) = self.inner.refills.write() {
            refills.push(refill);
        }
    }

    /// Whether changes are being watched (for `/readyz`-like checks and tests).
    pub fn is_live(&self) -> bool {
        self.inner.live.load(Ordering::Acquire)
    }

    /// A cache that acts as if watched, with no watcher: emptied only by
    /// [`invalidate`](Self::invalidate) (unit tests of what is kept under it).
    #[cfg(test)]
    pub(crate) fn live_unwatched() -> Self {
        let c = Self::off();
        c.inner.live.store(true, Ordering::Release);
        c
    }
}

impl Inner {
    fn refill(self: &Arc<Self>, conn: &mut db::DbConnection) {
        let cache = PrincipalCache {
            inner: Arc::clone(self),
        };
        if let Ok(refills) = self.refills.read() {
            for refill in refills.iter() {
                refill(conn, &cache);
            }
        }
    }

    fn invalidate(&self) {
        match self.entries.write() {
            Ok(mut entries) => {
                self.epoch.fetch_add(1, Ordering::AcqRel);
                entries.clear();
            }
            // A poisoned lock: keep nothing from now on.
            Err(_) => self.live.store(false, Ordering::Release),
        }
    }
}

/// The watcher: opens a watch, goes live (starting empty: what changed while it did not watch
/// is unknown), and empties the cache on every signal. A lost connection takes the cache off
/// until a new watch is open.
fn watch(cache: &Weak<Inner>, manager: &db::ConnectionManager) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if cache.strong_count() == 0 {
            return;
        }
        let mut watch = match db::signals::Watch::open(manager) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch for changes of users and clients; tokens are checked against the database on every request until it can");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        match cache.upgrade() {
            Some(inner) => {
                inner.invalidate();
                inner.live.store(true, Ordering::Release);
                inner.refill(watch.connection());
            }
            None => return,
        }
        let mut probed = Instant::now();
        loop {
            std::thread::sleep(POLL);
            let Some(inner) = cache.upgrade() else {
                return;
            };
            let probe = probed.elapsed() >= PROBE;
            if probe {
                probed = Instant::now();
            }
            match watch.changed(probe) {
                Ok(true) => {
                    inner.invalidate();
                    inner.refill(watch.connection());
                }
                Ok(false) => {}
                Err(e) => {
                    inner.live.store(false, Ordering::Release);
                    inner.invalidate();
                    tracing::warn!(error = %e, "lost the watch for changes of users and clients; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Roles;

    fn actor(name: &str) -> Actor {
        Actor {
            user_id: name.into(),
            username: name.into(),
            agency_id: "a".into(),
            agency_path: "/a/".into(),
            roles: Roles::from_stored("clerk"),
            principal: crate::domain::access::Principal::User,
        }
    }

    fn live() -> PrincipalCache {
        PrincipalCache::live_unwatched()
    }

    fn key(s: &str) -> Key {
        (s.into(), 1, None)
    }

    #[test]
    fn an_off_cache_keeps_nothing() {
        let c = PrincipalCache::off();
        c.put(key("u"), actor("u"), c.epoch());
        assert!(c.get(&key("u")).is_none());
    }

    #[test]
    fn a_live_cache_answers_what_it_was_given_for_that_generation_only() {
        let c = live();
        c.put(key("u"), actor("u"), c.epoch());
        assert_eq!(c.get(&key("u")).map(|a| a.username), Some("u".into()));
        assert!(c.get(&("u".into(), 2, None)).is_none());
    }

    #[test]
    fn a_look_up_that_began_before_an_emptying_is_not_kept() {
        let c = live();
        let began = c.epoch();
        c.invalidate();
        c.put(key("u"), actor("u"), began);
        assert!(c.get(&key("u")).is_none());
        c.put(key("u"), actor("u"), c.epoch());
        assert!(c.get(&key("u")).is_some());
    }

    #[test]
    fn emptying_forgets_every_actor() {
        let c = live();
        c.put(key("u"), actor("u"), c.epoch());
        c.put(key("v"), actor("v"), c.epoch());
        c.invalidate();
        assert!(c.get(&key("u")).is_none() && c.get(&key("v")).is_none());
    }

    #[test]
    fn going_off_stops_answering() {
        let c = live();
        c.put(key("u"), actor("u"), c.epoch());
        c.inner.live.store(false, Ordering::Release);
        assert!(c.get(&key("u")).is_none());
    }
}
