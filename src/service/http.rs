//! The optional HTTP listener: `GET /healthz` (JSON, 503 when the scheduler or the writer is
//! stuck) and `GET /metrics` (Prometheus text). It has no authentication, so it listens on a
//! loopback address unless the config says `allow_remote = true`.
//!
//! ```toml
//! [http]
//! listen = "127.0.0.1:9464"
//! stuck_after = "2m"    # optional; /healthz says 503 after this long without progress
//! ```

use super::health::Health;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The `[http]` config section. Present means "serve"; absent means no listener.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawHttpConfig")]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub allow_remote: bool,
    /// How long without progress before `/healthz` answers 503.
    pub stuck_after: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpConfig {
    listen: SocketAddr,
    #[serde(default)]
    allow_remote: bool,
    #[serde(
        default = "default_stuck_after",
        deserialize_with = "crate::config::duration"
    )]
    stuck_after: Duration,
}

/// Two minutes: far above the scheduler's tick and a healthy commit, well below the time an
/// operator would take to notice a dead ingest by other means.
fn default_stuck_after() -> Duration {
    Duration::from_secs(120)
}

impl TryFrom<RawHttpConfig> for HttpConfig {
    type Error = String;

    fn try_from(raw: RawHttpConfig) -> Result<Self, String> {
        if !raw.listen.ip().is_loopback() && !raw.allow_remote {
            return Err(format!(
                "listen = \"{}\" is not a loopback address; /healthz and /metrics have no \
                 authentication, so set `allow_remote = true` to listen there anyway",
                raw.listen
            ));
        }
        if raw.stuck_after.is_zero() {
            return Err("stuck_after must be more than zero".into());
        }
        Ok(HttpConfig {
            listen: raw.listen,
            allow_remote: raw.allow_remote,
            stuck_after: raw.stuck_after,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr} (config [http] listen): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP listener on {addr} failed: {source}")]
    Serve {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Bind the listener. Separate from `serve` so the daemon fails at startup (before READY=1)
/// when the port is taken, and so tests can bind port 0 and learn the address.
pub async fn bind(cfg: &HttpConfig) -> Result<tokio::net::TcpListener, HttpError> {
    tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| HttpError::Bind {
            addr: cfg.listen,
            source,
        })
}

struct Shared {
    health: Arc<Health>,
    metrics: PrometheusHandle,
    stuck_after: Duration,
}

/// How often histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Serve `/healthz` and `/metrics` until `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cfg: HttpConfig,
    health: Arc<Health>,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) -> Result<(), HttpError> {
    let addr = listener.local_addr().unwrap_or(cfg.listen);
    let upkeep = {
        let (handle, token) = (metrics.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = every.tick() => handle.run_upkeep(),
                }
            }
        })
    };
    let shared = Arc::new(Shared {
        health,
        metrics,
        stuck_after: cfg.stuck_after,
    });
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(shared);
    // The daemon logs the address once it is bound; saying it again here doubled the line.
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    upkeep.abort();
    served.map_err(|source| HttpError::Serve { addr, source })
}

async fn healthz(State(s): State<Arc<Shared>>) -> Response {
    let report = s.health.report(Instant::now(), s.stuck_after);
    let code = if report.up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&report).unwrap_or_else(|e| {
        // Serializing plain numbers and strings cannot fail; say so if it ever does.
        format!("{{\"up\":false,\"problems\":[\"cannot encode report: {e}\"]}}")
    });
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics_text(State(s): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// What a running daemon's `/healthz` says is wrong, for `newsdesk status`: None when nothing
/// answers at `[http] listen` (no daemon, or another config), else its problems (none when
/// healthy). The daemon alone knows some things, such as a store that refuses writes and so
/// cannot record it. Plain HTTP/1.0 over a short-lived connection: no client library needed.
pub fn daemon_problems(cfg: &HttpConfig) -> Option<Vec<String>> {
    use std::io::{Read, Write};
    let mut addr = cfg.listen;
    if addr.port() == 0 {
        return None;
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = Duration::from_secs(2);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    write!(stream, "GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.take(1 << 20).read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    let report: serde_json::Value = serde_json::from_str(body).ok()?;
    let problems = report.get("problems")?.as_array()?;
    Some(
        problems
            .iter()
            .filter_map(|p| p.as_str().map(String::from))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
