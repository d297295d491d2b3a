//! A feed server for tests, in the test process, on 127.0.0.1 and an ephemeral port. Routes
//! can be changed while it runs (a feed gains items, starts failing, moves).
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub enum Route {
    /// A document served with ETag and Last-Modified, answering 304 to a matching
    /// conditional request.
    Doc { body: Vec<u8>, content_type: String },
    /// A bare status with extra headers (e.g. Retry-After, Location).
    Status {
        code: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

#[derive(Clone, Default)]
pub struct FeedServer {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    /// (path, status) of every request served.
    pub hits: Arc<Mutex<Vec<(String, u16)>>>,
    /// The path of every request, as it arrives (before a held path is answered).
    arrivals: Arc<Mutex<Vec<String>>>,
    /// When each request arrived, in order.
    pub arrival_times: Arc<Mutex<Vec<std::time::Instant>>>,
    /// Paths whose answers wait until `release`: a poll kept in flight for as long as a test
    /// needs, without timing.
    held: Arc<Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>>,
    pub addr: Option<SocketAddr>,
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(body).to_hex()[..16])
}

impl FeedServer {
    /// Start the server on a runtime of its own thread, so blocking tests can use it too.
    pub fn start() -> FeedServer {
        let mut server = FeedServer::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let state = server.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let state = state.clone();
                    async move {
                        state.arrive(req.uri().path()).await;
                        state.answer(req)
                    }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        server.addr = Some(rx.recv().unwrap());
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr.unwrap(), path)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn doc(&self, path: &str, body: impl Into<Vec<u8>>, content_type: &str) {
        self.set(
            path,
            Route::Doc {
                body: body.into(),
                content_type: content_type.into(),
            },
        );
    }

    pub fn status(&self, path: &str, code: u16, headers: &[(&str, &str)]) {
        self.set(
            path,
            Route::Status {
                code,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: Vec::new(),
            },
        );
    }

    /// Serve `body` at `path` as RSS without validators (no ETag, no Last-Modified): every
    /// poll downloads and reads it again.
    pub fn rss_without_validators(&self, path: &str, body: String) {
        self.set(
            path,
            Route::Status {
                code: 200,
                headers: vec![("content-type".into(), "application/rss+xml".into())],
                body: body.into_bytes(),
            },
        );
    }

    /// Requests for `path` are recorded on arrival and then wait, unanswered, until `release`.
    pub fn hold(&self, path: &str) {
        self.held
            .lock()
            .unwrap()
            .insert(path.to_string(), Arc::new(tokio::sync::Semaphore::new(0)));
    }

    /// Answer the requests waiting on a held path, and any later ones at once.
    pub fn release(&self, path: &str) {
        if let Some(gate) = self.held.lock().unwrap().remove(path) {
            gate.close();
        }
    }

    /// How many requests for `path` have arrived, answered or not.
    pub fn arrived(&self, path: &str) -> usize {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    async fn arrive(&self, path: &str) {
        self.arrivals.lock().unwrap().push(path.to_string());
        self.arrival_times
            .lock()
            .unwrap()
            .push(std::time::Instant::now());
        let gate = self.held.lock().unwrap().get(path).cloned();
        if let Some(gate) = gate {
            // Closed by `release`: the error is the signal to answer.
            let _ = gate.acquire().await;
        }
    }

    pub fn hits_for(&self, path: &str) -> Vec<u16> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    }

    fn answer(&self, req: Request<Body>) -> Response<Body> {
        let path = req.uri().path().to_string();
        let route = self.routes.lock().unwrap().get(&path).cloned();
        let resp = match route {
            None => plain(
                StatusCode::NOT_FOUND,
                HeaderMap::new(),
                b"not found".to_vec(),
            ),
            Some(Route::Doc { body, content_type }) => {
                let etag = etag_of(&body);
                let matches = req
                    .headers()
                    .get("if-none-match")
                    .and_then(|v| v.to_str().ok())
                    == Some(etag.as_str());
                let mut headers = HeaderMap::new();
                headers.insert("etag", etag.parse().unwrap());
                headers.insert(
                    "last-modified",
                    "Wed, 18 Feb 2026 07:00:00 GMT".parse().unwrap(),
                );
                if matches {
                    plain(StatusCode::NOT_MODIFIED, headers, Vec::new())
                } else {
                    headers.insert("content-type", content_type.parse().unwrap());
                    plain(StatusCode::OK, headers, body)
                }
            }
            Some(Route::Status {
                code,
                headers: extra,
                body,
            }) => {
                let mut headers = HeaderMap::new();
                for (k, v) in extra {
                    headers.insert(
                        axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        v.parse().unwrap(),
                    );
                }
                plain(StatusCode::from_u16(code).unwrap(), headers, body)
            }
        };
        self.hits
            .lock()
            .unwrap()
            .push((path, resp.status().as_u16()));
        resp
    }
}

fn plain(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}
