//! The single writer: a dedicated thread that owns the write connection and runs write jobs in
//! arrival order. Async and blocking callers alike hand it a closure and wait for the answer,
//! so no two writers ever race for SQLite's lock and the daemon's runtime threads never block
//! on disk.
//!
//! Group commit: jobs queued with the `*_grouped` methods (the stores of polls and ingest
//! batches) that find others waiting behind them share one transaction, each in a savepoint
//! of its own. A commit per job made ingest pay a WAL commit, an FTS5 segment (merged again
//! later) and a checkpoint share for every feed; the writer was the bottleneck of a cold poll.
//! A group never waits for work: it commits as soon as the queue is empty, or when it reaches
//! its bounds. Results are delivered only after the commit, so a caller that got its answer
//! can read its rows from any connection; if the commit fails, every job of the group gets the
//! error (nothing of theirs is stored, and the caller reports or redoes it as for any failed
//! write).

use super::checkpoint::Checkpointer;
use super::write::WriterState;
use super::StoreError;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// A job's answer for its caller, sent once the job's fate is known; `Some` is the error of
/// a group commit that failed after the job itself succeeded.
type Delivery = Box<dyn FnOnce(Option<&StoreError>) + Send>;

enum Job {
    /// Runs on its own, outside any group (it may open and commit transactions itself).
    Alone(Box<dyn FnOnce(&mut WriterState) + Send>),
    /// Runs inside the current group's transaction; its answer waits for the commit. Also
    /// says whether it wrote, or why not when the store refused (disk full).
    Grouped(GroupedJob),
}

type GroupedJob = Box<dyn FnOnce(&mut WriterState) -> (Delivery, Verdict) + Send>;

/// How a grouped job went, for the writer's view of the store.
enum Verdict {
    Wrote,
    /// The store refused the write (see `store_fault`).
    Refused(StoreError),
    /// The job failed for reasons of its own (bad data): says nothing about the store.
    Failed,
}

/// Further busy timeouts a group waits for another connection's write lock (SQLite's default
/// busy timeout here is 5 s: 25 s in all) before its jobs run alone and fail if it is still held.
const LOCK_WAITS: u32 = 4;

