//! HTTP for feeds (SPEC section 3): one shared client, conditional GET, bounded bodies, polite
//! limits, redirects handled by hand so permanent moves can be reported, and errors sorted into
//! kinds for counting. `Fetcher` is cheap to clone; every clone shares the client and the limits.
//!
//! Parsing is not done here (see `parse`): a fetch returns bytes and the response facts the
//! scheduler and the feed table need (validators, permanent redirect, max-age, Retry-After).

mod config;
mod guard;
mod limits;
mod resolve;

pub use limits::SharedHosts;

pub use config::FetchConfig;
pub use guard::is_forbidden;

use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};
use url::Url;

/// A fetch's result and the time it spent queued behind the politeness limits, every hop.
#[derive(Debug)]
pub struct Timed {
    pub result: Result<FetchResponse, FetchError>,
    pub queued: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    pub url: Url,
    /// Validators from the previous successful fetch of this feed.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchResponse {
    /// 200-299, or 304 (`not_modified`).
    pub status: u16,
    /// Where the body came from, after redirects.
    pub final_url: Url,
    /// Set when every hop to `final_url` was a 301/308: the feed's new stored URL.
    pub permanent_redirect: Option<Url>,
    /// The status of the first hop of a permanent move (301 or 308), for the URL history.
    pub moved_status: Option<u16>,
    pub not_modified: bool,
    /// Decompressed body; empty on 304.
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Retry-After`, when a successful response carries one.
    pub retry_after: Option<Duration>,
    /// Decompressed body size.
    pub bytes: u64,
}

/// What went wrong, in the kinds the feed table and metrics count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchErrorKind {
    InvalidUrl,
    Dns,
    Connect,
    Tls,
    Timeout,
    HttpStatus,
    Gone,
    TooLarge,
    Redirect,
    RefusedAddress,
    Body,
}

impl FetchErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchErrorKind::InvalidUrl => "invalid_url",
            FetchErrorKind::Dns => "dns",
            FetchErrorKind::Connect => "connect",
            FetchErrorKind::Tls => "tls",
            FetchErrorKind::Timeout => "timeout",
            FetchErrorKind::HttpStatus => "http_status",
            FetchErrorKind::Gone => "gone",
            FetchErrorKind::TooLarge => "too_large",
            FetchErrorKind::Redirect => "redirect",
            FetchErrorKind::RefusedAddress => "refused_address",
            FetchErrorKind::Body => "body",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{url}: DNS lookup failed: {detail}")]
    Dns { url: Url, detail: String },
    #[error("{url}: connection failed: {detail}")]
    Connect { url: Url, detail: String },
    #[error("{url}: TLS failed: {detail}")]
    Tls { url: Url, detail: String },
    #[error("{url}: timed out after {after:?}")]
    Timeout { url: Url, after: Duration },
    /// No connection within `connect_timeout`: a host that is down or drops packets.
    #[error("{url}: no connection within the connect timeout of {after:?}")]
    ConnectTimeout { url: Url, after: Duration },
    #[error("{url}: HTTP {status}")]
    Status {
        url: Url,
        status: u16,
        retry_after: Option<Duration>,
    },
    /// 410: the publisher says the feed is gone for good.
    #[error("{url}: HTTP 410 Gone")]
    Gone { url: Url },
    #[error("{url}: body larger than {limit} bytes")]
    TooLarge { url: Url, limit: u64 },
    #[error("{url}: {detail}")]
    Redirect { url: Url, detail: String },
    #[error("{url}: refused address: {detail} (set `[fetch] allow_private_addresses = true` to poll it)")]
    RefusedAddress { url: Url, detail: String },
    #[error("{url}: reading the body failed: {detail}")]
    Body { url: Url, detail: String },
    #[error("building the HTTP client failed: {0}")]
    Client(String),
    /// A `[fetch] extra_root_certificates` file that cannot be read or holds no certificate.
    #[error("[fetch] extra_root_certificates: {path}: {detail}")]
    RootCertificate { path: String, detail: String },
}

impl FetchError {
    /// The error as stored and logged for the feed at `feed_url`: the cause alone when it
    /// concerns that URL (the feed is named beside it), with the URL when it concerns another
    /// (a redirect's target).
    pub fn text_for(&self, feed_url: &str) -> String {
        let text = self.to_string();
        match text
            .strip_prefix(feed_url)
            .and_then(|t| t.strip_prefix(": "))
        {
            Some(cause) => cause.to_string(),
            None => text,
        }
    }

    pub fn kind(&self) -> FetchErrorKind {
        match self {
            FetchError::InvalidUrl { .. }
            | FetchError::Client(_)
            | FetchError::RootCertificate { .. } => FetchErrorKind::InvalidUrl,
            FetchError::Dns { .. } => FetchErrorKind::Dns,
            FetchError::Connect { .. } => FetchErrorKind::Connect,
            FetchError::Tls { .. } => FetchErrorKind::Tls,
            FetchError::Timeout { .. } | FetchError::ConnectTimeout { .. } => {
                FetchErrorKind::Timeout
            }
            FetchError::Status { .. } => FetchErrorKind::HttpStatus,
            FetchError::Gone { .. } => FetchErrorKind::Gone,
            FetchError::TooLarge { .. } => FetchErrorKind::TooLarge,
            FetchError::Redirect { .. } => FetchErrorKind::Redirect,
            FetchError::RefusedAddress { .. } => FetchErrorKind::RefusedAddress,
            FetchError::Body { .. } => FetchErrorKind::Body,
        }
    }

    /// The server's `Retry-After` on a 429/503 (or any error status that sent one).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            FetchError::Gone { .. } => Some(410),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: limits::Limits,
    cfg: Arc<FetchConfig>,
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Self, FetchError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect on our behalf and bypass the address check.
            .no_proxy();
        let overrides = resolve::Overrides::parse(&cfg.resolve)
            .map_err(|e| FetchError::Client(e.to_string()))?;
        if !cfg.allow_private_addresses || !overrides.is_empty() {
            builder = builder.dns_resolver(Arc::new(resolve::Resolver {
                overrides,
                guard: !cfg.allow_private_addresses,
            }));
        }
        let extra = root_certificates(&cfg.extra_root_certificates)?;
        if !extra.is_empty() {
            builder = builder.tls_certs_merge(extra);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher {
            client,
            limits: limits::Limits::new(
                cfg.concurrency,
                cfg.per_host_concurrency,
                cfg.per_host_min_gap,
            ),
            cfg: Arc::new(cfg.clone()),
        })
    }

    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// Hold the per-host limits across every process sharing `shared` as well.
    pub fn with_shared_hosts(mut self, shared: Arc<dyn SharedHosts>) -> Self {
        self.limits = self.limits.with_shared(shared);
        self
    }

    /// Fetch one feed URL, following up to `max_redirects` redirects.
    pub async fn fetch(&self, req: &FetchRequest) -> Result<FetchResponse, FetchError> {
        self.fetch_timed(req).await.result
    }

    /// [`Fetcher::fetch`], also telling how long the fetch waited queued behind the politeness
    /// limits, for `fetches.queue_ms`.
    pub async fn fetch_timed(&self, req: &FetchRequest) -> Timed {
        let mut queued = Duration::ZERO;
        let result = self.follow(req, &mut queued).await;
        Timed { result, queued }
    }

    /// `timeout` is a budget of request time shared by every hop: time spent queued for a
    /// per-host slot or the gap (a host with many feeds, or the next hop of a redirect) is not
    /// the server's fault and is not taken from it, but added to `queued`.
    async fn follow(
        &self,
        req: &FetchRequest,
        queued: &mut Duration,
    ) -> Result<FetchResponse, FetchError> {
        let mut url = req.url.clone();
        let mut seen = HashSet::from([url.to_string()]);
        let mut moved_status = None;
        let mut all_permanent = true;
        let mut hops = 0;
        let mut budget = self.cfg.timeout;
        let timed_out = || FetchError::Timeout {
            url: req.url.clone(),
            after: self.cfg.timeout,
        };
        loop {
            let host = self.check_url(&url)?;
            let waiting = Instant::now();
            let _permit = self.limits.acquire(&host).await;
            let started = Instant::now();
            *queued += started - waiting;
            let deadline = started + budget;
            let resp = timeout_at(deadline, self.request(req, &url).send())
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| classify(&url, &e, &self.cfg))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = redirect_target(&url, &headers)?;
                hops += 1;
                if !seen.insert(next.to_string()) {
                    return Err(FetchError::Redirect {
                        url: req.url.clone(),
                        detail: format!("redirect loop at {next}"),
                    });
                }
                if hops > self.cfg.max_redirects {
                    return Err(FetchError::Redirect {
                        url: req.url.clone(),
                        detail: format!("more than {} redirects", self.cfg.max_redirects),
                    });
                }
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                moved_status.get_or_insert(status.as_u16());
                budget = budget.saturating_sub(started.elapsed());
                url = next;
                continue;
            }
            let moved =
                (hops > 0 && all_permanent).then(|| (url.clone(), moved_status.unwrap_or(301)));
            if status == StatusCode::NOT_MODIFIED {
                return Ok(response(url, moved, status, &headers, Vec::new()));
            }
            if status == StatusCode::GONE {
                return Err(FetchError::Gone { url });
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    url,
                    status: status.as_u16(),
                    retry_after: retry_after(&headers),
                });
            }
            let body = timeout_at(deadline, self.read_body(&url, resp))
                .await
                .map_err(|_| timed_out())??;
            return Ok(response(url, moved, status, &headers, body));
        }
    }

    /// One conditional GET, without following redirects.
    fn request(&self, req: &FetchRequest, url: &Url) -> reqwest::RequestBuilder {
        let mut rb = self.client.get(url.clone()).header(
            header::ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        );
        if let Some(etag) = &req.etag {
            rb = rb.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &req.last_modified {
            rb = rb.header(header::IF_MODIFIED_SINCE, lm);
        }
        rb
    }

    /// Scheme and host checks that need no network; IP literals are checked here because they
    /// never reach the resolver.
    fn check_url(&self, url: &Url) -> Result<String, FetchError> {
        let invalid = |reason: &str| FetchError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("only http and https URLs can be fetched"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => self.check_ip(url, ip.into())?,
            Some(url::Host::Ipv6(ip)) => self.check_ip(url, ip.into())?,
            None => return Err(invalid("no host")),
        };
        Ok(host)
    }

    fn check_ip(&self, url: &Url, ip: std::net::IpAddr) -> Result<String, FetchError> {
        if !self.cfg.allow_private_addresses && is_forbidden(ip) {
            return Err(FetchError::RefusedAddress {
                url: url.clone(),
                detail: format!("{ip} is not a public address"),
            });
        }
        Ok(ip.to_string())
    }

    /// Read the (decompressed) body, stopping as soon as it passes the cap.
    async fn read_body(
        &self,
        url: &Url,
        mut resp: reqwest::Response,
    ) -> Result<Vec<u8>, FetchError> {
        let limit = self.cfg.max_body_bytes;
        let too_large = || FetchError::TooLarge {
            url: url.clone(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| classify(url, &e, &self.cfg))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Every certificate in the given PEM files, each file required to hold at least one.
fn root_certificates(
    paths: &[std::path::PathBuf],
) -> Result<Vec<reqwest::Certificate>, FetchError> {
    let mut all = Vec::new();
    for path in paths {
        let bad = |detail: String| FetchError::RootCertificate {
            path: path.display().to_string(),
            detail,
        };
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "no certificate in it (expected PEM blocks starting with -----BEGIN CERTIFICATE-----)"
                    .into(),
            ));
        }
        all.extend(certs);
    }
    Ok(all)
}

fn response(
    final_url: Url,
    moved: Option<(Url, u16)>,
    status: StatusCode,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> FetchResponse {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    FetchResponse {
        status: status.as_u16(),
        final_url,
        permanent_redirect: moved.as_ref().map(|m| m.0.clone()),
        moved_status: moved.map(|m| m.1),
        not_modified: status == StatusCode::NOT_MODIFIED,
        bytes: body.len() as u64,
        body,
        content_type: text(header::CONTENT_TYPE),
        etag: text(header::ETAG),
        last_modified: text(header::LAST_MODIFIED),
        max_age: text(header::CACHE_CONTROL).as_deref().and_then(max_age),
        retry_after: retry_after(headers),
    }
}

fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| FetchError::Redirect {
            url: from.clone(),
            detail: "redirect without a Location header".into(),
        })?;
    from.join(location.trim())
        .map_err(|e| FetchError::Redirect {
            url: from.clone(),
            detail: format!("bad Location {location:?}: {e}"),
        })
}

/// `max-age=N` from a Cache-Control value (`s-maxage` is for shared caches, not us).
pub fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|d| {
        let (k, v) = d.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("max-age"))
            .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, std::time::SystemTime::now())
}

/// `Retry-After` as delay-seconds or an HTTP date (relative to `now`; a past date is zero).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate_parse(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn httpdate_parse(v: &str) -> Option<std::time::SystemTime> {
    let t = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Sort a reqwest error into a kind by what it and its causes say.
fn classify(url: &Url, e: &reqwest::Error, cfg: &FetchConfig) -> FetchError {
    let mut chain = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut refused = None;
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<guard::RefusedAddress>() {
            refused = Some(r.to_string());
        }
        // reqwest's and hyper's wrappers ("error sending request for url (URL)", "client
        // error (Connect)") repeat the URL and hide the cause: the causes under them say it.
        let text = s.to_string();
        let wrapper =
            text.starts_with("error sending request") || text.starts_with("client error (");
        if !wrapper || s.source().is_none() {
            if !chain.is_empty() {
                chain.push_str(": ");
            }
            chain.push_str(text.split(" for url (").next().unwrap_or(&text));
        }
        source = s.source();
    }
    let url = url.clone();
    let lower = chain.to_ascii_lowercase();
    if let Some(detail) = refused {
        FetchError::RefusedAddress { url, detail }
    } else if e.is_timeout() && e.is_connect() {
        FetchError::ConnectTimeout {
            url,
            after: cfg.connect_timeout,
        }
    } else if e.is_timeout() {
        FetchError::Timeout {
            url,
            after: cfg.timeout,
        }
    } else if lower.contains("dns error") || lower.contains("failed to lookup") {
        FetchError::Dns { url, detail: chain }
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        FetchError::Tls { url, detail: chain }
    } else if e.is_connect() {
        FetchError::Connect { url, detail: chain }
    } else {
        FetchError::Body { url, detail: chain }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cache_control_and_retry_after() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("s-maxage=60, no-cache"), None);
        assert_eq!(max_age("max-age=abc"), None);
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_771_322_400); // 2026-02-17 10:00:00 UTC
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 17 Feb 2026 10:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_retry_after("Tue, 17 Feb 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
