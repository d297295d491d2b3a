//! `newsdesk ingest FILE...`: local files through the same pipeline and writer as feeds.

use crate::config::Config;
use crate::ingest::{read_path, LocalItem};
use crate::pipeline::Tagger;
use crate::store::write::{NewItem, Source};
use crate::store::writer::Writer;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    records: usize,
    new: usize,
    repeats: usize,
    near_duplicates: usize,
    revised: usize,
    failed: usize,
    errors: Vec<String>,
}

pub fn run(config: &Config, files: &[PathBuf], json: bool) -> anyhow::Result<u8> {
    let (writer, writer_thread) = Writer::start(config, None)?;
    let tagger = Tagger::load(config)?;
    let mut summary = Summary::default();
    let mut report = |summary: &mut Summary, msg: String| {
        eprintln!("error: {msg}");
        summary.failed += 1;
        summary.errors.push(msg);
    };

    // Items are grouped per source and written in batches of `batch_size`, each batch one
    // transaction: thousands of records cost a handful of commits, and a failed batch is
    // reported whole, never half-written.
    let mut pending: Vec<(Source, NewItem, String)> = Vec::new();
    for path in files {
        let items = match read_path(path, config.ingest.max_file_bytes) {
            Ok(items) => items,
            Err(e) => {
                report(&mut summary, e.to_string());
                continue;
            }
        };
        for item in items {
            let LocalItem {
                raw,
                guid,
                source,
                source_title,
                origin,
            } = match item {
                Ok(i) => i,
                Err(e) => {
                    report(&mut summary, e.to_string());
                    continue;
                }
            };
            summary.records += 1;
            match tagger.prepare(raw, guid) {
                Ok(new) => pending.push((
                    Source::Local {
                        name: source,
                        title: source_title,
                    },
                    new,
                    origin,
                )),
                Err(e) => report(&mut summary, format!("{origin}: {e}")),
            }
            if pending.len() >= config.store.batch_size {
                flush(&writer, &mut pending, &mut summary, &mut report);
            }
        }
    }
    flush(&writer, &mut pending, &mut summary, &mut report);
    drop(writer);
    if writer_thread.join().is_err() {
        anyhow::bail!("the store writer thread panicked");
    }

    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{} records: {} new ({} near duplicates of stored stories), {} already stored, {} revised, {} failed",
            summary.records, summary.new, summary.near_duplicates, summary.repeats, summary.revised, summary.failed
        );
    }
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

fn flush(
    writer: &Writer,
    pending: &mut Vec<(Source, NewItem, String)>,
    summary: &mut Summary,
    report: &mut impl FnMut(&mut Summary, String),
) {
    let mut rest = std::mem::take(pending);
    while !rest.is_empty() {
        let source = rest[0].0.clone();
        let split = rest
            .iter()
            .position(|(s, _, _)| *s != source)
            .unwrap_or(rest.len());
        let tail = rest.split_off(split);
        let (items, origins): (Vec<NewItem>, Vec<String>) =
            rest.into_iter().map(|(_, i, o)| (i, o)).unzip();
        rest = tail;
        let started = Instant::now();
        let count = items.len();
        let first_origin = origins.first().cloned().unwrap_or_default();
        let batch_source = source.clone();
        let result = writer
            .call_blocking(move |w| w.store_batch(&batch_source, &items))
            .and_then(|r| r);
        match result {
            Ok(outcome) => {
                summary.new += outcome.new_count();
                summary.repeats += outcome.repeat_count();
                summary.revised += outcome.revised_count();
                summary.near_duplicates += outcome.near_duplicates;
                crate::service::events::ArticlesStored {
                    source: crate::service::events::ArticleSource::Cli,
                    origin: &first_origin,
                    new: outcome.new_count() as u64,
                    duplicates: outcome.repeat_count() as u64,
                    revised: outcome.revised_count() as u64,
                    tags: outcome.tags,
                }
                .emit();
                let name = match &source {
                    Source::Local { name, .. } => name.clone(),
                    Source::Feed(id) => format!("feed {id}"),
                };
                tracing::info!(
                    source = %name,
                    items = count,
                    new = outcome.new_count(),
                    repeats = outcome.repeat_count(),
                    revised = outcome.revised_count(),
                    ms = started.elapsed().as_millis() as u64,
                    "ingested batch"
                );
            }
            Err(e) => {
                let first = origins.first().cloned().unwrap_or_default();
                report(
                    summary,
                    format!("{count} records starting at {first} not stored: {e}"),
                );
                summary.failed += count - 1;
            }
        }
    }
}
