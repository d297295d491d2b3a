//! The spool folder: article files dropped in `[spool] dir` are ingested like `newsdesk ingest`
//! and then moved to `done/`, or to `failed/` with a `.error` file beside them saying why.
//! Only complete files are taken: names starting with "." or ending in ".tmp"/".part" are
//! skipped (write them under such a name, then rename), and a file must have kept its size
//! and modification time for the settle period. A file whose articles could not be written
//! (database locked, disk full) stays where it is and is tried again: nothing is ever lost.

use crate::ingest::read_path;
use crate::pipeline::Tagger;
use crate::service::events::{SpoolFile, SpoolOutcome};
use crate::store::handle::StoreWriter;
use crate::store::write::{NewItem, Source};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SpoolReport {
    pub done: usize,
    pub failed: usize,
    pub articles_new: usize,
    /// Files left in place because storing failed; they are retried on the next scan.
    pub retry: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Files ready to take: complete by name and settled for `settle`.
fn ready_files(dir: &Path, settle: Duration) -> Result<Vec<PathBuf>, SpoolError> {
    let now = SystemTime::now();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || name.ends_with(".tmp")
            || name.ends_with(".part")
            || name.ends_with(".error")
        {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if age >= settle {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Move `file` into `dir/sub/`, never overwriting an earlier file of the same name.
fn move_into(file: &Path, sub: &Path) -> Result<PathBuf, SpoolError> {
    std::fs::create_dir_all(sub).map_err(io(sub))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut target = sub.join(&name);
    let mut n = 1;
    while target.exists() {
        target = sub.join(format!("{n}-{name}"));
        n += 1;
    }
    std::fs::rename(file, &target).map_err(io(file))?;
    Ok(target)
}

/// One pass over the spool folder. Blocking: run it off the async runtime's threads.
pub fn scan_once(
    dir: &Path,
    writer: &StoreWriter,
    tagger: &Tagger,
    settle: Duration,
    max_bytes: usize,
) -> Result<SpoolReport, SpoolError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut report = SpoolReport::default();
    for file in ready_files(dir, settle)? {
        let mut errors: Vec<String> = Vec::new();
        let mut items: Vec<NewItem> = Vec::new();
        let mut stored = 0;
        match read_path(&file, max_bytes) {
            Ok(records) => {
                for r in records {
                    match r {
                        Ok(local) => match tagger.prepare(local.raw, local.guid) {
                            Ok(item) => items.push(item),
                            Err(e) => errors.push(format!("{}: {e}", local.origin)),
                        },
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
        if !items.is_empty() {
            let source = Source::Local {
                name: "spool".into(),
                title: "Spool folder".into(),
            };
            let batch = std::mem::take(&mut items);
            match writer
                .submit_batch_blocking(source, batch)
                .and_then(|pending| pending.wait())
            {
                Ok(outcome) => {
                    report.articles_new += outcome.new_count();
                    stored = outcome.items.len();
                    crate::service::events::ArticlesStored {
                        source: crate::service::events::ArticleSource::Spool,
                        origin: &file.display().to_string(),
                        new: outcome.new_count() as u64,
                        duplicates: outcome.repeat_count() as u64,
                        revised: outcome.revised_count() as u64,
                        tags: outcome.tags,
                    }
                    .emit();
                }
                Err(e) => {
                    if writer.store_failing() {
                        // The writer has reported the store's failure once for everyone.
                        tracing::debug!(file = %file.display(), error = %e, "spool file not stored; will retry");
                    } else {
                        tracing::warn!(file = %file.display(), error = %e, "spool file not stored; will retry");
                    }
                    report.retry += 1;
                    continue;
                }
            }
        }
        if errors.is_empty() {
            move_into(&file, &dir.join("done"))?;
            SpoolFile {
                file: &file,
                outcome: SpoolOutcome::Done {
                    articles: stored as u64,
                },
            }
            .emit();
            report.done += 1;
        } else {
            let to = move_into(&file, &dir.join("failed"))?;
            let mut why = to.clone().into_os_string();
            why.push(".error");
            std::fs::write(&why, errors.join("\n") + "\n").map_err(io(Path::new(&why)))?;
            SpoolFile {
                file: &file,
                outcome: SpoolOutcome::Failed { reason: &errors[0] },
            }
            .emit();
            report.failed += 1;
        }
    }
    Ok(report)
}
