//! Near-duplicate cost: fingerprinting a real article, and index lookups with 10k, 100k and
//! 1M synthetic fingerprints stored. Prints figures; not a test.
//!
//! cargo bench --bench dedupe

use newsdesk::dedupe::{fingerprint, DedupeConfig, Fingerprint, NearDupIndex};
use std::hint::black_box;
use std::time::Instant;

/// A small deterministic generator, so runs compare.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How synthetic items draw their words from a 50k-word vocabulary.
#[derive(Clone, Copy)]
enum Words {
    /// Every word equally likely: the candidate buckets fill slowly, so a small index is
    /// cheaper to search than a full one.
    Uniform,
    /// Word frequencies follow Zipf's law (s = 1), as in news text: the common words' buckets
    /// are at their cap already at a few thousand items.
    Zipf,
}

const VOCABULARY: usize = 50_000;

/// Cumulative Zipf weights over the vocabulary, for sampling by binary search.
fn zipf_cdf() -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=VOCABULARY)
        .map(|r| {
            acc += 1.0 / r as f64;
            acc
        })
        .collect();
    cdf.iter_mut().for_each(|c| *c /= acc);
    cdf
}

fn word(rng: &mut Rng, words: Words, cdf: &[f64]) -> u32 {
    let id = match words {
        Words::Uniform => rng.next() % VOCABULARY as u64,
        Words::Zipf => {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            cdf.partition_point(|&c| c < u).min(VOCABULARY - 1) as u64
        }
    };
    // A word's hash does not depend on its frequency (an odd multiplier is a bijection).
    (id as u32).wrapping_mul(0x9e37_79b1)
}

/// A synthetic fingerprint shaped like a feed item's: a long text half the time, 8 title and
/// 30 lede words, times spread over a month.
fn synthetic(rng: &mut Rng, t0: i64, words: Words, cdf: &[f64]) -> Fingerprint {
    let n_words = if rng.next() % 2 == 0 { 40 } else { 400 };
    let title = (0..8).map(|_| word(rng, words, cdf)).collect();
    let lede = (0..30).map(|_| word(rng, words, cdf)).collect();
    let time = t0 + (rng.next() % (30 * 86_400)) as i64;
    Fingerprint::from_parts(rng.next(), n_words, Some(time), Some("en"), title, lede)
}

fn main() {
    let corpus = std::env::var("NEWSDESK_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus").into());
    let path = format!("{corpus}/articles/feed-items.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            // CI builds benches without running them; a missing corpus is not a failure.
            println!("dedupe bench skipped: cannot read {path}: {e} (set NEWSDESK_CORPUS)");
            return;
        }
    };
    let articles: Vec<_> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<newsdesk::model::ArticleRecord>(l).ok())
        .filter_map(|r| newsdesk::normalize::normalize(r.into_raw()).ok())
        .collect();

    // The best of several rounds: on a shared machine the others only add noise.
    let per_fp = best_of(7, || {
        let start = Instant::now();
        for a in &articles {
            black_box(fingerprint(a));
        }
        start.elapsed().as_secs_f64() / articles.len() as f64
    });
    println!(
        "fingerprint: {:.2} us per feed item ({} items)",
        per_fp * 1e6,
        articles.len()
    );

    let cfg = DedupeConfig::default();
    let t0 = 1_770_000_000;
    let cdf = zipf_cdf();
    for (words, label) in [(Words::Uniform, "uniform"), (Words::Zipf, "zipf")] {
        println!("synthetic fingerprints, {label} word frequencies:");
        lookups(&cfg, t0, words, &cdf, per_fp);
    }
}

fn lookups(cfg: &DedupeConfig, t0: i64, words: Words, cdf: &[f64], per_fp: f64) {
    for n in [10_000usize, 100_000, 1_000_000] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut index = NearDupIndex::new(cfg);
        let fill = Instant::now();
        for id in 0..n {
            index.insert_with_group(id as i64, id as i64, synthetic(&mut rng, t0, words, cdf));
        }
        let fill = fill.elapsed();
        let queries: Vec<Fingerprint> = (0..20_000)
            .map(|_| synthetic(&mut rng, t0, words, cdf))
            .collect();
        let mut found = 0;
        let per_lookup = best_of(5, || {
            let start = Instant::now();
            found = 0;
            for q in &queries {
                found += black_box(index.find(q)).is_some() as usize;
            }
            start.elapsed().as_secs_f64() / queries.len() as f64
        });
        println!(
            "index of {n:>9}: lookup {:.2} us, fingerprint + lookup {:.2} us per article ({} matches in {} queries; filled in {:.2} s)",
            per_lookup * 1e6,
            (per_lookup + per_fp) * 1e6,
            found,
            queries.len(),
            fill.as_secs_f64()
        );
    }
}

fn best_of(rounds: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..rounds).map(|_| f()).fold(f64::INFINITY, f64::min)
}
