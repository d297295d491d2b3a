use super::*;
use crate::service::events::{FeedLog, PollDone, PollOutcome};

#[derive(Debug, Deserialize)]
struct Wrapper {
    http: HttpConfig,
}

fn parse(text: &str) -> Result<HttpConfig, String> {
    toml::from_str::<Wrapper>(text)
        .map(|w| w.http)
        .map_err(|e| e.to_string())
}

#[test]
fn loopback_listen_parses_with_defaults() {
    let c = parse("[http]\nlisten = \"127.0.0.1:9464\"\n").unwrap();
    assert_eq!(c.listen, "127.0.0.1:9464".parse().unwrap());
    assert!(!c.allow_remote);
    assert_eq!(c.stuck_after, Duration::from_secs(120));
    let c = parse("[http]\nlisten = \"[::1]:9464\"\nstuck_after = \"30s\"\n").unwrap();
    assert_eq!(c.stuck_after, Duration::from_secs(30));
}

#[test]
fn remote_listen_needs_allow_remote() {
    let err = parse("[http]\nlisten = \"0.0.0.0:9464\"\n").unwrap_err();
    assert!(
        err.contains("0.0.0.0:9464") && err.contains("allow_remote"),
        "{err}"
    );
    let c = parse("[http]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n").unwrap();
    assert!(c.allow_remote);
}

#[test]
fn bad_keys_and_values_are_rejected_with_their_line() {
    let err = parse("[http]\nlisten = \"127.0.0.1:9464\"\nport = 3\n").unwrap_err();
    assert!(err.contains("port") && err.contains("line 3"), "{err}");
    let err = parse("[http]\nlisten = \"localhost\"\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    assert!(parse("[http]\nlisten = \"127.0.0.1:1\"\nstuck_after = \"0s\"\n").is_err());
}

struct Running {
    base: String,
    token: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), HttpError>>,
}

async fn start(health: Arc<Health>, handle: PrometheusHandle, stuck_after: Duration) -> Running {
    let cfg = HttpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        allow_remote: false,
        stuck_after,
    };
    let listener = bind(&cfg).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token = CancellationToken::new();
    let task = tokio::spawn(serve(listener, cfg, health, handle, token.clone()));
    Running { base, token, task }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn healthz_and_metrics_answer_and_shutdown_stops_the_server() {
    let recorder = crate::service::metrics::recorder().unwrap();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let mut log = FeedLog::new();
        for url in ["http://a.test/", "http://b.test/"] {
            PollDone {
                feed_url: url,
                status: Some(200),
                outcome: PollOutcome::Ok,
                items: 2,
                new: 2,
                duplicates: 0,
                revised: 0,
                bytes: 100,
                duration: Duration::from_millis(5),
            }
            .emit(&mut log);
        }
    });
    let health = Arc::new(Health::new());
    health.poll_succeeded();
    let srv = start(health.clone(), handle, Duration::from_secs(60)).await;
    let http = client();

    let r = http
        .get(format!("{}/healthz", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["up"], true);
    assert_eq!(body["writer_queue_depth"], 0);
    // The poll succeeded after the daemon started: its age is within the uptime.
    let age = body["last_successful_poll_age_secs"].as_f64().unwrap();
    assert!(
        (0.0..=body["uptime_secs"].as_f64().unwrap()).contains(&age),
        "{body}"
    );

    let r = http
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l == "newsdesk_polls_total{outcome=\"ok\"} 2"),
        "{text}"
    );

    let r = http
        .get(format!("{}/nothing", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    srv.token.cancel();
    tokio::time::timeout(Duration::from_secs(5), srv.task)
        .await
        .expect("server stops on shutdown")
        .unwrap()
        .unwrap();
    assert!(http
        .get(format!("{}/healthz", srv.base))
        .send()
        .await
        .is_err());
}

async fn healthz(http: &reqwest::Client, srv: &Running) -> (u16, serde_json::Value) {
    let r = http
        .get(format!("{}/healthz", srv.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

/// The problems named are exactly those the reported ages show, and `up` says whether there
/// are any. Checked this way, not against a wall-clock budget, because on a loaded machine the
/// scheduler tick may honestly be older than `stuck_after` by the time the request is judged.
fn problems_match_ages(body: &serde_json::Value, stuck_after: Duration) {
    let limit = stuck_after.as_secs_f64();
    let scheduler_stuck = body["scheduler_tick_age_secs"].as_f64().unwrap() > limit;
    let writer_stuck = body["writer_queue_depth"].as_u64().unwrap() > 0
        && body["writer_idle_secs"].as_f64().unwrap() > limit;
    let problems: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let names = |what: &str| problems.iter().any(|p| p.contains(what));
    assert_eq!(names("scheduler"), scheduler_stuck, "{body}");
    assert_eq!(names("writer"), writer_stuck, "{body}");
    assert_eq!(
        problems.len(),
        usize::from(scheduler_stuck) + usize::from(writer_stuck),
        "{body}"
    );
    assert_eq!(body["up"], problems.is_empty(), "{body}");
}

#[tokio::test]
async fn healthz_is_503_when_the_writer_is_stuck() {
    let handle = crate::service::metrics::recorder().unwrap().handle();
    let health = Arc::new(Health::new());
    let stuck_after = Duration::from_millis(200);
    let srv = start(health.clone(), handle, stuck_after).await;
    let http = client();
    health.set_writer_queue_depth(4);
    // A sleep never ends early: the writer has then waited longer than stuck_after, however
    // loaded the machine is.
    tokio::time::sleep(stuck_after * 2).await;
    health.scheduler_tick();
    let (status, body) = healthz(&http, &srv).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["writer_queue_depth"], 4);
    problems_match_ages(&body, stuck_after);
    let problems = body["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("writer has 4 jobs"))),
        "{body}"
    );

    // The writer catches up: its problem is gone (and with a fresh scheduler tick, it is 200).
    health.writer_progressed();
    health.set_writer_queue_depth(0);
    health.scheduler_tick();
    let (status, body) = healthz(&http, &srv).await;
    problems_match_ages(&body, stuck_after);
    assert_eq!(body["writer_queue_depth"], 0);
    assert_eq!(status == 200, body["up"] == true, "{body}");
    srv.token.cancel();
}

#[tokio::test]
async fn a_taken_port_is_a_bind_error_naming_the_address() {
    let first = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = HttpConfig {
        listen: first.local_addr().unwrap(),
        allow_remote: false,
        stuck_after: Duration::from_secs(60),
    };
    let err = bind(&cfg).await.unwrap_err().to_string();
    assert!(err.contains(&cfg.listen.to_string()), "{err}");
}
