//! Feeds on PostgreSQL: the config's `[[feeds]]` reconciled into the table (as
//! `store::feeds::reconcile`), and the leases that let several daemons share the feeds
//! without polling one twice.

use super::super::feeds::{FeedRow, Reconciled};
use super::super::{now_ts, StoreError};
use super::write::sql;
use crate::config::FeedConfig;
use postgres::{Client, Row};
use std::time::Duration;

/// Make the table match the config's `[[feeds]]`, in one transaction (daemons starting
/// together take turns on the feeds' rows).
pub fn reconcile(client: &mut Client, feeds: &[FeedConfig]) -> Result<Reconciled, StoreError> {
    let mut tx = client.transaction().map_err(sql)?;
    let mut out = Reconciled::default();
    let mut declared = std::collections::HashSet::new();
    let now = now_ts();
    for f in feeds {
        let labels = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
        let interval = f.interval.map(|d| d.as_secs() as i64);
        let full_text = i16::from(f.full_text);
        // Only a URL not there yet is inserted (a conflicting insert would spend an id on
        // every start); ON CONFLICT settles two daemons starting at once.
        let inserted = tx
            .query_opt(
                "INSERT INTO feeds (url, kind, title, interval_secs, full_text, labels, origin)
                 SELECT $1, 'feed', $2, $3, $4, $5, 'config'
                  WHERE NOT EXISTS (SELECT 1 FROM feeds WHERE url = $1)
                    AND NOT EXISTS (SELECT 1 FROM feed_url_history h JOIN feeds f ON f.id = h.feed_id
                                     WHERE h.old_url = $1 AND f.kind = 'feed')
                 ON CONFLICT (url) DO NOTHING RETURNING id",
                &[&f.url.as_str(), &f.title, &interval, &full_text, &labels],
            )
            .map_err(sql)?;
        if let Some(r) = inserted {
            declared.insert(r.try_get::<_, i64>(0).map_err(sql)?);
            out.added += 1;
            continue;
        }
        let Some(r) = tx
            .query_opt(
                "SELECT id, origin, enabled FROM feeds WHERE url = $1
                 UNION ALL
                 (SELECT f.id, f.origin, f.enabled FROM feed_url_history h JOIN feeds f ON f.id = h.feed_id
                   WHERE h.old_url = $1 AND f.kind = 'feed' ORDER BY h.id DESC LIMIT 1)
                 LIMIT 1",
                &[&f.url.as_str()],
            )
            .map_err(sql)?
        else {
            continue;
        };
        let id: i64 = r.try_get(0).map_err(sql)?;
        let origin: String = r.try_get(1).map_err(sql)?;
        let enabled: i16 = r.try_get(2).map_err(sql)?;
        declared.insert(id);
        let reenable = origin == "config" && enabled == 0;
        out.updated += tx
            .execute(
                "UPDATE feeds SET title = coalesce($2, title), interval_secs = $3, full_text = $4, labels = $5,
                        origin = 'config', updated_at = $6,
                        enabled = CASE WHEN $7 AND disabled_reason = 'removed from config' THEN 1 ELSE enabled END,
                        disabled_reason = CASE WHEN $7 AND disabled_reason = 'removed from config' THEN NULL ELSE disabled_reason END
                  WHERE id = $1
                    AND (title IS DISTINCT FROM coalesce($2, title) OR interval_secs IS DISTINCT FROM $3
                         OR full_text <> $4 OR labels <> $5 OR origin <> 'config'
                         OR ($7 AND disabled_reason = 'removed from config'))",
                &[&id, &f.title, &interval, &full_text, &labels, &now, &reenable],
            )
            .map_err(sql)? as usize;
    }
    let declared: Vec<i64> = declared.into_iter().collect();
    out.disabled = tx
        .execute(
            "UPDATE feeds SET enabled = 0, disabled_reason = 'removed from config', updated_at = $2
              WHERE origin = 'config' AND enabled = 1 AND kind = 'feed' AND NOT (id = ANY($1))",
            &[&declared, &now],
        )
        .map_err(sql)? as usize;
    tx.commit().map_err(sql)?;
    Ok(out)
}

const COLUMNS: &str =
    "f.id, f.url, f.title, f.site_url, f.origin, f.enabled, f.disabled_reason, f.interval_secs, f.full_text,
    f.etag, f.last_modified, f.next_poll_at, f.last_polled_at, f.last_success_at, f.last_status, f.last_error,
    f.consecutive_errors, f.current_interval_secs";

