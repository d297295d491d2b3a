//! The first bytes of a feed document: BOM, XML declaration, root start tag. feed-rs decides the
//! encoding and the format from these, and a few real feeds get them wrong in ways it does not
//! forgive, so we look before handing the bytes over:
//! - which encoding the document declares (and the HTTP header says), to transcode when feed-rs
//!   would fail or produce mojibake;
//! - whether the document is an HTML page, to say so instead of "no feed root";
//! - the root `xml:base`, the base for relative links inside item content;
//! - two root repairs: the old UserLand default namespace on `<rss>` (feed-rs then sees no RSS
//!   elements at all), and `<rss>` with no `version` (feed-rs does not recognise it).
//!
//! Everything here works on bytes in an ASCII-compatible encoding: the markup we look at is ASCII
//! in all of them. UTF-16 documents carry a BOM and are left to feed-rs.

use encoding_rs::Encoding;
use std::borrow::Cow;

/// How far into the document the prolog and root start tag may be (comments, stylesheet PIs and a
/// long namespace list included).
const PROLOG_WINDOW: usize = 8 * 1024;

/// Default namespaces from the days of UserLand RSS 2.0 drafts. Browsers and lenient parsers
/// ignore them; feed-rs treats the elements as foreign and finds no items.
const USERLAND_NAMESPACES: [&[u8]; 2] = [
    b" xmlns=\"http://backend.userland.com/rss2\"",
    b" xmlns=\"http://backend.userland.com/rss\"",
];

/// The encoding named in the XML declaration, if there is a declaration with a known label.
pub fn declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let (start, end) = declaration_span(body)?;
    let decl = &body[start..end];
    let value = attr_value(decl, b"encoding")?;
    Encoding::for_label(value)
}

/// True when the document starts with an XML declaration.
pub fn has_declaration(body: &[u8]) -> bool {
    declaration_span(body).is_some()
}

/// The `charset` parameter of a Content-Type header value.
pub fn http_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        Encoding::for_label(v.trim().trim_matches(['"', '\'']).as_bytes())
    })
}

/// Decode `body` as `enc` into UTF-8, with the declaration (if any) rewritten to say UTF-8.
/// Returns None when the bytes are not valid in `enc` (a wrong guess).
pub fn transcode_to_utf8(body: &[u8], enc: &'static Encoding) -> Option<Vec<u8>> {
    let (text, had_errors) = enc.decode_without_bom_handling(body);
    if had_errors {
        return None;
    }
    let mut bytes = text.into_owned().into_bytes();
    if let Some((start, end)) = declaration_span(&bytes) {
        let decl = String::from_utf8_lossy(&bytes[start..end]).into_owned();
        let rewritten = match find_attr(decl.as_bytes(), b"encoding") {
            Some((vs, ve)) => format!("{}UTF-8{}", &decl[..vs], &decl[ve..]),
            None => decl,
        };
        bytes.splice(start..end, rewritten.into_bytes());
    }
    Some(bytes)
}

/// The most likely encoding of undeclared bytes (chardetng, fed the whole document: feeds are
/// small and the guess is better with more text).
pub fn sniff(body: &[u8]) -> &'static Encoding {
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(body, true);
    // Only called for bytes that are not valid UTF-8.
    det.guess(None, chardetng::Utf8Detection::Deny)
}

/// The name of the first element (after comments, PIs and the doctype), lower-cased.
pub fn root_name(body: &[u8]) -> Option<String> {
    let (start, end) = root_tag_span(body)?;
    let tag = &body[start + 1..end];
    let name_end = tag
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
        .unwrap_or(tag.len());
    Some(String::from_utf8_lossy(&tag[..name_end]).to_ascii_lowercase())
}

/// The root element's `xml:base`, if any.
pub fn root_xml_base(body: &[u8]) -> Option<String> {
    let (start, end) = root_tag_span(body)?;
    let v = attr_value(&body[start..end], b"xml:base")?;
    Some(String::from_utf8_lossy(v).into_owned())
}

/// Repair the root start tag where feed-rs would otherwise reject or empty a readable feed.
pub fn repair_root(body: &[u8]) -> Cow<'_, [u8]> {
    let Some((start, end)) = root_tag_span(body) else {
        return Cow::Borrowed(body);
    };
    let tag = &body[start..end];
    let is_rss = tag.len() > 4
        && tag[1..4].eq_ignore_ascii_case(b"rss")
        && (tag[4].is_ascii_whitespace() || tag[4] == b'>');
    if !is_rss {
        return Cow::Borrowed(body);
    }
    let mut new_tag = tag.to_vec();
    for ns in USERLAND_NAMESPACES {
        if let Some(pos) = find(&new_tag, ns) {
            new_tag.drain(pos..pos + ns.len());
        }
    }
    // Only a tag with no version at all: a prefixed or unquoted one means broken markup, which
    // should fail as such.
    if find(&new_tag, b"version").is_none() {
        new_tag.splice(4..4, b" version=\"2.0\"".iter().copied());
    }
    if new_tag == tag {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(&body[..start]);
    out.extend_from_slice(&new_tag);
    out.extend_from_slice(&body[end..]);
    Cow::Owned(out)
}

