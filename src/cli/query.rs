//! `search`, `show`, `status`: read-only views of the store.

use super::output::{cut, table};
use crate::config::Config;
use crate::store::{open_read, read};

fn reader(config: &Config) -> anyhow::Result<rusqlite::Connection> {
    Ok(open_read(&config.store.path, config.store.busy_timeout)?)
}

pub fn search(config: &Config, q: &read::SearchQuery, json: bool) -> anyhow::Result<u8> {
    let hits = read::search(&reader(config)?, q)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(0);
    }
    if hits.is_empty() {
        println!("no matches");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = hits
        .iter()
        .map(|h| {
            vec![
                h.id.to_string(),
                h.published_at
                    .get(..10)
                    .unwrap_or(&h.published_at)
                    .to_string(),
                match h.outlets {
                    n if n > 1 => {
                        format!("{} +{}", cut(h.source.as_deref().unwrap_or("-"), 20), n - 1)
                    }
                    _ => cut(h.source.as_deref().unwrap_or("-"), 24),
                },
                format!("{} — {}", h.title, h.snippet),
            ]
        })
        .collect();
    table(&["ID", "DATE", "SOURCE", "TITLE — MATCH"], &rows);
    Ok(0)
}

pub fn show(config: &Config, id: i64, json: bool) -> anyhow::Result<u8> {
    let Some(a) = read::article(&reader(config)?, id)? else {
        eprintln!("error: no article with id {id}");
        return Ok(1);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&a)?);
        return Ok(0);
    }
    println!(
        "#{} {}{}",
        a.id,
        a.title,
        if a.title_derived {
            "  (title derived from the text)"
        } else {
            ""
        }
    );
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!(
        "published: {}   first seen: {}   language: {}",
        opt(&a.published_at),
        a.first_seen_at,
        opt(&a.lang)
    );
    if let Some(url) = &a.url {
        println!("url: {url}");
    }
    if let Some(author) = &a.author {
        println!("author: {author}");
    }
    if let Some(dup) = a.duplicate_of {
        println!(
            "near duplicate of #{dup} ({}, similarity {:.2})",
            opt(&a.duplicate_detector),
            a.duplicate_similarity.unwrap_or_default()
        );
    }
    if a.revisions > 0 {
        println!(
            "revised {} time(s), last at {}",
            a.revisions,
            opt(&a.revised_at)
        );
    }
    match a.foreign_policy {
        Some(fp) => println!(
            "foreign policy: {} (score {:.2})",
            if fp { "yes" } else { "no" },
            a.foreign_policy_score.unwrap_or_default()
        ),
        None => println!("foreign policy: not tagged"),
    }
    if let Some(why) = a.foreign_policy_evidence.as_ref().map(top_features) {
        println!("  because of: {why}");
    }
    if !a.tags.is_empty() {
        println!("\ntags:");
        for t in &a.tags {
            println!(
                "  {:<8} {:<28} {:>5.2}  {}",
                t.kind,
                format!("{} ({})", t.slug, t.label),
                t.score,
                cut(&t.evidence.to_string(), 80)
            );
        }
    }
    println!("\nseen in:");
    for s in &a.sightings {
        println!(
            "  {}  {}  {}",
            s.seen_at,
            s.feed_title.as_deref().unwrap_or(&s.feed),
            s.url.as_deref().unwrap_or(&s.guid)
        );
    }
    if let Some(summary) = &a.summary {
        println!("\n{summary}");
    }
    println!("\n{}", a.body_text);
    Ok(0)
}

/// The features that moved the flag most, from its stored evidence: `"envoy" +0.84, ...`.
fn top_features(evidence: &serde_json::Value) -> String {
    let list = evidence["contributions"].as_array().into_iter().flatten();
    list.filter_map(|c| {
        let name = c["feature"].as_str()?;
        let name = match name.strip_prefix("text:") {
            Some(words) => match words.strip_prefix('^') {
                Some(w) => format!("{w:?} in the headline"),
                None => format!("{words:?}"),
            },
            None => name.to_string(),
        };
        Some(format!("{name} {:+.2}", c["contribution"].as_f64()?))
    })
    .collect::<Vec<_>>()
    .join(", ")
}

pub fn status(config: &Config, json: bool) -> anyhow::Result<u8> {
    let s = read::status(&reader(config)?)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(0);
    }
    let mut rows = vec![
        vec![
            "database".into(),
            format!(
                "{} ({:.1} MB, schema v{})",
                config.store.path.display(),
                s.database_bytes as f64 / 1e6,
                s.schema_version
            ),
        ],
        vec![
            "articles".into(),
            format!(
                "{} ({} foreign policy, {} near duplicates)",
                s.articles, s.foreign_policy_articles, s.near_duplicates
            ),
        ],
        vec![
            "new".into(),
            format!(
                "{} in the last hour, {} in the last day",
                s.articles_last_hour, s.articles_last_day
            ),
        ],
        vec![
            "sightings".into(),
            format!("{} ({} revisions kept)", s.sightings, s.revisions),
        ],
        vec![
            "feeds".into(),
            format!(
                "{} ok, {} failing, {} disabled; {} local sources",
                s.feeds_enabled - s.feeds_failing,
                s.feeds_failing,
                s.feeds_disabled,
                s.local_sources
            ),
        ],
        vec![
            "last poll".into(),
            format!(
                "{} ({} polls in the last day)",
                s.last_poll_at.as_deref().unwrap_or("never"),
                s.polls_last_day
            ),
        ],
    ];
    for e in &s.top_errors {
        rows.push(vec![
            "errors".into(),
            format!(
                "{} x{}: {}",
                e.kind,
                e.count,
                e.example.as_deref().unwrap_or("")
            ),
        ]);
    }
    table(&["", ""], &rows);
    Ok(0)
}
