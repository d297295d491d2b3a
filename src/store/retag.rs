//! What `tags --counts` and `retag` read: how many articles carry each tag, and stored
//! articles back as `Article`s, in id order and in batches, for the tagger to see again.

use super::StoreError;
use crate::model::Article;
use rusqlite::{params, Connection};

/// ((kind, slug), articles carrying the tag).
pub type TagCount = ((String, String), i64);

/// How many articles carry each tag.
pub fn tag_counts(conn: &Connection) -> Result<Vec<TagCount>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT t.kind, t.slug, count(*) FROM article_tags at JOIN tags t ON t.id = at.tag_id
          GROUP BY t.id",
    )?;
    let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Articles published (or first seen, when the date is unknown) at or after `since`
/// (ISO-8601 text; "" for all).
pub fn count_since(conn: &Connection, since: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM articles WHERE coalesce(published_at, first_seen_at) >= ?1",
        [since],
        |r| r.get(0),
    )?)
}

/// A stored article as the tagger reads it, with its id and its current flag.
pub struct StoredArticle {
    pub id: i64,
    pub article: Article,
    pub foreign_policy: Option<bool>,
}

/// Up to `limit` articles with an id above `after` since `since`, in id order.
pub fn batch(
    conn: &Connection,
    after: i64,
    since: &str,
    limit: usize,
) -> Result<Vec<StoredArticle>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, title, title_derived, url, canonical_url, author, summary, body_text, lang,
                content_hash, foreign_policy
           FROM articles WHERE id > ?1 AND coalesce(published_at, first_seen_at) >= ?2
          ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after, since, limit as i64], |r| {
        Ok(StoredArticle {
            id: r.get(0)?,
            article: Article {
                guid: None,
                url: r.get(3)?,
                canonical_url: r.get(4)?,
                title: r.get(1)?,
                title_derived: r.get(2)?,
                author: r.get(5)?,
                published_at: None,
                updated_at: None,
                summary: r.get(6)?,
                body_text: r.get(7)?,
                body_html: None,
                lang: r.get(8)?,
                content_hash: r.get(9)?,
            },
            foreign_policy: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
