//! One daemon per database: an exclusive `flock` on a file beside it (`<database>.lock`),
//! holding the daemon's pid. The kernel drops the lock when the process dies however it dies
//! (SIGKILL, OOM), so a stale lock never blocks the next start; the file itself stays.
//! Read-only commands and one-shot writers (`ingest`, `feed add`) do not take it: SQLite's own
//! locking keeps them safe beside the daemon.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("database {database} is in use by another newsdesk daemon ({holder}; lock file {lock}): stop it first, or give this one another [store] path")]
    Held {
        database: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    #[error("cannot take the daemon lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the daemon's lifetime; dropping it (or dying) releases the lock.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file of a database: beside it, so each database has its own.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// Take the database's daemon lock, or say which process holds it.
pub fn lock_daemon(database: &Path) -> Result<DaemonLock, LockError> {
    let path = lock_path(database);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io(err));
        }
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        let holder = match pid.trim() {
            "" => "pid unknown".to_string(),
            p => format!("pid {p}"),
        };
        return Err(LockError::Held {
            database: database.to_path_buf(),
            lock: path,
            holder,
        });
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(DaemonLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_free_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/newsdesk.db");
        let first = lock_daemon(&db).unwrap();
        assert_eq!(first.path, dir.path().join("sub/newsdesk.db.lock"));
        // flock locks belong to the open file description: a second open in this process
        // conflicts just as another process would.
        let e = lock_daemon(&db).unwrap_err().to_string();
        assert!(
            e.contains(&format!("pid {}", std::process::id())) && e.contains("newsdesk.db.lock"),
            "{e}"
        );
        drop(first);
        lock_daemon(&db).unwrap();
    }
}
