//! The load generator for `bench/run`: serves N generated RSS feeds of M items each on
//! 127.0.0.1, the way a well-behaved publisher does (ETag, Last-Modified, 304, gzip when asked),
//! and adds K items to every feed on `POST /tick?k=K`. It renders each feed once per tick, so it
//! answers from memory and stays far from being the bottleneck; `GET /stats` reports its own
//! CPU time so a benchmark can show that.
//!
//! The production-shaped mode (`--tls`, `--hosts`) serves HTTPS with a CA it makes at start
//! (written to `--ca-out` for newsdesk's `[fetch] extra_root_certificates`), HTTP/2 or
//! HTTP/1.1 with keep-alive by ALPN, feed N on host `h{N % hosts}.test` (newsdesk finds them
//! through `[fetch] resolve`, never DNS), the first `--slow-hosts` hosts answering
//! `--slow-ms` late, and, with `--publish-every S --publish-feeds K`, K random feeds gaining an
//! item every S seconds, each publication logged (`--publish-log`: unix ms, feed, item link) so
//! a bench can compute publish-to-commit latency. `/stats` then also counts TCP connections and
//! TLS handshakes, per host.
//!
//! ```text
//! cargo run --release --example feedfarm -- --feeds 1000 --items 50 [--port 0] [--gzip]
//!     [--write-config newsdesk.toml --db bench.db] [--urls urls.txt] [--opml feeds.opml]
//!     [--tls --ca-out ca.pem] [--hosts 200] [--slow-hosts 2 --slow-ms 1500]
//!     [--publish-every 6 --publish-feeds 10 --publish-log published.tsv]
//! cargo run --release --example feedfarm -- --jsonl articles.jsonl --count 50000
//! ```
//! The first line on stdout is `listening on 127.0.0.1:PORT`, the second `control on
//! 127.0.0.1:PORT`: plain HTTP for `/stats` and `/tick` (the feed port itself when not TLS).
//! With `--opml` the written config lists no feeds: they are to be imported from the OPML.

#[path = "../benches/support/farmgen.rs"]
mod farmgen;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

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
    opml: Option<String>,
    tls: bool,
    ca_out: Option<String>,
    /// 0: every feed on 127.0.0.1 itself (the classic farm).
    hosts: usize,
    slow_hosts: usize,
    slow_ms: u64,
    publish_every: f64,
    publish_feeds: usize,
    publish_log: Option<String>,
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
        opml: None,
        tls: false,
        ca_out: None,
        hosts: 0,
        slow_hosts: 0,
        slow_ms: 1500,
        publish_every: 0.0,
        publish_feeds: 0,
        publish_log: None,
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
            "--opml" => a.opml = Some(value()?),
            "--tls" => a.tls = true,
            "--ca-out" => a.ca_out = Some(value()?),
            "--hosts" => a.hosts = number(value()?)?,
            "--slow-hosts" => a.slow_hosts = number(value()?)?,
            "--slow-ms" => a.slow_ms = number(value()?)? as u64,
            "--publish-every" => {
                a.publish_every = value()?
                    .parse::<f64>()
                    .map_err(|e| format!("{flag}: {e}"))?
            }
            "--publish-feeds" => a.publish_feeds = number(value()?)?,
            "--publish-log" => a.publish_log = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.tls && a.ca_out.is_none() {
        return Err("--tls needs --ca-out FILE (where newsdesk finds the CA)".into());
    }
    if a.publish_every > 0.0 && a.publish_feeds == 0 {
        return Err("--publish-every needs --publish-feeds K".into());
    }
    Ok(a)
}

impl Args {
    /// Feed `f`'s URL as newsdesk is to poll it.
    fn url(&self, port: u16, f: usize) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.hosts == 0 {
            format!("{scheme}://127.0.0.1:{port}/feed/{f}.xml")
        } else {
            format!("{scheme}://h{}.test:{port}/feed/{f}.xml", f % self.hosts)
        }
    }
}

