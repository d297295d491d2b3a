//! One event type per thing that happens while the daemon runs. Each `emit()` writes the log
//! line and bumps the metrics in the same call, so what `journalctl` says and what `/metrics`
//! counts cannot drift apart. Callers build an event from what they already have and emit it;
//! they never log or count these things any other way.
//!
//! Log volume rule: one info line per poll; a feed that keeps failing the same way warns once
//! (and again when its error changes or it recovers) and the repeats are counted, logged only
//! at debug. `FeedLog` (in `feedlog`) remembers which feeds are failing across polls.

pub use super::feedlog::{Failing, FeedLog, Transition};
use super::metrics as m;
use metrics::{counter, gauge, histogram};
use std::path::Path;
use std::time::Duration;

/// How a poll ended. Labels `newsdesk_polls_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// A feed body was fetched and parsed.
    Ok,
    /// 304: the conditional GET said nothing changed.
    NotModified,
    Error,
}

impl PollOutcome {
    /// From the word stored in `fetches.outcome` (the same three words as `as_str`).
    pub fn parse(word: &str) -> Option<PollOutcome> {
        match word {
            "ok" => Some(PollOutcome::Ok),
            "not_modified" => Some(PollOutcome::NotModified),
            "error" => Some(PollOutcome::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PollOutcome::Ok => "ok",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Error => "error",
        }
    }
}

/// A poll finished, whatever its outcome. A failed poll emits this (counted, logged at debug)
/// and then `FeedFailed` (which carries the cause and decides whether to warn).
/// Article counts here are for the log line only: `ArticlesStored` counts them in metrics.
#[derive(Debug, Clone)]
pub struct PollDone<'a> {
    pub feed_url: &'a str,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    pub outcome: PollOutcome,
    /// Items in the fetched feed.
    pub items: u64,
    pub new: u64,
    pub duplicates: u64,
    pub revised: u64,
    /// Body bytes received (after decompression).
    pub bytes: u64,
    pub duration: Duration,
}

impl PollDone<'_> {
    pub fn emit(&self, feeds: &mut FeedLog) {
        counter!(m::POLLS, "outcome" => self.outcome.as_str()).increment(1);
        counter!(m::FETCHED_BYTES).increment(self.bytes);
        counter!(m::FEED_ITEMS).increment(self.items);
        histogram!(m::POLL_DURATION).record(self.duration.as_secs_f64());
        let status = self
            .status
            .map_or_else(|| "-".to_string(), |s| s.to_string());
        let ms = self.duration.as_millis() as u64;
        if self.outcome == PollOutcome::Error {
            tracing::debug!(feed = self.feed_url, status, ms, "poll failed");
            return;
        }
        if let Some(was) = feeds.succeeded(self.feed_url) {
            tracing::info!(
                feed = self.feed_url,
                failed_polls = was.failures,
                last_error_kind = %was.kind,
                "feed recovered"
            );
        }
        tracing::info!(
            feed = self.feed_url,
            status,
            outcome = self.outcome.as_str(),
            items = self.items,
            new = self.new,
            duplicates = self.duplicates,
            revised = self.revised,
            bytes = self.bytes,
            ms,
            "polled"
        );
    }
}

/// A poll failed. `error_kind` is a short fixed word from the fetcher (timeout, dns, tls,
/// http_5xx, parse, ...): it labels a metric, so it must not carry URLs or messages.
#[derive(Debug, Clone)]
pub struct FeedFailed<'a> {
    pub feed_url: &'a str,
    pub error_kind: &'a str,
    pub error: &'a str,
    /// Consecutive failures as the store counts them (survives restarts).
    pub consecutive_errors: u64,
}

