//! The rough edges a newcomer hits in the first hour (issue 19), through the real binary:
//! exit codes, error wording said once, closed pipes, piped output, filters that name nothing.

mod common;
use common::{seeds, Sandbox};
use std::process::{Command, Stdio};

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// A sandbox holding the two seed articles.
fn seeded() -> Sandbox {
    let sb = Sandbox::new();
    let files = seeds();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|p| path_str(p)));
    sb.run_ok(&args);
    sb
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every sentence of an error appears once: no "X: X".
fn assert_said_once(err: &str) {
    let parts: Vec<&str> = err.trim().split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(p),
            "`{p}` repeated in the error: {err}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_printing_commands_quietly() {
    let sb = seeded();
    for args in [
        &["tags", "--counts"][..],
        &["tags"],
        &["search", "sanctions"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_newsdesk"))
            .arg("--config")
            .arg(sb.config())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command prints, as `| head -1` does.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        use std::os::unix::process::ExitStatusExt;
        let quiet = out.status.code() == Some(0) || out.status.signal() == Some(13);
        assert!(
            quiet && !err.contains("panicked") && !err.contains("Broken pipe"),
            "newsdesk {args:?} on a closed pipe: {:?}\n{err}",
            out.status
        );
    }
}

#[test]
fn bad_search_queries_are_usage_errors_said_once() {
    let sb = seeded();
    for (query, says) in [
        ("\"unbalanced", "a quote is not closed"),
        ("*", "nothing to search for"),
        ("", "nothing to search for"),
    ] {
        let out = sb.run(&["search", query]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "search {query:?}: {err}");
        assert!(
            err.contains(says) && !err.contains("SQL logic error"),
            "{err}"
        );
        assert_said_once(&err);
    }
    // Punctuation inside words is still searched, not refused.
    let out = sb.run_ok(&["search", "al-Assad"]);
    assert!(out.contains("[al-Assad]"), "{out}");
}

#[test]
fn a_missing_config_file_says_its_cause_once() {
    let sb = Sandbox::new();
    let out = Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .arg("--config")
        .arg(sb.path("missing.toml"))
        .arg("status")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn unknown_filters_are_refused_with_the_nearest_tag() {
    let sb = seeded();
    for (args, says) in [
        (
            &["search", "sanctions", "--topic", "sanction"][..],
            "did you mean `sanctions`",
        ),
        (
            &["search", "sanctions", "--country", "XX"],
            "no such country",
        ),
        (
            &["search", "sanctions", "--org", "natto"],
            "did you mean `NATO`",
        ),
    ] {
        let out = sb.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Known tags, in any case, still filter.
    let out = sb.run_ok(&[
        "search",
        "sanctions",
        "--topic",
        "Sanctions",
        "--country",
        "kp",
    ]);
    assert!(out.contains("North Korea"), "{out}");
}

#[test]
fn since_without_a_unit_is_refused_and_the_help_shows_units() {
    let sb = seeded();
    let out = sb.run(&["search", "sanctions", "--since", "7"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("7d (days)"), "{err}");
    let out = sb.run_ok(&["search", "sanctions", "--since", "7d"]);
    assert!(out.contains("[sanctions]"), "{out}");
    let help = sb.run_ok(&["search", "--help"]);
    assert!(
        help.contains("\"7d\" days") && help.contains("\"12h\" hours"),
        "{help}"
    );
}

#[test]
fn piped_search_output_keeps_the_whole_match() {
    let sb = seeded();
    let out = Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .arg("--config")
        .arg(sb.config())
        .args(["search", "sanctions", "--all"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in lines {
        assert!(line.contains("[sanctions]"), "snippet cut from: {line}");
    }
}

#[test]
fn no_such_id_is_bad_usage_everywhere() {
    let sb = seeded();
    for args in [
        &["show", "9999"][..],
        &["feed", "remove", "99"],
        &["feed", "enable", "99"],
    ] {
        let out = sb.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn schedule_bounds_out_of_order_fail_check_config() {
    let sb = Sandbox::with_config("[schedule]\nmin_interval = \"7h\"\nmax_interval = \"6h\"\n");
    let out = sb.run(&["check-config"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`schedule.min_interval`: 7h is longer than max_interval (6h)"),
        "{err}"
    );
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_failing_feed_names_its_url_once_and_stores_the_cause_alone() {
    let url = format!("http://127.0.0.1:{}/rss", closed_port());
    let sb = Sandbox::with_config(&format!(
        "[fetch]\nallow_private_addresses = true\n\n[[feeds]]\nurl = \"{url}\"\n"
    ));
    let out = sb.run(&["poll", "--once", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let warn = err
        .lines()
        .find(|l| l.contains("feed failing"))
        .unwrap_or_else(|| panic!("no failing-feed line in:\n{err}"));
    assert_eq!(warn.matches(url.as_str()).count(), 1, "{warn}");
    let (stored, last): (String, String) = sb
        .sql()
        .query_row(
            "SELECT f.error, d.last_error FROM fetches f JOIN feeds d ON d.id = f.feed_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    for e in [&stored, &last] {
        assert!(
            !e.contains("127.0.0.1"),
            "stored error repeats the URL: {e}"
        );
        assert!(e.starts_with("connection failed: "), "{e}");
        assert!(e.contains("refused"), "the cause is missing: {e}");
    }
    // `feed list` shows the cause in its state column.
    let list = sb.run_ok(&["feed", "list"]);
    assert!(list.contains("failing x1: connection failed: "), "{list}");
    assert!(list.contains("refused"), "{list}");
}

#[test]
fn a_private_feed_address_warns_at_add_and_its_error_names_the_key() {
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{}/rss", closed_port());
    let out = sb.run(&["feed", "add", &url]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("`[fetch] allow_private_addresses = true`"),
        "{}",
        stderr(&out)
    );
    let out = sb.run(&["feed", "add", "https://example.org/rss"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    sb.run(&["poll", "--once", "--all"]);
    let last: String = sb
        .sql()
        .query_row(
            "SELECT last_error FROM feeds WHERE url LIKE 'http://127.0.0.1%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(last.contains("[fetch] allow_private_addresses"), "{last}");
}

/// A daemon that is killed when the test ends, passing or failing.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Daemon {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

fn start_daemon(sb: &Sandbox, log: &str) -> Daemon {
    let log = std::fs::File::create(sb.path(log)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .arg("--config")
        .arg(sb.config())
        .arg("run")
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Daemon(child)
}

/// Wait until the daemon has bound its listener (it takes the lock before), or has exited.
fn wait_started(sb: &Sandbox, daemon: &mut std::process::Child, log: &str) {
    while !read(sb, log).contains("serving /healthz") {
        if let Some(status) = daemon.try_wait().unwrap() {
            panic!("the daemon exited ({status}): {}", read(sb, log));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn read(sb: &Sandbox, name: &str) -> String {
    std::fs::read_to_string(sb.path(name)).unwrap_or_default()
}

#[test]
fn one_daemon_per_database_and_readers_still_work() {
    let sb = Sandbox::with_config("[http]\nlisten = \"127.0.0.1:0\"\n");
    let lock = "newsdesk.db.lock";
    let mut first = start_daemon(&sb, "first.log");
    let pid = first.id().to_string();
    wait_started(&sb, &mut first, "first.log");
    assert_eq!(
        read(&sb, lock).trim(),
        pid,
        "the lock file holds the daemon's pid"
    );

    let mut second = start_daemon(&sb, "second.log");
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if read(&sb, "second.log").contains("serving /healthz") {
            panic!("a second daemon started on the same database");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let err = read(&sb, "second.log");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("pid {pid}")) && err.contains(lock),
        "the refusal names the holder: {err}"
    );
    // Readers and one-shot writers work beside the daemon.
    sb.run_ok(&["status"]);
    sb.run_ok(&["feed", "list"]);
    sb.run_ok(&["ingest", path_str(&seeds()[0])]);

    // SIGKILL leaves the lock file behind, but not the lock.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut third = start_daemon(&sb, "third.log");
    let pid3 = third.id().to_string();
    wait_started(&sb, &mut third, "third.log");
    assert_eq!(read(&sb, lock).trim(), pid3);
    Command::new("kill")
        .args(["-TERM", &pid3])
        .status()
        .unwrap();
    assert!(third.wait().unwrap().success());
    // The listener's address is logged once, not twice.
    let log = read(&sb, "third.log");
    assert_eq!(
        log.matches("serving /healthz and /metrics").count(),
        1,
        "{log}"
    );
}

/// The keys serde accepts in a section, read from its "unknown field" error: the config
/// structs themselves, as the binary sees them.
fn accepted_keys(section: &str) -> Vec<String> {
    let probe = match section {
        "" => "zz_probe = 1\n".to_string(),
        "feeds" => "[[feeds]]\nurl = \"https://example.org/\"\nzz_probe = 1\n".to_string(),
        s => format!("[{s}]\nzz_probe = 1\n"),
    };
    let sb = Sandbox::new();
    std::fs::write(sb.path("probe.toml"), probe).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .arg("--config")
        .arg(sb.path("probe.toml"))
        .arg("check-config")
        .output()
        .unwrap();
    let err = stderr(&out);
    let list = err
        .split("expected one of ")
        .nth(1)
        .or_else(|| err.split("expected ").nth(1))
        .unwrap_or_else(|| panic!("[{section}]: no list of keys in: {err}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_config_shows_every_key() {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/newsdesk.toml"),
    )
    .unwrap();
    // A key is shown when a line sets it, commented out or not.
    let shown = |key: &str| {
        example.lines().any(|l| {
            l.trim_start_matches(['#', ' '])
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    let sections = accepted_keys("");
    assert!(sections.contains(&"store".to_string()), "{sections:?}");
    let mut missing = Vec::new();
    for section in &sections {
        let header = if section == "feeds" {
            "[[feeds]]".to_string()
        } else {
            format!("[{section}]")
        };
        if !example.contains(&header) {
            missing.push(header);
        }
        for key in accepted_keys(section) {
            if !shown(&key) {
                missing.push(format!("{section}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "config/newsdesk.toml does not show: {missing:?}"
    );
}

#[test]
fn the_install_guide_copies_every_config_file_the_service_reads() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(repo.join("docs/install.md")).unwrap();
    let copy = guide
        .lines()
        .find(|l| {
            l.starts_with("install ") && l.contains("config/") && l.ends_with("/etc/newsdesk/")
        })
        .expect("docs/install.md copies the config into /etc/newsdesk/");
    let etc = tempfile::tempdir().unwrap();
    let copy = copy.replace("/etc/newsdesk/", &format!("{}/", etc.path().display()));
    let ok = Command::new("sh")
        .args(["-c", &copy])
        .current_dir(repo)
        .status()
        .unwrap()
        .success();
    assert!(ok, "the guide's copy step failed: {copy}");
    let out = Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .arg("--config")
        .arg(etc.path().join("newsdesk.toml"))
        .arg("check-config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check-config after `{copy}`: {}",
        stderr(&out)
    );
}

#[test]
fn ingest_says_one_summary_line_not_one_per_batch() {
    let sb = Sandbox::new();
    sb.run_ok(&["db", "migrate"]);
    let records = common::corpus().join("articles/articles.jsonl");
    let out = sb.run(&["ingest", path_str(&records)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains(" records: "), "{stdout}");
    assert!(!err.contains("ingested batch"), "per-batch lines: {err}");
}
