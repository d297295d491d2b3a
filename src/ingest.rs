//! Local article files -> raw articles: the seeds' plain text (headline, blank line, body; or no
//! headline at all), HTML pages, a JSON object, and JSON Lines of article records. Used by
//! `newsdesk ingest` and the spool folder. Every failure names the file and, for JSON Lines,
//! the line; one bad record never stops the others.

use crate::model::{ArticleRecord, RawArticle};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: empty file")]
    Empty { path: PathBuf },
    #[error("{path}: binary data, not an article (NUL byte at offset {offset})")]
    Binary { path: PathBuf, offset: usize },
    #[error(
        "{path}: not valid UTF-8 (first bad byte at offset {offset}); convert it to UTF-8 first"
    )]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{path}: {size} bytes is over the limit of {limit} bytes ([ingest] max_file_bytes)")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: usize,
    },
    #[error("{path}, line {line}: not a JSON article record: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}{}: no text: the record has neither a title nor a body", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    NoText { path: PathBuf, line: Option<usize> },
    #[error("{path}: {source}")]
    Feed {
        path: PathBuf,
        source: crate::parse::ParseError,
    },
}

/// One article read from a local file.
#[derive(Debug, Clone)]
pub struct LocalItem {
    pub raw: RawArticle,
    /// Identity within its source: the record id, else `path#line`, else the file path.
    pub guid: String,
    /// The pseudo-feed it is sighted from: "files", or "source:<name>" for records that say
    /// where they come from.
    pub source: String,
    pub source_title: String,
    /// "path" or "path:line", for messages.
    pub origin: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Html,
    Json,
    JsonLines,
}

/// Read one file (or standard input for "-"). The outer error means nothing could be read;
/// inner errors are per record.
pub fn read_path(path: &Path, max_bytes: usize) -> Result<Items, IngestError> {
    let err = |source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    };
    let is_stdin = path == Path::new("-");
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(ext.as_str(), "jsonl" | "ndjson") {
        // Streamed: a JSON Lines file may be far larger than memory should hold.
        let file = std::fs::File::open(path).map_err(err)?;
        return read_json_lines(path, std::io::BufReader::new(file));
    }
    let mut bytes = Vec::new();
    if is_stdin {
        std::io::stdin()
            .lock()
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(err)?;
    } else {
        let size = std::fs::metadata(path).map_err(err)?.len();
        if size > max_bytes as u64 {
            return Err(IngestError::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: max_bytes,
            });
        }
        bytes = std::fs::read(path).map_err(err)?;
    }
    if bytes.len() > max_bytes {
        return Err(IngestError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    let article_ext = matches!(ext.as_str(), "txt" | "text" | "html" | "htm" | "xhtml");
    if !article_ext && crate::parse::looks_like_feed(&bytes) {
        return read_feed(path, &bytes, is_stdin);
    }
    let text = check_text(path, &bytes)?;
    let kind = match ext.as_str() {
        "txt" | "text" => Kind::Text,
        "html" | "htm" | "xhtml" => Kind::Html,
        "json" => Kind::Json,
        _ => sniff(text),
    };
    let guid = if is_stdin {
        format!("stdin:{}", blake3::hash(&bytes).to_hex())
    } else {
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string()
    };
    let local = |raw: RawArticle, guid: String| LocalItem {
        raw,
        guid,
        source: "files".into(),
        source_title: "Local files".into(),
        origin: path.display().to_string(),
    };
    let items: Vec<Result<LocalItem, IngestError>> = match kind {
        Kind::JsonLines => {
            let text = text.to_owned();
            return read_json_lines(path, std::io::Cursor::new(text.into_bytes()));
        }
        Kind::Text => vec![Ok(local(parse_text(text), guid))],
        Kind::Html => vec![Ok(local(parse_html(text), guid))],
        Kind::Json => {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| IngestError::Json {
                    path: path.to_path_buf(),
                    line: e.line(),
                    message: e.to_string(),
                })?;
            let records = match value {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            let single = records.len() == 1;
            records
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let index_guid = if single {
                        guid.clone()
                    } else {
                        format!("{guid}#{}", i + 1)
                    };
                    record_item(path, None, v, index_guid)
                })
                .collect()
        }
    };
    Ok(Box::new(items.into_iter()))
}

