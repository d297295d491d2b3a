//! Feed rows: declared in the config (reconciled at start), managed by `newsdesk feed ...`, and
//! updated after every poll together with the poll's `fetches` row.

use super::{now_ts, StoreError};
use crate::config::FeedConfig;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedRow {
    pub id: i64,
    pub url: String,
    pub title: Option<String>,
    pub site_url: Option<String>,
    pub origin: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub interval_secs: Option<i64>,
    pub full_text: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_poll_at: Option<String>,
    pub last_polled_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub consecutive_errors: i64,
    pub current_interval_secs: Option<i64>,
    pub articles: i64,
}

const COLUMNS: &str =
    "id, url, title, site_url, origin, enabled, disabled_reason, interval_secs, full_text,
    etag, last_modified, next_poll_at, last_polled_at, last_success_at, last_status, last_error,
    consecutive_errors, current_interval_secs,
    (SELECT count(DISTINCT article_id) FROM sightings WHERE feed_id = feeds.id)";

fn row(r: &Row) -> rusqlite::Result<FeedRow> {
    Ok(FeedRow {
        id: r.get(0)?,
        url: r.get(1)?,
        title: r.get(2)?,
        site_url: r.get(3)?,
        origin: r.get(4)?,
        enabled: r.get(5)?,
        disabled_reason: r.get(6)?,
        interval_secs: r.get(7)?,
        full_text: r.get(8)?,
        etag: r.get(9)?,
        last_modified: r.get(10)?,
        next_poll_at: r.get(11)?,
        last_polled_at: r.get(12)?,
        last_success_at: r.get(13)?,
        last_status: r.get(14)?,
        last_error: r.get(15)?,
        consecutive_errors: r.get(16)?,
        current_interval_secs: r.get(17)?,
        articles: r.get(18)?,
    })
}

/// A feed's state, decided here only: `feed list`, `status` and the daemon's gauges and
/// status line all ask this function, so they cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedState {
    /// Enabled and never polled yet.
    New,
    /// Enabled and its last poll succeeded.
    Ok,
    /// Enabled and its last `consecutive_errors` polls failed.
    Failing,
    /// Not polled: by the user, or after 410 Gone.
    Disabled,
}

impl FeedState {
    pub fn of(enabled: bool, consecutive_errors: i64, polled: bool) -> FeedState {
        match (enabled, consecutive_errors > 0, polled) {
            (false, _, _) => FeedState::Disabled,
            (true, true, _) => FeedState::Failing,
            (true, false, true) => FeedState::Ok,
            (true, false, false) => FeedState::New,
        }
    }
}

impl FeedRow {
    pub fn state(&self) -> FeedState {
        FeedState::of(
            self.enabled,
            self.consecutive_errors,
            self.last_polled_at.is_some(),
        )
    }
}

/// How many polled feeds are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub new: u64,
    pub ok: u64,
    pub failing: u64,
    pub disabled: u64,
}

impl StateCounts {
    /// Feeds that are polled: new, ok and failing.
    pub fn enabled(&self) -> u64 {
        self.new + self.ok + self.failing
    }
}

pub fn state_counts(conn: &Connection) -> Result<StateCounts, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT enabled, consecutive_errors, last_polled_at IS NOT NULL FROM feeds WHERE kind = 'feed'",
    )?;
    let mut counts = StateCounts::default();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        match FeedState::of(r.get(0)?, r.get(1)?, r.get(2)?) {
            FeedState::New => counts.new += 1,
            FeedState::Ok => counts.ok += 1,
            FeedState::Failing => counts.failing += 1,
            FeedState::Disabled => counts.disabled += 1,
        }
    }
    Ok(counts)
}

/// Polled feeds (local pseudo-feeds excluded), oldest first.
pub fn list(conn: &Connection) -> Result<Vec<FeedRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM feeds WHERE kind = 'feed' ORDER BY id"
    ))?;
    let rows = stmt.query_map([], row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Enabled feeds whose next poll is due at `now` (all enabled feeds when `all`).
pub fn due(conn: &Connection, now: &str, all: bool) -> Result<Vec<FeedRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM feeds WHERE kind = 'feed' AND enabled = 1
            AND (?2 OR next_poll_at IS NULL OR next_poll_at <= ?1)
          ORDER BY next_poll_at IS NOT NULL, next_poll_at, id"
    ))?;
    let rows = stmt
        .query_map(params![now, all], row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The earliest next poll among enabled feeds, to know how long the scheduler may sleep.
pub fn next_due_at(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row(
        "SELECT min(coalesce(next_poll_at, '')) FROM feeds WHERE kind = 'feed' AND enabled = 1",
        [],
        |r| r.get(0),
    )?)
}

