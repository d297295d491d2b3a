//! `newsdesk ingest` of a saved feed file (issue 19, item 4): the file is recognised as a feed
//! and its items are stored, read by the same parser as a polled feed, in document order;
//! never one article holding the raw XML.

mod common;
use common::Sandbox;
use std::path::Path;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feeds")
        .join(name)
        .display()
        .to_string()
}

fn stored(sb: &Sandbox) -> Vec<(String, Option<String>, String)> {
    let conn = sb.sql();
    let mut stmt = conn
        .prepare(
            "SELECT a.title, a.url, s.guid FROM sightings s JOIN articles a ON a.id = s.article_id
              ORDER BY s.id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn ingest_of_rss_atom_and_json_feed_files_stores_their_items() {
    let sb = Sandbox::new();
    // Extensions that say nothing (.xml, .rdf, .json): the content decides.
    sb.run_ok(&["ingest", &fixture("fields.xml")]);
    sb.run_ok(&[
        "ingest",
        &fixture("atom03.xml"),
        &fixture("rss10-nolink.rdf"),
    ]);
    let json = sb.path("feed.json");
    std::fs::write(
        &json,
        r#"{"version":"https://jsonfeed.org/version/1.1","title":"JSON desk",
            "items":[{"id":"j1","url":"https://json.example.test/1","title":"First JSON item","content_text":"Body one."},
                     {"id":"j2","url":"https://json.example.test/2","title":"Second JSON item","content_text":"Body two."}]}"#,
    )
    .unwrap();
    sb.run_ok(&["ingest", json.to_str().unwrap()]);

    let rows = stored(&sb);
    let titles: Vec<&str> = rows.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Title from Dublin Core",
            "Title from Media RSS",
            "Media description and iTunes author",
            "Body element",
            "XHTML body element",
            "Fullitem element",
            "Escaped entry",
            "Base64 entry",
            "Inline XML entry",
            "Identified by rdf:about",
            "About is not a web address",
            "First JSON item",
            "Second JSON item",
        ]
    );
    assert!(rows.iter().all(|(t, _, _)| !t.contains("xml version")));
    // Items keep their own identities and links.
    assert_eq!(rows[1].2, "fields-2");
    assert_eq!(
        rows[9].1.as_deref(),
        Some("http://rdf.example.test/stories/1")
    );
    // Sighted under the feed's title as their source.
    let sources: i64 = sb.count("SELECT count(*) FROM feeds WHERE title IN ('Fields', 'Desk notes', 'RDF site', 'JSON desk')");
    assert_eq!(sources, 4);
}

#[test]
fn ingest_of_a_feed_with_nothing_readable_says_why() {
    let sb = Sandbox::new();
    let hollow = sb.path("hollow.xml");
    std::fs::write(
        &hollow,
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item></item></channel></rss>",
    )
    .unwrap();
    let out = sb.run(&["ingest", hollow.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hollow.xml: not a feed: 1 item in the document but none has a title"),
        "{stderr}"
    );
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 0);
}
