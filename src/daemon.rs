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
use crate::service::events::{self, ArticleSource, FeedLog, PollOutcome};
use crate::service::{health::Health, notify};
use crate::store::{feeds, open_read, writer::Writer};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Longest the scheduler sleeps between looks at the feed table, so feeds added by the CLI
/// while the daemon runs are picked up soon; also the pace of watchdog pings.
const SCHEDULER_TICK: Duration = Duration::from_secs(5);

/// How often retention runs (also once at start).
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

struct Parts {
    ctx: PollContext,
    writer_thread: std::thread::JoinHandle<()>,
}

async fn build(config: &Config, health: Option<Arc<Health>>) -> anyhow::Result<Parts> {
    let (writer, writer_thread) = Writer::start(config, health)?;
    let reconciled = writer
        .call({
            let feeds = config.feeds.clone();
            move |w| feeds::reconcile(&w.conn, &feeds)
        })
        .await??;
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
fn context(config: &Config, writer: Writer) -> anyhow::Result<PollContext> {
    Ok(PollContext {
        fetcher: Fetcher::new(&config.fetch)?,
        writer,
        tagger: Tagger::load(config)?,
        schedule: config.schedule.clone(),
        max_items: config.fetch.max_items_per_poll,
        store: (config.store.path.clone(), config.store.busy_timeout),
        in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(
            config.fetch.concurrency.max(1),
        )),
    })
}

/// Stop the writer (it commits what is queued) and wait for its thread.
async fn finish(
    ctx: PollContext,
    writer_thread: std::thread::JoinHandle<()>,
) -> anyhow::Result<()> {
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
    let Parts { ctx, writer_thread } = build(config, None).await?;
    let conn = open_read(&config.store.path, config.store.busy_timeout)?;
    let due = feeds::due(&conn, &crate::store::now_ts(), all)?;
    drop(conn);
    let mut tasks = JoinSet::new();
    for feed in due {
        let ctx = ctx.clone();
        tasks.spawn(async move { poll_feed(&ctx, &feed).await });
    }
    let mut feedlog = FeedLog::default();
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let summary = done?;
        report_poll(&summary, &mut feedlog, None);
        out.push(summary);
    }
    finish(ctx, writer_thread).await?;
    Ok(out)
}