/// One feed as served: the rendered document and its validators.
struct Doc {
    body: Arc<Vec<u8>>,
    gzipped: Option<Arc<Vec<u8>>>,
    etag: String,
    last_modified: String,
}

/// Connections and TLS handshakes one host name (SNI) received.
#[derive(Default, Clone, serde::Serialize)]
struct HostCount {
    handshakes: u64,
    h2: u64,
}

struct Farm {
    items: usize,
    gzip: bool,
    /// Items each feed has published so far; it serves the newest `items`.
    totals: RwLock<Vec<usize>>,
    docs: RwLock<Vec<Arc<Doc>>>,
    slow_hosts: usize,
    slow: Duration,
    requests: AtomicU64,
    not_modified: AtomicU64,
    bytes: AtomicU64,
    connections: AtomicU64,
    handshakes: AtomicU64,
    failed_handshakes: AtomicU64,
    published: AtomicU64,
    per_host: Mutex<BTreeMap<String, HostCount>>,
}

impl Farm {
    fn doc(&self, f: usize, total: usize) -> Doc {
        let first = total.saturating_sub(self.items);
        let newest = farmgen::BASE_TIME + total as i64 * 600;
        let last_modified = chrono::DateTime::from_timestamp(newest, 0)
            .unwrap_or_default()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let body = farmgen::rss(f, first, total - first).into_bytes();
        let gzipped = self.gzip.then(|| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = enc.write_all(&body);
            Arc::new(enc.finish().unwrap_or_default())
        });
        Doc {
            body: Arc::new(body),
            gzipped,
            // The item count names the content: a feed's ETag changes exactly when it publishes.
            etag: format!("\"f{f}-n{total}\""),
            last_modified,
        }
    }

    /// Render every feed for its current item count.
    fn render(&self) {
        let totals = self
            .totals
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let docs: Vec<Arc<Doc>> = totals
            .iter()
            .enumerate()
            .map(|(f, &total)| Arc::new(self.doc(f, total)))
            .collect();
        *self.docs.write().unwrap_or_else(|e| e.into_inner()) = docs;
    }

    /// Feed `f` gains one item; returns the new item's number.
    fn publish(&self, f: usize) -> usize {
        let total = {
            let mut totals = self.totals.write().unwrap_or_else(|e| e.into_inner());
            totals[f] += 1;
            totals[f]
        };
        let doc = Arc::new(self.doc(f, total));
        self.docs.write().unwrap_or_else(|e| e.into_inner())[f] = doc;
        self.published.fetch_add(1, Ordering::Relaxed);
        total - 1
    }

    /// Whether a request for `host` (`hN.test`, maybe with a port) is to be answered late.
    fn is_slow(&self, host: &str) -> bool {
        host.strip_prefix('h')
            .and_then(|h| h.split('.').next())
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < self.slow_hosts)
    }
}

