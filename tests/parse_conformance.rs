//! Feed conformance (issue 18), one group of fixtures per class of failure. Every fixture under
//! `tests/fixtures/feeds/` (written for these tests from the RSS, Atom, Dublin Core, iTunes and
//! Media RSS specs) is served from 127.0.0.1 and polled by the real binary with
//! `poll --once --all`; the store is then read back with SQL, items in the order they were
//! sighted, which must be document order.

mod common;
use common::feed_server::FeedServer;
use common::Sandbox;
use std::collections::BTreeSet;
use std::path::Path;

/// A stored item field to check: (item in document order, column, expected). An expected value
/// starting with `~` only has to be contained in the column.
type Field = (usize, &'static str, &'static str);

struct Case {
    class: u8,
    /// Served path; a fixture file name, or a generated variant of one (see `variants`).
    path: &'static str,
    items: usize,
    /// The poll is recorded as degraded (stored, with the parse problem).
    degraded: bool,
    fields: &'static [Field],
}

const CASES: &[Case] = &[
    Case {
        class: 1,
        path: "atom03.xml",
        items: 3,
        degraded: false,
        fields: &[
            (0, "title", "Escaped entry"),
            (0, "url", "http://desk.example.test/2004/01/escaped"),
            (0, "published_at", "2004-01-09T13:30:00Z"),
            (0, "updated_at", "2004-01-10T10:00:00Z"),
            (0, "author", "Ada Writer"),
            (0, "body_text", "An escaped body."),
            (1, "published_at", "2004-01-08T07:00:00Z"),
            (1, "body_text", "A body sent in base64."),
            (2, "body_text", "An inline body."),
            (2, "guid", "tag:desk.example.test,2004:xml"),
        ],
    },
    Case {
        class: 2,
        path: "atom-types.xml",
        items: 3,
        degraded: false,
        fields: &[
            (0, "body_text", "Body in XHTML."),
            (1, "body_text", "Decoded from base64."),
            (2, "title", "Empty type"),
            (2, "body_text", "A summary with an empty type."),
        ],
    },
    Case {
        class: 3,
        path: "atom-text-title.xml",
        items: 3,
        degraded: false,
        fields: &[
            (0, "title", "History of the <blink> tag"),
            (0, "body_text", "Tags & <angle brackets> stay as written."),
            (1, "title", "Markup in an HTML title"),
            (2, "title", "An XHTML title"),
        ],
    },
    Case {
        class: 4,
        path: "rss10-nolink.rdf",
        items: 2,
        degraded: false,
        fields: &[
            (0, "url", "http://rdf.example.test/stories/1"),
            (0, "guid", "http://rdf.example.test/stories/1"),
            (1, "title", "About is not a web address"),
            (1, "guid", "urn:rdf-example:2"),
        ],
    },
    Case {
        class: 4,
        path: "rss090.rdf",
        items: 2,
        degraded: false,
        fields: &[
            (0, "url", "http://old.example.test/1"),
            (1, "title", "Second 0.90 item"),
        ],
    },
    Case {
        class: 5,
        path: "rss-0.91.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "body_text", "The body of the 0.91 item.")],
    },
    Case {
        class: 5,
        path: "rss-0.92.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "body_text", "The body of the 0.92 item.")],
    },
    Case {
        class: 5,
        path: "rss-0.93.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "title", "An item in RSS 0.93")],
    },
    Case {
        class: 5,
        path: "rss-0.94.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "title", "An item in RSS 0.94")],
    },
    Case {
        class: 5,
        path: "rss-2.01.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "title", "An item in RSS 2.01")],
    },
    Case {
        class: 5,
        path: "rss-2.1.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "url", "http://versions.example.test/2.1/1")],
    },
    Case {
        class: 5,
        path: "rss-no-channel.xml",
        items: 2,
        degraded: false,
        fields: &[
            (0, "title", "Item without a channel"),
            (1, "url", "http://nochannel.example.test/2"),
        ],
    },
    Case {
        class: 5,
        path: "rss-empty.xml",
        items: 0,
        degraded: false,
        fields: &[],
    },
    Case {
        class: 6,
        path: "fields.xml",
        items: 6,
        degraded: false,
        fields: &[
            (0, "title", "Title from Dublin Core"),
            (0, "url", "http://fields.example.test/permalink/1"),
            (0, "published_at", "2024-05-01T09:00:00Z"),
            (0, "updated_at", "2024-05-02T09:00:00Z"),
            (0, "author", "Casey Creator"),
            (0, "body_text", "Description from Dublin Core."),
            (1, "title", "Title from Media RSS"),
            (1, "guid", "fields-2"),
            (1, "published_at", "2024-05-03T09:00:00Z"),
            (1, "author", "Dana Author"),
            (1, "body_text", "Summary from iTunes."),
            (2, "published_at", "2024-05-04T00:00:00Z"),
            (2, "author", "Ira Voice"),
            (2, "body_text", "Description from a media group."),
            (3, "body_text", "Text in a nonstandard body element."),
            (4, "body_text", "Text in an XHTML body."),
            (5, "body_text", "Text in a fullitem element."),
        ],
    },
    Case {
        class: 7,
        path: "partial-items.xml",
        items: 4,
        degraded: false,
        fields: &[
            (
                0,
                "title",
                "Parliament approved the treaty on Tuesday after a long debate.",
            ),
            (0, "guid", "~content:"),
            (1, "url", "http://partial.example.test/only-a-link"),
            (2, "title", "Only a title"),
            (3, "body_text", "~A second item with only a description"),
        ],
    },
    Case {
        class: 7,
        path: "rss-no-text.xml",
        items: 0,
        degraded: false,
        fields: &[],
    },
    Case {
        class: 8,
        path: "illformed-entities.xml",
        items: 2,
        degraded: true,
        fields: &[
            (0, "title", "Café talks & more"),
            (0, "url", "http://illformed.example.test/1?a=1&b=2"),
            (0, "body_text", "Prices rose 5% — officials said."),
        ],
    },
    Case {
        class: 8,
        path: "illformed-truncated.xml",
        items: 2,
        degraded: true,
        fields: &[(1, "title", "Another complete item")],
    },
    Case {
        class: 8,
        path: "illformed-mismatched.xml",
        items: 2,
        degraded: true,
        fields: &[
            (0, "title", "Bold without end"),
            (1, "title", "After the damage"),
        ],
    },
    Case {
        class: 9,
        path: "wide.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "title", "Zürich talks: Ελλάδα and 日本")],
    },
    Case {
        class: 9,
        path: "wide.xml.utf16be-bom",
        items: 1,
        degraded: false,
        fields: &[(0, "title", "Zürich talks: Ελλάδα and 日本")],
    },
    Case {
        class: 9,
        path: "wide.xml.utf16le-nobom",
        items: 1,
        degraded: false,
        fields: &[(0, "title", "Zürich talks: Ελλάδα and 日本")],
    },
    Case {
        class: 9,
        path: "wide.xml.utf32be",
        items: 1,
        degraded: false,
        fields: &[(0, "title", "Zürich talks: Ελλάδα and 日本")],
    },
    Case {
        class: 9,
        path: "c1-latin1.xml",
        items: 1,
        degraded: false,
        fields: &[
            (0, "title", "It’s a “quoted” café"),
            (0, "body_text", "Dash – here"),
        ],
    },
    Case {
        class: 9,
        path: "double-escaped.xml",
        items: 1,
        degraded: false,
        fields: &[(0, "body_text", "Ministers met in Geneva.")],
    },
    Case {
        class: 10,
        path: "dtd-entities.xml",
        items: 1,
        degraded: true,
        fields: &[
            (0, "title", "Dispatch from the Foreign Desk"),
            (
                0,
                "body_text",
                "Signed: Foreign Desk — newsdesk. Nothing external: [&secret;]",
            ),
        ],
    },
    Case {
        class: 10,
        path: "dtd-billion-laughs.xml",
        items: 1,
        degraded: true,
        fields: &[(0, "title", "Bounded expansion")],
    },
];

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds")
}

