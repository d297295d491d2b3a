//! `newsdesk feed add|list|remove|enable|disable|import|export`.

use super::output::{cut, table};
use super::UsageError;
use crate::config::Config;
use crate::store::feeds::{self, AddOutcome, FeedRow, FeedState};
use crate::store::pg::feeds as pg_feeds;
use crate::store::StoreError;
use clap::Subcommand;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Subscribe to a feed.
    Add {
        url: String,
        #[arg(long)]
        title: Option<String>,
        /// Fixed poll interval for this feed ("15m"); default: adaptive.
        #[arg(long)]
        interval: Option<String>,
    },
    /// List feeds with their state and last error.
    List,
    /// Unsubscribe (the articles stay).
    Remove { feed: String },
    /// Resume polling a feed (also after 410 Gone).
    Enable { feed: String },
    /// Stop polling a feed.
    Disable { feed: String },
    /// Subscribe to every feed of an OPML file.
    Import { file: PathBuf },
    /// Write the subscriptions as OPML (to stdout, or --output FILE).
    Export {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// The feeds table of the configured store: each store keeps its own SQL, the commands
/// below are one.
enum Feeds {
    Sqlite(Connection),
    Postgres(postgres::Client),
}

impl Feeds {
    fn open(config: &Config) -> Result<Feeds, StoreError> {
        match &config.store.url {
            Some(url) => Ok(Feeds::Postgres(crate::store::pg::migrate::open_write(url)?)),
            None => Ok(Feeds::Sqlite(crate::store::open_write(
                &config.store.path,
                config.store.busy_timeout,
            )?)),
        }
    }

    fn list(&mut self) -> Result<Vec<FeedRow>, StoreError> {
        match self {
            Feeds::Sqlite(c) => feeds::list(c),
            Feeds::Postgres(c) => pg_feeds::list(c),
        }
    }

    fn find(&mut self, key: &str) -> Result<Option<FeedRow>, StoreError> {
        match self {
            Feeds::Sqlite(c) => feeds::find(c, key),
            Feeds::Postgres(c) => pg_feeds::find(c, key),
        }
    }

    fn add(
        &mut self,
        url: &str,
        title: Option<&str>,
        interval_secs: Option<i64>,
        origin: &str,
    ) -> Result<AddOutcome, StoreError> {
        match self {
            Feeds::Sqlite(c) => feeds::add(c, url, title, interval_secs, origin),
            Feeds::Postgres(c) => pg_feeds::add(c, url, title, interval_secs, origin),
        }
    }

    fn remove(&mut self, id: i64) -> Result<bool, StoreError> {
        match self {
            Feeds::Sqlite(c) => feeds::remove(c, id),
            Feeds::Postgres(c) => pg_feeds::remove(c, id),
        }
    }

    fn set_enabled(
        &mut self,
        id: i64,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        match self {
            Feeds::Sqlite(c) => feeds::set_enabled(c, id, enabled, reason),
            Feeds::Postgres(c) => pg_feeds::set_enabled(c, id, enabled, reason),
        }
    }
}

pub fn run(config: &Config, cmd: FeedCommand, json: bool) -> anyhow::Result<u8> {
    let mut store = Feeds::open(config)?;
    let conn = &mut store;
    match cmd {
        FeedCommand::Add {
            url,
            title,
            interval,
        } => add(
            config,
            conn,
            &url,
            title.as_deref(),
            interval.as_deref(),
            json,
        ),
        FeedCommand::List => list(conn, json),
        FeedCommand::Remove { feed } => {
            let f = find(conn, &feed)?;
            conn.remove(f.id)?;
            println!("removed feed {}: {}", f.id, f.url);
            Ok(0)
        }
        FeedCommand::Enable { feed } => {
            let f = find(conn, &feed)?;
            conn.set_enabled(f.id, true, None)?;
            println!("enabled feed {}: {}", f.id, f.url);
            Ok(0)
        }
        FeedCommand::Disable { feed } => {
            let f = find(conn, &feed)?;
            conn.set_enabled(f.id, false, Some("disabled by user"))?;
            println!("disabled feed {}: {}", f.id, f.url);
            Ok(0)
        }
        FeedCommand::Import { file } => import(conn, &file, json),
        FeedCommand::Export { output } => export(conn, output.as_deref()),
    }
}

fn find(conn: &mut Feeds, key: &str) -> anyhow::Result<FeedRow> {
    conn.find(key)?
        .ok_or_else(|| UsageError(format!("no feed with id or URL `{key}`")).into())
}

fn add(
    config: &Config,
    conn: &mut Feeds,
    url: &str,
    title: Option<&str>,
    interval: Option<&str>,
    json: bool,
) -> anyhow::Result<u8> {
    let parsed =
        url::Url::parse(url).map_err(|e| UsageError(format!("`{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UsageError(format!("`{url}`: only http and https feeds")).into());
    }
    let interval = interval
        .map(crate::config::parse_duration)
        .transpose()
        .map_err(|e| UsageError(format!("--interval: {e}")))?
        .map(|d| d.as_secs() as i64);
    if !config.fetch.allow_private_addresses && is_private_host(&parsed) {
        eprintln!(
            "warning: {parsed} is not a public address: polls will refuse it unless \
             `[fetch] allow_private_addresses = true` is set in the config"
        );
    }
    let (id, added) = match conn.add(parsed.as_str(), title, interval, "cli")? {
        AddOutcome::Added(id) => (id, true),
        AddOutcome::Exists(id) => (id, false),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"id": id, "url": parsed.as_str(), "added": added})
        );
    } else if added {
        println!("added feed {id}: {parsed}");
    } else {
        println!("feed {id} already subscribed: {parsed}");
    }
    Ok(0)
}