async fn feed(
    State(farm): State<Arc<Farm>>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    farm.requests.fetch_add(1, Ordering::Relaxed);
    if farm.slow_hosts > 0 {
        // HTTP/2 carries the host in the URI, HTTP/1.1 in the Host header.
        let host = uri
            .host()
            .map(str::to_string)
            .or_else(|| {
                headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        if farm.is_slow(&host) {
            tokio::time::sleep(farm.slow).await;
        }
    }
    let Some(id) = name
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(doc) = farm
        .docs
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned()
    else {
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

async fn tick(State(farm): State<Arc<Farm>>, uri: axum::http::Uri) -> String {
    // `?k=N`, default 5.
    let k = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("k=")))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(5);
    let feeds = {
        let mut totals = farm.totals.write().unwrap_or_else(|e| e.into_inner());
        totals.iter_mut().for_each(|t| *t += k);
        totals.len()
    };
    let f = farm.clone();
    let _ = tokio::task::spawn_blocking(move || f.render()).await;
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
    let per_host = farm
        .per_host
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let most = per_host.values().map(|h| h.handshakes).max().unwrap_or(0);
    let h2: u64 = per_host.values().map(|h| h.h2).sum();
    // cpu_sys_s before cpu_user_s: bench/run reads them in that order with sed.
    serde_json::json!({
        "cpu_sys_s": sys,
        "cpu_user_s": user,
        "requests": farm.requests.load(Ordering::Relaxed),
        "not_modified": farm.not_modified.load(Ordering::Relaxed),
        "bytes": farm.bytes.load(Ordering::Relaxed),
        "connections": farm.connections.load(Ordering::Relaxed),
        "tls_handshakes": farm.handshakes.load(Ordering::Relaxed),
        "tls_failed": farm.failed_handshakes.load(Ordering::Relaxed),
        "h2_connections": h2,
        "hosts_seen": per_host.len(),
        "max_handshakes_per_host": most,
        "published": farm.published.load(Ordering::Relaxed),
        "per_host": per_host,
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
         per_host_concurrency = 16\nconcurrency = 16\n",
        a.db,
        a.fts,
        repo = env!("CARGO_MANIFEST_DIR"),
    );
    if let Some(ca) = &a.ca_out {
        let ca = std::path::absolute(ca)?;
        c.push_str(&format!(
            "extra_root_certificates = [{:?}]\n",
            ca.display().to_string()
        ));
    }
    if a.hosts > 0 {
        c.push_str("resolve = { \"*.test\" = \"127.0.0.1\" }\n");
    }
    c.push('\n');
    if a.opml.is_none() {
        for f in 0..a.feeds {
            c.push_str(&format!("[[feeds]]\nurl = \"{}\"\n", a.url(port, f)));
        }
    }
    std::fs::write(path, c)
}

fn write_opml(a: &Args, port: u16, path: &str) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\"><head><title>feedfarm</title></head><body>"
    )?;
    for f in 0..a.feeds {
        writeln!(
            out,
            "<outline type=\"rss\" text=\"Farm feed {f}\" xmlUrl=\"{}\"/>",
            a.url(port, f)
        )?;
    }
    writeln!(out, "</body></opml>")?;
    out.flush()
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

/// A CA made now (its PEM written to `ca_out`) and a leaf for every farm host, for rustls.
fn tls_acceptor(hosts: usize, ca_out: &str) -> Result<tokio_rustls::TlsAcceptor, String> {
    let e = |what: &'static str| move |err: rcgen::Error| format!("{what}: {err}");
    let ca_key = rcgen::KeyPair::generate().map_err(e("CA key"))?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(e("CA"))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "feedfarm CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(e("CA"))?;
    std::fs::write(ca_out, ca_cert.pem()).map_err(|err| format!("{ca_out}: {err}"))?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    // Every host by name: a wildcard over a single-label suffix is not one clients accept.
    let mut names: Vec<String> = (0..hosts.max(1)).map(|h| format!("h{h}.test")).collect();
    names.push("localhost".into());
    let leaf_key = rcgen::KeyPair::generate().map_err(e("leaf key"))?;
    let mut leaf_params = rcgen::CertificateParams::new(names).map_err(e("leaf"))?;
    leaf_params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .map_err(e("leaf"))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| err.to_string())?
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone(), ca_cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .map_err(|err| err.to_string())?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Accept TLS connections for `app` until the process ends, counting them per host.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    farm: Arc<Farm>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        farm.connections.fetch_add(1, Ordering::Relaxed);
        let _ = tcp.set_nodelay(true);
        let (acceptor, app, farm) = (acceptor.clone(), app.clone(), farm.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(_) => {
                    farm.failed_handshakes.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            farm.handshakes.fetch_add(1, Ordering::Relaxed);
            {
                let conn = stream.get_ref().1;
                let host = conn.server_name().unwrap_or("(no SNI)").to_string();
                let h2 = conn.alpn_protocol() == Some(b"h2".as_slice());
                let mut per_host = farm.per_host.lock().unwrap_or_else(|e| e.into_inner());
                let count = per_host.entry(host).or_default();
                count.handshakes += 1;
                count.h2 += u64::from(h2);
            }
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
        });
    }
}

