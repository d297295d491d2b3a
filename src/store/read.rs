//! Read-side queries behind `search`, `show` and `status`. They run on read-only connections
//! and return plain serialisable rows; the CLI decides how to print them.

use super::StoreError;
use rusqlite::{params_from_iter, types::Value, Connection, OptionalExtension};
use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// FTS5 query text; plain words are ANDed, "quoted phrases" kept.
    pub text: String,
    /// Only articles published (or first seen) at or after this ISO-8601 time.
    pub since: Option<String>,
    pub limit: usize,
    /// Topic slug, ISO country code, or organisation short name filters (all must match).
    pub topic: Option<String>,
    pub country: Option<String>,
    pub org: Option<String>,
    pub foreign_policy_only: bool,
    /// One hit per story (an article and its near duplicates), the best-ranked one.
    pub collapse: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SearchHit {
    pub id: i64,
    pub title: String,
    pub published_at: String,
    pub source: Option<String>,
    pub url: Option<String>,
    pub snippet: String,
    pub foreign_policy: Option<bool>,
    /// The story this article belongs to: its own id, or the article it duplicates.
    pub story_id: i64,
    /// Distinct sources that carried the story (all its articles).
    pub outlets: i64,
}

/// Full-text search. A query that is not valid FTS5 syntax (a stray quote, "U.S.") is retried
/// with every word quoted, so users never need to learn the syntax for simple searches.
pub fn search(conn: &Connection, q: &SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
    if super::fts::current(conn)? == super::fts::FtsMode::Off {
        return Err(StoreError::FtsOff);
    }
    if !q.text.chars().any(char::is_alphanumeric) {
        return Err(bad_query(&q.text, "nothing to search for"));
    }
    match run_search(conn, q, &q.text) {
        // Words with punctuation ("al-Assad", "U.S.") are FTS5 syntax errors: searched again
        // with each word quoted. An unclosed quote is the user's to fix.
        Err(StoreError::Sql(e))
            if fts_syntax(&e).is_some_and(|m| !m.starts_with("unterminated string")) =>
        {
            let quoted: Vec<String> = q
                .text
                .split_whitespace()
                .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
                .collect();
            run_search(conn, q, &quoted.join(" ")).map_err(|e2| match e2 {
                StoreError::Sql(e2) if fts_syntax(&e2).is_some() => {
                    bad_query(&q.text, fts_syntax(&e).unwrap_or_default())
                }
                other => other,
            })
        }
        Err(StoreError::Sql(e)) if fts_syntax(&e).is_some() => {
            Err(bad_query(&q.text, fts_syntax(&e).unwrap_or_default()))
        }
        other => other,
    }
}

/// SQLite's message when `e` is a MATCH expression FTS5 could not parse.
fn fts_syntax(e: &rusqlite::Error) -> Option<&str> {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(m)) if f.code == rusqlite::ErrorCode::Unknown => {
            // "no such column": `al-Assad` reads as a filter on a column "Assad".
            [
                "fts5:",
                "unterminated string",
                "unknown special query",
                "no such column",
            ]
            .iter()
            .any(|p| m.starts_with(p))
            .then_some(m.as_str())
        }
        _ => None,
    }
}

fn bad_query(query: &str, sqlite: &str) -> StoreError {
    let reason = if sqlite.starts_with("unterminated string") {
        "a quote is not closed".to_string()
    } else if sqlite.starts_with("unknown special query") {
        "a lone `*` is not a search".to_string()
    } else {
        sqlite.trim_start_matches("fts5: ").to_string()
    };
    StoreError::BadQuery {
        query: query.to_string(),
        reason,
    }
}

