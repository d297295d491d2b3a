//! Local-file ingest end to end through the real binary: seeds, corpus records, bad input,
//! search, and schema version checks.

mod common;
use common::{corpus, seeds, Sandbox};

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn seeds_are_stored_once_with_titles_and_full_bodies() {
    let sb = Sandbox::new();
    let files = seeds();
    let args: Vec<&str> = std::iter::once("ingest")
        .chain(files.iter().map(|p| path_str(p)))
        .collect();
    sb.run_ok(&args);

    let conn = sb.sql();
    let rows: Vec<(String, bool, String)> = conn
        .prepare("SELECT title, title_derived, body_text FROM articles ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].0,
        "US ready to partner with Pakistan to defeat terrorists seeking safe havens: Tillerson"
    );
    assert!(!rows[0].1);
    assert!(
        rows[1].1,
        "the second seed has no headline: its title is derived"
    );
    assert!(
        rows[1]
            .0
            .starts_with("The heads of US State and Defense Departments"),
        "{}",
        rows[1].0
    );

    // Full bodies: every paragraph of each file is in the stored text, in order.
    for (file, (_, _, body)) in files.iter().zip(&rows) {
        let original = std::fs::read_to_string(file).unwrap();
        let last_para = original.trim_end().rsplit("\n").next().unwrap().trim();
        assert!(
            body.ends_with(last_para),
            "body of {} is cut short",
            file.display()
        );
        assert!(
            body.len() * 10 >= original.len() * 9,
            "body of {} lost text",
            file.display()
        );
    }
    assert!(
        rows[0].2.starts_with("WASHINGTON:"),
        "headline is not repeated in the body"
    );

    // Ingesting again adds no article, only refreshes the sightings.
    sb.run_ok(&args);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 2);
    assert_eq!(sb.count("SELECT count(*) FROM sightings"), 2);

    // FTS finds the Pakistan seed.
    let out = sb.run_ok(&["--json", "search", "safe havens"]);
    let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hits[0]["title"], rows[0].0.as_str(), "{out}");
    // Awkward user input is searched literally rather than failing on FTS syntax.
    sb.run_ok(&["search", "U.S. \"safe"]);
}

#[test]
fn all_corpus_records_ingest_in_one_call() {
    let sb = Sandbox::new();
    let file = corpus().join("articles/articles.jsonl");
    let out = sb.run_ok(&["--json", "ingest", path_str(&file)]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["records"], 837, "{out}");
    assert_eq!(summary["failed"], 0, "{out}");
    let new = summary["new"].as_i64().unwrap();
    let repeats = summary["repeats"].as_i64().unwrap();
    assert_eq!(new + repeats, 837);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), new);
    // Every record is a sighting, repeats (the data sets' own exact duplicates) included.
    assert_eq!(sb.count("SELECT count(*) FROM sightings"), 837);
    // One pseudo-feed per data set named in the records.
    assert_eq!(
        sb.count("SELECT count(*) FROM feeds WHERE kind = 'local'"),
        4
    );
    assert_eq!(sb.count("SELECT count(*) FROM articles_fts"), new);
}

