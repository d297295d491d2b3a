//! The single writer: a dedicated thread that owns the write connection and runs write jobs one
//! at a time, in arrival order. Async and blocking callers alike hand it a closure and wait for
//! the answer, so no two writers ever race for SQLite's lock and the daemon's runtime threads
//! never block on disk.

use super::write::WriterState;
use super::StoreError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce(&mut WriterState) + Send>;

/// A handle to the writer thread; cheap to clone. The thread stops when every handle is gone,
/// after finishing the jobs already queued.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    depth: Arc<AtomicUsize>,
}

/// Jobs that may wait in the queue before senders are slowed down (backpressure on fetchers).
const QUEUE: usize = 64;

impl Writer {
    /// Open the database (migrating it), rebuild the near-duplicate index from it, and start
    /// the writer thread. Returns the handle and the thread's join handle, which completes once
    /// every queued job has been committed. With `health`, the thread marks it after every
    /// job, so `/healthz` can tell a busy writer from a stuck one.
    pub fn start(
        config: &crate::config::Config,
        health: Option<Arc<crate::service::health::Health>>,
    ) -> Result<(Writer, std::thread::JoinHandle<()>), StoreError> {
        let (path, busy_timeout) = (config.store.path.as_path(), config.store.busy_timeout);
        let mut conn = super::open_write(path, busy_timeout)?;
        let started = std::time::Instant::now();
        if let Some(r) = super::fts::set_mode(&mut conn, config.store.fts)? {
            tracing::info!(
                database = %path.display(),
                from = r.from.as_str(),
                to = config.store.fts.as_str(),
                articles = r.articles,
                seconds = started.elapsed().as_secs_f64(),
                "full-text index mode changed; index rebuilt"
            );
        }
        let mut state = WriterState::new(conn, &config.dedupe)?;
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let depth = Arc::new(AtomicUsize::new(0));
        let thread_depth = depth.clone();
        let handle = std::thread::Builder::new()
            .name("newsdesk-writer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(&mut state);
                    thread_depth.fetch_sub(1, Ordering::Relaxed);
                    if let Some(h) = &health {
                        h.writer_progressed();
                    }
                }
                state.close();
            })
            .map_err(StoreError::Thread)?;
        Ok((Writer { jobs: tx, depth }, handle))
    }

    /// Jobs waiting or running.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    fn wrap<F, R>(f: F) -> (Job, oneshot::Receiver<R>)
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |state| {
            // The caller may have gone away (shutdown deadline); the work is committed anyway.
            let _ = reply_tx.send(f(state));
        });
        (job, reply_rx)
    }

    /// Run `f` on the writer thread and wait for its result (from async code).
    pub async fn call<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, rx) = Self::wrap(f);
        self.depth.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).await.is_err() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::WriterGone);
        }
        rx.await.map_err(|_| StoreError::WriterGone)
    }

    /// Run `f` on the writer thread and wait for its result (from blocking code, never from
    /// inside the async runtime).
    pub fn call_blocking<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_blocking(f)?.wait()
    }

    /// Queue `f` on the writer thread and return at once (waiting only while the queue is
    /// full), so the caller can prepare the next batch while this one is written. From
    /// blocking code only.
    pub fn submit_blocking<F, R>(&self, f: F) -> Result<Pending<R>, StoreError>
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, rx) = Self::wrap(f);
        self.depth.fetch_add(1, Ordering::Relaxed);
        if self.jobs.blocking_send(job).is_err() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::WriterGone);
        }
        Ok(Pending(rx))
    }
}

/// The result of a job queued with `submit_blocking`.
pub struct Pending<R>(oneshot::Receiver<R>);

impl<R> Pending<R> {
    /// Wait for the job to finish (from blocking code).
    pub fn wait(self) -> Result<R, StoreError> {
        self.0.blocking_recv().map_err(|_| StoreError::WriterGone)
    }
}
