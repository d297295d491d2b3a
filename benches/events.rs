//! What an event costs: `emit()` with the Prometheus recorder installed and an info-level
//! subscriber formatting into a sink, and one `/metrics` render. Prints figures; asserts
//! nothing. Run: `cargo bench --bench events`.

use newsdesk::service::events::{
    ArticleSource, ArticlesStored, FeedFailed, FeedLog, PollDone, PollOutcome, TagCounts,
    WriterCommit,
};
use std::time::{Duration, Instant};

fn per_op(label: &str, n: u32, mut f: impl FnMut(u32)) {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
    println!("{label:<44} {ns:>10.0} ns/op  ({n} ops)");
}

fn main() {
    let handle = newsdesk::service::metrics::install().expect("install the recorder");
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::set_global_default(sub).expect("set the subscriber");

    let urls: Vec<String> = (0..500)
        .map(|i| format!("https://feeds{i}.example/rss"))
        .collect();
    let mut log = FeedLog::new();
    let n = 200_000;

    per_op("PollDone ok (counted + one info line)", n, |i| {
        PollDone {
            feed_url: &urls[i as usize % urls.len()],
            status: Some(200),
            outcome: PollOutcome::Ok,
            items: 20,
            new: 2,
            duplicates: 18,
            revised: 0,
            bytes: 48_000,
            duration: Duration::from_micros(u64::from(i % 5000) * 100),
        }
        .emit(&mut log)
    });
    per_op("FeedFailed repeat (counted, debug filtered)", n, |i| {
        FeedFailed {
            feed_url: &urls[i as usize % urls.len()],
            error_kind: "timeout",
            error: "operation timed out after 30s",
            consecutive_errors: u64::from(i),
        }
        .emit(&mut log)
    });
    per_op("ArticlesStored (counted, debug filtered)", n, |_| {
        ArticlesStored {
            source: ArticleSource::Feed,
            origin: "https://feeds1.example/rss",
            new: 2,
            duplicates: 18,
            revised: 0,
            tags: TagCounts {
                topic: 3,
                country: 2,
                org: 1,
            },
        }
        .emit()
    });
    per_op("WriterCommit (counted + histogram)", n, |i| {
        WriterCommit {
            duration: Duration::from_micros(u64::from(i % 1000) * 10),
            items: 20,
        }
        .emit()
    });
    let mut bytes = 0;
    per_op("/metrics render", 1000, |_| bytes = handle.render().len());
    println!("/metrics body: {bytes} bytes");
}
