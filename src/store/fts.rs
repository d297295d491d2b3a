//! What the full-text index covers (`[store] fts`), and when it is written. The mode lives in
//! the database's `settings` table, where the FTS triggers read it (migration 3); changing it
//! here rebuilds the index in one transaction, so the index always matches what the triggers
//! will later remove from it. newsdesk's own write batches index their new articles in one
//! statement at the end (`defer` / `index_deferred`); see the migration for why.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FtsMode {
    /// Title, summary and body.
    #[default]
    Full,
    /// Title and summary: a smaller index and a faster ingest; body words are not searchable.
    Title,
    /// No index: the fastest ingest; `search` is unavailable.
    Off,
}

impl FtsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FtsMode::Full => "full",
            FtsMode::Title => "title",
            FtsMode::Off => "off",
        }
    }

    fn parse(s: &str) -> Option<FtsMode> {
        [FtsMode::Full, FtsMode::Title, FtsMode::Off]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The mode the database's triggers index with.
pub fn current(conn: &Connection) -> Result<FtsMode, StoreError> {
    let value: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = 'fts'", [], |r| {
            r.get(0)
        })
        .optional()?;
    match value {
        None => Ok(FtsMode::Full),
        Some(v) => FtsMode::parse(&v).ok_or(StoreError::BadSetting {
            key: "fts",
            value: v,
        }),
    }
}

/// New articles of the current transaction wait for `index_deferred`: returns the id after
/// which they start.
pub fn defer(tx: &Connection) -> Result<i64, StoreError> {
    let after: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM articles", [], |r| {
        r.get(0)
    })?;
    tx.execute(
        "UPDATE settings SET value = ?1 WHERE key = 'fts_pending_after'",
        [after],
    )?;
    Ok(after)
}

/// Index the articles added since `defer` (with their final text, revisions included) and
/// return to row-by-row indexing. Must run in the same transaction as `defer`.
pub fn index_deferred(tx: &Connection, after: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO articles_fts(rowid, title, summary, body_text)
         SELECT id, title, summary, iif(m.value = 'full', body_text, NULL)
           FROM articles, settings m
          WHERE id > ?1 AND m.key = 'fts' AND m.value IN ('full', 'title')",
        [after],
    )?;
    tx.execute(
        "UPDATE settings SET value = NULL WHERE key = 'fts_pending_after'",
        [],
    )?;
    Ok(())
}

/// A finished change of mode: the one before and the articles indexed under the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reindexed {
    pub from: FtsMode,
    pub articles: u64,
}

