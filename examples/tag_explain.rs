//! Show everything the tagger found in some articles: the full tagging (tags, scores, evidence)
//! and, with `--all`, every country and topic score before thresholds, for tuning.
//!
//! cargo run --release --example tag_explain -- [--all] FILE.txt... | --id a0001,a0002
//!
//! `--id` reads records from $NEWSDESK_CORPUS/articles/articles.jsonl (or ../shared/corpus).

use newsdesk::tag::{eval, raw_scores, tag, TagConfig, Taxonomy};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let corpus = std::env::var("NEWSDESK_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus").into());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut all = false;
    let mut dump = false;
    let mut files = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--all" => all = true,
            "--dump" => {
                all = true;
                dump = true
            }
            "--id" => ids.extend(args.next().unwrap_or_default().split(',').map(String::from)),
            _ => files.push(PathBuf::from(a)),
        }
    }
    let mut config = TagConfig::default();
    if all {
        config.country_min = 0.0;
        config.country_rel = 0.0;
        config.topic_min = 0.0;
        config.topic_rel = 0.0;
    }
    let tax = Taxonomy::load_with(
        &dir.join("topics.toml"),
        &dir.join("countries.toml"),
        config,
    )?;
    let base = Taxonomy::load(&dir.join("topics.toml"), &dir.join("countries.toml"))?;
    let mut raws = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f)?;
        raws.push((f.display().to_string(), newsdesk::ingest::parse_text(&text)));
    }
    if dump {
        // Every record of the corpus as one JSON line: the tagging with thresholds off.
        let records = eval::read_records(&PathBuf::from(&corpus).join("articles/articles.jsonl"))?;
        for r in records {
            let id = r.id.clone().unwrap_or_default();
            let Ok(a) = newsdesk::normalize::normalize(r.into_raw()) else {
                continue;
            };
            let t = tag(&base, &a);
            let raw = raw_scores(&base, &a);
            let words = a.body_text.split_whitespace().count();
            println!(
                "{}",
                serde_json::json!({"id": id, "words": words, "tagging": t, "raw": raw})
            );
        }
        return Ok(());
    }
    if !ids.is_empty() {
        let records = eval::read_records(&PathBuf::from(&corpus).join("articles/articles.jsonl"))?;
        for r in records {
            if let Some(id) = r.id.clone().filter(|i| ids.contains(i)) {
                raws.push((id, r.into_raw()));
            }
        }
    }
    for (name, raw) in raws {
        let a = newsdesk::normalize::normalize(raw)?;
        let t = tag(&tax, &a);
        println!("== {name}: {}", a.title);
        println!("{}", serde_json::to_string_pretty(&t)?);
    }
    Ok(())
}
