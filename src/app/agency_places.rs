//! Every agency's code and place in the tree (`path`), kept per process, so that a read of an
//! application joins no agency row (issue 15: the join was about a tenth of the read's
//! statement on PostgreSQL, measured with pgbench).
//!
//! Kept whole under the watch of the cached principals (`principals`): adding an agency, or
//! changing its code, parent or path, or removing it, moves that signal by trigger in its own
//! transaction, whoever makes it (migrations `principal_signals` and `read_without_joins`).
//! After each signal, and whenever the watch (re)opens, the watcher reads every agency again on
//! its own connection, never on a request's. While the process holds them all under the
//! watch's current epoch a read takes the agency from here; otherwise (the watch down, a
//! `:memory:` database, a change not yet read again, more agencies than [`CAPACITY`]) the read's
//! one statement joins the agency, as it did before. A read thus never sends a statement of
//! its own for the agency, except in the moment between a change and its refill
//! ([`AgencyPlaces::read`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

use super::principals::PrincipalCache;
use crate::db::{self, DbConnection};

/// At most this many agencies are kept (a province has hundreds); with more, reads join.
pub const CAPACITY: usize = 10_000;

/// An agency's code and its path in the tree (what a caller's scope is judged by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub code: String,
    pub path: String,
}

#[derive(Clone)]
pub struct AgencyPlaces {
    kept: Arc<RwLock<Kept>>,
    watch: PrincipalCache,
}

#[derive(Default)]
struct Kept {
    /// The watch's epoch every place was read under; `None`: nothing complete is kept.
    epoch: Option<u64>,
    places: HashMap<String, Place>,
}

impl AgencyPlaces {
    /// Places read again by `watch`'s watcher after every change it sees.
    pub fn watched_by(watch: PrincipalCache) -> Self {
        let places = Self {
            kept: Arc::default(),
            watch: watch.clone(),
        };
        // Weak: the watcher's cache must not keep itself alive through this.
        let kept = Arc::downgrade(&places.kept);
        watch.refill_after_changes(Box::new(move |conn, cache| refill(&kept, conn, cache)));
        places
    }

    /// The epoch under which every agency's place is held, when it is the watch's current one:
    /// a read may then leave the agency out of its statement and take it from
    /// [`place`](Self::place).
    pub fn complete(&self) -> Option<u64> {
        if !self.watch.is_live() {
            return None;
        }
        let epoch = self.watch.epoch();
        let kept = self.kept.read().ok()?;
        (kept.epoch == Some(epoch)).then_some(epoch)
    }

    /// The agency's place as held under `epoch` ([`complete`](Self::complete)); `None` when a
    /// change came between (or the agency is newer than the places held).
    pub fn place(&self, id: &str, epoch: u64) -> Option<Place> {
        let kept = self.kept.read().ok()?;
        (kept.epoch == Some(epoch))
            .then(|| kept.places.get(id).cloned())
            .flatten()
    }

    /// The agency's place from the database: for a read whose agency was not held after all
    /// (a change between [`complete`](Self::complete) and [`place`](Self::place)).
    pub fn read(&self, conn: &mut DbConnection, id: &str) -> diesel::QueryResult<Option<Place>> {
        Ok(db::agencies::place(conn, id)?.map(|(code, path)| Place { code, path }))
    }
}

/// Reads every agency on the watcher's connection and keeps them under the epoch noted before,
/// unless another emptying came meanwhile (checked under this cache's lock).
fn refill(kept: &Weak<RwLock<Kept>>, conn: &mut DbConnection, cache: &PrincipalCache) {
    let Some(kept) = kept.upgrade() else {
        return;
    };
    let epoch = cache.epoch();
    let read = match db::agencies::places(conn, CAPACITY as i64 + 1) {
        Ok(read) => read,
        Err(e) => {
            // The watch notices a broken connection on its next poll and opens a new one.
            tracing::warn!(error = %e, "cannot read the agencies again; reads join them until the next change");
            return;
        }
    };
    let complete = read.len() <= CAPACITY;
    store(&kept, cache, epoch, complete.then_some(read));
}

fn store(
    kept: &RwLock<Kept>,
    cache: &PrincipalCache,
    epoch: u64,
    read: Option<Vec<(String, String, String)>>,
) {
    let Ok(mut kept) = kept.write() else {
        return;
    };
    kept.places.clear();
    kept.epoch = None;
    let Some(read) = read else {
        return;
    };
    if cache.epoch() != epoch || !cache.is_live() {
        return;
    }
    kept.places = read
        .into_iter()
        .map(|(id, code, path)| (id, Place { code, path }))
        .collect();
    kept.epoch = Some(epoch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agencies(n: usize) -> Vec<(String, String, String)> {
        (0..n)
            .map(|i| (format!("a{i}"), format!("A{i}"), format!("/a{i}/")))
            .collect()
    }

    fn place(i: usize) -> Place {
        Place {
            code: format!("A{i}"),
            path: format!("/a{i}/"),
        }
    }

    #[test]
    fn every_place_read_under_the_current_epoch_is_answered_from_memory() {
        let places = AgencyPlaces::watched_by(PrincipalCache::live_unwatched());
        assert_eq!(places.complete(), None, "nothing read yet");
        let epoch = places.watch.epoch();
        store(&places.kept, &places.watch, epoch, Some(agencies(3)));
        assert_eq!(places.complete(), Some(epoch));
        assert_eq!(places.place("a2", epoch), Some(place(2)));
        assert_eq!(places.place("a9", epoch), None, "an agency not read");
    }

    #[test]
    fn a_signal_leaves_the_places_incomplete_until_they_are_read_again() {
        let places = AgencyPlaces::watched_by(PrincipalCache::live_unwatched());
        let before = places.watch.epoch();
        store(&places.kept, &places.watch, before, Some(agencies(3)));
        places.watch.invalidate();
        assert_eq!(places.complete(), None);
        assert_eq!(places.place("a1", places.watch.epoch()), None);
        // What a read that began before the signal asks for is not answered either.
        assert_eq!(places.place("a1", before), Some(place(1)));
        let now = places.watch.epoch();
        store(&places.kept, &places.watch, now, Some(agencies(2)));
        assert_eq!(places.complete(), Some(now));
        assert_eq!(places.place("a1", before), None);
    }

    #[test]
    fn a_refill_that_began_before_a_signal_is_not_kept() {
        let places = AgencyPlaces::watched_by(PrincipalCache::live_unwatched());
        let began = places.watch.epoch();
        places.watch.invalidate();
        store(&places.kept, &places.watch, began, Some(agencies(3)));
        assert_eq!(places.complete(), None);
        assert_eq!(places.place("a1", began), None);
    }

    #[test]
    fn nothing_is_complete_without_a_live_watch() {
        let places = AgencyPlaces::watched_by(PrincipalCache::off());
        store(
            &places.kept,
            &places.watch,
            places.watch.epoch(),
            Some(agencies(3)),
        );
        assert_eq!(places.complete(), None);
    }

    #[test]
    fn more_agencies_than_kept_leave_reads_joining() {
        let places = AgencyPlaces::watched_by(PrincipalCache::live_unwatched());
        let epoch = places.watch.epoch();
        store(&places.kept, &places.watch, epoch, Some(agencies(2)));
        store(&places.kept, &places.watch, epoch, None);
        assert_eq!(places.complete(), None);
        assert_eq!(places.place("a1", epoch), None);
    }
}