/// A feed by id, or by URL.
pub fn find(conn: &Connection, key: &str) -> Result<Option<FeedRow>, StoreError> {
    let by_id = key.parse::<i64>().ok();
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM feeds WHERE kind = 'feed' AND (id = ?1 OR url = ?2)"),
            params![by_id, key],
            row,
        )
        .optional()?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    Added(i64),
    Exists(i64),
}

/// Add a feed unless its URL is already there.
pub fn add(
    conn: &Connection,
    url: &str,
    title: Option<&str>,
    interval_secs: Option<i64>,
    origin: &str,
) -> Result<AddOutcome, StoreError> {
    if let Some(id) = conn
        .query_row("SELECT id FROM feeds WHERE url = ?1", [url], |r| r.get(0))
        .optional()?
    {
        return Ok(AddOutcome::Exists(id));
    }
    conn.execute(
        "INSERT INTO feeds (url, kind, title, interval_secs, origin) VALUES (?1, 'feed', ?2, ?3, ?4)",
        params![url, title, interval_secs, origin],
    )?;
    Ok(AddOutcome::Added(conn.last_insert_rowid()))
}

/// Remove a feed and its sightings and poll history; its articles stay (other sightings may
/// hold them, and an analyst's store never loses text behind their back).
pub fn remove(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM feeds WHERE id = ?1 AND kind = 'feed'", [id])? > 0)
}

pub fn set_enabled(
    conn: &Connection,
    id: i64,
    enabled: bool,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE feeds SET enabled = ?2, disabled_reason = CASE WHEN ?2 THEN NULL ELSE ?3 END,
                consecutive_errors = CASE WHEN ?2 THEN 0 ELSE consecutive_errors END,
                next_poll_at = CASE WHEN ?2 THEN NULL ELSE next_poll_at END, updated_at = ?4
          WHERE id = ?1 AND kind = 'feed'",
        params![id, enabled, reason, now_ts()],
    )?;
    Ok(n > 0)
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    pub added: usize,
    pub updated: usize,
    pub disabled: usize,
}

/// Make the table match the config's `[[feeds]]`: add new ones, refresh declared settings,
/// and disable (not delete) config feeds that left the config, so their history stays. A
/// declared URL that a permanent redirect moved is the feed it moved to (found through
/// `feed_url_history`), not a new feed: the config keeps naming a feed by its old address.
pub fn reconcile(conn: &Connection, feeds: &[FeedConfig]) -> Result<Reconciled, StoreError> {
    let mut out = Reconciled::default();
    let mut declared = std::collections::HashSet::new();
    for f in feeds {
        match declared_feed(conn, f.url.as_str())? {
            None => {
                declared.insert(insert_config_feed(conn, f)?);
                out.added += 1;
            }
            Some((id, origin, enabled)) => {
                declared.insert(id);
                out.updated += refresh_config_feed(conn, id, f, origin == "config" && !enabled)?;
            }
        }
    }
    let mut stmt = conn.prepare("SELECT id FROM feeds WHERE origin = 'config' AND enabled = 1")?;
    let config_feeds: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in config_feeds {
        if !declared.contains(&id) {
            set_enabled(conn, id, false, Some("removed from config"))?;
            out.disabled += 1;
        }
    }
    Ok(out)
}

