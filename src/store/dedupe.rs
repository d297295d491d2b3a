//! The stored side of `newsdesk dedupe`: an article's dedupe inputs read back from its stored
//! text, and the regrouping of stored articles (`--rebuild`).

use super::StoreError;
use crate::dedupe::{fingerprint, DedupeConfig, Fingerprint, NearMatch};
use crate::model::{parse_timestamp, Article};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// What `dedupe --explain` shows of one stored article.
#[derive(Debug, Clone)]
pub struct StoredArticle {
    pub id: i64,
    pub title: String,
    /// The outlets that carried it.
    pub outlets: String,
    pub duplicate_of: Option<i64>,
    pub detector: Option<String>,
    /// The fingerprint of its stored text under the current rules, dated as stored.
    pub fingerprint: Fingerprint,
    /// Its content hash under the current rules, and as stored.
    pub content_hash: String,
    pub stored_hash: String,
}

/// What `from_row` reads (the PostgreSQL twin reads the same).
pub(crate) const COLUMNS: &str =
    "id, title, title_derived, body_text, lang, published_at, updated_at,
    first_seen_at, content_hash, duplicate_of, duplicate_detector";

/// A stored article's dedupe inputs, whichever store they come from: the text and dates as
/// stored (ISO-8601 text).
pub(crate) struct StoredText {
    pub title: String,
    pub title_derived: bool,
    pub body_text: String,
    pub lang: Option<String>,
    pub published_at: Option<String>,
    pub updated_at: Option<String>,
    pub first_seen_at: Option<String>,
}

/// The article, with the fingerprint and content hash of its stored text under the current
/// rules, dated as stored.
pub(crate) fn from_text(t: StoredText) -> (Article, Fingerprint) {
    let time = |v: Option<String>| v.as_deref().and_then(parse_timestamp);
    let article = Article {
        guid: None,
        url: None,
        canonical_url: None,
        content_hash: crate::normalize::content_hash(&t.title, &t.body_text),
        title: t.title,
        title_derived: t.title_derived,
        author: None,
        published_at: time(t.published_at),
        updated_at: time(t.updated_at),
        summary: None,
        body_text: t.body_text,
        body_html: None,
        lang: t.lang,
    };
    let mut fp = fingerprint(&article);
    fp.seen = time(t.first_seen_at).map(|t| t.timestamp());
    (article, fp)
}

/// The article a row holds, with the fingerprint and content hash of its stored text.
fn from_row(r: &Row) -> rusqlite::Result<(i64, Article, Fingerprint, Option<i64>, String)> {
    let (article, fp) = from_text(StoredText {
        title: r.get(1)?,
        title_derived: r.get(2)?,
        body_text: r.get(3)?,
        lang: r.get(4)?,
        published_at: r.get(5)?,
        updated_at: r.get(6)?,
        first_seen_at: r.get(7)?,
    });
    Ok((r.get(0)?, article, fp, r.get(9)?, r.get(8)?))
}

/// The outlets that carried an article, as `dedupe --explain` shows them: distinct, sorted
/// here so both stores list them alike.
pub(crate) fn outlets_text(mut names: Vec<String>) -> String {
    names.sort();
    names.dedup();
    names.join(",")
}

/// One stored article as `dedupe --explain` needs it; `None` when there is no such id.
pub fn article(conn: &Connection, id: i64) -> Result<Option<StoredArticle>, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM articles WHERE id = ?1"),
            [id],
            |r| Ok((from_row(r)?, r.get::<_, Option<String>>(10)?)),
        )
        .optional()?;
    let Some(((id, article, fp, duplicate_of, stored_hash), detector)) = row else {
        return Ok(None);
    };
    let outlets: Vec<String> = conn
        .prepare(
            "SELECT DISTINCT coalesce(f.title, f.url) FROM sightings s
               JOIN feeds f ON f.id = s.feed_id WHERE s.article_id = ?1",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(StoredArticle {
        id,
        title: article.title,
        outlets: outlets_text(outlets),
        duplicate_of,
        detector,
        fingerprint: fp,
        content_hash: article.content_hash,
        stored_hash,
    }))
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RebuildOutcome {
    /// Articles regrouped (those first seen since the `--since` time).
    pub articles: u64,
    /// Of those, near duplicates of an earlier article now.
    pub duplicates: u64,
    /// Of those, whose group changed.
    pub regrouped: u64,
    /// Of those, whose content hash changed (text stored under older normalisation rules).
    pub rehashed: u64,
}

