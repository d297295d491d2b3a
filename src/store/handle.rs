//! The store as the pipeline and the CLI use it, whichever it is: SQLite (the writer thread
//! and read-only connections of `store::writer`) or PostgreSQL (`store::pg`). The methods are
//! what polling and ingest need; each store keeps its own SQL.

use super::feeds::{FeedRow, PollRecord, Reconciled};
use super::pg::writer::PgWriter;
use super::write::{BatchOutcome, NewItem, Source};
use super::writer::{Pending, Writer};
use super::StoreError;
use crate::config::FeedConfig;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
pub enum StoreWriter {
    Sqlite {
        writer: Writer,
        /// The database and busy timeout, for read-only lookups beside the writer.
        path: PathBuf,
        busy_timeout: Duration,
        /// Read-only connections kept between the pipeline's per-poll lookups.
        readers: ReadPool,
    },
    Postgres(PgWriter),
}

/// Read-only connections kept open between lookups. Opening one reads and parses the whole
/// schema: one per poll for `unchanged_items` was 5% of a cold poll's pipeline CPU. Only
/// idle connections are kept (at most `MAX_IDLE_READERS`), and none holds a read
/// transaction between uses, so checkpoints are not held back.
#[derive(Clone)]
pub struct ReadPool {
    idle: Arc<Mutex<Vec<rusqlite::Connection>>>,
}

/// One per blocking thread that runs the pipeline at once is plenty; each costs its page
/// cache (only the pages its lookups read).
const MAX_IDLE_READERS: usize = 4;

impl ReadPool {
    fn new() -> ReadPool {
        ReadPool {
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Run `f` on an idle connection, or on a new one when none is idle.
    fn with<T>(
        &self,
        path: &std::path::Path,
        busy_timeout: Duration,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => super::open_read(path, busy_timeout)?,
        };
        let result = f(&conn);
        // A connection whose lookup failed is dropped: whatever went wrong may be its own.
        if result.is_ok() && conn.is_autocommit() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < MAX_IDLE_READERS {
                    idle.push(conn);
                }
            }
        }
        result
    }
}

/// What `StoreWriter::start` returns besides the handle: the writer thread, joined at the end.
pub type WriterThread = std::thread::JoinHandle<()>;

impl StoreWriter {
    /// Open the configured store (migrating it) and start its writer.
    pub fn start(
        config: &crate::config::Config,
        health: Option<std::sync::Arc<crate::service::health::Health>>,
    ) -> Result<(StoreWriter, WriterThread), StoreError> {
        if config.store.url.is_some() {
            let (w, t) = PgWriter::start(config)?;
            return Ok((StoreWriter::Postgres(w), t));
        }
        let (writer, t) = Writer::start(config, health)?;
        Ok((
            StoreWriter::Sqlite {
                writer,
                path: config.store.path.clone(),
                busy_timeout: config.store.busy_timeout,
                readers: ReadPool::new(),
            },
            t,
        ))
    }

    /// The SQLite writer, for the parts of the daemon that exist only there.
    pub fn sqlite(&self) -> Option<&Writer> {
        match self {
            StoreWriter::Sqlite { writer, .. } => Some(writer),
            StoreWriter::Postgres(_) => None,
        }
    }

    /// True while the store refuses writes (SQLite's full disk). PostgreSQL reports its
    /// failures per write.
    pub fn store_failing(&self) -> bool {
        self.sqlite().is_some_and(Writer::store_failing)
    }

