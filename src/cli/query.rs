//! `search`, `show`, `status`: read-only views of the store.

use super::output::{cut, table};
use super::UsageError;
use crate::config::Config;
use crate::store::{open_read, read, StoreError};
use crate::tag::{TagDef, TagKind, Taxonomy};

fn reader(config: &Config) -> anyhow::Result<rusqlite::Connection> {
    Ok(open_read(&config.store.path, config.store.busy_timeout)?)
}

/// The store as `status` names it: the SQLite file, or the PostgreSQL URL without its password.
fn database_name(config: &Config) -> String {
    match &config.store.url {
        Some(url) => crate::store::pg::redact(url),
        None => config.store.path.display().to_string(),
    }
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    query: String,
    /// Only articles since a time: a duration ago with its unit ("7d" days, "12h" hours, "30m"
    /// minutes) or a date ("2026-02-01").
    #[arg(long, value_name = "7d|12h|DATE")]
    since: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Only articles with this topic tag (e.g. sanctions; `newsdesk tags` lists them).
    #[arg(long)]
    topic: Option<String>,
    /// Only articles tagged with this ISO 3166-1 alpha-2 country (e.g. KP).
    #[arg(long)]
    country: Option<String>,
    /// Only articles tagged with this organisation (e.g. NATO).
    #[arg(long)]
    org: Option<String>,
    /// Only foreign-policy articles.
    #[arg(long)]
    foreign_policy: bool,
    /// One line per story: near duplicates folded into the earliest article (the default).
    #[arg(long, overrides_with = "all")]
    collapse: bool,
    /// Every matching article, near duplicates included.
    #[arg(long)]
    all: bool,
}

pub fn search(config: &Config, args: SearchArgs, json: bool) -> anyhow::Result<u8> {
    if args.topic.is_some() || args.country.is_some() || args.org.is_some() {
        let taxonomy = Taxonomy::load(&config.taxonomy.topics, &config.taxonomy.countries)?;
        let defs = taxonomy.tag_defs();
        for (kind, value) in [
            (TagKind::Topic, &args.topic),
            (TagKind::Country, &args.country),
            (TagKind::Org, &args.org),
        ] {
            if let Some(value) = value {
                known_tag(&defs, kind, value)?;
            }
        }
    }
    let q = read::SearchQuery {
        text: args.query,
        since: args.since.as_deref().map(super::parse_since).transpose()?,
        limit: args.limit,
        topic: args.topic,
        country: args.country.map(|c| c.to_ascii_uppercase()),
        org: args.org,
        foreign_policy_only: args.foreign_policy,
        collapse: !args.all,
    };
    let found = match &config.store.url {
        Some(url) => crate::store::pg::migrate::open_read(url)
            .and_then(|mut c| crate::store::pg::read::search(&mut c, &q)),
        None => open_read(&config.store.path, config.store.busy_timeout)
            .and_then(|c| read::search(&c, &q)),
    };
    let hits = match found {
        Err(e @ StoreError::BadQuery { .. }) => return Err(UsageError(e.to_string()).into()),
        other => other?,
    };
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

/// A filter naming no tag the taxonomy has would silently match nothing: refuse it, with the
/// nearest tag of that kind when one is close.
fn known_tag(defs: &[TagDef], kind: TagKind, value: &str) -> Result<(), UsageError> {
    let of_kind = || defs.iter().filter(|d| d.kind == kind);
    if of_kind().any(|d| d.slug.eq_ignore_ascii_case(value)) {
        return Ok(());
    }
    let wanted = value.to_lowercase();
    let nearest = of_kind()
        .map(|d| {
            let slug = d.slug.to_lowercase();
            let label = d.label.to_lowercase();
            let score =
                strsim::jaro_winkler(&wanted, &slug).max(strsim::jaro_winkler(&wanted, &label));
            (score, d)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let hint = match nearest {
        Some((_, d)) => format!("; did you mean `{}` ({})?", d.slug, d.label),
        None => String::new(),
    };
    Err(UsageError(format!(
        "--{} {value}: no such {} in the taxonomy{hint} (`newsdesk tags` lists them)",
        kind.as_str(),
        match kind {
            TagKind::Topic => "topic",
            TagKind::Country => "country",
            TagKind::Org => "organisation",
        }
    )))
}

pub fn show(config: &Config, id: i64, json: bool) -> anyhow::Result<u8> {
    let found = match &config.store.url {
        Some(url) => crate::store::pg::migrate::open_read(url)
            .and_then(|mut c| crate::store::pg::read::article(&mut c, id))?,
        None => read::article(&reader(config)?, id)?,
    };
    let Some(a) = found else {
        return Err(UsageError(format!("no article with id {id}")).into());
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
            Some(words) => match (words.strip_prefix('^'), words.strip_prefix('~')) {
                (Some(w), _) => format!("{w:?} in the headline"),
                (_, Some(w)) => format!("{w:?}'s letters"),
                _ => format!("{words:?}"),
            },
            None => name.to_string(),
        };
        Some(format!("{name} {:+.2}", c["contribution"].as_f64()?))
    })
    .collect::<Vec<_>>()
    .join(", ")
}

pub fn status(config: &Config, json: bool) -> anyhow::Result<u8> {
    let (s, daemons) = match &config.store.url {
        Some(url) => {
            let mut c = crate::store::pg::migrate::open_read(url)?;
            let s = crate::store::pg::read::status(&mut c)?;
            (s, Some(crate::store::pg::feeds::live_daemons(&mut c)?))
        }
        None => (read::status(&reader(config)?)?, None),
    };
    // What only the running daemon knows (a store refusing writes cannot say so in itself).
    let daemon = config
        .http
        .as_ref()
        .and_then(crate::service::http::daemon_problems);
    if json {
        let mut v = serde_json::to_value(&s)?;
        if let (Some(problems), Some(obj)) = (&daemon, v.as_object_mut()) {
            obj.insert("daemon_problems".into(), serde_json::json!(problems));
        }
        if let (Some(daemons), Some(obj)) = (&daemons, v.as_object_mut()) {
            obj.insert("daemons".into(), serde_json::json!(daemons));
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    let mut rows = vec![
        vec![
            "database".into(),
            format!(
                "{} ({:.1} MB, schema v{})",
                database_name(config),
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
    for p in daemon.iter().flatten() {
        rows.push(vec!["daemon".into(), p.clone()]);
    }
    if let Some(daemons) = &daemons {
        if daemons.is_empty() {
            rows.push(vec!["daemons".into(), "none alive".into()]);
        }
        for d in daemons {
            rows.push(vec![
                "daemons".into(),
                format!(
                    "{} (since {}, last seen {}): {} feeds leased",
                    d.id, d.started_at, d.heartbeat_at, d.leases
                ),
            ]);
        }
    }
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
