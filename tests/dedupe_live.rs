//! Dedupe on the path users run: the corpus' 40 feeds served over HTTP from 127.0.0.1 and
//! polled in one pass with the real clock, or its records ingested as JSON Lines; the groups
//! are read back from the store. Which articles are grouped must depend only on the articles,
//! not on today's date, the order they arrive in, or an odd date elsewhere in the stream.

mod common;
#[path = "dedupe_sets/mod.rs"]
mod sets;

use common::feed_server::FeedServer;
use common::{corpus, Sandbox};
use std::collections::HashMap;

/// One record of a corpus JSON Lines file.
struct Record {
    id: String,
    /// The feed file it came from (feed items only).
    feed: String,
    guid: String,
    url: String,
    title: String,
    json: serde_json::Value,
}

fn records(file: &str) -> Vec<Record> {
    let path = corpus().join("articles").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let json: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
            Record {
                id: s("id"),
                feed: s("feed"),
                guid: s("guid"),
                url: s("url"),
                title: s("title"),
                json,
            }
        })
        .collect()
}

/// A config for feeds that all live on the one test server: no per-host gap, and the
/// default global concurrency.
fn config_for(server: &FeedServer, paths: &[String]) -> String {
    let mut c = String::from(
        "[fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\nper_host_concurrency = 8\n\n",
    );
    for p in paths {
        c.push_str(&format!("[[feeds]]\nurl = \"{}\"\n\n", server.url(p)));
    }
    c
}

/// A sandbox subscribed to all 40 corpus feeds, served by `server`.
fn corpus_feeds(server: &FeedServer) -> Sandbox {
    let dir = corpus().join("feeds");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 40, "the corpus has 40 feeds");
    let mut paths = Vec::new();
    for name in &names {
        let path = format!("/{name}");
        server.doc(
            &path,
            std::fs::read(dir.join(name)).unwrap(),
            "application/xml",
        );
        paths.push(path);
    }
    Sandbox::with_config(&config_for(server, &paths))
}

