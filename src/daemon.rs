//! The long-running service and its one-shot sibling. `run` owns the pieces: the store writer
//! thread, the scheduler loop that starts a poll task for each due feed (never two for one
//! feed), the spool scanner, and the optional /healthz + /metrics listener. Shutdown is a
//! token: when it fires, no new poll starts, polls in flight get the grace period to finish
//! and commit, and the writer drains its queue before the process exits.
//!
//! Everything that happens is reported through `service::events`, so the log and /metrics
//! always agree.

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::pipeline::Tagger;
use crate::poll::{poll_feed, PollContext, PollSummary};
use crate::service::backoff::{Allowance, StoreBackoff};
use crate::service::events::{self, ArticleSource, FeedLog, PollOutcome};
use crate::service::{health::Health, notify};
use crate::store::feeds::{FeedRow, PollRecord};
use crate::store::handle::{StoreWriter, WriterThread};
use crate::store::service::UnstoredPoll;
use crate::store::{feeds, open_read};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// Longest the scheduler sleeps between looks at the feed table, so feeds added by the CLI
/// while the daemon runs are picked up soon; also the pace of watchdog pings.
const SCHEDULER_TICK: Duration = Duration::from_secs(5);

/// How often retention runs (also once at start).
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

struct Parts {
    ctx: PollContext,
    writer_thread: WriterThread,
}

async fn build(config: &Config, health: Option<Arc<Health>>) -> anyhow::Result<Parts> {
    // Opening the store blocks (and PostgreSQL's client may not run inside the runtime).
    let cfg = config.clone();
    let (writer, writer_thread) =
        tokio::task::spawn_blocking(move || StoreWriter::start(&cfg, health)).await??;
    let reconciled = writer.reconcile(config.feeds.clone()).await?;
    if reconciled != feeds::Reconciled::default() {
        tracing::info!(
            added = reconciled.added,
            updated = reconciled.updated,
            disabled = reconciled.disabled,
            "feeds reconciled with the config"
        );
    }
    let ctx = context(config, writer)?;
    Ok(Parts { ctx, writer_thread })
}

/// The per-poll context for a config; a reload builds a new one around the same writer.
fn context(config: &Config, writer: StoreWriter) -> anyhow::Result<PollContext> {
    let mut fetcher = Fetcher::new(&config.fetch)?;
    if let StoreWriter::Postgres(pg) = &writer {
        // Daemons sharing the store share the hosts' slots and gaps too. A slot outlives the
        // longest request (every hop within `timeout`) with room to spare.
        fetcher = fetcher.with_shared_hosts(Arc::new(crate::store::pg::hosts::PgHosts {
            writer: pg.clone(),
            slot_lease: config.fetch.timeout * 2 + Duration::from_secs(10),
        }));
    }
    Ok(PollContext {
        fetcher,
        writer,
        tagger: Tagger::load(config)?,
        schedule: config.schedule.clone(),
        max_items: config.fetch.max_items_per_poll,
        in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(
            config.fetch.concurrency.max(1),
        )),
    })
}

/// Stop the writer (it commits what is queued) and wait for its thread.
async fn finish(ctx: PollContext, writer_thread: WriterThread) -> anyhow::Result<()> {
    drop(ctx);
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the store writer thread panicked"))
}

/// Report one finished poll: one log line, the counters, and the failure state machine that
/// keeps a feed that stays broken from repeating its warning every poll.
pub fn report_poll(s: &PollSummary, feedlog: &mut FeedLog, health: Option<&Health>) {
    let outcome = PollOutcome::parse(s.outcome).unwrap_or(PollOutcome::Error);
    events::PollDone {
        feed_url: &s.url,
        status: s.status,
        outcome,
        items: s.items as u64,
        new: s.new as u64,
        duplicates: (s.repeats + s.near_duplicates) as u64,
        revised: s.revised as u64,
        bytes: s.bytes,
        duration: s.duration,
    }
    .emit(feedlog);
    if s.failed() {
        events::FeedFailed {
            feed_url: &s.url,
            error_kind: s.error_kind.as_deref().unwrap_or("unknown"),
            error: s.error.as_deref().unwrap_or(""),
            consecutive_errors: s.consecutive_errors,
        }
        .emit(feedlog);
    } else if let Some(h) = health {
        h.poll_succeeded();
    }
    if let Some(to) = &s.moved_to {
        events::FeedMoved {
            from: &s.url,
            to,
            status: s.moved_status.unwrap_or(301),
        }
        .emit(feedlog);
    }
    if s.gone {
        events::FeedGone { feed_url: &s.url }.emit(feedlog);
    }
    if s.new + s.repeats + s.revised > 0 {
        events::ArticlesStored {
            source: ArticleSource::Feed,
            origin: &s.url,
            new: s.new as u64,
            duplicates: s.repeats as u64,
            revised: s.revised as u64,
            tags: s.tags,
        }
        .emit();
    }
}