/// The feed a config URL names: by its URL, else the feed that moved away from it (the latest
/// move, should a URL have been left twice).
fn declared_feed(conn: &Connection, url: &str) -> Result<Option<(i64, String, bool)>, StoreError> {
    let by_url = conn
        .query_row(
            "SELECT id, origin, enabled FROM feeds WHERE url = ?1",
            [url],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if by_url.is_some() {
        return Ok(by_url);
    }
    Ok(conn
        .query_row(
            "SELECT f.id, f.origin, f.enabled FROM feed_url_history h JOIN feeds f ON f.id = h.feed_id
              WHERE h.old_url = ?1 AND f.kind = 'feed' ORDER BY h.id DESC LIMIT 1",
            [url],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

fn insert_config_feed(conn: &Connection, f: &FeedConfig) -> Result<i64, StoreError> {
    let labels = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
    let interval = f.interval.map(|d| d.as_secs() as i64);
    conn.execute(
        "INSERT INTO feeds (url, kind, title, interval_secs, full_text, labels, origin)
         VALUES (?1, 'feed', ?2, ?3, ?4, ?5, 'config')",
        params![f.url.as_str(), f.title, interval, f.full_text, labels],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Apply the config's settings to a feed it declares; `reenable` brings back a config feed
/// that was disabled for leaving the config. Returns 1 when something changed.
fn refresh_config_feed(
    conn: &Connection,
    id: i64,
    f: &FeedConfig,
    reenable: bool,
) -> Result<usize, StoreError> {
    let labels = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
    let interval = f.interval.map(|d| d.as_secs() as i64);
    Ok(conn.execute(
        "UPDATE feeds SET title = coalesce(?2, title), interval_secs = ?3, full_text = ?4, labels = ?5,
                origin = 'config', updated_at = ?6,
                enabled = CASE WHEN ?7 AND disabled_reason = 'removed from config' THEN 1 ELSE enabled END,
                disabled_reason = CASE WHEN ?7 AND disabled_reason = 'removed from config' THEN NULL ELSE disabled_reason END
          WHERE id = ?1
            AND (title IS NOT coalesce(?2, title) OR interval_secs IS NOT ?3 OR full_text != ?4
                 OR labels != ?5 OR origin != 'config' OR (?7 AND disabled_reason = 'removed from config'))",
        params![id, f.title, interval, f.full_text, labels, now_ts(), reenable],
    )?)
}

/// What one poll did to a feed, written with the poll's `fetches` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollRecord {
    pub started_at: String,
    /// Time spent on the poll (requests, parsing, tagging), queueing excluded.
    pub duration_ms: i64,
    /// Time queued behind the politeness limits and for a pipeline slot.
    pub queue_ms: i64,
    pub status: Option<u16>,
    /// "ok", "not_modified" or "error".
    pub outcome: &'static str,
    pub bytes: u64,
    pub items: usize,
    pub new_items: usize,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    /// New validators (None keeps the stored ones).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_poll_at: String,
    pub current_interval_secs: i64,
    /// A permanent redirect's new URL; left set only when the feed's URL was changed.
    pub moved_to: Option<String>,
    /// The redirect's status (301 or 308), for `feed_url_history`.
    pub moved_status: Option<u16>,
    /// 410 Gone: disable the feed with this reason.
    pub gone: Option<String>,
    pub title: Option<String>,
    pub site_url: Option<String>,
}

/// Record one poll: the `fetches` row and the feed's new state. A move to a URL that is the
/// feed's already, or another feed's, changes nothing and clears `moved_to`.
pub fn record_poll(conn: &Connection, feed_id: i64, p: &mut PollRecord) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO fetches (feed_id, started_at, duration_ms, queue_ms, status, outcome, bytes, items, new_items, error_kind, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        feed_id,
        p.started_at,
        p.duration_ms,
        p.queue_ms,
        p.status,
        p.outcome,
        p.bytes as i64,
        p.items as i64,
        p.new_items as i64,
        p.error_kind,
        p.error,
    ])?;
    let failed = p.outcome == "error";
    conn.prepare_cached(
        "UPDATE feeds SET
            last_polled_at = ?2,
            last_status = ?3,
            last_success_at = CASE WHEN ?4 THEN last_success_at ELSE ?2 END,
            last_error = CASE WHEN ?4 THEN ?5 ELSE NULL END,
            consecutive_errors = CASE WHEN ?4 THEN consecutive_errors + 1 ELSE 0 END,
            etag = coalesce(?6, etag),
            last_modified = coalesce(?7, last_modified),
            next_poll_at = ?8,
            current_interval_secs = ?9,
            title = coalesce(title, ?10),
            site_url = coalesce(?11, site_url),
            updated_at = ?2
         WHERE id = ?1",
    )?
    .execute(params![
        feed_id,
        p.started_at,
        p.status,
        failed,
        p.error,
        p.etag,
        p.last_modified,
        p.next_poll_at,
        p.current_interval_secs,
        p.title,
        p.site_url,
    ])?;
    if let Some(new_url) = p.moved_to.take() {
        if move_feed(conn, feed_id, &new_url, p)? {
            p.moved_to = Some(new_url);
        }
    }
    if let Some(reason) = &p.gone {
        conn.execute(
            "UPDATE feeds SET enabled = 0, disabled_reason = ?2 WHERE id = ?1",
            params![feed_id, reason],
        )?;
    }
    Ok(())
}

/// Point the feed at its new URL and keep the old one in the history. False when there is
/// nothing to change or another feed already has that URL (it is polled as that feed).
fn move_feed(
    conn: &Connection,
    feed_id: i64,
    new_url: &str,
    p: &PollRecord,
) -> Result<bool, StoreError> {
    let old: String = conn.query_row("SELECT url FROM feeds WHERE id = ?1", [feed_id], |r| {
        r.get(0)
    })?;
    let taken: Option<i64> = conn
        .query_row(
            "SELECT id FROM feeds WHERE url = ?1 AND id != ?2",
            params![new_url, feed_id],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() || old == new_url {
        return Ok(false);
    }
    conn.execute(
        "UPDATE feeds SET url = ?2 WHERE id = ?1",
        params![feed_id, new_url],
    )?;
    conn.execute(
        "INSERT INTO feed_url_history (feed_id, old_url, new_url, http_status, changed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![feed_id, old, new_url, p.moved_status.or(p.status), p.started_at],
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut c, std::path::Path::new(":memory:")).unwrap();
        c
    }

    fn cfg(url: &str) -> FeedConfig {
        FeedConfig {
            url: url::Url::parse(url).unwrap(),
            title: None,
            interval: None,
            tags: vec![],
            full_text: false,
        }
    }

    #[test]
    fn reconcile_adds_updates_and_disables() {
        let c = db();
        let a = cfg("https://a.example/rss");
        let b = cfg("https://b.example/rss");
        assert_eq!(
            reconcile(&c, &[a.clone(), b.clone()]).unwrap(),
            Reconciled {
                added: 2,
                updated: 0,
                disabled: 0
            }
        );
        assert_eq!(
            reconcile(&c, &[a.clone(), b.clone()]).unwrap(),
            Reconciled::default()
        );
        let mut a2 = a.clone();
        a2.title = Some("A".into());
        assert_eq!(
            reconcile(&c, &[a2.clone()]).unwrap(),
            Reconciled {
                added: 0,
                updated: 1,
                disabled: 1
            }
        );
        let feeds = list(&c).unwrap();
        assert_eq!(feeds[0].title.as_deref(), Some("A"));
        assert!(!feeds[1].enabled);
        assert_eq!(
            feeds[1].disabled_reason.as_deref(),
            Some("removed from config")
        );
        // Back in the config: enabled again.
        reconcile(&c, &[a2, b]).unwrap();
        assert!(list(&c).unwrap()[1].enabled);
    }

    #[test]
    fn polls_update_state_redirects_and_gone() {
        let c = db();
        let AddOutcome::Added(id) = add(&c, "https://a.example/rss", None, None, "cli").unwrap()
        else {
            panic!()
        };
        let mut p = PollRecord {
            started_at: "2026-02-18T00:00:00Z".into(),
            outcome: "error",
            error: Some("timeout".into()),
            next_poll_at: "2026-02-18T00:10:00Z".into(),
            ..Default::default()
        };
        record_poll(&c, id, &mut p).unwrap();
        record_poll(&c, id, &mut p).unwrap();
        let f = find(&c, "https://a.example/rss").unwrap().unwrap();
        assert_eq!(
            (f.consecutive_errors, f.last_error.as_deref()),
            (2, Some("timeout"))
        );
        p.outcome = "ok";
        p.error = None;
        p.status = Some(301);
        p.moved_to = Some("https://new.example/rss".into());
        p.etag = Some("\"v1\"".into());
        record_poll(&c, id, &mut p).unwrap();
        let f = find(&c, &id.to_string()).unwrap().unwrap();
        assert_eq!(
            (f.url.as_str(), f.consecutive_errors, f.etag.as_deref()),
            ("https://new.example/rss", 0, Some("\"v1\""))
        );
        let old: String = c
            .query_row("SELECT old_url FROM feed_url_history", [], |r| r.get(0))
            .unwrap();
        assert_eq!(old, "https://a.example/rss");
        p.gone = Some("410 Gone".into());
        record_poll(&c, id, &mut p).unwrap();
        assert!(!find(&c, &id.to_string()).unwrap().unwrap().enabled);
        assert_eq!(
            c.query_row("SELECT count(*) FROM fetches", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            4
        );
        assert!(
            due(&c, "2030-01-01T00:00:00Z", true).unwrap().is_empty(),
            "disabled feeds are not polled"
        );
    }
}
