//! An RSS (0.90-2.x, 1.0) or Atom (0.3, 1.0) element tree -> feed facts and items, in document
//! order. Items are found wherever they are (`<rss><item>` without a channel, RSS 1.0 items
//! beside the channel); each field is read from every element that commonly carries it (Dublin
//! Core, the content module, iTunes, Media RSS, nonstandard bodies), first match by preference.

use super::dom::{Child, Node, Ns};
use crate::model::RawArticle;
use base64::Engine;
use chrono::{DateTime, Utc};
use url::Url;

/// The channel-level facts and the items' raw articles, before dedupe and the item cap.
pub struct Read {
    pub title: Option<String>,
    pub site_url: Option<Url>,
    pub language: Option<String>,
    pub ttl_minutes: Option<u64>,
    pub items: Vec<RawArticle>,
    /// `<item>`/`<entry>` elements seen, including those with nothing to store.
    pub elements: usize,
}

/// True for a root element that starts a feed.
pub fn is_feed_root(root: &Node) -> bool {
    matches!(root.name.as_str(), "rss" | "rdf" | "feed" | "channel")
}

pub fn read_feed(root: &Node, feed_url: &Url) -> Read {
    let base = xml_base(root, feed_url);
    let channel = if root.name == "feed" {
        root
    } else {
        root.elems().find(|n| n.name == "channel").unwrap_or(root)
    };
    let chan_base = xml_base(channel, &base);
    let language = first_text(channel, &[(Ns::Rss, "language"), (Ns::Dc, "language")])
        .or_else(|| root.attr("xml:lang").map(str::to_string))
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty());
    let mut read = Read {
        title: title(channel).map(|t| crate::normalize::markup_to_text(&t)),
        site_url: link(channel, &chan_base),
        language,
        ttl_minutes: first_text(channel, &[(Ns::Rss, "ttl")]).and_then(|t| t.trim().parse().ok()),
        items: Vec::new(),
        elements: 0,
    };
    let lang = read.language.clone();
    collect_items(root, &base, lang.as_deref(), &mut read);
    read
}

fn is_item(n: &Node) -> bool {
    (n.name == "item" && matches!(n.ns, Ns::Rss | Ns::Rdf))
        || (n.name == "entry" && matches!(n.ns, Ns::Atom | Ns::Rss))
}

fn collect_items(node: &Node, base: &Url, lang: Option<&str>, out: &mut Read) {
    for child in node.elems() {
        let base = xml_base(child, base);
        let lang = child.attr("xml:lang").or(lang);
        if is_item(child) {
            out.elements += 1;
            if let Some(item) = read_item(child, &base, lang) {
                out.items.push(item);
            }
        } else {
            collect_items(child, &base, lang, out);
        }
    }
}

fn xml_base(node: &Node, base: &Url) -> Url {
    node.attr("xml:base")
        .and_then(|b| base.join(b.trim()).ok())
        .unwrap_or_else(|| base.clone())
}

/// One item; None when it has nothing to store (no title, link or text).
fn read_item(item: &Node, base: &Url, lang: Option<&str>) -> Option<RawArticle> {
    let url = link(item, base).map(String::from);
    let title = title(item);
    let summary = summary(item);
    let (content_html, content_text) = match content(item) {
        Some(Text::Html(h)) => (Some(h.trim().to_string()), None),
        Some(Text::Plain(t)) => (None, Some(t.trim().to_string())),
        None => (None, None),
    };
    let published = first_date(
        item,
        &[
            (Ns::Rss, "pubdate"),
            (Ns::Atom, "published"),
            (Ns::Atom, "issued"),
            (Ns::Dc, "date"),
            (Ns::DcTerms, "issued"),
            (Ns::DcTerms, "created"),
            (Ns::Atom, "created"),
            (Ns::DcTerms, "date"),
        ],
    );
    let updated = first_date(
        item,
        &[
            (Ns::Atom, "updated"),
            (Ns::Atom, "modified"),
            (Ns::DcTerms, "modified"),
            (Ns::Rss, "updated"),
        ],
    )
    .filter(|u| Some(*u) != published);
    let guid = identity(
        item,
        url.as_deref(),
        title.as_deref(),
        published.or(updated),
    )
    .or_else(|| content_identity([&summary, &content_html, &content_text]))?;
    Some(RawArticle {
        guid: Some(guid),
        url,
        base_url: Some(base.clone()),
        title,
        author: author(item),
        published,
        updated,
        summary,
        content_html,
        content_text,
        lang: first_text(item, &[(Ns::Dc, "language")])
            .or_else(|| lang.map(str::to_string))
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| !l.is_empty()),
    })
}

