//! Watching for changes other processes make (`change_signals`): PostgreSQL notifies the
//! channel on commit (`LISTEN`), SQLite moves a revision row that is read on each poll. Both
//! are moved by triggers (migrations `principal_signals`, `calendar_signals`), whoever writes.

use diesel::prelude::*;

use super::schema::change_signals;
use super::{ConnectionManager, DbConnection, DbError};

/// The signal that who a token names may have changed (users, system clients, agencies), or
/// the working-day calendar.
pub const PRINCIPALS: &str = "principals";
const PRINCIPALS_CHANNEL: &str = "gongkai_principals";

/// A connection of its own that watches one signal. Not from the pool: it stays with the
/// watcher, and a request never waits for it.
pub struct Watch {
    conn: DbConnection,
    /// SQLite: the revision last read.
    seen: i64,
}

impl Watch {
    /// Opens the connection and starts watching. Changes made from here on are seen by
    /// [`changed`](Self::changed); what changed before is not (the caller starts afresh).
    pub fn open(manager: &ConnectionManager) -> Result<Self, DbError> {
        let mut conn = manager.connect_once()?;
        let seen = match &mut conn {
            DbConnection::Postgres(pg) => {
                diesel::sql_query(format!("LISTEN {PRINCIPALS_CHANNEL}")).execute(pg)?;
                0
            }
            DbConnection::Sqlite(_) => revision(&mut conn)?,
        };
        Ok(Self { conn, seen })
    }

    /// The watch's own connection, for what a watcher reads again after a change.
    pub fn connection(&mut self) -> &mut DbConnection {
        &mut self.conn
    }

    /// Whether the signal moved since the last call. `probe` also proves the connection
    /// alive on PostgreSQL (reading buffered notices alone does not notice a dead peer).
    /// An error means the connection is no longer usable: open a new watch.
    pub fn changed(&mut self, probe: bool) -> Result<bool, DbError> {
        match &mut self.conn {
            DbConnection::Postgres(pg) => {
                if probe {
                    diesel::sql_query("SELECT 1").execute(pg)?;
                }
                let mut any = false;
                for notice in pg.notifications_iter() {
                    notice?;
                    any = true;
                }
                Ok(any)
            }
            DbConnection::Sqlite(_) => {
                let now = revision(&mut self.conn)?;
                let moved = now != self.seen;
                self.seen = now;
                Ok(moved)
            }
        }
    }
}

/// The current revision of the principals signal.
pub fn revision(conn: &mut DbConnection) -> QueryResult<i64> {
    change_signals::table
        .find(PRINCIPALS)
        .select(change_signals::revision)
        .get_result(conn)
}