impl FeedFailed<'_> {
    pub fn emit(&self, feeds: &mut FeedLog) {
        counter!(m::POLL_ERRORS, "kind" => self.error_kind.to_string()).increment(1);
        if self.error_kind == "store" {
            // Not the feed's failure: the store's, which `StoreFailing` reports once for all
            // feeds; a line per feed would be the storm it replaces.
            tracing::debug!(feed = self.feed_url, error = self.error, "poll not stored");
            return;
        }
        match feeds.failed(self.feed_url, self.error_kind) {
            Transition::FirstFailure => tracing::warn!(
                feed = self.feed_url,
                kind = self.error_kind,
                error = self.error,
                consecutive_errors = self.consecutive_errors,
                "feed failing"
            ),
            Transition::KindChanged { previous, repeats } => tracing::warn!(
                feed = self.feed_url,
                kind = self.error_kind,
                error = self.error,
                previous_kind = %previous,
                repeats_of_previous = repeats,
                consecutive_errors = self.consecutive_errors,
                "feed failing differently"
            ),
            Transition::Repeat { repeats } => tracing::debug!(
                feed = self.feed_url,
                kind = self.error_kind,
                error = self.error,
                repeats,
                consecutive_errors = self.consecutive_errors,
                "feed still failing"
            ),
        }
    }
}

/// 410 Gone: the feed was disabled.
#[derive(Debug, Clone)]
pub struct FeedGone<'a> {
    pub feed_url: &'a str,
}

impl FeedGone<'_> {
    pub fn emit(&self, feeds: &mut FeedLog) {
        counter!(m::FEEDS_GONE).increment(1);
        feeds.forget(self.feed_url);
        tracing::warn!(
            feed = self.feed_url,
            "feed is gone (410); disabled until re-enabled"
        );
    }
}

/// 301/308: the stored feed URL was changed.
#[derive(Debug, Clone)]
pub struct FeedMoved<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub status: u16,
}

impl FeedMoved<'_> {
    pub fn emit(&self, feeds: &mut FeedLog) {
        counter!(m::FEEDS_MOVED).increment(1);
        feeds.rename(self.from, self.to);
        tracing::info!(
            feed = self.from,
            to = self.to,
            status = self.status,
            "feed moved permanently; URL updated"
        );
    }
}

/// Where stored articles came from. Labels `newsdesk_articles_total{source}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArticleSource {
    Feed,
    Spool,
    /// `newsdesk ingest` or another one-shot command.
    Cli,
}

impl ArticleSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleSource::Feed => "feed",
            ArticleSource::Spool => "spool",
            ArticleSource::Cli => "cli",
        }
    }
}

/// Tags assigned to the articles of one store call, by tag kind (the `tags.kind` column).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagCounts {
    pub topic: u64,
    pub country: u64,
    pub org: u64,
}

/// The store took a batch of articles (from one poll, one spool file, one CLI file).
#[derive(Debug, Clone)]
pub struct ArticlesStored<'a> {
    pub source: ArticleSource,
    /// The feed URL or file name, for the debug line.
    pub origin: &'a str,
    pub new: u64,
    pub duplicates: u64,
    pub revised: u64,
    pub tags: TagCounts,
}

impl ArticlesStored<'_> {
    pub fn emit(&self) {
        let source = self.source.as_str();
        for (result, n) in [
            ("new", self.new),
            ("duplicate", self.duplicates),
            ("revised", self.revised),
        ] {
            counter!(m::ARTICLES, "result" => result, "source" => source).increment(n);
        }
        for (kind, n) in [
            ("topic", self.tags.topic),
            ("country", self.tags.country),
            ("org", self.tags.org),
        ] {
            counter!(m::TAGS_ASSIGNED, "kind" => kind).increment(n);
        }
        tracing::debug!(
            source,
            origin = self.origin,
            new = self.new,
            duplicates = self.duplicates,
            revised = self.revised,
            topic_tags = self.tags.topic,
            country_tags = self.tags.country,
            org_tags = self.tags.org,
            "articles stored"
        );
    }
}

/// The store writer committed one transaction.
#[derive(Debug, Clone)]
pub struct WriterCommit {
    pub duration: Duration,
    /// Articles written in it.
    pub items: u64,
}

impl WriterCommit {
    pub fn emit(&self) {
        counter!(m::COMMITS).increment(1);
        counter!(m::COMMITTED_ITEMS).increment(self.items);
        histogram!(m::COMMIT_DURATION).record(self.duration.as_secs_f64());
        tracing::debug!(
            items = self.items,
            ms = self.duration.as_millis() as u64,
            "committed"
        );
    }
}