/// `poll --once --all`: every feed but the corpus' malformed one must succeed.
fn poll_all(sb: &Sandbox) {
    let out = sb.run(&["poll", "--once", "--all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failing: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("feed failing") && !l.contains("malformed"))
        .collect();
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && failing.is_empty(),
        "poll failed: {}\n{stderr}",
        out.status
    );
}

/// Corpus id -> group (the `duplicate_of` root, or the article itself) of each feed item in
/// the store, found by the feed it came from and its guid or link (or, failing those, title).
fn feed_item_groups(sb: &Sandbox) -> HashMap<String, i64> {
    let conn = sb.sql();
    let mut stmt = conn
        .prepare(
            "SELECT coalesce(a.duplicate_of, a.id) FROM sightings s
               JOIN feeds f ON f.id = s.feed_id JOIN articles a ON a.id = s.article_id
              WHERE f.url LIKE '%/' || ?1 AND (s.guid = ?2 OR s.url = ?3 OR a.title = ?4)
              ORDER BY (s.guid = ?2) DESC, (s.url = ?3) DESC LIMIT 1",
        )
        .unwrap();
    let mut out = HashMap::new();
    for r in records("feed-items.jsonl") {
        let group: Option<i64> = stmt
            .query_row([&r.feed, &r.guid, &r.url, &r.title], |row| row.get(0))
            .ok();
        if let Some(g) = group {
            out.insert(r.id, g);
        }
    }
    out
}

/// Corpus id -> group of records ingested from JSON Lines (the record id is the guid).
fn record_groups(sb: &Sandbox) -> HashMap<String, i64> {
    let conn = sb.sql();
    let mut stmt = conn
        .prepare(
            "SELECT s.guid, coalesce(a.duplicate_of, a.id) FROM sightings s
               JOIN articles a ON a.id = s.article_id JOIN feeds f ON f.id = s.feed_id
              WHERE f.kind = 'local'",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap();
    let mut out = HashMap::new();
    for row in rows {
        let (guid, group) = row.unwrap();
        // Local guids name the record; keep the part after the last separator.
        let id = guid
            .rsplit(['#', ':', '/'])
            .next()
            .unwrap_or(&guid)
            .to_owned();
        out.insert(id, group);
    }
    out
}

fn assert_grouped(g: &HashMap<String, i64>, members: &[&str], what: &str) {
    let groups: Vec<Option<&i64>> = members.iter().map(|m| g.get(*m)).collect();
    assert!(
        groups.iter().all(|x| x.is_some() && *x == groups[0]),
        "{what}: {members:?} should be one story, their groups are {groups:?}"
    );
}

fn assert_apart(g: &HashMap<String, i64>, a: &str, b: &str, what: &str) {
    let (ga, gb) = (g.get(a), g.get(b));
    assert!(
        ga.is_some() && gb.is_some() && ga != gb,
        "{what}: {a} and {b} are different articles, groups {ga:?} {gb:?}"
    );
}

fn assert_feed_sets(g: &HashMap<String, i64>, what: &str) {
    for group in sets::D1_WIRE {
        assert_grouped(g, group, what);
    }
    assert_grouped(g, sets::ALJAZEERA_REPEATS, what);
    for (a, b) in sets::FEED_APART {
        assert_apart(g, a, b, what);
    }
}

#[test]
fn a_live_poll_of_the_corpus_feeds_groups_the_wire_copies() {
    let server = FeedServer::start();
    let sb = corpus_feeds(&server);
    poll_all(&sb);
    let g = feed_item_groups(&sb);
    assert!(
        g.len() >= 1100,
        "only {} of the corpus feed items were found in the store",
        g.len()
    );
    assert_feed_sets(&g, "live poll");
}

/// `records` written as one JSON Lines file (each feed item's outlet as its source), ingested.
fn ingest(sb: &Sandbox, name: &str, records: &[serde_json::Value]) {
    let path = sb.path(name);
    let mut text = String::new();
    for r in records {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    sb.run_ok(&["ingest", path.to_str().unwrap()]);
}

/// A feed item as an ingest record: the outlet is its source, the corpus id its record id.
fn as_record(r: &Record) -> serde_json::Value {
    let mut v = r.json.clone();
    if !r.feed.is_empty() {
        v["source"] = serde_json::json!(r.feed.trim_end_matches(".xml"));
    }
    v
}

/// The groups as sets of corpus ids (each sorted, singletons left out), comparable across
/// stores whatever ids the articles got.
fn partition(g: &HashMap<String, i64>) -> Vec<Vec<String>> {
    let mut by_group: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, group) in g {
        by_group.entry(*group).or_default().push(id.clone());
    }
    let mut out: Vec<Vec<String>> = by_group
        .into_values()
        .filter(|m| m.len() > 1)
        .map(|mut m| {
            m.sort();
            m
        })
        .collect();
    out.sort();
    out
}

/// A deterministic shuffle (xorshift), so a failure can be re-run.
fn shuffled<T: Clone>(items: &[T], mut seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    for i in (1..out.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    out
}

#[test]
fn the_feed_items_in_three_orders_give_the_same_groups() {
    let items: Vec<serde_json::Value> = records("feed-items.jsonl").iter().map(as_record).collect();
    let mut partitions = Vec::new();
    for seed in [1u64, 0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d] {
        let sb = Sandbox::new();
        ingest(&sb, "items.jsonl", &shuffled(&items, seed));
        let g = record_groups(&sb);
        assert_eq!(g.len(), items.len(), "every record has a sighting");
        assert_feed_sets(&g, &format!("order {seed:#x}"));
        partitions.push((seed, partition(&g)));
    }
    let (first_seed, first) = &partitions[0];
    for (seed, p) in &partitions[1..] {
        let only_first: Vec<_> = first.iter().filter(|g| !p.contains(g)).collect();
        let only_this: Vec<_> = p.iter().filter(|g| !first.contains(g)).collect();
        assert!(
            only_first.is_empty() && only_this.is_empty(),
            "order {first_seed:#x} has groups {only_first:?}, order {seed:#x} has {only_this:?} instead"
        );
    }
}
