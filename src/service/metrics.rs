//! The Prometheus side of the `metrics` facade: every series name in one place, their help
//! text and units, histogram buckets, and installing the recorder. Code that counts things goes
//! through `service::events`, never through these names directly, so logs and `/metrics` agree.
//!
//! Naming follows Prometheus conventions: `newsdesk_` prefix, base units (seconds, bytes),
//! `_total` on counters, labels for dimensions with a small, fixed set of values (never a feed
//! URL: that would be one series per feed, forever).

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusRecorder};

pub use metrics_exporter_prometheus::PrometheusHandle;

pub const POLLS: &str = "newsdesk_polls_total";
pub const POLL_ERRORS: &str = "newsdesk_poll_errors_total";
pub const FETCHED_BYTES: &str = "newsdesk_fetched_bytes_total";
pub const FEED_ITEMS: &str = "newsdesk_feed_items_total";
pub const POLL_DURATION: &str = "newsdesk_poll_duration_seconds";
pub const FEEDS_MOVED: &str = "newsdesk_feeds_moved_total";
pub const FEEDS_GONE: &str = "newsdesk_feeds_gone_total";
pub const ARTICLES: &str = "newsdesk_articles_total";
pub const TAGS_ASSIGNED: &str = "newsdesk_tags_assigned_total";
pub const COMMITS: &str = "newsdesk_commits_total";
pub const COMMITTED_ITEMS: &str = "newsdesk_committed_items_total";
pub const COMMIT_DURATION: &str = "newsdesk_commit_duration_seconds";
pub const SPOOL_FILES: &str = "newsdesk_spool_files_total";
pub const CONFIG_RELOADS: &str = "newsdesk_config_reloads_total";
pub const CONFIG_RELOAD_OK: &str = "newsdesk_config_last_reload_successful";
pub const WRITER_QUEUE_DEPTH: &str = "newsdesk_writer_queue_depth";
pub const FEEDS: &str = "newsdesk_feeds";
pub const STORE_FAILING: &str = "newsdesk_store_writes_failing";
pub const BUILD_INFO: &str = "newsdesk_build_info";

/// Poll latency buckets (seconds): from a fast 304 on a LAN to a feed near the total timeout.
const POLL_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Commit latency buckets (seconds): SQLite commits in WAL mode are milliseconds when healthy.
const COMMIT_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Build a recorder with our buckets (true Prometheus histograms, not summaries). Tests use it
/// with `metrics::with_local_recorder`; the daemon uses `install`.
pub fn recorder() -> Result<PrometheusRecorder, BuildError> {
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(POLL_DURATION.into()), POLL_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(COMMIT_DURATION.into()), COMMIT_BUCKETS)?
        .build_recorder())
}

/// Install the process-wide recorder and describe every series. Only the daemon with an
/// `[http]` section needs this; without a recorder the `metrics` macros cost next to nothing.
/// Whoever renders must also call `PrometheusHandle::run_upkeep` now and then (`http::serve`
/// does), or histogram samples pile up between scrapes.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let recorder = recorder()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    describe();
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    metrics::gauge!(STORE_FAILING).set(0.0);
    Ok(handle)
}

/// HELP and TYPE lines; also pins the unit of each series.
pub fn describe() {
    describe_counter!(
        POLLS,
        "Feed polls finished, by outcome (ok, not_modified, error)."
    );
    describe_counter!(POLL_ERRORS, "Failed feed polls, by error kind.");
    describe_counter!(FETCHED_BYTES, Unit::Bytes, "Feed body bytes received.");
    describe_counter!(FEED_ITEMS, "Items found in fetched feeds.");
    describe_histogram!(
        POLL_DURATION,
        Unit::Seconds,
        "Time from starting a poll to its result being stored."
    );
    describe_counter!(
        FEEDS_MOVED,
        "Permanent redirects that changed a feed's URL."
    );
    describe_counter!(
        FEEDS_GONE,
        "Feeds disabled because the server said 410 Gone."
    );
    describe_counter!(
        ARTICLES,
        "Articles offered to the store, by result (new, duplicate, revised) and source."
    );
    describe_counter!(TAGS_ASSIGNED, "Tags assigned to stored articles, by kind.");
    describe_counter!(COMMITS, "Write transactions committed by the store writer.");
    describe_counter!(
        COMMITTED_ITEMS,
        "Articles written in committed transactions."
    );
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "Time the store writer spent on one transaction."
    );
    describe_counter!(
        SPOOL_FILES,
        "Spool files handled, by outcome (done, failed)."
    );
    describe_counter!(CONFIG_RELOADS, "Config reloads on SIGHUP, by result.");
    describe_gauge!(
        CONFIG_RELOAD_OK,
        "1 when the last config reload was taken, 0 when it was rejected."
    );
    describe_gauge!(
        WRITER_QUEUE_DEPTH,
        "Write jobs waiting for or held by the store writer."
    );
    describe_gauge!(FEEDS, "Feeds by state (ok, failing, disabled).");
    describe_gauge!(
        STORE_FAILING,
        "1 while the store cannot take writes (disk full, I/O error, lock held too long), else 0."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version label says which build runs."
    );
}
