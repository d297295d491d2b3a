//! PostgreSQL migrations: `migrations/postgres/NNNN_*.sql`, numbered on their own, applied in
//! order, each in one transaction with its row in `schema_migrations`. As on SQLite, a
//! database newer than this binary is refused. An advisory lock makes daemons that start
//! together apply each migration once.

use super::super::StoreError;
use postgres::Client;

/// (version, name, SQL), in order.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_initial",
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "0002_leases",
        include_str!("../../../migrations/postgres/0002_leases.sql"),
    ),
];

/// The newest version this binary knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// An arbitrary constant that names newsdesk's migration lock among the database's advisory locks.
const LOCK_KEY: i64 = 0x6e65_7773_6465_736b; // "newsdesk"

fn sql(e: postgres::Error) -> StoreError {
    StoreError::Pg(super::cause(&e))
}

/// The schema's version: 0 for a database newsdesk never migrated.
pub fn schema_version(client: &mut Client) -> Result<i64, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .and_then(|r| r.try_get(0))
        .map_err(sql)?;
    if !exists {
        return Ok(0);
    }
    client
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .map_err(sql)
}

/// Bring the schema up to date; returns the versions applied now.
pub fn migrate(client: &mut Client, url: &str) -> Result<Vec<i64>, StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .map_err(sql)?;
    let result = apply(client, url);
    // A session lock outlives errors; release it whatever happened.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]);
    result
}

fn apply(client: &mut Client, url: &str) -> Result<Vec<i64>, StoreError> {
    let current = schema_version(client)?;
    if current == 0 {
        // Checked first (under the lock): IF NOT EXISTS would log a server notice every start.
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    bigint PRIMARY KEY,
                    name       text NOT NULL,
                    applied_at text NOT NULL
                )",
            )
            .map_err(sql)?;
    }
    check_not_newer(current, url)?;
    let mut applied = Vec::new();
    for &(version, name, text) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let mut tx = client.transaction().map_err(sql)?;
        let step = |tx: &mut postgres::Transaction| -> Result<(), postgres::Error> {
            tx.batch_execute(text)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&version, &name, &super::super::now_ts()],
            )?;
            Ok(())
        };
        step(&mut tx).map_err(|e| StoreError::PgMigration {
            version,
            name,
            cause: super::cause(&e),
        })?;
        tx.commit().map_err(sql)?;
        applied.push(version);
    }
    Ok(applied)
}

/// Refuse a database migrated by a newer newsdesk.
pub fn check_not_newer(version: i64, url: &str) -> Result<(), StoreError> {
    if version > latest() {
        return Err(StoreError::TooNew {
            path: super::redact(url).into(),
            found: version,
            known: latest(),
        });
    }
    Ok(())
}

/// Open for reading: the schema must be there and not newer than this binary.
pub fn open_read(url: &str) -> Result<Client, StoreError> {
    let mut client = super::connect(url)?;
    let version = schema_version(&mut client)?;
    if version == 0 {
        return Err(StoreError::NotMigrated {
            path: super::redact(url).into(),
        });
    }
    check_not_newer(version, url)?;
    Ok(client)
}

/// Open for writing, migrating the schema first.
pub fn open_write(url: &str) -> Result<Client, StoreError> {
    let mut client = super::connect(url)?;
    migrate(&mut client, url)?;
    Ok(client)
}

/// Bring the full-text index in line with `[store] fts`, as on SQLite: a change of mode
/// rebuilds the index (or empties it for "off"). Returns the articles reindexed, if it changed.
pub fn set_fts_mode(
    client: &mut Client,
    mode: crate::store::fts::FtsMode,
) -> Result<Option<i64>, StoreError> {
    let mut tx = client.transaction().map_err(sql)?;
    let current: Option<String> = tx
        .query_opt(
            "SELECT value FROM settings WHERE key = 'fts' FOR UPDATE",
            &[],
        )
        .map_err(sql)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(sql)?;
    if current.as_deref() == Some(mode.as_str()) {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ('fts', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&mode.as_str()],
    )
    .map_err(sql)?;
    tx.execute("DELETE FROM articles_fts", &[]).map_err(sql)?;
    let n = tx
        .execute(
            "INSERT INTO articles_fts (article_id, document)
             SELECT id, articles_fts_document($1, title, summary, body_text) FROM articles
              WHERE $1 IN ('full', 'title')",
            &[&mode.as_str()],
        )
        .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(Some(n as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_postgres_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<String> = MIGRATIONS.iter().map(|m| format!("{}.sql", m.1)).collect();
        assert_eq!(files, names);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i as i64 + 1, "versions are 1, 2, 3, ...");
            assert!(m.1.starts_with(&format!("{:04}_", m.0)));
        }
    }
}
