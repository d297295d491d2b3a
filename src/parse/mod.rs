//! Feed bytes -> feed items (SPEC section 3, "Formats").
//!
//! XML feeds (RSS 0.90-2.x, RSS 1.0, Atom 0.3 and 1.0) are read by our own lenient reader:
//! `decode` settles the encoding, `dom` builds an element tree from quick-xml's events and
//! recovers from ill-formed markup, `xml_feed` reads items and their fields from it. feed-rs
//! still reads JSON Feed, which it does well. Why not feed-rs for XML: most of what real feeds
//! get wrong is in documents feed-rs accepts (items with only a description, `dc:`/`itunes:`/
//! `media:` fields, text titles with angle brackets, Atom 0.3), and what it rejects (a bare `&`,
//! an HTML entity, a missing end tag) it rejects whole; rewriting documents before it could fix
//! neither the fields nor the recovery.
//!
//! Identity is our own rule, not feed-rs' generated hashes: the item's id, else its link, else
//! its title and date, else a hash of its text.

mod decode;
mod dom;
mod prolog;
mod xml_feed;

use crate::model::RawArticle;
use std::collections::HashSet;
use std::time::Duration;
use url::Url;

/// What feed-rs' id generator returns: marks an item that had no id of its own. Contains a NUL so
/// no real guid can equal it.
const NO_ID: &str = "\u{0}newsdesk:no-id";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("empty body")]
    Empty,
    #[error("not a feed: the document is {0}")]
    NotAFeed(String),
    #[error("not a feed: {0}")]
    Invalid(String),
}

/// A parsed feed: channel-level facts and its items, deduplicated, at most `max_items`.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The site the feed belongs to (its alternate link).
    pub site_url: Option<Url>,
    pub language: Option<String>,
    /// RSS `<ttl>`: the publisher asks not to be polled more often.
    pub ttl: Option<Duration>,
    pub items: Vec<RawArticle>,
    /// The document was ill-formed and read as far as it could be: the first problem found.
    pub degraded: Option<String>,
}

/// Parse a feed document. `http_content_type` is the response's Content-Type (its charset counts
/// when the document declares none); `feed_url` is the URL it was fetched from (after redirects)
/// and the base for relative links when the feed has no xml:base.
pub fn parse_feed(
    body: &[u8],
    http_content_type: Option<&str>,
    feed_url: &Url,
    max_items: usize,
) -> Result<ParsedFeed, ParseError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let http_enc = http_content_type.and_then(prolog::http_charset);
    let text = decode::to_text(body, http_enc);
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if text.starts_with('{') {
        let feed = run_feed_rs(text.as_bytes(), feed_url)?;
        return Ok(map_feed(feed, feed_url, max_items));
    }
    if prolog::root_name(text.as_bytes()).as_deref() == Some("html") {
        return Err(ParseError::NotAFeed("an HTML page".into()));
    }
    parse_xml(text, feed_url, max_items)
}

/// True when `bytes` look like a feed document (RSS, RDF, Atom or JSON Feed), for callers that
/// must tell a feed from an article file.
pub fn looks_like_feed(bytes: &[u8]) -> bool {
    let text = decode::to_text(&bytes[..bytes.len().min(64 * 1024)], None);
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if t.starts_with('{') {
        return t.contains("jsonfeed.org/version/");
    }
    let root = prolog::root_name(t.as_bytes()).unwrap_or_default();
    let local = root.rsplit(':').next().unwrap_or("");
    matches!(local, "rss" | "rdf" | "feed")
}

fn parse_xml(text: &str, feed_url: &Url, max_items: usize) -> Result<ParsedFeed, ParseError> {
    let doc = dom::read(text);
    let degraded = doc.problems.into_iter().next();
    let Some(root) = doc.root.filter(xml_feed::is_feed_root) else {
        return Err(ParseError::Invalid(degraded.unwrap_or_else(|| {
            "no RSS, Atom or JSON Feed root element".into()
        })));
    };
    let read = xml_feed::read_feed(&root, feed_url);
    if read.items.is_empty() && read.elements > 0 {
        let what = match degraded {
            Some(p) => format!(", and the document is ill-formed ({p})"),
            None => String::new(),
        };
        let n = read.elements;
        let items = if n == 1 { "1 item" } else { "items" };
        let count = if n == 1 {
            String::new()
        } else {
            format!("{n} ")
        };
        return Err(ParseError::Invalid(format!(
            "{count}{items} in the document but none has a title, link or text{what}"
        )));
    }
    Ok(ParsedFeed {
        title: read.title.filter(|t| !t.is_empty()),
        site_url: read.site_url,
        language: read.language,
        ttl: read.ttl_minutes.map(|m| Duration::from_secs(m * 60)),
        items: dedupe(read.items, max_items),
        degraded,
    })
}

