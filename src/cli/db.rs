//! `newsdesk db migrate|prune|vacuum`: schema and maintenance.

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
}

pub fn run(config: &Config, cmd: DbCommand, json: bool) -> anyhow::Result<u8> {
    match cmd {
        DbCommand::Migrate => db_migrate(config, json),
        DbCommand::Prune => db_prune(config, json),
        DbCommand::Vacuum => db_vacuum(config),
    }
}

fn db_prune(config: &Config, json: bool) -> anyhow::Result<u8> {
    let mut conn = open_write(&config.store.path, config.store.busy_timeout)?;
    let p = prune::prune(
        &mut conn,
        config.store.retention_days,
        config.store.fetch_log_days,
    )?;
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
    let conn = open_write(&config.store.path, config.store.busy_timeout)?;
    prune::vacuum(&conn)?;
    println!("{}: vacuumed", config.store.path.display());
    Ok(0)
}

fn db_migrate(config: &Config, json: bool) -> anyhow::Result<u8> {
    let mut conn = open_write(&config.store.path, config.store.busy_timeout)?;
    let applied = migrate::migrate(&mut conn, &config.store.path)?;
    let version = migrate::schema_version(&conn)?;
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
        applied.len(),
        mode.as_str(),
    );
    Ok(0)
}
