//! One poll of one feed, start to finish: conditional GET, parse, normalize and tag (on a
//! blocking thread), then the items, the `fetches` row and the feed's new state committed in
//! one transaction by the writer. Whatever happens, the poll ends recorded and scheduled.

use crate::fetch::{FetchError, FetchRequest, Fetcher};
use crate::parse::parse_feed;
use crate::pipeline::Tagger;
use crate::schedule::{self, Hints, Outcome, ScheduleConfig};
use crate::store::feeds::{FeedRow, PollRecord};
use crate::store::write::NewItem;
use crate::store::writer::Writer;
use crate::store::{ts, StoreError};
use chrono::Utc;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use url::Url;

/// Everything a poll needs; cheap to clone into each poll task.
#[derive(Clone)]
pub struct PollContext {
    pub fetcher: Fetcher,
    pub writer: Writer,
    pub tagger: Tagger,
    pub schedule: ScheduleConfig,
    pub max_items: usize,
    /// Polls between their fetch and the writer starting on them, one per allowed concurrent
    /// fetch. Fetching is faster than parsing and tagging, so without a bound a pass over many
    /// feeds would hold every body and every prepared item in memory at once. Two per fetch
    /// held 16-21 MB more peak RSS in a cold 1000x50 poll for the same time.
    pub in_flight: Arc<Semaphore>,
    /// The database and busy timeout, for the read-only lookup of items already stored.
    pub store: (PathBuf, Duration),
}

/// What a poll did, for logs, counters and `poll --once`'s exit code.
#[derive(Debug, Clone, Default)]
pub struct PollSummary {
    pub feed_id: i64,
    pub url: String,
    pub status: Option<u16>,
    pub outcome: &'static str,
    pub items: usize,
    pub new: usize,
    pub repeats: usize,
    pub revised: usize,
    /// New articles that are near duplicates of a stored story (also counted in `new`).
    pub near_duplicates: usize,
    pub bytes: u64,
    pub duration: Duration,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub moved_to: Option<String>,
    pub gone: bool,
    /// Failures in a row, this one included (0 after a success).
    pub consecutive_errors: u64,
    pub tags: crate::service::events::TagCounts,
}

impl PollSummary {
    pub fn failed(&self) -> bool {
        self.outcome == "error"
    }
}

/// Items whose text could not be normalized are skipped (and counted); they cannot be stored.
/// Items to store, and the guids of those the feed sent again unchanged (only their sightings
/// are updated: normalising and tagging them again would change nothing).
struct Prepared {
    items: Vec<NewItem>,
    unchanged: Vec<String>,
}

fn prepare_items(
    tagger: &Tagger,
    items: Vec<crate::model::RawArticle>,
    feed: &str,
    feed_id: i64,
    store: &(PathBuf, Duration),
) -> Prepared {
    let hashes: Vec<String> = items.iter().map(|r| r.item_hash()).collect();
    let keyed: Vec<(String, String)> = items
        .iter()
        .zip(&hashes)
        .filter_map(|(r, h)| Some((r.guid.clone().filter(|g| !g.is_empty())?, h.clone())))
        .collect();
    // A failed lookup only costs the work it would have saved.
    let known = crate::store::open_read(&store.0, store.1)
        .and_then(|conn| crate::store::write::unchanged_items(&conn, feed_id, &keyed))
        .unwrap_or_else(|e| {
            tracing::debug!(feed, error = %e, "could not look up known items; processing all");
            Default::default()
        });
    let mut out = Prepared {
        items: Vec::with_capacity(items.len()),
        unchanged: Vec::new(),
    };
    for (raw, hash) in items.into_iter().zip(hashes) {
        let guid = raw.guid.clone().unwrap_or_default();
        if known.contains(&guid) {
            out.unchanged.push(guid);
            continue;
        }
        match tagger.prepare(raw, guid) {
            Ok(mut item) => {
                if item.guid.is_empty() {
                    // No identity from the parser: fall back to the canonical URL, else the title.
                    item.guid = item
                        .article
                        .canonical_url
                        .clone()
                        .unwrap_or_else(|| item.article.title.clone());
                }
                item.item_hash = Some(hash);
                out.items.push(item)
            }
            Err(e) => tracing::debug!(feed, error = %e, "feed item skipped"),
        }
    }
    out
}