/// Every `every`, `k` random feeds gain one item each; each is logged once it is served.
async fn publish(farm: Arc<Farm>, every: Duration, k: usize, log: Option<String>) {
    let mut out = match &log {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("feedfarm: cannot write {path}: {e}");
                std::process::exit(1);
            }
        },
        None => None,
    };
    let feeds = farm.totals.read().unwrap_or_else(|e| e.into_inner()).len();
    let mut rng = fastrand::Rng::with_seed(22);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        for _ in 0..k {
            let f = rng.usize(..feeds.max(1));
            let n = farm.publish(f);
            if let Some(out) = out.as_mut() {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                let _ = writeln!(out, "{ms}\t{f}\t{}", farmgen::item(f, n).link);
            }
        }
        if let Some(out) = out.as_mut() {
            let _ = out.flush();
        }
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("feedfarm: {what}: {e}");
    std::process::exit(1);
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
            fail(&format!("cannot write {path}"), e);
        }
        println!("wrote {} articles to {path}", args.count);
        return;
    }
    let farm = Arc::new(Farm {
        items: args.items,
        gzip: args.gzip,
        totals: RwLock::new(vec![args.items; args.feeds]),
        docs: RwLock::new(Vec::new()),
        slow_hosts: args.slow_hosts,
        slow: Duration::from_millis(args.slow_ms),
        requests: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        handshakes: AtomicU64::new(0),
        failed_handshakes: AtomicU64::new(0),
        published: AtomicU64::new(0),
        per_host: Mutex::new(BTreeMap::new()),
    });
    farm.render();
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(l) => l,
        Err(e) => fail(&format!("cannot listen on 127.0.0.1:{}", args.port), e),
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    let acceptor = match (&args.ca_out, args.tls) {
        (Some(ca), true) => Some(tls_acceptor(args.hosts, ca).unwrap_or_else(|e| fail("TLS", e))),
        _ => None,
    };
    for (path, write) in [
        (
            &args.write_config,
            write_config as fn(&Args, u16, &str) -> _,
        ),
        (&args.opml, write_opml),
    ] {
        if let Some(path) = path {
            if let Err(e) = write(&args, port, path) {
                fail(&format!("cannot write {path}"), e);
            }
        }
    }
    if let Some(path) = &args.urls {
        let urls: String = (0..args.feeds).map(|f| args.url(port, f) + "\n").collect();
        if let Err(e) = std::fs::write(path, urls) {
            fail(&format!("cannot write {path}"), e);
        }
    }
    let feeds = Router::new()
        .route("/feed/{name}", get(feed))
        .with_state(farm.clone());
    let control = Router::new()
        .route("/stats", get(stats))
        .route("/tick", post(tick))
        .with_state(farm.clone());
    if args.publish_every > 0.0 {
        tokio::spawn(publish(
            farm.clone(),
            Duration::from_secs_f64(args.publish_every),
            args.publish_feeds,
            args.publish_log.clone(),
        ));
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match acceptor {
        Some(acceptor) => {
            let plain = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                Ok(l) => l,
                Err(e) => fail("cannot listen for /stats on 127.0.0.1", e),
            };
            let cport = plain.local_addr().map(|a| a.port()).unwrap_or(0);
            println!("listening on 127.0.0.1:{port}\ncontrol on 127.0.0.1:{cport}");
            let _ = std::io::stdout().flush();
            tokio::spawn(serve_tls(listener, acceptor, feeds, farm.clone()));
            if let Err(e) = axum::serve(plain, control)
                .with_graceful_shutdown(shutdown)
                .await
            {
                eprintln!("feedfarm: {e}");
            }
        }
        None => {
            println!("listening on 127.0.0.1:{port}\ncontrol on 127.0.0.1:{port}");
            let _ = std::io::stdout().flush();
            if let Err(e) = axum::serve(listener, feeds.merge(control))
                .with_graceful_shutdown(shutdown)
                .await
            {
                eprintln!("feedfarm: {e}");
            }
        }
    }
    let (user, sys) = cpu_seconds();
    eprintln!("feedfarm: {user:.2} s user, {sys:.2} s system CPU");
}