/// Items in document order, the first of each identity kept, at most `max_items`.
fn dedupe(items: Vec<RawArticle>, max_items: usize) -> Vec<RawArticle> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|i| i.guid.as_ref().is_some_and(|g| seen.insert(g.clone())))
        .take(max_items)
        .collect()
}

fn run_feed_rs(bytes: &[u8], feed_url: &Url) -> Result<feed_rs::model::Feed, ParseError> {
    feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url.as_str()))
        .id_generator(|_, _, _| NO_ID.to_string())
        .build()
        .parse(bytes)
        .map_err(|e| match e {
            feed_rs::parser::ParseFeedError::ParseError(
                feed_rs::parser::ParseErrorKind::NoFeedRoot,
            ) => ParseError::Invalid("no RSS, Atom or JSON Feed root element".into()),
            other => ParseError::Invalid(other.to_string()),
        })
}

/// JSON Feed, as feed-rs reads it.
fn map_feed(feed: feed_rs::model::Feed, base: &Url, max_items: usize) -> ParsedFeed {
    let site_url = feed
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .and_then(|l| base.join(&l.href).ok());
    let language = feed.language.clone().filter(|l| !l.trim().is_empty());
    let items = feed
        .entries
        .into_iter()
        .map(|e| map_entry(e, base, language.as_deref()))
        .collect();
    ParsedFeed {
        title: feed
            .title
            .map(|t| crate::normalize::markup_to_text(&t.content))
            .filter(|t| !t.is_empty()),
        site_url,
        language,
        ttl: feed.ttl.map(|m| Duration::from_secs(u64::from(m) * 60)),
        items: dedupe(items, max_items),
        degraded: None,
    }
}

fn map_entry(entry: feed_rs::model::Entry, base: &Url, feed_lang: Option<&str>) -> RawArticle {
    let base_url = entry
        .base
        .as_deref()
        .and_then(|b| base.join(b).ok())
        .unwrap_or_else(|| base.clone());
    let link = entry
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .map(|l| l.href.trim().to_string())
        .filter(|h| !h.is_empty());
    let url = link
        .as_deref()
        .and_then(|h| base_url.join(h).ok())
        .map(String::from);
    let title = entry
        .title
        .map(|t| t.content)
        .filter(|t| !t.trim().is_empty());
    let published = entry.published;
    // feed-rs copies an RSS item's pubDate into `updated`: that is not an update.
    let updated = entry.updated.filter(|u| Some(*u) != published);
    let guid = if entry.id != NO_ID && !entry.id.trim().is_empty() {
        Some(entry.id.trim().to_string())
    } else if let Some(u) = &url {
        Some(u.clone())
    } else {
        title.as_ref().map(|t| match published.or(updated) {
            Some(d) => format!("{} {}", t.trim(), d.to_rfc3339()),
            None => t.trim().to_string(),
        })
    };
    let (content_html, content_text) = match entry.content.and_then(|c| {
        let plain = c.content_type.as_str() == "text/plain";
        c.body.map(|b| (b, plain))
    }) {
        Some((b, true)) => (None, Some(b)),
        Some((b, false)) => (Some(b), None),
        None => (None, None),
    };
    RawArticle {
        guid,
        url,
        base_url: Some(base_url),
        title,
        author: entry
            .authors
            .first()
            .and_then(|p| p.name.as_deref())
            .map(clean_author),
        published,
        updated,
        summary: entry
            .summary
            .map(|s| s.content)
            .filter(|s| !s.trim().is_empty()),
        content_html,
        content_text,
        lang: entry
            .language
            .filter(|l| !l.trim().is_empty())
            .or_else(|| feed_lang.map(String::from)),
    }
}

/// feed-rs turns `<author>mail@x (Name)</author>` into "(Name)".
fn clean_author(name: &str) -> String {
    let n = name.trim();
    n.strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(n)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests;
