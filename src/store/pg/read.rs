//! `status`, `search` and `show` on PostgreSQL: the rows of `store::read`, from the same
//! tables. Search uses the tsvector index with `websearch_to_tsquery`.

use super::super::read::{
    ArticleDetail, ArticleTagRow, ErrorCount, SearchHit, SearchQuery, SightingRow, StoreStatus,
};
use super::super::StoreError;
use super::iso_ago;
use postgres::types::ToSql;
use postgres::{Client, Row};

fn sql(e: postgres::Error) -> StoreError {
    StoreError::Pg(super::cause(&e))
}

fn get<'a, T: postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i).map_err(sql)
}

fn flag(v: Option<i16>) -> Option<bool> {
    v.map(|v| v != 0)
}

pub fn status(client: &mut Client) -> Result<StoreStatus, StoreError> {
    let schema_version = super::migrate::schema_version(client)?;
    let hour = iso_ago("1 hour");
    let day = iso_ago("1 day");
    let counts = client
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM articles),
                        (SELECT count(*) FROM articles WHERE foreign_policy = 1),
                        (SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL),
                        (SELECT count(*) FROM sightings),
                        (SELECT count(*) FROM article_revisions),
                        (SELECT count(*) FROM feeds WHERE kind = 'feed'),
                        (SELECT count(*) FROM feeds WHERE kind = 'feed' AND enabled = 1),
                        (SELECT count(*) FROM feeds WHERE kind = 'feed' AND enabled = 1 AND consecutive_errors > 0),
                        (SELECT count(*) FROM feeds WHERE kind = 'local'),
                        (SELECT count(*) FROM articles WHERE first_seen_at >= {hour}),
                        (SELECT count(*) FROM articles WHERE first_seen_at >= {day}),
                        (SELECT count(*) FROM feeds WHERE kind = 'feed' AND enabled = 0),
                        (SELECT max(started_at) FROM fetches),
                        (SELECT count(*) FROM fetches WHERE started_at >= {day}),
                        pg_database_size(current_database())"
            ),
            &[],
        )
        .map_err(sql)?;
    let top_errors = client
        .query(
            &format!(
                "SELECT coalesce(error_kind, 'unknown'), count(*), max(error) FROM fetches
                  WHERE outcome = 'error' AND started_at >= {day}
                  GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
            ),
            &[],
        )
        .map_err(sql)?
        .iter()
        .map(|r| {
            Ok(ErrorCount {
                kind: get(r, 0)?,
                count: get(r, 1)?,
                example: get(r, 2)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let c = |i| get::<i64>(&counts, i);
    Ok(StoreStatus {
        schema_version,
        articles: c(0)?,
        foreign_policy_articles: c(1)?,
        near_duplicates: c(2)?,
        sightings: c(3)?,
        revisions: c(4)?,
        feeds: c(5)?,
        feeds_enabled: c(6)?,
        feeds_failing: c(7)?,
        local_sources: c(8)?,
        articles_last_hour: c(9)?,
        articles_last_day: c(10)?,
        feeds_disabled: c(11)?,
        last_poll_at: get(&counts, 12)?,
        polls_last_day: c(13)?,
        top_errors,
        database_bytes: c(14)?,
    })
}

/// The user's query as `websearch_to_tsquery` text. The FTS5 forms newsdesk documents map
/// over: words, "phrases" and OR are the same; `a NOT b` becomes `a -b`. Prefix search
/// (`word*`) has no websearch form and is refused rather than silently searched as a word.
fn websearch_text(query: &str) -> Result<String, StoreError> {
    let bad = |reason: &str| StoreError::BadQuery {
        query: query.to_string(),
        reason: reason.to_string(),
    };
    if !query.chars().any(char::is_alphanumeric) {
        return Err(bad("nothing to search for"));
    }
    if query.matches('"').count() % 2 == 1 {
        return Err(bad("a quote is not closed"));
    }
    let mut out = Vec::new();
    let mut negate = false;
    for word in query.split_whitespace() {
        if word == "NOT" {
            negate = true;
            continue;
        }
        if word.ends_with('*') && !word.starts_with('"') {
            return Err(bad(
                "prefix search (word*) is not available on PostgreSQL; write the whole word",
            ));
        }
        out.push(if std::mem::take(&mut negate) {
            format!("-{word}")
        } else {
            word.to_string()
        });
    }
    Ok(out.join(" "))
}

pub fn search(client: &mut Client, q: &SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
    let mode: Option<String> = client
        .query_opt("SELECT value FROM settings WHERE key = 'fts'", &[])
        .map_err(sql)?
        .map(|r| get(&r, 0))
        .transpose()?;
    if mode.as_deref() == Some("off") {
        return Err(StoreError::FtsOff);
    }
    let text = websearch_text(&q.text)?;
    let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(text)];
    let mut filters = String::new();
    if let Some(since) = &q.since {
        args.push(Box::new(since.clone()));
        filters.push_str(&format!(
            " AND coalesce(a.published_at, a.first_seen_at) >= ${}",
            args.len()
        ));
    }
    if q.foreign_policy_only {
        filters.push_str(" AND a.foreign_policy = 1");
    }
    for (kind, slug) in [
        ("topic", &q.topic),
        ("country", &q.country),
        ("org", &q.org),
    ] {
        if let Some(slug) = slug {
            args.push(Box::new(kind.to_string()));
            args.push(Box::new(slug.clone()));
            filters.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM article_tags at JOIN tags t ON t.id = at.tag_id
                              WHERE at.article_id = a.id AND t.kind = ${} AND lower(t.slug) = lower(${}))",
                args.len() - 1,
                args.len()
            ));
        }
    }
    args.push(Box::new(q.limit as i64));
    let limit = args.len();
    // Weights as the SQLite search's bm25 (title 10, summary 3, body 1), on a 0..1 scale.
    // Collapsing keeps each story's best-ranked article; the snippet (ts_headline reads the
    // whole body) is made only for the rows shown.
    let group = if q.collapse { "story" } else { "id" };
    let sql_text = format!(
        "WITH q AS (SELECT websearch_to_tsquery('simple', $1) AS query),
         hits AS MATERIALIZED (
            SELECT a.id, coalesce(a.duplicate_of, a.id) AS story,
                   ts_rank_cd('{{0.1, 0.1, 0.3, 1.0}}', f.document, q.query) AS rank
              FROM q, articles_fts f JOIN articles a ON a.id = f.article_id
             WHERE f.document @@ q.query{filters}),
         best AS (
            SELECT DISTINCT ON ({group}) id, story, rank FROM hits
             ORDER BY {group}, rank DESC, id DESC)
         SELECT a.id, a.title, coalesce(a.published_at, a.first_seen_at), a.url,
                ts_headline('simple', a.body_text, q.query,
                    'StartSel=[, StopSel=], MaxWords=16, MinWords=6, MaxFragments=1, FragmentDelimiter=…'),
                a.foreign_policy,
                (SELECT coalesce(f.title, f.url) FROM sightings s JOIN feeds f ON f.id = s.feed_id
                  WHERE s.article_id = a.id ORDER BY s.seen_at, s.id LIMIT 1),
                b.story,
                (SELECT count(DISTINCT x.feed_id) FROM sightings x JOIN articles d ON d.id = x.article_id
                  WHERE d.id = b.story OR d.duplicate_of = b.story)
           FROM (SELECT * FROM best ORDER BY rank DESC, id DESC LIMIT ${limit}) b
           JOIN articles a ON a.id = b.id, q
          ORDER BY b.rank DESC, b.id DESC"
    );
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
    client
        .query(&sql_text, &params)
        .map_err(sql)?
        .iter()
        .map(|r| {
            Ok(SearchHit {
                id: get(r, 0)?,
                title: get(r, 1)?,
                published_at: get(r, 2)?,
                url: get(r, 3)?,
                snippet: get(r, 4)?,
                foreign_policy: flag(get(r, 5)?),
                source: get(r, 6)?,
                story_id: get(r, 7)?,
                outlets: get(r, 8)?,
            })
        })
        .collect()
}