/// A poll that got a usable answer: items to store (none for a 304) and the schedule inputs.
struct Fetched {
    items: Prepared,
    interval: Duration,
    hints: Hints,
}

/// A poll that failed: the error's kind (for counting), its text, and the server's hints.
struct Failed {
    kind: String,
    message: String,
    hints: Hints,
}

fn failed(kind: &str, message: String, hints: Hints) -> Failed {
    Failed {
        kind: kind.to_string(),
        message,
        hints,
    }
}

pub async fn poll_feed(ctx: &PollContext, feed: &FeedRow) -> PollSummary {
    // Held until the writer starts on the poll's writes; the semaphore is never closed.
    let slot = ctx.in_flight.clone().acquire_owned().await.ok();
    let started = Utc::now();
    let clock = Instant::now();
    let mut summary = PollSummary {
        feed_id: feed.id,
        url: feed.url.clone(),
        ..Default::default()
    };
    let mut record = PollRecord {
        started_at: ts(started),
        ..Default::default()
    };
    let override_interval = feed
        .interval_secs
        .map(|s| Duration::from_secs(s.max(0) as u64));
    let current_interval = feed
        .current_interval_secs
        .map(|s| Duration::from_secs(s.max(0) as u64))
        .or(override_interval)
        .unwrap_or(ctx.schedule.default_interval);

    let result: Result<Fetched, Failed> = async {
        let url = Url::parse(&feed.url)
            .map_err(|e| failed("config", format!("bad feed URL: {e}"), Hints::default()))?;
        let req = FetchRequest {
            url,
            etag: feed.etag.clone(),
            last_modified: feed.last_modified.clone(),
        };
        let resp = ctx.fetcher.fetch(&req).await.map_err(|e: FetchError| {
            record.status = e.status();
            let hints = Hints {
                retry_after: e.retry_after(),
                ..Default::default()
            };
            if e.kind() == crate::fetch::FetchErrorKind::Gone {
                record.gone = Some(format!("410 Gone at {}", ts(Utc::now())));
            }
            failed(e.kind().as_str(), e.text_for(req.url.as_str()), hints)
        })?;
        record.status = Some(resp.status);
        record.bytes = resp.bytes;
        if let Some(moved) = &resp.permanent_redirect {
            record.moved_to = Some(moved.to_string());
        }
        let hints = Hints {
            ttl: None,
            max_age: resp.max_age,
            retry_after: resp.retry_after,
        };
        if resp.not_modified {
            return Ok(Fetched {
                items: Prepared {
                    items: Vec::new(),
                    unchanged: Vec::new(),
                },
                interval: current_interval,
                hints,
            });
        }
        // Validators are kept only once the body parsed: a broken feed must not turn into a
        // quiet 304 on the next poll.
        let validators = (resp.etag.clone(), resp.last_modified.clone());
        let tagger = ctx.tagger.clone();
        let max_items = ctx.max_items;
        let feed_url = resp.final_url.clone();
        let parse_url = feed_url.clone();
        let full_text = feed.full_text;
        let schedule = ctx.schedule.clone();
        let (parsed, items, interval) = tokio::task::spawn_blocking(move || {
            let parsed = parse_feed(
                &resp.body,
                resp.content_type.as_deref(),
                &parse_url,
                max_items,
            )?;
            let times: Vec<_> = parsed
                .items
                .iter()
                .filter_map(|i| i.published.or(i.updated))
                .collect();
            let interval =
                schedule::adaptive_interval(&schedule, Utc::now(), &times, override_interval);
            let meta = (
                parsed.title.clone(),
                parsed.site_url.clone(),
                parsed.ttl,
                parsed.items.len(),
                parsed.degraded.clone(),
            );
            Ok::<_, crate::parse::ParseError>((meta, parsed.items, interval))
        })
        .await
        .map_err(|e| failed("internal", format!("parser task failed: {e}"), hints))?
        .map_err(|e| failed("parse", e.to_string(), hints))?;
        let mut items = items;
        if full_text {
            crate::fulltext::enrich(&ctx.fetcher, &ctx.writer, &mut items).await;
        }
        let label = feed_url.to_string();
        let store = ctx.store.clone();
        let feed_id = feed.id;
        let items = tokio::task::spawn_blocking(move || {
            prepare_items(&tagger, items, &label, feed_id, &store)
        })
        .await
        .map_err(|e| failed("internal", format!("pipeline task failed: {e}"), hints))?;
        let (title, site_url, ttl, count, degraded) = parsed;
        if let Some(problem) = degraded {
            // Stored, with the reason: an ill-formed feed read leniently is ok but not healthy.
            record.error_kind = Some("degraded".into());
            record.error = Some(format!("ill-formed XML, read leniently: {problem}"));
        } else if count == 0 {
            // Not a failure, but a poll that stored nothing says why.
            record.error_kind = Some("empty".into());
            record.error = Some("the feed lists no items".into());
        } else if items.items.is_empty() && items.unchanged.is_empty() {
            record.error_kind = Some("no_text".into());
            record.error = Some(format!("{count} items, none with text to store"));
        }
        (record.etag, record.last_modified) = validators;
        record.title = title;
        record.site_url = site_url.map(|u| u.to_string());
        summary.items = count;
        Ok(Fetched {
            items,
            interval,
            hints: Hints { ttl, ..hints },
        })
    }
    .await;

    let now = Utc::now();
    record.duration_ms = clock.elapsed().as_millis() as i64;
    let (items, sched_outcome) = match result {
        Ok(Fetched {
            items,
            interval,
            hints,
        }) => {
            record.outcome = if record.status == Some(304) {
                "not_modified"
            } else {
                "ok"
            };
            record.current_interval_secs = interval.as_secs() as i64;
            (items, Outcome::Success { interval, hints })
        }
        Err(Failed {
            kind,
            message,
            hints,
        }) => {
            record.outcome = "error";
            record.error_kind = Some(kind);
            record.error = Some(message);
            record.current_interval_secs = current_interval.as_secs() as i64;
            let consecutive_errors = (feed.consecutive_errors.max(0) as u32).saturating_add(1);
            summary.consecutive_errors = u64::from(consecutive_errors);
            (
                Prepared {
                    items: Vec::new(),
                    unchanged: Vec::new(),
                },
                Outcome::Failure {
                    consecutive_errors,
                    hints,
                },
            )
        }
    };
    record.items = summary.items;
    record.next_poll_at = ts(schedule::next_poll_at(
        &ctx.schedule,
        now,
        &sched_outcome,
        schedule::jitter_unit(),
    ));

    summary.status = record.status;
    summary.outcome = record.outcome;
    summary.bytes = record.bytes;
    summary.error_kind = record.error_kind.clone();
    summary.error = record.error.clone();
    summary.moved_to = record.moved_to.clone();
    summary.gone = record.gone.is_some();

    let feed_id = feed.id;
    let stored = ctx
        .writer
        .call_grouped(move |w| {
            // Holding the slot until the commit starved the CPU stage: every slot sat on the
            // writer while it committed, and the second core idled (cold 1000x50 used 1.25
            // cores). Freed here, the prepared polls held in memory stay bounded by the slots.
            drop(slot);
            let mut record = record;
            w.store_poll(feed_id, &items.items, &items.unchanged, &mut record)
        })
        .await;
    match stored {
        Ok(outcome) => {
            summary.new = outcome.new_count();
            summary.repeats = outcome.repeat_count();
            summary.revised = outcome.revised_count();
            summary.tags = outcome.tags;
            summary.near_duplicates = outcome.near_duplicates;
        }
        Err(e) => store_failed(&mut summary, e),
    }
    summary.duration = clock.elapsed();
    summary
}

/// The poll's items and record could not be committed: the feed keeps its old ETag and
/// schedule, so the next pass fetches the same items again; the failure is reported.
fn store_failed(summary: &mut PollSummary, e: StoreError) {
    summary.outcome = "error";
    summary.error_kind = Some("store".into());
    summary.error = Some(format!("not stored: {e}"));
}