/// Byte span of `<?xml ... ?>` when the document starts with it (after a BOM or whitespace).
fn declaration_span(body: &[u8]) -> Option<(usize, usize)> {
    let window = &body[..body.len().min(PROLOG_WINDOW)];
    let start = find(window, b"<?xml")?;
    // Only a declaration before the root counts; a PI inside the document is not one.
    if let Some((root, _)) = root_tag_span(body) {
        if root < start {
            return None;
        }
    }
    let end = find(&window[start..], b"?>")? + start + 2;
    Some((start, end))
}

/// Byte span of the root element's start tag, `<name ...>`.
fn root_tag_span(body: &[u8]) -> Option<(usize, usize)> {
    let window = &body[..body.len().min(PROLOG_WINDOW)];
    let mut i = 0;
    while let Some(off) = window[i..].iter().position(|b| *b == b'<') {
        let at = i + off;
        let rest = &window[at..];
        let skip_to = if rest.starts_with(b"<!--") {
            find(rest, b"-->").map(|e| e + 3)
        } else if rest.starts_with(b"<?") {
            find(rest, b"?>").map(|e| e + 2)
        } else if rest.starts_with(b"<!") {
            find(rest, b">").map(|e| e + 1)
        } else {
            let end = find(rest, b">")? + 1;
            return Some((at, at + end));
        };
        i = at + skip_to?;
    }
    None
}

/// The value of attribute `name` in a tag or declaration.
fn attr_value<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    find_attr(tag, name).map(|(s, e)| &tag[s..e])
}

/// Byte span of the (quoted) value of attribute `name`.
fn find_attr(tag: &[u8], name: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(off) = find(&tag[from..], name) {
        let at = from + off;
        from = at + name.len();
        let preceded_ok = at > 0 && tag[at - 1].is_ascii_whitespace();
        let mut j = at + name.len();
        while j < tag.len() && tag[j].is_ascii_whitespace() {
            j += 1;
        }
        if !preceded_ok || tag.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < tag.len() && tag[j].is_ascii_whitespace() {
            j += 1;
        }
        let quote = *tag.get(j)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let vs = j + 1;
        let ve = vs + tag[vs..].iter().position(|b| *b == quote)?;
        return Some((vs, ve));
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_declaration_and_http_charset() {
        let doc = b"<?xml version='1.0' encoding='windows-1251'?><rss version=\"2.0\"/>";
        assert_eq!(declared_encoding(doc), Some(encoding_rs::WINDOWS_1251));
        assert_eq!(declared_encoding(b"<rss version=\"2.0\"/>"), None);
        // A PI after the root is not a declaration.
        assert_eq!(
            declared_encoding(b"<rss><?xml encoding=\"koi8-r\"?></rss>"),
            None
        );
        assert_eq!(
            http_charset("text/xml; charset=\"ISO-8859-1\""),
            Some(encoding_rs::WINDOWS_1252)
        );
        assert_eq!(http_charset("application/rss+xml"), None);
    }

    #[test]
    fn transcodes_and_rewrites_declaration() {
        let doc =
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><title>Not\xedcias</title></rss>";
        let out = transcode_to_utf8(doc, encoding_rs::WINDOWS_1252).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss><title>Notícias</title></rss>"
        );
        assert!(transcode_to_utf8(b"\xff\xfe", encoding_rs::UTF_8).is_none());
    }

    #[test]
    fn finds_root_after_comments_and_pis() {
        let doc =
            b"<!-- hi <rss> -->\n<?xml-stylesheet href='a'?><!DOCTYPE html><HTML lang=en><body>";
        assert_eq!(root_name(doc).as_deref(), Some("html"));
        assert_eq!(root_name(b"  ").as_deref(), None);
        let doc = b"<rss version=\"2.0\" xml:base=\"https://ex.test/a/\">";
        assert_eq!(root_xml_base(doc).as_deref(), Some("https://ex.test/a/"));
    }

    #[test]
    fn repairs_userland_namespace_and_missing_version() {
        let doc = b"<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\" xmlns:y=\"u\"><channel/></rss>";
        let fixed = repair_root(doc);
        assert_eq!(
            &*fixed,
            &b"<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:y=\"u\"><channel/></rss>"[..]
        );
        let fixed = repair_root(b"<rss>\n<channel/></rss>");
        assert_eq!(&*fixed, &b"<rss version=\"2.0\">\n<channel/></rss>"[..]);
        let untouched = b"<feed xmlns=\"http://www.w3.org/2005/Atom\"/>";
        assert!(matches!(repair_root(untouched), Cow::Borrowed(_)));
        // `<rssfeed>` is not `<rss>`.
        assert!(matches!(repair_root(b"<rssfeed/>"), Cow::Borrowed(_)));
    }
}