fn locked(e: &StoreError) -> bool {
    matches!(e, StoreError::Sql(rusqlite::Error::SqliteFailure(e, _))
        if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Errors that say the store as a whole cannot take writes now (a full disk, an I/O error, a
/// read-only file, a lock held past the busy timeout), not that one job's data was wrong.
/// Retrying at once cannot help; retrying later may.
fn store_fault(e: &StoreError) -> bool {
    match e {
        StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => matches!(
            e.code,
            rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::ReadOnly
                | rusqlite::ErrorCode::CannotOpen
                | rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
        ),
        _ => false,
    }
}

/// A handle to the writer thread; cheap to clone. The thread stops when every handle is gone,
/// after finishing the jobs already queued.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    depth: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

/// Jobs that may wait in the queue before senders are slowed down (backpressure on fetchers).
const QUEUE: usize = 64;

/// Bounds of one group. Jobs: the queue's size, so one group can absorb a full queue. Items:
/// the FTS5 terms of a group are held in memory until its end; 5,000 cost ~5 MB more peak RSS
/// in a cold poll than 1,000 and no less CPU. Time: the first
/// caller's answer waits for the whole group, so its latency stays well under a second.
const GROUP_MAX_JOBS: usize = QUEUE;
const GROUP_MAX_ITEMS: u64 = 1_000;
const GROUP_MAX_TIME: Duration = Duration::from_millis(500);

impl Writer {
    /// Open the database (migrating it) and start the writer thread. Returns the handle and
    /// the thread's join handle, which completes once every queued job has been committed. With `health`, the thread marks it after every
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
        let checkpoint = Checkpointer::for_writer(&conn, path, busy_timeout);
        let state = WriterState::new(conn, &config.dedupe)?;
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let depth = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let mut thread = WriterThread {
            state,
            rx,
            depth: depth.clone(),
            health,
            checkpoint,
            failing_since: None,
            failing: failing.clone(),
            fault: fault::DiskFull::from_env(),
        };
        let handle = std::thread::Builder::new()
            .name("newsdesk-writer".into())
            .spawn(move || {
                thread.run();
                // Its last checkpoint ends before the writer's final one truncates the WAL.
                drop(thread.checkpoint.take());
                thread.state.close();
            })
            .map_err(StoreError::Thread)?;
        Ok((
            Writer {
                jobs: tx,
                depth,
                failing,
            },
            handle,
        ))
    }

    /// Jobs waiting or running.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// True while the last grouped writes failed because the store cannot take writes (disk
    /// full, I/O error, lock held too long); false again after the next group that commits
    /// cleanly. Callers that would only redo the same failing work hold back meanwhile.
    pub fn store_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    fn wrap<F, R>(f: F) -> (Job, oneshot::Receiver<Result<R, StoreError>>)
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job = Job::Alone(Box::new(move |state| {
            // The caller may have gone away (shutdown deadline); the work is committed anyway.
            let _ = reply_tx.send(Ok(f(state)));
        }));
        (job, reply_rx)
    }

    fn wrap_grouped<F, T>(f: F) -> (Job, oneshot::Receiver<Result<T, StoreError>>)
    where
        F: FnOnce(&mut WriterState) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job = Job::Grouped(Box::new(move |state| {
            let result = state.in_savepoint(f);
            let verdict = match &result {
                Ok(_) => Verdict::Wrote,
                Err(e) if store_fault(e) => Verdict::Refused(e.replicate()),
                Err(_) => Verdict::Failed,
            };
            let deliver: Delivery = Box::new(move |commit_failed: Option<&StoreError>| {
                let answer = match (result, commit_failed) {
                    (Ok(_), Some(e)) => Err(e.replicate()),
                    (result, _) => result,
                };
                let _ = reply_tx.send(answer);
            });
            (deliver, verdict)
        }));
        (job, reply_rx)
    }

    async fn send(&self, job: Job) -> Result<(), StoreError> {
        self.depth.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).await.is_err() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::WriterGone);
        }
        Ok(())
    }

    fn send_blocking(&self, job: Job) -> Result<(), StoreError> {
        self.depth.fetch_add(1, Ordering::Relaxed);
        if self.jobs.blocking_send(job).is_err() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::WriterGone);
        }
        Ok(())
    }

    /// Run `f` on the writer thread, on its own, and wait for its result (from async code).
    pub async fn call<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, rx) = Self::wrap(f);
        self.send(job).await?;
        rx.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Run `f` on the writer thread, on its own, and wait for its result (from blocking code,
    /// never from inside the async runtime).
    pub fn call_blocking<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_blocking(f)?.wait()
    }

    /// Queue `f` on the writer thread, to run on its own, and return at once (waiting only
    /// while the queue is full), so the caller can prepare the next batch while this one is
    /// written. From blocking code only.
    pub fn submit_blocking<F, R>(&self, f: F) -> Result<Pending<R>, StoreError>
    where
        F: FnOnce(&mut WriterState) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, rx) = Self::wrap(f);
        self.send_blocking(job)?;
        Ok(Pending(rx))
    }

    /// Like [`call`](Self::call), but `f` may share a transaction with the jobs queued beside
    /// it (group commit). `f` writes through `WriterState`'s store methods or plain statements,
    /// never opens a transaction itself, and fails with an error: its changes are then rolled
    /// back alone. The answer comes once the group is committed; a failed commit is an error.
    /// If no group transaction can be begun (another process holds the write lock), `f` runs
    /// as a plain job and the store methods use transactions of their own.
    pub async fn call_grouped<F, T>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut WriterState) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (job, rx) = Self::wrap_grouped(f);
        self.send(job).await?;
        rx.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// [`call_grouped`](Self::call_grouped) from blocking code.
    pub fn call_grouped_blocking<F, T>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut WriterState) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.submit_grouped_blocking(f)?.wait()
    }

    /// [`submit_blocking`](Self::submit_blocking) for a job that may share a group commit.
    pub fn submit_grouped_blocking<F, T>(&self, f: F) -> Result<Pending<T>, StoreError>
    where
        F: FnOnce(&mut WriterState) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (job, rx) = Self::wrap_grouped(f);
        self.send_blocking(job)?;
        Ok(Pending(rx))
    }
}

