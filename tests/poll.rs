//! Polling end to end through the real binary against a feed server in the test process on
//! 127.0.0.1: the 40 corpus feeds, conditional GET, new items, and every kind of bad feed.

mod common;
use common::feed_server::FeedServer;
use common::sources::{distinct_items, feed_items, malformed_distinct_items, MALFORMED};
use common::{corpus, Sandbox};

fn feeds_config(server: &FeedServer, paths: &[String]) -> String {
    let mut cfg = String::from(
        "[fetch]\nallow_private_addresses = true\ntimeout = \"5s\"\nper_host_min_gap = \"0s\"\nper_host_concurrency = 8\n\n",
    );
    for p in paths {
        cfg.push_str(&format!("[[feeds]]\nurl = \"{}\"\n\n", server.url(p)));
    }
    cfg
}

fn rss(items: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Test wire</title>\
         <link>https://wire.example/</link>",
    );
    for (guid, title) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://wire.example/{guid}</link>\
             <description>Report number {guid}: {title}, with enough words to be a distinct article body.</description>\
             <pubDate>Wed, 18 Feb 2026 07:00:00 GMT</pubDate></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

#[test]
fn corpus_feeds_poll_end_to_end() {
    let server = FeedServer::start();
    let expected = feed_items();
    let names: Vec<String> = expected.keys().cloned().collect();
    for name in &names {
        let body = std::fs::read(corpus().join("feeds").join(name)).unwrap();
        let ctype = if name.ends_with(".json") {
            "application/feed+json"
        } else {
            "application/xml"
        };
        server.doc(&format!("/feeds/{name}"), body, ctype);
    }
    let paths: Vec<String> = names.iter().map(|n| format!("/feeds/{n}")).collect();
    let sb = Sandbox::with_config(&feeds_config(&server, &paths));

    // First pass: every feed is stored; the malformed one is read leniently (degraded).
    let out = sb.run(&["--json", "poll", "--once", "--all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["feeds"], 40);
    assert_eq!(report["failed"], 0, "no feed fails: {report}");

    let conn = sb.sql();
    let mut total: i64 = 0;
    for name in &names {
        let url = server.url(&format!("/feeds/{name}"));
        let (sightings, outcome, error): (i64, String, Option<String>) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM sightings s WHERE s.feed_id = f.id),
                        (SELECT outcome FROM fetches x WHERE x.feed_id = f.id), f.last_error
                   FROM feeds f WHERE f.url = ?1",
                [&url],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(outcome, "ok", "{name}: {error:?}");
        // Every item SOURCES.md counts is stored and sighted once; an item the feed lists
        // several times (al-monitor's) is one sighting. The malformed feed is read leniently:
        // its distinct items, found by a byte scan, not by the parser under test.
        let want = if name == MALFORMED {
            malformed_distinct_items() as i64
        } else {
            distinct_items(name, expected[name]) as i64
        };
        assert_eq!(
            sightings, want,
            "{name}: {sightings} sightings, SOURCES.md gives {} items, {want} distinct",
            expected[name]
        );
        total += sightings;
    }
    assert!(total >= 1150, "{total} items stored");

    // No mojibake from the legacy-charset feeds; relative links made absolute.
    let text_of = |feed: &str| -> String {
        let url = server.url(&format!("/feeds/{feed}"));
        conn.query_row(
            "SELECT group_concat(a.title || ' ' || a.body_text, ' ') FROM articles a JOIN sightings s ON s.article_id = a.id
               JOIN feeds f ON f.id = s.feed_id WHERE f.url = ?1",
            [url],
            |r| r.get(0),
        )
        .unwrap()
    };
    let ru = text_of("oren-ru-rss2-windows1251.xml");
    assert!(
        ru.chars().filter(|c| ('а'..='я').contains(c)).count() > 100,
        "Cyrillic text expected: {}",
        &ru[..200.min(ru.len())]
    );
    for feed in [
        "uol-noticias-rss-noversion-undeclared-latin1.xml",
        "jn-jornaldenoticias-rss2-iso8859-1-crlf.xml",
    ] {
        let pt = text_of(feed);
        assert!(
            pt.contains('ç') || pt.contains('ã') || pt.contains('é'),
            "{feed}: accented Portuguese expected"
        );
        assert!(
            !pt.contains('\u{fffd}') && !pt.contains("Ã"),
            "{feed}: mojibake"
        );
    }
    let relative: i64 = conn
        .query_row(
            "SELECT count(*) FROM articles WHERE url IS NOT NULL AND url NOT LIKE 'http%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(relative, 0);
    let articles_before: i64 = conn
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();

    // Second pass: all 304, nothing new.
    let out = sb.run(&["--json", "poll", "--once", "--all"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["new"], 0, "{report}");
    let not_modified: i64 = conn
        .query_row(
            "SELECT count(*) FROM fetches WHERE outcome = 'not_modified' AND status = 304",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // The malformed feed too: it was read (leniently), so its validators were kept.
    assert_eq!(not_modified, 40);
    let articles_after: i64 = conn
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(articles_before, articles_after);
}

#[test]
fn a_feed_that_gains_three_items_yields_three_articles() {
    let server = FeedServer::start();
    let base: Vec<(String, String)> = (1..=10)
        .map(|i| {
            (
                format!("w{i}"),
                format!("Envoys meet for round {i} of border talks"),
            )
        })
        .collect();

    server.doc("/wire.xml", rss(&refs(&base)), "application/rss+xml");
    let sb = Sandbox::with_config(&feeds_config(&server, &["/wire.xml".into()]));
    sb.run_ok(&["poll", "--once", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 10);

    let mut more = vec![
        (
            "n1".to_string(),
            "Sanctions widened after missile test".to_string(),
        ),
        (
            "n2".to_string(),
            "Ministers sign trade accord in Geneva".to_string(),
        ),
        (
            "n3".to_string(),
            "Peacekeepers deployed to the border zone".to_string(),
        ),
    ];
    more.extend(base.clone());
    server.doc("/wire.xml", rss(&refs(&more)), "application/rss+xml");
    let out = sb.run_ok(&["--json", "poll", "--once", "--all"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["new"], 3, "{report}");
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 13);
    assert_eq!(
        sb.count("SELECT new_items FROM fetches ORDER BY id DESC LIMIT 1"),
        3
    );
    // Due-only polling: nothing is due right after a poll.
    let out: serde_json::Value =
        serde_json::from_str(&sb.run_ok(&["--json", "poll", "--once"])).unwrap();
    assert_eq!(out["feeds"], 0, "{out}");
}

#[test]
fn bad_feeds_are_recorded_and_do_not_disturb_the_others() {
    let server = FeedServer::start();
    let malformed =
        std::fs::read(corpus().join("feeds/dylanharris-blog-malformed-rss-prefixed.xml")).unwrap();
    server.doc(
        "/good.xml",
        rss(&[("g1", "Talks resume"), ("g2", "Summit planned")]),
        "application/rss+xml",
    );
    server.doc("/malformed.xml", malformed, "application/xml");
    // Items that hold nothing at all: an error, never an empty success.
    server.doc(
        "/hollow.xml",
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Hollow</title><item><guid></guid></item><item/></channel></rss>",
        "application/xml",
    );
    server.doc(
        "/page.html",
        "<!DOCTYPE html><html><body><h1>Not a feed</h1></body></html>",
        "text/html",
    );
    server.doc("/empty.xml", "", "application/xml");
    server.status("/error.xml", 500, &[]);
    server.status("/gone.xml", 410, &[]);
    server.status("/busy.xml", 429, &[("retry-after", "7200")]);
    server.status("/loop.xml", 301, &[("location", "/loop.xml")]);
    server.status("/old.xml", 301, &[("location", "/good2.xml")]);
    server.doc(
        "/good2.xml",
        rss(&[("m1", "Moved feed item")]),
        "application/rss+xml",
    );
    let paths: Vec<String> = [
        "/good.xml",
        "/malformed.xml",
        "/hollow.xml",
        "/page.html",
        "/empty.xml",
        "/error.xml",
        "/gone.xml",
        "/busy.xml",
        "/loop.xml",
        "/old.xml",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let sb = Sandbox::with_config(&feeds_config(&server, &paths));
    let out = sb.run(&["--json", "poll", "--once", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 7, "{report}");
    assert_eq!(
        sb.count("SELECT count(*) FROM articles"),
        3 + 34,
        "good feeds and the 34 distinct items of the malformed one stored"
    );

    let conn = sb.sql();
    let state = |path: &str| -> (String, Option<String>, i64, bool, Option<String>) {
        conn.query_row(
            "SELECT x.outcome, x.error_kind, f.consecutive_errors, f.enabled, f.next_poll_at
               FROM feeds f JOIN fetches x ON x.feed_id = f.id WHERE f.url = ?1 OR f.id = (
                    SELECT feed_id FROM feed_url_history WHERE old_url = ?1)
              ORDER BY x.id DESC LIMIT 1",
            [server.url(path)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap()
    };
    for p in [
        "/hollow.xml",
        "/page.html",
        "/empty.xml",
        "/error.xml",
        "/busy.xml",
        "/loop.xml",
    ] {
        let (outcome, kind, errors, enabled, _) = state(p);
        assert_eq!(
            (outcome.as_str(), errors, enabled),
            ("error", 1, true),
            "{p}: {kind:?}"
        );
    }
    assert_eq!(state("/page.html").1.as_deref(), Some("parse"));
    assert_eq!(state("/hollow.xml").1.as_deref(), Some("parse"));
    let (outcome, kind, errors, _, _) = state("/malformed.xml");
    assert_eq!(
        (outcome.as_str(), kind.as_deref(), errors),
        ("ok", Some("degraded"), 0)
    );
    assert_eq!(state("/loop.xml").1.as_deref(), Some("redirect"));
    // 410 disables the feed; 301 moves it; 429 pushes the next poll past Retry-After.
    assert!(!state("/gone.xml").3);
    let moved: String = conn
        .query_row("SELECT new_url FROM feed_url_history", [], |r| r.get(0))
        .unwrap();
    assert_eq!(moved, server.url("/good2.xml"));
    let status: serde_json::Value =
        serde_json::from_str(&sb.run_ok(&["--json", "status"])).unwrap();
    assert_eq!(status["feeds_failing"], 6, "{status}");
    assert_eq!(status["feeds_disabled"], 1, "{status}");
    assert!(
        !status["top_errors"].as_array().unwrap().is_empty(),
        "{status}"
    );
    let list = sb.run_ok(&["feed", "list"]);
    assert!(
        list.contains("disabled: 410 Gone") && list.contains("failing x1"),
        "{list}"
    );
    let next_busy = state("/busy.xml").4.unwrap();
    let in_two_hours = chrono::Utc::now() + chrono::Duration::seconds(7000);
    assert!(
        next_busy > in_two_hours.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "{next_busy}"
    );
}

#[test]
fn full_text_feeds_fetch_the_article_pages() {
    let server = FeedServer::start();
    let link = server.url("/story/1");
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Teasers</title><link>{0}</link>\
         <item><guid>t1</guid><title>Envoys agree on a truce</title><link>{0}</link>\
         <description>Short teaser.</description></item></channel></rss>",
        link
    );
    server.doc("/teasers.xml", feed, "application/rss+xml");
    let para = "Negotiators from both governments met for a fourth day in the capital and agreed on the terms of a truce along the disputed border, officials said.";
    server.doc(
        "/story/1",
        format!(
            "<!DOCTYPE html><html><head><title>Envoys agree on a truce</title></head><body><nav>Home World Sport</nav>\
             <article><h1>Envoys agree on a truce</h1><p>{para}</p><p>{para} The monitors arrive next week.</p>\
             <p>{para} Both sides called the talks constructive.</p></article><footer>Copyright</footer></body></html>"
        ),
        "text/html; charset=utf-8",
    );
    let cfg = format!(
        "[fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\n\n[[feeds]]\nurl = \"{}\"\nfull_text = true\n",
        server.url("/teasers.xml")
    );
    let sb = Sandbox::with_config(&cfg);
    sb.run_ok(&["poll", "--once", "--all"]);
    let (summary, body): (Option<String>, String) = sb
        .sql()
        .query_row("SELECT summary, body_text FROM articles", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(
        body.contains("The monitors arrive next week.") && !body.contains("Copyright"),
        "{body}"
    );
    assert_eq!(summary.as_deref(), Some("Short teaser."));
    assert_eq!(server.hits_for("/story/1"), [200]);
    // Known articles' pages are not fetched again: the feed changes (a second guid for the
    // same link), the page is already stored.
    let again = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Teasers</title><link>{0}</link>\
         <item><guid>t1-updated</guid><title>Envoys agree on a truce</title><link>{0}</link>\
         <description>Short teaser.</description></item></channel></rss>",
        link
    );
    server.doc("/teasers.xml", again, "application/rss+xml");
    sb.run_ok(&["poll", "--once", "--all"]);
    assert_eq!(server.hits_for("/story/1").len(), 1);
}

/// A publisher without ETag sends the whole feed every time: items it sends again unchanged
/// are recorded as seen (and not processed again); an edited one is revised.
#[test]
fn unchanged_repeats_without_etag_are_seen_and_edits_are_revised() {
    let server = FeedServer::start();
    let feed = |second: &str| {
        let item = |n: u32, text: &str| {
            format!(
                "<item><guid>item-{n}</guid><title>Envoys meet in round {n} of border talks</title>\
                 <link>https://news.example/talks/{n}</link><description>{text}</description></item>"
            )
        };
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><link>https://news.example/</link>{}{}{}</channel></rss>",
            item(1, "Delegations from both countries met in Geneva on Monday for a first round."),
            item(2, second),
            item(3, "A third round was set for Friday, mediators said after the meeting ended."),
        )
    };
    let serve = |body: String| server.rss_without_validators("/plain.xml", body);
    serve(feed(
        "The second round ended without agreement on the crossing points.",
    ));
    let sb = Sandbox::with_config(&format!(
        "[fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\n\n[[feeds]]\nurl = \"{}\"\n",
        server.url("/plain.xml")
    ));
    sb.run_ok(&["poll", "--once", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 3);
    assert_eq!(
        sb.count("SELECT count(*) FROM sightings WHERE item_hash IS NOT NULL"),
        3
    );
    let seen_before: String = sb
        .sql()
        .query_row("SELECT max(last_seen_at) FROM sightings", [], |r| r.get(0))
        .unwrap();

    std::thread::sleep(std::time::Duration::from_millis(1100));
    sb.run_ok(&["poll", "--once", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 3);
    assert_eq!(sb.count("SELECT count(*) FROM article_revisions"), 0);
    let seen_after: String = sb
        .sql()
        .query_row("SELECT min(last_seen_at) FROM sightings", [], |r| r.get(0))
        .unwrap();
    assert!(seen_after > seen_before, "{seen_after} > {seen_before}");

    serve(feed(
        "The second round ended with a deal on two of the three crossing points.",
    ));
    sb.run_ok(&["poll", "--once", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 3);
    assert_eq!(sb.count("SELECT count(*) FROM article_revisions"), 1);
    assert_eq!(
        sb.count("SELECT count(*) FROM articles WHERE body_text LIKE '%deal on two%'"),
        1
    );
}

/// A config feed that moved (301) is still that feed at the next start: the config's old URL
/// finds it through the URL history, so it is neither disabled as "removed from config" nor
/// added again; the history says 301; the move is logged once (issue 20, item 2).
#[test]
fn a_moved_config_feed_keeps_its_identity_across_restarts() {
    let server = FeedServer::start();
    server.status("/old.xml", 301, &[("location", "/new.xml")]);
    server.doc(
        "/new.xml",
        rss(&[("n1", "Moved wire item")]),
        "application/rss+xml",
    );
    let sb = Sandbox::with_config(&feeds_config(&server, &["/old.xml".to_string()]));
    let first = sb.run(&["poll", "--once", "--all"]);
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{log}");
    assert_eq!(log.matches("feed moved permanently").count(), 1, "{log}");
    for _ in 0..2 {
        let again = sb.run(&["poll", "--once", "--all"]);
        let log = String::from_utf8_lossy(&again.stderr);
        assert!(again.status.success(), "{log}");
        assert!(!log.contains("moved permanently"), "logged once: {log}");
    }
    let conn = sb.sql();
    let feeds: Vec<(String, bool, Option<String>)> = conn
        .prepare("SELECT url, enabled, disabled_reason FROM feeds WHERE kind = 'feed'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(feeds, [(server.url("/new.xml"), true, None)]);
    let history: Vec<(String, String, i64)> = conn
        .prepare("SELECT old_url, new_url, http_status FROM feed_url_history")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        history,
        [(server.url("/old.xml"), server.url("/new.xml"), 301)]
    );
    assert_eq!(
        server.hits_for("/old.xml"),
        [301],
        "the old URL is asked once"
    );
    assert_eq!(sb.count("SELECT count(*) FROM sightings"), 1);
}

/// `fetches.queue_ms` holds the time a poll waited for its turn at a busy host, and
/// `duration_ms` only the time spent on it (issue 20, item 3).
#[test]
fn fetches_record_queue_time_apart_from_request_time() {
    let server = FeedServer::start();
    let paths: Vec<String> = (1..=3).map(|n| format!("/q{n}.xml")).collect();
    for (n, p) in paths.iter().enumerate() {
        let guid = format!("q{n}");
        server.doc(
            p,
            rss(&[(guid.as_str(), "Queued wire item")]),
            "application/rss+xml",
        );
    }
    let cfg = feeds_config(&server, &paths).replace(
        "per_host_min_gap = \"0s\"\nper_host_concurrency = 8",
        "per_host_min_gap = \"2s\"\nper_host_concurrency = 1",
    );
    let sb = Sandbox::with_config(&cfg);
    sb.run_ok(&["poll", "--once", "--all"]);
    let rows: Vec<(Option<i64>, i64)> = sb
        .sql()
        .prepare("SELECT queue_ms, duration_ms FROM fetches ORDER BY queue_ms")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.0.is_some()), "{rows:?}");
    // Three polls 2 s apart on one host: the last waited two gaps, and worked less than it waited.
    let (queued, worked) = (rows[2].0.unwrap(), rows[2].1);
    assert!(queued >= 3_900, "{rows:?}");
    assert!(worked < queued, "{rows:?}");
}

/// No tracking pixel survives sanitising, sized by attribute or by style (issue 20, item 4).
#[test]
fn tracking_pixels_sized_by_style_or_attribute_are_not_stored() {
    let server = FeedServer::start();
    let pixels = [
        r#"<img style="width:1px;height:1px" src="https://t.example/style.gif">"#,
        r#"<IMG SRC="https://t.example/upper.gif" WIDTH="1" HEIGHT="1">"#,
        r#"<img src="https://t.example/zero.gif" width="0" height="0">"#,
        r#"<img src="https://t.example/hidden.gif" style="display: none">"#,
    ]
    .concat();
    let html = format!(
        "<p>Delegations from both countries met on Monday to agree on the crossing points.</p>\
         <img src=\"https://img.example/photo.jpg\" width=\"640\" height=\"360\">{pixels}"
    );
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\
         <channel><title>Wire</title><link>https://wire.example/</link><item><guid>p1</guid>\
         <title>Envoys meet</title><link>https://wire.example/p1</link>\
         <content:encoded><![CDATA[{html}]]></content:encoded></item></channel></rss>"
    );
    server.doc("/pixels.xml", feed, "application/rss+xml");
    let sb = Sandbox::with_config(&feeds_config(&server, &["/pixels.xml".to_string()]));
    sb.run_ok(&["poll", "--once", "--all"]);
    let body: String = sb
        .sql()
        .query_row("SELECT body_html FROM articles", [], |r| r.get(0))
        .unwrap();
    assert!(body.contains("photo.jpg"), "{body}");
    for gone in ["style.gif", "upper.gif", "zero.gif", "hidden.gif"] {
        assert!(!body.contains(gone), "{gone}: {body}");
    }
}