/// One pass: poll every due feed (every enabled feed with `all`), concurrently within the
/// fetch limits, and return what each poll did. Items that were fetched are stored even when
/// other feeds fail.
pub async fn poll_once(config: &Config, all: bool) -> anyhow::Result<Vec<PollSummary>> {
    // The pass begins when the command starts, before it waits for the store: with `--all`,
    // feeds another process polled since then are not polled again.
    let pass_started = crate::store::now_ts();
    let Parts { ctx, writer_thread } = build(config, None).await?;
    // Feeds are taken a few at a time, as slots free up: on PostgreSQL each claim leases them
    // to this process, so daemons polling the same database share the pass rather than one
    // taking every feed at its start. (SQLite's claim returns every due feed at once.)
    let batch = config.fetch.concurrency.max(1) * 2;
    let mut tasks = JoinSet::new();
    // One context shared by reference count: with SQLite every due feed's task is spawned at
    // once and waits for a slot, and a clone per task (a path, the schedule) was ~300 bytes each.
    let ctx = std::sync::Arc::new(ctx);
    let mut feedlog = FeedLog::default();
    let mut out = Vec::new();
    let mut exhausted = false;
    // SQLite's claim is the whole pass at once.
    let once = ctx.writer.sqlite().is_some();
    let mut seen = HashSet::new();
    // Claims renew this process's leases; once the pass has claimed its last feeds they are
    // renewed on a timer instead, a third of the lease time apart, until the polls finish.
    let mut renewal =
        tokio::time::interval((config.store.lease_time / 3).max(Duration::from_millis(100)));
    renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renewal.tick().await;
    loop {
        if !exhausted && tasks.len() < batch {
            let (writer, started) = (ctx.writer.clone(), pass_started.clone());
            let claimed =
                tokio::task::spawn_blocking(move || writer.claim(all, batch, &started)).await??;
            let mut fresh = 0;
            for feed in claimed {
                // A pass polls a feed once (a claim never returns a feed this pass polled, but
                // the pass must end even if it did).
                if !seen.insert(feed.id) {
                    continue;
                }
                fresh += 1;
                let ctx = ctx.clone();
                tasks.spawn(async move { poll_feed(&ctx, &feed).await });
            }
            exhausted = once || fresh == 0;
        }
        let next = tokio::select! {
            done = tasks.join_next() => done,
            _ = renewal.tick(), if !once => {
                let writer = ctx.writer.clone();
                // A failed renewal loses nothing yet: the leases run until their expiry, and
                // the next tick tries again.
                match tokio::task::spawn_blocking(move || writer.renew()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "could not renew this process's feed leases"),
                    Err(e) => tracing::warn!(error = %e, "could not renew this process's feed leases"),
                }
                continue;
            }
        };
        let Some(done) = next else {
            if exhausted {
                break;
            }
            continue;
        };
        let summary = done?;
        report_poll(&summary, &mut feedlog, None);
        out.push(summary);
    }
    let ctx = std::sync::Arc::try_unwrap(ctx)
        .map_err(|_| anyhow::anyhow!("a poll task outlived the pass"))?;
    finish(ctx, writer_thread).await?;
    Ok(out)
}

/// Tell systemd, logging a failure: the first one warns (the unit will misbehave: no READY,
/// or a watchdog restart), the repeats (a WATCHDOG=1 every tick) only at debug.
fn notified(result: Result<(), notify::NotifyError>) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if let Err(e) = result {
        if WARNED.swap(true, Ordering::Relaxed) {
            tracing::debug!(error = %e, "systemd notification failed");
        } else {
            tracing::warn!(error = %e, "systemd notification failed; later failures are logged at debug");
        }
    }
}

