//! Dedupe through the real binary: exact repeats across feeds become sightings, syndicated
//! copies are grouped under the first-seen article (and stay grouped across restarts), and
//! different articles stay apart.

mod common;
use common::feed_server::FeedServer;
use common::{corpus, seeds, Sandbox};

fn config_for(server: &FeedServer, paths: &[&str]) -> String {
    let mut c = String::from("[fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\nper_host_concurrency = 8\n\n");
    for p in paths {
        c.push_str(&format!("[[feeds]]\nurl = \"{}\"\n\n", server.url(p)));
    }
    c
}

#[test]
fn same_item_with_different_tracking_parameters_is_one_article_two_sightings() {
    let server = FeedServer::start();
    let item = |guid: &str, query: &str| {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{guid}</title><link>https://x.example/</link>\
             <item><guid>{guid}-1</guid><title>Ceasefire talks resume in Cairo</title>\
             <link>https://news.example/world/ceasefire-talks{}</link>\
             <description>Mediators said on Monday that delegations had returned to Cairo.</description></item></channel></rss>",
            query.replace('&', "&amp;")
        )
    };
    server.doc(
        "/one.xml",
        item("one", "?utm_source=rss&utm_medium=feed"),
        "application/rss+xml",
    );
    server.doc(
        "/two.xml",
        item("two", "?fbclid=abc#comments"),
        "application/rss+xml",
    );
    let sb = Sandbox::with_config(&config_for(&server, &["/one.xml", "/two.xml"]));
    sb.run_ok(&["poll", "--once", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 1);
    assert_eq!(sb.count("SELECT count(*) FROM sightings"), 2);
    assert_eq!(
        sb.count("SELECT count(DISTINCT url) FROM sightings"),
        2,
        "each feed's own link is kept"
    );
}

fn article_id(sb: &Sandbox, title: &str) -> (i64, Option<i64>) {
    sb.sql()
        .query_row(
            "SELECT id, duplicate_of FROM articles WHERE title = ?1 ORDER BY id LIMIT 1",
            [title],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("{title}: {e}"))
}

#[test]
fn syndicated_copies_are_grouped_and_stay_grouped_across_restarts() {
    let server = FeedServer::start();
    let feeds = [
        "japantoday-world-rss2.xml",
        "npr-world-rss2.xml",
        "al-monitor-all-rss2.xml",
        "abcnews-us-international-rss2.xml",
    ];
    for f in feeds {
        server.doc(
            &format!("/{f}"),
            std::fs::read(corpus().join("feeds").join(f)).unwrap(),
            "application/xml",
        );
    }
    let paths: Vec<String> = feeds.iter().map(|f| format!("/{f}")).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let sb = Sandbox::with_config(&config_for(&server, &refs));
    sb.run_ok(&["poll", "--once", "--all"]);

    // SOURCES.md D1 #1 (AP copy in Japan Today and NPR, same headline) and #11 (Al-Monitor and
    // Japan Today).
    let conn = sb.sql();
    for title in [
        "Australia won't repatriate 34 women and children from Syria",
        "Hezbollah rejects disarmament plan and government's four-month timeline",
    ] {
        let groups: Vec<i64> = conn
            .prepare("SELECT coalesce(duplicate_of, id) FROM articles WHERE title = ?1")
            .unwrap()
            .query_map([title], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            groups.len() >= 2,
            "{title}: expected a copy in each outlet, got {groups:?}"
        );
        assert!(
            groups.windows(2).all(|w| w[0] == w[1]),
            "{title}: not grouped: {groups:?}"
        );
    }
    // The Hezbollah copy names its original, the detector that matched and why.
    let hezbollah = "Hezbollah rejects disarmament plan and government's four-month timeline";
    let (original, _) = article_id(&sb, hezbollah);
    let (dup_of, detector, similarity, evidence): (i64, String, f64, String) = conn
        .query_row(
            "SELECT duplicate_of, duplicate_detector, duplicate_similarity, duplicate_evidence
               FROM articles WHERE title = ?1 AND duplicate_of IS NOT NULL",
            [hezbollah],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        dup_of, original,
        "the copy points at the first-seen article"
    );
    let evidence: serde_json::Value = serde_json::from_str(&evidence).unwrap();
    assert_eq!(evidence["detector"], detector.as_str(), "{evidence}");
    assert_eq!(evidence["matched_article_id"], original, "{evidence}");
    assert!(similarity > 0.0 && similarity <= 1.0, "{similarity}");

    // Search shows the story once by default, every copy with --all.
    let collapsed: serde_json::Value =
        serde_json::from_str(&sb.run_ok(&["--json", "search", "repatriate women children Syria"]))
            .unwrap();
    let all: serde_json::Value = serde_json::from_str(&sb.run_ok(&[
        "--json",
        "search",
        "repatriate women children Syria",
        "--all",
    ]))
    .unwrap();
    let n_collapsed = collapsed.as_array().unwrap().len();
    assert!(
        all.as_array().unwrap().len() > n_collapsed,
        "collapsed {collapsed}\nall {all}"
    );
    assert!(
        collapsed[0]["outlets"].as_i64().unwrap() >= 2,
        "{collapsed}"
    );
    assert!(sb.count("SELECT count(*) FROM stories WHERE outlets >= 2") >= 2);

    // A new process (the index rebuilt from the store) groups a further copy with the story.
    let file = sb.path("copy.json");
    std::fs::write(
        &file,
        r#"{"id": "wire-copy", "published": "2026-02-17T09:00:00Z", "title": "Australia will not repatriate 34 women and children from Syria", "text": "The Australian government will not bring back from Syria a group of 34 women and children with alleged ties to the Islamic State group, Prime Minister Anthony Albanese said on Tuesday."}"#,
    )
    .unwrap();
    sb.run_ok(&["ingest", file.to_str().unwrap()]);
    let (orig, _) = article_id(
        &sb,
        "Australia won't repatriate 34 women and children from Syria",
    );
    let (_, copy_dup) = article_id(
        &sb,
        "Australia will not repatriate 34 women and children from Syria",
    );
    let orig_group: i64 = conn
        .query_row(
            "SELECT coalesce(duplicate_of, id) FROM articles WHERE id = ?1",
            [orig],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(copy_dup, Some(orig_group));
}

#[test]
fn the_two_seeds_are_different_articles() {
    let sb = Sandbox::new();
    let files = seeds();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    sb.run_ok(&args);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 2);
    assert_eq!(
        sb.count("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL"),
        0
    );
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 2);
}

