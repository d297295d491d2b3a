//! `newsdesk db migrate|prune|vacuum`: schema and maintenance.

use super::UsageError;
use crate::config::Config;
use crate::store::{fts, migrate, open_write, prune};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database or bring its schema up to date.
    Migrate,
    /// Apply retention now: `[store] retention_days` for articles, `fetch_log_days` for polls.
    Prune,
    /// Rebuild the database file to reclaim space after large deletions.
    Vacuum,
    /// Copy this SQLite store (`[store] path`) into a PostgreSQL store: articles, sightings,
    /// revisions, tags, feeds, fetch history. Resumable: run it again to finish a copy that
    /// stopped, or to add what was stored since. Stop the daemon before the last run.
    Copy {
        /// The PostgreSQL store, e.g. postgres://newsdesk@%2Frun%2Fpostgresql/newsdesk
        #[arg(long, value_name = "postgres://...")]
        to: String,
    },
}

pub fn run(config: &Config, cmd: DbCommand, json: bool) -> anyhow::Result<u8> {
    match cmd {
        DbCommand::Migrate => db_migrate(config, json),
        DbCommand::Prune => db_prune(config, json),
        DbCommand::Vacuum => db_vacuum(config),
        DbCommand::Copy { to } => db_copy(config, &to, json),
    }
}

fn db_copy(config: &Config, to: &str, json: bool) -> anyhow::Result<u8> {
    crate::store::pg::check_url(to).map_err(|e| UsageError(format!("--to {e}")))?;
    let source = crate::store::open_read(&config.store.path, config.store.busy_timeout)?;
    let version = migrate::schema_version(&source)?;
    if version < migrate::latest_version() {
        return Err(UsageError(format!(
            "{} has schema version {version}; run `newsdesk db migrate` on it first (this newsdesk copies version {})",
            config.store.path.display(),
            migrate::latest_version()
        ))
        .into());
    }
    let mut target = crate::store::pg::migrate::open_write(to)?;
    let started = std::time::Instant::now();
    let mut last_shown = std::time::Instant::now();
    // Progress on stderr, so `--json` output stays one document: each table's start and end,
    // and a line every few seconds in between.
    let mut progress = |table: &str, done: i64, total: i64| {
        if done == 0 || done >= total || last_shown.elapsed().as_secs() >= 5 {
            eprintln!("copy: {table} {done}/{total}");
            last_shown = std::time::Instant::now();
        }
    };
    let report = crate::store::pg::copy::copy(&source, &mut target, &mut progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let short: Vec<_> = report
        .iter()
        .filter(|t| t.target_rows < t.source_rows)
        .collect();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "to": crate::store::pg::redact(to),
                "seconds": seconds,
                "tables": report,
            })
        );
    } else {
        for t in &report {
            println!(
                "{:<22} {:>9} rows ({} copied now)",
                t.table, t.target_rows, t.copied
            );
        }
        println!(
            "copied {} into {} in {seconds:.1} s",
            config.store.path.display(),
            crate::store::pg::redact(to)
        );
    }
    if let Some(t) = short.first() {
        anyhow::bail!(
            "{} holds {} rows but the copy has {}",
            t.table,
            t.source_rows,
            t.target_rows
        );
    }
    Ok(0)
}

fn db_prune(config: &Config, json: bool) -> anyhow::Result<u8> {
    let (articles, fetches) = (config.store.retention_days, config.store.fetch_log_days);
    let p = match &config.store.url {
        Some(url) => {
            let mut client = crate::store::pg::migrate::open_write(url)?;
            crate::store::pg::feeds::prune(&mut client, articles, fetches)?
        }
        None => {
            let mut conn = open_write(&config.store.path, config.store.busy_timeout)?;
            prune::prune(&mut conn, articles, fetches)?
        }
    };
    if json {
        println!("{}", serde_json::to_string(&p)?);
    } else {
        println!(
            "pruned {} articles and {} poll records",
            p.articles, p.fetches
        );
    }
    Ok(0)
}

fn db_vacuum(config: &Config) -> anyhow::Result<u8> {
    if let Some(url) = &config.store.url {
        let mut client = crate::store::pg::migrate::open_write(url)?;
        crate::store::pg::read::vacuum(&mut client)?;
        println!("{}: vacuumed", crate::store::pg::redact(url));
        return Ok(0);
    }
    let conn = open_write(&config.store.path, config.store.busy_timeout)?;
    prune::vacuum(&conn)?;
    println!("{}: vacuumed", config.store.path.display());
    Ok(0)
}

fn db_migrate(config: &Config, json: bool) -> anyhow::Result<u8> {
    if let Some(url) = &config.store.url {
        return db_migrate_pg(config, url, json);
    }
    // Opening for writing already brings the schema up to date, so what this command applied
    // is told by the version the file had before.
    let before = version_on_disk(&config.store.path);
    let mut conn = open_write(&config.store.path, config.store.busy_timeout)?;
    migrate::migrate(&mut conn, &config.store.path)?;
    let version = migrate::schema_version(&conn)?;
    let applied = version - before;
    // The index mode is part of bringing the database in line with the config.
    let mode = config.store.fts;
    let reindexed = fts::set_mode(&mut conn, mode)?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "database": config.store.path,
                "schema_version": version,
                "fts": mode.as_str(),
                "reindexed": reindexed.map(|r| r.articles),
            })
        );
        return Ok(0);
    }
    let change = match reindexed {
        Some(r) => format!(
            " (was {}; {} articles reindexed)",
            r.from.as_str(),
            r.articles
        ),
        None => String::new(),
    };
    println!(
        "{}: schema version {version} ({} applied now), full-text index {}{change}",
        config.store.path.display(),
        applied,
        mode.as_str(),
    );
    Ok(0)
}

/// The schema version of an existing SQLite file, 0 when there is none yet (or it cannot be
/// read: then opening it for writing fails next, with the reason).
fn version_on_disk(path: &std::path::Path) -> i64 {
    if !path.exists() {
        return 0;
    }
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .unwrap_or(0)
}

fn db_migrate_pg(config: &Config, url: &str, json: bool) -> anyhow::Result<u8> {
    use crate::store::pg;
    let mut client = pg::connect(url)?;
    let applied = pg::migrate::migrate(&mut client, url)?;
    let version = pg::migrate::schema_version(&mut client)?;
    let mode = config.store.fts;
    let reindexed = pg::migrate::set_fts_mode(&mut client, mode)?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "database": pg::redact(url),
                "schema_version": version,
                "fts": mode.as_str(),
                "reindexed": reindexed,
            })
        );
        return Ok(0);
    }
    let change = match reindexed {
        Some(n) => format!(" ({n} articles reindexed)"),
        None => String::new(),
    };
    println!(
        "{}: schema version {version} ({} applied now), full-text index {}{change}",
        pg::redact(url),
        applied.len(),
        mode.as_str(),
    );
    Ok(0)
}
