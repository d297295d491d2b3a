//! Run the near-duplicate detector over the corpus and print every pair it groups, for checking
//! by hand: the 1,156 feed items in publication order (as a daemon polling the feeds would see
//! them), then the 837 article records in file order (as a bulk import would).
//!
//!     cargo run --release --example dedupe_pairs [-- CORPUS_DIR]
//!
//! CORPUS_DIR defaults to $NEWSDESK_CORPUS, else ../shared/corpus beside the crate.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use newsdesk::dedupe::{fingerprint, DedupeConfig, NearDupIndex};
use newsdesk::model::ArticleRecord;

struct Item {
    /// Corpus id (f0001.., a0001..).
    id: String,
    source: String,
    record: ArticleRecord,
}

fn read_jsonl(path: &PathBuf, source_field: &str) -> anyhow::Result<Vec<Item>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
        let source = v[source_field].as_str().unwrap_or("?").to_string();
        let record: ArticleRecord = serde_json::from_value(v)
            .with_context(|| format!("{}:{}: not an article record", path.display(), n + 1))?;
        out.push(Item {
            id: record.id.clone().unwrap_or_default(),
            source,
            record,
        });
    }
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let corpus = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("NEWSDESK_CORPUS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")));
    let mut feed_items = read_jsonl(&corpus.join("articles/feed-items.jsonl"), "feed")?;
    let records = read_jsonl(&corpus.join("articles/articles.jsonl"), "source")?;

    // Feed items in publication order; undated ones when their feed was captured (after the
    // newest dated item).
    let dated = |i: &Item| {
        i.record
            .published
            .as_deref()
            .and_then(newsdesk::model::parse_timestamp)
            .map(|t| t.timestamp())
    };
    let capture = feed_items.iter().filter_map(dated).max().unwrap_or(0);
    feed_items.sort_by_key(|i| dated(i).unwrap_or(capture));
    let import_time = capture + 86_400;

    let cfg = DedupeConfig::default();
    let mut index = NearDupIndex::new(&cfg);
    let mut titles: HashMap<i64, (String, String)> = HashMap::new();
    let mut hashes: HashMap<i64, String> = HashMap::new();
    let (mut pairs, mut by_detector) = (0usize, HashMap::<&str, usize>::new());
    let mut skipped = 0usize;

    for (n, item) in feed_items.into_iter().chain(records).enumerate() {
        let article_id = n as i64 + 1;
        let seen = if item.id.starts_with('f') {
            capture
        } else {
            import_time
        };
        let article = match newsdesk::normalize::normalize(item.record.into_raw()) {
            Ok(a) => a,
            Err(e) => {
                skipped += 1;
                eprintln!("skip {}: {e}", item.id);
                continue;
            }
        };
        let fp = fingerprint(&article).seen_at(seen);
        let found = index.find(&fp);
        let group = found.as_ref().map_or(article_id, |m| m.article_id);
        if let Some(m) = found {
            pairs += 1;
            *by_detector.entry(m.detector.as_str()).or_default() += 1;
            let matched = m.evidence["matched_article_id"].as_i64().unwrap_or(group);
            let (mid, mtitle) = titles.get(&matched).cloned().unwrap_or_default();
            let (gid, _) = titles.get(&group).cloned().unwrap_or_default();
            let exact = hashes.get(&matched) == Some(&article.content_hash);
            println!(
                "{} ~ {} (group {}) {} {:.3}{} [{}]\n    {} | {}\n    {} | {}",
                item.id,
                mid,
                gid,
                m.detector.as_str(),
                m.similarity,
                if exact { " (same content hash)" } else { "" },
                compact(&m.evidence),
                item.id,
                article.title,
                mid,
                mtitle,
            );
        }
        titles.insert(
            article_id,
            (
                format!("{}@{}", item.id, short_source(&item.source)),
                article.title.clone(),
            ),
        );
        hashes.insert(article_id, article.content_hash.clone());
        index.insert_with_group(article_id, group, fp);
    }
    println!(
        "\n{} articles indexed ({} skipped), {} grouped as near duplicates: {:?}",
        index.len(),
        skipped,
        pairs,
        by_detector
    );
    Ok(())
}

fn short_source(s: &str) -> &str {
    s.split(['-', ' ', '.']).next().unwrap_or(s)
}

/// The evidence without the thresholds (the same on every line).
fn compact(e: &serde_json::Value) -> String {
    let keep = [
        "distance",
        "title_jaccard",
        "lede_jaccard",
        "simhash_distance",
        "hours_apart",
    ];
    keep.iter()
        .filter_map(|k| {
            e.get(*k)
                .filter(|v| !v.is_null())
                .map(|v| format!("{k}={v}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
