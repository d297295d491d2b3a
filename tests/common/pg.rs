//! A PostgreSQL server for the tests that need one: `NEWSDESK_TEST_PG_URL` names it (`.ci/run`
//! starts a throwaway cluster on a Unix socket and sets it). Each test gets a database of its
//! own, dropped when the test ends. Without the variable a test fails in CI and, elsewhere,
//! prints "skipped: no PostgreSQL" and returns.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A database created for one test; dropped with it.
pub struct TestDb {
    admin: String,
    name: String,
    pub url: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// `url` with its database name replaced by `db` (the query, e.g. `?host=/run/x`, is kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_and_path = &base[scheme_end..];
    let host = match host_and_path.find('/') {
        Some(i) => &host_and_path[..i],
        None => host_and_path,
    };
    format!("{}{host}/{db}{query}", &base[..scheme_end])
}

/// A fresh, empty database on the test server, or None (after the notice) when there is none.
pub fn database(test: &str) -> Option<TestDb> {
    let Ok(admin) = std::env::var("NEWSDESK_TEST_PG_URL") else {
        assert!(
            !super::in_ci(),
            "NEWSDESK_TEST_PG_URL is not set, and CI must run the PostgreSQL tests (.ci/run starts a server and sets it)"
        );
        eprintln!(
            "skipped: no PostgreSQL (set NEWSDESK_TEST_PG_URL to a server's URL to run {test})"
        );
        return None;
    };
    let name = format!(
        "nd_{}_{}_{}",
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect::<String>(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to NEWSDESK_TEST_PG_URL: {e:?}"));
    // One statement per call: a multi-statement string is one transaction, which DROP and
    // CREATE DATABASE refuse.
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = with_database(&admin, &name);
    Some(TestDb { admin, name, url })
}

impl TestDb {
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.client().query_one(sql, &[]).unwrap().get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
