//! Configuration: one TOML file, read raw by serde (unknown keys rejected, bad values rejected
//! where they are read, so toml reports the line), then checked as a whole into `Config`.
//!
//! Relative paths: the taxonomy files resolve against the config file's folder (they ship
//! beside it); the database, spool and log paths against the working directory, so the
//! shipped example works from the repository root and a service config uses absolute paths.

use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}, line {line}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error(
        "no config file: pass --config PATH or set NEWSDESK_CONFIG (looked for {})",
        DEFAULT_LOCATIONS.join(", ")
    )]
    NotFound,
}

/// Where a config is looked for when neither `--config` nor `NEWSDESK_CONFIG` names one.
pub const DEFAULT_LOCATIONS: &[&str] = &["config/newsdesk.toml", "/etc/newsdesk/newsdesk.toml"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    store: StoreConfig,
    #[serde(default)]
    log: LogConfig,
    #[serde(default)]
    taxonomy: TaxonomyConfig,
    #[serde(default)]
    ingest: IngestConfig,
    #[serde(default)]
    spool: SpoolConfig,
    #[serde(default)]
    tag: crate::tag::TagConfig,
    #[serde(default)]
    dedupe: crate::dedupe::DedupeConfig,
    #[serde(default)]
    fetch: crate::fetch::FetchConfig,
    #[serde(default)]
    schedule: crate::schedule::ScheduleConfig,
    #[serde(default)]
    service: ServiceConfig,
    #[serde(default)]
    http: Option<crate::service::http::HttpConfig>,
    #[serde(default)]
    feeds: Vec<RawFeed>,
}

/// The validated configuration the rest of the program is built from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (None for built-in defaults, as in tests).
    pub source: Option<PathBuf>,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub taxonomy: TaxonomyConfig,
    pub ingest: IngestConfig,
    pub spool: SpoolConfig,
    /// Tuning of the tagger's scorer.
    pub tag: crate::tag::TagConfig,
    pub dedupe: crate::dedupe::DedupeConfig,
    pub fetch: crate::fetch::FetchConfig,
    pub schedule: crate::schedule::ScheduleConfig,
    pub service: ServiceConfig,
    /// The optional loopback listener for /healthz and /metrics.
    pub http: Option<crate::service::http::HttpConfig>,
    pub feeds: Vec<FeedConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// A PostgreSQL store instead of the SQLite file (`postgres://user@host/db`, libpq-style,
    /// a Unix socket folder as a percent-encoded host or `?host=/run/postgresql`). Unset: SQLite.
    pub url: Option<String>,
    /// SQLite-only keys the config set that `url` makes meaningless, warned about once at start.
    #[serde(skip)]
    pub ignored: Vec<&'static str>,
    /// SQLite database file; its folder is created on first use.
    pub path: PathBuf,
    /// How long a connection waits for a lock before giving up.
    #[serde(deserialize_with = "duration")]
    pub busy_timeout: Duration,
    /// Articles per write transaction.
    #[serde(deserialize_with = "positive")]
    pub batch_size: usize,
    /// Delete articles published (or first seen) longer ago than this many days; unset keeps
    /// them forever. Applied daily by the daemon and by `newsdesk db prune`.
    pub retention_days: Option<u32>,
    /// Delete poll records (`fetches`) older than this many days; unset keeps them forever.
    pub fetch_log_days: Option<u32>,
    /// What the full-text index covers: "full" (title, summary, body), "title" (title and
    /// summary) or "off". A change rebuilds the index when the writer next starts.
    pub fts: crate::store::fts::FtsMode,
    /// PostgreSQL only: how long a daemon's claim on a feed lasts unless renewed. A daemon
    /// that dies loses its feeds to the others this long after its last renewal.
    #[serde(deserialize_with = "duration")]
    pub lease_time: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: None,
            ignored: Vec::new(),
            path: PathBuf::from("data/newsdesk.db"),
            busy_timeout: Duration::from_secs(5),
            batch_size: 1000,
            retention_days: None,
            fetch_log_days: Some(90),
            fts: crate::store::fts::FtsMode::Full,
            lease_time: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Journald-friendly text under systemd, coloured text on a terminal, plain text otherwise.
    #[default]
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as "info" or "newsdesk=debug"; `RUST_LOG` overrides it.
    pub level: String,
    pub format: LogFormat,
    /// Also append log lines to this file.
    pub file: Option<PathBuf>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Auto,
            file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaxonomyConfig {
    pub topics: PathBuf,
    pub countries: PathBuf,
}

