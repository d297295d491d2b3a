//! Several daemons on one PostgreSQL store, through the binary: `poll --once` processes
//! sharing a farm of 200 feeds x 50 items (every item stored once, no feed fetched twice), a
//! daemon killed mid-pass (its feeds taken by another once its leases expire), and the wire
//! copies of the corpus grouped when their feeds are polled by different daemons at the same
//! moment. Needs NEWSDESK_TEST_PG_URL (see tests/common/pg.rs).

mod common;
#[path = "../benches/support/farmgen.rs"]
mod farmgen;
#[path = "dedupe_sets/mod.rs"]
mod sets;

use common::feed_server::FeedServer;
use common::pg::{self, TestDb};
use common::{corpus, Sandbox};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A sandbox on `db` subscribed to `paths` on `server`, with `fetch` settings.
fn sandbox(
    db: &TestDb,
    server: &FeedServer,
    paths: &[String],
    fetch: &str,
    store: &str,
) -> Sandbox {
    let mut c = format!(
        "[fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\nper_host_concurrency = 8\n{fetch}\n\n"
    );
    for p in paths {
        c.push_str(&format!("[[feeds]]\nurl = \"{}\"\n\n", server.url(p)));
    }
    let sb = Sandbox::with_config(&c);
    let text = std::fs::read_to_string(sb.config()).unwrap();
    std::fs::write(
        sb.config(),
        text.replacen(
            "[store]\n",
            &format!("[store]\nurl = \"{}\"\n{store}\n", db.url),
            1,
        ),
    )
    .unwrap();
    sb
}