/// Re-read the config file: on success the new feeds, taxonomy, fetch and schedule settings
/// take effect for every poll started from now on (polls in flight finish with the old ones);
/// a config that does not load or validate is rejected and the old one keeps running.
async fn reload(config: &mut Config, ctx: &mut PollContext) {
    let Some(path) = config.source.clone() else {
        tracing::warn!("reload requested, but the config was not read from a file");
        return;
    };
    let _ = notify::reloading();
    let result: anyhow::Result<(Config, PollContext, feeds::Reconciled)> = async {
        let new = Config::load(&path)?;
        let new_ctx = context(&new, ctx.writer.clone())?;
        let reconciled = ctx
            .writer
            .call({
                let feeds = new.feeds.clone();
                move |w| feeds::reconcile(&w.conn, &feeds)
            })
            .await??;
        Ok((new, new_ctx, reconciled))
    }
    .await;
    match result {
        Ok((new, new_ctx, reconciled)) => {
            for (what, changed) in [
                (
                    "[store]",
                    new.store.path != config.store.path || new.store.fts != config.store.fts,
                ),
                ("[spool]", new.spool.dir != config.spool.dir),
                ("[http]", new.http != config.http),
                (
                    "[log]",
                    new.log.level != config.log.level || new.log.file != config.log.file,
                ),
            ] {
                if changed {
                    tracing::warn!(
                        section = what,
                        "this change takes effect at the next restart"
                    );
                }
            }
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
    let _ = notify::ready("running");
}

/// Service housekeeping once per scheduler pass: health stamps, the watchdog, the status
/// line systemd shows, and the feed-state gauges.
fn tick(read: &rusqlite::Connection, health: &Health, writer: &Writer, last_poll: Option<Instant>) {
    health.scheduler_tick();
    health.set_writer_queue_depth(writer.queue_depth());
    let _ = notify::watchdog();
    let counts: rusqlite::Result<(i64, i64, i64)> = read.query_row(
        "SELECT coalesce(sum(enabled = 1 AND consecutive_errors = 0), 0),
                coalesce(sum(enabled = 1 AND consecutive_errors > 0), 0),
                coalesce(sum(enabled = 0), 0)
           FROM feeds WHERE kind = 'feed'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    if let Ok((ok, failing, disabled)) = counts {
        let (ok, failing, disabled) = (
            ok.max(0) as u64,
            failing.max(0) as u64,
            disabled.max(0) as u64,
        );
        events::FeedCounts {
            ok,
            failing,
            disabled,
        }
        .emit();
        let ago = last_poll.map(|t| t.elapsed());
        let _ = notify::status(&notify::status_line(
            (ok + failing) as usize,
            failing as usize,
            ago,
        ));
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

    // The listener binds before READY, so a port already taken fails the start, visibly.
    let http = match &config.http {
        Some(cfg) => {
            let handle = crate::service::metrics::install()?;
            let listener = crate::service::http::bind(cfg).await?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "serving /healthz and /metrics");
            let (cfg, health, token) = (cfg.clone(), health.clone(), shutdown.clone());
            Some(tokio::spawn(async move {
                if let Err(e) =
                    crate::service::http::serve(listener, cfg, health, handle, token).await
                {
                    tracing::error!(error = %e, "the /healthz and /metrics listener failed");
                }
            }))
        }
        None => None,
    };

    let Parts {
        mut ctx,
        writer_thread,
    } = build(&config, Some(health.clone())).await?;
    let read = open_read(&config.store.path, config.store.busy_timeout)?;
    let feed_count = feeds::list(&read)?.iter().filter(|f| f.enabled).count();
    tracing::info!(feeds = feed_count, database = %config.store.path.display(), "newsdesk running");

    let spool = config.spool.dir.clone().map(|dir| {
        let (writer, tagger, token) = (ctx.writer.clone(), ctx.tagger.clone(), shutdown.clone());
        let (every, settle, max) = (
            config.spool.scan_interval,
            config.spool.settle,
            config.ingest.max_file_bytes,
        );
        tokio::spawn(async move {
            loop {
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
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        })
    });

    let pruner = {
        let (writer, token) = (ctx.writer.clone(), shutdown.clone());
        let (articles, fetches) = (config.store.retention_days, config.store.fetch_log_days);
        tokio::spawn(async move {
            loop {
                if articles.is_some() || fetches.is_some() {
                    match writer
                        .call(move |w| crate::store::prune::prune(&mut w.conn, articles, fetches))
                        .await
                    {
                        Ok(Ok(p)) if p != Default::default() => {
                            tracing::info!(
                                articles = p.articles,
                                fetches = p.fetches,
                                "retention applied"
                            )
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) | Err(e) => {
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
    };

    let mut feedlog = FeedLog::default();
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut tasks: JoinSet<PollSummary> = JoinSet::new();
    let mut last_poll: Option<Instant> = None;
    let mut ready = false;
    let mut next_tick = Instant::now();
    loop {
        let due = feeds::due(&read, &crate::store::now_ts(), false).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the feed schedule");
            Vec::new()
        });
        for feed in due {
            if !in_flight.insert(feed.id) {
                continue;
            }
            let ctx = ctx.clone();
            tasks.spawn(async move { poll_feed(&ctx, &feed).await });
        }
        if Instant::now() >= next_tick {
            tick(&read, &health, &ctx.writer, last_poll);
            next_tick = Instant::now() + SCHEDULER_TICK;
        }
        if !ready {
            // Migrations done, feeds reconciled, the first schedule started.
            ready = true;
            let _ = notify::ready("running");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = reload_requests.notified() => reload(&mut config, &mut ctx).await,
            Some(done) = tasks.join_next() => {
                if let Ok(summary) = done {
                    in_flight.remove(&summary.feed_id);
                    last_poll = Some(Instant::now());
                    report_poll(&summary, &mut feedlog, Some(&health));
                }
            }
            _ = tokio::time::sleep(SCHEDULER_TICK) => {}
        }
    }

    let _ = notify::stopping("shutting down");
    tracing::info!(
        in_flight = tasks.len(),
        grace_secs = config.service.shutdown_grace.as_secs(),
        "shutting down: no new polls"
    );
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            if let Ok(summary) = done {
                report_poll(&summary, &mut feedlog, Some(&health));
            }
        }
    };
    if tokio::time::timeout(config.service.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            abandoned = tasks.len(),
            "grace period over: abandoning polls still in flight; they are re-polled at the next start"
        );
        tasks.abort_all();
    }
    if let Some(spool) = spool {
        let _ = spool.await;
    }
    let _ = pruner.await;
    if let Some(http) = http {
        let _ = http.await;
    }
    drop(read);
    finish(ctx, writer_thread).await?;
    tracing::info!("stopped");
    Ok(())
}
