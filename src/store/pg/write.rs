//! The write path on PostgreSQL: what `store::write` does on SQLite (exact identity, insert or
//! revise, sightings, tags with evidence, near duplicates, the poll's `fetches` row and feed
//! state), in one transaction per batch or poll.
//!
//! Several daemons may write at once. Exact duplicates rest on the unique constraints
//! (sightings, tags: `ON CONFLICT`). Near duplicates: every daemon keeps the same in-memory
//! index the SQLite writer uses, and a write transaction first takes one advisory lock
//! (`WRITE_LOCK`) and then reads the fingerprints other daemons committed since it last looked.
//! So whichever daemon stored the first copy, the next copy is compared against it, even when
//! both arrive in the same second: the second transaction waits for the first's commit. The
//! price is that store transactions (milliseconds) take turns across daemons, while fetching,
//! parsing and tagging (most of a poll) stay parallel; the benefit is one detector with one
//! set of thresholds on both stores, rather than a second candidate search written in SQL.

use super::super::feeds::PollRecord;
use super::super::write::{
    hash_proves_identity, BatchOutcome, ItemOutcome, NewItem, Source, TagSet,
};
use super::super::{now_ts, ts, StoreError};
use crate::dedupe::{DedupeConfig, Fingerprint, NearDupIndex};
use crate::model::Article;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use std::collections::HashMap;

/// The advisory lock every newsdesk write transaction on PostgreSQL holds until its commit.
pub(crate) const WRITE_LOCK: i64 = 0x6e64_7772_6974_6521; // "ndwrite!"

pub(crate) fn sql(e: postgres::Error) -> StoreError {
    StoreError::Pg(super::cause(&e))
}

/// A writer's connection and caches (one per writer thread).
pub struct PgState {
    pub client: Client,
    /// (kind, slug) -> tags.id. Tag ids never change once committed; cleared on rollback.
    tag_ids: HashMap<(String, String), i64>,
    /// The near-duplicate index and the highest article id it has seen.
    near: Option<(NearDupIndex, i64)>,
    dedupe: DedupeConfig,
    /// This process's name in `feed_leases` and `daemons`.
    pub owner: String,
    /// The write path's statements, prepared once per connection: prepared per call, the
    /// server parsed and planned every statement of every item again (most of its CPU in a
    /// cold poll).
    statements: HashMap<&'static str, Statement>,
}

/// A write transaction whose statements come from the connection's cache.
pub struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
}

impl<'a> Tx<'a> {
    fn statement(&mut self, query: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(query) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(query)?;
        self.statements.insert(query, s.clone());
        Ok(s)
    }

    pub fn execute(
        &mut self,
        query: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let s = self.statement(query)?;
        self.tx.execute(&s, params)
    }

    pub fn query(
        &mut self,
        query: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let s = self.statement(query)?;
        self.tx.query(&s, params)
    }

    pub fn query_one(
        &mut self,
        query: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        let s = self.statement(query)?;
        self.tx.query_one(&s, params)
    }

    pub fn query_opt(
        &mut self,
        query: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let s = self.statement(query)?;
        self.tx.query_opt(&s, params)
    }

    fn commit(self) -> Result<(), postgres::Error> {
        self.tx.commit()
    }
}

impl PgState {
    pub fn new(client: Client, dedupe: &DedupeConfig, owner: String) -> PgState {
        PgState {
            client,
            tag_ids: HashMap::new(),
            near: None,
            dedupe: dedupe.clone(),
            owner,
            statements: HashMap::new(),
        }
    }

    /// Store a batch of local items (files, records) in one transaction.
    pub fn store_batch(
        &mut self,
        source: &Source,
        items: &[NewItem],
    ) -> Result<BatchOutcome, StoreError> {
        self.store(source, items, &[], None)
    }

    /// A poll's items, its `fetches` row and the feed's state in one transaction; the
    /// feed's lease (if this process holds it) ends with it.
    pub fn store_poll(
        &mut self,
        feed_id: i64,
        items: &[NewItem],
        unchanged: &[String],
        poll: &mut PollRecord,
    ) -> Result<BatchOutcome, StoreError> {
        self.store(&Source::Feed(feed_id), items, unchanged, Some(poll))
    }

