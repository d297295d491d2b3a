//! The load generator for `bench/run`: serves N generated RSS feeds of M items each on
//! 127.0.0.1, the way a well-behaved publisher does (ETag, Last-Modified, 304, gzip when asked),
//! and adds K items to every feed on `POST /tick?k=K`. It renders each feed once per tick, so it
//! answers from memory and stays far from being the bottleneck; `GET /stats` reports its own
//! CPU time so a benchmark can show that.
//!
//! ```text
//! cargo run --release --example feedfarm -- --feeds 1000 --items 50 [--port 0] [--gzip]
//!     [--write-config newsdesk.toml --db bench.db] [--urls urls.txt]
//! cargo run --release --example feedfarm -- --jsonl articles.jsonl --count 50000
//! ```
//! The first line on stdout is `listening on 127.0.0.1:PORT`.

#[path = "../benches/support/farmgen.rs"]
mod farmgen;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

struct Args {
    feeds: usize,
    items: usize,
    port: u16,
    gzip: bool,
    write_config: Option<String>,
    db: String,
    fts: String,
    urls: Option<String>,
    jsonl: Option<String>,
    count: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        feeds: 1000,
        items: 50,
        port: 0,
        gzip: false,
        write_config: None,
        db: "bench.db".into(),
        fts: "full".into(),
        urls: None,
        jsonl: None,
        count: 50_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--feeds" => a.feeds = number(value()?)?,
            "--items" => a.items = number(value()?)?,
            "--port" => a.port = number(value()?)? as u16,
            "--gzip" => a.gzip = true,
            "--write-config" => a.write_config = Some(value()?),
            "--db" => a.db = value()?,
            "--fts" => a.fts = value()?,
            "--urls" => a.urls = Some(value()?),
            "--jsonl" => a.jsonl = Some(value()?),
            "--count" => a.count = number(value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// One feed as served: the rendered document and its validators.
struct Doc {
    body: Arc<Vec<u8>>,
    gzipped: Option<Arc<Vec<u8>>>,
    etag: String,
    last_modified: String,
}

struct Farm {
    items: usize,
    gzip: bool,
    /// Items each feed has (the same for all).
    total: RwLock<usize>,
    docs: RwLock<Vec<Doc>>,
    version: AtomicU64,
    requests: AtomicU64,
    not_modified: AtomicU64,
    bytes: AtomicU64,
}

impl Farm {
    /// Render every feed for the current item count (its newest `items` items).
    fn render(&self, feeds: usize) {
        let total = *self.total.read().unwrap_or_else(|e| e.into_inner());
        let version = self.version.fetch_add(1, Ordering::Relaxed) + 1;
        let first = total.saturating_sub(self.items);
        let newest = farmgen::BASE_TIME + total as i64 * 600;
        let last_modified = chrono::DateTime::from_timestamp(newest, 0)
            .unwrap_or_default()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let docs: Vec<Doc> = (0..feeds)
            .map(|f| {
                let body = farmgen::rss(f, first, total - first).into_bytes();
                let gzipped = self.gzip.then(|| {
                    let mut enc =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    let _ = enc.write_all(&body);
                    Arc::new(enc.finish().unwrap_or_default())
                });
                Doc {
                    body: Arc::new(body),
                    gzipped,
                    etag: format!("\"f{f}-v{version}\""),
                    last_modified: last_modified.clone(),
                }
            })
            .collect();
        *self.docs.write().unwrap_or_else(|e| e.into_inner()) = docs;
    }
}

async fn feed(
    State(farm): State<Arc<Farm>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    farm.requests.fetch_add(1, Ordering::Relaxed);
    let Some(id) = name
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let docs = farm.docs.read().unwrap_or_else(|e| e.into_inner());
    let Some(doc) = docs.get(id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header_is = |name: header::HeaderName, value: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == value)
    };
    if header_is(header::IF_NONE_MATCH, &doc.etag)
        || header_is(header::IF_MODIFIED_SINCE, &doc.last_modified)
    {
        farm.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, doc.etag.clone())]).into_response();
    }
    let wants_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let (body, encoding) = match (&doc.gzipped, wants_gzip) {
        (Some(gz), true) => (gz.clone(), Some("gzip")),
        _ => (doc.body.clone(), None),
    };
    farm.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/rss+xml".to_string()),
            (header::ETAG, doc.etag.clone()),
            (header::LAST_MODIFIED, doc.last_modified.clone()),
        ],
        body.as_ref().clone(),
    )
        .into_response();
    if let Some(e) = encoding {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static(e),
        );
    }
    response
}

