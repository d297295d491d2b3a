//! Queries the daemon runs for its own housekeeping (gauges, the systemd status line).

use super::StoreError;
use rusqlite::Connection;

/// Subscribed feeds by state: enabled and ok, enabled and failing, disabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStates {
    pub ok: u64,
    pub failing: u64,
    pub disabled: u64,
}

pub fn feed_states(conn: &Connection) -> Result<FeedStates, StoreError> {
    let (ok, failing, disabled): (i64, i64, i64) = conn.query_row(
        "SELECT coalesce(sum(enabled = 1 AND consecutive_errors = 0), 0),
                coalesce(sum(enabled = 1 AND consecutive_errors > 0), 0),
                coalesce(sum(enabled = 0), 0)
           FROM feeds WHERE kind = 'feed'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(FeedStates {
        ok: ok.max(0) as u64,
        failing: failing.max(0) as u64,
        disabled: disabled.max(0) as u64,
    })
}