    /// New tags (and flag) for stored articles, in one transaction (as `Writer::retag`).
    pub fn retag(&mut self, batch: &[(i64, TagSet)]) -> Result<(), StoreError> {
        let now = now_ts();
        let PgState {
            client,
            tag_ids,
            statements,
            ..
        } = self;
        let mut tx = Tx {
            tx: client.transaction().map_err(sql)?,
            statements,
        };
        let mut result = Ok(());
        for (id, tags) in batch {
            result = write_tags(&mut tx, tag_ids, *id, tags, &now);
            if result.is_err() {
                break;
            }
        }
        match result.and_then(|()| tx.commit().map_err(sql)) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Rolled back: tag ids it created are gone.
                self.tag_ids.clear();
                Err(e)
            }
        }
    }

    fn store(
        &mut self,
        source: &Source,
        items: &[NewItem],
        unchanged: &[String],
        poll: Option<&mut PollRecord>,
    ) -> Result<BatchOutcome, StoreError> {
        let result = self.try_store(source, items, unchanged, poll);
        if result.is_err() {
            // The index may hold articles of the rolled-back transaction; the tag cache ids
            // it created. Both are rebuilt from what was committed.
            self.near = None;
            self.tag_ids.clear();
        }
        result
    }

    fn try_store(
        &mut self,
        source: &Source,
        items: &[NewItem],
        unchanged: &[String],
        poll: Option<&mut PollRecord>,
    ) -> Result<BatchOutcome, StoreError> {
        let started = std::time::Instant::now();
        let PgState {
            client,
            tag_ids,
            near,
            dedupe,
            owner,
            statements,
        } = self;
        let mut tx = Tx {
            tx: client.transaction().map_err(sql)?,
            statements,
        };
        if !items.is_empty() {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .map_err(sql)?;
        }
        let feed_id = match source {
            Source::Feed(id) => *id,
            Source::Local { name, title } => local_feed_id(&mut tx, name, title)?,
        };
        let now = now_ts();
        let mut outcome = BatchOutcome {
            items: Vec::with_capacity(items.len()),
            ..Default::default()
        };
        if !items.is_empty() {
            let (index, seen) = match near.take() {
                Some(n) => n,
                None => (NearDupIndex::new(dedupe), 0),
            };
            let (mut index, mut seen) = catch_up(&mut tx, dedupe, index, seen)?;
            for item in items {
                let (result, near_dup) =
                    store_item(&mut tx, tag_ids, &mut index, &mut seen, feed_id, item, &now)?;
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
            *near = Some((index, seen));
        }
        for guid in unchanged {
            let row = tx
                .query_opt(
                    "UPDATE sightings SET last_seen_at = $3 WHERE feed_id = $1 AND guid = $2
                     RETURNING article_id",
                    &[&feed_id, guid, &now],
                )
                .map_err(sql)?;
            if let Some(r) = row {
                let id: i64 = r.try_get(0).map_err(sql)?;
                tx.execute(
                    "UPDATE articles SET last_seen_at = $2 WHERE id = $1",
                    &[&id, &now],
                )
                .map_err(sql)?;
                outcome.items.push(ItemOutcome::Repeat(id));
            }
        }
        if let Some(poll) = poll {
            poll.new_items = outcome.new_count();
            record_poll(&mut tx, feed_id, poll)?;
            tx.execute(
                "DELETE FROM feed_leases WHERE feed_id = $1 AND owner = $2",
                &[&feed_id, &*owner],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        crate::service::events::WriterCommit {
            duration: started.elapsed(),
            items: items.len() as u64,
        }
        .emit();
        Ok(outcome)
    }
}

/// Bring the index up to date with the fingerprints committed since `seen` (by other
/// daemons, or all of them on the first batch). Runs under the write lock, so no article
/// with a smaller id can still commit later.
fn catch_up(
    tx: &mut Tx,
    dedupe: &DedupeConfig,
    mut index: NearDupIndex,
    seen: i64,
) -> Result<(NearDupIndex, i64), StoreError> {
    let started = std::time::Instant::now();
    // As on SQLite, only the newest `short_max_entries` go to the short-text ring on a full
    // rebuild; older ones to the long-text tables alone.
    let archived = if seen == 0 {
        let total: i64 = tx
            .query_one("SELECT count(*) FROM article_fingerprints", &[])
            .and_then(|r| r.try_get(0))
            .map_err(sql)?;
        usize::try_from(total)
            .unwrap_or(0)
            .saturating_sub(dedupe.short_max_entries)
    } else {
        0
    };
    let rows = tx
        .query(
            "SELECT article_id, coalesce(group_id, article_id), fingerprint FROM article_fingerprints
              WHERE article_id > $1 ORDER BY article_id",
            &[&seen],
        )
        .map_err(sql)?;
    let mut last = seen;
    let mut unreadable = 0u64;
    for (i, r) in rows.iter().enumerate() {
        let id: i64 = r.try_get(0).map_err(sql)?;
        let group: i64 = r.try_get(1).map_err(sql)?;
        let bytes: &[u8] = r.try_get(2).map_err(sql)?;
        last = last.max(id);
        match Fingerprint::from_bytes(bytes) {
            Ok(fp) if i < archived => index.insert_archived(id, group, &fp),
            Ok(fp) => index.insert_with_group(id, group, fp),
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "fingerprints that could not be read were left out of the near-duplicate index"
        );
    }
    if seen == 0 && !rows.is_empty() {
        tracing::info!(
            articles = index.len(),
            ms = started.elapsed().as_millis() as u64,
            "near-duplicate index rebuilt"
        );
    }
    Ok((index, last))
}

/// The pseudo-feed local files are sighted from (created once, whichever process first needs it).
/// Looked up before inserting: an `INSERT ... ON CONFLICT` that conflicts still takes an id
/// from the sequence, and ids would skip with every batch.
pub fn local_feed_id(tx: &mut Tx, name: &str, title: &str) -> Result<i64, StoreError> {
    let url = format!("local:{name}");
    let find = "SELECT id FROM feeds WHERE url = $1";
    if let Some(id) = first_id(tx, find, &[&url])? {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO feeds (url, kind, title, origin) VALUES ($1, 'local', $2, 'local')
         ON CONFLICT (url) DO NOTHING",
        &[&url, &title],
    )
    .map_err(sql)?;
    first_id(tx, find, &[&url])?
        .ok_or_else(|| StoreError::Pg(format!("the pseudo-feed {url} vanished")))
}

#[derive(Clone, Copy, PartialEq)]
enum Match {
    Guid,
    Url,
    Hash,
}

fn first_id(
    tx: &mut Tx,
    query: &'static str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<i64>, StoreError> {
    tx.query_opt(query, params)
        .map_err(sql)?
        .map(|r| r.try_get(0).map_err(sql))
        .transpose()
}

fn find_existing(
    tx: &mut Tx,
    feed_id: i64,
    item: &NewItem,
) -> Result<Option<(i64, Match)>, StoreError> {
    if let Some(id) = first_id(
        tx,
        "SELECT article_id FROM sightings WHERE feed_id = $1 AND guid = $2 LIMIT 1",
        &[&feed_id, &item.guid],
    )? {
        return Ok(Some((id, Match::Guid)));
    }
    if let Some(url) = &item.article.canonical_url {
        if let Some(id) = first_id(
            tx,
            "SELECT id FROM articles WHERE canonical_url = $1 ORDER BY id LIMIT 1",
            &[url],
        )? {
            return Ok(Some((id, Match::Url)));
        }
    }
    if hash_proves_identity(&item.article.body_text) {
        if let Some(id) = first_id(
            tx,
            "SELECT id FROM articles WHERE content_hash = $1 ORDER BY id LIMIT 1",
            &[&item.article.content_hash],
        )? {
            return Ok(Some((id, Match::Hash)));
        }
    }
    Ok(None)
}

fn flag(b: bool) -> i16 {
    i16::from(b)
}

fn unix_seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn store_item(
    tx: &mut Tx,
    tag_ids: &mut HashMap<(String, String), i64>,
    near: &mut NearDupIndex,
    seen: &mut i64,
    feed_id: i64,
    item: &NewItem,
    now: &str,
) -> Result<(ItemOutcome, Option<bool>), StoreError> {
    let a = &item.article;
    let mut near_dup = None;
    let result = match find_existing(tx, feed_id, item)? {
        Some((id, how)) => {
            let revised = how != Match::Hash && revise_if_changed(tx, id, a, now)?;
            tx.execute(
                "UPDATE articles SET last_seen_at = $2 WHERE id = $1",
                &[&id, &now],
            )
            .map_err(sql)?;
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
            let fp = item
                .fingerprint
                .as_ref()
                .map(|fp| fp.clone().seen_at(unix_seconds(now)));
            let found = fp.as_ref().and_then(|fp| near.find(fp));
            let tags = item.tags.as_ref();
            let id: i64 = tx
                .query_one(
                    "INSERT INTO articles (title, title_derived, url, canonical_url, author, published_at,
                        updated_at, first_seen_at, last_seen_at, lang, summary, body_text, body_html, content_hash,
                        duplicate_of, duplicate_detector, duplicate_similarity, duplicate_evidence,
                        foreign_policy, foreign_policy_score, foreign_policy_evidence, tagged_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13,
                        $14, $15, $16, $17, $18, $19, $20, $21)
                     RETURNING id",
                    &[
                        &a.title,
                        &flag(a.title_derived),
                        &a.url,
                        &a.canonical_url,
                        &a.author,
                        &a.published_at.map(ts),
                        &a.updated_at.map(ts),
                        &now,
                        &a.lang,
                        &a.summary,
                        &a.body_text,
                        &a.body_html,
                        &a.content_hash,
                        &found.as_ref().map(|m| m.article_id),
                        &found.as_ref().map(|m| m.detector.as_str()),
                        &found.as_ref().map(|m| m.similarity),
                        &found.as_ref().map(|m| m.evidence.to_string()),
                        &tags.map(|t| flag(t.foreign_policy)),
                        &tags.map(|t| t.score),
                        &tags.map(|t| t.evidence.as_str()),
                        &tags.map(|_| now),
                    ],
                )
                .and_then(|r| r.try_get(0))
                .map_err(sql)?;
            *seen = (*seen).max(id);
            if let Some(fp) = fp {
                let duplicate_of = found.as_ref().map(|m| m.article_id);
                tx.execute(
                    "INSERT INTO article_fingerprints (article_id, group_id, fingerprint)
                     VALUES ($1, $2, $3)",
                    &[&id, &duplicate_of, &fp.to_bytes()],
                )
                .map_err(sql)?;
                near.insert_with_group(id, duplicate_of.unwrap_or(id), fp);
                near_dup = Some(found.is_some());
            }
            if let Some(tags) = tags {
                insert_tag_rows(tx, tag_ids, id, tags)?;
            }
            ItemOutcome::New(id)
        }
    };
    // Update first: a conflicting upsert would take a sighting id from the sequence for
    // nothing on every repeat. The unique key still decides a race.
    let sighting: [&(dyn postgres::types::ToSql + Sync); 6] = [
        &result.article_id(),
        &feed_id,
        &item.guid,
        &a.url,
        &now,
        &item.item_hash,
    ];
    let updated = tx
        .execute(
            "UPDATE sightings SET last_seen_at = $5, url = coalesce($4, url),
                    item_hash = coalesce($6, item_hash)
              WHERE article_id = $1 AND feed_id = $2 AND guid = $3",
            &sighting,
        )
        .map_err(sql)?;
    if updated == 0 {
        tx.execute(
            "INSERT INTO sightings (article_id, feed_id, guid, url, seen_at, last_seen_at, item_hash)
             VALUES ($1, $2, $3, $4, $5, $5, $6)
             ON CONFLICT (article_id, feed_id, guid) DO UPDATE SET last_seen_at = excluded.last_seen_at,
                 url = coalesce(excluded.url, sightings.url),
                 item_hash = coalesce(excluded.item_hash, sightings.item_hash)",
            &sighting,
        )
        .map_err(sql)?;
    }
    Ok((result, near_dup))
}

fn refresh_fingerprint(
    tx: &mut Tx,
    near: &mut NearDupIndex,
    id: i64,
    fp: &Fingerprint,
    now: &str,
) -> Result<(), StoreError> {
    let fp = fp.clone().seen_at(unix_seconds(now));
    let group: i64 = tx
        .query_one(
            "INSERT INTO article_fingerprints (article_id, group_id, fingerprint)
             VALUES ($1, (SELECT duplicate_of FROM articles WHERE id = $1), $2)
             ON CONFLICT (article_id) DO UPDATE SET fingerprint = excluded.fingerprint
             RETURNING coalesce(group_id, article_id)",
            &[&id, &fp.to_bytes()],
        )
        .and_then(|r| r.try_get(0))
        .map_err(sql)?;
    near.insert_with_group(id, group, fp);
    Ok(())
}

fn revise_if_changed(tx: &mut Tx, id: i64, a: &Article, now: &str) -> Result<bool, StoreError> {
    let r = tx
        .query_one(
            "SELECT title, content_hash, updated_at FROM articles WHERE id = $1",
            &[&id],
        )
        .map_err(sql)?;
    let title: String = r.try_get(0).map_err(sql)?;
    let hash: String = r.try_get(1).map_err(sql)?;
    let updated: Option<String> = r.try_get(2).map_err(sql)?;
    if (title == a.title || a.title_derived) && hash == a.content_hash {
        return Ok(false);
    }
    if let (Some(stored), Some(incoming)) = (updated.as_deref(), a.updated_at.map(ts)) {
        if incoming.as_str() < stored {
            return Ok(false);
        }
    }
    tx.execute(
        "INSERT INTO article_revisions (article_id, title, summary, body_text, body_html, content_hash, replaced_at)
         SELECT id, title, summary, body_text, body_html, content_hash, $2 FROM articles WHERE id = $1",
        &[&id, &now],
    )
    .map_err(sql)?;
    tx.execute(
        "UPDATE articles SET title = $2, title_derived = $3, summary = $4, body_text = $5, body_html = $6,
                content_hash = $7, updated_at = coalesce($8, updated_at), revised_at = $9,
                author = coalesce($10, author), lang = coalesce($11, lang)
          WHERE id = $1",
        &[
            &id,
            &a.title,
            &flag(a.title_derived),
            &a.summary,
            &a.body_text,
            &a.body_html,
            &a.content_hash,
            &a.updated_at.map(ts),
            &now,
            &a.author,
            &a.lang,
        ],
    )
    .map_err(sql)?;
    Ok(true)
}

fn write_tags(
    tx: &mut Tx,
    tag_ids: &mut HashMap<(String, String), i64>,
    article_id: i64,
    tags: &TagSet,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM article_tags WHERE article_id = $1",
        &[&article_id],
    )
    .map_err(sql)?;
    tx.execute(
        "UPDATE articles SET foreign_policy = $2, foreign_policy_score = $3, foreign_policy_evidence = $4,
                tagged_at = $5 WHERE id = $1",
        &[
            &article_id,
            &flag(tags.foreign_policy),
            &tags.score,
            &tags.evidence,
            &now,
        ],
    )
    .map_err(sql)?;
    insert_tag_rows(tx, tag_ids, article_id, tags)
}