async fn tick(State((farm, feeds)): State<(Arc<Farm>, usize)>, uri: axum::http::Uri) -> String {
    // `?k=N`, default 5.
    let k = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("k=")))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(5);
    {
        let mut total = farm.total.write().unwrap_or_else(|e| e.into_inner());
        *total += k;
    }
    let f = farm.clone();
    let _ = tokio::task::spawn_blocking(move || f.render(feeds)).await;
    format!("added {k} items to each of {feeds} feeds\n")
}

/// (user, system) CPU seconds of this process, from /proc/self/stat.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

async fn stats(State(farm): State<Arc<Farm>>) -> String {
    let (user, sys) = cpu_seconds();
    serde_json::json!({
        "cpu_user_s": user,
        "cpu_sys_s": sys,
        "requests": farm.requests.load(Ordering::Relaxed),
        "not_modified": farm.not_modified.load(Ordering::Relaxed),
        "bytes": farm.bytes.load(Ordering::Relaxed),
    })
    .to_string()
}

fn write_config(a: &Args, port: u16, path: &str) -> std::io::Result<()> {
    let mut c = format!(
        "# Written by examples/feedfarm.rs for a benchmark run.\n\
         [store]\npath = \"{}\"\nfts = \"{}\"\n\n\
         [taxonomy]\ntopics = \"{repo}/config/topics.toml\"\n\
         countries = \"{repo}/config/countries.toml\"\n\n\
         [log]\nlevel = \"warn\"\n\n\
         [fetch]\nallow_private_addresses = true\nper_host_min_gap = \"0s\"\n\
         per_host_concurrency = 16\nconcurrency = 16\n\n",
        a.db,
        a.fts,
        repo = env!("CARGO_MANIFEST_DIR"),
    );
    for f in 0..a.feeds {
        c.push_str(&format!(
            "[[feeds]]\nurl = \"http://127.0.0.1:{port}/feed/{f}.xml\"\n"
        ));
    }
    std::fs::write(path, c)
}

fn write_jsonl(path: &str, count: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    // Spread over feeds as a farm would be, 50 items each.
    for n in 0..count {
        let it = farmgen::item(100_000 + n / 50, n % 50);
        let when = chrono::DateTime::from_timestamp(it.published, 0)
            .unwrap_or_default()
            .to_rfc3339();
        let line = serde_json::json!({
            "id": format!("gen-{n}"),
            "url": it.link.replace("farm.example", "jsonl.example"),
            "title": it.title,
            "html": it.html,
            "published": when,
            "source": "generated",
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("feedfarm: {e}");
            std::process::exit(2);
        }
    };
    if let Some(path) = &args.jsonl {
        if let Err(e) = write_jsonl(path, args.count) {
            eprintln!("feedfarm: cannot write {path}: {e}");
            std::process::exit(1);
        }
        println!("wrote {} articles to {path}", args.count);
        return;
    }
    let farm = Arc::new(Farm {
        items: args.items,
        gzip: args.gzip,
        total: RwLock::new(args.items),
        docs: RwLock::new(Vec::new()),
        version: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    });
    farm.render(args.feeds);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("feedfarm: cannot listen on 127.0.0.1:{}: {e}", args.port);
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    if let Some(path) = &args.write_config {
        if let Err(e) = write_config(&args, port, path) {
            eprintln!("feedfarm: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
    if let Some(path) = &args.urls {
        let urls: String = (0..args.feeds)
            .map(|f| format!("http://127.0.0.1:{port}/feed/{f}.xml\n"))
            .collect();
        if let Err(e) = std::fs::write(path, urls) {
            eprintln!("feedfarm: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
    let app = Router::new()
        .route("/feed/{name}", get(feed))
        .route("/stats", get(stats))
        .with_state(farm.clone())
        .merge(
            Router::new()
                .route("/tick", post(tick))
                .with_state((farm.clone(), args.feeds)),
        );
    println!("listening on 127.0.0.1:{port}");
    let _ = std::io::stdout().flush();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("feedfarm: {e}");
    }
    let (user, sys) = cpu_seconds();
    eprintln!("feedfarm: {user:.2} s user, {sys:.2} s system CPU");
}
