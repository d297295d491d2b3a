//! The first bytes of a feed document: XML declaration and root start tag, read before the
//! document is decoded: which encoding it declares (and the HTTP header says), and whether it is
//! an HTML page rather than a feed.
//!
//! Everything here works on bytes in an ASCII-compatible encoding: the markup we look at is ASCII
//! in all of them. UTF-16 and UTF-32 are recognised before (`decode`).

use encoding_rs::Encoding;

/// How far into the document the prolog and root start tag may be (comments, stylesheet PIs and a
/// long namespace list included).
const PROLOG_WINDOW: usize = 8 * 1024;

/// The encoding named in the XML declaration, if there is a declaration with a known label.
pub fn declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let (start, end) = declaration_span(body)?;
    let decl = &body[start..end];
    let value = attr_value(decl, b"encoding")?;
    Encoding::for_label(value)
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
    fn finds_root_after_comments_and_pis() {
        let doc =
            b"<!-- hi <rss> -->\n<?xml-stylesheet href='a'?><!DOCTYPE html><HTML lang=en><body>";
        assert_eq!(root_name(doc).as_deref(), Some("html"));
        assert_eq!(root_name(b"  ").as_deref(), None);
    }
}
