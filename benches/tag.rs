//! Tagger throughput on one thread: taxonomy load time, then `tag` alone (records are read and
//! normalized before the timed loop, through the same path as `newsdesk eval`) over the
//! corpus' full articles and its feed items (a headline and a sentence or two). Plain timing
//! loops, best of several rounds; prints figures, is not a test.
//!
//! NEWSDESK_CORPUS=/path/to/corpus cargo bench --bench tag

use newsdesk::tag::{eval, tag, tag_with, Taxonomy};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn best_of(rounds: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..rounds).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() -> anyhow::Result<()> {
    let corpus = PathBuf::from(
        std::env::var("NEWSDESK_CORPUS")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus").into()),
    );
    let files = ["articles/articles.jsonl", "articles/feed-items.jsonl"];
    if let Some(missing) = files.iter().find(|f| !corpus.join(f).is_file()) {
        // CI builds benches without running them; a missing corpus is not a failure.
        println!(
            "tag bench skipped: {} not found (set NEWSDESK_CORPUS to the shared corpus)",
            corpus.join(missing).display()
        );
        return Ok(());
    }

    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let (topics, countries) = (config.join("topics.toml"), config.join("countries.toml"));
    let load = best_of(5, || {
        let t = Instant::now();
        black_box(Taxonomy::load(&topics, &countries).ok());
        t.elapsed().as_secs_f64()
    });
    let tax = Taxonomy::load(&topics, &countries)?;

    println!("taxonomy load: {:.1} ms (best of 5)", load * 1e3);
    println!(
        "{:<18} {:>6} {:>10} {:>12} {:>10} {:>16}",
        "tag, one thread", "items", "avg bytes", "articles/s", "us/article", "no model: art/s"
    );
    let mut json = serde_json::Map::new();
    json.insert("load_ms".into(), (load * 1e3).into());
    for file in files {
        let records = eval::read_records(&corpus.join(file))?;
        let articles: Vec<_> = eval::articles(&records)
            .into_iter()
            .filter_map(|(_, a)| a)
            .collect();
        let bytes: usize = articles
            .iter()
            .map(|a| a.title.len() + a.summary.as_ref().map_or(0, String::len) + a.body_text.len())
            .sum();
        let n = articles.len() as f64;
        let secs = best_of(7, || {
            let t = Instant::now();
            for a in &articles {
                black_box(tag(&tax, black_box(a)));
            }
            t.elapsed().as_secs_f64()
        });
        // The same articles without the trained model (flag model and topic rules): what the
        // model costs.
        let rules = best_of(7, || {
            let t = Instant::now();
            for a in &articles {
                black_box(tag_with(&tax, None, black_box(a)));
            }
            t.elapsed().as_secs_f64()
        });
        let name = file
            .trim_start_matches("articles/")
            .trim_end_matches(".jsonl");
        println!(
            "{:<18} {:>6} {:>10.0} {:>12.0} {:>10.1} {:>16.0}",
            name,
            articles.len(),
            bytes as f64 / n,
            n / secs,
            secs / n * 1e6,
            n / rules
        );
        json.insert(format!("{name}_no_model_per_s"), (n / rules).into());
        json.insert(format!("{name}_per_s"), (n / secs).into());
        json.insert(format!("{name}_us"), (secs / n * 1e6).into());
    }
    println!("{}", serde_json::Value::Object(json));
    Ok(())
}