/// A host the fetcher will refuse, as far as can be told without a DNS lookup.
fn is_private_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => crate::fetch::is_forbidden(ip.into()),
        Some(url::Host::Ipv6(ip)) => crate::fetch::is_forbidden(ip.into()),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

/// The STATE column: the state, and for a failing or disabled feed why.
fn state_text(f: &FeedRow) -> String {
    match f.state() {
        FeedState::Disabled => format!(
            "disabled: {}",
            f.disabled_reason.as_deref().unwrap_or("by user")
        ),
        FeedState::Failing => format!(
            "failing x{}: {}",
            f.consecutive_errors,
            f.last_error.as_deref().unwrap_or("?")
        ),
        FeedState::Ok => "ok".into(),
        FeedState::New => "new".into(),
    }
}

fn list(conn: &mut Feeds, json: bool) -> anyhow::Result<u8> {
    let list = conn.list()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|f| {
            vec![
                f.id.to_string(),
                match super::output::width() {
                    Some(_) => cut(&state_text(f), 48),
                    None => state_text(f),
                },
                f.articles.to_string(),
                f.last_polled_at.clone().unwrap_or_else(|| "never".into()),
                match &f.title {
                    Some(t) => format!("{t} <{}>", f.url),
                    None => f.url.clone(),
                },
            ]
        })
        .collect();
    table(&["ID", "STATE", "ARTICLES", "LAST POLL", "FEED"], &rows);
    Ok(0)
}

fn import(conn: &mut Feeds, file: &Path, json: bool) -> anyhow::Result<u8> {
    let xml = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    let (list, skipped) =
        crate::opml::import(&xml).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let (mut added, mut existing) = (0, 0);
    for f in &list {
        match conn.add(f.url.as_str(), f.title.as_deref(), None, "opml")? {
            AddOutcome::Added(_) => added += 1,
            AddOutcome::Exists(_) => existing += 1,
        }
    }
    for s in &skipped {
        eprintln!(
            "warning: {}: skipped outline with unusable xmlUrl `{s}`",
            file.display()
        );
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"added": added, "existing": existing, "skipped": skipped})
        );
    } else {
        println!(
            "{added} feeds added, {existing} already subscribed, {} skipped",
            skipped.len()
        );
    }
    Ok(0)
}

fn export(conn: &mut Feeds, output: Option<&Path>) -> anyhow::Result<u8> {
    let list: Vec<crate::opml::OpmlFeed> = conn
        .list()?
        .into_iter()
        .filter_map(|f| {
            Some(crate::opml::OpmlFeed {
                url: url::Url::parse(&f.url).ok()?,
                title: f.title,
                site_url: f.site_url,
            })
        })
        .collect();
    let xml = crate::opml::export(&list)?;
    match output {
        Some(path) => std::fs::write(path, xml)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?,
        None => println!("{xml}"),
    }
    Ok(0)
}
