//! `dedupe --explain` and `dedupe --rebuild` on PostgreSQL: the same inputs, detector and
//! regrouping as `store::dedupe`, on the same tables.

use super::super::dedupe::{
    from_text, outlets_text, RebuildOutcome, StoredArticle, StoredText, COLUMNS,
};
use super::super::StoreError;
use super::write::{sql, WRITE_LOCK};
use crate::dedupe::{DedupeConfig, Fingerprint, NearDupIndex};
use crate::model::Article;
use postgres::{Client, GenericClient, Row};

type Stored = (i64, Article, Fingerprint, Option<i64>, String);

fn from_row(r: &Row) -> Result<Stored, StoreError> {
    let g = |e| sql(e);
    let (article, fp) = from_text(StoredText {
        title: r.try_get(1).map_err(g)?,
        title_derived: r.try_get::<_, i16>(2).map_err(g)? != 0,
        body_text: r.try_get(3).map_err(g)?,
        lang: r.try_get(4).map_err(g)?,
        published_at: r.try_get(5).map_err(g)?,
        updated_at: r.try_get(6).map_err(g)?,
        first_seen_at: r.try_get(7).map_err(g)?,
    });
    Ok((
        r.try_get(0).map_err(g)?,
        article,
        fp,
        r.try_get(9).map_err(g)?,
        r.try_get(8).map_err(g)?,
    ))
}

/// One stored article as `dedupe --explain` needs it (as `store::dedupe::article`).
pub fn article(client: &mut Client, id: i64) -> Result<Option<StoredArticle>, StoreError> {
    let Some(row) = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM articles WHERE id = $1"),
            &[&id],
        )
        .map_err(sql)?
    else {
        return Ok(None);
    };
    let (id, article, fp, duplicate_of, stored_hash) = from_row(&row)?;
    let detector: Option<String> = row.try_get(10).map_err(sql)?;
    let outlets = client
        .query(
            "SELECT DISTINCT coalesce(f.title, f.url) FROM sightings s
               JOIN feeds f ON f.id = s.feed_id WHERE s.article_id = $1",
            &[&id],
        )
        .map_err(sql)?
        .iter()
        .map(|r| r.try_get(0).map_err(sql))
        .collect::<Result<Vec<String>, _>>()?;
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

/// The index of the articles below `below`, as stored (as `store::write::rebuild_index`).
fn index_below(
    client: &mut impl GenericClient,
    cfg: &DedupeConfig,
    below: i64,
) -> Result<NearDupIndex, StoreError> {
    let mut near = NearDupIndex::new(cfg);
    let rows = client
        .query(
            "SELECT article_id, coalesce(group_id, article_id), fingerprint FROM article_fingerprints
              WHERE article_id < $1 ORDER BY article_id",
            &[&below],
        )
        .map_err(sql)?;
    // Only the newest `short_max_entries` go to the short-text ring, as on SQLite.
    let archived = rows.len().saturating_sub(cfg.short_max_entries);
    let mut unreadable = 0u64;
    for (i, r) in rows.iter().enumerate() {
        let id: i64 = r.try_get(0).map_err(sql)?;
        let group: i64 = r.try_get(1).map_err(sql)?;
        let bytes: &[u8] = r.try_get(2).map_err(sql)?;
        match Fingerprint::from_bytes(bytes) {
            Ok(fp) if i < archived => near.insert_archived(id, group, &fp),
            Ok(fp) => near.insert_with_group(id, group, fp),
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "fingerprints that could not be read were left out of the near-duplicate index"
        );
    }
    Ok(near)
}

/// Regroup the articles first seen since `since` (as `store::dedupe::rebuild`). Each batch
/// is one transaction under the writers' advisory lock, so a daemon's write and a batch take
/// turns rather than group against each other's half-done work.
pub fn rebuild(
    client: &mut Client,
    cfg: &DedupeConfig,
    since: Option<&str>,
    batch: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<RebuildOutcome, StoreError> {
    let r = client
        .query_one(
            "SELECT coalesce(min(id), (SELECT coalesce(max(id), 0) + 1 FROM articles))
               FROM articles WHERE first_seen_at >= $1",
            &[&since.unwrap_or("")],
        )
        .map_err(sql)?;
    let first: i64 = r.try_get(0).map_err(sql)?;
    let total: i64 = client
        .query_one("SELECT count(*) FROM articles WHERE id >= $1", &[&first])
        .and_then(|r| r.try_get(0))
        .map_err(sql)?;
    let total = u64::try_from(total).unwrap_or(0);
    let mut index = index_below(client, cfg, first)?;
    let mut out = RebuildOutcome::default();
    let mut last = first - 1;
    loop {
        let mut tx = client.transaction().map_err(sql)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(sql)?;
        let rows = tx
            .query(
                &format!("SELECT {COLUMNS} FROM articles WHERE id > $1 ORDER BY id LIMIT $2"),
                &[&last, &(batch as i64)],
            )
            .map_err(sql)?
            .iter()
            .map(from_row)
            .collect::<Result<Vec<Stored>, _>>()?;
        let Some(&(id, ..)) = rows.last() else { break };
        last = id;
        for (id, article, fp, was, stored_hash) in rows {
            let found = index.find(&fp);
            tx.execute(
                "UPDATE articles SET content_hash = $2, duplicate_of = $3, duplicate_detector = $4,
                        duplicate_similarity = $5, duplicate_evidence = $6
                  WHERE id = $1",
                &[
                    &id,
                    &article.content_hash,
                    &found.as_ref().map(|m| m.article_id),
                    &found.as_ref().map(|m| m.detector.as_str()),
                    &found.as_ref().map(|m| m.similarity),
                    &found.as_ref().map(|m| m.evidence.to_string()),
                ],
            )
            .map_err(sql)?;
            tx.execute(
                "INSERT INTO article_fingerprints (article_id, group_id, fingerprint) VALUES ($1, $2, $3)
                 ON CONFLICT (article_id) DO UPDATE SET group_id = excluded.group_id,
                     fingerprint = excluded.fingerprint",
                &[&id, &found.as_ref().map(|m| m.article_id), &fp.to_bytes()],
            )
            .map_err(sql)?;
            let group = found.as_ref().map(|m| m.article_id);
            out.articles += 1;
            out.duplicates += u64::from(group.is_some());
            out.regrouped += u64::from(group != was);
            out.rehashed += u64::from(article.content_hash != stored_hash);
            index.insert_with_group(id, group.unwrap_or(id), fp);
        }
        tx.commit().map_err(sql)?;
        progress(out.articles, total);
    }
    Ok(out)
}