    /// A poll's items, `fetches` row and feed state in one transaction; also the feed's new
    /// URL when a permanent redirect changed it. `slot` is released when the write starts.
    pub async fn store_poll<S: Send + 'static>(
        &self,
        feed_id: i64,
        items: Vec<NewItem>,
        unchanged: Vec<String>,
        mut record: PollRecord,
        slot: S,
    ) -> Result<(BatchOutcome, Option<String>), StoreError> {
        match self {
            StoreWriter::Sqlite { writer, .. } => {
                writer
                    .call_grouped(move |w| {
                        drop(slot);
                        let outcome = w.store_poll(feed_id, &items, &unchanged, &mut record)?;
                        Ok((outcome, record.moved_to.take()))
                    })
                    .await
            }
            StoreWriter::Postgres(pg) => {
                pg.call(move |w| {
                    drop(slot);
                    let outcome = w.store_poll(feed_id, &items, &unchanged, &mut record)?;
                    Ok((outcome, record.moved_to.take()))
                })
                .await
            }
        }
    }

    /// Queue a batch of local items and return at once (blocking code only).
    pub fn submit_batch_blocking(
        &self,
        source: Source,
        items: Vec<NewItem>,
    ) -> Result<Pending<BatchOutcome>, StoreError> {
        match self {
            StoreWriter::Sqlite { writer, .. } => {
                writer.submit_grouped_blocking(move |w| w.store_batch(&source, &items))
            }
            StoreWriter::Postgres(pg) => {
                pg.submit_blocking(move |w| w.store_batch(&source, &items))
            }
        }
    }

    /// Make the feeds table match the config's `[[feeds]]`.
    pub async fn reconcile(&self, feeds: Vec<FeedConfig>) -> Result<Reconciled, StoreError> {
        match self {
            StoreWriter::Sqlite { writer, .. } => {
                writer
                    .call(move |w| super::feeds::reconcile(&w.conn, &feeds))
                    .await?
            }
            StoreWriter::Postgres(pg) => {
                pg.call(move |w| super::pg::feeds::reconcile(&mut w.client, &feeds))
                    .await
            }
        }
    }

    /// For each canonical URL, true when no stored article has it.
    pub async fn unknown_urls(&self, urls: Vec<String>) -> Result<Vec<bool>, StoreError> {
        match self {
            StoreWriter::Sqlite { writer, .. } => {
                writer
                    .call(move |w| super::fulltext::unknown_urls(&w.conn, &urls))
                    .await?
            }
            StoreWriter::Postgres(pg) => {
                let pg = pg.clone();
                tokio::task::spawn_blocking(move || {
                    pg.read(|c| super::pg::write::unknown_urls(c, &urls))
                })
                .await
                .map_err(|e| StoreError::NotCommitted(format!("lookup task failed: {e}")))?
            }
        }
    }

    /// Which of a feed's items (guid, item hash) it sent before exactly as now. Blocking.
    pub fn unchanged_items(
        &self,
        feed_id: i64,
        items: &[(String, String)],
    ) -> Result<HashSet<String>, StoreError> {
        match self {
            StoreWriter::Sqlite {
                path,
                busy_timeout,
                readers,
                ..
            } => readers.with(path, *busy_timeout, |conn| {
                super::write::unchanged_items(conn, feed_id, items)
            }),
            StoreWriter::Postgres(pg) => {
                pg.read(|c| super::pg::write::unchanged_items(c, feed_id, items))
            }
        }
    }

    /// The feeds to poll in a pass: on SQLite every due feed (every enabled one with `all`);
    /// on PostgreSQL up to `limit` of them that no other live daemon holds, now leased to
    /// this process (with `all`, those not polled since `pass_started`). Blocking.
    pub fn claim(
        &self,
        all: bool,
        limit: usize,
        pass_started: &str,
    ) -> Result<Vec<FeedRow>, StoreError> {
        match self {
            StoreWriter::Sqlite {
                path, busy_timeout, ..
            } => super::open_read(path, *busy_timeout)
                .and_then(|conn| super::feeds::due(&conn, &super::now_ts(), all)),
            StoreWriter::Postgres(pg) => pg.read(|c| {
                super::pg::feeds::renew(c, &pg.owner, pg.lease)?;
                super::pg::feeds::claim(c, &pg.owner, pg.lease, all, limit, pass_started)
            }),
        }
    }
}

impl StoreWriter {
    /// Extend this process's leases and heartbeat (PostgreSQL; nothing on SQLite, which has
    /// no leases). A pass whose last claim is behind it renews while its polls finish, so a
    /// slow feed is not taken over by another daemon mid-poll. Blocking.
    pub fn renew(&self) -> Result<(), StoreError> {
        match self {
            StoreWriter::Sqlite { .. } => Ok(()),
            StoreWriter::Postgres(pg) => {
                pg.read(|c| super::pg::feeds::renew(c, &pg.owner, pg.lease).map(|_| ()))
            }
        }
    }
}

impl StoreWriter {
    /// Jobs waiting for the writer (SQLite's queue; PostgreSQL reports none).
    pub fn queue_depth(&self) -> usize {
        self.sqlite().map_or(0, Writer::queue_depth)
    }

    /// Retention now: articles and poll records older than the configured days.
    pub async fn prune(
        &self,
        articles: Option<u32>,
        fetches: Option<u32>,
    ) -> Result<super::prune::Pruned, StoreError> {
        match self {
            StoreWriter::Sqlite { writer, .. } => {
                writer
                    .call(move |w| super::prune::prune(&mut w.conn, articles, fetches))
                    .await?
            }
            StoreWriter::Postgres(pg) => {
                pg.call(move |w| super::pg::feeds::prune(&mut w.client, articles, fetches))
                    .await
            }
        }
    }

    /// Record polls the store refused when they ran.
    pub async fn record_unstored(
        &self,
        polls: Vec<super::service::UnstoredPoll>,
    ) -> Result<usize, StoreError> {
        match self {
            StoreWriter::Sqlite { writer, .. } => {
                writer
                    .call_grouped(move |w| super::service::record_unstored(&w.conn, &polls))
                    .await
            }
            StoreWriter::Postgres(pg) => {
                pg.call(move |w| super::pg::feeds::record_unstored(&mut w.client, &polls))
                    .await
            }
        }
    }

    /// Feeds by state, for the daemon's gauges and status line. Blocking.
    pub fn state_counts(&self) -> Result<super::feeds::StateCounts, StoreError> {
        match self {
            StoreWriter::Sqlite {
                path, busy_timeout, ..
            } => super::open_read(path, *busy_timeout)
                .and_then(|conn| super::feeds::state_counts(&conn)),
            StoreWriter::Postgres(pg) => pg.read(super::pg::feeds::state_counts),
        }
    }
}