/// Re-read the config file: on success the new feeds, taxonomy, fetch and schedule settings
/// take effect for every poll started from now on (polls in flight finish with the old ones);
/// a config that does not load or validate is rejected and the old one keeps running.
async fn reload(config: &mut Config, ctx: &mut PollContext) {
    let Some(path) = config.source.clone() else {
        tracing::warn!("reload requested, but the config was not read from a file");
        return;
    };
    notified(notify::reloading());
    let result: anyhow::Result<(Config, PollContext, feeds::Reconciled)> = async {
        let new = Config::load(&path)?;
        let new_ctx = context(&new, ctx.writer.clone())?;
        let reconciled = ctx.writer.reconcile(new.feeds.clone()).await?;
        Ok((new, new_ctx, reconciled))
    }
    .await;
    match result {
        Ok((new, new_ctx, reconciled)) => {
            warn_restart_needed(config, &new);
            events::ConfigReloaded {
                path: &path,
                feeds: new.feeds.len() as u64,
                added: reconciled.added as u64,
                removed: reconciled.disabled as u64,
            }
            .emit();
            *config = new;
            *ctx = new_ctx;
        }
        Err(e) => {
            let e: Box<dyn std::error::Error + Send + Sync> = e.into();
            events::ConfigRejected {
                path: &path,
                error: &*e,
            }
            .emit();
        }
    }
    notified(notify::ready("running"));
}

/// Sections a reload cannot apply to a running daemon.
fn warn_restart_needed(old: &Config, new: &Config) {
    for (what, changed) in [
        (
            "[store]",
            new.store.path != old.store.path || new.store.fts != old.store.fts,
        ),
        ("[spool]", new.spool.dir != old.spool.dir),
        ("[http]", new.http != old.http),
        (
            "[log]",
            new.log.level != old.log.level || new.log.file != old.log.file,
        ),
    ] {
        if changed {
            tracing::warn!(
                section = what,
                "this change takes effect at the next restart"
            );
        }
    }
}

/// Service housekeeping once per scheduler pass: health stamps, the watchdog, the status
/// line systemd shows, and the feed-state gauges. `counts_failing` remembers whether the last
/// feed-state query failed, so a broken query warns once, not every tick.
fn tick(
    counts: Result<feeds::StateCounts, crate::store::StoreError>,
    health: &Health,
    writer: &StoreWriter,
    last_poll: Option<Instant>,
    counts_failing: &mut bool,
) {
    health.scheduler_tick();
    health.set_writer_queue_depth(writer.queue_depth());
    notified(notify::watchdog());
    match counts {
        Ok(s) => {
            if std::mem::take(counts_failing) {
                tracing::info!("feed states readable again");
            }
            events::FeedCounts {
                ok: s.new + s.ok,
                failing: s.failing,
                disabled: s.disabled,
            }
            .emit();
            let ago = last_poll.map(|t| t.elapsed());
            let line = if writer.store_failing() {
                "the store refuses writes (disk full?); polling paused, retrying".to_string()
            } else {
                notify::status_line((s.new + s.ok + s.failing) as usize, s.failing as usize, ago)
            };
            notified(notify::status(&line));
        }
        Err(e) if !*counts_failing => {
            *counts_failing = true;
            tracing::warn!(error = %e, "cannot count feeds by state; gauges and the systemd status keep their last values");
        }
        Err(e) => tracing::debug!(error = %e, "cannot count feeds by state"),
    }
}

/// A test-only fault hook, compiled into debug builds only: when the file named by
/// `NEWSDESK_FAULT_PANIC_POLL` exists, the next poll task removes it and panics, as a bug in
/// the poll path would. The daemon's tests use it to prove a failed task loses no feed.
fn fault_panic_poll() {
    #[cfg(debug_assertions)]
    if let Some(flag) = std::env::var_os("NEWSDESK_FAULT_PANIC_POLL") {
        if std::fs::remove_file(&flag).is_ok() {
            panic!("injected poll panic (NEWSDESK_FAULT_PANIC_POLL)");
        }
    }
}

/// The poll tasks the scheduler has started, and what it remembers between them.
#[derive(Default)]
struct Polls {
    tasks: JoinSet<PollSummary>,
    /// Each running task's feed, so a task that fails (a panic) still names and releases it.
    running: HashMap<tokio::task::Id, FeedRow>,
    in_flight: HashSet<i64>,
    feedlog: FeedLog,
    last_poll: Option<Instant>,
    backoff: StoreBackoff,
    /// Polls the store refused, to write into the fetch log once it takes writes again.
    unstored: Vec<UnstoredPoll>,
}