/// The result of a job queued with `submit_blocking` or `submit_grouped_blocking`.
pub struct Pending<R>(pub(crate) oneshot::Receiver<Result<R, StoreError>>);

impl<R> Pending<R> {
    /// Wait for the job to finish (from blocking code).
    pub fn wait(self) -> Result<R, StoreError> {
        self.0
            .blocking_recv()
            .unwrap_or(Err(StoreError::WriterGone))
    }
}

struct WriterThread {
    state: WriterState,
    rx: mpsc::Receiver<Job>,
    depth: Arc<AtomicUsize>,
    health: Option<Arc<crate::service::health::Health>>,
    checkpoint: Option<Checkpointer>,
    /// Since when grouped writes fail for want of a writable store, and the handles' view.
    failing_since: Option<Instant>,
    failing: Arc<AtomicBool>,
    fault: fault::DiskFull,
}

impl WriterThread {
    fn run(&mut self) {
        let mut next = None;
        loop {
            let job = match next.take() {
                Some(job) => job,
                None => match self.rx.blocking_recv() {
                    Some(job) => job,
                    None => return,
                },
            };
            match job {
                Job::Alone(f) => {
                    f(&mut self.state);
                    self.finished(1);
                }
                Job::Grouped(f) => next = self.group(f),
            }
        }
    }

    /// A job is answered: it no longer counts as queued, and the writer is alive.
    fn finished(&self, jobs: usize) {
        self.depth.fetch_sub(jobs, Ordering::Relaxed);
        if let Some(h) = &self.health {
            h.writer_progressed();
        }
        if let Some(c) = &self.checkpoint {
            c.poke();
        }
    }

    /// Run `first` and the grouped jobs queued behind it in one transaction, commit, and
    /// deliver their answers. Returns the job that ended the group by having to run alone.
    fn group(&mut self, first: GroupedJob) -> Option<Job> {
        let started = Instant::now();
        self.fault.apply(&self.state.conn);
        if let Err(e) = self.begin_group_waiting() {
            // Most likely another process holds the write lock past the busy timeout: the job
            // runs alone, where the store methods retry in transactions of their own.
            tracing::debug!(error = %e, "group transaction not begun; the job runs alone");
            let (deliver, verdict) = first(&mut self.state);
            match verdict {
                Verdict::Wrote => self.store_state(None),
                Verdict::Refused(e) => self.store_state(Some(&e)),
                Verdict::Failed => {}
            }
            deliver(None);
            self.finished(1);
            return None;
        }
        let (first, verdict) = first(&mut self.state);
        let mut deliveries = vec![first];
        let (mut fault, mut wrote) = (None, false);
        let mut judge = |v: Verdict| match v {
            Verdict::Wrote => wrote = true,
            Verdict::Refused(e) => fault = fault.take().or(Some(e)),
            Verdict::Failed => {}
        };
        judge(verdict);
        let mut leftover = None;
        while deliveries.len() < GROUP_MAX_JOBS
            && self.state.group_items() < GROUP_MAX_ITEMS
            && started.elapsed() < GROUP_MAX_TIME
        {
            match self.rx.try_recv() {
                Ok(Job::Grouped(f)) => {
                    let (deliver, verdict) = f(&mut self.state);
                    deliveries.push(deliver);
                    judge(verdict);
                }
                Ok(alone) => {
                    leftover = Some(alone);
                    break;
                }
                // Empty (or closed): commit now rather than wait for more work.
                Err(_) => break,
            }
        }
        let jobs = deliveries.len();
        let committed = self.state.commit_group();
        match &committed {
            Ok(items) => {
                crate::service::events::WriterCommit {
                    duration: started.elapsed(),
                    items: *items,
                }
                .emit();
                tracing::trace!(jobs, items, "group committed");
            }
            Err(e) => {
                // Logged once per change of the store's state (below), not per attempt.
                tracing::debug!(error = %e, jobs, "group commit failed; none of its writes were stored");
                fault = fault.or_else(|| store_fault(e).then(|| e.replicate()));
            }
        }
        // Before the answers: a caller that sees its write fail must also see the store failing.
        // Recovered only when something was written: a group of failed jobs proves nothing.
        if fault.is_some() || (wrote && committed.is_ok()) {
            self.store_state(fault.as_ref());
        }
        for d in deliveries {
            d(committed.as_ref().err());
        }
        self.finished(jobs);
        leftover
    }