fn json_or_text(s: Option<String>) -> Option<serde_json::Value> {
    s.map(|s| serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)))
}

pub fn article(client: &mut Client, id: i64) -> Result<Option<ArticleDetail>, StoreError> {
    let Some(r) = client
        .query_opt(
            "SELECT id, title, title_derived, url, canonical_url, author, published_at, first_seen_at,
                    revised_at, lang, summary, body_text, foreign_policy, foreign_policy_score,
                    foreign_policy_evidence, duplicate_of, duplicate_detector, duplicate_similarity,
                    (SELECT count(*) FROM article_revisions WHERE article_id = articles.id)
               FROM articles WHERE id = $1",
            &[&id],
        )
        .map_err(sql)?
    else {
        return Ok(None);
    };
    let mut detail = ArticleDetail {
        id: get(&r, 0)?,
        title: get(&r, 1)?,
        title_derived: get::<i16>(&r, 2)? != 0,
        url: get(&r, 3)?,
        canonical_url: get(&r, 4)?,
        author: get(&r, 5)?,
        published_at: get(&r, 6)?,
        first_seen_at: get(&r, 7)?,
        revised_at: get(&r, 8)?,
        lang: get(&r, 9)?,
        summary: get(&r, 10)?,
        body_text: get(&r, 11)?,
        foreign_policy: flag(get(&r, 12)?),
        foreign_policy_score: get(&r, 13)?,
        foreign_policy_evidence: json_or_text(get(&r, 14)?),
        duplicate_of: get(&r, 15)?,
        duplicate_detector: get(&r, 16)?,
        duplicate_similarity: get(&r, 17)?,
        revisions: get(&r, 18)?,
        sightings: Vec::new(),
        tags: Vec::new(),
    };
    detail.sightings = client
        .query(
            "SELECT f.url, f.title, s.guid, s.url, s.seen_at FROM sightings s JOIN feeds f ON f.id = s.feed_id
              WHERE s.article_id = $1 ORDER BY s.seen_at, s.id",
            &[&id],
        )
        .map_err(sql)?
        .iter()
        .map(|r| {
            Ok(SightingRow {
                feed: get(r, 0)?,
                feed_title: get(r, 1)?,
                guid: get(r, 2)?,
                url: get(r, 3)?,
                seen_at: get(r, 4)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    detail.tags = client
        .query(
            "SELECT t.kind, t.slug, t.label, at.score, at.evidence FROM article_tags at JOIN tags t ON t.id = at.tag_id
              WHERE at.article_id = $1 ORDER BY t.kind, at.score DESC",
            &[&id],
        )
        .map_err(sql)?
        .iter()
        .map(|r| {
            Ok(ArticleTagRow {
                kind: get(r, 0)?,
                slug: get(r, 1)?,
                label: get(r, 2)?,
                score: get(r, 3)?,
                evidence: json_or_text(get(r, 4)?).unwrap_or_default(),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(detail))
}

/// How many articles carry each tag (as `store::retag::tag_counts`).
pub fn tag_counts(client: &mut Client) -> Result<Vec<super::super::retag::TagCount>, StoreError> {
    client
        .query(
            "SELECT t.kind, t.slug, count(*) FROM article_tags at JOIN tags t ON t.id = at.tag_id
              GROUP BY t.id",
            &[],
        )
        .map_err(sql)?
        .iter()
        .map(|r| Ok(((get(r, 0)?, get(r, 1)?), get(r, 2)?)))
        .collect()
}

/// Reclaim the space of deleted rows and refresh the planner's statistics. VACUUM cannot run
/// inside a transaction: it is sent alone.
pub fn vacuum(client: &mut Client) -> Result<(), StoreError> {
    client.batch_execute("VACUUM (ANALYZE)").map_err(sql)
}

/// Articles published (or first seen) at or after `since` (as `store::retag::count_since`).
pub fn count_since(client: &mut Client, since: &str) -> Result<i64, StoreError> {
    let r = client
        .query_one(
            "SELECT count(*) FROM articles WHERE coalesce(published_at, first_seen_at) >= $1",
            &[&since],
        )
        .map_err(sql)?;
    get(&r, 0)
}

/// Up to `limit` articles with an id above `after` since `since`, in id order, as the tagger
/// reads them (as `store::retag::batch`).
pub fn retag_batch(
    client: &mut Client,
    after: i64,
    since: &str,
    limit: usize,
) -> Result<Vec<super::super::retag::StoredArticle>, StoreError> {
    client
        .query(
            "SELECT id, title, title_derived, url, canonical_url, author, summary, body_text, lang,
                    content_hash, foreign_policy
               FROM articles WHERE id > $1 AND coalesce(published_at, first_seen_at) >= $2
              ORDER BY id LIMIT $3",
            &[&after, &since, &(limit as i64)],
        )
        .map_err(sql)?
        .iter()
        .map(|r| {
            Ok(super::super::retag::StoredArticle {
                id: get(r, 0)?,
                article: crate::model::Article {
                    guid: None,
                    url: get(r, 3)?,
                    canonical_url: get(r, 4)?,
                    title: get(r, 1)?,
                    title_derived: get::<i16>(r, 2)? != 0,
                    author: get(r, 5)?,
                    published_at: None,
                    updated_at: None,
                    summary: get(r, 6)?,
                    body_text: get(r, 7)?,
                    body_html: None,
                    lang: get(r, 8)?,
                    content_hash: get(r, 9)?,
                },
                foreign_policy: flag(get(r, 10)?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_forms_become_websearch_forms() {
        assert_eq!(websearch_text("iran sanctions").unwrap(), "iran sanctions");
        assert_eq!(
            websearch_text("\"security council\" OR nato").unwrap(),
            "\"security council\" OR nato"
        );
        assert_eq!(websearch_text("korea NOT south").unwrap(), "korea -south");
        for bad in ["sanc*", "\"open", "  ", "*"] {
            assert!(
                matches!(websearch_text(bad), Err(StoreError::BadQuery { .. })),
                "{bad}"
            );
        }
    }
}