/// A story revised under the same URL is matched by what it says now: a later copy of the
/// revised text joins its group, whether it arrives in the same run or after a restart (the
/// index is rebuilt from the stored fingerprint).
#[test]
fn copies_of_a_revised_story_join_its_group() {
    let first = r#"{"url": "https://wire.example/story-1", "title": "Ministers open border talks in Geneva", "text": "Foreign ministers from both countries opened talks in Geneva on Monday on reopening the border crossing closed since the spring."}"#;
    let revised = r#"{"url": "https://wire.example/story-1", "title": "Border deal reached after all-night session", "text": "Negotiators agreed early on Tuesday to reopen three crossings and exchange prisoners, ending a standoff that had cut off trade for months, officials said."}"#;
    let copy = r#"{"url": "https://other.example/world/border-deal", "title": "Border deal reached after all-night session (AP)", "text": "GENEVA (AP) - Negotiators agreed early on Tuesday to reopen three crossings and exchange prisoners, ending a standoff that had cut off trade for months, officials said."}"#;
    for restart in [false, true] {
        let sb = Sandbox::new();
        let files: Vec<String> = [("a", first), ("b", revised), ("c", copy)]
            .iter()
            .map(|(name, line)| {
                let p = sb.path(&format!("{name}.jsonl"));
                std::fs::write(&p, format!("{line}\n")).unwrap();
                p.to_str().unwrap().to_owned()
            })
            .collect();
        if restart {
            sb.run_ok(&["ingest", &files[0], &files[1]]);
            sb.run_ok(&["ingest", &files[2]]);
        } else {
            sb.run_ok(&["ingest", &files[0], &files[1], &files[2]]);
        }
        assert_eq!(sb.count("SELECT count(*) FROM article_revisions"), 1);
        let (id, dup) = article_id(&sb, "Border deal reached after all-night session (AP)");
        assert_eq!(
            (id, dup),
            (2, Some(1)),
            "restart between revision and copy: {restart}"
        );
    }
}

/// A word no other filler article has: letters only, so it counts as a content word.
fn filler_word(n: usize) -> String {
    let mut n = n;
    let mut w = String::from("qz");
    loop {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return w;
        }
    }
}

/// `n` article records (JSON Lines) that share no word with each other or with any story.
fn fillers(n: usize) -> String {
    let words = |from: usize, n: usize| {
        (from..from + n)
            .map(filler_word)
            .collect::<Vec<_>>()
            .join(" ")
    };
    (0..n)
        .map(|i| {
            serde_json::json!({
                "url": format!("https://filler.example/{i}"),
                "title": words(i * 40, 6),
                "text": words(i * 40 + 6, 30) + ".",
            })
            .to_string()
                + "\n"
        })
        .collect()
}