/// A `poll --once` process, killed if the test ends (or fails) before it does.
struct Daemon(Option<Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Daemon {
    fn id(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }

    /// SIGKILL, as a crash or a lost machine.
    fn kill(&mut self) {
        let mut c = self.0.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

/// `newsdesk --json poll --once`, started in the background.
fn spawn_poll(sb: &Sandbox) -> Daemon {
    Daemon(Some(spawn_child(sb)))
}

fn spawn_child(sb: &Sandbox) -> Child {
    Command::new(env!("CARGO_BIN_EXE_newsdesk"))
        .arg("--config")
        .arg(sb.config())
        .args(["--json", "poll", "--once"])
        .env_remove("RUST_LOG")
        .env_remove("NEWSDESK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start newsdesk")
}

/// The URLs a finished `poll --once` polled.
fn polled(mut daemon: Daemon) -> Vec<String> {
    let out = daemon.0.take().unwrap().wait_with_output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "poll failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["polls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap().to_string())
        .collect()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn farm(server: &FeedServer, feeds: usize, items: usize) -> Vec<String> {
    (0..feeds)
        .map(|f| {
            let path = format!("/farm/{f}.xml");
            server.doc(&path, farmgen::rss(f, 0, items), "application/rss+xml");
            path
        })
        .collect()
}

/// Requests served per path.
fn served(server: &FeedServer) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (p, _) in server.hits.lock().unwrap().iter() {
        *out.entry(p.clone()).or_insert(0) += 1;
    }
    out
}

/// `near_duplicates`: how many the store must hold, when the test knows.
fn assert_every_item_once(db: &TestDb, expected: i64, near_duplicates: Option<i64>) {
    assert_eq!(db.count("SELECT count(*) FROM articles"), expected);
    assert_eq!(db.count("SELECT count(*) FROM sightings"), expected);
    assert_eq!(
        db.count("SELECT count(*) FROM (SELECT DISTINCT feed_id, guid FROM sightings) s"),
        expected
    );
    assert_eq!(db.count("SELECT count(*) FROM articles_fts"), expected);
    if let Some(n) = near_duplicates {
        assert_eq!(
            db.count("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL"),
            n
        );
    }
    assert_eq!(db.count("SELECT count(*) FROM feed_leases"), 0);
}

#[test]
fn two_daemons_share_a_pass_over_200_feeds_without_fetching_one_twice() {
    let Some(db) = pg::database("two_daemons") else {
        return;
    };
    let server = FeedServer::start();
    let paths = farm(&server, 200, 50);
    let sb = sandbox(&db, &server, &paths, "concurrency = 4", "");
    // Both start at once: they migrate, reconcile the 200 feeds and claim concurrently.
    let (a, b) = (spawn_poll(&sb), spawn_poll(&sb));
    let (a, b) = (polled(a), polled(b));
    let (sa, sb_set): (HashSet<_>, HashSet<_>) = (a.iter().collect(), b.iter().collect());
    assert_eq!(a.len() + b.len(), 200, "every feed polled once in all");
    assert!(sa.is_disjoint(&sb_set), "a feed polled by both daemons");
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both daemons polled: {} and {}",
        a.len(),
        b.len()
    );
    let hits = served(&server);
    for p in &paths {
        assert_eq!(hits.get(p), Some(&1), "{p} fetched {:?} times", hits.get(p));
    }
    // Generated headlines share templates, and a handful sit at the short-text detector's
    // threshold (similarity ~0.50), where the verdict depends on which items were in its
    // recent-items ring when each arrived: on arrival order, which varies between runs of one
    // daemon on SQLite as well (4 or 5 such pairs there). Nothing else may be grouped.
    let near = db.count("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL");
    assert!(near <= 10, "{near} near duplicates among generated items");
    assert_eq!(
        db.count(
            "SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL
                AND (duplicate_detector <> 'short_text' OR duplicate_similarity > 0.6)"
        ),
        0
    );
    assert_every_item_once(&db, 200 * 50, Some(near));
    assert_eq!(db.count("SELECT count(*) FROM fetches"), 200);
    // A second pass by either finds nothing due.
    assert!(polled(spawn_poll(&sb)).is_empty());
}

#[test]
fn a_killed_daemons_feeds_are_polled_by_another_once_its_leases_expire() {
    let Some(db) = pg::database("killed") else {
        return;
    };
    let server = FeedServer::start();
    let paths = farm(&server, 30, 20);
    // Daemon A claims the first two feeds and polls one at a time: whichever it fetches first
    // is held, so A is stuck on it, the other waiting its turn, when it is killed.
    let held = [paths[0].clone(), paths[1].clone()];
    for p in &held {
        server.hold(p);
    }
    let arrived = || server.arrived(&held[0]) + server.arrived(&held[1]);
    let lease = Duration::from_secs(15);
    let slow = sandbox(
        &db,
        &server,
        &paths,
        "concurrency = 1",
        "lease_time = \"15s\"",
    );
    let mut a = spawn_poll(&slow);
    wait_for(
        "daemon A to fetch a held feed",
        Duration::from_secs(60),
        || arrived() == 1,
    );
    let claimed = Instant::now();
    // `status` lists the live daemon and what it holds (its claim of two feeds).
    let status: serde_json::Value =
        serde_json::from_str(&slow.run_ok(&["--json", "status"])).unwrap();
    let daemons = status["daemons"].as_array().unwrap();
    assert_eq!(daemons.len(), 1, "{status}");
    assert_eq!(daemons[0]["pid"].as_i64(), Some(i64::from(a.id())));
    assert_eq!(daemons[0]["leases"].as_i64(), Some(2), "{status}");
    a.kill();
    for p in &held {
        server.release(p);
    }

    // B, at once: polls every feed but the two A held, whose leases have not expired.
    let sb = sandbox(
        &db,
        &server,
        &paths,
        "concurrency = 4",
        "lease_time = \"15s\"",
    );
    let b1 = polled(spawn_poll(&sb));
    assert!(
        claimed.elapsed() < lease,
        "B's pass outlasted the lease; the test cannot tell a taken lease from an expired one"
    );
    assert_eq!(b1.len(), 28, "{b1:?}");
    assert!(held.iter().all(|p| !b1.contains(&server.url(p))));
    // Once the lease time is over, B takes them; nothing polled twice, nothing lost. The
    // dead daemon is no longer listed.
    std::thread::sleep((lease + Duration::from_secs(1)).saturating_sub(claimed.elapsed()));
    let status: serde_json::Value =
        serde_json::from_str(&sb.run_ok(&["--json", "status"])).unwrap();
    assert_eq!(status["daemons"].as_array().unwrap().len(), 0, "{status}");
    let b2 = polled(spawn_poll(&sb));
    assert_eq!(b2.len(), 2, "{b2:?}");
    assert!(held.iter().all(|p| b2.contains(&server.url(p))));
    let hits = served(&server);
    for p in &paths[2..] {
        assert_eq!(hits.get(p), Some(&1), "{p}");
    }
    // The held feeds: A's one request (answered after A died) and B's two.
    assert_eq!(arrived(), 3);
    assert_every_item_once(&db, 30 * 20, Some(0));
}

/// Corpus id -> story (duplicate_of root) of each corpus feed item in the store.
fn feed_item_groups(db: &TestDb) -> HashMap<String, i64> {
    let path = corpus().join("articles/feed-items.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut client = db.client();
    let stmt = client
        .prepare(
            "SELECT coalesce(a.duplicate_of, a.id) FROM sightings s
               JOIN feeds f ON f.id = s.feed_id JOIN articles a ON a.id = s.article_id
              WHERE f.url LIKE '%/' || $1 AND (s.guid = $2 OR s.url = $3 OR a.title = $4)
              ORDER BY (s.guid = $2) DESC, (s.url = $3) DESC LIMIT 1",
        )
        .unwrap();
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| j[k].as_str().unwrap_or_default().to_owned();
        if let Ok(Some(row)) =
            client.query_opt(&stmt, &[&s("feed"), &s("guid"), &s("url"), &s("title")])
        {
            out.insert(s("id"), row.get::<_, i64>(0));
        }
    }
    out
}

#[test]
fn wire_copies_polled_by_two_daemons_at_once_are_one_story() {
    let Some(db) = pg::database("wire") else {
        return;
    };
    let server = FeedServer::start();
    let dir = corpus().join("feeds");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Japan Today carries a copy of most D1 stories; ABC US the other copy of four of them.
    // Config order is claim order: A takes Japan Today and a filler, B ABC US and a filler.
    let first = ["japantoday-world-rss2.xml", "bbc-news-world-rss2.xml"];
    let second = ["abcnews-us-international-rss2.xml", "npr-world-rss2.xml"];
    names.retain(|n| !first.contains(&n.as_str()) && !second.contains(&n.as_str()));
    let ordered: Vec<String> = first
        .iter()
        .chain(&second)
        .map(|s| s.to_string())
        .chain(names)
        .collect();
    let mut paths = Vec::new();
    for name in &ordered {
        let path = format!("/{name}");
        let body = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        server.doc(&path, body, "application/xml");
        paths.push(path);
    }
    let (jt, abc) = (paths[0].clone(), paths[2].clone());
    // Each daemon fetches one feed at a time, and which of its two claimed feeds goes first is
    // the runtime's choice: both are held, so whichever it is keeps the daemon from finishing
    // it and claiming more (it would take the other daemon's feeds before that one started).
    for p in &paths[..4] {
        server.hold(p);
    }
    let sb = sandbox(&db, &server, &paths, "concurrency = 1", "");
    let a = spawn_poll(&sb);
    wait_for(
        "A to fetch Japan Today or its filler",
        Duration::from_secs(60),
        || server.arrived(&paths[0]) + server.arrived(&paths[1]) == 1,
    );
    let b = spawn_poll(&sb);
    wait_for(
        "B to fetch ABC US or its filler",
        Duration::from_secs(60),
        || server.arrived(&paths[2]) + server.arrived(&paths[3]) == 1,
    );
    // Answered at once: the two daemons store their copies at about the same moment.
    for p in &paths[..4] {
        server.release(p);
    }
    let (a, b) = (polled(a), polled(b));
    assert!(a.contains(&server.url(&jt)) && !b.contains(&server.url(&jt)));
    assert!(b.contains(&server.url(&abc)) && !a.contains(&server.url(&abc)));
    assert_eq!(a.len() + b.len(), 40);
    let g = feed_item_groups(&db);
    assert!(g.len() >= 1100, "only {} corpus items stored", g.len());
    for group in sets::D1_WIRE {
        let stories: Vec<Option<&i64>> = group.iter().map(|m| g.get(*m)).collect();
        assert!(
            stories.iter().all(|s| s.is_some() && *s == stories[0]),
            "{group:?} should be one story: {stories:?}"
        );
    }
    for (x, y) in sets::FEED_APART {
        assert_ne!(g.get(*x), g.get(*y), "{x} and {y} are different articles");
    }
}

#[test]
fn per_host_gap_and_slots_hold_across_daemons() {
    let Some(db) = pg::database("politeness") else {
        return;
    };
    let server = FeedServer::start();
    let paths = farm(&server, 8, 3);
    // One host (the test server), one request at a time, a second apart: for both daemons
    // together, not each.
    let sb = sandbox(&db, &server, &paths, "concurrency = 1", "");
    let text = std::fs::read_to_string(sb.config())
        .unwrap()
        .replace("per_host_min_gap = \"0s\"", "per_host_min_gap = \"1s\"")
        .replace("per_host_concurrency = 8", "per_host_concurrency = 1");
    std::fs::write(sb.config(), text).unwrap();
    sb.run_ok(&["db", "migrate"]);
    let (a, b) = (spawn_poll(&sb), spawn_poll(&sb));
    let (a, b) = (polled(a), polled(b));
    assert_eq!(a.len() + b.len(), 8);
    assert!(!a.is_empty() && !b.is_empty(), "{a:?} {b:?}");
    let times = server.arrival_times.lock().unwrap().clone();
    assert_eq!(times.len(), 8);
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        // The gap is booked in the database between request starts; the request reaches the
        // server a moment later, so allow a little jitter.
        assert!(
            gap >= Duration::from_millis(900),
            "two requests to one host {gap:?} apart"
        );
    }
    assert_eq!(db.count("SELECT count(*) FROM host_slots"), 0);
}

