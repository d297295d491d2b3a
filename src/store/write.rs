//! What the writer does with a batch of articles: exact-identity lookup, insert or revise,
//! sightings, tags, all in one transaction. Runs only on the writer thread.

use super::{now_ts, ts, StoreError};
use crate::dedupe::{DedupeConfig, Fingerprint, NearDupIndex, StoredFingerprints};
use crate::model::Article;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

/// Bodies shorter than this many words are too generic for the content hash to prove identity
/// ("Watch the video.", a one-line teaser).
const MIN_WORDS_FOR_HASH_IDENTITY: usize = 25;

/// Whether `body` is long enough for its content hash to prove identity (both stores ask).
/// Counting stops at the threshold: bodies run to thousands of words.
pub(crate) fn hash_proves_identity(body: &str) -> bool {
    body.split_whitespace()
        .nth(MIN_WORDS_FOR_HASH_IDENTITY - 1)
        .is_some()
}

/// Attempts for a batch that fails with a transient error (lock, full disk) before it is
/// reported as failed.
const ATTEMPTS: u32 = 3;

/// Tag ids by kind, then slug: looked up by `&str` for every tag row, where a `(String,
/// String)` key cost two allocations per row on the writer thread.
pub type TagIds = HashMap<String, HashMap<String, i64>>;

/// State owned by the writer thread.
pub struct WriterState {
    pub conn: Connection,
    /// kind -> slug -> tags.id; cleared whenever a transaction rolls back.
    tag_ids: TagIds,
    /// Near-duplicate index over the stored articles' fingerprints. Articles enter it as they
    /// are inserted, so a story carried by two feeds of one batch is caught; a transaction that
    /// rolls back has the index rebuilt from what the connection then sees (rare: errors only).
    /// Built on the first batch that has articles to store, not at start: a pass where every
    /// feed answers 304 (or a `status`-only process) never reads the fingerprints. `None`
    /// also after a rollback, when it may name rows that no longer exist.
    near: Option<NearDupIndex>,
    dedupe: DedupeConfig,
    /// The open group transaction of the writer's group commit, if any.
    group: Option<Group>,
}

/// A group transaction (see `store::writer`): begun with the FTS index deferred to its end.
struct Group {
    fts_after: i64,
    /// Articles its jobs wrote, for the commit's metrics and the group's bound.
    items: u64,
    /// Why the transaction can no longer be committed (a savepoint that did not roll back).
    broken: Option<StoreError>,
}

/// Where a batch came from: a polled feed, or local files under a pseudo-feed name.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Feed(i64),
    Local { name: String, title: String },
}

/// One tag as the store keeps it (the tagger's result, flattened).
#[derive(Debug, Clone, PartialEq)]
pub struct TagRow {
    pub kind: String,
    pub slug: String,
    pub label: String,
    pub code: Option<String>,
    pub score: f64,
    pub evidence: String,
}

/// The tagger's verdict for one article.
#[derive(Debug, Clone, PartialEq)]
pub struct TagSet {
    pub foreign_policy: bool,
    pub score: f64,
    pub evidence: String,
    pub tags: Vec<TagRow>,
}

/// An article ready to store, with how its source identifies it.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub article: Article,
    /// Identity within the source (guid, link, title+date, file path, record id).
    pub guid: String,
    pub tags: Option<TagSet>,
    /// For near-duplicate detection; None skips it.
    pub fingerprint: Option<crate::dedupe::Fingerprint>,
    /// The feed item's `RawArticle::item_hash`, kept on the sighting so an unchanged repeat
    /// can be recognised before any work is done on it; None for local files.
    pub item_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    New(i64),
    /// Already stored (same guid, URL or text): a sighting was recorded.
    Repeat(i64),
    /// Already stored with different text: updated, previous version kept.
    Revised(i64),
}

