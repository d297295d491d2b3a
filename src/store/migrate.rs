//! Schema migrations: numbered SQL files in `migrations/`, embedded in the binary, applied in
//! order, each in its own transaction, recorded in `schema_migrations` and in
//! `PRAGMA user_version` (which tools can read without knowing our tables).

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// (version, name, SQL). A new migration is a new file and a new line here; a test checks that
/// every file in `migrations/` is listed.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "0002_dedupe",
        include_str!("../../migrations/0002_dedupe.sql"),
    ),
    (
        3,
        "0003_fts_mode",
        include_str!("../../migrations/0003_fts_mode.sql"),
    ),
    (
        4,
        "0004_fingerprints",
        include_str!("../../migrations/0004_fingerprints.sql"),
    ),
    (
        5,
        "0005_item_hash",
        include_str!("../../migrations/0005_item_hash.sql"),
    ),
    (
        6,
        "0006_fts_declaration",
        include_str!("../../migrations/0006_fts_declaration.sql"),
    ),
    (
        7,
        "0007_fetch_queue_time",
        include_str!("../../migrations/0007_fetch_queue_time.sql"),
    ),
    (
        8,
        "0008_article_tags_rowid",
        include_str!("../../migrations/0008_article_tags_rowid.sql"),
    ),
];

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

pub fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

pub fn check_not_newer(version: i64, path: &Path) -> Result<(), StoreError> {
    if version > latest_version() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: latest_version(),
        });
    }
    Ok(())
}

