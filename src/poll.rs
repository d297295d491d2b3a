//! One poll of one feed, start to finish: conditional GET, parse, normalize and tag (on a
//! blocking thread), then the items, the `fetches` row and the feed's new state committed in
//! one transaction by the writer. Whatever happens, the poll ends recorded and scheduled.

use crate::fetch::{FetchError, FetchErrorKind, FetchRequest, FetchResponse, Fetcher};
use crate::model::RawArticle;
use crate::parse::parse_feed;
use crate::pipeline::Tagger;
use crate::schedule::{self, Hints, Outcome, ScheduleConfig};
use crate::store::feeds::{FeedRow, PollRecord};
use crate::store::handle::StoreWriter;
use crate::store::write::{BatchOutcome, NewItem};
use crate::store::{ts, StoreError};
use chrono::Utc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

/// Everything a poll needs; cheap to clone into each poll task.
#[derive(Clone)]
pub struct PollContext {
    pub fetcher: Fetcher,
    pub writer: StoreWriter,
    pub tagger: Tagger,
    pub schedule: ScheduleConfig,
    pub max_items: usize,
    /// Polls between their fetch and the writer starting on them, one per allowed concurrent
    /// fetch. Fetching is faster than parsing and tagging, so without a bound a pass over many
    /// feeds would hold every body and every prepared item in memory at once. Two per fetch
    /// held 16-21 MB more peak RSS in a cold 1000x50 poll for the same time.
    pub in_flight: Arc<Semaphore>,
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
    /// Set only when a permanent redirect changed the stored URL (once per move).
    pub moved_to: Option<String>,
    /// The redirect's status, 301 or 308.
    pub moved_status: Option<u16>,
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
#[derive(Default)]
struct Prepared {
    items: Vec<NewItem>,
    unchanged: Vec<String>,
}

fn prepare_items(
    tagger: &Tagger,
    items: Vec<RawArticle>,
    feed: &str,
    feed_id: i64,
    store: &StoreWriter,
) -> Prepared {
    let hashes: Vec<String> = items.iter().map(|r| r.item_hash()).collect();
    let keyed: Vec<(String, String)> = items
        .iter()
        .zip(&hashes)
        .filter_map(|(r, h)| Some((r.guid.clone().filter(|g| !g.is_empty())?, h.clone())))
        .collect();
    // A failed lookup only costs the work it would have saved.
    let known = store.unchanged_items(feed_id, &keyed).unwrap_or_else(|e| {
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

/// The feed's intervals as stored: the config's override, and the one in force.
struct Intervals {
    override_interval: Option<Duration>,
    current: Duration,
}

impl Intervals {
    fn of(feed: &FeedRow, default: Duration) -> Intervals {
        let secs = |s: i64| Duration::from_secs(s.max(0) as u64);
        let override_interval = feed.interval_secs.map(secs);
        Intervals {
            override_interval,
            current: feed
                .current_interval_secs
                .map(secs)
                .or(override_interval)
                .unwrap_or(default),
        }
    }
}

/// The pipeline: wait for a slot, fetch, parse, fetch full text, normalize and tag, schedule,
/// commit. Whatever fails, the poll ends recorded and scheduled.
pub async fn poll_feed(ctx: &PollContext, feed: &FeedRow) -> PollSummary {
    // Held until the writer starts on the poll's writes; the semaphore is never closed.
    let waiting = Instant::now();
    let slot = ctx.in_flight.clone().acquire_owned().await.ok();
    // The poll's own state (the HTTP request, parsing, the commit) is several kilobytes of
    // future: boxed only once a slot is held, so the thousands of polls a large subscription
    // queues at once each cost a few hundred bytes while they wait, not the whole pipeline's.
    Box::pin(poll_with_slot(ctx, feed, slot, waiting)).await
}

async fn poll_with_slot(
    ctx: &PollContext,
    feed: &FeedRow,
    slot: Option<OwnedSemaphorePermit>,
    waiting: Instant,
) -> PollSummary {
    let clock = Instant::now();
    let mut record = PollRecord {
        started_at: ts(Utc::now()),
        ..Default::default()
    };
    let intervals = Intervals::of(feed, ctx.schedule.default_interval);
    // `clock` starts after the slot wait; the fetch's own queueing falls inside it.
    let mut fetch_queued = Duration::ZERO;
    let result = fetch_and_prepare(ctx, feed, &intervals, &mut record, &mut fetch_queued).await;
    record.queue_ms = (clock - waiting + fetch_queued).as_millis() as i64;
    record.duration_ms = clock.elapsed().saturating_sub(fetch_queued).as_millis() as i64;
    let items = schedule_poll(ctx, feed, &intervals, result, &mut record);
    let mut summary = summarize(feed, &record);
    match commit(ctx, feed.id, slot, items, record).await {
        Ok((outcome, moved_to)) => {
            summary.new = outcome.new_count();
            summary.repeats = outcome.repeat_count();
            summary.revised = outcome.revised_count();
            summary.tags = outcome.tags;
            summary.near_duplicates = outcome.near_duplicates;
            summary.moved_to = moved_to;
        }
        Err(e) => store_failed(&mut summary, e),
    }
    summary.duration = clock.elapsed();
    summary
}

/// Fetch, parse, full text, normalize and tag: the items to store, or why there are none.
async fn fetch_and_prepare(
    ctx: &PollContext,
    feed: &FeedRow,
    intervals: &Intervals,
    record: &mut PollRecord,
    queued: &mut Duration,
) -> Result<Fetched, Failed> {
    let resp = fetch(ctx, feed, record, queued).await?;
    let hints = Hints {
        ttl: None,
        max_age: resp.max_age,
        retry_after: resp.retry_after,
    };
    if resp.not_modified {
        return Ok(Fetched {
            items: Prepared::default(),
            interval: intervals.current,
            hints,
        });
    }
    // Validators are kept only once the body parsed: a broken feed must not turn into a
    // quiet 304 on the next poll.
    let validators = (resp.etag.clone(), resp.last_modified.clone());
    let label = resp.final_url.to_string();
    let (parsed, mut items) = parse(ctx, resp, intervals)
        .await
        .map_err(|(kind, message)| failed(kind, message, hints))?;
    if feed.full_text {
        crate::fulltext::enrich(&ctx.fetcher, &ctx.writer, &mut items).await;
    }
    let (tagger, store, feed_id) = (ctx.tagger.clone(), ctx.writer.clone(), feed.id);
    let items =
        tokio::task::spawn_blocking(move || prepare_items(&tagger, items, &label, feed_id, &store))
            .await
            .map_err(|e| failed("internal", format!("pipeline task failed: {e}"), hints))?;
    note_unhealthy(record, &parsed, &items);
    (record.etag, record.last_modified) = validators;
    record.title = parsed.title;
    record.site_url = parsed.site_url.map(|u| u.to_string());
    record.items = parsed.count;
    Ok(Fetched {
        items,
        interval: parsed.interval,
        hints: Hints {
            ttl: parsed.ttl,
            ..hints
        },
    })
}

/// A poll that stored nothing, or read an ill-formed feed, says why in its record (its outcome
/// stays ok: the items it could read are stored).
fn note_unhealthy(record: &mut PollRecord, parsed: &ParsedMeta, items: &Prepared) {
    let (kind, error) = if let Some(problem) = &parsed.degraded {
        (
            "degraded",
            format!("ill-formed XML, read leniently: {problem}"),
        )
    } else if parsed.count == 0 {
        ("empty", "the feed lists no items".to_string())
    } else if items.items.is_empty() && items.unchanged.is_empty() {
        let count = parsed.count;
        ("no_text", format!("{count} items, none with text to store"))
    } else {
        return;
    };
    record.error_kind = Some(kind.into());
    record.error = Some(error);
}

/// The conditional GET; the response facts go into the poll's record.
async fn fetch(
    ctx: &PollContext,
    feed: &FeedRow,
    record: &mut PollRecord,
    queued: &mut Duration,
) -> Result<FetchResponse, Failed> {
    let url = Url::parse(&feed.url)
        .map_err(|e| failed("config", format!("bad feed URL: {e}"), Hints::default()))?;
    let req = FetchRequest {
        url,
        etag: feed.etag.clone(),
        last_modified: feed.last_modified.clone(),
    };
    let timed = ctx.fetcher.fetch_timed(&req).await;
    *queued += timed.queued;
    let resp = timed.result.map_err(|e: FetchError| {
        record.status = e.status();
        if e.kind() == FetchErrorKind::Gone {
            record.gone = Some(format!("410 Gone at {}", ts(Utc::now())));
        }
        let hints = Hints {
            retry_after: e.retry_after(),
            ..Default::default()
        };
        failed(e.kind().as_str(), e.text_for(req.url.as_str()), hints)
    })?;
    record.status = Some(resp.status);
    record.bytes = resp.bytes;
    record.moved_to = resp.permanent_redirect.as_ref().map(|u| u.to_string());
    record.moved_status = resp.moved_status;
    Ok(resp)
}

/// What the parser found besides the items, and the interval their dates suggest.
struct ParsedMeta {
    title: Option<String>,
    site_url: Option<Url>,
    ttl: Option<Duration>,
    count: usize,
    interval: Duration,
    /// The first problem of an ill-formed feed that was read leniently.
    degraded: Option<String>,
}

/// Parse the body on a blocking thread. Errors are (kind, text).
async fn parse(
    ctx: &PollContext,
    resp: FetchResponse,
    intervals: &Intervals,
) -> Result<(ParsedMeta, Vec<RawArticle>), (&'static str, String)> {
    let (schedule, max_items) = (ctx.schedule.clone(), ctx.max_items);
    let override_interval = intervals.override_interval;
    tokio::task::spawn_blocking(move || {
        let parsed = parse_feed(
            &resp.body,
            resp.content_type.as_deref(),
            &resp.final_url,
            max_items,
        )
        .map_err(|e| ("parse", e.to_string()))?;
        let times: Vec<_> = parsed
            .items
            .iter()
            .filter_map(|i| i.published.or(i.updated))
            .collect();
        let meta = ParsedMeta {
            interval: schedule::adaptive_interval(&schedule, Utc::now(), &times, override_interval),
            title: parsed.title,
            site_url: parsed.site_url,
            ttl: parsed.ttl,
            count: parsed.items.len(),
            degraded: parsed.degraded,
        };
        Ok((meta, parsed.items))
    })
    .await
    .map_err(|e| ("internal", format!("parser task failed: {e}")))?
}

/// Settle the poll's outcome and its next poll in the record; the items to store.
fn schedule_poll(
    ctx: &PollContext,
    feed: &FeedRow,
    intervals: &Intervals,
    result: Result<Fetched, Failed>,
    record: &mut PollRecord,
) -> Prepared {
    let (items, outcome) = match result {
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
            record.items = 0;
            record.current_interval_secs = intervals.current.as_secs() as i64;
            let consecutive_errors = (feed.consecutive_errors.max(0) as u32).saturating_add(1);
            let failure = Outcome::Failure {
                consecutive_errors,
                hints,
            };
            (Prepared::default(), failure)
        }
    };
    record.next_poll_at = ts(schedule::next_poll_at(
        &ctx.schedule,
        Utc::now(),
        &outcome,
        schedule::jitter_unit(),
    ));
    items
}

/// The summary as far as the record tells it; the commit adds what was stored.
fn summarize(feed: &FeedRow, record: &PollRecord) -> PollSummary {
    PollSummary {
        feed_id: feed.id,
        url: feed.url.clone(),
        status: record.status,
        outcome: record.outcome,
        items: record.items,
        bytes: record.bytes,
        error_kind: record.error_kind.clone(),
        error: record.error.clone(),
        gone: record.gone.is_some(),
        moved_status: record.moved_status,
        consecutive_errors: if record.outcome == "error" {
            (feed.consecutive_errors.max(0) as u64).saturating_add(1)
        } else {
            0
        },
        ..Default::default()
    }
}

/// Items, `fetches` row and feed state in one transaction. Also returns the new URL when a
/// permanent redirect changed it (not when the feed was already there).
async fn commit(
    ctx: &PollContext,
    feed_id: i64,
    slot: Option<OwnedSemaphorePermit>,
    items: Prepared,
    record: PollRecord,
) -> Result<(BatchOutcome, Option<String>), StoreError> {
    // Holding the slot until the commit starved the CPU stage: every slot sat on the writer
    // while it committed, and the second core idled (cold 1000x50 used 1.25 cores). Freed when
    // the write starts, the prepared polls held in memory stay bounded by the slots.
    ctx.writer
        .store_poll(feed_id, items.items, items.unchanged, record, slot)
        .await
}

/// The poll's items and record could not be committed: the feed keeps its old ETag and
/// schedule, so the next pass fetches the same items again; the failure is reported.
fn store_failed(summary: &mut PollSummary, e: StoreError) {
    summary.outcome = "error";
    summary.error_kind = Some("store".into());
    summary.error = Some(format!("not stored: {e}"));
}
