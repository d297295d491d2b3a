//! The real daemon (`newsdesk run`) against a local feed server: it polls, ingests the spool,
//! reloads its config on SIGHUP (and keeps the old one when the new one is broken), and on
//! SIGTERM exits 0 within the grace period with everything fetched committed.

mod common;
use common::feed_server::FeedServer;
use common::Sandbox;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn rss(prefix: &str, n: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><link>https://t.example/</link>");
    for i in 0..n {
        s.push_str(&format!(
            "<item><guid>{prefix}{i}</guid><title>{prefix} report {i}</title><link>https://t.example/{prefix}/{i}</link>\
             <description>Dispatch {i} from the {prefix} desk about talks between the two governments.</description></item>"
        ));
    }
    s + "</channel></rss>"
}

fn config(server: &FeedServer, spool: &std::path::Path, feeds: &[&str]) -> String {
    let mut c = format!(
        "[fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\n\n[spool]\ndir = \"{}\"\nscan_interval = \"1s\"\nsettle = \"0s\"\n\n[service]\nshutdown_grace = \"5s\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n",
        spool.display()
    );
    for f in feeds {
        c.push_str(&format!("[[feeds]]\nurl = \"{}\"\n\n", server.url(f)));
    }
    c
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wait for the daemon to exit. How long it took is judged by its log (the grace period ran
/// out or not), not by a clock here; the bound only keeps a hung daemon from hanging the suite.
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the daemon did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Datagrams from the daemon's sd_notify, until one contains `until`.
fn notify_messages(sock: &std::os::unix::net::UnixDatagram, until: &str) -> String {
    let mut all = String::new();
    let mut buf = [0u8; 4096];
    while !all.contains(until) {
        match sock.recv(&mut buf) {
            Ok(n) => {
                all.push_str(&String::from_utf8_lossy(&buf[..n]));
                all.push('\n');
            }
            Err(_) => break,
        }
    }
    all
}

/// `newsdesk run` on the sandbox's config with its stderr in `stderr.log` and its systemd
/// notifications sent to a socket the test reads.
fn spawn_notified(sb: &Sandbox) -> (std::os::unix::net::UnixDatagram, Child) {
    let notify_path = sb.path("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let log = std::fs::File::create(sb.path("stderr.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .args(["--config", sb.config().to_str().unwrap(), "run"])
        .env("RUST_LOG", "info")
        .env("NOTIFY_SOCKET", &notify_path)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    (notify, child)
}

/// A plain HTTP/1.0 GET to the daemon's loopback listener.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn daemon_polls_spools_reloads_and_stops_cleanly() {
    let server = FeedServer::start();
    server.doc("/a.xml", rss("alpha", 5), "application/rss+xml");
    server.doc("/b.xml", rss("beta", 4), "application/rss+xml");
    let sb = Sandbox::new();
    let spool = sb.path("spool");
    // The sandbox's own config, kept to rewrite the feeds on SIGHUP below.
    let base = std::fs::read_to_string(sb.config()).unwrap();
    sb.append_config(&config(&server, &spool, &["/a.xml"]));

    let (notify, mut child) = spawn_notified(&sb);
    let stderr = || std::fs::read_to_string(sb.path("stderr.log")).unwrap_or_default();
    let count = |sql: &str| -> i64 {
        rusqlite::Connection::open(sb.db())
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
            .unwrap_or(-1)
    };

    wait_for("the first feed's items", || {
        count("SELECT count(*) FROM articles") == 5
    });
    let messages = notify_messages(&notify, "READY=1");
    assert!(messages.contains("READY=1"), "{messages}");

    // A file dropped in the spool (written under a temporary name, then renamed in).
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        spool.join(".drop.tmp"),
        "Spooled dispatch\n\nAn article dropped into the spool folder.\n",
    )
    .unwrap();
    std::fs::rename(spool.join(".drop.tmp"), spool.join("drop.txt")).unwrap();
    wait_for("the spool file", || spool.join("done/drop.txt").exists());
    assert_eq!(
        count("SELECT count(*) FROM articles WHERE title = 'Spooled dispatch'"),
        1
    );

    // SIGHUP with a second feed: added without a restart.
    std::fs::write(
        sb.config(),
        format!("{base}{}", config(&server, &spool, &["/a.xml", "/b.xml"])),
    )
    .unwrap();
    signal(&child, "-HUP");
    wait_for("the second feed's items", || {
        count("SELECT count(*) FROM articles") == 10
    });
    assert!(stderr().contains("configuration reloaded"), "{}", stderr());

    // /healthz answers, and /metrics counts what the database holds.
    let addr = stderr()
        .lines()
        .find(|l| l.contains("serving /healthz"))
        .and_then(|l| l.split("addr=").nth(1))
        .map(|a| a.trim().to_string())
        .expect("the daemon logs its listen address");
    let (status, health) = http_get(&addr, "/healthz");
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["up"], true);
    let (status, metrics) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    let series = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    let from_feeds = count("SELECT count(*) FROM articles a WHERE EXISTS (SELECT 1 FROM sightings s JOIN feeds f ON f.id = s.feed_id WHERE s.article_id = a.id AND f.kind = 'feed')");
    assert_eq!(
        series("newsdesk_articles_total{result=\"new\",source=\"feed\"}"),
        from_feeds as f64
    );
    assert_eq!(
        series("newsdesk_articles_total{result=\"new\",source=\"spool\"}"),
        1.0
    );
    assert_eq!(
        series("newsdesk_polls_total{outcome=\"ok\"}"),
        count("SELECT count(*) FROM fetches WHERE outcome = 'ok'") as f64
    );

    // A broken config on SIGHUP is rejected and the daemon keeps going.
    std::fs::write(sb.config(), format!("{base}[fetch]\nno_such_key = 1\n")).unwrap();
    signal(&child, "-HUP");
    wait_for("the rejection", || {
        stderr().contains("configuration rejected")
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running after a bad reload"
    );
    assert_eq!(
        count("SELECT count(*) FROM feeds WHERE kind = 'feed' AND enabled = 1"),
        2
    );

    // SIGTERM with nothing in flight: exit 0, everything committed (polls in flight at SIGTERM:
    // see the next test).
    signal(&child, "-TERM");
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status}; {}", stderr());
    assert!(stderr().contains("stopped"));
    assert!(!stderr().contains("grace period over"), "{}", stderr());
    let messages = notify_messages(&notify, "STOPPING=1");
    assert!(messages.contains("STOPPING=1"), "{messages}");
    assert_eq!(count("SELECT count(*) FROM articles"), 10);
    let ok: String = rusqlite::Connection::open(sb.db())
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// A running `newsdesk run` with its stderr in a file, stopped (SIGTERM) when dropped.
struct Daemon {
    child: Child,
    log: std::path::PathBuf,
    db: std::path::PathBuf,
}

impl Daemon {
    fn start(sb: &Sandbox, env: &[(&str, &std::path::Path)]) -> Daemon {
        let log = sb.path("stderr.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsdesk"));
        cmd.args(["--config", sb.config().to_str().unwrap(), "run"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Daemon {
            child: cmd.spawn().unwrap(),
            log,
            db: sb.db(),
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Log lines containing `text`.
    fn lines_with(&self, text: &str) -> usize {
        self.stderr().lines().filter(|l| l.contains(text)).count()
    }

    fn count(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(&self.db)
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
            .unwrap_or(-1)
    }

    fn http_addr(&self) -> String {
        wait_for("the listen address", || {
            self.stderr().contains("serving /healthz")
        });
        self.stderr()
            .lines()
            .find(|l| l.contains("serving /healthz"))
            .and_then(|l| l.split("addr=").nth(1))
            .map(|a| a.trim().to_string())
            .expect("the daemon logs its listen address")
    }

    /// SIGTERM, then the exit status (within the grace period).
    fn stop(&mut self) -> std::process::ExitStatus {
        signal(&self.child, "-TERM");
        let stop = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(stop.elapsed() < Duration::from_secs(15), "did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Items long enough that storing five of them must grow the database file.
fn rss_long(prefix: &str, n: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><link>https://t.example/</link>");
    for i in 0..n {
        let body: String = (0..400).map(|w| format!("{prefix}{i}w{w} ")).collect();
        s.push_str(&format!(
            "<item><guid>{prefix}{i}</guid><title>{prefix} report {i}</title><link>https://t.example/{prefix}/{i}</link>\
             <description>{body}</description></item>"
        ));
    }
    s + "</channel></rss>"
}

fn integrity(db: &std::path::Path) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_panicking_poll_is_logged_recorded_and_polled_again() {
    let server = FeedServer::start();
    server.doc("/a.xml", rss("alpha", 3), "application/rss+xml");
    let sb = Sandbox::new();
    let spool = sb.path("spool");
    sb.append_config(&format!(
        "{}[schedule]\nbackoff_base = \"1s\"\nmin_interval = \"1s\"\n",
        config(&server, &spool, &["/a.xml"])
    ));
    let flag = sb.path("panic-next-poll");
    std::fs::write(&flag, "").unwrap();
    let mut d = Daemon::start(&sb, &[("NEWSDESK_FAULT_PANIC_POLL", &flag)]);

    // The first poll panics before fetching; the feed is backed off (1 s) and polled again.
    wait_for("the feed polled again after the panic", || {
        d.count("SELECT count(*) FROM articles") == 3
    });
    assert!(!flag.exists(), "the injected panic did not happen");
    assert_eq!(server.hits_for("/a.xml").len(), 1, "{}", d.stderr());
    assert_eq!(
        d.count("SELECT count(*) FROM fetches WHERE outcome = 'error' AND error_kind = 'internal' AND error LIKE '%panicked%'"),
        1
    );
    assert_eq!(
        d.count("SELECT count(*) FROM fetches WHERE outcome = 'ok'"),
        1
    );
    // Logged once with the feed (the panic message itself goes to stderr too).
    let failing: Vec<String> = d
        .stderr()
        .lines()
        .filter(|l| l.contains("feed failing"))
        .map(String::from)
        .collect();
    assert_eq!(failing.len(), 1, "{}", d.stderr());
    assert!(
        failing[0].contains("/a.xml") && failing[0].contains("panicked"),
        "{failing:?}"
    );
    assert!(d.stop().success(), "{}", d.stderr());
}

#[test]
fn a_full_disk_backs_off_shows_in_healthz_and_resumes_losing_nothing() {
    let server = FeedServer::start();
    let feeds = ["/a.xml", "/b.xml", "/c.xml"];
    for (f, p) in feeds.iter().zip(["alpha", "beta", "gamma"]) {
        server.doc(f, rss_long(p, 5), "application/rss+xml");
    }
    let sb = Sandbox::new();
    let spool = sb.path("spool");
    // A fixed port, so that `newsdesk status` can ask the daemon.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(&server, &spool, &feeds).replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    sb.append_config(&cfg);
    // The disk is full from the start: the database may not grow by a page.
    let full = sb.path("disk-full");
    std::fs::write(&full, "").unwrap();
    let mut d = Daemon::start(&sb, &[("NEWSDESK_FAULT_DISK_FULL", &full)]);
    let addr = d.http_addr();

    wait_for("the store failure", || {
        d.lines_with("store writes failing") == 1
    });
    std::fs::create_dir_all(&spool).unwrap();
    let body: String = (0..2000).map(|w| format!("spooled{w} ")).collect();
    std::fs::write(
        spool.join("drop.txt"),
        format!("Spooled on a full disk\n\n{body}\n"),
    )
    .unwrap();
    let (status, health) = http_get(&addr, "/healthz");
    assert_eq!(status, 503, "{health}");
    assert!(health.contains("disk is full"), "{health}");
    let (_, metrics) = http_get(&addr, "/metrics");
    assert!(
        metrics.contains("newsdesk_store_writes_failing 1"),
        "{metrics}"
    );
    let status = sb.run(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("daemon") && l.contains("disk is full")),
        "{text}"
    );

    // Twelve seconds of a full disk: before the fix, hundreds of requests to each feed.
    std::thread::sleep(Duration::from_secs(12));
    let hits: Vec<usize> = feeds.iter().map(|f| server.hits_for(f).len()).collect();
    assert!(
        hits.iter().all(|&n| (1..=3).contains(&n)) && hits.iter().sum::<usize>() <= 6,
        "requests per feed while the disk was full: {hits:?}"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM articles"),
        0,
        "{}",
        d.stderr()
    );
    assert!(spool.join("drop.txt").exists(), "the spool file must wait");
    assert_eq!(d.lines_with("store writes failing"), 1, "{}", d.stderr());
    assert_eq!(d.lines_with("WARN"), 0, "{}", d.stderr());

    // Space returns: everything is stored, once, without a restart.
    std::fs::remove_file(&full).unwrap();
    wait_for("the feeds and the spool file stored", || {
        d.count("SELECT count(*) FROM articles") == 16
    });
    assert!(spool.join("done/drop.txt").exists());
    wait_for("the recovery logged", || {
        d.lines_with("store writes succeed again") == 1
    });
    let (status, health) = http_get(&addr, "/healthz");
    assert_eq!(status, 200, "{health}");
    let (_, metrics) = http_get(&addr, "/metrics");
    assert!(
        metrics.contains("newsdesk_store_writes_failing 0"),
        "{metrics}"
    );
    // The polls the full disk refused are in the fetch log now that it can take them.
    wait_for("the refused polls recorded", || {
        d.count("SELECT count(*) FROM fetches WHERE error_kind = 'store' AND error LIKE '%disk is full%'")
            >= 3
    });
    let status = sb.run(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains("daemon"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("store x") && l.contains("disk is full")),
        "{text}"
    );
    assert!(d.stop().success(), "{}", d.stderr());
    assert_eq!(d.count("SELECT count(DISTINCT title) FROM articles"), 16);
    assert_eq!(d.lines_with("store writes failing"), 1, "{}", d.stderr());
    assert_eq!(integrity(&sb.db()), "ok");
}

/// SIGTERM while a poll is in flight (its feed answers only when the test says so): the daemon
/// starts no new poll, lets the one in flight finish and commit, and exits 0 before the grace
/// period runs out.
#[test]
fn sigterm_with_a_poll_in_flight_commits_it_and_exits_within_the_grace() {
    let server = FeedServer::start();
    server.doc("/a.xml", rss("alpha", 5), "application/rss+xml");
    server.doc("/slow.xml", rss("slow", 6), "application/rss+xml");
    server.hold("/slow.xml");
    let sb = Sandbox::new();
    let spool = sb.path("spool");
    // A grace far longer than the drain needs: running out of it is the failure looked for.
    let feeds = config(&server, &spool, &["/a.xml", "/slow.xml"])
        .replace("shutdown_grace = \"5s\"", "shutdown_grace = \"60s\"");
    sb.append_config(&feeds);

    let (notify, mut child) = spawn_notified(&sb);
    let stderr = || std::fs::read_to_string(sb.path("stderr.log")).unwrap_or_default();
    let count = |sql: &str| -> i64 {
        rusqlite::Connection::open(sb.db())
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
            .unwrap_or(-1)
    };
    let slow_url = server.url("/slow.xml");
    let slow_sql = |what: &str| {
        format!(
            "SELECT count(*) FROM {what} x JOIN feeds f ON f.id = x.feed_id WHERE f.url = '{slow_url}'"
        )
    };

    // The fast feed is committed while the slow one's request waits at the server.
    wait_for("the fast feed's items", || {
        count("SELECT count(*) FROM articles") == 5
    });
    wait_for("the slow feed's request", || {
        server.arrived("/slow.xml") == 1
    });
    assert_eq!(count(&slow_sql("fetches")), 0, "the slow poll is in flight");

    signal(&child, "-TERM");
    let messages = notify_messages(&notify, "STOPPING=1");
    assert!(messages.contains("STOPPING=1"), "{messages}");
    wait_for("the shutdown log line", || {
        stderr().contains("shutting down: no new polls")
    });
    assert!(
        stderr()
            .lines()
            .any(|l| l.contains("shutting down: no new polls") && l.contains("in_flight=1")),
        "{}",
        stderr()
    );
    // Only now does the slow feed answer.
    server.release("/slow.xml");

    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status}; {}", stderr());
    assert!(stderr().contains("stopped"), "{}", stderr());
    assert!(!stderr().contains("grace period over"), "{}", stderr());
    assert_eq!(count(&slow_sql("fetches")), 1, "{}", stderr());
    assert_eq!(count(&slow_sql("sightings")), 6, "{}", stderr());
    assert_eq!(count("SELECT count(*) FROM articles"), 11);
    assert_eq!(
        server.arrived("/slow.xml"),
        1,
        "no poll started after SIGTERM"
    );
}

/// A feed without validators sends every item again at each poll. One daemon polling it every
/// second looks its items up before processing them (on read connections kept between polls
/// while the writer commits): no lookup fails, every poll after the first stores nothing new
/// and sees its three items again, and an edited item is revised.
#[test]
fn a_daemon_repolling_a_feed_without_validators_looks_its_items_up_on_kept_connections() {
    let server = FeedServer::start();
    let serve = |body: String| server.rss_without_validators("/plain.xml", body);
    serve(rss("plain", 3));
    let sb = Sandbox::new();
    let spool = sb.path("spool");
    sb.append_config(&format!(
        "{}[schedule]\nmin_interval = \"1s\"\ndefault_interval = \"1s\"\nmax_interval = \"1s\"\n",
        config(&server, &spool, &["/plain.xml"])
    ));
    // The failed lookup is logged at debug, by the poll module.
    let mut d = Daemon::start(
        &sb,
        &[(
            "RUST_LOG",
            std::path::Path::new("info,newsdesk::poll=debug"),
        )],
    );
    let polled = |d: &Daemon| -> Vec<String> {
        d.stderr()
            .lines()
            .filter(|l| l.contains("polled") && l.contains("/plain.xml"))
            .map(String::from)
            .collect()
    };
    wait_for("four polls", || polled(&d).len() >= 4);
    let lines = polled(&d);
    assert!(lines[0].contains("new=3"), "{}", lines[0]);
    for l in &lines[1..] {
        assert!(
            l.contains("new=0") && l.contains("duplicates=3") && l.contains("revised=0"),
            "a repeat poll: {l}"
        );
    }
    assert_eq!(
        d.lines_with("could not look up known items"),
        0,
        "{}",
        d.stderr()
    );
    assert_eq!(d.count("SELECT count(*) FROM articles"), 3);

    serve(rss("plain", 3).replace("Dispatch 1 from", "Dispatch 1, corrected, from"));
    wait_for("the edited item revised", || {
        d.count("SELECT count(*) FROM article_revisions") == 1
    });
    assert_eq!(d.count("SELECT count(*) FROM articles"), 3);
    assert!(d.stop().success(), "{}", d.stderr());
}