impl ItemOutcome {
    pub fn article_id(self) -> i64 {
        match self {
            ItemOutcome::New(id) | ItemOutcome::Repeat(id) | ItemOutcome::Revised(id) => id,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    pub items: Vec<ItemOutcome>,
    /// Tags written for new and revised articles, by kind.
    pub tags: crate::service::events::TagCounts,
    /// New articles that are near duplicates of a stored story (counted in `new` too).
    pub near_duplicates: usize,
}

impl BatchOutcome {
    pub fn new_count(&self) -> usize {
        self.items
            .iter()
            .filter(|o| matches!(o, ItemOutcome::New(_)))
            .count()
    }
    pub fn repeat_count(&self) -> usize {
        self.items
            .iter()
            .filter(|o| matches!(o, ItemOutcome::Repeat(_)))
            .count()
    }
    pub fn revised_count(&self) -> usize {
        self.items
            .iter()
            .filter(|o| matches!(o, ItemOutcome::Revised(_)))
            .count()
    }
}

impl WriterState {
    /// Take the connection. The near-duplicate index is rebuilt from the stored fingerprints
    /// when the first article needs it.
    pub fn new(conn: Connection, dedupe: &DedupeConfig) -> Result<Self, StoreError> {
        Ok(WriterState {
            conn,
            tag_ids: HashMap::new(),
            near: None,
            dedupe: dedupe.clone(),
            group: None,
        })
    }

    /// After a rollback: the caches may hold ids that no longer exist (and that later inserts
    /// will reuse), so they are rebuilt before they are next used.
    fn invalidate(&mut self) {
        self.tag_ids.clear();
        self.near = None;
    }

    /// Begin a group transaction. IMMEDIATE takes the write lock now, waiting up to the busy
    /// timeout, so no job of the group can fail on it later with a snapshot it cannot upgrade.
    pub(super) fn begin_group(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match super::fts::defer(&self.conn) {
            Ok(fts_after) => {
                self.group = Some(Group {
                    fts_after,
                    items: 0,
                    broken: None,
                });
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Articles written in the open group so far.
    pub(super) fn group_items(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.items)
    }

    /// Run one job of the group in a savepoint of its own: if it fails, only its changes are
    /// undone. Outside a group, `f` just runs.
    pub(super) fn in_savepoint<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.group {
            None => return f(self),
            Some(g) if g.broken.is_some() => {
                return Err(StoreError::NotCommitted(
                    "an earlier write of the same transaction failed and could not be undone"
                        .into(),
                ))
            }
            Some(_) => {}
        }
        // Some errors (I/O, full disk) make SQLite roll back the whole transaction; a job run
        // after that would autocommit on its own while its caller waits for the group.
        if self.conn.is_autocommit() {
            let e = StoreError::NotCommitted(
                "the transaction was rolled back after an earlier write failed".into(),
            );
            self.break_group(e.replicate());
            return Err(e);
        }
        self.conn.execute_batch("SAVEPOINT job")?;
        let result = f(self).and_then(|v| {
            self.conn.execute_batch("RELEASE job")?;
            Ok(v)
        });
        if result.is_err() {
            // ROLLBACK TO keeps the savepoint open; RELEASE then drops it.
            if let Err(e) = self.conn.execute_batch("ROLLBACK TO job; RELEASE job") {
                self.break_group(e.into());
            }
            self.invalidate();
        }
        result
    }

    fn break_group(&mut self, e: StoreError) {
        if let Some(g) = &mut self.group {
            g.broken.get_or_insert(e);
        }
    }

    /// Index the group's new articles and commit. Returns the articles written; on failure
    /// nothing of the group is stored and the caches are rebuilt from what was committed.
    pub(super) fn commit_group(&mut self) -> Result<u64, StoreError> {
        let Some(group) = self.group.take() else {
            return Ok(0);
        };
        let result = self.finish_group(group);
        if result.is_err() {
            if !self.conn.is_autocommit() {
                if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                    tracing::warn!(error = %e, "rolling back a failed group failed");
                }
            }
            self.invalidate();
        }
        result
    }

    fn finish_group(&mut self, group: Group) -> Result<u64, StoreError> {
        if let Some(e) = group.broken {
            return Err(e);
        }
        if self.conn.is_autocommit() {
            return Err(StoreError::NotCommitted(
                "the transaction was rolled back after a write failed".into(),
            ));
        }
        super::fts::index_deferred(&self.conn, group.fts_after)?;
        let mut attempt = 1;
        loop {
            match self.conn.execute_batch("COMMIT") {
                Ok(()) => return Ok(group.items),
                Err(e) => {
                    let e = StoreError::from(e);
                    // A busy COMMIT (readers, outside WAL mode) leaves the transaction open.
                    if !e.is_transient() || attempt >= ATTEMPTS || self.conn.is_autocommit() {
                        return Err(e);
                    }
                    // The writer reports a store that keeps failing once, as a change of state.
                    tracing::debug!(error = %e, attempt, "commit failed, retrying");
                    std::thread::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)));
                    attempt += 1;
                }
            }
        }
    }

    /// Replace the tags of stored articles (`newsdesk retag`), in one transaction.
    pub fn retag(&mut self, batch: &[(i64, TagSet)]) -> Result<(), StoreError> {
        let now = now_ts();
        let tx = self.conn.transaction()?;
        for (id, tags) in batch {
            if let Err(e) = write_tags(&tx, &mut self.tag_ids, *id, tags, &now) {
                // Dropping `tx` rolls back, so tag ids it created are gone.
                self.tag_ids.clear();
                return Err(e);
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Checkpoint the WAL on a clean stop so the database file alone is complete.
    pub fn close(self) {
        if let Some(near) = &self.near {
            let reads = near.reads();
            tracing::debug!(
                lookups = reads.lookups,
                fingerprints_read = reads.reads,
                "near-duplicate short-text lookups"
            );
        }
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!(error = %e, "WAL checkpoint at shutdown failed; the next open replays it");
        }
    }

    /// Store a batch in one transaction, retrying transient failures; on failure nothing of
    /// the batch is stored and the error says why.
    pub fn store_batch(
        &mut self,
        source: &Source,
        items: &[NewItem],
    ) -> Result<BatchOutcome, StoreError> {
        self.store_with_retry(source, items, &[], None)
    }

    /// Store a feed poll's items and its `fetches` row and feed state in one transaction, so
    /// the feed's new ETag is never committed without the items it covers.
    /// `unchanged` are the guids of items the feed sent again exactly as before (see
    /// `unchanged_items`): only their sightings are updated.
    pub fn store_poll(
        &mut self,
        feed_id: i64,
        items: &[NewItem],
        unchanged: &[String],
        poll: &mut super::feeds::PollRecord,
    ) -> Result<BatchOutcome, StoreError> {
        self.store_with_retry(&Source::Feed(feed_id), items, unchanged, Some(poll))
    }

    fn store_with_retry(
        &mut self,
        source: &Source,
        items: &[NewItem],
        unchanged: &[String],
        mut poll: Option<&mut super::feeds::PollRecord>,
    ) -> Result<BatchOutcome, StoreError> {
        let mut attempt = 1;
        loop {
            match self.try_store_batch(source, items, unchanged, poll.as_deref_mut()) {
                Ok(outcome) => return Ok(outcome),
                Err(e) => {
                    self.invalidate();
                    if !e.is_transient() || attempt >= ATTEMPTS {
                        return Err(e);
                    }
                    // The writer reports a store that keeps failing once, as a change of state.
                    tracing::debug!(error = %e, attempt, "write failed, retrying");
                    std::thread::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)));
                    attempt += 1;
                }
            }
        }
    }

    fn try_store_batch(
        &mut self,
        source: &Source,
        items: &[NewItem],
        unchanged: &[String],
        poll: Option<&mut super::feeds::PollRecord>,
    ) -> Result<BatchOutcome, StoreError> {
        let near = match &mut self.near {
            _ if items.is_empty() => None,
            Some(near) => Some(near),
            slot @ None => Some(slot.insert(rebuild_index(&self.conn, &self.dedupe, i64::MAX)?)),
        };
        // A savepoint nests inside a group's transaction, and outside one begins a transaction
        // of its own (committed by its release). A group indexes its articles once, at its end.
        let grouped = self.group.is_some();
        let tx = self.conn.savepoint()?;
        let fts_after = if grouped {
            None
        } else {
            Some(super::fts::defer(&tx)?)
        };
        let feed_id = match source {
            Source::Feed(id) => *id,
            Source::Local { name, title } => local_feed_id(&tx, name, title)?,
        };
        let now = now_ts();
        let started = std::time::Instant::now();
        let mut outcome = BatchOutcome {
            items: Vec::with_capacity(items.len()),
            ..Default::default()
        };
        if let Some(near) = near {
            for item in items {
                let (result, near_dup) =
                    store_item(&tx, &mut self.tag_ids, near, feed_id, item, &now)?;
                if let (ItemOutcome::New(_), Some(true)) = (result, near_dup) {
                    outcome.near_duplicates += 1;
                }
                if !matches!(result, ItemOutcome::Repeat(_)) {
                    for t in item.tags.iter().flat_map(|t| &t.tags) {
                        match t.kind.as_str() {
                            "topic" => outcome.tags.topic += 1,
                            "country" => outcome.tags.country += 1,
                            _ => outcome.tags.org += 1,
                        }
                    }
                }
                outcome.items.push(result);
            }
        }
        for guid in unchanged {
            let id: Option<i64> = tx
                .prepare_cached(
                    "UPDATE sightings SET last_seen_at = ?3 WHERE feed_id = ?1 AND guid = ?2
                     RETURNING article_id",
                )?
                .query_row(params![feed_id, guid, now], |r| r.get(0))
                .optional()?;
            if let Some(id) = id {
                tx.prepare_cached("UPDATE articles SET last_seen_at = ?2 WHERE id = ?1")?
                    .execute(params![id, now])?;
                outcome.items.push(ItemOutcome::Repeat(id));
            }
        }
        if let Some(after) = fts_after {
            super::fts::index_deferred(&tx, after)?;
        }
        if let Some(poll) = poll {
            poll.new_items = outcome.new_count();
            super::feeds::record_poll(&tx, feed_id, poll)?;
        }
        tx.commit()?;
        match &mut self.group {
            Some(g) => g.items += items.len() as u64,
            None => crate::service::events::WriterCommit {
                duration: started.elapsed(),
                items: items.len() as u64,
            }
            .emit(),
        }
        Ok(outcome)
    }
}