fn feed_row(r: &Row) -> Result<FeedRow, StoreError> {
    let g = |e| sql(e);
    Ok(FeedRow {
        id: r.try_get(0).map_err(g)?,
        url: r.try_get(1).map_err(g)?,
        title: r.try_get(2).map_err(g)?,
        site_url: r.try_get(3).map_err(g)?,
        origin: r.try_get(4).map_err(g)?,
        enabled: r.try_get::<_, i16>(5).map_err(g)? != 0,
        disabled_reason: r.try_get(6).map_err(g)?,
        interval_secs: r.try_get(7).map_err(g)?,
        full_text: r.try_get::<_, i16>(8).map_err(g)? != 0,
        etag: r.try_get(9).map_err(g)?,
        last_modified: r.try_get(10).map_err(g)?,
        next_poll_at: r.try_get(11).map_err(g)?,
        last_polled_at: r.try_get(12).map_err(g)?,
        last_success_at: r.try_get(13).map_err(g)?,
        last_status: r.try_get(14).map_err(g)?,
        last_error: r.try_get(15).map_err(g)?,
        consecutive_errors: r.try_get(16).map_err(g)?,
        current_interval_secs: r.try_get(17).map_err(g)?,
        // Only `feed list` shows it; its query (`list`) adds the count.
        articles: 0,
    })
}

/// A name for this process in `daemons` and `feed_leases`: host, pid and a random part (pids
/// repeat across machines and restarts).
pub fn owner_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
}

/// Register this process as a live daemon.
pub fn register(client: &mut Client, owner: &str, lease: Duration) -> Result<(), StoreError> {
    let host = owner.split(':').next().unwrap_or("");
    client
        .execute(
            "INSERT INTO daemons (id, host, pid, lease_secs) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
            &[
                &owner,
                &host,
                &i64::from(std::process::id()),
                &(lease.as_secs().max(1) as i64),
            ],
        )
        .map_err(sql)?;
    Ok(())
}

/// A clean exit: leases given back (their feeds are free at once), the daemon row gone, and
/// rows of daemons dead for a day swept.
pub fn unregister(client: &mut Client, owner: &str) -> Result<(), StoreError> {
    client
        .batch_execute("BEGIN")
        .and_then(|_| {
            client.execute("DELETE FROM feed_leases WHERE owner = $1", &[&owner])?;
            client.execute("DELETE FROM daemons WHERE id = $1", &[&owner])?;
            client.execute(
                "DELETE FROM daemons WHERE heartbeat_at < now() - interval '1 day'",
                &[],
            )?;
            client.batch_execute("COMMIT")
        })
        .map_err(sql)
}

/// Extend this process's leases and heartbeat: it is alive and still polling them.
pub fn renew(client: &mut Client, owner: &str, lease: Duration) -> Result<u64, StoreError> {
    let secs = lease.as_secs_f64();
    client
        .execute(
            "UPDATE daemons SET heartbeat_at = now() WHERE id = $1",
            &[&owner],
        )
        .map_err(sql)?;
    client
        .execute(
            "UPDATE feed_leases SET expires_at = now() + make_interval(secs => $2)
              WHERE owner = $1",
            &[&owner, &secs],
        )
        .map_err(sql)
}

/// Claim up to `limit` feeds that are due (with `all`: every enabled feed not polled since
/// `pass_started`) and leased by no live process. The feed rows are locked with SKIP LOCKED,
/// so two daemons claiming at once take different feeds; the lease's upsert takes over only
/// expired leases.
pub fn claim(
    client: &mut Client,
    owner: &str,
    lease: Duration,
    all: bool,
    limit: usize,
    pass_started: &str,
) -> Result<Vec<FeedRow>, StoreError> {
    let secs = lease.as_secs_f64();
    let now = now_ts();
    let mut tx = client.transaction().map_err(sql)?;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM feeds f
                  WHERE f.kind = 'feed' AND f.enabled = 1
                    AND CASE WHEN $2 THEN f.last_polled_at IS NULL OR f.last_polled_at < $4
                             ELSE f.next_poll_at IS NULL OR f.next_poll_at <= $1 END
                    AND NOT EXISTS (SELECT 1 FROM feed_leases l
                                     WHERE l.feed_id = f.id AND l.expires_at > now())
                  ORDER BY f.next_poll_at IS NOT NULL, f.next_poll_at, f.id
                  LIMIT $3
                  FOR UPDATE OF f SKIP LOCKED"
            ),
            &[&now, &all, &(limit as i64), &pass_started],
        )
        .map_err(sql)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for r in &rows {
        let feed = feed_row(r)?;
        let got = tx
            .execute(
                "INSERT INTO feed_leases (feed_id, owner, expires_at)
                 VALUES ($1, $2, now() + make_interval(secs => $3))
                 ON CONFLICT (feed_id) DO UPDATE
                    SET owner = excluded.owner, claimed_at = now(), expires_at = excluded.expires_at
                  WHERE feed_leases.expires_at <= now()",
                &[&feed.id, &owner, &secs],
            )
            .map_err(sql)?;
        if got == 1 {
            claimed.push(feed);
        }
    }
    tx.commit().map_err(sql)?;
    Ok(claimed)
}

