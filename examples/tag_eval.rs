//! Evaluate the tagger on labelled records, optionally on a subset of sources.
//!
//! cargo run --release --example tag_eval -- [--articles F] [--labels F] [--predictions OUT]
//!     [--sources BBC,HuffPost] [--errors] [--tag "country_min = 2.0"]
//!
//! Defaults read the corpus at $NEWSDESK_CORPUS (or ../shared/corpus) and config/.

use newsdesk::tag::{eval, tag, TagKind, Taxonomy};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let corpus = std::env::var("NEWSDESK_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus").into());
    let mut articles = PathBuf::from(&corpus).join("articles/articles.jsonl");
    let mut labels = PathBuf::from(&corpus).join("labels-dev.jsonl");
    let mut predictions = None;
    let mut sources: Vec<String> = Vec::new();
    let mut errors = false;
    let mut tuning = String::new();
    let mut model: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--articles" => articles = args.next().map(PathBuf::from).unwrap_or(articles),
            "--labels" => labels = args.next().map(PathBuf::from).unwrap_or(labels),
            "--predictions" => predictions = args.next().map(PathBuf::from),
            "--sources" => {
                sources = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            "--errors" => errors = true,
            // Scorer tuning as in the main config's [tag] table: --tag "country_min = 2.0"
            "--tag" => {
                tuning.push_str(&args.next().unwrap_or_default());
                tuning.push('\n');
            }
            "--model" => model = args.next().map(PathBuf::from),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let config: newsdesk::tag::TagConfig = toml::from_str(&tuning)?;
    let mut tax = Taxonomy::load_with(
        &dir.join("topics.toml"),
        &dir.join("countries.toml"),
        config,
    )?;
    if let Some(m) = model {
        tax = tax.with_flag_model(&m)?;
    }
    let mut records = eval::read_records(&articles)?;
    if !sources.is_empty() {
        records.retain(|r| {
            let src = r.source.as_deref().unwrap_or("");
            sources.iter().any(|s| src.contains(s.as_str()))
        });
    }
    let labels = eval::read_labels(&labels)?;
    let preds = eval::predict(&tax, &records);
    if let Some(out) = predictions {
        eval::write_predictions(&out, &preds)?;
    }
    if errors {
        for (r, p) in records.iter().zip(&preds) {
            let Some(l) = labels.get(&p.id) else { continue };
            let gold = match l.foreign_policy {
                eval::Gold::Yes => Some(true),
                eval::Gold::No => Some(false),
                eval::Gold::Borderline => None,
            };
            let mut gc = l.countries.clone();
            gc.sort();
            let mut pc = p.countries.clone();
            pc.sort();
            let mut gt = l.topics.clone();
            gt.sort();
            let mut pt = p.topics.clone();
            pt.sort();
            let flag_wrong = gold.is_some_and(|g| g != p.foreign_policy);
            if flag_wrong || gc != pc || (gold == Some(true) && gt != pt) {
                let a = newsdesk::normalize::normalize(r.clone().into_raw())?;
                let t = tag(&tax, &a);
                println!(
                    "{} {}{} gold={:?} p={:.2} | C gold={:?} got={:?} | T gold={:?} got={:?}\n   {} | {}",
                    p.id,
                    if flag_wrong { "FLAG " } else { "" },
                    if gc != pc { "CTRY " } else { "" },
                    l.foreign_policy,
                    t.score,
                    gc,
                    pc,
                    gt,
                    t.slugs(TagKind::Topic),
                    a.title,
                    a.body_text.chars().take(200).collect::<String>().replace('\n', " ")
                );
            }
        }
    }
    println!("{}", eval::score(&preds, &labels));
    Ok(())
}
