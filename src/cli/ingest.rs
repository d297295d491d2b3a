//! `newsdesk ingest FILE...`: local files through the same pipeline and writer as feeds.

use super::output::Progress;
use crate::config::Config;
use crate::ingest::{read_path, LocalItem};
use crate::pipeline::Tagger;
use crate::store::handle::StoreWriter;
use crate::store::write::{BatchOutcome, NewItem, Source};
use crate::store::writer::Pending;
use std::collections::VecDeque;
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
    #[serde(skip)]
    progress: Progress,
}

pub fn run(config: &Config, files: &[PathBuf], json: bool) -> anyhow::Result<u8> {
    let (writer, writer_thread) = StoreWriter::start(config, None)?;
    let tagger = Tagger::load(config)?;
    let mut summary = Summary {
        progress: Progress::on_terminal(),
        ..Summary::default()
    };
    let mut report = |summary: &mut Summary, msg: String| {
        summary.progress.clear();
        eprintln!("error: {msg}");
        summary.failed += 1;
        summary.errors.push(msg);
    };

    // Items are grouped per source and handed to the writer `batch_size` at a time, in jobs of
    // at most `WRITE_JOB_ITEMS` that the writer's group commit joins into transactions of up to
    // `batch_size` and more: thousands of records cost a handful of commits, and a job that
    // fails is reported whole, never half-written.
    let mut pending: Vec<(Source, NewItem, String)> = Vec::new();
    // Jobs handed to the writer and not yet reported: while they are written, the next records
    // are prepared (the pipeline and the writer each keep a core busy), and no more than two
    // batches' worth wait, which bounds memory.
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
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
                flush(
                    &writer,
                    &mut pending,
                    &mut in_flight,
                    2 * config.store.batch_size,
                    &mut summary,
                    &mut report,
                );
            }
        }
    }
    flush(
        &writer,
        &mut pending,
        &mut in_flight,
        2 * config.store.batch_size,
        &mut summary,
        &mut report,
    );
    while let Some(batch) = in_flight.pop_front() {
        batch.finish(&mut summary, &mut report);
    }
    drop(writer);
    if writer_thread.join().is_err() {
        anyhow::bail!("the store writer thread panicked");
    }

    summary.progress.clear();
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

/// Most items in one writer job. Every job runs in a savepoint of the group's transaction, and
/// each statement inside it pays for the pages the job has changed so far (SQLite walks its
/// in-memory sub-journal when a statement ends), so a job's cost grows with its square:
/// 50,000 generated records took 52 s in jobs of 1,000 and 23 s in jobs of 100, with half the
/// peak RSS. Group commit still joins the jobs into large transactions.
const WRITE_JOB_ITEMS: usize = 100;

struct InFlight {
    pending: Pending<BatchOutcome>,
    source: Source,
    count: usize,
    first_origin: String,
    started: Instant,
}

/// Hand the pending items to the writer, a job per run of one source (at most
/// `WRITE_JOB_ITEMS`), and account for the jobs that are done while more than `max_items`
/// are queued.
fn flush(
    writer: &StoreWriter,
    pending: &mut Vec<(Source, NewItem, String)>,
    in_flight: &mut VecDeque<InFlight>,
    max_items: usize,
    summary: &mut Summary,
    report: &mut impl FnMut(&mut Summary, String),
) {
    let mut rest = std::mem::take(pending);
    while !rest.is_empty() {
        let source = rest[0].0.clone();
        let split = rest
            .iter()
            .take(WRITE_JOB_ITEMS)
            .position(|(s, _, _)| *s != source)
            .unwrap_or(rest.len().min(WRITE_JOB_ITEMS));
        let tail = rest.split_off(split);
        let (items, origins): (Vec<NewItem>, Vec<String>) =
            rest.into_iter().map(|(_, i, o)| (i, o)).unzip();
        rest = tail;
        let count = items.len();
        let first_origin = origins.into_iter().next().unwrap_or_default();
        let batch_source = source.clone();
        match writer.submit_batch_blocking(batch_source, items) {
            Ok(pending) => in_flight.push_back(InFlight {
                pending,
                source,
                count,
                first_origin,
                started: Instant::now(),
            }),
            Err(e) => {
                report(
                    summary,
                    format!("{count} records starting at {first_origin} not stored: {e}"),
                );
                summary.failed += count - 1;
            }
        }
        while in_flight.iter().map(|b| b.count).sum::<usize>() > max_items {
            if let Some(batch) = in_flight.pop_front() {
                batch.finish(summary, report);
            }
        }
    }
}

impl InFlight {
    /// Wait for the batch's commit and account for it.
    fn finish(self, summary: &mut Summary, report: &mut impl FnMut(&mut Summary, String)) {
        let InFlight {
            pending,
            source,
            count,
            first_origin,
            started,
        } = self;
        match pending.wait() {
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
                summary.progress.show(&format!(
                    "{} records stored ({} new)",
                    summary.new + summary.repeats + summary.revised,
                    summary.new
                ));
                // The summary line says it all; per batch is for debugging.
                tracing::debug!(
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
                report(
                    summary,
                    format!("{count} records starting at {first_origin} not stored: {e}"),
                );
                summary.failed += count - 1;
            }
        }
    }
}
