//! `Fetcher` against a small HTTP/1.1 server this test starts on 127.0.0.1 (port 0). The server
//! is written here on plain tokio so it can misbehave on purpose: truncate, drip, bomb, loop.
//! Nothing else is contacted.
//!
//! Every test runs on tokio's paused clock: the fetcher's deadlines, the per-host gap and the
//! server's drip are virtual time, which moves only when the runtime has nothing to do, so a
//! busy machine cannot make a fetch time out or a gap look short.

use flate2::{write::GzEncoder, Compression};
use newsdesk::fetch::{FetchConfig, FetchErrorKind, FetchRequest, Fetcher};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use url::Url;

const RSS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Test desk</title>\
<item><guid>t1</guid><title>First story</title><link>/s/1</link></item>\
<item><guid>t2</guid><title>Second story</title><link>/s/2</link></item></channel></rss>";

struct Req {
    path: String,
    headers: Vec<(String, String)>,
    at: Instant,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Reply {
    Full {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Announces `declared` bytes, sends `body`, closes.
    Truncated { declared: usize, body: Vec<u8> },
    /// Sends a byte every 50 ms, for at most 10 s.
    Drip,
}

fn ok(body: &[u8]) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type", "application/rss+xml".into())],
        body: body.to_vec(),
    }
}

fn status(code: u16, headers: Vec<(&'static str, String)>) -> Reply {
    Reply::Full {
        status: code,
        headers,
        body: Vec::new(),
    }
}

fn redirect(code: u16, to: &str) -> Reply {
    status(code, vec![("Location", to.to_string())])
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// 8 MiB of zeros in about 8 KiB: far over the 1 MiB cap the tests set, only once decompressed.
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| gzip(&vec![0u8; 8 * 1024 * 1024]))
}

fn route(req: &Req) -> Reply {
    let p = req.path.as_str();
    match p {
        "/feed" if req.header("if-none-match") == Some("\"v1\"") => {
            status(304, vec![("ETag", "\"v1\"".into())])
        }
        "/feed" => Reply::Full {
            status: 200,
            headers: vec![
                ("Content-Type", "application/rss+xml; charset=utf-8".into()),
                ("ETag", "\"v1\"".into()),
                ("Cache-Control", "public, max-age=900".into()),
            ],
            body: RSS.as_bytes().to_vec(),
        },
        "/lm" if req.header("if-modified-since") == Some("Tue, 17 Feb 2026 10:00:00 GMT") => {
            status(304, vec![])
        }
        "/lm" => Reply::Full {
            status: 200,
            headers: vec![("Last-Modified", "Tue, 17 Feb 2026 10:00:00 GMT".into())],
            body: RSS.as_bytes().to_vec(),
        },
        "/gzip" => Reply::Full {
            status: 200,
            headers: vec![
                ("Content-Encoding", "gzip".into()),
                ("Content-Type", "text/xml".into()),
            ],
            body: gzip(RSS.as_bytes()),
        },
        "/bomb" => Reply::Full {
            status: 200,
            headers: vec![("Content-Encoding", "gzip".into())],
            body: bomb().to_vec(),
        },
        "/big" => ok(&vec![b' '; 2 * 1024 * 1024]),
        "/truncated" => Reply::Truncated {
            declared: RSS.len(),
            body: RSS.as_bytes()[..40].to_vec(),
        },
        "/slow" => Reply::Drip,
        "/500" => status(500, vec![]),
        "/gone" => status(410, vec![]),
        "/busy" => status(429, vec![("Retry-After", "120".into())]),
        "/unavailable" => status(
            503,
            vec![("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT".into())],
        ),
        "/moved" => redirect(301, "/feed"),
        "/moved-twice" => redirect(308, "/moved"),
        "/temp" => redirect(302, "/feed"),
        "/temp-then-moved" => redirect(307, "/moved"),
        "/loop-a" => redirect(302, "/loop-b"),
        "/loop-b" => redirect(302, "/loop-a"),
        "/no-location" => status(301, vec![]),
        _ => {
            // /chainK/N: redirects until N reaches K, then serves the feed (K redirects in all).
            if let Some(rest) = p.strip_prefix("/chain") {
                let (k, n) = rest.split_once('/').unwrap();
                let (k, n): (u32, u32) = (k.parse().unwrap(), n.parse().unwrap());
                return if n < k {
                    redirect(302, &format!("/chain{k}/{}", n + 1))
                } else {
                    ok(RSS.as_bytes())
                };
            }
            status(404, vec![])
        }
    }
}