fn insert_tag_rows(
    tx: &mut Tx,
    tag_ids: &mut HashMap<(String, String), i64>,
    article_id: i64,
    tags: &TagSet,
) -> Result<(), StoreError> {
    for t in &tags.tags {
        let key = (t.kind.clone(), t.slug.clone());
        let tag_id = match tag_ids.get(&key) {
            Some(id) => *id,
            None => {
                // Update first, as the sightings: a conflicting upsert spends an id.
                let tag: [&(dyn postgres::types::ToSql + Sync); 4] =
                    [&t.kind, &t.slug, &t.label, &t.code];
                let existing = first_id(
                    tx,
                    "UPDATE tags SET label = $3, code = coalesce($4, code)
                      WHERE kind = $1 AND slug = $2 RETURNING id",
                    &tag,
                )?;
                let id: i64 = match existing {
                    Some(id) => id,
                    None => tx
                        .query_one(
                            "INSERT INTO tags (kind, slug, label, code) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (kind, slug) DO UPDATE SET label = excluded.label,
                                 code = coalesce(excluded.code, tags.code)
                             RETURNING id",
                            &tag,
                        )
                        .and_then(|r| r.try_get(0))
                        .map_err(sql)?,
                };
                tag_ids.insert(key, id);
                id
            }
        };
        tx.execute(
            "INSERT INTO article_tags (article_id, tag_id, score, evidence) VALUES ($1, $2, $3, $4)",
            &[&article_id, &tag_id, &t.score, &t.evidence],
        )
        .map_err(sql)?;
    }
    Ok(())
}

