//! The SQLite store (SPEC section 7). One writer owns the write connection ([`writer`]);
//! everything else reads through connections of its own ([`open_read`]), so WAL lets an
//! analyst's long query run beside ingest.
//!
//! SQL for the schema lives in `migrations/`; SQL for queries lives next to the code that runs
//! it, in this module's files.

pub mod checkpoint;
pub mod dedupe;
pub mod feeds;
pub mod fts;
pub mod fulltext;
pub mod handle;
pub mod lock;
pub mod migrate;
mod open_error;
pub mod pg;
pub mod prune;
pub mod read;
pub mod retag;
pub mod service;
pub mod write;
pub mod writer;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The cause is a phrase of our own (not a chained source), so it is said once.
    #[error("cannot create the database folder {path}: {cause}")]
    CreateDir { path: PathBuf, cause: String },
    #[error("cannot open database {path}: {cause}")]
    Open { path: PathBuf, cause: String },
    #[error("database {path} has schema version {found}, newer than this newsdesk understands (up to {known}); upgrade newsdesk or use another database")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database {path} has no newsdesk schema yet: run `newsdesk db migrate` (or any command that writes)")]
    NotMigrated { path: PathBuf },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot connect to PostgreSQL at {url}: {cause}")]
    PgConnect { url: String, cause: String },
    #[error("PostgreSQL error: {0}")]
    Pg(String),
    #[error("PostgreSQL migration {version} ({name}) failed: {cause}")]
    PgMigration {
        version: i64,
        name: &'static str,
        cause: String,
    },
    #[error("database setting {key} has the value {value:?}, which this newsdesk does not know")]
    BadSetting { key: &'static str, value: String },
    /// The search text is not an FTS5 query (an open quote, a lone `*`, nothing to search).
    #[error("bad search query `{query}`: {reason}; write words, \"phrases\", OR, NOT or prefix*")]
    BadQuery { query: String, reason: String },
    #[error("the full-text index is off (`[store] fts = \"off\"`): set fts to \"full\" or \"title\" and restart newsdesk to build it")]
    FtsOff,
    #[error("the store writer has stopped")]
    WriterGone,
    #[error("not committed: {0}")]
    NotCommitted(String),
    #[error("cannot start the store writer thread: {0}")]
    Thread(std::io::Error),
}

impl StoreError {
    /// True for errors an immediate retry may cure (a lock held a little too long). A full
    /// disk is not: space does not come back within the writer's retries, which only held the
    /// writer thread; the daemon backs off instead (`service::backoff`).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }

    /// The same failure for another caller: a group commit's error goes to every job of the
    /// group. SQLite's error code is kept, so `is_transient` answers alike.
    pub fn replicate(&self) -> StoreError {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, msg)) => {
                StoreError::Sql(rusqlite::Error::SqliteFailure(*e, msg.clone()))
            }
            StoreError::WriterGone => StoreError::WriterGone,
            other => StoreError::NotCommitted(other.to_string()),
        }
    }
}

fn configure(conn: &Connection, busy_timeout: Duration) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(busy_timeout)?;
    // NORMAL is durable in WAL mode except for the last transactions before a power cut, which
    // re-polling refills; FULL would cost an fsync per batch for nothing we cannot recover.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;",
    )
}

/// The database at `path` could not be opened: say why, from the file system if it shows
/// the cause, else in SQLite's words (once: its error repeats its message in its source).
fn open_failed(path: &Path, write: bool, e: &rusqlite::Error) -> StoreError {
    let cause = open_error::diagnose(path, write).unwrap_or_else(|| match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        other => other.to_string(),
    });
    StoreError::Open {
        path: path.to_path_buf(),
        cause,
    }
}

/// Open (creating if needed) the database for writing and bring its schema up to date.
pub fn open_write(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::CreateDir {
            path: dir.to_path_buf(),
            cause: open_error::io_cause(&e, "create it"),
        })?;
    }
    let fail = |e: rusqlite::Error| open_failed(path, true, &e);
    let mut conn = Connection::open(path).map_err(fail)?;
    // SQLite opens a file it may not write read-only without a word; every write would fail.
    if conn.is_readonly(rusqlite::MAIN_DB).map_err(fail)? {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            cause: open_error::diagnose(path, true)
                .unwrap_or_else(|| "it can only be opened read-only".into()),
        });
    }
    let wal = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .map_err(fail)?;
    if !wal.eq_ignore_ascii_case("wal") {
        tracing::warn!(database = %path.display(), mode = %wal, "database is not in WAL mode; readers may block ingest");
    }
    configure(&conn, busy_timeout).map_err(fail)?;
    // Without the query planner stability guarantee, SQLite marks the writer's lookups
    // (by guid, canonical URL, content hash) to be re-planned whenever a new value is bound,
    // and re-prepared them for every item: 11% of the writer thread's time in a cold poll. Their
    // plans are plain index searches whatever the value, so a fixed plan loses nothing.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(fail)?;
    // An article's store runs about 15 distinct cached statements (lookups, insert, tags,
    // sightings, poll record); rusqlite's default cache of 16 evicted and re-prepared some.
    conn.set_prepared_statement_cache_capacity(64);
    migrate::migrate(&mut conn, path)?;
    Ok(conn)
}

/// Open an existing database for writing without touching its schema: for helpers of the
/// writer (the background checkpoint), which start after it migrated the file.
fn open_plain(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let open = || -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        configure(&conn, busy_timeout)?;
        Ok(conn)
    };
    open().map_err(|e| open_failed(path, true, &e))
}

/// Open the database read-only. The schema must already be there and not be newer than us.
pub fn open_read(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let fail = |e: rusqlite::Error| open_failed(path, false, &e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(fail)?;
    configure(&conn, busy_timeout).map_err(fail)?;
    // The first read is where a WAL database whose -shm file cannot be made fails.
    let version = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(fail)?;
    if version == 0 {
        return Err(StoreError::NotMigrated {
            path: path.to_path_buf(),
        });
    }
    migrate::check_not_newer(version, path)?;
    Ok(conn)
}

/// Timestamps are stored as ISO-8601 UTC text ("2026-02-18T07:35:06Z") so SQLite's date
/// functions and plain string comparison both work.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn now_ts() -> String {
    ts(Utc::now())
}
