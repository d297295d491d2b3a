//! Train the foreign-policy flag model (logistic regression over the tagger's explainable
//! features) from labelled records, and write it as TOML.
//!
//! cargo run --release --example tag_train -- [--articles F] [--labels F] [--sources A,B]
//!     [--test-sources C,D] [--l2 1.0] [--out config/flag-model.toml]
//!
//! Borderline items are left out of training. With --test-sources, prints the flag figures on
//! those sources (the cross-source check); the model is written only with --out.

use newsdesk::tag::{eval, flag_features, Taxonomy};
use std::fmt::Write as _;
use std::path::PathBuf;

struct Item {
    x: Vec<f64>,
    y: f64,
}

fn load(
    tax: &Taxonomy,
    records: &[newsdesk::model::ArticleRecord],
    labels: &std::collections::HashMap<String, eval::Label>,
    sources: &[String],
) -> anyhow::Result<Vec<Item>> {
    let mut out = Vec::new();
    for r in records {
        let src = r.source.as_deref().unwrap_or("");
        if !sources.is_empty() && !sources.iter().any(|s| src.contains(s.as_str())) {
            continue;
        }
        let Some(l) = r.id.as_ref().and_then(|id| labels.get(id)) else {
            continue;
        };
        let y = match l.foreign_policy {
            eval::Gold::Yes => 1.0,
            eval::Gold::No => 0.0,
            eval::Gold::Borderline => continue,
        };
        let a = newsdesk::normalize::normalize(r.clone().into_raw())?;
        out.push(Item {
            x: flag_features(tax, &a),
            y,
        });
    }
    Ok(out)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Full-batch gradient descent on the mean log loss with an L2 penalty (not on the bias).
fn fit(items: &[Item], l2: f64) -> (f64, Vec<f64>) {
    let d = items[0].x.len();
    let n = items.len() as f64;
    let (mut b, mut w) = (0.0, vec![0.0; d]);
    let lr = 0.2;
    for _ in 0..20000 {
        let mut gb = 0.0;
        let mut gw = vec![0.0; d];
        for it in items {
            let z = b + it.x.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>();
            let e = sigmoid(z) - it.y;
            gb += e;
            for (g, x) in gw.iter_mut().zip(&it.x) {
                *g += e * x;
            }
        }
        b -= lr * gb / n;
        for (wi, g) in w.iter_mut().zip(&gw) {
            *wi -= lr * (g / n + l2 * *wi / n);
        }
    }
    (b, w)
}

fn prf(items: &[Item], b: f64, w: &[f64], threshold: f64) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for it in items {
        let p = sigmoid(b + it.x.iter().zip(w).map(|(x, w)| x * w).sum::<f64>());
        match (p >= threshold, it.y > 0.5) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fn_ += 1.0,
            _ => {}
        }
    }
    let p = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let r = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}

fn list(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn main() -> anyhow::Result<()> {
    let corpus = std::env::var("NEWSDESK_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus").into());
    let mut articles = PathBuf::from(&corpus).join("articles/articles.jsonl");
    let mut labels = PathBuf::from(&corpus).join("labels-dev.jsonl");
    let (mut sources, mut test_sources) = (Vec::new(), Vec::new());
    let mut l2 = 1.0;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--articles" => articles = args.next().map(PathBuf::from).unwrap_or(articles),
            "--labels" => labels = args.next().map(PathBuf::from).unwrap_or(labels),
            "--sources" => sources = list(args.next()),
            "--test-sources" => test_sources = list(args.next()),
            "--l2" => l2 = args.next().unwrap_or_default().parse()?,
            "--out" => out = args.next().map(PathBuf::from),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let tax = Taxonomy::load(&dir.join("topics.toml"), &dir.join("countries.toml"))?;
    let records = eval::read_records(&articles)?;
    let labels = eval::read_labels(&labels)?;
    let train = load(&tax, &records, &labels, &sources)?;
    anyhow::ensure!(!train.is_empty(), "no labelled training records");
    let (b, w) = fit(&train, l2);
    // The threshold that maximises F1 on the training items, kept in a sane band so a small
    // split cannot push it to an extreme.
    let threshold = (30..=70)
        .map(|t| t as f64 / 100.0)
        .max_by(|a, c| {
            prf(&train, b, &w, *a)
                .2
                .total_cmp(&prf(&train, b, &w, *c).2)
        })
        .unwrap_or(0.5);
    let (p, r, f) = prf(&train, b, &w, threshold);
    println!(
        "train: {} items, threshold {threshold:.2}: P {p:.3} R {r:.3} F1 {f:.3}",
        train.len()
    );
    if !test_sources.is_empty() {
        let test = load(&tax, &records, &labels, &test_sources)?;
        let (p, r, f) = prf(&test, b, &w, threshold);
        println!("test:  {} items: P {p:.3} R {r:.3} F1 {f:.3}", test.len());
    }
    let names = tax.feature_names();
    let mut toml = String::from(
        "# The foreign-policy flag model: logistic regression over the tagger's features, trained\n\
         # by `cargo run --release --example tag_train` on ../shared/corpus/labels-dev.jsonl.\n",
    );
    writeln!(
        toml,
        "# sources: {}",
        if sources.is_empty() {
            "all".to_string()
        } else {
            sources.join(",")
        }
    )?;
    writeln!(
        toml,
        "bias = {b:.4}\nthreshold = {threshold:.2}\n\n[weights]"
    )?;
    for (n, w) in names.iter().zip(&w) {
        writeln!(toml, "{n:?} = {w:.4}")?;
    }
    match out {
        Some(path) => std::fs::write(&path, toml)?,
        None => print!("{toml}"),
    }
    Ok(())
}