/// Most unstored polls remembered (a few per feed at the back-off's pace; this bounds memory
/// should the store stay full for days).
const MAX_UNSTORED: usize = 10_000;

impl Polls {
    /// Start a poll for each due feed not already in flight, or only a probe (or nothing)
    /// while the store refuses writes.
    fn start_due(&mut self, due: Vec<FeedRow>, ctx: &PollContext) {
        let mut due: Vec<FeedRow> = due
            .into_iter()
            .filter(|f| !self.in_flight.contains(&f.id))
            .collect();
        let now = Instant::now();
        match self.backoff.allowance(ctx.writer.store_failing(), now) {
            Allowance::All => {}
            Allowance::Wait => due.clear(),
            Allowance::Probe => {
                let ids: Vec<i64> = due.iter().map(|f| f.id).collect();
                let probe = self.backoff.pick_probe(&ids, now);
                due.retain(|f| Some(f.id) == probe);
            }
        }
        for feed in due {
            self.in_flight.insert(feed.id);
            let ctx = ctx.clone();
            let row = feed.clone();
            let handle = self.tasks.spawn(async move {
                fault_panic_poll();
                poll_feed(&ctx, &feed).await
            });
            self.running.insert(handle.id(), row);
        }
    }

    /// Account for a finished poll task: report it, or, if the task failed, record the
    /// failure for its feed so it is backed off and polled again like after any error.
    async fn finished(
        &mut self,
        joined: Result<(tokio::task::Id, PollSummary), JoinError>,
        ctx: &PollContext,
        health: &Health,
    ) {
        let summary = match joined {
            Ok((id, summary)) => {
                self.running.remove(&id);
                self.last_poll = Some(Instant::now());
                summary
            }
            Err(e) => {
                let Some(feed) = self.running.remove(&e.id()) else {
                    tracing::error!(error = %e, "a poll task failed for a feed no longer known");
                    return;
                };
                task_failed(ctx, &feed, &e).await
            }
        };
        self.in_flight.remove(&summary.feed_id);
        if summary.error_kind.as_deref() == Some("store") && self.unstored.len() < MAX_UNSTORED {
            self.unstored.push(UnstoredPoll {
                feed_id: summary.feed_id,
                started_at: crate::store::now_ts(),
                error: summary.error.clone().unwrap_or_default(),
            });
        }
        report_poll(&summary, &mut self.feedlog, Some(health));
    }

    /// Once the store takes writes again, write the polls it refused into the fetch log: the
    /// outage could not record itself while it lasted.
    fn record_unstored(&mut self, writer: &StoreWriter) {
        if self.unstored.is_empty() || writer.store_failing() {
            return;
        }
        let polls = std::mem::take(&mut self.unstored);
        let writer = writer.clone();
        tokio::spawn(async move {
            let n = polls.len();
            match writer.record_unstored(polls).await {
                Ok(written) => {
                    tracing::info!(
                        polls = written,
                        "polls the store refused recorded in the fetch log"
                    )
                }
                Err(e) => {
                    tracing::warn!(polls = n, error = %e, "polls the store refused could not be recorded")
                }
            }
        });
    }

    /// After shutdown: let the polls in flight finish and commit within `grace`, then abandon
    /// the rest (they are re-polled at the next start).
    async fn drain(&mut self, grace: Duration, ctx: &PollContext, health: &Health) {
        tracing::info!(
            in_flight = self.tasks.len(),
            grace_secs = grace.as_secs(),
            "shutting down: no new polls"
        );
        let drain = async {
            while let Some(joined) = self.tasks.join_next_with_id().await {
                self.finished(joined, ctx, health).await;
            }
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                abandoned = self.tasks.len(),
                "grace period over: abandoning polls still in flight; they are re-polled at the next start"
            );
            self.tasks.abort_all();
        }
    }
}

