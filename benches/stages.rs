//! Per-article cost of each pipeline stage on generated feed items (the farm's: 1-3 KB of HTML
//! each), in microseconds: parse, normalize, dedupe fingerprint, tag, and the store's commit
//! (with full-text indexing). Plain timing loops, best of several rounds; prints figures, is
//! not a test. `bench/run` calls it.

#[path = "support/farmgen.rs"]
mod farmgen;

use newsdesk::store::write::{Source, WriterState};
use std::hint::black_box;
use std::time::Instant;

const FEEDS: usize = 40;
const ITEMS: usize = 50;

fn best_of(rounds: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..rounds).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() -> anyhow::Result<()> {
    let repo = env!("CARGO_MANIFEST_DIR");
    let config = newsdesk::config::Config::parse(
        &format!(
            "[taxonomy]\ntopics = \"{repo}/config/topics.toml\"\ncountries = \"{repo}/config/countries.toml\"\n"
        ),
        None,
    )?;
    let tagger = newsdesk::pipeline::Tagger::load(&config)?;
    let url = url::Url::parse("https://farm.example/feed.xml")?;
    let docs: Vec<Vec<u8>> = (0..FEEDS)
        .map(|f| farmgen::rss(f, 0, ITEMS).into_bytes())
        .collect();
    let n = (FEEDS * ITEMS) as f64;
    let per = |secs: f64| secs / n * 1e6;

    let parse = best_of(5, || {
        let t = Instant::now();
        for d in &docs {
            black_box(newsdesk::parse::parse_feed(d, None, &url, 1000).ok());
        }
        per(t.elapsed().as_secs_f64())
    });
    let raws: Vec<_> = docs
        .iter()
        .filter_map(|d| newsdesk::parse::parse_feed(d, None, &url, 1000).ok())
        .flat_map(|p| p.items)
        .collect();
    let normalize = best_of(5, || {
        let t = Instant::now();
        for r in &raws {
            black_box(newsdesk::normalize::normalize(r.clone()).ok());
        }
        per(t.elapsed().as_secs_f64())
    });
    let articles: Vec<_> = raws
        .iter()
        .filter_map(|r| newsdesk::normalize::normalize(r.clone()).ok())
        .collect();
    let fingerprint = best_of(5, || {
        let t = Instant::now();
        for a in &articles {
            black_box(newsdesk::dedupe::fingerprint(a));
        }
        per(t.elapsed().as_secs_f64())
    });
    let tag = best_of(5, || {
        let t = Instant::now();
        for a in &articles {
            black_box(tagger.tag(a));
        }
        per(t.elapsed().as_secs_f64())
    });
    // The raw clone is part of every normalize round above; measure it to report it apart.
    let clone = best_of(5, || {
        let t = Instant::now();
        for r in &raws {
            black_box(r.clone());
        }
        per(t.elapsed().as_secs_f64())
    });

    let items: Vec<_> = raws
        .iter()
        .enumerate()
        .filter_map(|(i, r)| tagger.prepare(r.clone(), format!("g{i}")).ok())
        .collect();
    let store = best_of(3, || {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = newsdesk::store::open_write(
            &dir.path().join("bench.db"),
            std::time::Duration::from_secs(5),
        )
        .expect("open");
        let mut state = WriterState::new(conn, &config.dedupe).expect("writer");
        let source = Source::Local {
            name: "bench".into(),
            title: "bench".into(),
        };
        let t = Instant::now();
        // One transaction per feed, as a poll commits.
        for chunk in items.chunks(ITEMS) {
            state.store_batch(&source, chunk).expect("store");
        }
        let secs = t.elapsed().as_secs_f64();
        state.close();
        per(secs)
    });

    println!(
        "per-article cost, us (best of rounds, {} generated items):",
        raws.len()
    );
    println!("  parse      {parse:>8.1}");
    println!("  normalize  {:>8.1}", (normalize - clone).max(0.0));
    println!(
        "  dedupe     {fingerprint:>8.1}  (fingerprint; index lookup: cargo bench --bench dedupe)"
    );
    println!("  tag        {tag:>8.1}");
    println!("  store      {store:>8.1}  (commit per 50 items, full-text index on)");
    println!(
        "{}",
        serde_json::json!({
            "parse_us": parse, "normalize_us": (normalize - clone).max(0.0),
            "fingerprint_us": fingerprint, "tag_us": tag, "store_us": store,
        })
    );
    Ok(())
}