/// `newsdesk run` daemons (the long-running service) share the feeds the same way, and a
/// SIGTERM gives a daemon's leases back and takes it off `status`.
#[test]
fn two_run_daemons_share_the_feeds_and_stop_cleanly() {
    let Some(db) = pg::database("run") else {
        return;
    };
    let server = FeedServer::start();
    let paths = farm(&server, 40, 10);
    let sb = sandbox(&db, &server, &paths, "concurrency = 2", "");
    sb.run_ok(&["db", "migrate"]);
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_newsdesk"))
            .arg("--config")
            .arg(sb.config())
            .arg("run")
            .env_remove("RUST_LOG")
            .env_remove("NEWSDESK_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start newsdesk run")
    };
    let mut a = Daemon(Some(start()));
    let mut b = Daemon(Some(start()));
    wait_for("every feed polled", Duration::from_secs(120), || {
        db.count("SELECT count(*) FROM fetches") >= 40
    });
    let status: serde_json::Value =
        serde_json::from_str(&sb.run_ok(&["--json", "status"])).unwrap();
    let pids: HashSet<i64> = status["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(
        pids,
        HashSet::from([i64::from(a.id()), i64::from(b.id())]),
        "{status}"
    );
    for d in [&mut a, &mut b] {
        let mut child = d.0.take().unwrap();
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let exit = child.wait().unwrap();
        assert_eq!(exit.code(), Some(0), "{exit:?}");
    }
    let hits = served(&server);
    for p in &paths {
        assert_eq!(hits.get(p), Some(&1), "{p}");
    }
    assert_eq!(db.count("SELECT count(*) FROM fetches"), 40);
    assert_every_item_once(&db, 40 * 10, None);
    assert_eq!(db.count("SELECT count(*) FROM daemons"), 0);
}

