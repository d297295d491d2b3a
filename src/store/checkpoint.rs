//! WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the
//! commit that crosses its threshold, on the writer thread: in a cold poll of 1,000 feeds it
//! was a tenth of the writer's time, and the writer is the serial stage of ingest. Here a
//! second connection copies committed pages into the database file while the writer goes on.
//!
//! The writer keeps a much higher automatic threshold as a backstop. A background checkpoint
//! cannot reset the WAL while commits keep arriving (SQLite restarts the log only when a
//! write begins with every frame copied), so under sustained load the writer's own
//! checkpoint, which then finds almost every frame already copied, is what rewinds it.

use super::StoreError;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Pages in the WAL before the writer checkpoints inline (4 KiB pages: 64 MiB). Ten times
/// SQLite's default, so the background checkpoints normally do the work.
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Pause after a checkpoint, so a burst of commits is copied in a few passes, not one each.
const PAUSE: Duration = Duration::from_millis(100);

pub struct Checkpointer {
    poke: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start the thread with a connection of its own to `path` (already in WAL mode).
    pub fn start(path: &Path, busy_timeout: Duration) -> Result<Checkpointer, StoreError> {
        let conn = super::open_plain(path, busy_timeout)?;
        // One pending request is enough: a checkpoint copies everything committed before it.
        let (tx, rx) = mpsc::sync_channel(1);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("newsdesk-checkpoint".into())
            .spawn(move || run(conn, rx, path))
            .map_err(StoreError::Thread)?;
        Ok(Checkpointer {
            poke: Some(tx),
            thread: Some(thread),
        })
    }

    /// Take over the write connection's checkpoints: start the thread and raise the
    /// connection's own threshold to the backstop. Without WAL, or if the thread cannot
    /// start, `None`: SQLite's own checkpoints on the writer remain.
    pub fn for_writer(
        conn: &Connection,
        path: &Path,
        busy_timeout: Duration,
    ) -> Option<Checkpointer> {
        let wal = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .map(|m| m.eq_ignore_ascii_case("wal"))
            .unwrap_or(false);
        if !wal {
            return None;
        }
        let started = Checkpointer::start(path, busy_timeout).and_then(|c| {
            conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
            Ok(c)
        });
        match started {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(database = %path.display(), error = %e, "background WAL checkpoints not started; the writer checkpoints itself");
                None
            }
        }
    }

    /// Ask for a checkpoint (after a commit). Never blocks: a request already pending covers
    /// this one, and if the thread is gone (it logged why) the writer's own threshold still
    /// bounds the WAL.
    pub fn poke(&self) {
        if let Some(tx) = &self.poke {
            let _ = tx.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    /// Stop the thread after the checkpoint it may be running (not after its pause).
    fn drop(&mut self) {
        self.poke.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: Connection, rx: Receiver<()>, path: PathBuf) {
    let mut failing = false;
    let mut next = rx.recv();
    while next.is_ok() {
        // PASSIVE never waits for readers or the writer: it copies what it can and returns.
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match result {
            Ok((wal_pages, copied)) => {
                if failing {
                    tracing::info!(database = %path.display(), "background WAL checkpoint works again");
                    failing = false;
                }
                tracing::trace!(wal_pages, copied, "background WAL checkpoint");
            }
            // Nothing is lost: the pages stay in the WAL, and the writer's own checkpoint or
            // the next attempt copies them. Logged once per failing spell.
            Err(e) if !failing => {
                tracing::warn!(database = %path.display(), error = %e, "background WAL checkpoint failed; the writer checkpoints instead");
                failing = true;
            }
            Err(_) => {}
        }
        // Requests during the pause are folded into one. A writer that stops meanwhile is
        // not kept waiting: its own final checkpoint copies the rest.
        let until = Instant::now() + PAUSE;
        let mut requested = false;
        loop {
            match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(()) => requested = true,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        next = if requested { Ok(()) } else { rx.recv() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_committed_by_another_connection_reach_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = crate::store::open_write(&path, Duration::from_secs(5)).unwrap();
        writer
            .execute_batch(
                "PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
                 INSERT INTO t SELECT randomblob(4000) FROM n;",
            )
            .unwrap();
        let file_len = || std::fs::metadata(&path).unwrap().len();
        assert!(file_len() < 400_000, "the rows are only in the WAL yet");
        let cp = Checkpointer::start(&path, Duration::from_secs(5)).unwrap();
        cp.poke();
        drop(cp); // joins after the requested checkpoint ran
        assert!(
            file_len() > 800_000,
            "the rows were copied into the file: {}",
            file_len()
        );
    }
}