impl Default for TaxonomyConfig {
    fn default() -> Self {
        TaxonomyConfig {
            topics: "topics.toml".into(),
            countries: "countries.toml".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest local article file accepted (JSON Lines files excepted: they are streamed).
    #[serde(deserialize_with = "positive")]
    pub max_file_bytes: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_file_bytes: 16 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Folder watched for article files; unset means no spool.
    pub dir: Option<PathBuf>,
    /// How often the folder is scanned.
    #[serde(deserialize_with = "duration")]
    pub scan_interval: Duration,
    /// How long a file must stay unchanged before it is taken (a writer may still be busy).
    #[serde(deserialize_with = "duration")]
    pub settle: Duration,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: None,
            scan_interval: Duration::from_secs(10),
            settle: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// On SIGTERM/SIGINT, how long polls in flight may take to finish and commit before the
    /// process exits anyway.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: toml::Spanned<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    interval: Option<Duration>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    full_text: bool,
}

/// A feed declared in the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    pub url: url::Url,
    pub title: Option<String>,
    pub interval: Option<Duration>,
    pub tags: Vec<String>,
    pub full_text: bool,
}

impl Config {
    /// Find the config file: the explicit path, else the first default location that exists.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
        if let Some(p) = explicit {
            return Ok(p.to_path_buf());
        }
        DEFAULT_LOCATIONS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or(ConfigError::NotFound)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, Some(path))
    }

    /// Parse and validate config text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
        let shown = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("<config>"));
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let invalid =
            |span: std::ops::Range<usize>, key: &str, message: String| ConfigError::Invalid {
                path: shown.clone(),
                line: line_of(text, span.start),
                key: key.to_string(),
                message,
            };

        let mut feeds: Vec<FeedConfig> = Vec::with_capacity(raw.feeds.len());
        for f in raw.feeds {
            let span = f.url.span();
            let url = url::Url::parse(f.url.get_ref())
                .map_err(|e| invalid(span.clone(), "feeds.url", format!("not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(
                    span,
                    "feeds.url",
                    "only http and https feeds".into(),
                ));
            }
            if feeds.iter().any(|g| g.url == url) {
                return Err(invalid(span, "feeds.url", format!("{url} is listed twice")));
            }
            feeds.push(FeedConfig {
                url,
                title: f.title,
                interval: f.interval,
                tags: f.tags,
                full_text: f.full_text,
            });
        }

        let mut store = raw.store;
        if let Some(url) = &store.url {
            crate::store::pg::check_url(url).map_err(|message| {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("url"))
                    .map_or(0, |i| i + 1);
                ConfigError::Invalid {
                    path: shown.clone(),
                    line,
                    key: "store.url".into(),
                    message,
                }
            })?;
            // Which SQLite-only keys the file sets: a config switches stores by adding one
            // line, so they are ignored with a warning rather than refused.
            let table: toml::Table = toml::from_str(text).unwrap_or_default();
            if let Some(t) = table.get("store").and_then(|s| s.as_table()) {
                store.ignored = ["path", "busy_timeout"]
                    .into_iter()
                    .filter(|k| t.contains_key(*k))
                    .collect();
            }
        }

        check_schedule(&raw.schedule, text, &shown)?;
        raw.dedupe.validate().map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: format!("[dedupe]: {e}"),
        })?;

        let dir = path.and_then(Path::parent).unwrap_or(Path::new("."));
        let mut taxonomy = raw.taxonomy;
        taxonomy.topics = dir.join(&taxonomy.topics);
        taxonomy.countries = dir.join(&taxonomy.countries);
        let mut fetch = raw.fetch;
        for cert in &mut fetch.extra_root_certificates {
            *cert = dir.join(&*cert);
        }

        Ok(Config {
            source: path.map(Path::to_path_buf),
            store,
            log: raw.log,
            taxonomy,
            ingest: raw.ingest,
            spool: raw.spool,
            tag: raw.tag,
            dedupe: raw.dedupe,
            fetch,
            schedule: raw.schedule,
            service: raw.service,
            http: raw.http,
            feeds,
        })
    }
}

