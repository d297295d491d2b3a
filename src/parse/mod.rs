//! Feed bytes -> feed items (SPEC section 3, "Formats"). feed-rs does the parsing; this module
//! decides which bytes to give it (see `prolog`) and maps its model onto `RawArticle`, with our
//! own rule for item identity instead of feed-rs' generated hash ids.
//!
//! Encoding: the raw bytes go to feed-rs first whenever they declare an encoding it can honour;
//! we transcode to UTF-8 (declaration rewritten) only when nothing is declared and the bytes are
//! not UTF-8, or when the declared encoding fails. The HTTP charset is the first candidate for
//! that, then a sniffed guess. Bytes that are valid UTF-8 with non-ASCII text but declare a legacy
//! single-byte encoding are UTF-8 (a lie in the declaration; real legacy text is essentially never
//! valid UTF-8), so they are not turned into mojibake.

mod prolog;

use crate::model::RawArticle;
use encoding_rs::Encoding;
use std::borrow::Cow;
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
    // A UTF-8 BOM says what a declaration would; drop it so the checks below see the markup.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let utf16 = Encoding::for_bom(body).is_some();
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    let feed = if utf16 {
        run_feed_rs(body, feed_url)?
    } else if first == Some(b'{') {
        let utf8 = as_utf8(body, http_enc);
        run_feed_rs(&utf8, feed_url)?
    } else {
        if prolog::root_name(body).as_deref() == Some("html") {
            return Err(ParseError::NotAFeed("an HTML page".into()));
        }
        parse_xml(body, http_enc, feed_url)?
    };
    let xml_base = prolog::root_xml_base(body).and_then(|b| feed_url.join(&b).ok());
    Ok(map_feed(
        feed,
        xml_base.as_ref().unwrap_or(feed_url),
        max_items,
    ))
}

fn parse_xml(
    body: &[u8],
    http_enc: Option<&'static Encoding>,
    feed_url: &Url,
) -> Result<feed_rs::model::Feed, ParseError> {
    let body = prolog::repair_root(body);
    let declared = prolog::declared_encoding(&body);
    let valid_utf8 = std::str::from_utf8(&body).is_ok();
    let first_try: Cow<[u8]> = match declared {
        Some(enc) if enc != encoding_rs::UTF_8 && valid_utf8 && !body.is_ascii() => {
            prolog::transcode_to_utf8(&body, encoding_rs::UTF_8)
                .map(Cow::Owned)
                .unwrap_or(Cow::Borrowed(&body))
        }
        Some(_) => Cow::Borrowed(&body),
        None if valid_utf8 => Cow::Borrowed(&body),
        None => Cow::Owned(transcode_guess(&body, http_enc)),
    };
    let err = match run_feed_rs(&first_try, feed_url) {
        Ok(feed) => return Ok(feed),
        Err(e) => e,
    };
    // The declared encoding failed, was wrong or is unknown to feed-rs: try what the bytes
    // actually look like, with the declaration rewritten to match.
    if prolog::has_declaration(&body) {
        let retry = if valid_utf8 {
            prolog::transcode_to_utf8(&body, encoding_rs::UTF_8)
        } else {
            Some(transcode_guess(&body, http_enc))
        };
        if let Some(feed) = retry
            .filter(|r| r.as_slice() != &*first_try)
            .and_then(|r| run_feed_rs(&r, feed_url).ok())
        {
            return Ok(feed);
        }
    }
    Err(err)
}

/// Undeclared or wrongly declared non-UTF-8 bytes: the HTTP charset if the bytes are valid in it,
/// else a sniffed guess (decoding with replacement characters rather than failing the feed).
fn transcode_guess(body: &[u8], http_enc: Option<&'static Encoding>) -> Vec<u8> {
    if let Some(out) = http_enc
        .filter(|e| *e != encoding_rs::UTF_8)
        .and_then(|e| prolog::transcode_to_utf8(body, e))
    {
        return out;
    }
    let guess = prolog::sniff(body);
    prolog::transcode_to_utf8(body, guess).unwrap_or_else(|| {
        let (text, _, _) = guess.decode(body);
        text.into_owned().into_bytes()
    })
}

fn as_utf8<'a>(body: &'a [u8], http_enc: Option<&'static Encoding>) -> Cow<'a, [u8]> {
    if std::str::from_utf8(body).is_ok() {
        Cow::Borrowed(body)
    } else {
        Cow::Owned(transcode_guess(body, http_enc))
    }
}

fn run_feed_rs(bytes: &[u8], feed_url: &Url) -> Result<feed_rs::model::Feed, ParseError> {
    // quick-xml (under feed-rs 3.0) panics on a second XML declaration with another encoding
    // after the prefix was read (found by fuzz/run feed): a feed error, not a lost task.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        feed_rs::parser::Builder::new()
            .base_uri(Some(feed_url.as_str()))
            .id_generator(|_, _, _| NO_ID.to_string())
            .build()
            .parse(bytes)
    }))
    .map_err(|_| ParseError::Invalid("the XML parser failed on this document".into()))?;
    parsed.map_err(|e| match e {
        feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ) => ParseError::Invalid("no RSS, Atom or JSON Feed root element".into()),
        other => ParseError::Invalid(other.to_string()),
    })
}

fn map_feed(feed: feed_rs::model::Feed, base: &Url, max_items: usize) -> ParsedFeed {
    let site_url = feed
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .and_then(|l| base.join(&l.href).ok());
    let language = feed.language.clone().filter(|l| !l.trim().is_empty());
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    for entry in feed.entries {
        if items.len() >= max_items {
            break;
        }
        let item = map_entry(entry, base, language.as_deref());
        let Some(identity) = item.guid.clone() else {
            // Nothing identifies it (no id, link or title): it cannot be deduped, skip it.
            continue;
        };
        if seen.insert(identity) {
            items.push(item);
        }
    }
    ParsedFeed {
        title: feed
            .title
            .map(|t| crate::normalize::markup_to_text(&t.content))
            .filter(|t| !t.is_empty()),
        site_url,
        language,
        ttl: feed.ttl.map(|m| Duration::from_secs(u64::from(m) * 60)),
        items,
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