/// Which of a feed's items (guid, item hash) it sent before exactly as now. Runs on a read
/// connection, so a poll can settle its repeats before the pipeline and the writer see them.
pub fn unchanged_items(
    conn: &Connection,
    feed_id: i64,
    items: &[(String, String)],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM sightings WHERE feed_id = ?1 AND guid = ?2 AND item_hash = ?3 LIMIT 1",
    )?;
    let mut out = std::collections::HashSet::new();
    for (guid, hash) in items {
        if stmt.exists(params![feed_id, guid, hash])? {
            out.insert(guid.clone());
        }
    }
    Ok(out)
}

/// The pseudo-feed that local files and spool drops are sighted from.
pub fn local_feed_id(conn: &Connection, name: &str, title: &str) -> Result<i64, StoreError> {
    let url = format!("local:{name}");
    if let Some(id) = conn
        .query_row("SELECT id FROM feeds WHERE url = ?1", [&url], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO feeds (url, kind, title, origin) VALUES (?1, 'local', ?2, 'local')",
        params![url, title],
    )?;
    Ok(conn.last_insert_rowid())
}

#[derive(Clone, Copy, PartialEq)]
enum Match {
    Guid,
    Url,
    Hash,
}

fn find_existing(
    tx: &Connection,
    feed_id: i64,
    item: &NewItem,
) -> Result<Option<(i64, Match)>, StoreError> {
    let by_guid: Option<i64> = tx
        .prepare_cached(
            "SELECT article_id FROM sightings WHERE feed_id = ?1 AND guid = ?2 LIMIT 1",
        )?
        .query_row(params![feed_id, item.guid], |r| r.get(0))
        .optional()?;
    if let Some(id) = by_guid {
        return Ok(Some((id, Match::Guid)));
    }
    if let Some(url) = &item.article.canonical_url {
        let by_url: Option<i64> = tx
            .prepare_cached("SELECT id FROM articles WHERE canonical_url = ?1 ORDER BY id LIMIT 1")?
            .query_row([url], |r| r.get(0))
            .optional()?;
        if let Some(id) = by_url {
            return Ok(Some((id, Match::Url)));
        }
    }
    if hash_proves_identity(&item.article.body_text) {
        let by_hash: Option<i64> = tx
            .prepare_cached("SELECT id FROM articles WHERE content_hash = ?1 ORDER BY id LIMIT 1")?
            .query_row([&item.article.content_hash], |r| r.get(0))
            .optional()?;
        if let Some(id) = by_hash {
            return Ok(Some((id, Match::Hash)));
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn store_item(
    tx: &Connection,
    tag_ids: &mut TagIds,
    near: &mut NearDupIndex,
    feed_id: i64,
    item: &NewItem,
    now: &str,
) -> Result<(ItemOutcome, Option<bool>), StoreError> {
    let a = &item.article;
    let mut near_dup = None;
    let result = match find_existing(tx, feed_id, item)? {
        Some((id, how)) => {
            let revised = how != Match::Hash && revise_if_changed(tx, id, a, now)?;
            tx.prepare_cached("UPDATE articles SET last_seen_at = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
            if revised {
                if let Some(fp) = &item.fingerprint {
                    refresh_fingerprint(tx, near, id, fp, now)?;
                }
                if let Some(tags) = &item.tags {
                    write_tags(tx, tag_ids, id, tags, now)?;
                }
                ItemOutcome::Revised(id)
            } else {
                ItemOutcome::Repeat(id)
            }
        }
        None => {
            // Everything known about a new article goes into its one INSERT: each later UPDATE
            // of the row (fingerprint, duplicate, flag) rewrote the whole row, body included.
            let fp = item
                .fingerprint
                .as_ref()
                .map(|fp| fp.clone().seen_at(unix_seconds(now)));
            let found = match &fp {
                Some(fp) => near.find_with(fp, &mut FingerprintRows(tx))?,
                None => None,
            };
            let tags = item.tags.as_ref();
            tx.prepare_cached(
                "INSERT INTO articles (title, title_derived, url, canonical_url, author, published_at,
                    updated_at, first_seen_at, last_seen_at, lang, summary, body_text, body_html, content_hash,
                    duplicate_of, duplicate_detector, duplicate_similarity, duplicate_evidence,
                    foreign_policy, foreign_policy_score, foreign_policy_evidence, tagged_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13,
                    ?14, ?15, ?16, ?17, ?18, ?19, ?20, iif(?18 IS NULL, NULL, ?8))",
            )?
            .execute(params![
                a.title,
                a.title_derived,
                a.url,
                a.canonical_url,
                a.author,
                a.published_at.map(ts),
                a.updated_at.map(ts),
                now,
                a.lang,
                a.summary,
                a.body_text,
                a.body_html,
                a.content_hash,
                found.as_ref().map(|m| m.article_id),
                found.as_ref().map(|m| m.detector.as_str()),
                found.as_ref().map(|m| m.similarity),
                found.as_ref().map(|m| m.evidence.to_string()),
                tags.map(|t| t.foreign_policy),
                tags.map(|t| t.score),
                tags.map(|t| t.evidence.as_str()),
            ])?;
            let id = tx.last_insert_rowid();
            if let Some(fp) = fp {
                let duplicate_of = found.as_ref().map(|m| m.article_id);
                tx.prepare_cached(
                    "INSERT INTO article_fingerprints (article_id, group_id, fingerprint)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, duplicate_of, fp.to_bytes()])?;
                near.insert_with_group(id, duplicate_of.unwrap_or(id), fp);
                near_dup = Some(found.is_some());
            }
            if let Some(tags) = tags {
                insert_tag_rows(tx, tag_ids, id, tags)?;
            }
            ItemOutcome::New(id)
        }
    };
    tx.prepare_cached(
        "INSERT INTO sightings (article_id, feed_id, guid, url, seen_at, last_seen_at, item_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
         ON CONFLICT (article_id, feed_id, guid) DO UPDATE SET last_seen_at = excluded.last_seen_at,
             url = coalesce(excluded.url, url), item_hash = coalesce(excluded.item_hash, item_hash)",
    )?
    .execute(params![result.article_id(), feed_id, item.guid, a.url, now, item.item_hash])?;
    Ok((result, near_dup))
}

/// A revised article keeps its group, but later copies will look like the new text: store its
/// fingerprint (what a restart rebuilds the index from) and add it to the index beside the old
/// one, which still matches copies of the earlier version until the ring moves past it.
fn refresh_fingerprint(
    tx: &Connection,
    near: &mut NearDupIndex,
    id: i64,
    fp: &Fingerprint,
    now: &str,
) -> Result<(), StoreError> {
    let fp = fp.clone().seen_at(unix_seconds(now));
    // The index may still hold the article's earlier version in its ring, and reads its words
    // from this row: hand them over before the row changes.
    if let Some(old) = FingerprintRows(tx).read(id)? {
        near.replacing(id, &old);
    }
    let group: i64 = tx
        .prepare_cached(
            "INSERT INTO article_fingerprints (article_id, group_id, fingerprint)
             VALUES (?1, (SELECT duplicate_of FROM articles WHERE id = ?1), ?2)
             ON CONFLICT (article_id) DO UPDATE SET fingerprint = excluded.fingerprint
             RETURNING coalesce(group_id, article_id)",
        )?
        .query_row(params![id, fp.to_bytes()], |r| r.get(0))?;
    near.insert_with_group(id, group, fp);
    Ok(())
}

/// The near-duplicate index's reads of stored fingerprints, on the connection that writes
/// them: a lookup sees the articles of the open transaction too (a story carried by two feeds
/// of one batch). One primary-key lookup in the narrow `article_fingerprints` table each.
pub(super) struct FingerprintRows<'c>(pub(super) &'c Connection);

impl StoredFingerprints for FingerprintRows<'_> {
    type Error = StoreError;
    fn read(&mut self, article_id: i64) -> Result<Option<Fingerprint>, StoreError> {
        let read = self
            .0
            .prepare_cached("SELECT fingerprint FROM article_fingerprints WHERE article_id = ?1")?
            .query_row([article_id], |r| {
                Ok(r.get_ref(0)?.as_blob().ok().map(Fingerprint::from_bytes))
            })
            .optional()?;
        // An unreadable blob never entered the index (`rebuild_index`); one that became so
        // since is passed over like a missing row.
        Ok(read.flatten().and_then(Result::ok))
    }
}

fn unix_seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp())
        .unwrap_or_default()
}

