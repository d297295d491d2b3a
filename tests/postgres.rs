//! The PostgreSQL store through the binary: `[store] url`, `db migrate`, the schema against
//! SQLite's, `db copy` of the corpus (whole, and resumed), and `search`, `show`, `status` giving
//! the same answers on both stores. Needs NEWSDESK_TEST_PG_URL (see tests/common/pg.rs).

mod common;

use common::pg::{self, TestDb};
use common::{corpus, Sandbox};
use std::collections::BTreeMap;

/// A sandbox whose config points at `db` (and still names its SQLite file, as a config that
/// switched stores by adding one line does).
fn pg_sandbox(db: &TestDb) -> Sandbox {
    Sandbox::new().with_url(&db.url)
}

/// The columns of every table and view, by name, as each store reports them.
fn sqlite_columns(s: &Sandbox) -> BTreeMap<String, Vec<String>> {
    let conn = s.sql();
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')
              AND name NOT LIKE 'articles_fts%' AND name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names
        .into_iter()
        .map(|n| {
            let mut cols: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{n}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            cols.sort();
            (n, cols)
        })
        .collect()
}

fn pg_columns(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in db
        .client()
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
              WHERE table_schema = 'public'
                AND table_name NOT IN ('articles_fts', 'daemons', 'feed_leases', 'hosts', 'host_slots')
              ORDER BY 1, 2",
            &[],
        )
        .unwrap()
    {
        out.entry(r.get(0)).or_default().push(r.get(1));
    }
    out
}

#[test]
fn migrate_gives_the_sqlite_tables_columns_and_views() {
    let Some(db) = pg::database("schema") else {
        return;
    };
    let sqlite = Sandbox::new();
    sqlite.run_ok(&["db", "migrate"]);
    let s = pg_sandbox(&db);
    let out = s.run(&["db", "migrate"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("schema version 2 (2 applied now)"),
        "{stdout}"
    );
    // The config also names a SQLite file: ignored, with one warning.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("SQLite-only keys are ignored").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("ignored=path"), "{stderr}");
    assert!(!sqlite.path("never").exists());
    // Migrating again applies nothing.
    assert!(s
        .run_ok(&["db", "migrate"])
        .contains("schema version 2 (0 applied now)"));
    assert_eq!(sqlite_columns(&sqlite), pg_columns(&db));
    // The full-text index: a tsvector per article under a GIN index.
    assert_eq!(
        db.count(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'articles_fts' AND indexdef LIKE '%USING gin (document)%'"
        ),
        1
    );
}

/// Every row of the copied tables, as text, in key order.
fn sqlite_rows(s: &Sandbox, table: &str, key: &str, columns: &[String]) -> Vec<String> {
    let conn = s.sql();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM {table} ORDER BY {key}",
            columns.join(", ")
        ))
        .unwrap();
    let n = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        let cells: Vec<String> = (0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => "NULL".into(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Real(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
            })
            .collect();
        out.push(cells.join("|"));
    }
    out
}