#[test]
fn bad_input_is_reported_and_the_rest_ingested() {
    let sb = Sandbox::new();
    let good = sb.path("good.txt");
    std::fs::write(
        &good,
        "Envoys meet in Geneva\n\nDiplomats met on Monday to discuss the border dispute.\n",
    )
    .unwrap();
    let empty = sb.path("empty.txt");
    std::fs::write(&empty, "  \n").unwrap();
    let binary = sb.path("image.bin");
    std::fs::write(&binary, [0x89, b'P', b'N', b'G', 0, 0, 1, 2]).unwrap();
    let latin1 = sb.path("latin1.txt");
    std::fs::write(&latin1, b"Caf\xe9 talks\n\nMinisters met.\n").unwrap();
    let jsonl = sb.path("records.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": \"r1\", \"title\": \"Talks resume\", \"text\": \"Negotiators resumed talks on Tuesday.\"}\n\
         {\"id\": \"r2\", \"title\": broken\n\
         {\"id\": \"r3\", \"title\": \"\", \"text\": \"\"}\n\
         {\"id\": \"r4\", \"text\": \"A record with no title gets one from its first sentence. Then more.\"}\n",
    )
    .unwrap();
    let missing = sb.path("missing.txt");

    let out = sb.run(&[
        "ingest",
        path_str(&good),
        path_str(&empty),
        path_str(&binary),
        path_str(&latin1),
        path_str(&jsonl),
        path_str(&missing),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "any failure means exit 1; stderr: {stderr}"
    );
    assert!(stderr.contains("empty.txt: empty file"), "{stderr}");
    assert!(stderr.contains("image.bin: binary data"), "{stderr}");
    assert!(stderr.contains("latin1.txt: not valid UTF-8"), "{stderr}");
    assert!(
        stderr.contains("records.jsonl, line 2: not a JSON article record"),
        "{stderr}"
    );
    assert!(
        stderr.contains("records.jsonl, line 3: no text"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.txt: cannot read"), "{stderr}");
    // The good file and the two good records are stored.
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 3);
    assert_eq!(
        sb.count("SELECT count(*) FROM articles WHERE title_derived = 1"),
        1
    );
}

#[test]
fn stdin_and_html_and_json_objects_are_accepted() {
    let sb = Sandbox::new();
    let html = sb.path("page.html");
    std::fs::write(
        &html,
        "<!DOCTYPE html><html><head><title>Summit ends</title><script>track()</script></head><body>\
         <article><h1>Summit ends</h1><p>Leaders of both states signed a communique on trade and security.</p>\
         <p>The next summit is planned for the spring, officials said after the talks.</p></article></body></html>",
    )
    .unwrap();
    let json = sb.path("one.json");
    std::fs::write(&json, r#"{"title": "Ceasefire holds", "text": "The ceasefire held for a third day.", "url": "https://news.example/a?utm_source=x"}"#).unwrap();
    sb.run_ok(&["ingest", path_str(&html), path_str(&json)]);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .args(["--config", path_str(&sb.config()), "ingest", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"From stdin\n\nA piped article about a treaty.\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    let conn = sb.sql();
    let titles: Vec<String> = conn
        .prepare("SELECT title FROM articles ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(titles, ["Summit ends", "Ceasefire holds", "From stdin"]);
    let body: String = conn
        .query_row("SELECT body_text FROM articles WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        body.contains("signed a communique") && !body.contains("track()"),
        "{body}"
    );
    let canon: String = conn
        .query_row("SELECT canonical_url FROM articles WHERE id = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(canon, "https://news.example/a");
}

#[test]
fn db_migrate_says_how_many_migrations_it_applied() {
    let sb = Sandbox::new();
    // A new file gets every migration, a migrated one none.
    let first = sb.run_ok(&["db", "migrate"]);
    let version: i64 = sb
        .sql()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(version >= 7, "{first}");
    assert!(
        first.contains(&format!("schema version {version} ({version} applied now)")),
        "{first}"
    );
    let again = sb.run_ok(&["db", "migrate"]);
    assert!(
        again.contains(&format!("schema version {version} (0 applied now)")),
        "{again}"
    );
}

#[test]
fn a_database_from_a_newer_newsdesk_is_refused() {
    let sb = Sandbox::new();
    sb.run_ok(&["db", "migrate"]);
    sb.sql().execute_batch("PRAGMA user_version = 999").unwrap();
    for args in [
        &["status"][..],
        &["ingest", "-"][..],
        &["db", "migrate"][..],
    ] {
        let out = sb.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("schema version 999, newer than this newsdesk understands"),
            "{stderr}"
        );
    }
}

#[test]
fn config_errors_exit_2_with_file_and_line() {
    let sb = Sandbox::with_config("[fetch_typo]\nx = 1\n");
    let out = sb.run(&["check-config"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("newsdesk.toml")
            && stderr.contains("line")
            && stderr.contains("fetch_typo"),
        "{stderr}"
    );
    let out = sb.run(&["search", "x", "--since", "yesterdayish"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unwritable_database_path_is_a_clear_error() {
    let sb = Sandbox::new();
    let blocker = sb.path("not-a-dir");
    std::fs::write(&blocker, "file").unwrap();
    let cfg = sb.path("bad.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\npath = \"{}/sub/newsdesk.db\"\n",
            blocker.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .args(["--config", path_str(&cfg), "db", "migrate"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot create the database folder"),
        "{stderr}"
    );
}

#[test]
fn db_prune_applies_retention_by_publication_date() {
    let sb = Sandbox::with_config("");
    let cfg = std::fs::read_to_string(sb.config()).unwrap();
    std::fs::write(
        sb.config(),
        cfg.replacen("[store]\n", "[store]\nretention_days = 30\n", 1),
    )
    .unwrap();
    let file = sb.path("two.jsonl");
    std::fs::write(
        &file,
        "{\"id\": \"old\", \"title\": \"Old treaty\", \"text\": \"Signed long ago.\", \"published\": \"2001-05-01\"}\n\
         {\"id\": \"new\", \"title\": \"New treaty\", \"text\": \"Signed today.\"}\n",
    )
    .unwrap();
    sb.run_ok(&["ingest", path_str(&file)]);
    let out: serde_json::Value =
        serde_json::from_str(&sb.run_ok(&["--json", "db", "prune"])).unwrap();
    assert_eq!(out["articles"], 1, "{out}");
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 1);
    assert_eq!(sb.count("SELECT count(*) FROM sightings"), 1);
    let out = sb.run_ok(&["search", "treaty"]);
    assert!(
        out.contains("New treaty") && !out.contains("Old treaty"),
        "{out}"
    );
    sb.run_ok(&["db", "vacuum"]);
}

/// `[store] fts` decides what search can find, and a change rebuilds the index at the next
/// start of a writer.
#[test]
fn fts_mode_title_off_and_back_to_full() {
    let sb = Sandbox::new();
    let set_mode = |mode: &str| {
        let c = std::fs::read_to_string(sb.config()).unwrap();
        let c = match c.find("\nfts = ") {
            Some(i) => format!(
                "{}\nfts = \"{mode}\"{}",
                &c[..i],
                &c[i + c[i + 1..].find('\n').unwrap() + 1..]
            ),
            None => c.replacen("[store]\n", &format!("[store]\nfts = \"{mode}\"\n"), 1),
        };
        std::fs::write(sb.config(), c).unwrap();
    };
    let files = seeds();
    let mut ingest = vec!["ingest"];
    ingest.extend(files.iter().map(|p| p.to_str().unwrap()));
    let hits = |q: &str| -> usize {
        let out = sb.run_ok(&["--json", "search", q, "--all"]);
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len()
    };

    set_mode("title");
    sb.run_ok(&ingest);
    // "Tillerson" is in both headlines; "Islamabad" only in a body.
    assert_eq!((hits("Tillerson"), hits("Islamabad")), (2, 0));

    set_mode("off");
    sb.run_ok(&["db", "migrate"]);
    let out = sb.run(&["search", "Tillerson"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("full-text index is off"),
        "{stderr}"
    );
    assert_eq!(
        sb.count("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'Tillerson'"),
        0
    );

    set_mode("full");
    sb.run_ok(&["db", "migrate"]);
    assert_eq!((hits("Tillerson"), hits("Islamabad")), (2, 1));
    assert_eq!(
        sb.count("SELECT count(*) FROM settings WHERE key = 'fts' AND value = 'full'"),
        1
    );
}

/// A store from before migration 8 (`article_tags` WITHOUT ROWID) upgraded by the binary, as a
/// user's existing store is at the first start of a new release: every tag row, the
/// `foreign_policy_articles` view and `show` read the same afterwards, and new articles are
/// tagged into the new table.
#[test]
fn a_version_7_store_keeps_its_tags_through_migration_8() {
    let sb = Sandbox::new();
    let files = seeds();
    sb.run_ok(&["ingest", path_str(&files[0])]);
    type TagRow = (i64, i64, f64, String);
    let tags = |sb: &Sandbox| -> Vec<TagRow> {
        let conn = sb.sql();
        let mut st = conn
            .prepare("SELECT article_id, tag_id, score, evidence FROM article_tags ORDER BY 1, 2")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows
    };
    let view = |sb: &Sandbox| -> Vec<(i64, Option<String>, Option<String>)> {
        let conn = sb.sql();
        let mut st = conn
            .prepare("SELECT id, topics, countries FROM foreign_policy_articles ORDER BY id")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows
    };
    let table_sql = |sb: &Sandbox| -> String {
        sb.sql()
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'article_tags'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let (tags_before, view_before) = (tags(&sb), view(&sb));
    assert!(!tags_before.is_empty() && !view_before.is_empty());
    let shown = sb.run_ok(&["show", "1"]);

    // Put the table back the way versions 1 to 7 made it; the view is left to the migration
    // (legacy renaming keeps it as written).
    sb.sql()
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             PRAGMA legacy_alter_table = ON;
             BEGIN;
             CREATE TABLE article_tags_old (
                 article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
                 tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
                 score REAL NOT NULL,
                 evidence TEXT NOT NULL DEFAULT '{}',
                 PRIMARY KEY (article_id, tag_id)
             ) WITHOUT ROWID;
             INSERT INTO article_tags_old SELECT article_id, tag_id, score, evidence FROM article_tags;
             DROP TABLE article_tags;
             ALTER TABLE article_tags_old RENAME TO article_tags;
             CREATE INDEX article_tags_tag ON article_tags(tag_id, article_id);
             DELETE FROM schema_migrations WHERE version = 8;
             PRAGMA user_version = 7;
             COMMIT;",
        )
        .unwrap();
    assert!(table_sql(&sb).contains("WITHOUT ROWID"));

    let out = sb.run_ok(&["db", "migrate"]);
    assert!(out.contains("(1 applied now)"), "{out}");
    assert!(
        !table_sql(&sb).contains("WITHOUT ROWID"),
        "{}",
        table_sql(&sb)
    );
    assert_eq!(tags(&sb), tags_before);
    assert_eq!(view(&sb), view_before);
    assert_eq!(sb.run_ok(&["show", "1"]), shown);

    // New articles are tagged into the new table, and a tag row is still unique per article.
    sb.run_ok(&["ingest", path_str(&files[1])]);
    assert!(tags(&sb).len() > tags_before.len());
    let dup = sb.sql().execute(
        "INSERT INTO article_tags (article_id, tag_id, score) SELECT article_id, tag_id, 0 FROM article_tags LIMIT 1",
        [],
    );
    assert!(
        dup.is_err(),
        "a second row for one (article, tag) was accepted"
    );
}