/// Bounds that must be in order: each (shorter, longer) pair of `[schedule]`.
fn check_schedule(
    s: &crate::schedule::ScheduleConfig,
    text: &str,
    path: &Path,
) -> Result<(), ConfigError> {
    let pairs = [
        (
            "min_interval",
            s.min_interval,
            "max_interval",
            s.max_interval,
        ),
        ("backoff_base", s.backoff_base, "backoff_cap", s.backoff_cap),
    ];
    for (short, a, long, b) in pairs {
        if a > b {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: key_line(text, short)
                    .or_else(|| key_line(text, long))
                    .unwrap_or(1),
                key: format!("schedule.{short}"),
                message: format!(
                    "{} is longer than {long} ({}): it must not be",
                    humantime::format_duration(a),
                    humantime::format_duration(b)
                ),
            });
        }
    }
    Ok(())
}

/// The line where `key = ...` is written, if it is.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Durations are written as "90s", "5m", "6h", "1d" (or a bare number of seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like \"30s\", \"5m\", \"6h\": {e}"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationRepr {
    Secs(u64),
    Text(String),
}

/// serde helper: a duration field (see `parse_duration`).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match DurationRepr::deserialize(d)? {
        DurationRepr::Secs(s) => Ok(Duration::from_secs(s)),
        DurationRepr::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

/// serde helper: an optional duration field.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// serde helper: a count that must be at least 1.
pub fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_bounds_out_of_order_are_rejected_with_their_line() {
        let text = "[schedule]\nmax_interval = \"6h\"\nmin_interval = \"7h\"\n";
        let e = Config::parse(text, Some(Path::new("c.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "c.toml, line 3: `schedule.min_interval`: 7h is longer than max_interval (6h)"
            ),
            "{e}"
        );
        let text = "[schedule]\nbackoff_cap = \"1m\"\n";
        let e = Config::parse(text, None).unwrap_err().to_string();
        assert!(e.contains("line 2: `schedule.backoff_base`"), "{e}");
        Config::parse(
            "[schedule]\nmin_interval = \"6h\"\nmax_interval = \"6h\"\n",
            None,
        )
        .unwrap();
    }

    #[test]
    fn defaults_apply_to_an_empty_file() {
        let c = Config::parse("", None).unwrap();
        assert_eq!(c.store.path, PathBuf::from("data/newsdesk.db"));
        assert_eq!(c.store.busy_timeout, Duration::from_secs(5));
        assert!(c.feeds.is_empty());
    }

    #[test]
    fn unknown_key_is_rejected_with_its_line() {
        let err = Config::parse(
            "[store]\npath = \"x.db\"\nbatchsize = 3\n",
            Some(Path::new("a.toml")),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("a.toml") && err.contains("line 3") && err.contains("batchsize"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_rejected_with_their_line() {
        let err = Config::parse("[store]\n\nbusy_timeout = \"soon\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("soon"), "{err}");
        let err = Config::parse("[store]\nbatch_size = 0\n", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("at least 1"),
            "{err}"
        );
        let err = Config::parse("[[feeds]]\nurl = \"ftp://x/y\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("feeds.url"), "{err}");
    }

    #[test]
    fn feeds_and_durations_parse() {
        let c = Config::parse(
            "[[feeds]]\nurl = \"https://example.org/rss\"\ninterval = \"15m\"\ntags = [\"asia\"]\n",
            Some(Path::new("/etc/newsdesk/newsdesk.toml")),
        )
        .unwrap();
        assert_eq!(c.feeds[0].interval, Some(Duration::from_secs(900)));
        assert_eq!(
            c.taxonomy.topics,
            PathBuf::from("/etc/newsdesk/topics.toml")
        );
        let dup = "[[feeds]]\nurl = \"https://a/\"\n[[feeds]]\nurl = \"https://a/\"\n";
        assert!(Config::parse(dup, None)
            .unwrap_err()
            .to_string()
            .contains("twice"));
    }
}