/// A poll task ended without a summary (it panicked, or was cancelled): record a failed poll
/// for its feed (a `fetches` row, one more consecutive error, the next poll backed off) and
/// return the summary to report. Recording may fail too (the store refuses writes); the feed
/// is then due again and the store back-off paces it.
async fn task_failed(ctx: &PollContext, feed: &FeedRow, e: &JoinError) -> PollSummary {
    let what = if e.is_panic() {
        "panicked"
    } else {
        "was cancelled"
    };
    let error = format!("the poll task {what}; this is a bug in newsdesk");
    let consecutive_errors = (feed.consecutive_errors.max(0) as u32).saturating_add(1);
    let now = chrono::Utc::now();
    let outcome = crate::schedule::Outcome::Failure {
        consecutive_errors,
        hints: Default::default(),
    };
    let next =
        crate::schedule::next_poll_at(&ctx.schedule, now, &outcome, crate::schedule::jitter_unit());
    let record = PollRecord {
        started_at: crate::store::ts(now),
        outcome: "error",
        error_kind: Some("internal".into()),
        error: Some(error.clone()),
        next_poll_at: crate::store::ts(next),
        current_interval_secs: feed
            .current_interval_secs
            .unwrap_or(ctx.schedule.default_interval.as_secs() as i64),
        ..Default::default()
    };
    let feed_id = feed.id;
    let mut summary = PollSummary {
        feed_id,
        url: feed.url.clone(),
        outcome: "error",
        error_kind: Some("internal".into()),
        error: Some(error),
        consecutive_errors: u64::from(consecutive_errors),
        ..Default::default()
    };
    if let Err(e) = ctx
        .writer
        .store_poll(feed_id, Vec::new(), Vec::new(), record, ())
        .await
    {
        tracing::debug!(feed = %feed.url, error = %e, "the failed poll task could not be recorded");
        summary.error_kind = Some("store".into());
    }
    summary
}

/// The /healthz and /metrics listener, when `[http]` is configured. It binds before READY,
/// so a port already taken fails the start, visibly.
async fn start_http(
    config: &Config,
    health: &Arc<Health>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(cfg) = &config.http else {
        return Ok(None);
    };
    let handle = crate::service::metrics::install()?;
    let listener = crate::service::http::bind(cfg).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving /healthz and /metrics");
    let (cfg, health, token) = (cfg.clone(), health.clone(), shutdown.clone());
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = crate::service::http::serve(listener, cfg, health, handle, token).await {
            tracing::error!(error = %e, "the /healthz and /metrics listener failed");
        }
    })))
}

/// The spool scanner, when `[spool] dir` is configured. While the store refuses writes it
/// scans only at the store back-off's probes: files that cannot be stored stay in place.
fn start_spool(
    config: &Config,
    ctx: &PollContext,
    writer: &StoreWriter,
    shutdown: &CancellationToken,
) -> Option<JoinHandle<()>> {
    let dir = config.spool.dir.clone()?;
    let (writer, tagger, token) = (writer.clone(), ctx.tagger.clone(), shutdown.clone());
    let (every, settle, max) = (
        config.spool.scan_interval,
        config.spool.settle,
        config.ingest.max_file_bytes,
    );
    Some(tokio::spawn(async move {
        let mut backoff = StoreBackoff::default();
        loop {
            if backoff.allowance(writer.store_failing(), Instant::now()) != Allowance::Wait {
                let (d, w, t) = (dir.clone(), writer.clone(), tagger.clone());
                match tokio::task::spawn_blocking(move || {
                    crate::spool::scan_once(&d, &w, &t, settle, max)
                })
                .await
                {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "spool scan failed"),
                    Err(e) => tracing::error!(error = %e, "spool task failed"),
                }
            }
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }))
}

/// Retention, once at start and then daily, when the config asks for it.
fn start_pruner(
    config: &Config,
    writer: &StoreWriter,
    shutdown: &CancellationToken,
) -> JoinHandle<()> {
    let (writer, token) = (writer.clone(), shutdown.clone());
    let (articles, fetches) = (config.store.retention_days, config.store.fetch_log_days);
    tokio::spawn(async move {
        loop {
            if articles.is_some() || fetches.is_some() {
                match writer.prune(articles, fetches).await {
                    Ok(p) if p != Default::default() => {
                        tracing::info!(
                            articles = p.articles,
                            fetches = p.fetches,
                            "retention applied"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "retention pass failed; retried tomorrow")
                    }
                }
            }
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(PRUNE_EVERY) => {}
            }
        }
    })
}

/// Wait for a helper task at shutdown; one that panicked is logged, not hidden.
async fn join_helper(name: &str, task: Option<JoinHandle<()>>) {
    if let Some(Err(e)) = match task {
        Some(t) => Some(t.await),
        None => None,
    } {
        tracing::error!(task = name, error = %e, "a daemon task failed");
    }
}