/// A feed document (RSS, Atom, JSON Feed) saved as a file: its items, read by the same parser
/// as a polled feed, sighted under the feed's title as their source.
fn read_feed(path: &Path, bytes: &[u8], is_stdin: bool) -> Result<Items, IngestError> {
    let base = std::fs::canonicalize(path)
        .ok()
        .filter(|_| !is_stdin)
        .and_then(|p| url::Url::from_file_path(p).ok())
        .or_else(|| url::Url::parse("file:///dev/stdin").ok());
    let Some(base) = base else {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    };
    let feed = crate::parse::parse_feed(bytes, None, &base, usize::MAX).map_err(|source| {
        IngestError::Feed {
            path: path.to_path_buf(),
            source,
        }
    })?;
    if let Some(problem) = &feed.degraded {
        tracing::warn!(file = %path.display(), problem, "ill-formed feed read leniently");
    }
    let (source, source_title) = match feed.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => (format!("source:{t}"), t.to_string()),
        _ => ("files".to_string(), "Local files".to_string()),
    };
    let origin = path.display().to_string();
    let items: Vec<Result<LocalItem, IngestError>> = feed
        .items
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            Ok(LocalItem {
                guid: raw
                    .guid
                    .clone()
                    .unwrap_or_else(|| format!("{origin}#{}", i + 1)),
                raw,
                source: source.clone(),
                source_title: source_title.clone(),
                origin: format!("{origin}, item {}", i + 1),
            })
        })
        .collect();
    Ok(Box::new(items.into_iter()))
}

/// The records of one file, read as they are consumed.
pub type Items = Box<dyn Iterator<Item = Result<LocalItem, IngestError>> + Send>;

fn check_text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, IngestError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(IngestError::Binary {
            path: path.to_path_buf(),
            offset,
        });
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| IngestError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.valid_up_to(),
    })
}

fn sniff(text: &str) -> Kind {
    let t = text.trim_start();
    if t.starts_with('{') {
        let mut lines = t.lines().filter(|l| !l.trim().is_empty());
        let first_is_object = lines
            .next()
            .is_some_and(|l| serde_json::from_str::<serde_json::Value>(l).is_ok());
        if first_is_object && lines.next().is_some() {
            return Kind::JsonLines;
        }
        return Kind::Json;
    }
    if t.starts_with('[') {
        return Kind::Json;
    }
    let head: String = t
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || head.contains("<body")
        || head.contains("<head")
    {
        return Kind::Html;
    }
    Kind::Text
}

fn read_json_lines(
    path: &Path,
    reader: impl BufRead + Send + 'static,
) -> Result<Items, IngestError> {
    let path_buf = path.to_path_buf();
    let records = reader
        .split(b'\n')
        .enumerate()
        .filter_map(move |(i, line)| {
            let path = path_buf.as_path();
            let line_no = i + 1;
            let bytes = match line {
                Ok(b) => b,
                Err(source) => {
                    return Some(Err(IngestError::Read {
                        path: path.to_path_buf(),
                        source,
                    }))
                }
            };
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return None;
            }
            let json_error = |message: String| IngestError::Json {
                path: path.to_path_buf(),
                line: line_no,
                message,
            };
            let text = match std::str::from_utf8(&bytes) {
                Ok(t) => t,
                Err(e) => {
                    let at = e.valid_up_to();
                    return Some(Err(json_error(format!("not valid UTF-8 at byte {at}"))));
                }
            };
            let value = match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => v,
                Err(e) => return Some(Err(json_error(e.to_string()))),
            };
            let fallback_guid = format!("{}#{line_no}", path.display());
            Some(record_item(path, Some(line_no), value, fallback_guid))
        });
    let mut records = records.peekable();
    if records.peek().is_none() {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Box::new(records))
}

fn record_item(
    path: &Path,
    line: Option<usize>,
    value: serde_json::Value,
    fallback_guid: String,
) -> Result<LocalItem, IngestError> {
    let json_err = |message: String| IngestError::Json {
        path: path.to_path_buf(),
        line: line.unwrap_or(1),
        message,
    };
    if !value.is_object() {
        return Err(json_err("expected a JSON object".into()));
    }
    let record: ArticleRecord =
        serde_json::from_value(value).map_err(|e| json_err(e.to_string()))?;
    let has = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    if !has(&record.title) && !has(&record.text) && !has(&record.html) && !has(&record.summary) {
        return Err(IngestError::NoText {
            path: path.to_path_buf(),
            line,
        });
    }
    let (source, source_title) = match record
        .source
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => (format!("source:{s}"), s.to_string()),
        None => ("files".to_string(), "Local files".to_string()),
    };
    let guid = record
        .id
        .clone()
        .filter(|g| !g.trim().is_empty())
        .unwrap_or(fallback_guid);
    let origin = match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    };
    Ok(LocalItem {
        raw: record.into_raw(),
        guid,
        source,
        source_title,
        origin,
    })
}