/// Recompute the fingerprint, content hash and group of every article first seen since
/// `since` (all when `None`), in id order and in transactions of `batch` articles, calling
/// `progress(done, total)` after each. Earlier articles keep their groups and are matched
/// against as stored. Sightings, tags and revisions are not touched: an article that turns
/// out to be a copy is grouped under the earlier one, never merged into it.
pub fn rebuild(
    conn: &mut Connection,
    cfg: &DedupeConfig,
    since: Option<&str>,
    batch: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<RebuildOutcome, StoreError> {
    let first: i64 = conn.query_row(
        "SELECT coalesce(min(id), (SELECT coalesce(max(id), 0) + 1 FROM articles))
           FROM articles WHERE first_seen_at >= ?1",
        [since.unwrap_or("")],
        |r| r.get(0),
    )?;
    let total: i64 = conn.query_row(
        "SELECT count(*) FROM articles WHERE id >= ?1",
        [first],
        |r| r.get(0),
    )?;
    let total = u64::try_from(total).unwrap_or(0);
    let mut index = super::write::rebuild_index(conn, cfg, first)?;
    let mut out = RebuildOutcome::default();
    let mut last = first - 1;
    loop {
        let rows: Vec<_> = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM articles WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?
            .query_map(params![last, batch as i64], from_row)?
            .collect::<Result<_, _>>()?;
        let Some(&(id, ..)) = rows.last() else { break };
        last = id;
        let tx = conn.transaction()?;
        for (id, article, fp, was, stored_hash) in rows {
            let found = index.find_with(&fp, &mut super::write::FingerprintRows(&tx))?;
            write_group(&tx, id, &article.content_hash, found.as_ref(), &fp)?;
            let group = found.as_ref().map(|m| m.article_id);
            out.articles += 1;
            out.duplicates += u64::from(group.is_some());
            out.regrouped += u64::from(group != was);
            out.rehashed += u64::from(article.content_hash != stored_hash);
            index.insert_with_group(id, group.unwrap_or(id), fp);
        }
        tx.commit()?;
        progress(out.articles, total);
    }
    let reads = index.reads();
    tracing::debug!(
        lookups = reads.lookups,
        fingerprints_read = reads.reads,
        "near-duplicate short-text lookups"
    );
    Ok(out)
}

fn write_group(
    tx: &Connection,
    id: i64,
    content_hash: &str,
    found: Option<&NearMatch>,
    fp: &Fingerprint,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE articles SET content_hash = ?2, duplicate_of = ?3, duplicate_detector = ?4,
                duplicate_similarity = ?5, duplicate_evidence = ?6
          WHERE id = ?1",
    )?
    .execute(params![
        id,
        content_hash,
        found.map(|m| m.article_id),
        found.map(|m| m.detector.as_str()),
        found.map(|m| m.similarity),
        found.map(|m| m.evidence.to_string()),
    ])?;
    tx.prepare_cached(
        "INSERT INTO article_fingerprints (article_id, group_id, fingerprint) VALUES (?1, ?2, ?3)
         ON CONFLICT (article_id) DO UPDATE SET group_id = excluded.group_id,
             fingerprint = excluded.fingerprint",
    )?
    .execute(params![id, found.map(|m| m.article_id), fp.to_bytes()])?;
    Ok(())
}
