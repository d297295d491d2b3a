//! Why a database cannot be opened, said once and plainly. SQLite answers "unable to open
//! database file" (code 14) for a missing folder, a read-only file system and a permission
//! problem alike, so the cause is found by looking at the path itself.

use std::io::ErrorKind;
use std::path::Path;

/// What stands in the way of opening `path` (for writing when `write`), as a phrase, or None
/// when the file system shows nothing wrong (then SQLite's own message is all there is).
pub fn diagnose(path: &Path, write: bool) -> Option<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Some(cause) = folder_problem(dir) {
        return Some(cause);
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Some("it is a folder, not a database file".into()),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound && !write => {
            return Some(
                "there is no database there yet: run `newsdesk db migrate` (or any command that writes) first"
                    .into(),
            )
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Some(io_cause(&e, &format!("enter the folder {}", dir.display()))),
    }
    if let Err(e) = std::fs::File::open(path) {
        if e.kind() != ErrorKind::NotFound {
            return Some(io_cause(&e, "read it"));
        }
    }
    if write && path.exists() {
        if let Err(e) = std::fs::OpenOptions::new().write(true).open(path) {
            return Some(io_cause(&e, "write it"));
        }
    }
    // SQLite keeps its -wal and -shm files beside the database, so even a reader needs to
    // create files in the folder unless they are there already.
    let shm = path.with_file_name(format!("{}-shm", path.file_name()?.to_string_lossy()));
    if write || !shm.exists() {
        if let Err(e) = probe_folder(dir) {
            return Some(format!(
                "{} (SQLite keeps its -wal and -shm files beside the database)",
                io_cause(&e, &format!("create files in the folder {}", dir.display()))
            ));
        }
    }
    None
}

/// The folder is missing, or is not a folder.
fn folder_problem(dir: &Path) -> Option<String> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("{} is a file, not a folder", dir.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Some(format!("the folder {} does not exist", dir.display()))
        }
        Err(e) => Some(io_cause(&e, &format!("enter the folder {}", dir.display()))),
    }
}

/// Create and remove a file in `dir`: the only sure test that SQLite may create its own there.
fn probe_folder(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".newsdesk-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// An I/O failure as the reason we could not `doing`.
pub fn io_cause(e: &std::io::Error, doing: &str) -> String {
    match e.kind() {
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only".into(),
        ErrorKind::PermissionDenied => format!("no permission to {doing}"),
        ErrorKind::NotADirectory => "a part of the path is a file, not a folder".into(),
        ErrorKind::StorageFull => "the disk is full".into(),
        ErrorKind::AlreadyExists => "a file of that name is in the way".into(),
        _ => match e.raw_os_error() {
            // The message without std's " (os error N)" suffix.
            Some(_) => format!(
                "cannot {doing}: {}",
                e.to_string()
                    .split(" (os error")
                    .next()
                    .unwrap_or_default()
                    .to_lowercase()
            ),
            None => format!("cannot {doing}: {e}"),
        },
    }
}