fn run_search(conn: &Connection, q: &SearchQuery, fts: &str) -> Result<Vec<SearchHit>, StoreError> {
    let mut sql = String::from(
        "SELECT a.id, a.title, coalesce(a.published_at, a.first_seen_at) AS published, a.url,
                snippet(articles_fts, 2, '[', ']', '…', 16) AS snippet, a.foreign_policy,
                (SELECT coalesce(f.title, f.url) FROM sightings s JOIN feeds f ON f.id = s.feed_id
                  WHERE s.article_id = a.id ORDER BY s.seen_at, s.id LIMIT 1) AS source,
                coalesce(a.duplicate_of, a.id) AS story,
                bm25(articles_fts, 10.0, 3.0, 1.0) AS rank
           FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
          WHERE articles_fts MATCH ?",
    );
    let mut args: Vec<Value> = vec![Value::Text(fts.to_string())];
    if let Some(since) = &q.since {
        sql.push_str(" AND coalesce(a.published_at, a.first_seen_at) >= ?");
        args.push(Value::Text(since.clone()));
    }
    if q.foreign_policy_only {
        sql.push_str(" AND a.foreign_policy = 1");
    }
    for (kind, slug) in [
        ("topic", &q.topic),
        ("country", &q.country),
        ("org", &q.org),
    ] {
        if let Some(slug) = slug {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM article_tags at JOIN tags t ON t.id = at.tag_id
                              WHERE at.article_id = a.id AND t.kind = ? AND t.slug = ? COLLATE NOCASE)",
            );
            args.push(Value::Text(kind.into()));
            args.push(Value::Text(slug.clone()));
        }
    }
    // Collapsing keeps each story's best-ranked article (SQLite takes the bare columns from
    // the row that holds min(rank)).
    let group = if q.collapse { "story" } else { "id" };
    let sql = format!(
        "WITH hits AS MATERIALIZED ({sql})
         SELECT id, title, published, url, snippet, foreign_policy, source, story, min(rank) AS best,
                (SELECT count(DISTINCT x.feed_id) FROM sightings x JOIN articles d ON d.id = x.article_id
                  WHERE d.id = story OR d.duplicate_of = story)
           FROM hits GROUP BY {group}
          ORDER BY best, id DESC LIMIT ?"
    );
    args.push(Value::Integer(q.limit as i64));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok(SearchHit {
            id: r.get(0)?,
            title: r.get(1)?,
            published_at: r.get(2)?,
            url: r.get(3)?,
            snippet: r.get(4)?,
            foreign_policy: r.get::<_, Option<i64>>(5)?.map(|v| v != 0),
            source: r.get(6)?,
            story_id: r.get(7)?,
            outlets: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Clone, Serialize)]
pub struct ArticleDetail {
    pub id: i64,
    pub title: String,
    pub title_derived: bool,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    pub author: Option<String>,
    pub published_at: Option<String>,
    pub first_seen_at: String,
    pub revised_at: Option<String>,
    pub lang: Option<String>,
    pub summary: Option<String>,
    pub body_text: String,
    pub foreign_policy: Option<bool>,
    pub foreign_policy_score: Option<f64>,
    pub foreign_policy_evidence: Option<serde_json::Value>,
    pub duplicate_of: Option<i64>,
    pub duplicate_detector: Option<String>,
    pub duplicate_similarity: Option<f64>,
    pub sightings: Vec<SightingRow>,
    pub tags: Vec<ArticleTagRow>,
    pub revisions: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SightingRow {
    pub feed: String,
    pub feed_title: Option<String>,
    pub guid: String,
    pub url: Option<String>,
    pub seen_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArticleTagRow {
    pub kind: String,
    pub slug: String,
    pub label: String,
    pub score: f64,
    pub evidence: serde_json::Value,
}

fn json_or_text(s: Option<String>) -> Option<serde_json::Value> {
    s.map(|s| serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)))
}

