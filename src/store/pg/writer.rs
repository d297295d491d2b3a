//! The PostgreSQL writer: a thread that owns one connection and runs write jobs in arrival
//! order, as the SQLite writer does (so the daemon's runtime threads never block on the
//! database), plus a few idle connections for the lookups polls make before they write.

use super::super::writer::Pending;
use super::super::StoreError;
use super::write::PgState;
use postgres::Client;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce(&mut PgState) + Send>;

/// A handle to the writer thread; cheap to clone. The thread stops when every handle is
/// gone, after the jobs already queued, and gives back this process's leases.
#[derive(Clone)]
pub struct PgWriter {
    jobs: mpsc::Sender<Job>,
    pool: Arc<Pool>,
    pub owner: String,
    pub lease: Duration,
}

struct Pool {
    url: String,
    idle: Mutex<Vec<Client>>,
}

/// Connections kept for lookups; more are opened when needed and closed after use.
const IDLE: usize = 4;

impl Drop for Pool {
    /// The last handle may go away on the async runtime, where the blocking client must not
    /// be dropped (its close blocks): the idle connections are closed on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("newsdesk-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}

impl PgWriter {
    /// Connect, migrate, apply `[store] fts`, register this process, start the thread.
    pub fn start(
        config: &crate::config::Config,
    ) -> Result<(PgWriter, std::thread::JoinHandle<()>), StoreError> {
        let url = config.store.url.clone().unwrap_or_default();
        let mut client = super::migrate::open_write(&url)?;
        if let Some(n) = super::migrate::set_fts_mode(&mut client, config.store.fts)? {
            tracing::info!(
                to = config.store.fts.as_str(),
                articles = n,
                "full-text index mode changed; index rebuilt"
            );
        }
        let owner = super::feeds::owner_name();
        let lease = config.store.lease_time;
        super::feeds::register(&mut client, &owner, lease)?;
        let mut state = PgState::new(client, &config.dedupe, owner.clone());
        let (tx, mut rx) = mpsc::channel::<Job>(64);
        let thread_owner = owner.clone();
        let handle = std::thread::Builder::new()
            .name("newsdesk-pg-writer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(&mut state);
                }
                if let Err(e) = super::feeds::unregister(&mut state.client, &thread_owner) {
                    tracing::warn!(error = %e, "could not give back this daemon's leases; they expire on their own");
                }
            })
            .map_err(StoreError::Thread)?;
        Ok((
            PgWriter {
                jobs: tx,
                pool: Arc::new(Pool {
                    url,
                    idle: Mutex::new(Vec::new()),
                }),
                owner,
                lease,
            },
            handle,
        ))
    }

    fn wrap<F, R>(f: F) -> (Job, oneshot::Receiver<Result<R, StoreError>>)
    where
        F: FnOnce(&mut PgState) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |state| {
            let _ = reply_tx.send(f(state));
        });
        (job, reply_rx)
    }

    /// Run `f` on the writer thread and wait for its result (from async code).
    pub async fn call<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut PgState) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (job, rx) = Self::wrap(f);
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Queue `f` and return at once (waiting only while the queue is full). Blocking code only.
    pub fn submit_blocking<F, R>(&self, f: F) -> Result<Pending<R>, StoreError>
    where
        F: FnOnce(&mut PgState) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (job, rx) = Self::wrap(f);
        self.jobs
            .blocking_send(job)
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Pending(rx))
    }

    /// Run a lookup on a connection of the pool. Blocking code only (not on the runtime's
    /// threads): the `postgres` client blocks.
    pub fn read<R>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let taken = self.pool.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut client = match taken {
            Some(c) if !c.is_closed() => c,
            _ => super::connect(&self.pool.url)?,
        };
        let result = f(&mut client);
        if let Ok(mut idle) = self.pool.idle.lock() {
            if idle.len() < IDLE && !client.is_closed() {
                idle.push(client);
            }
        }
        result
    }
}
