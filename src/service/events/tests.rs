use super::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Run `f` with a debug-level subscriber writing plain lines into a buffer; return them.
fn logged(f: impl FnOnce()) -> Vec<String> {
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf(Arc::new(Mutex::new(Vec::new())));
    let writer = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(sub, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_string).collect()
}

/// Run `f` against a fresh Prometheus recorder and return the rendered exposition text.
fn rendered(f: impl FnOnce()) -> String {
    let recorder = crate::service::metrics::recorder().unwrap();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, f);
    handle.render()
}

/// The value of one series (name with labels, exactly as rendered) in exposition text.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

fn failed<'a>(url: &'a str, kind: &'a str, n: u64) -> FeedFailed<'a> {
    FeedFailed {
        feed_url: url,
        error_kind: kind,
        error: "synthetic failure",
        consecutive_errors: n,
    }
}

fn done(url: &str, outcome: PollOutcome) -> PollDone<'_> {
    PollDone {
        feed_url: url,
        status: Some(200),
        outcome,
        items: 10,
        new: 3,
        duplicates: 7,
        revised: 0,
        bytes: 2048,
        duration: Duration::from_millis(120),
    }
}

#[test]
fn a_feed_that_stays_broken_warns_once_per_change() {
    let url = "http://broken.test/feed";
    let lines = logged(|| {
        let mut log = FeedLog::new();
        for n in 1..=3 {
            done(url, PollOutcome::Error).emit(&mut log);
            failed(url, "timeout", n).emit(&mut log);
        }
        done(url, PollOutcome::Error).emit(&mut log);
        failed(url, "dns", 4).emit(&mut log);
        done(url, PollOutcome::Ok).emit(&mut log);
    });
    let at = |level: &str| {
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with(level))
            .cloned()
            .collect::<Vec<_>>()
    };
    let warns = at("WARN");
    assert_eq!(warns.len(), 2, "{lines:#?}");
    assert!(warns[0].contains("feed failing") && warns[0].contains("kind=\"timeout\""));
    assert!(warns[1].contains("failing differently") && warns[1].contains("repeats_of_previous=2"));
    assert!(warns.iter().all(|l| l.contains(url)));
    let infos = at("INFO");
    assert_eq!(infos.len(), 2, "{lines:#?}");
    assert!(infos[0].contains("feed recovered") && infos[0].contains("failed_polls=4"));
    assert!(infos[1].contains("polled") && infos[1].contains("new=3"));
    assert!(infos[1].contains("duplicates=7") && infos[1].contains("ms=120"));
    // The repeats are still there for whoever turns on debug.
    let repeats = at("DEBUG");
    assert_eq!(
        repeats
            .iter()
            .filter(|l| l.contains("feed still failing"))
            .count(),
        2
    );
}

