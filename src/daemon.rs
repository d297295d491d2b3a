//! The long-running service and its one-shot sibling. `run` owns the pieces: the store writer
//! thread, the scheduler loop that starts a poll task for each due feed (never two for one
//! feed), and the spool scanner. Shutdown is a token: when it fires, no new poll starts,
//! polls in flight get the grace period to finish and commit, and the writer drains its queue
//! before the process exits.

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::pipeline::Tagger;
use crate::poll::{poll_feed, PollContext, PollSummary};
use crate::store::{feeds, open_read, writer::Writer};
use std::collections::HashSet;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Longest the scheduler sleeps between looks at the feed table, so feeds added by the CLI
/// while the daemon runs are picked up soon.
const SCHEDULER_TICK: Duration = Duration::from_secs(5);

struct Parts {
    ctx: PollContext,
    writer_thread: std::thread::JoinHandle<()>,
}

async fn build(config: &Config) -> anyhow::Result<Parts> {
    let (writer, writer_thread) = Writer::start(&config.store.path, config.store.busy_timeout)?;
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
    let tagger = Tagger::load(config)?;
    let fetcher = Fetcher::new(&config.fetch)?;
    let ctx = PollContext {
        fetcher,
        writer,
        tagger,
        schedule: config.schedule.clone(),
        max_items: config.fetch.max_items_per_poll,
    };
    Ok(Parts { ctx, writer_thread })
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

pub fn log_poll(s: &PollSummary) {
    let ms = s.duration.as_millis() as u64;
    let status = s
        .status
        .map(|c| c.to_string())
        .unwrap_or_else(|| "-".into());
    if s.failed() {
        tracing::warn!(
            feed = %s.url,
            status = %status,
            kind = s.error_kind.as_deref().unwrap_or("?"),
            error = s.error.as_deref().unwrap_or("?"),
            ms,
            "poll failed"
        );
    } else {
        tracing::info!(feed = %s.url, status = %status, items = s.items, new = s.new, repeats = s.repeats, revised = s.revised, ms, "polled");
    }
    if let Some(to) = &s.moved_to {
        tracing::info!(feed = %s.url, to = %to, "feed moved permanently; URL updated");
    }
    if s.gone {
        tracing::warn!(feed = %s.url, "feed is gone (410); disabled");
    }
}

/// One pass: poll every due feed (every enabled feed with `all`), concurrently within the
/// fetch limits, and return what each poll did. Items that were fetched are stored even when
/// other feeds fail.
pub async fn poll_once(config: &Config, all: bool) -> anyhow::Result<Vec<PollSummary>> {
    let Parts { ctx, writer_thread } = build(config).await?;
    let conn = open_read(&config.store.path, config.store.busy_timeout)?;
    let due = feeds::due(&conn, &crate::store::now_ts(), all)?;
    drop(conn);
    let mut tasks = JoinSet::new();
    for feed in due {
        let ctx = ctx.clone();
        tasks.spawn(async move { poll_feed(&ctx, &feed).await });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let summary = done?;
        log_poll(&summary);
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
    let result: anyhow::Result<(Config, PollContext)> = async {
        let new = Config::load(&path)?;
        let tagger = Tagger::load(&new)?;
        let fetcher = Fetcher::new(&new.fetch)?;
        let reconciled = ctx
            .writer
            .call({
                let feeds = new.feeds.clone();
                move |w| feeds::reconcile(&w.conn, &feeds)
            })
            .await??;
        tracing::info!(
            added = reconciled.added,
            updated = reconciled.updated,
            disabled = reconciled.disabled,
            "feeds reconciled with the config"
        );
        let new_ctx = PollContext {
            fetcher,
            writer: ctx.writer.clone(),
            tagger,
            schedule: new.schedule.clone(),
            max_items: new.fetch.max_items_per_poll,
        };
        Ok((new, new_ctx))
    }
    .await;
    match result {
        Ok((new, new_ctx)) => {
            for (what, changed) in [
                ("[store]", new.store.path != config.store.path),
                ("[spool]", new.spool.dir != config.spool.dir),
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
            *config = new;
            *ctx = new_ctx;
            tracing::info!(config = %path.display(), feeds = config.feeds.len(), "config reloaded");
        }
        Err(e) => {
            tracing::error!(config = %path.display(), error = %format!("{e:#}"), "config rejected; the previous one stays in force")
        }
    }
}

/// The daemon: poll feeds as they come due and scan the spool until `shutdown` fires;
/// `reload` (SIGHUP) re-reads the config.
pub async fn run(
    config: Config,
    shutdown: CancellationToken,
    reload_requests: std::sync::Arc<tokio::sync::Notify>,
) -> anyhow::Result<()> {
    let mut config = config;
    let Parts {
        mut ctx,
        writer_thread,
    } = build(&config).await?;
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

    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut tasks: JoinSet<PollSummary> = JoinSet::new();
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
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = reload_requests.notified() => reload(&mut config, &mut ctx).await,
            Some(done) = tasks.join_next() => {
                if let Ok(summary) = done {
                    in_flight.remove(&summary.feed_id);
                    log_poll(&summary);
                }
            }
            _ = tokio::time::sleep(SCHEDULER_TICK) => {}
        }
    }

    tracing::info!(
        in_flight = tasks.len(),
        grace_secs = config.service.shutdown_grace.as_secs(),
        "shutting down: no new polls"
    );
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            if let Ok(summary) = done {
                log_poll(&summary);
            }
        }
    };
    if tokio::time::timeout(config.service.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            abandoned = tasks.len(),
            "grace period over: abandoning polls still in flight; they are re-polled next start"
        );
        tasks.abort_all();
    }
    if let Some(spool) = spool {
        let _ = spool.await;
    }
    drop(read);
    finish(ctx, writer_thread).await?;
    tracing::info!("stopped");
    Ok(())
}