/// The item's own id, else its link, else its title and date.
fn identity(
    item: &Node,
    url: Option<&str>,
    title: Option<&str>,
    date: Option<DateTime<Utc>>,
) -> Option<String> {
    first_text(
        item,
        &[
            (Ns::Atom, "id"),
            (Ns::Rss, "guid"),
            (Ns::Rss, "id"),
            (Ns::Dc, "identifier"),
        ],
    )
    .or_else(|| item.attr("rdf:about").map(str::to_string))
    .map(|id| id.trim().to_string())
    .filter(|id| !id.is_empty())
    .or_else(|| url.map(str::to_string))
    .or_else(|| {
        let t = crate::normalize::markup_to_text(title?);
        Some(match date {
            Some(d) => format!("{t} {}", d.to_rfc3339()),
            None => t,
        })
        .filter(|t| !t.trim().is_empty())
    })
}

/// An item with only a description: its identity is its text.
fn content_identity(texts: [&Option<String>; 3]) -> Option<String> {
    let mut h = blake3::Hasher::new();
    let mut any = false;
    for t in texts.into_iter().flatten() {
        any = true;
        h.update(t.trim().as_bytes());
        h.update(b"\0");
    }
    any.then(|| format!("content:{}", &h.finalize().to_hex()[..32]))
}

/// Text as a field holds it: HTML, or plain text that must not be read as markup.
enum Text {
    Html(String),
    Plain(String),
}