/// The poll's `fetches` row and the feed's new state (as `feeds::record_poll`).
pub fn record_poll(tx: &mut Tx, feed_id: i64, p: &mut PollRecord) -> Result<(), StoreError> {
    let status = p.status.map(i64::from);
    tx.execute(
        "INSERT INTO fetches (feed_id, started_at, duration_ms, queue_ms, status, outcome, bytes, items, new_items, error_kind, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &feed_id,
            &p.started_at,
            &p.duration_ms,
            &p.queue_ms,
            &status,
            &p.outcome,
            &(p.bytes as i64),
            &(p.items as i64),
            &(p.new_items as i64),
            &p.error_kind,
            &p.error,
        ],
    )
    .map_err(sql)?;
    let failed = p.outcome == "error";
    tx.execute(
        "UPDATE feeds SET
            last_polled_at = $2,
            last_status = $3,
            last_success_at = CASE WHEN $4 THEN last_success_at ELSE $2 END,
            last_error = CASE WHEN $4 THEN $5 ELSE NULL END,
            consecutive_errors = CASE WHEN $4 THEN consecutive_errors + 1 ELSE 0 END,
            etag = coalesce($6, etag),
            last_modified = coalesce($7, last_modified),
            next_poll_at = $8,
            current_interval_secs = $9,
            title = coalesce(title, $10),
            site_url = coalesce($11, site_url),
            updated_at = $2
         WHERE id = $1",
        &[
            &feed_id,
            &p.started_at,
            &status,
            &failed,
            &p.error,
            &p.etag,
            &p.last_modified,
            &p.next_poll_at,
            &p.current_interval_secs,
            &p.title,
            &p.site_url,
        ],
    )
    .map_err(sql)?;
    if let Some(new_url) = p.moved_to.take() {
        if move_feed(tx, feed_id, &new_url, p)? {
            p.moved_to = Some(new_url);
        }
    }
    if let Some(reason) = &p.gone {
        tx.execute(
            "UPDATE feeds SET enabled = 0, disabled_reason = $2 WHERE id = $1",
            &[&feed_id, reason],
        )
        .map_err(sql)?;
    }
    Ok(())
}