struct Server {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let log = log2.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, log).await;
                });
            }
        });
        Server { addr, log }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    fn hits(&self, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    fn times(&self, path: &str) -> Vec<Instant> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.at)
            .collect()
    }
}

async fn serve(mut sock: TcpStream, log: Arc<Mutex<Vec<Req>>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .unwrap_or("")
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let req = Req {
        path,
        headers,
        at: Instant::now(),
    };
    let reply = route(&req);
    log.lock().unwrap().push(req);
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&body).await?;
        }
        Reply::Truncated { declared, body } => {
            let out = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
            );
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&body).await?;
        }
        Reply::Drip => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n<rss>",
            )
            .await?;
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                sock.write_all(b" ").await?;
            }
        }
    }
    sock.shutdown().await
}

fn test_config() -> FetchConfig {
    FetchConfig {
        allow_private_addresses: true,
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        max_body_bytes: 1024 * 1024,
        per_host_min_gap: Duration::ZERO,
        per_host_concurrency: 8,
        ..FetchConfig::default()
    }
}

fn get(url: Url) -> FetchRequest {
    FetchRequest {
        url,
        etag: None,
        last_modified: None,
    }
}

#[tokio::test(start_paused = true)]
async fn etag_then_304_and_last_modified() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let first = f.fetch(&get(srv.url("/feed"))).await.unwrap();
    assert_eq!(first.status, 200);
    assert!(!first.not_modified);
    assert_eq!(first.body, RSS.as_bytes());
    assert_eq!(first.bytes, RSS.len() as u64);
    assert_eq!(first.etag.as_deref(), Some("\"v1\""));
    assert_eq!(first.max_age, Some(Duration::from_secs(900)));
    assert_eq!(
        first.content_type.as_deref(),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(first.permanent_redirect, None);

    let again = FetchRequest {
        etag: first.etag.clone(),
        ..get(srv.url("/feed"))
    };
    let second = f.fetch(&again).await.unwrap();
    assert!(second.not_modified);
    assert_eq!((second.status, second.bytes), (304, 0));
    assert!(second.body.is_empty());

    let lm = f.fetch(&get(srv.url("/lm"))).await.unwrap();
    assert_eq!(
        lm.last_modified.as_deref(),
        Some("Tue, 17 Feb 2026 10:00:00 GMT")
    );
    let again = FetchRequest {
        last_modified: lm.last_modified.clone(),
        ..get(srv.url("/lm"))
    };
    assert!(f.fetch(&again).await.unwrap().not_modified);
    // The User-Agent is the configured one.
    let log = srv.log.lock().unwrap();
    assert!(log
        .iter()
        .all(|r| r.header("user-agent") == Some(test_config().user_agent.as_str())));
}

#[tokio::test(start_paused = true)]
async fn gzip_body_is_decompressed_and_parses() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let resp = f.fetch(&get(srv.url("/gzip"))).await.unwrap();
    assert_eq!(resp.body, RSS.as_bytes());
    let feed = newsdesk::parse::parse_feed(
        &resp.body,
        resp.content_type.as_deref(),
        &resp.final_url,
        100,
    )
    .unwrap();
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.items[0].url.as_deref(), Some(srv.url("/s/1").as_str()));
}

