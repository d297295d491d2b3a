//! `newsdesk dedupe`: why two stored articles were or were not grouped (`--explain`), and
//! regrouping stored articles after a threshold or rule change (`--rebuild`).

use crate::config::Config;
use crate::dedupe::explain::{explain as explain_pair, DetectorVerdict};
use crate::store::dedupe::{self as stored, StoredArticle};
use crate::store::{open_read, open_write};

/// Articles per rebuild transaction (and progress line).
const REBUILD_BATCH: usize = 1000;

pub fn explain(config: &Config, first: i64, second: i64, json: bool) -> anyhow::Result<u8> {
    enum Store {
        Sqlite(rusqlite::Connection),
        Postgres(postgres::Client),
    }
    let mut store = match &config.store.url {
        Some(url) => Store::Postgres(crate::store::pg::migrate::open_read(url)?),
        None => Store::Sqlite(open_read(&config.store.path, config.store.busy_timeout)?),
    };
    let mut articles = Vec::with_capacity(2);
    for id in [first, second] {
        let found = match &mut store {
            Store::Sqlite(conn) => stored::article(conn, id)?,
            Store::Postgres(client) => crate::store::pg::dedupe::article(client, id)?,
        };
        match found {
            Some(a) => articles.push(a),
            None => {
                eprintln!("error: no article with id {id}");
                return Ok(1);
            }
        }
    }
    // The later article is the one that arrived and was looked up against the earlier.
    articles.sort_by_key(|a| a.id);
    let (earlier, later) = (&articles[0], &articles[1]);
    let verdicts = explain_pair(&later.fingerprint, &earlier.fingerprint, &config.dedupe);
    let group = |a: &StoredArticle| a.duplicate_of.unwrap_or(a.id);
    let grouped = group(earlier) == group(later);
    let would = verdicts.iter().any(|v| v.matches);
    if json {
        let article = |a: &StoredArticle| {
            serde_json::json!({
                "id": a.id,
                "title": a.title,
                "outlets": a.outlets,
                "group": group(a),
                "duplicate_detector": a.detector,
                "content_hash_current": a.content_hash == a.stored_hash,
            })
        };
        let out = serde_json::json!({
            "articles": [article(earlier), article(later)],
            "grouped": grouped,
            "would_match_now": would,
            "detectors": verdicts,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    for a in [earlier, later] {
        let how = match (a.duplicate_of, &a.detector) {
            (Some(g), Some(d)) => format!("duplicate of #{g} ({d})"),
            (Some(g), None) => format!("duplicate of #{g}"),
            (None, _) => "starts its story".into(),
        };
        println!("#{} {} [{}]: {how}", a.id, a.title, a.outlets);
        if a.content_hash != a.stored_hash {
            println!("  stored under older text rules: `newsdesk dedupe --rebuild` rehashes it");
        }
    }
    println!(
        "stored: {}; under the current rules and thresholds: {}",
        if grouped { "grouped" } else { "apart" },
        if would { "a match" } else { "no match" }
    );
    for v in &verdicts {
        print_verdict(v);
    }
    Ok(0)
}

fn print_verdict(v: &DetectorVerdict) {
    println!(
        "{}: {}",
        v.detector,
        if v.matches { "match" } else { "no match" }
    );
    for c in &v.checks {
        println!(
            "  {:<30} {:<12} {:<48} {}",
            c.name,
            c.value.to_string(),
            c.threshold,
            if c.pass { "ok" } else { "FAILS" }
        );
    }
}

pub fn rebuild(config: &Config, since: Option<String>, json: bool) -> anyhow::Result<u8> {
    let progress = |done, total| {
        if !json {
            eprintln!("regrouped {done}/{total}");
        }
    };
    let outcome = match &config.store.url {
        Some(url) => {
            let mut client = crate::store::pg::migrate::open_write(url)?;
            crate::store::pg::dedupe::rebuild(
                &mut client,
                &config.dedupe,
                since.as_deref(),
                REBUILD_BATCH,
                progress,
            )?
        }
        None => {
            let mut conn = open_write(&config.store.path, config.store.busy_timeout)?;
            stored::rebuild(
                &mut conn,
                &config.dedupe,
                since.as_deref(),
                REBUILD_BATCH,
                progress,
            )?
        }
    };
    if json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        println!(
            "{} articles regrouped: {} near duplicates, {} changed group, {} rehashed",
            outcome.articles, outcome.duplicates, outcome.regrouped, outcome.rehashed
        );
    }
    Ok(0)
}