    /// Begin the group's transaction, waiting out another connection that holds the write
    /// lock for up to `LOCK_WAITS` more busy timeouts. Only BEGIN IMMEDIATE waits in SQLite's
    /// busy handler: a job run alone reads before it writes, and SQLite refuses such an upgrade
    /// at once rather than wait (a lock held past one busy timeout lost an ingest's batch
    /// within 60 ms). One line says the writer is waiting; the wait itself is not an error.
    fn begin_group_waiting(&mut self) -> Result<(), StoreError> {
        let mut waits = 0;
        loop {
            match self.state.begin_group() {
                Err(e) if locked(&e) && waits < LOCK_WAITS => {
                    if waits == 0 {
                        tracing::warn!(error = %e, "another connection holds the database's write lock; the writer waits for it");
                    }
                    waits += 1;
                }
                result => return result,
            }
        }
    }

    /// Track whether the store takes writes, reporting only the changes: a full disk makes
    /// every attempt fail alike, and one line per attempt buried the log.
    fn store_state(&mut self, fault: Option<&StoreError>) {
        match (fault, self.failing_since) {
            (Some(e), None) => {
                self.failing_since = Some(Instant::now());
                self.failing.store(true, Ordering::Relaxed);
                crate::service::events::StoreFailing { error: e }.emit(self.health.as_deref());
            }
            (None, Some(since)) => {
                self.failing_since = None;
                self.failing.store(false, Ordering::Relaxed);
                crate::service::events::StoreRecovered {
                    after: since.elapsed(),
                }
                .emit(self.health.as_deref());
            }
            _ => {}
        }
    }
}

/// A test-only fault hook, compiled into debug builds only: while the file named by
/// `NEWSDESK_FAULT_DISK_FULL` exists, the database may not grow (SQLite's `max_page_count`
/// pinned to its current size), so writes fail with SQLite's own "database or disk is full"
/// exactly as on a full disk; removing the file gives the room back. The daemon's tests use
/// it to prove the back-off without a filesystem they would have to mount.
mod fault {
    use rusqlite::Connection;

    pub struct DiskFull {
        #[cfg(debug_assertions)]
        flag: Option<(std::path::PathBuf, bool)>,
    }

    impl DiskFull {
        pub fn from_env() -> DiskFull {
            DiskFull {
                #[cfg(debug_assertions)]
                flag: std::env::var_os("NEWSDESK_FAULT_DISK_FULL").map(|p| (p.into(), false)),
            }
        }

        #[cfg(not(debug_assertions))]
        pub fn apply(&mut self, _conn: &Connection) {}

