//! `newsdesk tags`, `newsdesk retag`, `newsdesk eval`: the taxonomy, applied and measured.

use super::output::table;
use crate::config::Config;
use crate::pipeline::Tagger;
use crate::store::{open_read, retag, writer::Writer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Articles re-tagged per transaction: small enough that the daemon's writes interleave.
const RETAG_BATCH: usize = 500;

pub fn list(config: &Config, counts: bool, json: bool) -> anyhow::Result<u8> {
    let tagger = Tagger::load(config)?;
    let mut used: HashMap<(String, String), i64> = HashMap::new();
    if counts {
        match &config.store.url {
            Some(url) => {
                let mut client = crate::store::pg::migrate::open_read(url)?;
                used.extend(crate::store::pg::read::tag_counts(&mut client)?);
            }
            None => {
                let conn = open_read(&config.store.path, config.store.busy_timeout)?;
                used.extend(retag::tag_counts(&conn)?);
            }
        }
    }
    let defs = tagger.taxonomy().tag_defs();
    if json {
        let rows: Vec<serde_json::Value> = defs
            .iter()
            .map(|d| {
                let mut v = serde_json::json!({"kind": d.kind.as_str(), "slug": d.slug, "label": d.label, "code": d.code});
                if counts {
                    v["articles"] = used.get(&(d.kind.as_str().to_string(), d.slug.clone())).copied().unwrap_or(0).into();
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    let mut rows: Vec<Vec<String>> = defs
        .iter()
        .map(|d| {
            let n = used
                .get(&(d.kind.as_str().to_string(), d.slug.clone()))
                .copied()
                .unwrap_or(0);
            let mut row = vec![d.kind.as_str().to_string(), d.slug.clone()];
            if counts {
                row.push(n.to_string());
            }
            row.push(match &d.code {
                Some(c) => format!("{} ({c})", d.label),
                None => d.label.clone(),
            });
            row
        })
        .collect();
    if counts {
        rows.sort_by(|a, b| {
            b[2].parse::<i64>()
                .unwrap_or(0)
                .cmp(&a[2].parse::<i64>().unwrap_or(0))
        });
        table(&["KIND", "SLUG", "ARTICLES", "LABEL"], &rows);
    } else {
        table(&["KIND", "SLUG", "LABEL"], &rows);
    }
    Ok(0)
}

/// Re-apply the taxonomy to stored articles (all, or those first seen since `since`), in
/// batches, each batch one transaction through the writer.
pub fn retag(config: &Config, since: Option<String>, json: bool) -> anyhow::Result<u8> {
    let tagger = Tagger::load(config)?;
    if let Some(url) = &config.store.url {
        return retag_pg(config, url, &tagger, since, json);
    }
    let (writer, writer_thread) = Writer::start(config, None)?;
    let read = open_read(&config.store.path, config.store.busy_timeout)?;
    let since = since.unwrap_or_default();
    let total = retag::count_since(&read, &since)?;
    let mut done = 0usize;
    let mut changed_flags = 0usize;
    let mut last_id = 0i64;
    loop {
        let batch = retag::batch(&read, last_id, &since, RETAG_BATCH)?;
        let Some(last) = batch.last() else { break };
        last_id = last.id;
        let tagged = tag_batch(&tagger, &batch, &mut changed_flags);
        done += tagged.len();
        writer
            .call_blocking(move |w| w.retag(&tagged))
            .and_then(|r| r)?;
        if !json {
            eprintln!("retagged {done}/{total}");
        }
    }
    drop(writer);
    if writer_thread.join().is_err() {
        anyhow::bail!("the store writer thread panicked");
    }
    print_retagged(done, changed_flags, json);
    Ok(0)
}

/// `retag` on PostgreSQL: the same batches, read on one connection and written on another,
/// each batch one transaction.
fn retag_pg(
    config: &Config,
    url: &str,
    tagger: &Tagger,
    since: Option<String>,
    json: bool,
) -> anyhow::Result<u8> {
    use crate::store::pg;
    let mut read = pg::migrate::open_write(url)?;
    let mut writer =
        pg::write::PgState::new(pg::connect(url)?, &config.dedupe, pg::feeds::owner_name());
    let since = since.unwrap_or_default();
    let total = pg::read::count_since(&mut read, &since)?;
    let (mut done, mut changed_flags, mut last_id) = (0usize, 0usize, 0i64);
    loop {
        let batch = pg::read::retag_batch(&mut read, last_id, &since, RETAG_BATCH)?;
        let Some(last) = batch.last() else { break };
        last_id = last.id;
        let tagged = tag_batch(tagger, &batch, &mut changed_flags);
        done += tagged.len();
        writer.retag(&tagged)?;
        if !json {
            eprintln!("retagged {done}/{total}");
        }
    }
    print_retagged(done, changed_flags, json);
    Ok(0)
}

fn print_retagged(done: usize, changed_flags: usize, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"retagged": done, "flag_changed": changed_flags})
        );
    } else {
        println!("{done} articles retagged; the foreign-policy flag changed on {changed_flags}");
    }
}

pub fn eval(
    config: &Config,
    articles: &[PathBuf],
    labels: &[PathBuf],
    predictions: Option<&Path>,
    json: bool,
) -> anyhow::Result<u8> {
    let tagger = Tagger::load(config)?;
    let started = std::time::Instant::now();
    let report = crate::tag::eval::evaluate(tagger.taxonomy(), articles, labels, predictions)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
        eprintln!("({:.2} s)", started.elapsed().as_secs_f64());
    }
    Ok(0)
}

/// Tag a batch of stored articles again, counting those whose flag changes.
fn tag_batch(
    tagger: &Tagger,
    batch: &[retag::StoredArticle],
    changed_flags: &mut usize,
) -> Vec<(i64, crate::store::write::TagSet)> {
    batch
        .iter()
        .map(|s| {
            let t = tagger.tag(&s.article);
            if s.foreign_policy != Some(t.foreign_policy) {
                *changed_flags += 1;
            }
            (s.id, t)
        })
        .collect()
}