#[test]
fn polls_and_errors_are_counted_whether_logged_or_not() {
    let text = rendered(|| {
        let mut log = FeedLog::new();
        for n in 1..=3 {
            done("http://x.test/", PollOutcome::Error).emit(&mut log);
            failed("http://x.test/", "timeout", n).emit(&mut log);
        }
        done("http://y.test/", PollOutcome::Ok).emit(&mut log);
        PollDone {
            status: Some(304),
            bytes: 0,
            items: 0,
            ..done("http://z.test/", PollOutcome::NotModified)
        }
        .emit(&mut log);
    });
    assert_eq!(
        value(&text, "newsdesk_polls_total{outcome=\"error\"}"),
        Some(3.0)
    );
    assert_eq!(
        value(&text, "newsdesk_polls_total{outcome=\"ok\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "newsdesk_polls_total{outcome=\"not_modified\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "newsdesk_poll_errors_total{kind=\"timeout\"}"),
        Some(3.0)
    );
    assert_eq!(
        value(&text, "newsdesk_fetched_bytes_total"),
        Some(4.0 * 2048.0)
    );
    assert_eq!(
        value(&text, "newsdesk_poll_duration_seconds_count"),
        Some(5.0)
    );
    // 120 ms falls in the 0.25 s bucket, not the 0.1 s one: real histogram buckets.
    assert_eq!(
        value(&text, "newsdesk_poll_duration_seconds_bucket{le=\"0.1\"}"),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "newsdesk_poll_duration_seconds_bucket{le=\"0.25\"}"),
        Some(5.0)
    );
}

#[test]
fn stored_articles_commits_spool_and_reloads_are_counted() {
    let err = std::io::Error::other("bad toml");
    let text = rendered(|| {
        ArticlesStored {
            source: ArticleSource::Feed,
            origin: "http://x.test/",
            new: 4,
            duplicates: 2,
            revised: 1,
            tags: TagCounts {
                topic: 5,
                country: 3,
                org: 0,
            },
        }
        .emit();
        ArticlesStored {
            source: ArticleSource::Spool,
            origin: "a.txt",
            new: 1,
            duplicates: 0,
            revised: 0,
            tags: TagCounts::default(),
        }
        .emit();
        WriterCommit {
            duration: Duration::from_millis(3),
            items: 7,
        }
        .emit();
        SpoolFile {
            file: Path::new("/spool/a.txt"),
            outcome: SpoolOutcome::Done { articles: 1 },
        }
        .emit();
        SpoolFile {
            file: Path::new("/spool/b.bin"),
            outcome: SpoolOutcome::Failed { reason: "not text" },
        }
        .emit();
        ConfigReloaded {
            path: Path::new("/etc/newsdesk/newsdesk.toml"),
            feeds: 3,
            added: 1,
            removed: 0,
        }
        .emit();
        ConfigRejected {
            path: Path::new("/etc/newsdesk/newsdesk.toml"),
            error: &err,
        }
        .emit();
        FeedCounts {
            ok: 5,
            failing: 1,
            disabled: 2,
        }
        .emit();
    });
    let v = |s: &str| value(&text, s);
    assert_eq!(
        v("newsdesk_articles_total{result=\"new\",source=\"feed\"}"),
        Some(4.0)
    );
    assert_eq!(
        v("newsdesk_articles_total{result=\"duplicate\",source=\"feed\"}"),
        Some(2.0)
    );
    assert_eq!(
        v("newsdesk_articles_total{result=\"revised\",source=\"feed\"}"),
        Some(1.0)
    );
    assert_eq!(
        v("newsdesk_articles_total{result=\"new\",source=\"spool\"}"),
        Some(1.0)
    );
    assert_eq!(v("newsdesk_tags_assigned_total{kind=\"topic\"}"), Some(5.0));
    assert_eq!(
        v("newsdesk_tags_assigned_total{kind=\"country\"}"),
        Some(3.0)
    );
    assert_eq!(v("newsdesk_commits_total"), Some(1.0));
    assert_eq!(v("newsdesk_committed_items_total"), Some(7.0));
    assert_eq!(
        v("newsdesk_commit_duration_seconds_bucket{le=\"0.005\"}"),
        Some(1.0)
    );
    assert_eq!(v("newsdesk_spool_files_total{outcome=\"done\"}"), Some(1.0));
    assert_eq!(
        v("newsdesk_spool_files_total{outcome=\"failed\"}"),
        Some(1.0)
    );
    assert_eq!(v("newsdesk_config_reloads_total{result=\"ok\"}"), Some(1.0));
    assert_eq!(
        v("newsdesk_config_reloads_total{result=\"rejected\"}"),
        Some(1.0)
    );
    assert_eq!(v("newsdesk_config_last_reload_successful"), Some(0.0));
    assert_eq!(v("newsdesk_feeds{state=\"ok\"}"), Some(5.0));
    assert_eq!(v("newsdesk_feeds{state=\"failing\"}"), Some(1.0));
    assert_eq!(v("newsdesk_feeds{state=\"disabled\"}"), Some(2.0));
}

#[test]
fn every_series_is_prefixed_and_follows_naming_conventions() {
    let text = rendered(|| {
        crate::service::metrics::describe();
        let mut log = FeedLog::new();
        done("http://x.test/", PollOutcome::Ok).emit(&mut log);
        failed("http://x.test/", "tls", 1).emit(&mut log);
        FeedGone {
            feed_url: "http://x.test/",
        }
        .emit(&mut log);
        FeedMoved {
            from: "http://y.test/",
            to: "https://y.test/",
            status: 301,
        }
        .emit(&mut log);
        WriterCommit {
            duration: Duration::from_millis(1),
            items: 1,
        }
        .emit();
    });
    let mut seen = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(name.starts_with("newsdesk_"), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            seen += 1;
        } else if !line.starts_with('#') {
            assert!(line.starts_with("newsdesk_"), "{line}");
        }
    }
    assert!(seen >= 5, "{text}");
    assert_eq!(value(&text, "newsdesk_feeds_gone_total"), Some(1.0));
    assert_eq!(value(&text, "newsdesk_feeds_moved_total"), Some(1.0));
}

#[test]
fn outcome_words_round_trip() {
    for o in [
        PollOutcome::Ok,
        PollOutcome::NotModified,
        PollOutcome::Error,
    ] {
        assert_eq!(PollOutcome::parse(o.as_str()), Some(o));
    }
    assert_eq!(PollOutcome::parse("fine"), None);
}