impl Text {
    /// As HTML, for fields normalize reads as markup (title, summary).
    fn into_html(self) -> String {
        match self {
            Text::Html(h) => h,
            Text::Plain(t) => html_escape::encode_text(&t).into_owned(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Text::Html(s) | Text::Plain(s) => s.trim().is_empty(),
        }
    }
}

fn title(node: &Node) -> Option<String> {
    node.elems()
        .find_map(|n| {
            let t = match (n.ns, n.name.as_str()) {
                (Ns::Atom, "title") => text_construct(n),
                (Ns::Rss | Ns::Dc, "title") => rss_title(n),
                _ => return None,
            };
            Some(t).filter(|t| !t.is_empty())
        })
        .or_else(|| media(node, "title"))
        .map(|t| t.into_html().trim().to_string())
}

fn summary(item: &Node) -> Option<String> {
    let found = item.elems().find_map(|n| {
        let t = match (n.ns, n.name.as_str()) {
            (Ns::Rss | Ns::Dc, "description") | (Ns::Rss, "abstract") => {
                Text::Html(unescape_twice(html_ish(n)))
            }
            (Ns::Atom, "summary") => text_construct(n),
            _ => return None,
        };
        Some(t).filter(|t| !t.is_empty())
    });
    found
        .or_else(|| {
            first_text(item, &[(Ns::Itunes, "summary"), (Ns::Itunes, "subtitle")]).map(Text::Plain)
        })
        .or_else(|| media(item, "description"))
        .map(|t| t.into_html().trim().to_string())
}

fn content(item: &Node) -> Option<Text> {
    let prefs: [(&[Ns], &str); 5] = [
        (&[Ns::Content], "encoded"),
        (&[Ns::Atom], "content"),
        (&[Ns::Rss, Ns::Xhtml], "body"),
        (&[Ns::Rss], "fullitem"),
        (&[Ns::Rss], "content"),
    ];
    prefs.iter().find_map(|(nss, name)| {
        let n = item
            .elems()
            .find(|n| n.name == *name && nss.contains(&n.ns))?;
        let t = match (n.ns, n.name.as_str()) {
            (Ns::Atom, _) if n.attr("src").is_some() => return None,
            (Ns::Atom, _) => text_construct(n),
            (_, "body") => Text::Html(n.inner_markup()),
            _ => Text::Html(unescape_twice(html_ish(n))),
        };
        Some(t).filter(|t| !t.is_empty())
    })
}

/// Media RSS title or description, on the item or in its `media:group`/`media:content`.
fn media(node: &Node, name: &str) -> Option<Text> {
    let direct = node.elems().find(|n| n.is(Ns::Media, name));
    let nested = || {
        node.elems()
            .filter(|g| g.ns == Ns::Media && matches!(g.name.as_str(), "group" | "content"))
            .find_map(|g| g.elems().find(|n| n.is(Ns::Media, name)))
    };
    let n = direct.or_else(nested)?;
    let t = if n
        .attr("type")
        .is_some_and(|t| t.eq_ignore_ascii_case("html"))
    {
        Text::Html(n.text())
    } else {
        Text::Plain(n.text())
    };
    Some(t).filter(|t| !t.is_empty())
}

/// RSS does not say whether a title is text or HTML. Readers take it as HTML only when it looks
/// like HTML: a closing tag or an entity, and only tags HTML has. "History of the <blink> tag"
/// is text.
fn rss_title(n: &Node) -> Text {
    if n.children.iter().any(|c| matches!(c, Child::Elem(_))) {
        return Text::Html(n.inner_markup());
    }
    let t = n.text();
    if !t.contains('<') || looks_like_html(&t) {
        Text::Html(t)
    } else {
        Text::Plain(t)
    }
}

fn looks_like_html(s: &str) -> bool {
    const ELEMENTS: &[&str] = &[
        "a",
        "abbr",
        "acronym",
        "address",
        "b",
        "big",
        "blockquote",
        "br",
        "center",
        "cite",
        "code",
        "dd",
        "del",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "td",
        "th",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
    ];
    let tags: Vec<String> = s
        .split('<')
        .skip(1)
        .map(|rest| {
            rest.trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect();
    let closes = s.contains("</");
    closes && tags.iter().all(|t| ELEMENTS.contains(&t.as_str()))
}

/// An RSS field that holds HTML: its text, or the markup a feed left unescaped inside it.
fn html_ish(n: &Node) -> String {
    if n.children.iter().any(|c| matches!(c, Child::Elem(_))) {
        n.inner_markup()
    } else {
        n.text()
    }
}

/// HTML escaped twice (`&amp;lt;p&amp;gt;`) arrives as `&lt;p&gt;` with no markup: a reader
/// shows that feed's markup as markup, so undo the second escaping.
fn unescape_twice(html: String) -> String {
    let tag_like = |rest: &str| rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
    let double =
        !html.contains('<') && html.contains("&gt;") && html.split("&lt;").skip(1).any(tag_like);
    if double {
        html_escape::decode_html_entities(&html).into_owned()
    } else {
        html
    }
}

/// An Atom 1.0 or 0.3 text construct (title, summary, content) by its `type` and `mode`.
fn text_construct(n: &Node) -> Text {
    let ty = n.attr("type").unwrap_or("").trim().to_ascii_lowercase();
    let mode = n.attr("mode").unwrap_or("").trim().to_ascii_lowercase();
    let xhtml = ty == "xhtml" || ty.ends_with("xhtml+xml");
    let html = !xhtml && (ty == "html" || ty.ends_with("/html"));
    let text = ty.is_empty() || ty == "text" || ty.starts_with("text/");
    let xml = ty.ends_with("+xml") || ty.ends_with("/xml");
    let as_type = |s: String| if html { Text::Html(s) } else { Text::Plain(s) };
    // Atom 0.3 multipart/alternative: the same text in several types; HTML is the richest.
    if ty.starts_with("multipart/") {
        let parts: Vec<&Node> = n.elems().filter(|c| c.name == "content").collect();
        let best = parts
            .iter()
            .find(|c| c.attr("type").is_some_and(|t| t.contains("html")))
            .or(parts.first());
        if let Some(part) = best {
            return text_construct(part);
        }
    }
    // RFC 4287 4.1.3.3: any other media type is base64; so is Atom 0.3's mode="base64".
    let binary_type = !(xhtml || html || text || xml);
    if mode == "base64" || binary_type {
        match base64_text(&n.text()) {
            Some(decoded) => return as_type(decoded),
            // An image or other binary: no text to store.
            None if binary_type => return Text::Plain(String::new()),
            None => {}
        }
    }
    let has_elems = n.children.iter().any(|c| matches!(c, Child::Elem(_)));
    if mode == "escaped" {
        return if xhtml {
            Text::Html(n.text())
        } else {
            as_type(n.text())
        };
    }
    if xhtml || xml || has_elems {
        return Text::Html(xhtml_inner(n));
    }
    as_type(n.text())
}

/// Inline XHTML: the children of the wrapping `<div>` (RFC 4287 4.1.3.3), else all children.
fn xhtml_inner(n: &Node) -> String {
    let mut elems = n.elems();
    let only_div = match (elems.next(), elems.next()) {
        (Some(d), None) if d.name == "div" => {
            let text_outside = n
                .children
                .iter()
                .any(|c| matches!(c, Child::Text(t) if !t.trim().is_empty()));
            (!text_outside).then_some(d)
        }
        _ => None,
    };
    only_div.unwrap_or(n).inner_markup()
}

fn base64_text(s: &str) -> Option<String> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The item's (or channel's) link: an Atom-style alternate `href`, the RSS `<link>` text, a
/// permalink guid, then an http(s) `rdf:about`; resolved against `base` (and the link's own
/// `xml:base`).
fn link(node: &Node, base: &Url) -> Option<Url> {
    let href = node
        .elems()
        .filter(|n| n.name == "link" && matches!(n.ns, Ns::Atom | Ns::Rss))
        .filter(|n| {
            n.attr("rel")
                .is_none_or(|r| r.trim().is_empty() || r.eq_ignore_ascii_case("alternate"))
        })
        .map(|n| {
            let href = match n.attr("href") {
                Some(h) => h.trim().to_string(),
                None => n.text().trim().to_string(),
            };
            (href, xml_base(n, base))
        })
        .find(|(h, _)| !h.is_empty())
        .and_then(|(h, b)| b.join(&h).ok());
    let permalink = || {
        let g = node.elems().find(|n| n.is(Ns::Rss, "guid"))?;
        if g.attr("ispermalink")
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("false"))
        {
            return None;
        }
        Url::parse(g.text().trim())
            .ok()
            .filter(|u| is_http(u.as_str()))
    };
    let about = || {
        node.attr("rdf:about")
            .and_then(|a| Url::parse(a.trim()).ok())
            .filter(|u| is_http(u.as_str()))
    };
    // CDF (Microsoft's Channel Definition Format) puts the link on the item: `<ITEM HREF=...>`.
    let cdf = || node.attr("href").and_then(|h| base.join(h.trim()).ok());
    href.or_else(permalink).or_else(about).or_else(cdf)
}

fn is_http(s: &str) -> bool {
    let l = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

fn author(item: &Node) -> Option<String> {
    item.elems()
        .find_map(|n| {
            match (n.ns, n.name.as_str()) {
                (Ns::Atom | Ns::Rss, "author") => {
                    let name = n.elems().find(|c| c.name == "name").map(Node::text);
                    Some(name.unwrap_or_else(|| n.text()))
                }
                (Ns::Dc, "creator" | "author") | (Ns::Itunes, "author") => Some(n.text()),
                _ => None,
            }
            .filter(|a| !a.trim().is_empty())
        })
        .map(|a| clean_author(&a))
}

/// `mail@x (Name)` -> `Name`; a bare `(Name)` likewise. Other parentheses are part of the name.
fn clean_author(name: &str) -> String {
    let n = name.trim();
    let inner = n
        .strip_suffix(')')
        .and_then(|s| s.split_once('('))
        .filter(|(before, _)| before.trim().is_empty() || before.contains('@'))
        .map(|(_, inner)| inner.trim())
        .filter(|i| !i.is_empty());
    inner.unwrap_or(n).to_string()
}

fn first_text(node: &Node, prefs: &[(Ns, &str)]) -> Option<String> {
    prefs.iter().find_map(|(ns, name)| {
        node.elems()
            .find(|n| n.is(*ns, name))
            .map(Node::text)
            .filter(|t| !t.trim().is_empty())
    })
}

fn first_date(node: &Node, prefs: &[(Ns, &str)]) -> Option<DateTime<Utc>> {
    prefs.iter().find_map(|(ns, name)| {
        node.elems()
            .filter(|n| n.is(*ns, name))
            .find_map(|n| parse_date(&n.text()))
    })
}

/// RFC 822/2822 and W3C-DTF/RFC 3339 dates as feeds write them, partial ones included.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = crate::model::parse_timestamp(s) {
        return Some(t);
    }
    // RFC 822 with a two-digit year, no seconds, no weekday, or a zone chrono does not know.
    let cleaned = s.replace(" UT", " GMT").replace(" Z", " GMT");
    let cleaned = cleaned
        .trim_start_matches(|c: char| c.is_alphabetic() || c == ',')
        .trim();
    for fmt in [
        "%d %b %Y %H:%M:%S %z",
        "%d %b %Y %H:%M %z",
        "%d %b %y %H:%M:%S %z",
        "%d %b %y %H:%M %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&zone_to_offset(cleaned), fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    // No zone at all is read as UTC; asctime() too.
    for (text, fmt) in [
        (cleaned, "%d %b %Y %H:%M:%S"),
        (cleaned, "%d %b %Y %H:%M"),
        (cleaned, "%d %b %y %H:%M:%S"),
        (s, "%a %b %e %H:%M:%S %Y"),
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Some(t.and_utc());
        }
    }
    w3cdtf(s)
}

