//! HTTPS feeds through the real binary: a CA and a leaf certificate made here, a TLS server on
//! 127.0.0.1 that answers for any `*.test` name, and newsdesk told to trust the CA
//! (`[fetch] extra_root_certificates`) and to find `*.test` on 127.0.0.1 (`[fetch] resolve`),
//! so no DNS is asked. Without the CA the feed fails with a TLS error and the poll goes on.

mod common;
use common::feed_server::FeedServer;
use common::Sandbox;
use std::sync::Arc;

struct TlsServer {
    port: u16,
    ca_pem: String,
    _runtime: tokio::runtime::Runtime,
}

fn rss(prefix: &str, n: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>TLS wire</title><link>https://news.test/</link>",
    );
    for i in 0..n {
        s.push_str(&format!(
            "<item><guid>{prefix}-{i}</guid><title>{prefix} report {i} on the summit talks</title>\
             <link>https://news.test/{prefix}/{i}</link><description>Report {i} from the {prefix} desk: \
             ministers met for the {i}th round, with enough words to be an article of its own.</description>\
             <pubDate>Wed, 18 Feb 2026 07:00:00 GMT</pubDate></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// A CA, a leaf for `*.test` signed by it, and an HTTPS server (HTTP/1.1 and HTTP/2 by ALPN)
/// serving `/feed.xml` with `items` items.
fn tls_server(items: usize) -> TlsServer {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "newsdesk test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["*.test".to_string(), "news.test".to_string()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone(), ca_cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = rss("tls", items);
    let app = axum::Router::new().route(
        "/feed.xml",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/rss+xml")], body) }
        }),
    );
    runtime.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                // A client that does not trust us ends the handshake; that is the test.
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    TlsServer {
        port,
        ca_pem: ca_cert.pem(),
        _runtime: runtime,
    }
}

fn config(server: &TlsServer, plain: &FeedServer, trust: bool) -> String {
    format!(
        "[fetch]\nallow_private_addresses = true\ntimeout = \"5s\"\nper_host_min_gap = \"0s\"\n{}\
         resolve = {{ \"*.test\" = \"127.0.0.1\" }}\n\n\
         [[feeds]]\nurl = \"https://news.test:{}/feed.xml\"\n\n[[feeds]]\nurl = \"{}\"\n",
        if trust {
            "extra_root_certificates = [\"certs/ca.pem\"]\n"
        } else {
            ""
        },
        server.port,
        plain.url("/plain.xml"),
    )
}

#[test]
fn an_https_feed_signed_by_an_extra_root_is_stored_and_fails_clearly_without_it() {
    let server = tls_server(7);
    let plain = FeedServer::start();
    plain.doc("/plain.xml", rss("plain", 3), "application/rss+xml");
    let feed = format!("https://news.test:{}/feed.xml", server.port);

    // Trusted: the CA file is found beside the config (a relative path), the name through the
    // override, and all seven items are stored beside the plain feed's three.
    let sb = Sandbox::with_config(&config(&server, &plain, true));
    std::fs::create_dir(sb.path("certs")).unwrap();
    std::fs::write(sb.path("certs/ca.pem"), &server.ca_pem).unwrap();
    let out = sb.run(&["--json", "poll", "--once", "--all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 0, "{report} {stderr}");
    let sighted = |sb: &Sandbox, url: &str| -> i64 {
        sb.sql()
            .query_row(
                "SELECT count(*) FROM sightings s JOIN feeds f ON f.id = s.feed_id WHERE f.url = ?1",
                [url],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(sighted(&sb, &feed), 7);
    assert_eq!(sighted(&sb, &plain.url("/plain.xml")), 3);

    // Not trusted: the HTTPS feed fails with a TLS error that names it; the other is stored.
    let sb = Sandbox::with_config(&config(&server, &plain, false));
    let out = sb.run(&["--json", "poll", "--once", "--all"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 1, "{report} {stderr}");
    assert_eq!(sighted(&sb, &feed), 0);
    assert_eq!(sighted(&sb, &plain.url("/plain.xml")), 3);
    let (kind, error): (String, String) = sb
        .sql()
        .query_row(
            "SELECT x.error_kind, f.last_error FROM feeds f JOIN fetches x ON x.feed_id = f.id WHERE f.url = ?1",
            [&feed],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "tls", "{error}");
    assert!(
        error.contains("certificate") && error.to_lowercase().contains("issuer"),
        "{error}"
    );
    assert!(
        stderr.contains(&feed) && stderr.contains("TLS"),
        "the log names the feed and the cause: {stderr}"
    );
}

#[test]
fn an_unreadable_or_empty_root_certificate_file_is_named() {
    let sb = Sandbox::with_config("[fetch]\nextra_root_certificates = [\"missing.pem\"]\n");
    let out = sb.run(&["check-config"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&sb.path("missing.pem").display().to_string())
            && stderr.contains("cannot read"),
        "{stderr}"
    );

    let sb = Sandbox::with_config("[fetch]\nextra_root_certificates = [\"junk.pem\"]\n");
    std::fs::write(sb.path("junk.pem"), "this is not a certificate\n").unwrap();
    let out = sb.run(&["check-config"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("junk.pem") && stderr.contains("no certificate"),
        "{stderr}"
    );

    let sb = Sandbox::with_config("[fetch]\nresolve = { \"*.test\" = \"somewhere\" }\n");
    let out = sb.run(&["check-config"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("resolve") && stderr.contains("somewhere"),
        "{stderr}"
    );
}