/// The index over the stored fingerprints of articles with ids below `below`, in id order with
/// each article's stored group.
pub(super) fn rebuild_index(
    conn: &Connection,
    dedupe: &DedupeConfig,
    below: i64,
) -> Result<NearDupIndex, StoreError> {
    let started = std::time::Instant::now();
    let mut near = NearDupIndex::for_store(dedupe);
    // Only the newest `short_max_entries` can stay in the short-text ring; the rest go to the
    // long-text tables alone (the same index, a fraction of the work at a million articles).
    let total: i64 = conn.query_row(
        "SELECT count(*) FROM article_fingerprints WHERE article_id < ?1",
        [below],
        |r| r.get(0),
    )?;
    let archived = usize::try_from(total)
        .unwrap_or(0)
        .saturating_sub(dedupe.short_max_entries);
    let mut stmt = conn.prepare(
        "SELECT article_id, coalesce(group_id, article_id), fingerprint FROM article_fingerprints
          WHERE article_id < ?1 ORDER BY article_id",
    )?;
    let mut rows = stmt.query([below])?;
    let mut unreadable = 0u64;
    let mut row = 0usize;
    while let Some(r) = rows.next()? {
        let is_archived = row < archived;
        row += 1;
        let fp = match r.get_ref(2)?.as_blob().map(Fingerprint::from_bytes) {
            Ok(Ok(fp)) => fp,
            _ => {
                unreadable += 1;
                continue;
            }
        };
        if is_archived {
            near.insert_archived(r.get(0)?, r.get(1)?, &fp);
        } else {
            near.insert_with_group(r.get(0)?, r.get(1)?, fp);
        }
    }
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "fingerprints that could not be read were left out of the near-duplicate index"
        );
    }
    if !near.is_empty() {
        tracing::info!(
            articles = near.len(),
            ms = started.elapsed().as_millis() as u64,
            "near-duplicate index rebuilt"
        );
    }
    Ok(near)
}