pub fn article(conn: &Connection, id: i64) -> Result<Option<ArticleDetail>, StoreError> {
    let detail = conn
        .query_row(
            "SELECT id, title, title_derived, url, canonical_url, author, published_at, first_seen_at,
                    revised_at, lang, summary, body_text, foreign_policy, foreign_policy_score,
                    foreign_policy_evidence, duplicate_of, duplicate_detector, duplicate_similarity,
                    (SELECT count(*) FROM article_revisions WHERE article_id = articles.id)
               FROM articles WHERE id = ?1",
            [id],
            |r| {
                Ok(ArticleDetail {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    title_derived: r.get(2)?,
                    url: r.get(3)?,
                    canonical_url: r.get(4)?,
                    author: r.get(5)?,
                    published_at: r.get(6)?,
                    first_seen_at: r.get(7)?,
                    revised_at: r.get(8)?,
                    lang: r.get(9)?,
                    summary: r.get(10)?,
                    body_text: r.get(11)?,
                    foreign_policy: r.get::<_, Option<i64>>(12)?.map(|v| v != 0),
                    foreign_policy_score: r.get(13)?,
                    foreign_policy_evidence: json_or_text(r.get(14)?),
                    duplicate_of: r.get(15)?,
                    duplicate_detector: r.get(16)?,
                    duplicate_similarity: r.get(17)?,
                    revisions: r.get(18)?,
                    sightings: Vec::new(),
                    tags: Vec::new(),
                })
            },
        )
        .optional()?;
    let Some(mut detail) = detail else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT f.url, f.title, s.guid, s.url, s.seen_at FROM sightings s JOIN feeds f ON f.id = s.feed_id
          WHERE s.article_id = ?1 ORDER BY s.seen_at, s.id",
    )?;
    detail.sightings = stmt
        .query_map([id], |r| {
            Ok(SightingRow {
                feed: r.get(0)?,
                feed_title: r.get(1)?,
                guid: r.get(2)?,
                url: r.get(3)?,
                seen_at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT t.kind, t.slug, t.label, at.score, at.evidence FROM article_tags at JOIN tags t ON t.id = at.tag_id
          WHERE at.article_id = ?1 ORDER BY t.kind, at.score DESC",
    )?;
    detail.tags = stmt
        .query_map([id], |r| {
            Ok(ArticleTagRow {
                kind: r.get(0)?,
                slug: r.get(1)?,
                label: r.get(2)?,
                score: r.get(3)?,
                evidence: json_or_text(r.get(4)?).unwrap_or_default(),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(detail))
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct StoreStatus {
    pub schema_version: i64,
    pub articles: i64,
    pub foreign_policy_articles: i64,
    pub near_duplicates: i64,
    pub sightings: i64,
    pub revisions: i64,
    pub feeds: i64,
    pub feeds_enabled: i64,
    pub feeds_failing: i64,
    pub local_sources: i64,
    pub articles_last_hour: i64,
    pub articles_last_day: i64,
    pub feeds_disabled: i64,
    pub last_poll_at: Option<String>,
    pub polls_last_day: i64,
    /// The most frequent poll errors of the last day: (kind, count, an example message).
    pub top_errors: Vec<ErrorCount>,
    pub database_bytes: i64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ErrorCount {
    pub kind: String,
    pub count: i64,
    pub example: Option<String>,
}

pub fn status(conn: &Connection) -> Result<StoreStatus, StoreError> {
    let one = |sql: &str| -> Result<i64, StoreError> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    let states = super::feeds::state_counts(conn)?;
    Ok(StoreStatus {
        schema_version: super::migrate::schema_version(conn)?,
        articles: one("SELECT count(*) FROM articles")?,
        foreign_policy_articles: one("SELECT count(*) FROM articles WHERE foreign_policy = 1")?,
        near_duplicates: one("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL")?,
        sightings: one("SELECT count(*) FROM sightings")?,
        revisions: one("SELECT count(*) FROM article_revisions")?,
        feeds: (states.enabled() + states.disabled) as i64,
        feeds_enabled: states.enabled() as i64,
        feeds_failing: states.failing as i64,
        local_sources: one("SELECT count(*) FROM feeds WHERE kind = 'local'")?,
        articles_last_hour: one(
            "SELECT count(*) FROM articles WHERE first_seen_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 hour')",
        )?,
        articles_last_day: one(
            "SELECT count(*) FROM articles WHERE first_seen_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day')",
        )?,
        feeds_disabled: states.disabled as i64,
        last_poll_at: conn.query_row("SELECT max(started_at) FROM fetches", [], |r| r.get(0))?,
        polls_last_day: one(
            "SELECT count(*) FROM fetches WHERE started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day')",
        )?,
        top_errors: {
            let mut stmt = conn.prepare(
                "SELECT coalesce(error_kind, 'unknown'), count(*), max(error) FROM fetches
                  WHERE outcome = 'error' AND started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day')
                  GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
            )?;
            let rows = stmt.query_map([], |r| Ok(ErrorCount { kind: r.get(0)?, count: r.get(1)?, example: r.get(2)? }))?;
            rows.collect::<Result<_, _>>()?
        },
        database_bytes: one("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")?,
    })
}
