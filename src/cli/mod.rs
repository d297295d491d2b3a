//! The command line (SPEC section 8). `main.rs` parses it and maps the result to an exit code:
//! 0 ok, 1 runtime failure, 2 bad usage or config.

mod daemon;
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
    /// Full-text search (SQLite FTS5 syntax: words, "phrases", OR, NOT, prefix*).
    Search {
        query: String,
        /// Only articles since a time: a duration ago ("7d", "12h") or a date ("2026-02-01").
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only articles with this topic tag (e.g. sanctions).
        #[arg(long)]
        topic: Option<String>,
        /// Only articles tagged with this ISO 3166-1 alpha-2 country (e.g. KP).
        #[arg(long)]
        country: Option<String>,
        /// Only articles tagged with this organisation (e.g. NATO).
        #[arg(long)]
        org: Option<String>,
        /// Only foreign-policy articles.
        #[arg(long)]
        foreign_policy: bool,
        /// One line per story: near duplicates folded into the earliest article (the default).
        #[arg(long, overrides_with = "all")]
        collapse: bool,
        /// Every matching article, near duplicates included.
        #[arg(long)]
        all: bool,
    },
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
        /// Only articles published (or first seen) since: "30d" or a date.
        #[arg(long)]
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
    /// Manage subscriptions.
    Feed {
        #[command(subcommand)]
        command: feed::FeedCommand,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database or bring its schema up to date.
    Migrate,
    /// Apply retention now: `[store] retention_days` for articles, `fetch_log_days` for polls.
    Prune,
    /// Rebuild the database file to reclaim space after large deletions.
    Vacuum,
}

/// Errors that mean "you asked for something wrong" (exit 2) rather than "it failed" (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run a parsed command line; Ok carries the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let path = Config::locate(cli.config.as_deref())?;
    let config = Config::load(&path)?;
    crate::logging::init(&config.log)?;
    match cli.command {
        Command::Run => daemon::run(config),
        Command::Poll { once: _, all } => daemon::poll_once(config, all, cli.json),
        Command::Ingest { files } => ingest::run(&config, &files, cli.json),
        Command::Search {
            query,
            since,
            limit,
            topic,
            country,
            org,
            foreign_policy,
            collapse: _,
            all,
        } => {
            let since = since.as_deref().map(parse_since).transpose()?;
            let q = crate::store::read::SearchQuery {
                text: query,
                since,
                limit,
                topic,
                country: country.map(|c| c.to_ascii_uppercase()),
                org,
                foreign_policy_only: foreign_policy,
                collapse: !all,
            };
            query::search(&config, &q, cli.json)
        }
        Command::Tags { counts } => tags::list(&config, counts, cli.json),
        Command::Retag { since } => {
            let since = since.as_deref().map(parse_since).transpose()?;
            tags::retag(&config, since, cli.json)
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
            train::cross_validate(&config, &inputs, cli.json)
        }
        Command::Eval {
            articles,
            labels,
            predictions,
            ..
        } => tags::eval(
            &config,
            &articles,
            &labels,
            predictions.as_deref(),
            cli.json,
        ),
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
            train::run(&config, &inputs, out.as_deref(), cli.json)
        }
        Command::Feed { command } => feed::run(&config, command, cli.json),
        Command::Show { id } => query::show(&config, id, cli.json),
        Command::Status => query::status(&config, cli.json),
        Command::CheckConfig => {
            check_config(&config)?;
            if cli.json {
                println!("{}", serde_json::json!({"ok": true, "config": path}));
            } else {
                println!("{}: ok ({} feeds)", path.display(), config.feeds.len());
            }
            Ok(0)
        }
        Command::Db {
            command: DbCommand::Prune,
        } => {
            let mut conn = crate::store::open_write(&config.store.path, config.store.busy_timeout)?;
            let p = crate::store::prune::prune(
                &mut conn,
                config.store.retention_days,
                config.store.fetch_log_days,
            )?;
            if cli.json {
                println!("{}", serde_json::to_string(&p)?);
            } else {
                println!(
                    "pruned {} articles and {} poll records",
                    p.articles, p.fetches
                );
            }
            Ok(0)
        }
        Command::Db {
            command: DbCommand::Vacuum,
        } => {
            let conn = crate::store::open_write(&config.store.path, config.store.busy_timeout)?;
            conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
            println!("{}: vacuumed", config.store.path.display());
            Ok(0)
        }
        Command::Db {
            command: DbCommand::Migrate,
        } => {
            let mut conn = crate::store::open_write(&config.store.path, config.store.busy_timeout)?;
            let applied = crate::store::migrate::migrate(&mut conn, &config.store.path)?;
            let version = crate::store::migrate::schema_version(&conn)?;
            // The index mode is part of bringing the database in line with the config.
            let fts = config.store.fts;
            let reindexed = crate::store::fts::set_mode(&mut conn, fts)?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "database": config.store.path,
                        "schema_version": version,
                        "fts": fts.as_str(),
                        "reindexed": reindexed.map(|r| r.articles),
                    })
                );
            } else {
                println!(
                    "{}: schema version {version} ({} applied now), full-text index {}{}",
                    config.store.path.display(),
                    applied.len(),
                    fts.as_str(),
                    match reindexed {
                        Some(r) => format!(
                            " (was {}; {} articles reindexed)",
                            r.from.as_str(),
                            r.articles
                        ),
                        None => String::new(),
                    }
                );
            }
            Ok(0)
        }
    }
}

/// Everything `check-config` can verify without side effects beyond parsing.
fn check_config(config: &Config) -> anyhow::Result<()> {
    crate::pipeline::Tagger::load(config).map_err(|e| UsageError(e.to_string()))?;
    crate::fetch::Fetcher::new(&config.fetch).map_err(|e| UsageError(e.to_string()))?;
    Ok(())
}

/// `--since`: "7d" / "12h" (that long ago) or a date / RFC 3339 time, to ISO-8601 UTC text.
pub fn parse_since(s: &str) -> anyhow::Result<String> {
    if let Ok(d) = crate::config::parse_duration(s) {
        let d =
            chrono::Duration::from_std(d).map_err(|e| UsageError(format!("--since {s}: {e}")))?;
        return Ok(crate::store::ts(chrono::Utc::now() - d));
    }
    crate::model::parse_timestamp(s)
        .map(crate::store::ts)
        .ok_or_else(|| {
            UsageError(format!(
                "--since {s}: expected a duration like 7d or a date like 2026-02-01"
            ))
            .into()
        })
}