/// Apply every migration newer than the database. Returns the versions applied.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<Vec<i64>, StoreError> {
    let current = schema_version(conn)?;
    check_not_newer(current, path)?;
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let fail = |source| StoreError::Migration {
            version,
            name,
            source,
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TEXT NOT NULL
             );",
        )
        .map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, super::now_ts()],
        )
        .map_err(fail)?;
        // user_version cannot be bound as a parameter; `version` is our own constant.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version, name, "applied database migration");
        applied.push(version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<String> = MIGRATIONS.iter().map(|m| format!("{}.sql", m.1)).collect();
        assert_eq!(files, names);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i as i64 + 1, "versions are 1, 2, 3, ...");
            assert!(m.1.starts_with(&format!("{:04}_", m.0)));
        }
    }

    #[test]
    fn fingerprints_move_to_their_table_with_their_groups() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A database as version 3 left it, with two articles, one a near duplicate.
        for (_, _, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO articles (id, title, first_seen_at, last_seen_at, body_text, content_hash, fingerprint)
             VALUES (1, 'a', 't', 't', 'x', 'h1', x'0102'), (2, 'b', 't', 't', 'y', 'h2', x'0304'),
                    (3, 'c', 't', 't', 'z', 'h3', NULL);
             UPDATE articles SET duplicate_of = 1 WHERE id = 2;",
        )
        .unwrap();
        assert_eq!(
            migrate(&mut conn, Path::new(":memory:")).unwrap(),
            [4, 5, 6, 7, 8]
        );
        let rows: Vec<(i64, Option<i64>, Vec<u8>)> = conn
            .prepare(
                "SELECT article_id, group_id, fingerprint FROM article_fingerprints ORDER BY 1",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(1, None, vec![1, 2]), (2, Some(1), vec![3, 4])]);
        assert!(conn.prepare("SELECT fingerprint FROM articles").is_err());
        // Deleting the story's first article leaves the copy starting its own group.
        conn.execute("DELETE FROM articles WHERE id = 1", [])
            .unwrap();
        let group: Option<i64> = conn
            .query_row(
                "SELECT group_id FROM article_fingerprints WHERE article_id = 2",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(group, None);
    }

    #[test]
    fn tag_rows_move_to_a_rowid_table_with_their_constraints_and_view() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        // A database as version 7 left it: a foreign-policy article with two tags.
        for (_, _, sql) in &MIGRATIONS[..7] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 7;
             INSERT INTO articles (id, title, first_seen_at, last_seen_at, body_text, content_hash, foreign_policy)
             VALUES (1, 'a', 't', 't', 'x', 'h1', 1), (2, 'b', 't', 't', 'y', 'h2', 0);
             INSERT INTO tags (id, kind, slug, label) VALUES (1, 'topic', 'sanctions', 'Sanctions'),
                    (2, 'country', 'KP', 'North Korea');
             INSERT INTO article_tags (article_id, tag_id, score, evidence)
             VALUES (1, 1, 0.9, '{\"mentions\":[]}'), (1, 2, 3.0, '{}'), (2, 1, 0.2, '{}');",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn, Path::new(":memory:")).unwrap(), [8]);
        let rows: Vec<(i64, i64, f64, String)> = conn
            .prepare("SELECT article_id, tag_id, score, evidence FROM article_tags ORDER BY 1, 2")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, 1, 0.9, r#"{"mentions":[]}"#.to_string()),
                (1, 2, 3.0, "{}".to_string()),
                (2, 1, 0.2, "{}".to_string())
            ]
        );
        let view: (String, String) = conn
            .query_row(
                "SELECT topics, countries FROM foreign_policy_articles WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(view, ("sanctions".into(), "KP".into()));
        // Still one row per article and tag, still gone with its article.
        let twice = conn.execute(
            "INSERT INTO article_tags (article_id, tag_id, score) VALUES (1, 1, 0.5)",
            [],
        );
        assert!(twice.is_err());
        conn.execute("DELETE FROM articles WHERE id = 1", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM article_tags", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT article_id FROM article_tags WHERE tag_id = 1",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("article_tags_tag"), "{plan}");
    }

    /// What Datasette (`detect_fts`) and sqlite-utils (`Table.detect_fts`) run to find the
    /// FTS table of `articles`, without their third test (a table named like ours would not
    /// match it: `tbl_name` of an FTS table is its own name).
    const TOOLS_DETECT_FTS: &str = "SELECT name FROM sqlite_master WHERE rootpage = 0
        AND (sql LIKE '%VIRTUAL TABLE%USING FTS%content=\"articles\"%'
             OR sql LIKE '%VIRTUAL TABLE%USING FTS%content=[articles]%')";

    #[test]
    fn the_index_is_declared_as_datasette_finds_it_and_keeps_its_mode() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A database as version 5 left it, indexing titles only, with two articles.
        for (_, _, sql) in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch("PRAGMA user_version = 5;").unwrap();
        super::super::fts::set_mode(&mut conn, super::super::fts::FtsMode::Title).unwrap();
        conn.execute_batch(
            "INSERT INTO articles (id, title, first_seen_at, last_seen_at, body_text, content_hash)
             VALUES (1, 'Sanctions talks', 't', 't', 'envoys met in Vienna', 'h1'),
                    (2, 'Border clash', 't', 't', 'troops moved', 'h2');",
        )
        .unwrap();
        let found = |conn: &Connection| -> Option<String> {
            conn.query_row(TOOLS_DETECT_FTS, [], |r| r.get(0)).ok()
        };
        assert_eq!(found(&conn), None, "0001's declaration is not found");
        assert_eq!(
            migrate(&mut conn, Path::new(":memory:")).unwrap(),
            [6, 7, 8]
        );
        assert_eq!(found(&conn).as_deref(), Some("articles_fts"));

        let hits = |conn: &Connection, q: &str| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM articles a JOIN articles_fts f ON a.rowid = f.rowid
                  WHERE articles_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .unwrap()
        };
        // Still the title mode: titles found, bodies not; the triggers keep it so.
        assert_eq!((hits(&conn, "sanctions"), hits(&conn, "vienna")), (1, 0));
        conn.execute("UPDATE articles SET title = 'Ceasefire' WHERE id = 2", [])
            .unwrap();
        conn.execute("DELETE FROM articles WHERE id = 1", [])
            .unwrap();
        assert_eq!((hits(&conn, "border"), hits(&conn, "ceasefire")), (0, 1));
        assert_eq!(hits(&conn, "sanctions"), 0);
        conn.execute(
            "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 0)",
            [],
        )
        .unwrap();
        // The index-building settings of 0003 survive the rebuild.
        let hashsize: i64 = conn
            .query_row(
                "SELECT v FROM articles_fts_config WHERE k = 'hashsize'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hashsize, 16_777_216);
    }

    #[test]
    fn migrating_twice_is_a_no_op_and_newer_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        let p = Path::new(":memory:");
        assert_eq!(migrate(&mut conn, p).unwrap().len(), MIGRATIONS.len());
        assert!(migrate(&mut conn, p).unwrap().is_empty());
        conn.execute_batch(&format!("PRAGMA user_version = {}", latest_version() + 1))
            .unwrap();
        assert!(matches!(
            migrate(&mut conn, p),
            Err(StoreError::TooNew { .. })
        ));
    }
}
