//! Retention: articles older than `[store] retention_days` (by publication date, else first
//! sighting) go, with their sightings, tags, revisions and FTS rows (foreign-key cascades and
//! the FTS triggers keep them in step); the poll log is pruned on its own clock.

use super::StoreError;
use rusqlite::{params, Connection};
use serde::Serialize;

/// Rows deleted per transaction, so an analyst's reads and the daemon's polls never wait long.
const CHUNK: i64 = 2000;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub articles: u64,
    pub fetches: u64,
}

fn cutoff(days: u32) -> String {
    super::ts(chrono::Utc::now() - chrono::Duration::days(i64::from(days)))
}

/// Delete what retention allows. `None` keeps that kind of row forever.
pub fn prune(
    conn: &mut Connection,
    article_days: Option<u32>,
    fetch_days: Option<u32>,
) -> Result<Pruned, StoreError> {
    let mut out = Pruned::default();
    if let Some(days) = article_days {
        let before = cutoff(days);
        loop {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "DELETE FROM articles WHERE id IN (
                     SELECT id FROM articles WHERE coalesce(published_at, first_seen_at) < ?1 LIMIT ?2)",
                params![before, CHUNK],
            )?;
            tx.commit()?;
            out.articles += n as u64;
            if (n as i64) < CHUNK {
                break;
            }
        }
    }
    if let Some(days) = fetch_days {
        let before = cutoff(days);
        loop {
            let n = conn.execute(
                "DELETE FROM fetches WHERE id IN (SELECT id FROM fetches WHERE started_at < ?1 LIMIT ?2)",
                params![before, CHUNK],
            )?;
            out.fetches += n as u64;
            if (n as i64) < CHUNK {
                break;
            }
        }
    }
    Ok(out)
}

/// Rebuild the database file to give back the pages large deletions freed, and fold the WAL
/// in so the space shows on disk at once.
pub fn vacuum(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_articles_go_with_everything_that_hangs_on_them() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut c, std::path::Path::new(":memory:")).unwrap();
        c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        c.execute_batch(
            "INSERT INTO feeds (id, url) VALUES (1, 'https://a.example/rss');
             INSERT INTO articles (id, title, first_seen_at, last_seen_at, published_at, body_text, content_hash)
               VALUES (1, 'old story', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z', 'old words', 'h1'),
                      (2, 'new story', '2099-01-01T00:00:00Z', '2099-01-01T00:00:00Z', NULL, 'new words', 'h2');
             INSERT INTO sightings (article_id, feed_id, guid, seen_at, last_seen_at)
               VALUES (1, 1, 'a', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z'), (2, 1, 'b', '2099-01-01T00:00:00Z', '2099-01-01T00:00:00Z');
             INSERT INTO tags (id, kind, slug, label) VALUES (1, 'topic', 'diplomacy', 'Diplomacy');
             INSERT INTO article_tags (article_id, tag_id, score) VALUES (1, 1, 1.0), (2, 1, 1.0);
             INSERT INTO article_revisions (article_id, title, body_text, content_hash, replaced_at)
               VALUES (1, 'older', 'older words', 'h0', '2020-01-01T00:00:00Z');
             INSERT INTO fetches (feed_id, started_at, duration_ms, outcome) VALUES (1, '2020-01-01T00:00:00Z', 5, 'ok');",
        )
        .unwrap();
        let p = prune(&mut c, Some(30), Some(30)).unwrap();
        assert_eq!(
            p,
            Pruned {
                articles: 1,
                fetches: 1
            }
        );
        let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(n("SELECT count(*) FROM sightings"), 1);
        assert_eq!(n("SELECT count(*) FROM article_tags"), 1);
        assert_eq!(n("SELECT count(*) FROM article_revisions"), 0);
        assert_eq!(
            n("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'old'"),
            0
        );
        assert_eq!(
            n("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'new'"),
            1
        );
        assert_eq!(prune(&mut c, None, None).unwrap(), Pruned::default());
    }
}