/// Make the database index with `mode`, rebuilding the index if it indexed otherwise.
pub fn set_mode(conn: &mut Connection, mode: FtsMode) -> Result<Option<Reindexed>, StoreError> {
    let from = current(conn)?;
    if from == mode {
        return Ok(None);
    }
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ('fts', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [mode.as_str()],
    )?;
    tx.execute(
        "INSERT INTO articles_fts(articles_fts) VALUES ('delete-all')",
        [],
    )?;
    let articles = match mode {
        FtsMode::Off => 0,
        FtsMode::Full | FtsMode::Title => tx.execute(
            "INSERT INTO articles_fts(rowid, title, summary, body_text)
             SELECT id, title, summary, iif(?1 = 'full', body_text, NULL) FROM articles",
            [mode.as_str()],
        )?,
    };
    tx.commit()?;
    Ok(Some(Reindexed {
        from,
        articles: articles as u64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::migrate(&mut conn, std::path::Path::new(":memory:")).unwrap();
        conn
    }

    fn add(conn: &Connection, title: &str, body: &str) -> i64 {
        conn.execute(
            "INSERT INTO articles (title, first_seen_at, last_seen_at, body_text, content_hash)
             VALUES (?1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?2, ?1)",
            [title, body],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    fn hits(conn: &Connection, q: &str) -> i64 {
        conn.query_row(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?1",
            [q],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// The index is internally consistent; with `against_content`, it also holds exactly what
    /// the articles table holds (true only in full mode).
    fn integrity(conn: &Connection, against_content: bool) {
        conn.execute(
            "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', ?1)",
            [i64::from(against_content)],
        )
        .unwrap();
    }

    #[test]
    fn each_mode_indexes_what_it_says_and_switching_rebuilds() {
        let mut conn = db();
        assert_eq!(current(&conn).unwrap(), FtsMode::Full);
        add(&conn, "Sanctions talks", "envoys met in Vienna");
        assert_eq!((hits(&conn, "sanctions"), hits(&conn, "vienna")), (1, 1));
        integrity(&conn, true);

        let r = set_mode(&mut conn, FtsMode::Title).unwrap();
        assert_eq!(
            r,
            Some(Reindexed {
                from: FtsMode::Full,
                articles: 1
            })
        );
        add(&conn, "Border clash", "troops moved near Vienna");
        assert_eq!((hits(&conn, "sanctions"), hits(&conn, "vienna")), (1, 0));
        assert_eq!(hits(&conn, "border"), 1);
        // Updates and deletes remove exactly what was indexed.
        conn.execute(
            "UPDATE articles SET title = 'Ceasefire talks' WHERE id = 2",
            [],
        )
        .unwrap();
        assert_eq!((hits(&conn, "border"), hits(&conn, "ceasefire")), (0, 1));
        conn.execute("DELETE FROM articles WHERE id = 1", [])
            .unwrap();
        assert_eq!(hits(&conn, "sanctions"), 0);
        integrity(&conn, false);

        assert_eq!(set_mode(&mut conn, FtsMode::Title).unwrap(), None);
        set_mode(&mut conn, FtsMode::Off).unwrap();
        add(&conn, "Trade dispute", "tariffs");
        conn.execute("DELETE FROM articles WHERE id = 2", [])
            .unwrap();
        assert_eq!(hits(&conn, "trade OR ceasefire"), 0);
        integrity(&conn, false);

        let r = set_mode(&mut conn, FtsMode::Full).unwrap();
        assert_eq!(r.map(|r| (r.from, r.articles)), Some((FtsMode::Off, 1)));
        assert_eq!((hits(&conn, "trade"), hits(&conn, "tariffs")), (1, 1));
        integrity(&conn, true);
    }

    #[test]
    fn deferred_batches_index_final_text_and_leave_triggers_on_for_others() {
        let mut conn = db();
        let old = add(&conn, "Old story", "first text");
        for mode in [FtsMode::Full, FtsMode::Title] {
            set_mode(&mut conn, mode).unwrap();
            let tx = conn.transaction().unwrap();
            let after = defer(&tx).unwrap();
            let new = add(&tx, &format!("New {} story", mode.as_str()), "body words");
            // Revised in the same batch: new and already indexed rows alike.
            tx.execute(
                "UPDATE articles SET title = 'Renamed ' || title WHERE id IN (?1, ?2)",
                [old, new],
            )
            .unwrap();
            index_deferred(&tx, after).unwrap();
            tx.commit().unwrap();
            integrity(&conn, mode == FtsMode::Full);
            let renamed_new = format!("renamed new {}", mode.as_str());
            assert_eq!(
                (hits(&conn, &renamed_new), hits(&conn, "renamed old")),
                (1, 1)
            );
            conn.execute(
                "UPDATE articles SET title = 'Old story' WHERE id = ?1",
                [old],
            )
            .unwrap();
        }
        // Outside a deferred batch, the triggers index inserts at once.
        set_mode(&mut conn, FtsMode::Full).unwrap();
        add(&conn, "Direct insert", "by a script");
        assert_eq!(hits(&conn, "script"), 1);
        integrity(&conn, true);
    }

    #[test]
    fn an_unknown_stored_mode_is_an_error_naming_it() {
        let conn = db();
        conn.execute("UPDATE settings SET value = 'fast' WHERE key = 'fts'", [])
            .unwrap();
        let e = current(&conn).unwrap_err().to_string();
        assert!(e.contains("fts") && e.contains("fast"), "{e}");
    }
}