/// The feeds due now: on SQLite from the read connection; on PostgreSQL claimed (leased to
/// this daemon) a few at a time, as `poll --once` does, skipping feeds other daemons hold.
async fn due_feeds(read: &Option<rusqlite::Connection>, ctx: &PollContext) -> Vec<FeedRow> {
    let due = match read {
        Some(conn) => feeds::due(conn, &crate::store::now_ts(), false),
        None => {
            let writer = ctx.writer.clone();
            let limit = ctx.fetcher.config().concurrency.max(1) * 2;
            let now = crate::store::now_ts();
            tokio::task::spawn_blocking(move || writer.claim(false, limit, &now))
                .await
                .unwrap_or_else(|e| {
                    Err(crate::store::StoreError::NotCommitted(format!(
                        "claim task failed: {e}"
                    )))
                })
        }
    };
    due.unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the feed schedule");
        Vec::new()
    })
}

/// Feeds by state, from the read connection or the PostgreSQL pool.
async fn feed_counts(
    read: &Option<rusqlite::Connection>,
    writer: &StoreWriter,
) -> Result<feeds::StateCounts, crate::store::StoreError> {
    match read {
        Some(conn) => feeds::state_counts(conn),
        None => {
            let writer = writer.clone();
            tokio::task::spawn_blocking(move || writer.state_counts())
                .await
                .unwrap_or_else(|e| {
                    Err(crate::store::StoreError::NotCommitted(format!(
                        "state count task failed: {e}"
                    )))
                })
        }
    }
}

/// The daemon: poll feeds as they come due and scan the spool until `shutdown` fires;
/// `reload_requests` (SIGHUP) re-reads the config.
pub async fn run(
    config: Config,
    shutdown: CancellationToken,
    reload_requests: Arc<Notify>,
) -> anyhow::Result<()> {
    let mut config = config;
    let health = Arc::new(Health::new());
    let http = start_http(&config, &health, &shutdown).await?;
    let Parts {
        mut ctx,
        writer_thread,
    } = build(&config, Some(health.clone())).await?;
    // The scheduler's reads: SQLite's read connection, or PostgreSQL's claims (which lease
    // the feeds to this daemon and renew its leases and heartbeat at every look).
    let read = match &ctx.writer {
        StoreWriter::Sqlite { .. } => {
            Some(open_read(&config.store.path, config.store.busy_timeout)?)
        }
        StoreWriter::Postgres(_) => None,
    };
    let writer = ctx.writer.clone();
    let feed_count = feed_counts(&read, &writer).await?.enabled();
    let database = match &config.store.url {
        Some(url) => crate::store::pg::redact(url),
        None => config.store.path.display().to_string(),
    };
    tracing::info!(feeds = feed_count, database = %database, "newsdesk running");
    let spool = start_spool(&config, &ctx, &writer, &shutdown);
    let pruner = start_pruner(&config, &writer, &shutdown);

    let mut polls = Polls::default();
    let mut ready = false;
    let mut counts_failing = false;
    let mut next_tick = Instant::now();
    loop {
        let due = due_feeds(&read, &ctx).await;
        polls.start_due(due, &ctx);
        polls.record_unstored(&writer);
        if Instant::now() >= next_tick {
            tick(
                feed_counts(&read, &writer).await,
                &health,
                &writer,
                polls.last_poll,
                &mut counts_failing,
            );
            next_tick = Instant::now() + SCHEDULER_TICK;
        }
        if !ready {
            // Migrations done, feeds reconciled, the first schedule started.
            ready = true;
            notified(notify::ready("running"));
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = reload_requests.notified() => reload(&mut config, &mut ctx).await,
            Some(joined) = polls.tasks.join_next_with_id() => {
                polls.finished(joined, &ctx, &health).await;
            }
            _ = tokio::time::sleep(SCHEDULER_TICK) => {}
        }
    }

    notified(notify::stopping("shutting down"));
    polls
        .drain(config.service.shutdown_grace, &ctx, &health)
        .await;
    join_helper("spool", spool).await;
    join_helper("retention", Some(pruner)).await;
    join_helper("http", http).await;
    drop(read);
    drop(writer);
    finish(ctx, writer_thread).await?;
    tracing::info!("stopped");
    Ok(())
}