#[tokio::test(start_paused = true)]
async fn oversized_bodies_are_refused() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let err = f.fetch(&get(srv.url("/bomb"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::TooLarge, "{err}");
    assert!(
        bomb().len() < 64 * 1024,
        "the bomb itself is small: {}",
        bomb().len()
    );
    let err = f.fetch(&get(srv.url("/big"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::TooLarge, "{err}");
}

#[tokio::test(start_paused = true)]
async fn truncated_and_endless_bodies_fail() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let err = f.fetch(&get(srv.url("/truncated"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::Body, "{err}");
    let started = Instant::now();
    let err = f.fetch(&get(srv.url("/slow"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::Timeout, "{err}");
    // The deadline is for the whole fetch: a body still dripping fails at the 2 s timeout
    // (virtual time; the drip's 50 ms steps are the only other timers).
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2050),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn error_statuses_gone_and_retry_after() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let err = f.fetch(&get(srv.url("/500"))).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.retry_after()),
        (FetchErrorKind::HttpStatus, Some(500), None)
    );
    let err = f.fetch(&get(srv.url("/gone"))).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (FetchErrorKind::Gone, Some(410))
    );
    let err = f.fetch(&get(srv.url("/busy"))).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    let err = f.fetch(&get(srv.url("/unavailable"))).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(
        err.retry_after().unwrap() > Duration::from_secs(365 * 86_400),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&srv.url("/unavailable").to_string()),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_and_temporary_redirects() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let r = f.fetch(&get(srv.url("/moved"))).await.unwrap();
    assert_eq!(r.final_url, srv.url("/feed"));
    assert_eq!(r.permanent_redirect, Some(srv.url("/feed")));
    let r = f.fetch(&get(srv.url("/moved-twice"))).await.unwrap();
    assert_eq!(r.permanent_redirect, Some(srv.url("/feed")));
    let r = f.fetch(&get(srv.url("/temp"))).await.unwrap();
    assert_eq!(
        (r.final_url, r.permanent_redirect),
        (srv.url("/feed"), None)
    );
    // A temporary hop anywhere in the chain means the stored URL must not change.
    let r = f.fetch(&get(srv.url("/temp-then-moved"))).await.unwrap();
    assert_eq!(r.permanent_redirect, None);
}

#[tokio::test(start_paused = true)]
async fn redirect_loops_and_long_chains_are_errors() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let err = f.fetch(&get(srv.url("/loop-a"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::Redirect, "{err}");
    assert!(err.to_string().contains("loop"), "{err}");
    assert!(
        f.fetch(&get(srv.url("/chain5/0"))).await.is_ok(),
        "5 redirects are allowed"
    );
    let err = f.fetch(&get(srv.url("/chain6/0"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::Redirect, "{err}");
    assert_eq!(
        srv.hits("/chain6/6"),
        0,
        "the sixth redirect is not followed"
    );
    let err = f.fetch(&get(srv.url("/no-location"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::Redirect, "{err}");
}

#[tokio::test(start_paused = true)]
async fn private_addresses_are_refused_unless_allowed() {
    let srv = Server::start().await;
    let strict = Fetcher::new(&FetchConfig {
        allow_private_addresses: false,
        ..test_config()
    })
    .unwrap();
    let err = strict.fetch(&get(srv.url("/feed"))).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::RefusedAddress, "{err}");
    // By name: refused after DNS, before connecting.
    let by_name = Url::parse(&format!("http://localhost:{}/feed", srv.addr.port())).unwrap();
    let err = strict.fetch(&get(by_name.clone())).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::RefusedAddress, "{err}");
    assert_eq!(srv.hits("/feed"), 0, "the server was never contacted");
    let lenient = Fetcher::new(&test_config()).unwrap();
    assert!(lenient.fetch(&get(by_name)).await.is_ok());
    let err = strict
        .fetch(&get(Url::parse("ftp://example.test/feed").unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::InvalidUrl);
}

#[tokio::test(start_paused = true)]
async fn bad_feeds_do_not_affect_good_ones_in_the_same_pass() {
    let srv = Server::start().await;
    let f = Fetcher::new(&test_config()).unwrap();
    let paths = [
        "/feed",
        "/bomb",
        "/gzip",
        "/500",
        "/slow",
        "/loop-a",
        "/truncated",
        "/lm",
    ];
    let tasks: Vec<_> = paths
        .iter()
        .map(|p| {
            let f = f.clone();
            let req = get(srv.url(p));
            tokio::spawn(async move { f.fetch(&req).await.map(|r| r.body.len()) })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let oks: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert_eq!(oks, [true, false, true, false, false, false, false, true]);
    assert_eq!(results[0].as_ref().unwrap(), &RSS.len());
}

#[tokio::test(start_paused = true)]
async fn requests_to_one_host_keep_the_minimum_gap() {
    let srv = Server::start().await;
    let gap = Duration::from_millis(300);
    let f = Fetcher::new(&FetchConfig {
        per_host_min_gap: gap,
        ..test_config()
    })
    .unwrap();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let f = f.clone();
            let req = get(srv.url("/feed"));
            tokio::spawn(async move { f.fetch(&req).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    let mut times = srv.times("/feed");
    times.sort();
    assert_eq!(times.len(), 3);
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= gap, "{:?}", w[1] - w[0]);
    }
}

#[tokio::test(start_paused = true)]
async fn time_queued_behind_the_host_gap_does_not_count_as_timeout() {
    let srv = Server::start().await;
    let f = Fetcher::new(&FetchConfig {
        per_host_min_gap: Duration::from_millis(700),
        timeout: Duration::from_millis(500),
        ..test_config()
    })
    .unwrap();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let f = f.clone();
            let req = get(srv.url("/feed"));
            tokio::spawn(async move { f.fetch(&req).await.map(|r| r.status) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
}

/// Every hop of a redirect waits for its own turn at the host; that wait is not request time.
/// Before, the deadline ran from the first hop, so a redirect behind other feeds of one host
/// timed out while it was only queued (issue 20, item 3).
#[tokio::test]
async fn redirect_hops_queued_behind_the_host_gap_do_not_time_out() {
    let srv = Server::start().await;
    let f = Fetcher::new(&FetchConfig {
        per_host_min_gap: Duration::from_millis(700),
        timeout: Duration::from_millis(500),
        ..test_config()
    })
    .unwrap();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let f = f.clone();
            let req = get(srv.url("/moved"));
            tokio::spawn(async move { f.fetch_timed(&req).await })
        })
        .collect();
    let mut queued = Vec::new();
    for t in tasks {
        let timed = t.await.unwrap();
        let resp = timed.result.unwrap();
        assert_eq!((resp.status, resp.moved_status), (200, Some(301)));
        queued.push(timed.queued);
    }
    // Six requests 700 ms apart: the last hop waited at least four gaps, and said so.
    queued.sort();
    assert!(queued[2] >= Duration::from_millis(4 * 700), "{queued:?}");
    assert_eq!(srv.hits("/feed"), 3);
}

/// A listener on 127.0.0.1 whose accept queue is full: the kernel drops further SYNs, so a
/// connection attempt hangs until the client gives up. The connections that fill it are
/// returned to be kept open.
async fn unanswering_listener() -> (tokio::net::TcpListener, Vec<TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => held.push(s),
            _ => return (listener, held),
        }
    }
    panic!("the accept queue of {addr} never filled");
}

/// A connect timeout says it was the connect timeout, and which: before, it reported the
/// whole-request timeout ("timed out after 30s" when it gave up after 10 s).
#[tokio::test]
async fn a_connect_timeout_reports_the_connect_timeout() {
    let (listener, _held) = unanswering_listener().await;
    let f = Fetcher::new(&FetchConfig {
        connect_timeout: Duration::from_millis(1500),
        timeout: Duration::from_secs(20),
        ..test_config()
    })
    .unwrap();
    let url = Url::parse(&format!("http://{}/feed", listener.local_addr().unwrap())).unwrap();
    let err = f.fetch(&get(url)).await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::Timeout, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("connect timeout of 1.5s") && !text.contains("20s"),
        "{text}"
    );
}