/// Longest first line still taken as a headline.
const HEADLINE_MAX_CHARS: usize = 250;

/// Plain text: a headline is the first line when a blank line follows it and it reads like a
/// headline (short, not a finished sentence); otherwise the whole text is body and the
/// normalizer derives the title.
pub fn parse_text(text: &str) -> RawArticle {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim();
    let second_blank = lines.next().is_some_and(|l| l.trim().is_empty());
    let headline = second_blank
        && !first.is_empty()
        && first.chars().count() <= HEADLINE_MAX_CHARS
        && !first.ends_with('.');
    if headline {
        let body = text.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
        RawArticle {
            title: Some(first.to_string()),
            content_text: Some(body.to_string()),
            ..Default::default()
        }
    } else {
        RawArticle {
            content_text: Some(text.to_string()),
            ..Default::default()
        }
    }
}

/// HTML page: readability finds the main text, title, byline and dates; a page it cannot read
/// (a fragment, a very short page) falls back to all of the body's text.
pub fn parse_html(html: &str) -> RawArticle {
    let cfg = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..Default::default()
    };
    let parsed = dom_smoothie::Readability::new(html, None, Some(cfg)).and_then(|mut r| r.parse());
    match parsed {
        Ok(article) if !article.text_content.trim().is_empty() => RawArticle {
            title: Some(article.title).filter(|t| !t.trim().is_empty()),
            author: article.byline,
            published: article
                .published_time
                .as_deref()
                .and_then(crate::model::parse_timestamp),
            updated: article
                .modified_time
                .as_deref()
                .and_then(crate::model::parse_timestamp),
            content_text: Some(article.text_content.to_string()),
            content_html: Some(article.content.to_string()),
            lang: article.lang,
            url: article.url,
            summary: article.excerpt,
            ..Default::default()
        },
        _ => {
            let doc = dom_query::Document::from(html);
            let title = doc.select("title").text().to_string();
            RawArticle {
                title: Some(title).filter(|t| !t.trim().is_empty()),
                content_html: Some(html.to_string()),
                ..Default::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_then_blank_line_is_a_title() {
        let raw = parse_text("US ready to talk: minister\n\n\nWASHINGTON: Talks began.\n\nMore.");
        assert_eq!(raw.title.as_deref(), Some("US ready to talk: minister"));
        assert!(raw
            .content_text
            .unwrap()
            .contains("WASHINGTON: Talks began."));
    }

    #[test]
    fn a_lede_is_not_a_title() {
        let raw = parse_text(
            "The heads of two departments say they are pushing for talks.\nSecond paragraph.",
        );
        assert_eq!(raw.title, None);
        let raw = parse_text("A finished sentence with a full stop.\n\nBody.");
        assert_eq!(raw.title, None);
    }

    #[test]
    fn sniffing_tells_formats_apart() {
        assert_eq!(sniff("{\"a\":1}\n{\"a\":2}\n"), Kind::JsonLines);
        assert_eq!(sniff("{\n \"title\": \"x\"\n}"), Kind::Json);
        assert_eq!(
            sniff("<!DOCTYPE html><html><body>x</body></html>"),
            Kind::Html
        );
        assert_eq!(sniff("Plain words.\n\nMore."), Kind::Text);
    }

    #[test]
    fn html_page_gives_title_and_text() {
        let html = "<html><head><title>Envoys meet</title></head><body><nav>Home | World</nav>\
            <article><h1>Envoys meet</h1><p>Diplomats from both countries met on Monday to discuss the border.</p>\
            <p>They agreed to meet again next month, officials said.</p></article></body></html>";
        let raw = parse_html(html);
        assert_eq!(raw.title.as_deref(), Some("Envoys meet"));
        let a = crate::normalize::normalize(raw).unwrap();
        assert!(
            a.body_text.contains("Diplomats from both countries"),
            "{}",
            a.body_text
        );
    }
}
