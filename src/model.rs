//! The article as it travels along the pipeline: `RawArticle` (what a feed item or a local file
//! gave us, untrusted) -> `Article` (normalized, ready for dedupe, tagging and storage).
//!
//! These are plain data types on purpose: every stage is a function from one to the next, so
//! stages can be tested and benchmarked without a network or a database.

use chrono::{DateTime, Utc};

/// An article as a source delivered it, before any cleaning. Every field is optional because
/// real feeds omit anything they can.
#[derive(Debug, Clone, Default)]
pub struct RawArticle {
    /// The source's own identity for the item (RSS guid, Atom id, JSON Feed id, record id, file
    /// path). Never a parser-generated hash: see `fetch::parse`.
    pub guid: Option<String>,
    /// Link to the article as given (may be relative to `base_url`).
    pub url: Option<String>,
    /// Base for resolving relative links (xml:base, the feed URL, the site URL).
    pub base_url: Option<url::Url>,
    pub title: Option<String>,
    pub author: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Short description; may contain HTML.
    pub summary: Option<String>,
    /// Full content as HTML (feed `content:encoded`, Atom content, an HTML file).
    pub content_html: Option<String>,
    /// Full content as plain text (a text file, a JSON record's `text`).
    pub content_text: Option<String>,
    /// Declared language (feed or item `language`), e.g. "en-us".
    pub lang: Option<String>,
}

impl RawArticle {
    /// A hash of everything the feed said about the item, to tell an item that comes back
    /// unchanged from one that was edited. Only compared with itself, never across releases'
    /// normalisation, so it hashes the raw fields.
    pub fn item_hash(&self) -> String {
        let mut h = blake3::Hasher::new();
        let fields = [
            self.url.as_deref(),
            self.title.as_deref(),
            self.author.as_deref(),
            self.summary.as_deref(),
            self.content_html.as_deref(),
            self.content_text.as_deref(),
            self.lang.as_deref(),
        ];
        for f in fields {
            // Length-prefixed, so moving text between fields changes the hash.
            let f = f.unwrap_or("");
            h.update(&(f.len() as u64).to_le_bytes());
            h.update(f.as_bytes());
        }
        for t in [self.published, self.updated] {
            h.update(&t.map_or(i64::MIN, |t| t.timestamp()).to_le_bytes());
        }
        h.finalize().to_hex()[..32].to_string()
    }
}

/// A normalized article: clean text, canonical URL, UTC times, derived title. Produced by
/// `normalize::normalize`, consumed by dedupe, tag and store.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub guid: Option<String>,
    /// Absolute URL as published (fragment kept off).
    pub url: Option<String>,
    /// URL used for identity: lower-cased scheme and host, no default port, no fragment, no
    /// tracking parameters.
    pub canonical_url: Option<String>,
    pub title: String,
    /// True when the source had no headline and `title` was taken from the first sentence.
    pub title_derived: bool,
    pub author: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Plain-text summary (entities decoded, whitespace normalized), if the source had one
    /// distinct from the body.
    pub summary: Option<String>,
    /// Plain-text body: paragraphs separated by one blank line, whitespace collapsed.
    pub body_text: String,
    /// Sanitised HTML body, when the source had HTML.
    pub body_html: Option<String>,
    /// ISO 639-1 code where known (declared, else detected), else ISO 639-3.
    pub lang: Option<String>,
    /// blake3 hex of the body with boilerplate lines removed and case/whitespace folded.
    pub content_hash: String,
}

impl Article {
    /// The text that identifies the story for dedupe and tagging: title, then summary, then body,
    /// with boilerplate lines removed. Computed on demand; callers that need it twice keep it.
    pub fn identity_text(&self) -> String {
        let mut out = String::with_capacity(self.title.len() + self.body_text.len() + 2);
        if !self.title_derived {
            out.push_str(&self.title);
            out.push('\n');
        }
        for line in self.body_text.lines() {
            if !crate::normalize::is_boilerplate_line(line) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// One article record of a JSON Lines file (the shape of the corpus' `articles.jsonl`), or a
/// single JSON object dropped in as a file. Unknown fields are ignored: records come from many
/// tools.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ArticleRecord {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Plain-text body. `body` and `content` are accepted as other names for it.
    #[serde(default, alias = "body", alias = "content")]
    pub text: Option<String>,
    /// HTML body, when the record carries markup instead of text.
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default, alias = "link")]
    pub url: Option<String>,
    /// Publication time: RFC 3339, RFC 2822, or a plain date.
    #[serde(default, alias = "published_at", alias = "date")]
    pub published: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default, alias = "description")]
    pub summary: Option<String>,
    #[serde(default, alias = "language")]
    pub lang: Option<String>,
    /// Where the record came from (an outlet or data set); becomes the sighting's source.
    #[serde(default)]
    pub source: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::Deserialize;
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

impl ArticleRecord {
    /// The record as a raw article. A `published` value that does not parse is dropped rather
    /// than failing the record: the text is what matters.
    pub fn into_raw(self) -> RawArticle {
        RawArticle {
            guid: self.id,
            url: self.url,
            base_url: None,
            title: self.title,
            author: self.author,
            published: self.published.as_deref().and_then(parse_timestamp),
            updated: None,
            summary: self.summary,
            content_html: self.html,
            content_text: self.text,
            lang: self.lang,
        }
    }
}

/// Parse the timestamp shapes found in the wild: RFC 3339, RFC 2822, `YYYY-MM-DD HH:MM:SS`
/// (taken as UTC) and a bare date.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    None
}