fn pg_rows(db: &TestDb, table: &str, key: &str, columns: &[String]) -> Vec<String> {
    // The SQLite column order, so rows compare cell by cell; bytes as hex.
    let mut client = db.client();
    let select: Vec<String> = columns
        .iter()
        .map(|c| {
            let ty: String = client
                .query_one(
                    "SELECT data_type::text FROM information_schema.columns
                      WHERE table_name = $1 AND column_name = $2",
                    &[&table, c],
                )
                .unwrap()
                .get(0);
            let text = if ty == "bytea" {
                format!("encode({c}, 'hex')")
            } else {
                format!("{c}::text")
            };
            format!("coalesce({text}, 'NULL')")
        })
        .collect();
    db.client()
        .query(
            &format!("SELECT {} FROM {table} ORDER BY {key}", select.join(", ")),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (0..columns.len())
                .map(|i| r.get::<_, String>(i))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn sqlite_column_order(s: &Sandbox, table: &str) -> Vec<String> {
    s.sql()
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

const COPIED: &[(&str, &str)] = &[
    ("feeds", "id"),
    ("feed_url_history", "id"),
    ("tags", "id"),
    ("articles", "id"),
    ("article_fingerprints", "article_id"),
    ("article_revisions", "id"),
    ("sightings", "id"),
    ("article_tags", "article_id, tag_id"),
    ("fetches", "id"),
];

/// Blobs print as byte lists from SQLite and as hex from PostgreSQL; reals may print with
/// different digits. Bring both to one form.
fn normalize(rows: Vec<String>) -> Vec<String> {
    rows.into_iter()
        .map(|row| {
            row.split('|')
                .map(|cell| {
                    if let Some(list) = cell.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
                        if list.split(", ").all(|b| b.parse::<u8>().is_ok()) {
                            return list
                                .split(", ")
                                .filter(|b| !b.is_empty())
                                .map(|b| format!("{:02x}", b.parse::<u8>().unwrap()))
                                .collect();
                        }
                    }
                    match cell.parse::<f64>() {
                        Ok(f) if cell.contains('.') || cell.contains('e') => format!("{f:.9}"),
                        _ => cell.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn assert_same_rows(sqlite: &Sandbox, db: &TestDb) {
    assert_same_rows_but(sqlite, db, &[]);
}

/// Every row and column alike, but the (table, column) pairs in `skip`.
fn assert_same_rows_but(sqlite: &Sandbox, db: &TestDb, skip: &[(&str, &str)]) {
    for (table, key) in COPIED {
        let columns: Vec<String> = sqlite_column_order(sqlite, table)
            .into_iter()
            .filter(|c| !skip.contains(&(*table, c.as_str())) && !skip.contains(&("*", c.as_str())))
            .collect();
        let want = normalize(sqlite_rows(sqlite, table, key, &columns));
        let got = normalize(pg_rows(db, table, key, &columns));
        assert_eq!(want.len(), got.len(), "{table}: row count");
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w, g, "{table}: a row differs");
        }
    }
}

fn ingest_corpus(s: &Sandbox) {
    let articles = corpus().join("articles/articles.jsonl");
    let items = corpus().join("articles/feed-items.jsonl");
    s.run_ok(&[
        "ingest",
        articles.to_str().unwrap(),
        items.to_str().unwrap(),
    ]);
    // A feed with a poll record and a URL move, so every copied table has rows.
    let c = s.sql();
    c.execute_batch(
        "INSERT INTO feeds (url, title) VALUES ('https://example.org/feed.xml', 'Example');
         INSERT INTO fetches (feed_id, started_at, duration_ms, status, outcome, items, queue_ms)
         SELECT id, '2026-02-01T00:00:00Z', 12, 200, 'ok', 3, 4 FROM feeds WHERE title = 'Example';
         INSERT INTO feed_url_history (feed_id, old_url, new_url, http_status, changed_at)
         SELECT id, 'https://old.example.org/f', url, 301, '2026-02-01T00:00:00Z' FROM feeds WHERE title = 'Example';
         INSERT INTO article_revisions (article_id, title, summary, body_text, body_html, content_hash, replaced_at)
         SELECT id, 'Old ' || title, summary, body_text, body_html, 'old', '2026-02-02T00:00:00Z' FROM articles WHERE id <= 3;",
    )
    .unwrap();
}

#[test]
fn db_copy_round_trips_the_corpus_and_resumes() {
    let Some(db) = pg::database("copy") else {
        return;
    };
    let sqlite = Sandbox::new();
    ingest_corpus(&sqlite);
    let out = sqlite.run(&["db", "copy", "--to", &db.url]);
    assert!(out.status.success(), "{out:?}");
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(progress.contains("copy: articles 0/"), "{progress}");
    let articles = sqlite.count("SELECT count(*) FROM articles");
    assert!(articles > 1500, "{articles}");
    assert!(
        progress.contains(&format!("copy: articles {articles}/{articles}")),
        "{progress}"
    );
    assert_same_rows(&sqlite, &db);
    let stories = "SELECT count(*) FROM stories";
    assert_eq!(sqlite.count(stories), db.count(stories));
    let fp = "SELECT count(*) FROM foreign_policy_articles WHERE topics IS NOT NULL";
    assert_eq!(sqlite.count(fp), db.count(fp));
    assert_eq!(db.count("SELECT count(*) FROM articles_fts"), articles);

    // Stopped partway through articles: what a killed copy leaves (each chunk commits whole,
    // tables go in order). Run again, it finishes with every row once.
    db.client()
        .batch_execute(
            "TRUNCATE fetches, article_tags, sightings, article_revisions, article_fingerprints;
             DELETE FROM articles WHERE id > 700;",
        )
        .unwrap();
    let again = sqlite.run_ok(&["--json", "db", "copy", "--to", &db.url]);
    let report: serde_json::Value = serde_json::from_str(&again).unwrap();
    let copied = |t: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["table"] == t)
            .unwrap()["copied"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(copied("feeds"), 0);
    assert_eq!(copied("articles"), articles - 700);
    assert_same_rows(&sqlite, &db);

    // New ids on PostgreSQL continue after the copied ones.
    let next: i64 = db
        .client()
        .query_one(
            "INSERT INTO feeds (url) VALUES ('https://example.net/new') RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(next, sqlite.count("SELECT max(id) FROM feeds") + 1);
}

#[test]
fn search_show_and_status_answer_alike_on_both_stores() {
    let Some(db) = pg::database("read") else {
        return;
    };
    let sqlite = Sandbox::new();
    ingest_corpus(&sqlite);
    sqlite.run_ok(&["db", "copy", "--to", &db.url]);
    let s = pg_sandbox(&db);
    let ids = |sb: &Sandbox, args: &[&str]| -> Vec<i64> {
        let mut full = vec!["--json", "search"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--limit", "100000"]);
        let hits: serde_json::Value = serde_json::from_str(&sb.run_ok(&full)).unwrap();
        let mut ids: Vec<i64> = hits
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    for args in [
        &["sanctions"][..],
        &["nuclear weapons"],
        &["\"security council\""],
        &["iran OR iraq", "--all"],
        &["korea NOT south"],
        &["election", "--country", "US"],
        &["minister", "--topic", "diplomacy", "--foreign-policy"],
    ] {
        let want = ids(&sqlite, args);
        assert!(!want.is_empty(), "{args:?}: no hits on SQLite");
        // Collapsed searches may pick another article of a story (ranking differs): compare
        // stories there, articles with --all.
        assert_eq!(want.len(), ids(&s, args).len(), "{args:?}");
    }
    let exact = ["iran OR iraq", "--all"];
    assert_eq!(ids(&sqlite, &exact), ids(&s, &exact));

    // `show` is the same document on both.
    for id in ["1", "42", "1500"] {
        assert_eq!(
            sqlite.run_ok(&["--json", "show", id]),
            s.run_ok(&["--json", "show", id])
        );
    }
    let status = |sb: &Sandbox| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&sb.run_ok(&["--json", "status"])).unwrap();
        // The size and version are each store's own; `daemons` (live pollers) is PostgreSQL's.
        for k in ["database_bytes", "schema_version", "daemons"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(status(&sqlite), status(&s));

    // The FTS5 prefix form has no PostgreSQL equivalent: refused as bad usage, saying so.
    let out = s.run(&["search", "sanc*"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("prefix search"));
}

#[test]
fn bad_urls_are_config_errors_and_a_missing_server_is_named() {
    let bad = Sandbox::with_config("").with_url("mysql://u:secret@h/db");
    let out = bad.run(&["status"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("store.url") && stderr.contains("postgres://"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");

    // A server that is not there: a runtime error naming the URL, not its password.
    let gone = Sandbox::with_config("").with_url("postgres://u:secret@%2Fnonexistent%2Fsocket/db");
    let out = gone.run(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "cannot connect to PostgreSQL at postgres://u:***@%2Fnonexistent%2Fsocket/db"
        ),
        "{stderr}"
    );
}

trait SetUrl {
    fn with_url(self, url: &str) -> Self;
}

impl SetUrl for Sandbox {
    fn with_url(self, url: &str) -> Self {
        let text = std::fs::read_to_string(self.config()).unwrap();
        std::fs::write(
            self.config(),
            text.replacen("[store]\n", &format!("[store]\nurl = \"{url}\"\n"), 1),
        )
        .unwrap();
        self
    }
}

/// One body, two stores: the corpus ingested through the binary into SQLite and into
/// PostgreSQL gives the same articles, sightings, tags and evidence, near-duplicate verdicts
/// and the same outcome line; only the times of the two runs differ.
#[test]
fn ingest_stores_the_same_rows_on_both_stores() {
    let Some(db) = pg::database("ingest") else {
        return;
    };
    let sqlite = Sandbox::new();
    let s = pg_sandbox(&db);
    let articles = corpus().join("articles/articles.jsonl");
    let items = corpus().join("articles/feed-items.jsonl");
    let args = [
        "ingest",
        articles.to_str().unwrap(),
        items.to_str().unwrap(),
    ];
    let one = sqlite.run_ok(&args);
    assert_eq!(one, s.run_ok(&args));
    assert!(one.contains("27 near duplicates"), "{one}");
    // Again: everything already stored, on both.
    let again = ["ingest", articles.to_str().unwrap()];
    assert_eq!(sqlite.run_ok(&again), s.run_ok(&again));
    assert_same_rows_but(
        &sqlite,
        &db,
        &[
            ("*", "first_seen_at"),
            ("*", "last_seen_at"),
            ("*", "seen_at"),
            ("*", "tagged_at"),
            ("*", "created_at"),
            ("*", "replaced_at"),
            ("*", "revised_at"),
            ("feeds", "updated_at"),
            // The fingerprint records when the article was seen; the evidence how far apart
            // in time two copies arrived.
            ("article_fingerprints", "fingerprint"),
            ("articles", "duplicate_evidence"),
        ],
    );
}

/// Runs `args` on both stores and asserts the same exit code, stdout and stderr; returns stdout.
fn same_on_both(sqlite: &Sandbox, pg: &Sandbox, args: &[&str]) -> String {
    let (a, b) = (sqlite.run(args), pg.run(args));
    let text = |o: &[u8]| String::from_utf8_lossy(o).into_owned();
    assert_eq!(a.status.code(), b.status.code(), "{args:?}: {a:?} / {b:?}");
    assert_eq!(text(&a.stdout), text(&b.stdout), "{args:?}");
    // The command's own messages; log lines (migrations applied, PostgreSQL's warning that
    // the SQLite keys are ignored) start with their time and are each store's own.
    let warnings = |o: &[u8]| -> Vec<String> {
        text(o)
            .lines()
            .filter(|l| !l.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(warnings(&a.stderr), warnings(&b.stderr), "{args:?}");
    text(&a.stdout)
}

/// One body, two stores: subscribing, importing an OPML, disabling, enabling, removing,
/// listing and exporting give the same output on SQLite and PostgreSQL.
#[test]
fn feed_commands_answer_alike_on_both_stores() {
    let Some(db) = pg::database("feeds") else {
        return;
    };
    let sqlite = Sandbox::new();
    let s = pg_sandbox(&db);
    let opml = sqlite.path("subs.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="News"><outline type="rss" text="Alpha" xmlUrl="https://alpha.example.org/rss" htmlUrl="https://alpha.example.org/"/>
  <outline type="rss" text="Beta &amp; Co" xmlUrl="https://beta.example.org/feed.xml"/></outline>
  <outline type="rss" text="Again" xmlUrl="https://example.org/first.xml"/>
  <outline type="rss" text="Broken" xmlUrl="not a url"/>
</body></opml>"#,
    )
    .unwrap();
    let opml = opml.to_str().unwrap();
    let out = same_on_both(
        &sqlite,
        &s,
        &[
            "feed",
            "add",
            "https://example.org/first.xml",
            "--title",
            "First",
        ],
    );
    assert_eq!(out, "added feed 1: https://example.org/first.xml\n");
    let out = same_on_both(
        &sqlite,
        &s,
        &["feed", "add", "https://example.org/first.xml"],
    );
    assert!(out.contains("already subscribed"), "{out}");
    same_on_both(
        &sqlite,
        &s,
        &[
            "--json",
            "feed",
            "add",
            "https://example.org/second.xml",
            "--interval",
            "15m",
        ],
    );
    let out = same_on_both(&sqlite, &s, &["feed", "import", opml]);
    assert_eq!(out, "2 feeds added, 1 already subscribed, 1 skipped\n");
    same_on_both(&sqlite, &s, &["--json", "feed", "import", opml]);
    same_on_both(&sqlite, &s, &["feed", "disable", "2"]);
    same_on_both(
        &sqlite,
        &s,
        &["feed", "disable", "https://beta.example.org/feed.xml"],
    );
    same_on_both(
        &sqlite,
        &s,
        &["feed", "enable", "https://beta.example.org/feed.xml"],
    );
    same_on_both(&sqlite, &s, &["feed", "remove", "3"]);
    // Unknown feeds: the same usage error.
    same_on_both(&sqlite, &s, &["feed", "remove", "3"]);
    same_on_both(
        &sqlite,
        &s,
        &["feed", "enable", "https://nowhere.example.org/"],
    );
    let list = same_on_both(&sqlite, &s, &["feed", "list"]);
    assert!(list.contains("disabled: disabled by user"), "{list}");
    assert!(!list.contains("alpha.example.org"), "{list}");
    let json = same_on_both(&sqlite, &s, &["--json", "feed", "list"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3, "{json}");
    let xml = same_on_both(&sqlite, &s, &["feed", "export"]);
    assert!(xml.contains("https://beta.example.org/feed.xml"), "{xml}");
    assert_eq!(
        db.count("SELECT count(*) FROM feeds WHERE origin = 'opml'"),
        1
    );
}

/// `s` with `line` added to its config's `[store]` table.
fn store_key(s: Sandbox, line: &str) -> Sandbox {
    let text = std::fs::read_to_string(s.config()).unwrap();
    std::fs::write(
        s.config(),
        text.replacen("[store]\n", &format!("[store]\n{line}\n"), 1),
    )
    .unwrap();
    s
}

/// One body, two stores: after the same ingest, `tags --counts` and `db prune` (retention)
/// give the same output and leave the same articles; `db vacuum` runs on PostgreSQL.
#[test]
fn tag_counts_prune_and_vacuum_answer_alike_on_both_stores() {
    let Some(db) = pg::database("maint") else {
        return;
    };
    let sqlite = store_key(Sandbox::new(), "retention_days = 365");
    let s = store_key(pg_sandbox(&db), "retention_days = 365");
    let items = corpus().join("articles/feed-items.jsonl");
    let articles = corpus().join("articles/articles.jsonl");
    let ingest = [
        "ingest",
        articles.to_str().unwrap(),
        items.to_str().unwrap(),
    ];
    same_on_both(&sqlite, &s, &ingest);
    let counts = same_on_both(&sqlite, &s, &["tags", "--counts"]);
    assert!(counts.starts_with("KIND"), "{counts}");
    same_on_both(&sqlite, &s, &["--json", "tags", "--counts"]);
    let stored = sqlite.count("SELECT count(*) FROM articles");
    assert_eq!(stored, db.count("SELECT count(*) FROM articles"));

    let pruned = same_on_both(&sqlite, &s, &["--json", "db", "prune"]);
    let p: serde_json::Value = serde_json::from_str(&pruned).unwrap();
    let n = p["articles"].as_i64().unwrap();
    assert!(n > 0 && n < stored, "{pruned}");
    let left = sqlite.count("SELECT count(*) FROM articles");
    assert_eq!(left, stored - n);
    assert_eq!(left, db.count("SELECT count(*) FROM articles"));
    // What hung on the pruned articles went with them on both.
    for table in ["sightings", "article_tags", "article_fingerprints"] {
        let q = format!("SELECT count(*) FROM {table}");
        assert_eq!(sqlite.count(&q), db.count(&q), "{table}");
    }
    same_on_both(&sqlite, &s, &["tags", "--counts"]);
    // Nothing older is left: a second prune removes nothing, on both.
    let again = same_on_both(&sqlite, &s, &["db", "prune"]);
    assert_eq!(again, "pruned 0 articles and 0 poll records\n");

    let out = s.run_ok(&["db", "vacuum"]);
    assert!(
        out.ends_with(": vacuumed\n") && out.contains("postgres://"),
        "{out}"
    );
    let vacuumed = db.count(
        "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'articles' AND last_vacuum IS NOT NULL",
    );
    assert_eq!(vacuumed, 1);
}

/// One body, two stores: after the same ingest, `retag`, `dedupe --explain` and `dedupe
/// --rebuild` (under a changed threshold, then back) give the same output and leave the same
/// tags and groups.
#[test]
fn retag_and_dedupe_answer_alike_on_both_stores() {
    let Some(db) = pg::database("regroup") else {
        return;
    };
    let sqlite = Sandbox::new();
    let s = pg_sandbox(&db);
    let items = corpus().join("articles/feed-items.jsonl");
    let articles = corpus().join("articles/articles.jsonl");
    let ingest = [
        "ingest",
        articles.to_str().unwrap(),
        items.to_str().unwrap(),
    ];
    same_on_both(&sqlite, &s, &ingest);
    let groups = |q: &str| -> (Vec<String>, Vec<String>) {
        let a: Vec<String> = sqlite
            .sql()
            .prepare(q)
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let b: Vec<String> = db
            .client()
            .query(q, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (a, b)
    };
    let grouping = "SELECT id || ':' || coalesce(duplicate_of, 0) || ':' || coalesce(duplicate_detector, '') FROM articles ORDER BY id";
    let tagging = "SELECT article_id || ':' || tag_id || ':' || CAST(round(score * 1000) AS integer) FROM article_tags ORDER BY article_id, tag_id";

    // Retag: the same counts and progress, the same tags after.
    let out = same_on_both(&sqlite, &s, &["retag"]);
    assert!(out.contains("articles retagged"), "{out}");
    same_on_both(&sqlite, &s, &["--json", "retag", "--since", "2000-01-01"]);
    let (a, b) = groups(tagging);
    assert!(!a.is_empty());
    assert_eq!(a, b);

    // Explain: a grouped pair and an unrelated pair, text and JSON.
    let (dup, of): (i64, i64) = sqlite
        .sql()
        .query_row(
            "SELECT id, duplicate_of FROM articles WHERE duplicate_of IS NOT NULL ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (dup, of) = (dup.to_string(), of.to_string());
    let out = same_on_both(&sqlite, &s, &["dedupe", "--explain", &of, &dup]);
    assert!(out.contains("stored: grouped"), "{out}");
    same_on_both(&sqlite, &s, &["--json", "dedupe", "--explain", &dup, &of]);
    same_on_both(&sqlite, &s, &["dedupe", "--explain", "1", "2"]);
    let out = same_on_both(&sqlite, &s, &["dedupe", "--explain", "1", "999999"]);
    assert!(out.is_empty());

    // Rebuild under a stricter threshold regroups some articles, alike; back under the
    // shipped one, the groups are the ingest's again.
    let (before, _) = groups(grouping);
    let strict = |sb: &Sandbox| {
        let text = std::fs::read_to_string(sb.config()).unwrap();
        std::fs::write(
            sb.config(),
            format!("{text}\n[dedupe]\nshort_min_score = 0.9\nsimhash_max_distance = 0\n"),
        )
        .unwrap();
        text
    };
    let (sqlite_text, pg_text) = (strict(&sqlite), strict(&s));
    let out = same_on_both(&sqlite, &s, &["--json", "dedupe", "--rebuild"]);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(r["regrouped"].as_i64().unwrap() > 0, "{out}");
    let (a, b) = groups(grouping);
    assert_eq!(a, b);
    assert_ne!(a, before);
    std::fs::write(sqlite.config(), sqlite_text).unwrap();
    std::fs::write(s.config(), pg_text).unwrap();
    let out = same_on_both(&sqlite, &s, &["dedupe", "--rebuild"]);
    assert!(out.contains("articles regrouped"), "{out}");
    same_on_both(&sqlite, &s, &["dedupe", "--rebuild", "--since", "1d"]);
    let (a, b) = groups(grouping);
    assert_eq!(a, b);
    assert_eq!(a, before);
}