#[test]
fn a_copy_of_a_story_thousands_of_articles_back_is_grouped_under_it() {
    // The index holds the words of the newest few thousand items only and reads an older
    // candidate's back from the store: the original here is 5,000 articles back, within the
    // time window, when its copies arrive in the same process and after a restart.
    let sb = Sandbox::new();
    let record = |title: &str, text: &str, url: &str| {
        serde_json::json!({ "url": url, "title": title, "text": text }).to_string() + "\n"
    };
    let mut first = record(
        "Japan and South Korea agree to resume security talks",
        "TOKYO (AP) - The foreign ministers of Japan and South Korea agreed on Tuesday to \
         resume regular security talks suspended since 2019, pledging closer cooperation on \
         North Korea's missile launches and maritime patrols.",
        "https://wire.example/talks",
    );
    first.push_str(&fillers(5000));
    first.push_str(&record(
        "Japan, South Korea to resume security talks",
        "The foreign ministers of Japan and South Korea agreed on Tuesday to resume regular \
         security talks suspended since 2019, pledging closer cooperation on North Korea's \
         missile launches…",
        "https://paper.example/asia/talks",
    ));
    let later = record(
        "Japan and S. Korea resume security talks",
        "The foreign ministers of Japan and South Korea agreed on Tuesday to resume regular \
         security talks suspended since 2019, pledging closer cooperation on North Korea's \
         missile launches and patrols.",
        "https://daily.example/talks",
    );
    let (a, b) = (sb.path("a.jsonl"), sb.path("b.jsonl"));
    std::fs::write(&a, first).unwrap();
    std::fs::write(&b, later).unwrap();
    sb.run_ok(&["ingest", a.to_str().unwrap()]);
    sb.run_ok(&["ingest", b.to_str().unwrap()]);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 5003);
    let grouped: Vec<(String, Option<i64>, Option<String>)> = sb
        .sql()
        .prepare(
            "SELECT url, duplicate_of, duplicate_detector FROM articles
              WHERE url NOT LIKE 'https://filler.example/%' ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let short = Some("short_text".to_owned());
    assert_eq!(
        grouped,
        [
            ("https://wire.example/talks".to_owned(), None, None),
            (
                "https://paper.example/asia/talks".to_owned(),
                Some(1),
                short.clone()
            ),
            ("https://daily.example/talks".to_owned(), Some(1), short),
        ]
    );
    // The fillers stay apart.
    assert_eq!(
        sb.count("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL"),
        2
    );
}

#[test]
fn a_story_polled_thousands_of_articles_after_its_copy_joins_the_copys_group() {
    // The other order, over HTTP: a paper's copy is polled first, 5,000 other articles
    // follow, then the wire's original arrives in a feed added later. The copy's words are
    // no longer held in memory and are read back from the store.
    let server = FeedServer::start();
    let rss = |name: &str, title: &str, text: &str, link: &str| {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{name}</title>\
             <link>https://{name}.example/</link><item><guid>{link}</guid><title>{title}</title>\
             <link>{link}</link><description>{text}</description></item></channel></rss>"
        )
    };
    server.doc(
        "/paper.xml",
        rss(
            "paper",
            "Japan, South Korea to resume security talks",
            "The foreign ministers of Japan and South Korea agreed on Tuesday to resume regular \
             security talks suspended since 2019, pledging closer cooperation on North Korea's \
             missile launches.",
            "https://paper.example/asia/talks",
        ),
        "application/rss+xml",
    );
    server.doc(
        "/wire.xml",
        rss(
            "wire",
            "Japan and South Korea agree to resume security talks",
            "TOKYO (AP) - The foreign ministers of Japan and South Korea agreed on Tuesday to \
             resume regular security talks suspended since 2019, pledging closer cooperation on \
             North Korea's missile launches and maritime patrols.",
            "https://wire.example/talks",
        ),
        "application/rss+xml",
    );
    let sb = Sandbox::with_config(&config_for(&server, &["/paper.xml"]));
    sb.run_ok(&["poll", "--once", "--all"]);
    let filler = sb.path("fillers.jsonl");
    std::fs::write(&filler, fillers(5000)).unwrap();
    sb.run_ok(&["ingest", filler.to_str().unwrap()]);
    sb.append_config(&format!(
        "[[feeds]]\nurl = \"{}\"\n",
        server.url("/wire.xml")
    ));
    sb.run_ok(&["poll", "--once", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM articles"), 5002);
    let paper = sb.count("SELECT id FROM articles WHERE url = 'https://paper.example/asia/talks'");
    let wire: (Option<i64>, Option<String>) = sb
        .sql()
        .query_row(
            "SELECT duplicate_of, duplicate_detector FROM articles
              WHERE url = 'https://wire.example/talks'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(wire, (Some(paper), Some("short_text".to_owned())));
    assert_eq!(
        sb.count("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL"),
        1
    );
}
