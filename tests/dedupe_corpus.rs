//! The near-duplicate detector on real data: SOURCES.md section D of the corpus, and the two
//! seed articles. The corpus is found through NEWSDESK_CORPUS (default ../shared/corpus); the
//! seeds through NEWSDESK_SEEDS (default ../shared/seeds). Missing data fails the test.

mod common;
use common::corpus;
use std::collections::HashMap;
use std::path::PathBuf;

#[path = "dedupe_sets/mod.rs"]
mod sets;
use sets::{ALJAZEERA_REPEATS, ARTICLES_APART, D1_WIRE, D2, FEED_APART};

use newsdesk::dedupe::{fingerprint, DedupeConfig, Fingerprint, NearDupIndex};
use newsdesk::model::{parse_timestamp, ArticleRecord, RawArticle};

fn dir(var: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.is_dir(),
        "test data not found at {} (set {var} to the folder)",
        p.display()
    );
    p
}

/// (corpus id, source, record) of a JSON Lines file.
fn read(file: &str, source_field: &str) -> Vec<(String, String, ArticleRecord)> {
    let path = corpus().join("articles").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let source = v[source_field].as_str().unwrap_or_default().to_string();
            let r: ArticleRecord = serde_json::from_value(v).unwrap();
            (r.id.clone().unwrap(), source, r)
        })
        .collect()
}

fn fp_of(r: ArticleRecord, seen: i64) -> Fingerprint {
    let a = newsdesk::normalize::normalize(r.into_raw()).unwrap();
    fingerprint(&a).seen_at(seen)
}

/// Run the detector over records in the given order; corpus id -> group root's corpus id.
fn groups(records: Vec<(String, String, ArticleRecord)>, seen: i64) -> HashMap<String, String> {
    let mut index = NearDupIndex::new(&DedupeConfig::default());
    let mut ids: Vec<String> = Vec::new();
    let mut out = HashMap::new();
    for (n, (id, _, r)) in records.into_iter().enumerate() {
        let fp = fp_of(r, seen);
        let article_id = n as i64;
        let group = index.find(&fp).map_or(article_id, |m| m.article_id);
        index.insert_with_group(article_id, group, fp);
        ids.push(id.clone());
        out.insert(id, ids[group as usize].clone());
    }
    out
}

fn feed_groups() -> HashMap<String, String> {
    let mut items = read("feed-items.jsonl", "feed");
    let time = |r: &ArticleRecord| {
        r.published
            .as_deref()
            .and_then(parse_timestamp)
            .map(|t| t.timestamp())
    };
    let capture = items.iter().filter_map(|i| time(&i.2)).max().unwrap();
    items.sort_by_key(|i| time(&i.2).unwrap_or(capture));
    groups(items, capture)
}

fn assert_grouped(g: &HashMap<String, String>, members: &[&str]) {
    let root = &g[members[0]];
    for m in members {
        assert_eq!(
            &g[*m], root,
            "{members:?} should be one story: {m} is in another group"
        );
    }
}

fn assert_apart(g: &HashMap<String, String>, a: &str, b: &str) {
    assert_ne!(
        g[a], g[b],
        "{a} and {b} are different articles but were grouped"
    );
}

#[test]
fn d1_wire_copies_across_outlets_are_grouped() {
    let items: HashMap<String, (String, String)> = read("feed-items.jsonl", "feed")
        .into_iter()
        .map(|(id, feed, r)| (id, (feed, r.title.unwrap_or_default())))
        .collect();
    // Guard against a renumbered corpus: the ids must still be the items SOURCES.md lists.
    for (id, feed, word) in [
        ("f0040", "abcnews-us", "Australia"),
        ("f0828", "japantoday", "Australia"),
        ("f0887", "npr-world", "Australia"),
        ("f0064", "al-monitor", "Hezbollah"),
        ("f0860", "ndtv", "Hormuz"),
    ] {
        let (f, t) = &items[id];
        assert!(
            f.starts_with(feed) && t.contains(word),
            "{id} is now {f}: {t}"
        );
    }
    let g = feed_groups();
    for group in D1_WIRE {
        assert_grouped(&g, group);
    }
    // The item the Al Jazeera feed lists four times is one story.
    assert_grouped(&g, ALJAZEERA_REPEATS);
}

#[test]
fn feed_stories_that_only_share_a_subject_stay_apart() {
    let g = feed_groups();
    for (a, b) in FEED_APART {
        assert_apart(&g, a, b);
    }
}

#[test]
fn d2_revisions_and_wire_pairs_are_grouped() {
    // A bulk import: every record seen at once, in file order.
    let g = groups(read("articles.jsonl", "source"), 1_771_400_000);
    for (a, b) in D2 {
        assert_grouped(&g, &[a, b]);
    }
    for (a, b) in ARTICLES_APART {
        assert_apart(&g, a, b);
    }
}

#[test]
fn the_two_seeds_are_not_merged() {
    let seeds = dir(
        "NEWSDESK_SEEDS",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/seeds"),
    );
    let read_seed = |name: &str, titled: bool| {
        let path = seeds.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (title, body) = match text.split_once('\n') {
            Some((t, b)) if titled => (Some(t.to_string()), b.to_string()),
            _ => (None, text),
        };
        let a = newsdesk::normalize::normalize(RawArticle {
            title,
            content_text: Some(body),
            ..Default::default()
        })
        .unwrap();
        // Same week: put them on the same day so only their text can tell them apart.
        fingerprint(&a).seen_at(1_500_000_000)
    };
    let first = read_seed("000_7e90e49520ab4ca9.txt", true);
    let second = read_seed("004_e8d2849f147aa48f.txt", false);
    assert!(
        first.words >= 60 && second.words >= 60,
        "both seeds are long texts"
    );
    for (a, b) in [(&first, &second), (&second, &first)] {
        let mut index = NearDupIndex::new(&DedupeConfig::default());
        index.insert(1, a.clone());
        assert_eq!(index.find(b), None);
    }
}