        #[cfg(debug_assertions)]
        pub fn apply(&mut self, conn: &Connection) {
            let Some((path, full)) = &mut self.flag else {
                return;
            };
            let want = path.exists();
            if want == *full {
                return;
            }
            let pages = if want {
                conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
                    .unwrap_or(1)
            } else {
                i64::from(u32::MAX - 1)
            };
            if conn
                .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .is_ok()
            {
                *full = want;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Article;
    use crate::store::write::{NewItem, Source};

    struct Db {
        _dir: tempfile::TempDir,
        config: crate::config::Config,
    }

    fn db() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config::parse("", None).unwrap();
        config.store.path = dir.path().join("writer.db");
        Db { _dir: dir, config }
    }

    impl Db {
        fn count(&self, sql: &str) -> i64 {
            let conn =
                crate::store::open_read(&self.config.store.path, Duration::from_secs(5)).unwrap();
            conn.query_row(sql, [], |r| r.get(0)).unwrap()
        }
    }

    /// A long, distinctive article (long enough for the SimHash detector and hash identity).
    fn item(key: &str) -> NewItem {
        let body = (0..80)
            .map(|i| format!("{key}word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let article = Article {
            guid: Some(key.into()),
            url: Some(format!("https://example.org/{key}")),
            canonical_url: Some(format!("https://example.org/{key}")),
            title: format!("Story {key}"),
            title_derived: false,
            author: None,
            published_at: None,
            updated_at: None,
            summary: None,
            body_text: body.clone(),
            body_html: None,
            lang: Some("en".into()),
            content_hash: blake3::hash(body.as_bytes()).to_hex().to_string(),
        };
        let fingerprint = Some(crate::dedupe::fingerprint(&article));
        NewItem {
            article,
            guid: key.into(),
            tags: None,
            fingerprint,
            item_hash: None,
        }
    }

    fn source() -> Source {
        Source::Local {
            name: "test".into(),
            title: "Test".into(),
        }
    }

    /// Hold the writer thread in a job of its own until the returned sender is used, so the
    /// jobs queued meanwhile are taken as one group.
    fn hold(writer: &Writer) -> (std::sync::mpsc::Sender<()>, Pending<()>) {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let pending = writer
            .submit_blocking(move |_| {
                let _ = rx.recv();
            })
            .unwrap();
        (tx, pending)
    }

    #[test]
    fn queued_jobs_commit_together_and_answer_after_the_commit() {
        let db = db();
        let (writer, thread) = Writer::start(&db.config, None).unwrap();
        let (release, held) = hold(&writer);
        let pending: Vec<Pending<(u64, bool)>> = (0..3)
            .map(|i| {
                writer
                    .submit_grouped_blocking(move |w| {
                        w.store_batch(&source(), &[item(&format!("a{i}"))])?;
                        // Inside a transaction, seeing the articles of the jobs before it.
                        Ok((w.group_items(), w.conn.is_autocommit()))
                    })
                    .unwrap()
            })
            .collect();
        release.send(()).unwrap();
        held.wait().unwrap();
        let mut answers = pending.into_iter();
        let first = answers.next().unwrap().wait().unwrap();
        // The first caller's answer comes after the commit, so the last job's row is readable.
        assert_eq!(
            db.count("SELECT count(*) FROM articles WHERE title = 'Story a2'"),
            1
        );
        let rest: Vec<_> = answers.map(|p| p.wait().unwrap()).collect();
        assert_eq!(first, (1, false));
        assert_eq!(rest, vec![(2, false), (3, false)]);
        // Outside a group a job runs alone, with no transaction open.
        assert!(writer.call_blocking(|w| w.conn.is_autocommit()).unwrap());
        drop(writer);
        thread.join().unwrap();
        assert_eq!(db.count("SELECT count(*) FROM articles"), 3);
        assert_eq!(db.count("SELECT count(*) FROM articles_fts"), 3);
    }

    #[test]
    fn a_failing_job_is_undone_alone_and_reports_its_error() {
        let db = db();
        let (writer, thread) = Writer::start(&db.config, None).unwrap();
        let (release, held) = hold(&writer);
        let ok1 = writer
            .submit_grouped_blocking(|w| w.store_batch(&source(), &[item("b1")]))
            .unwrap();
        let failing = writer
            .submit_grouped_blocking(|w| {
                w.store_batch(&source(), &[item("lost")])?;
                Err::<(), _>(StoreError::NotCommitted("the job gave up".into()))
            })
            .unwrap();
        let ok2 = writer
            .submit_grouped_blocking(|w| w.store_batch(&source(), &[item("b2")]))
            .unwrap();
        release.send(()).unwrap();
        held.wait().unwrap();
        assert_eq!(ok1.wait().unwrap().new_count(), 1);
        let e = failing.wait().unwrap_err().to_string();
        assert!(e.contains("the job gave up"), "{e}");
        assert_eq!(ok2.wait().unwrap().new_count(), 1);
        // The lost article's id was taken again by b2: the near-duplicate index must not still
        // hold the lost article under it, so the same text again is a new story, not a copy.
        let again = writer
            .call_grouped_blocking(|w| w.store_batch(&source(), &[item("lost")]))
            .unwrap();
        assert_eq!(again.new_count(), 1);
        assert_eq!(again.near_duplicates, 0);
        drop(writer);
        thread.join().unwrap();
        assert_eq!(
            db.count("SELECT count(*) FROM articles WHERE title IN ('Story b1', 'Story b2')"),
            2
        );
        assert_eq!(db.count("SELECT count(*) FROM articles"), 3);
        assert_eq!(db.count("SELECT count(*) FROM articles_fts"), 3);
        assert_eq!(
            db.count("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL"),
            0
        );
    }

    #[test]
    fn a_full_disk_marks_the_store_failing_until_a_group_commits() {
        let db = db();
        let (writer, thread) = Writer::start(&db.config, None).unwrap();
        // The database may not grow: SQLite answers "database or disk is full" (SQLITE_FULL).
        let pin = |w: &mut WriterState, pages: Option<i64>| {
            let pages = pages.unwrap_or_else(|| {
                w.conn
                    .query_row("PRAGMA page_count", [], |r| r.get(0))
                    .unwrap()
            });
            w.conn
                .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap();
        };
        writer.call_blocking(move |w| pin(w, None)).unwrap();
        assert!(!writer.store_failing());
        let many = |key: &str| {
            (0..40)
                .map(|i| item(&format!("{key}{i}")))
                .collect::<Vec<_>>()
        };
        let batch = many("full");
        let e = writer
            .call_grouped_blocking(move |w| w.store_batch(&source(), &batch))
            .unwrap_err();
        assert!(store_fault(&e), "{e}");
        assert!(writer.store_failing());
        // A job whose own data is wrong is not the store's failure and changes nothing.
        let _ = writer
            .call_grouped_blocking(|_| Err::<(), _>(StoreError::NotCommitted("bad record".into())));
        assert!(writer.store_failing());
        // Room again: the next group commits and the store is no longer failing.
        writer
            .call_blocking(move |w| pin(w, Some(i64::from(u32::MAX - 1))))
            .unwrap();
        let batch = many("room");
        let stored = writer
            .call_grouped_blocking(move |w| w.store_batch(&source(), &batch))
            .unwrap();
        assert_eq!(stored.new_count(), 40);
        assert!(!writer.store_failing());
        drop(writer);
        thread.join().unwrap();
        assert_eq!(db.count("SELECT count(*) FROM articles"), 40);
    }

    #[test]
    fn a_failed_group_commit_fails_every_job_and_keeps_nothing() {
        let db = db();
        let (writer, thread) = Writer::start(&db.config, None).unwrap();
        let (release, held) = hold(&writer);
        let innocent = writer
            .submit_grouped_blocking(|w| w.store_batch(&source(), &[item("c1")]))
            .unwrap();
        // A foreign key checked only at COMMIT makes the commit itself fail.
        let culprit = writer
            .submit_grouped_blocking(|w| {
                w.conn.execute_batch(
                    "PRAGMA defer_foreign_keys = ON;
                     INSERT INTO fetches (feed_id, started_at, duration_ms, outcome)
                     VALUES (999999, 'x', 0, 'ok');",
                )?;
                Ok(())
            })
            .unwrap();
        release.send(()).unwrap();
        held.wait().unwrap();
        let e = innocent.wait().unwrap_err();
        assert!(e.to_string().contains("FOREIGN KEY"), "{e}");
        assert!(culprit.wait().is_err());
        // Nothing of the group is stored, and the index does not remember c1.
        assert_eq!(db.count("SELECT count(*) FROM articles"), 0);
        let again = writer
            .call_grouped_blocking(|w| w.store_batch(&source(), &[item("c1")]))
            .unwrap();
        assert_eq!((again.new_count(), again.near_duplicates), (1, 0));
        drop(writer);
        thread.join().unwrap();
        assert_eq!(db.count("SELECT count(*) FROM articles"), 1);
        assert_eq!(db.count("SELECT count(*) FROM articles_fts"), 1);
    }
}