/// What became of one spool file.
#[derive(Debug, Clone)]
pub enum SpoolOutcome<'a> {
    /// Ingested and moved to `done/`.
    Done { articles: u64 },
    /// Moved to `failed/` with the reason beside it.
    Failed { reason: &'a str },
}

#[derive(Debug, Clone)]
pub struct SpoolFile<'a> {
    pub file: &'a Path,
    pub outcome: SpoolOutcome<'a>,
}

impl SpoolFile<'_> {
    pub fn emit(&self) {
        let file = self.file.display();
        match &self.outcome {
            SpoolOutcome::Done { articles } => {
                counter!(m::SPOOL_FILES, "outcome" => "done").increment(1);
                tracing::info!(%file, articles, "spool file ingested");
            }
            SpoolOutcome::Failed { reason } => {
                counter!(m::SPOOL_FILES, "outcome" => "failed").increment(1);
                tracing::warn!(%file, reason, "spool file failed; moved to failed/");
            }
        }
    }
}

/// SIGHUP's new config was validated and swapped in.
#[derive(Debug, Clone)]
pub struct ConfigReloaded<'a> {
    pub path: &'a Path,
    pub feeds: u64,
    pub added: u64,
    pub removed: u64,
}

impl ConfigReloaded<'_> {
    pub fn emit(&self) {
        counter!(m::CONFIG_RELOADS, "result" => "ok").increment(1);
        gauge!(m::CONFIG_RELOAD_OK).set(1.0);
        tracing::info!(
            config = %self.path.display(),
            feeds = self.feeds,
            added = self.added,
            removed = self.removed,
            "configuration reloaded"
        );
    }
}

/// SIGHUP's new config was refused; the old one keeps running.
#[derive(Debug)]
pub struct ConfigRejected<'a> {
    pub path: &'a Path,
    pub error: &'a (dyn std::error::Error + 'static),
}

impl ConfigRejected<'_> {
    pub fn emit(&self) {
        counter!(m::CONFIG_RELOADS, "result" => "rejected").increment(1);
        gauge!(m::CONFIG_RELOAD_OK).set(0.0);
        tracing::error!(
            config = %self.path.display(),
            error = %self.error,
            "new configuration rejected; still running the previous one"
        );
    }
}

/// Grouped writes started failing because the store cannot take them (disk full, I/O error,
/// lock held too long). Logged once; the repeats are only counted, until `StoreRecovered`.
#[derive(Debug)]
pub struct StoreFailing<'a> {
    pub error: &'a crate::store::StoreError,
}

impl StoreFailing<'_> {
    pub fn emit(&self, health: Option<&super::health::Health>) {
        gauge!(m::STORE_FAILING).set(1.0);
        if let Some(h) = health {
            h.store_failing(&self.error.to_string());
        }
        tracing::error!(
            error = %self.error,
            "store writes failing; the daemon holds back polls and spool scans until writes succeed again"
        );
    }
}

/// Grouped writes succeed again after failing for `after`.
#[derive(Debug, Clone)]
pub struct StoreRecovered {
    pub after: Duration,
}

impl StoreRecovered {
    pub fn emit(&self, health: Option<&super::health::Health>) {
        gauge!(m::STORE_FAILING).set(0.0);
        if let Some(h) = health {
            h.store_recovered();
        }
        tracing::info!(
            after_secs = self.after.as_secs(),
            "store writes succeed again; polling resumes"
        );
    }
}

/// Feeds by state, as the store counts them (set after each scheduler pass).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounts {
    pub ok: u64,
    pub failing: u64,
    pub disabled: u64,
}

impl FeedCounts {
    pub fn emit(&self) {
        for (state, n) in [
            ("ok", self.ok),
            ("failing", self.failing),
            ("disabled", self.disabled),
        ] {
            gauge!(m::FEEDS, "state" => state).set(n as f64);
        }
    }
}

#[cfg(test)]
mod tests;