fn zone_to_offset(s: &str) -> String {
    let (head, zone) = s.rsplit_once(' ').unwrap_or((s, ""));
    let off = match zone.to_ascii_uppercase().as_str() {
        "GMT" | "UTC" | "UT" | "Z" => "+0000",
        "EST" => "-0500",
        "EDT" => "-0400",
        "CST" => "-0600",
        "CDT" => "-0500",
        "MST" => "-0700",
        "MDT" => "-0600",
        "PST" => "-0800",
        "PDT" => "-0700",
        _ => return s.to_string(),
    };
    format!("{head} {off}")
}

/// W3C-DTF: `2003-12-13T18:30Z`, `2003-12-13T18:30:02.25+01:00`, `2003-12-13`, `2003-12`,
/// `2003`; the basic form `20031213T183002Z` too.
fn w3cdtf(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().replace(' ', "T");
    let s = s.strip_suffix('z').map(|x| format!("{x}Z")).unwrap_or(s);
    for fmt in [
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y%m%dT%H%M%S%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&s.replace('Z', "+00:00"), fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&s, fmt) {
            return Some(t.and_utc());
        }
    }
    let date = match s.len() {
        4 => format!("{s}-01-01"),
        7 => format!("{s}-01"),
        8 if s.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..])
        }
        _ => s.split('T').next().unwrap_or("").to_string(),
    };
    chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_feeds_use() {
        let want = |s: &str| parse_date(s).map(|d| d.to_rfc3339());
        assert_eq!(
            want("Sat, 13 Dec 2003 18:30:02 GMT").as_deref(),
            Some("2003-12-13T18:30:02+00:00")
        );
        assert_eq!(
            want("13 Dec 03 18:30 EST").as_deref(),
            Some("2003-12-13T23:30:00+00:00")
        );
        assert_eq!(
            want("2003-12-13T18:30Z").as_deref(),
            Some("2003-12-13T18:30:00+00:00")
        );
        assert_eq!(
            want("2003-12-13T18:30:02.25+01:00").as_deref(),
            Some("2003-12-13T17:30:02.250+00:00")
        );
        assert_eq!(
            want("2003-12").as_deref(),
            Some("2003-12-01T00:00:00+00:00")
        );
        assert_eq!(want("2003").as_deref(), Some("2003-01-01T00:00:00+00:00"));
        assert_eq!(
            want("Thu, 01 Jan 2004 19:48:21").as_deref(),
            Some("2004-01-01T19:48:21+00:00")
        );
        assert_eq!(
            want("Thu Jan  1 19:48:21 2004").as_deref(),
            Some("2004-01-01T19:48:21+00:00")
        );
        assert_eq!(
            want("20040101T194821Z").as_deref(),
            Some("2004-01-01T19:48:21+00:00")
        );
        // A weekday that does not match the date does not lose the date.
        assert_eq!(
            want("Wed, 19 jan 2026 00:00:00 GMT").as_deref(),
            Some("2026-01-19T00:00:00+00:00")
        );
        assert_eq!(want("yesterday"), None);
    }
}
