//! A store that cannot be opened (a missing folder, a file in the way, no permission, a
//! read-only file system) is reported by every command in one sentence that names the
//! database and the cause, never as SQLite's "unable to open database file" (code 14) twice.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Commands that read the store.
const READERS: &[&[&str]] = &[
    &["status"],
    &["search", "sanctions"],
    &["show", "1"],
    &["tags", "--counts"],
];

/// Commands that write it (or open it for writing).
fn writers(article: &Path) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = [
        &["feed", "list"][..],
        &["feed", "add", "http://127.0.0.1:9/rss"],
        &["feed", "export"],
        &["poll", "--once", "--all"],
        &["retag"],
        &["db", "migrate"],
        &["db", "prune"],
        &["db", "vacuum"],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();
    out.push(vec!["ingest".into(), article.display().to_string()]);
    out
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A folder anyone may enter (the unprivileged runs below read the config from it).
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = Scratch { dir };
        std::fs::write(
            s.path("a.txt"),
            "Envoys meet on the border\n\nDelegations from both countries met on Monday.\n",
        )
        .unwrap();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A config whose store is `db`.
    fn config(&self, db: &Path) -> PathBuf {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let cfg = self.path("newsdesk.toml");
        std::fs::write(
            &cfg,
            format!(
                "[store]\npath = \"{}\"\n\n[taxonomy]\ntopics = \"{}\"\ncountries = \"{}\"\n",
                db.display(),
                repo.join("topics.toml").display(),
                repo.join("countries.toml").display()
            ),
        )
        .unwrap();
        cfg
    }
}

/// Run newsdesk, as the unprivileged user `nobody` when `as_nobody` (root ignores file modes).
fn newsdesk(config: &Path, args: &[String], as_nobody: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsdesk"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NEWSDESK_CONFIG");
    if as_nobody {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The command failed with exit 1 and one error line naming `db` (or its folder) and `cause`.
fn assert_one_clear_error(
    args: &[String],
    (code, stderr): (Option<i32>, String),
    db: &Path,
    cause: &str,
) {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(code, Some(1), "{args:?}: {stderr}");
    assert_eq!(errors.len(), 1, "{args:?}: one error line: {stderr}");
    let line = errors[0];
    let folder = db.parent().unwrap().display().to_string();
    assert!(line.contains(&folder), "{args:?} names the store: {line}");
    assert!(line.contains(cause), "{args:?} says {cause:?}: {line}");
    assert!(
        !line.contains("unable to open database file") && !line.contains("Error code"),
        "{args:?}: {line}"
    );
    assert_eq!(
        line.matches(cause).count(),
        1,
        "{args:?}: the cause once: {line}"
    );
}

fn running_as_root(s: &Scratch) -> bool {
    let probe = s.path("owner");
    std::fs::write(&probe, "").unwrap();
    std::fs::metadata(&probe).unwrap().uid() == 0
}

#[test]
fn a_missing_folder_is_named_by_the_commands_that_read() {
    let s = Scratch::new();
    let db = s.path("no/such/folder/newsdesk.db");
    let cfg = s.config(&db);
    for args in READERS {
        let args = strings(args);
        let out = newsdesk(&cfg, &args, false);
        assert_one_clear_error(&args, out, &db, "does not exist");
    }
}

#[test]
fn a_file_in_the_way_is_named_by_every_command() {
    let s = Scratch::new();
    std::fs::write(s.path("data"), "not a folder").unwrap();
    let db = s.path("data/newsdesk.db");
    let cfg = s.config(&db);
    for args in READERS.iter().map(|a| strings(a)) {
        let out = newsdesk(&cfg, &args, false);
        assert_one_clear_error(&args, out, &db, "is a file, not a folder");
    }
    for args in writers(&s.path("a.txt")) {
        let out = newsdesk(&cfg, &args, false);
        assert_one_clear_error(&args, out, &db, "a file of that name is in the way");
    }
}

#[test]
fn a_store_without_write_permission_is_named_by_every_command() {
    let s = Scratch::new();
    let db = s.path("store/newsdesk.db");
    let cfg = s.config(&db);
    let made = newsdesk(&cfg, &strings(&["db", "migrate"]), false);
    assert_eq!(made.0, Some(0), "{}", made.1);
    let as_nobody = running_as_root(&s);
    let (file_mode, dir_mode) = if as_nobody {
        (0o644, 0o755)
    } else {
        (0o444, 0o555)
    };
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(file_mode)).unwrap();
    let store = s.path("store");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(dir_mode)).unwrap();
    for args in READERS.iter().map(|a| strings(a)) {
        let out = newsdesk(&cfg, &args, as_nobody);
        assert_one_clear_error(
            &args,
            out,
            &db,
            "no permission to create files in the folder",
        );
    }
    for args in writers(&s.path("a.txt")) {
        let out = newsdesk(&cfg, &args, as_nobody);
        assert_one_clear_error(&args, out, &db, "no permission to write it");
    }
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A tmpfs mounted for the test and unmounted however the test ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount(args: &[&str], at: &Path) -> bool {
    Command::new("mount")
        .args(args)
        .arg(at)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_read_only_file_system_is_named_by_every_command() {
    let s = Scratch::new();
    let at = s.path("ro");
    std::fs::create_dir(&at).unwrap();
    if !mount(&["-t", "tmpfs", "-o", "size=4m", "tmpfs"], &at) {
        eprintln!("skipped: cannot mount a tmpfs here (needs root): the read-only file system case is not checked");
        return;
    }
    let _guard = Mount(at.clone());
    let db = at.join("newsdesk.db");
    let cfg = s.config(&db);
    let made = newsdesk(&cfg, &strings(&["db", "migrate"]), false);
    assert_eq!(made.0, Some(0), "{}", made.1);
    assert!(mount(&["-o", "remount,ro"], &at), "remount read-only");
    for args in READERS
        .iter()
        .map(|a| strings(a))
        .chain(writers(&s.path("a.txt")))
    {
        let out = newsdesk(&cfg, &args, false);
        assert_one_clear_error(&args, out, &db, "the file system is read-only");
    }
}