/// A re-polled item whose title or text changed is a correction: keep the old version, store
/// the new one. An older copy arriving late (its `updated` earlier than ours) changes nothing.
fn revise_if_changed(tx: &Connection, id: i64, a: &Article, now: &str) -> Result<bool, StoreError> {
    let (title, hash, updated): (String, String, Option<String>) = tx
        .prepare_cached("SELECT title, content_hash, updated_at FROM articles WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    if (title == a.title || a.title_derived) && hash == a.content_hash {
        return Ok(false);
    }
    if let (Some(stored), Some(incoming)) = (updated.as_deref(), a.updated_at.map(ts)) {
        if incoming.as_str() < stored {
            return Ok(false);
        }
    }
    tx.prepare_cached(
        "INSERT INTO article_revisions (article_id, title, summary, body_text, body_html, content_hash, replaced_at)
         SELECT id, title, summary, body_text, body_html, content_hash, ?2 FROM articles WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    tx.prepare_cached(
        "UPDATE articles SET title = ?2, title_derived = ?3, summary = ?4, body_text = ?5, body_html = ?6,
                content_hash = ?7, updated_at = coalesce(?8, updated_at), revised_at = ?9,
                author = coalesce(?10, author), lang = coalesce(?11, lang)
          WHERE id = ?1",
    )?
    .execute(params![
        id,
        a.title,
        a.title_derived,
        a.summary,
        a.body_text,
        a.body_html,
        a.content_hash,
        a.updated_at.map(ts),
        now,
        a.author,
        a.lang,
    ])?;
    Ok(true)
}

/// Replace an article's tags and flag with a new verdict.
pub fn write_tags(
    tx: &Connection,
    tag_ids: &mut TagIds,
    article_id: i64,
    tags: &TagSet,
    now: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM article_tags WHERE article_id = ?1")?
        .execute([article_id])?;
    tx.prepare_cached(
        "UPDATE articles SET foreign_policy = ?2, foreign_policy_score = ?3, foreign_policy_evidence = ?4,
                tagged_at = ?5 WHERE id = ?1",
    )?
    .execute(params![article_id, tags.foreign_policy, tags.score, tags.evidence, now])?;
    insert_tag_rows(tx, tag_ids, article_id, tags)
}

/// The tag rows of an article that has none yet.
fn insert_tag_rows(
    tx: &Connection,
    tag_ids: &mut TagIds,
    article_id: i64,
    tags: &TagSet,
) -> Result<(), StoreError> {
    for t in &tags.tags {
        let known = tag_ids
            .get(t.kind.as_str())
            .and_then(|s| s.get(t.slug.as_str()));
        let tag_id = match known {
            Some(id) => *id,
            None => {
                let id: i64 = tx
                    .prepare_cached(
                        "INSERT INTO tags (kind, slug, label, code) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (kind, slug) DO UPDATE SET label = excluded.label,
                             code = coalesce(excluded.code, code)
                         RETURNING id",
                    )?
                    .query_row(params![t.kind, t.slug, t.label, t.code], |r| r.get(0))?;
                tag_ids
                    .entry(t.kind.clone())
                    .or_default()
                    .insert(t.slug.clone(), id);
                id
            }
        };
        tx.prepare_cached(
            "INSERT INTO article_tags (article_id, tag_id, score, evidence) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![article_id, tag_id, t.score, t.evidence])?;
    }
    Ok(())
}