/// A live daemon and what it holds, for `status`.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct DaemonRow {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
    pub heartbeat_at: String,
    /// Feeds it holds leases on now.
    pub leases: i64,
}

/// Daemons whose heartbeat is within their lease time.
pub fn live_daemons(client: &mut Client) -> Result<Vec<DaemonRow>, StoreError> {
    let iso =
        |c: &str| format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
    client
        .query(
            &format!(
                "SELECT d.id, d.host, d.pid, {}, {},
                        (SELECT count(*) FROM feed_leases l WHERE l.owner = d.id AND l.expires_at > now())
                   FROM daemons d
                  WHERE d.heartbeat_at > now() - make_interval(secs => d.lease_secs)
                  ORDER BY d.started_at, d.id",
                iso("d.started_at"),
                iso("d.heartbeat_at")
            ),
            &[],
        )
        .map_err(sql)?
        .iter()
        .map(|r| {
            Ok(DaemonRow {
                id: r.try_get(0).map_err(sql)?,
                host: r.try_get(1).map_err(sql)?,
                pid: r.try_get(2).map_err(sql)?,
                started_at: r.try_get(3).map_err(sql)?,
                heartbeat_at: r.try_get(4).map_err(sql)?,
                leases: r.try_get(5).map_err(sql)?,
            })
        })
        .collect()
}

/// Feeds by state, as `store::feeds::state_counts` (the same rule, in SQL).
pub fn state_counts(client: &mut Client) -> Result<super::super::feeds::StateCounts, StoreError> {
    let r = client
        .query_one(
            "SELECT count(*) FILTER (WHERE enabled = 1 AND consecutive_errors = 0 AND last_polled_at IS NULL),
                    count(*) FILTER (WHERE enabled = 1 AND consecutive_errors = 0 AND last_polled_at IS NOT NULL),
                    count(*) FILTER (WHERE enabled = 1 AND consecutive_errors > 0),
                    count(*) FILTER (WHERE enabled = 0)
               FROM feeds WHERE kind = 'feed'",
            &[],
        )
        .map_err(sql)?;
    let n =
        |i| -> Result<u64, StoreError> { Ok(r.try_get::<_, i64>(i).map_err(sql)?.max(0) as u64) };
    Ok(super::super::feeds::StateCounts {
        new: n(0)?,
        ok: n(1)?,
        failing: n(2)?,
        disabled: n(3)?,
    })
}

/// Polls the store could not take when they ran, as failed `fetches` rows (as
/// `store::service::record_unstored`).
pub fn record_unstored(
    client: &mut Client,
    polls: &[super::super::service::UnstoredPoll],
) -> Result<usize, StoreError> {
    let mut written = 0;
    for p in polls {
        written += client
            .execute(
                "INSERT INTO fetches (feed_id, started_at, duration_ms, outcome, error_kind, error)
                 SELECT $1, $2, 0, 'error', 'store', $3 WHERE EXISTS (SELECT 1 FROM feeds WHERE id = $1)",
                &[&p.feed_id, &p.started_at, &p.error],
            )
            .map_err(sql)? as usize;
    }
    Ok(written)
}

/// Retention (as `store::prune::prune`): articles and poll records older than the configured
/// days, in chunks; sightings, tags, revisions, fingerprints and the index rows go with their
/// article by the foreign keys' cascades.
pub fn prune(
    client: &mut Client,
    article_days: Option<u32>,
    fetch_days: Option<u32>,
) -> Result<super::super::prune::Pruned, StoreError> {
    const CHUNK: i64 = 2000;
    let cutoff =
        |days: u32| super::super::ts(chrono::Utc::now() - chrono::Duration::days(i64::from(days)));
    let mut out = super::super::prune::Pruned::default();
    for (days, sql_text, counter) in [
        (
            article_days,
            "DELETE FROM articles WHERE id IN (
                 SELECT id FROM articles WHERE coalesce(published_at, first_seen_at) < $1 LIMIT $2)",
            0,
        ),
        (
            fetch_days,
            "DELETE FROM fetches WHERE id IN (SELECT id FROM fetches WHERE started_at < $1 LIMIT $2)",
            1,
        ),
    ] {
        let Some(days) = days else { continue };
        let before = cutoff(days);
        loop {
            let n = client.execute(sql_text, &[&before, &CHUNK]).map_err(sql)?;
            if counter == 0 {
                out.articles += n;
            } else {
                out.fetches += n;
            }
            if (n as i64) < CHUNK {
                break;
            }
        }
    }
    Ok(out)
}

