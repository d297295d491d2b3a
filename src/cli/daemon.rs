//! `newsdesk run` and `newsdesk poll --once`: the async runtime starts here, and nowhere else.

use crate::config::Config;
use tokio_util::sync::CancellationToken;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("newsdesk")
        .build()?)
}

/// SIGTERM and SIGINT cancel `token` (the daemon then stops taking polls and drains).
async fn stop_on_signals(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop newsdesk with SIGKILL");
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "stop requested");
    token.cancel();
}

pub fn run(config: Config) -> anyhow::Result<u8> {
    let rt = runtime()?;
    rt.block_on(async move {
        let token = CancellationToken::new();
        tokio::spawn(stop_on_signals(token.clone()));
        crate::daemon::run(config, token).await
    })?;
    Ok(0)
}

pub fn poll_once(config: Config, all: bool, json: bool) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let summaries = rt.block_on(crate::daemon::poll_once(&config, all))?;
    let failed = summaries.iter().filter(|s| s.failed()).count();
    let new: usize = summaries.iter().map(|s| s.new).sum();
    let not_modified = summaries
        .iter()
        .filter(|s| s.outcome == "not_modified")
        .count();
    if json {
        let rows: Vec<serde_json::Value> = summaries
            .iter()
            .map(|s| {
                serde_json::json!({
                    "feed_id": s.feed_id, "url": s.url, "status": s.status, "outcome": s.outcome,
                    "items": s.items, "new": s.new, "repeats": s.repeats, "revised": s.revised,
                    "bytes": s.bytes, "ms": s.duration.as_millis() as u64,
                    "error_kind": s.error_kind, "error": s.error,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"feeds": summaries.len(), "new": new, "failed": failed, "polls": rows})
        );
    } else {
        println!(
            "{} feeds polled: {new} new articles, {not_modified} unchanged, {failed} failed",
            summaries.len()
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
