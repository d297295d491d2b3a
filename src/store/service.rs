//! Queries the daemon runs for its own housekeeping: the polls a failing store refused,
//! written once it takes writes again. (Feed states are counted by `feeds::state_counts`.)

use super::StoreError;
use rusqlite::Connection;

/// A poll whose results could not be stored (the store refused writes), remembered in memory
/// until the store takes writes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnstoredPoll {
    pub feed_id: i64,
    pub started_at: String,
    pub error: String,
}

/// Record polls that could not be stored when they ran, as failed `fetches` rows (kind
/// `store`), so the store's outage shows in `status` and the fetch log once it is over. The
/// feeds' own state is left alone: their next poll decides it.
pub fn record_unstored(conn: &Connection, polls: &[UnstoredPoll]) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO fetches (feed_id, started_at, duration_ms, outcome, error_kind, error)
         SELECT ?1, ?2, 0, 'error', 'store', ?3 WHERE EXISTS (SELECT 1 FROM feeds WHERE id = ?1)",
    )?;
    let mut written = 0;
    for p in polls {
        written += stmt.execute(rusqlite::params![p.feed_id, p.started_at, p.error])?;
    }
    Ok(written)
}