/// The served bytes of a case: the fixture, or `wide.xml` re-encoded (the files stay readable
/// UTF-8 in the repository).
fn body(path: &str) -> Vec<u8> {
    let (file, variant) = path
        .split_once(".xml.")
        .map(|(f, v)| (format!("{f}.xml"), Some(v)))
        .unwrap_or((path.to_string(), None));
    let bytes = std::fs::read(fixtures().join(&file)).unwrap();
    let Some(variant) = variant else {
        return bytes;
    };
    let text = String::from_utf8(bytes).unwrap();
    match variant {
        "utf16be-bom" => [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect(),
        "utf16le-nobom" => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        "utf32be" => text
            .replace("utf-16", "utf-32")
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect(),
        other => panic!("unknown variant {other}"),
    }
}

#[test]
fn every_class_of_feed_is_stored_through_poll() {
    // Every fixture file has a case: a new fixture cannot go untested.
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let covered: BTreeSet<String> = CASES
        .iter()
        .map(|c| c.path.split(".xml.").next().unwrap().to_string())
        .map(|p| {
            if p.ends_with(".xml") || p.ends_with(".rdf") {
                p
            } else {
                format!("{p}.xml")
            }
        })
        .collect();
    assert_eq!(
        on_disk, covered,
        "fixtures without a case, or cases without a fixture"
    );
    assert_eq!(
        CASES.iter().map(|c| c.class).collect::<BTreeSet<_>>(),
        (1..=10).collect(),
        "each of the ten classes has a case"
    );

    let server = FeedServer::start();
    let mut cfg = String::from(
        "[fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\nper_host_concurrency = 8\n\n",
    );
    for case in CASES {
        let path = format!("/f/{}", case.path);
        server.doc(&path, body(case.path), "application/xml");
        cfg.push_str(&format!("[[feeds]]\nurl = \"{}\"\n\n", server.url(&path)));
    }
    let sb = Sandbox::with_config(&cfg);
    let out = sb.run(&["poll", "--once", "--all"]);
    assert!(
        out.status.success(),
        "poll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let conn = sb.sql();
    let mut failures = Vec::new();
    for case in CASES {
        let url = server.url(&format!("/f/{}", case.path));
        let (outcome, kind, error): (String, Option<String>, Option<String>) = conn
            .query_row(
                "SELECT x.outcome, x.error_kind, x.error FROM fetches x JOIN feeds f ON f.id = x.feed_id
                  WHERE f.url = ?1",
                [&url],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let label = format!("class {} {}", case.class, case.path);
        // A poll that stores nothing says why.
        let empty_noted = case.items > 0 || matches!(kind.as_deref(), Some("empty" | "no_text"));
        if outcome != "ok" || (kind.as_deref() == Some("degraded")) != case.degraded || !empty_noted
        {
            failures.push(format!("{label}: outcome {outcome}, {kind:?}: {error:?}"));
        }
        let items = stored_items(&conn, &url);
        if items.len() != case.items {
            failures.push(format!(
                "{label}: {} items stored, want {}",
                items.len(),
                case.items
            ));
            continue;
        }
        for (i, column, want) in case.fields {
            let got = items[*i]
                .get(*column)
                .cloned()
                .flatten()
                .unwrap_or_default();
            let ok = match want.strip_prefix('~') {
                Some(part) => got.contains(part),
                None => got == *want,
            };
            if !ok {
                failures.push(format!(
                    "{label}: item {i} {column} = {got:?}, want {want:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The feed's items as stored, in sighting order, column name -> value.
fn stored_items(
    conn: &rusqlite::Connection,
    url: &str,
) -> Vec<std::collections::HashMap<&'static str, Option<String>>> {
    const COLUMNS: [&str; 8] = [
        "title",
        "url",
        "author",
        "published_at",
        "updated_at",
        "summary",
        "body_text",
        "guid",
    ];
    let mut stmt = conn
        .prepare(
            "SELECT a.title, a.url, a.author, a.published_at, a.updated_at, a.summary, a.body_text, s.guid
               FROM sightings s JOIN articles a ON a.id = s.article_id JOIN feeds f ON f.id = s.feed_id
              WHERE f.url = ?1 ORDER BY s.id",
        )
        .unwrap();
    stmt.query_map([url], |r| {
        let mut row = std::collections::HashMap::new();
        for (i, c) in COLUMNS.iter().enumerate() {
            row.insert(*c, r.get::<_, Option<String>>(i)?);
        }
        Ok(row)
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}