/// `feed_row`'s columns and the feed's article count, for `feed list` and `feed find`.
fn listed_columns() -> String {
    format!(
        "{COLUMNS}, (SELECT count(DISTINCT s.article_id) FROM sightings s WHERE s.feed_id = f.id)"
    )
}

fn listed_row(r: &Row) -> Result<FeedRow, StoreError> {
    let mut f = feed_row(r)?;
    f.articles = r.try_get(18).map_err(sql)?;
    Ok(f)
}

/// Polled feeds (local pseudo-feeds excluded), oldest first (as `store::feeds::list`).
pub fn list(client: &mut Client) -> Result<Vec<FeedRow>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {} FROM feeds f WHERE f.kind = 'feed' ORDER BY f.id",
                listed_columns()
            ),
            &[],
        )
        .map_err(sql)?
        .iter()
        .map(listed_row)
        .collect()
}

/// A feed by id, or by URL (as `store::feeds::find`).
pub fn find(client: &mut Client, key: &str) -> Result<Option<FeedRow>, StoreError> {
    let by_id = key.parse::<i64>().ok();
    client
        .query_opt(
            &format!(
                "SELECT {} FROM feeds f WHERE f.kind = 'feed' AND (f.id = $1 OR f.url = $2)",
                listed_columns()
            ),
            &[&by_id, &key],
        )
        .map_err(sql)?
        .as_ref()
        .map(listed_row)
        .transpose()
}

/// Add a feed unless its URL is already there (as `store::feeds::add`). Only a new URL is
/// inserted, so an existing one spends no id; ON CONFLICT settles two adds racing.
pub fn add(
    client: &mut Client,
    url: &str,
    title: Option<&str>,
    interval_secs: Option<i64>,
    origin: &str,
) -> Result<super::super::feeds::AddOutcome, StoreError> {
    use super::super::feeds::AddOutcome;
    if let Some(r) = client
        .query_opt("SELECT id FROM feeds WHERE url = $1", &[&url])
        .map_err(sql)?
    {
        return Ok(AddOutcome::Exists(r.try_get(0).map_err(sql)?));
    }
    let inserted = client
        .query_opt(
            "INSERT INTO feeds (url, kind, title, interval_secs, origin) VALUES ($1, 'feed', $2, $3, $4)
             ON CONFLICT (url) DO NOTHING RETURNING id",
            &[&url, &title, &interval_secs, &origin],
        )
        .map_err(sql)?;
    match inserted {
        Some(r) => Ok(AddOutcome::Added(r.try_get(0).map_err(sql)?)),
        None => {
            let r = client
                .query_one("SELECT id FROM feeds WHERE url = $1", &[&url])
                .map_err(sql)?;
            Ok(AddOutcome::Exists(r.try_get(0).map_err(sql)?))
        }
    }
}

/// Remove a feed, its sightings, poll history and lease; its articles stay (as
/// `store::feeds::remove`).
pub fn remove(client: &mut Client, id: i64) -> Result<bool, StoreError> {
    Ok(client
        .execute("DELETE FROM feeds WHERE id = $1 AND kind = 'feed'", &[&id])
        .map_err(sql)?
        > 0)
}

/// As `store::feeds::set_enabled`.
pub fn set_enabled(
    client: &mut Client,
    id: i64,
    enabled: bool,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    let n = client
        .execute(
            "UPDATE feeds SET enabled = CASE WHEN $2 THEN 1 ELSE 0 END,
                    disabled_reason = CASE WHEN $2 THEN NULL ELSE $3 END,
                    consecutive_errors = CASE WHEN $2 THEN 0 ELSE consecutive_errors END,
                    next_poll_at = CASE WHEN $2 THEN NULL ELSE next_poll_at END, updated_at = $4
              WHERE id = $1 AND kind = 'feed'",
            &[&id, &enabled, &reason, &now_ts()],
        )
        .map_err(sql)?;
    Ok(n > 0)
}