fn move_feed(tx: &mut Tx, feed_id: i64, new_url: &str, p: &PollRecord) -> Result<bool, StoreError> {
    let old: String = tx
        .query_one("SELECT url FROM feeds WHERE id = $1", &[&feed_id])
        .and_then(|r| r.try_get(0))
        .map_err(sql)?;
    let taken = first_id(
        tx,
        "SELECT id FROM feeds WHERE url = $1 AND id <> $2",
        &[&new_url, &feed_id],
    )?;
    if taken.is_some() || old == new_url {
        return Ok(false);
    }
    tx.execute(
        "UPDATE feeds SET url = $2 WHERE id = $1",
        &[&feed_id, &new_url],
    )
    .map_err(sql)?;
    let status = p.moved_status.or(p.status).map(i64::from);
    tx.execute(
        "INSERT INTO feed_url_history (feed_id, old_url, new_url, http_status, changed_at) VALUES ($1, $2, $3, $4, $5)",
        &[&feed_id, &old, &new_url, &status, &p.started_at],
    )
    .map_err(sql)?;
    Ok(true)
}

/// Which of a feed's items (guid, item hash) it sent before exactly as now.
pub fn unchanged_items(
    client: &mut Client,
    feed_id: i64,
    items: &[(String, String)],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let guids: Vec<&str> = items.iter().map(|(g, _)| g.as_str()).collect();
    let hashes: Vec<&str> = items.iter().map(|(_, h)| h.as_str()).collect();
    let rows = client
        .query(
            "SELECT DISTINCT s.guid FROM sightings s
               JOIN unnest($2::text[], $3::text[]) AS i(guid, hash)
                 ON s.guid = i.guid AND s.item_hash = i.hash
              WHERE s.feed_id = $1",
            &[&feed_id, &guids, &hashes],
        )
        .map_err(sql)?;
    rows.iter().map(|r| r.try_get(0).map_err(sql)).collect()
}

/// For each canonical URL, true when no stored article has it.
pub fn unknown_urls(client: &mut Client, urls: &[String]) -> Result<Vec<bool>, StoreError> {
    let known: std::collections::HashSet<String> = client
        .query(
            "SELECT DISTINCT canonical_url FROM articles WHERE canonical_url = ANY($1)",
            &[&urls],
        )
        .map_err(sql)?
        .iter()
        .map(|r| r.try_get(0).map_err(sql))
        .collect::<Result<_, _>>()?;
    Ok(urls.iter().map(|u| !known.contains(u)).collect())
}