#[test]
fn a_poll_outlasting_the_lease_time_keeps_its_lease() {
    let Some(db) = pg::database("renew") else {
        return;
    };
    let server = FeedServer::start();
    let paths = farm(&server, 4, 5);
    // A claims all four feeds in its first claim (a batch is twice the concurrency), polls
    // three, and is stuck on the held one well past its 2-second lease with nothing left to
    // claim: only its renewals keep B from taking that feed mid-poll.
    server.hold(&paths[0]);
    let sb = sandbox(
        &db,
        &server,
        &paths,
        "concurrency = 2",
        "lease_time = \"2s\"",
    );
    let a = spawn_poll(&sb);
    wait_for("A to fetch the held feed", Duration::from_secs(60), || {
        server.arrived(&paths[0]) == 1
    });
    std::thread::sleep(Duration::from_secs(5));
    let b = spawn_poll(&sb);
    // B's pass ends by itself when nothing is left to it; were it polling the held feed it
    // would wait for the release below, and the checks after would catch it.
    std::thread::sleep(Duration::from_secs(3));
    server.release(&paths[0]);
    let (a, b) = (polled(a), polled(b));
    assert_eq!(a.len(), 4, "{a:?}");
    assert!(b.is_empty(), "B polled feeds A held: {b:?}");
    assert_eq!(server.arrived(&paths[0]), 1);
}
