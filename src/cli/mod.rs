//! The command line (SPEC section 8). `main.rs` parses it and maps the result to an exit code:
//! 0 ok, 1 runtime failure, 2 bad usage or config.

mod check;
mod daemon;
mod db;
mod dedupe;
mod feed;
mod ingest;
mod output;
mod query;
mod tags;
mod train;

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "newsdesk",
    version,
    about = "News-ingest daemon: feeds in, deduplicated and tagged articles out, in SQLite"
)]
pub struct Cli {
    /// Config file (default: config/newsdesk.toml, then /etc/newsdesk/newsdesk.toml).
    #[arg(long, global = true, env = "NEWSDESK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll feeds as they come due, scan the spool, until SIGTERM/SIGINT.
    Run,
    /// Poll feeds once and exit (for cron, tests and benchmarks); exit 1 if any feed failed.
    Poll {
        /// One pass over the due feeds (the only mode; required for clarity in scripts).
        #[arg(long, required = true)]
        once: bool,
        /// Poll every enabled feed, due or not.
        #[arg(long)]
        all: bool,
    },
    /// Ingest article files: plain text, HTML, a JSON object, or JSON Lines records ("-" reads stdin).
    Ingest {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Full-text search: words, "phrases", OR, NOT, prefix* (prefix* on SQLite only).
    Search(query::SearchArgs),
    /// Show one article: text, sightings, tags and why.
    Show { id: i64 },
    /// Counts of what the store holds.
    Status,
    /// Validate the config (and the files it names) without touching anything.
    CheckConfig,
    /// The tags the taxonomy can assign (with --counts: how many articles carry each).
    Tags {
        #[arg(long)]
        counts: bool,
    },
    /// Re-apply the taxonomy (after editing it) to stored articles.
    Retag {
        /// Only articles published (or first seen) since: a duration ago with its unit ("30d",
        /// "12h", "90m") or a date ("2026-02-01").
        #[arg(long, value_name = "30d|12h|DATE")]
        since: Option<String>,
    },
    /// Measure the tagger against labelled articles (precision, recall, F1), no database.
    Eval {
        /// Article records, JSON Lines (id, title, text, ...).
        #[arg(long, required = true, num_args = 1..)]
        articles: Vec<PathBuf>,
        /// Labels, JSON Lines (id, foreign_policy yes/no/borderline, topics, countries).
        #[arg(long, num_args = 1..)]
        labels: Vec<PathBuf>,
        /// Write one prediction per record, in the labels' shape.
        #[arg(long)]
        predictions: Option<PathBuf>,
        /// Cross-validate training instead: per feed (records with `feed`) and per source,
        /// train on every other group and score the held-out one.
        #[arg(long, requires = "labels", conflicts_with = "predictions")]
        cv: bool,
        /// Training seed for --cv.
        #[arg(long, default_value_t = 17)]
        seed: u64,
    },
    /// Train the tagger model from labelled records and write it (deterministic: the same
    /// labels and seed give the same file); prints leave-one-group-out figures.
    Train {
        /// Article records, JSON Lines; `feed` or `source` in a record names its group.
        #[arg(long, required = true, num_args = 1..)]
        articles: Vec<PathBuf>,
        /// Labels, JSON Lines (as for eval). Only labelled records are read.
        #[arg(long, required = true, num_args = 1..)]
        labels: Vec<PathBuf>,
        /// Where to write the model (default: the `model` file topics.toml names).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 17)]
        seed: u64,
    },
    /// Near duplicates: why two articles were (not) grouped, or regroup stored articles.
    Dedupe {
        /// Each detector's scores for two articles against its thresholds.
        #[arg(long, num_args = 2, value_names = ["ID1", "ID2"], required_unless_present = "rebuild", conflicts_with = "rebuild")]
        explain: Option<Vec<i64>>,
        /// Recompute fingerprints, content hashes and groups of stored articles, in batches.
        #[arg(long)]
        rebuild: bool,
        /// With --rebuild: only articles first seen since ("30d" or a date).
        #[arg(long, requires = "rebuild")]
        since: Option<String>,
    },
    /// Manage subscriptions.
    Feed {
        #[command(subcommand)]
        command: feed::FeedCommand,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
}

/// Errors that mean "you asked for something wrong" (exit 2) rather than "it failed" (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The error's message with each cause appended once: a cause whose text the message
/// already holds (many errors quote their source) is not repeated.
pub fn cause_once(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// Run a parsed command line; Ok carries the exit code. One line per command: each command
/// lives in its own module.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let path = Config::locate(cli.config.as_deref())?;
    let config = Config::load(&path)?;
    crate::logging::init(&config.log)?;
    let json = cli.json;
    if let Some(url) = &config.store.url {
        // `db copy` reads the SQLite file at `path`: there the key is not ignored.
        let copying = matches!(
            &cli.command,
            Command::Db {
                command: db::DbCommand::Copy { .. }
            }
        );
        if !config.store.ignored.is_empty() && !copying {
            tracing::warn!(
                url = %crate::store::pg::redact(url),
                ignored = %config.store.ignored.join(", "),
                "[store] url is set: the store is PostgreSQL and these SQLite-only keys are ignored"
            );
        }
    }
    match cli.command {
        Command::Run => daemon::run(config),
        Command::Poll { once: _, all } => daemon::poll_once(config, all, json),
        Command::Ingest { files } => ingest::run(&config, &files, json),
        Command::Search(args) => query::search(&config, args, json),
        Command::Show { id } => query::show(&config, id, json),
        Command::Status => query::status(&config, json),
        Command::Tags { counts } => tags::list(&config, counts, json),
        Command::Retag { since } => {
            let since = since.as_deref().map(parse_since).transpose()?;
            tags::retag(&config, since, json)
        }
        Command::Eval {
            articles,
            labels,
            cv: true,
            seed,
            ..
        } => {
            let inputs = train::Inputs {
                articles: &articles,
                labels: &labels,
                seed,
            };
            train::cross_validate(&config, &inputs, json)
        }
        Command::Eval {
            articles,
            labels,
            predictions,
            ..
        } => tags::eval(&config, &articles, &labels, predictions.as_deref(), json),
        Command::Train {
            articles,
            labels,
            out,
            seed,
        } => {
            let inputs = train::Inputs {
                articles: &articles,
                labels: &labels,
                seed,
            };
            train::run(&config, &inputs, out.as_deref(), json)
        }
        Command::CheckConfig => check::run(&config, &path, json),
        Command::Feed { command } => feed::run(&config, command, json),
        Command::Db { command } => db::run(&config, command, json),
        Command::Dedupe {
            explain: Some(ids), ..
        } => dedupe::explain(&config, ids[0], ids[1], json),
        Command::Dedupe { since, .. } => {
            let since = since.as_deref().map(parse_since).transpose()?;
            dedupe::rebuild(&config, since, json)
        }
    }
}

/// `--since`: "7d" / "12h" (that long ago) or a date / RFC 3339 time, to ISO-8601 UTC text.
/// A bare number is refused: "7" read as seconds surprised everyone who meant days.
pub fn parse_since(s: &str) -> anyhow::Result<String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsageError(format!(
            "--since {t}: give a unit: {t}d (days), {t}h (hours) or {t}m (minutes), or a date like 2026-02-01"
        ))
        .into());
    }
    if let Ok(d) = crate::config::parse_duration(t) {
        let d =
            chrono::Duration::from_std(d).map_err(|e| UsageError(format!("--since {s}: {e}")))?;
        return Ok(crate::store::ts(chrono::Utc::now() - d));
    }
    crate::model::parse_timestamp(t)
        .map(crate::store::ts)
        .ok_or_else(|| {
            UsageError(format!(
                "--since {s}: expected a duration like 7d or a date like 2026-02-01"
            ))
            .into()
        })
}
