//! Feed bytes -> text. The reader works on a Rust string, so the encoding is settled here, once:
//! a BOM first, then the byte pattern of `<?xml` in UTF-16/UTF-32 without a BOM, then what the
//! declaration, the HTTP header and the bytes themselves say (see `prolog`).

use super::prolog;
use encoding_rs::Encoding;

/// Decode a feed document to text. Never fails: undecodable bytes become U+FFFD, as in a browser.
pub fn to_text(body: &[u8], http_enc: Option<&'static Encoding>) -> String {
    let text = match wide_encoding(body) {
        Some((Wide::Utf32 { big_endian }, skip)) => utf32(&body[skip..], big_endian),
        Some((Wide::Utf16(enc), skip)) => enc.decode_without_bom_handling(&body[skip..]).0.into(),
        None => narrow(body, http_enc),
    };
    demoronize(text)
}

enum Wide {
    Utf16(&'static Encoding),
    Utf32 { big_endian: bool },
}

/// UTF-16 or UTF-32, from a BOM or from how `<` is laid out in the first bytes; with the number
/// of BOM bytes to skip.
fn wide_encoding(b: &[u8]) -> Option<(Wide, usize)> {
    let head: [u8; 4] = match b.get(..4) {
        Some(h) => [h[0], h[1], h[2], h[3]],
        None => return None,
    };
    match head {
        [0xFF, 0xFE, 0, 0] => Some((Wide::Utf32 { big_endian: false }, 4)),
        [0, 0, 0xFE, 0xFF] => Some((Wide::Utf32 { big_endian: true }, 4)),
        [0, 0, 0, b'<'] => Some((Wide::Utf32 { big_endian: true }, 0)),
        [b'<', 0, 0, 0] => Some((Wide::Utf32 { big_endian: false }, 0)),
        [0xFE, 0xFF, _, _] => Some((Wide::Utf16(encoding_rs::UTF_16BE), 2)),
        [0xFF, 0xFE, _, _] => Some((Wide::Utf16(encoding_rs::UTF_16LE), 2)),
        [0, b'<', 0, _] => Some((Wide::Utf16(encoding_rs::UTF_16BE), 0)),
        [b'<', 0, _, 0] => Some((Wide::Utf16(encoding_rs::UTF_16LE), 0)),
        _ => by_zero_bytes(&b[..b.len().min(256)]),
    }
}

/// No BOM and no `<` first (leading whitespace, say): ASCII markup in UTF-16 or UTF-32 leaves
/// zero bytes in fixed lanes, which no single-byte or UTF-8 document has.
fn by_zero_bytes(head: &[u8]) -> Option<(Wide, usize)> {
    let zeros_in_lane = |lanes: usize, lane: usize| {
        head.iter()
            .skip(lane)
            .step_by(lanes)
            .filter(|b| **b == 0)
            .count()
    };
    let quads = head.len() / 4;
    if quads < 4 {
        return None;
    }
    // UTF-32: the two high bytes of every BMP character are zero.
    let all = |n: usize| n * 10 >= quads * 9;
    if all(zeros_in_lane(4, 0)) && all(zeros_in_lane(4, 1)) {
        return Some((Wide::Utf32 { big_endian: true }, 0));
    }
    if all(zeros_in_lane(4, 2)) && all(zeros_in_lane(4, 3)) {
        return Some((Wide::Utf32 { big_endian: false }, 0));
    }
    // UTF-16: the high byte of ASCII markup is zero; half the characters is plenty.
    let half = |n: usize| n >= quads;
    if half(zeros_in_lane(2, 1)) {
        return Some((Wide::Utf16(encoding_rs::UTF_16LE), 0));
    }
    if half(zeros_in_lane(2, 0)) {
        return Some((Wide::Utf16(encoding_rs::UTF_16BE), 0));
    }
    None
}

fn utf32(b: &[u8], big_endian: bool) -> String {
    b.chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            let n = if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            };
            char::from_u32(n).unwrap_or('\u{fffd}')
        })
        .collect()
}

/// An ASCII-compatible encoding. Bytes that are valid UTF-8 with non-ASCII text but declare a
/// legacy single-byte encoding are UTF-8 (a lie in the declaration: real legacy text is
/// essentially never valid UTF-8), so they are not turned into mojibake.
fn narrow(body: &[u8], http_enc: Option<&'static Encoding>) -> String {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if let Ok(s) = std::str::from_utf8(body) {
        return s.to_string();
    }
    // A declaration of UTF-8 on bytes that are not is wrong; so is UTF-16 on single-byte markup.
    match prolog::declared_encoding(body) {
        Some(enc)
            if ![
                encoding_rs::UTF_8,
                encoding_rs::UTF_16LE,
                encoding_rs::UTF_16BE,
            ]
            .contains(&enc) =>
        {
            enc.decode_without_bom_handling(body).0.into_owned()
        }
        _ => guess(body, http_enc),
    }
}

/// Undeclared or wrongly declared non-UTF-8 bytes: the HTTP charset if the bytes are valid in it,
/// else a sniffed guess (decoding with replacement characters rather than failing the feed).
fn guess(body: &[u8], http_enc: Option<&'static Encoding>) -> String {
    if let Some(enc) = http_enc.filter(|e| *e != encoding_rs::UTF_8) {
        let (text, had_errors) = enc.decode_without_bom_handling(body);
        if !had_errors {
            return text.into_owned();
        }
    }
    prolog::sniff(body)
        .decode_without_bom_handling(body)
        .0
        .into_owned()
}

/// C1 control characters (U+0080-U+009F) in feed text are windows-1252 read as ISO-8859-1
/// (or a numeric reference to one): browsers show them as windows-1252, and so do we.
pub fn demoronize(text: String) -> String {
    if !text.chars().any(is_c1) {
        return text;
    }
    text.chars().map(c1_to_cp1252).collect()
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

pub fn c1_to_cp1252(c: char) -> char {
    if !is_c1(c) {
        return c;
    }
    let byte = [c as u32 as u8];
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
    // The five bytes windows-1252 leaves undefined decode to themselves: keep them.
    text.chars().next().unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_encodings_with_and_without_bom() {
        let doc = "<rss><channel><title>Zürich</title></channel></rss>";
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(to_text(&be, None), doc);
        let with_bom = [&[0xFE, 0xFF][..], &be].concat();
        assert_eq!(to_text(&with_bom, None), doc);
        let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(to_text(&le, None), doc);
        // Leading whitespace before the markup, no BOM.
        let spaced = format!("\n  {doc}");
        let le: Vec<u8> = spaced.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(to_text(&le, None), spaced);
        let be: Vec<u8> = spaced.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(to_text(&be, None), spaced);
        let be32: Vec<u8> = spaced
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        assert_eq!(to_text(&be32, None), spaced);
        let le32: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        assert_eq!(to_text(&le32, None), doc);
        let be32: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        let with_bom = [&[0, 0, 0xFE, 0xFF][..], &be32].concat();
        assert_eq!(to_text(&with_bom, None), doc);
    }

    #[test]
    fn c1_controls_are_windows_1252() {
        assert_eq!(demoronize("it\u{92}s".into()), "it\u{2019}s");
        assert_eq!(demoronize("plain".into()), "plain");
        let latin1 = b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><rss>it\x92s</rss>";
        assert!(to_text(latin1, None).contains("it\u{2019}s"));
    }
}
