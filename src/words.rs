//! Word segmentation (Unicode UAX #29 word boundaries, as `unicode-segmentation` implements
//! them) with a fast path for ASCII text. The general segmenter's table lookups were the
//! largest cost of both the content hash and the dedupe fingerprint, and almost every line of
//! English news is ASCII; the ASCII subset of the rules is short, and tests hold it to the
//! general segmenter on the whole corpus and on random strings.

use std::borrow::Cow;
use unicode_segmentation::UnicodeSegmentation;

/// Characters that do not show and say nothing: zero-width space, non-joiner and joiner
/// (U+200B-U+200D), word joiner (U+2060), soft hyphen and a byte-order mark inside text.
/// Wire copy and some publishing systems put them inside words ("Palest\u{ad}inian"), so two
/// copies of one text differ only by them; every word, hash and fingerprint leaves them out.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{ad}' | '\u{feff}'
    )
}

/// `s` without its invisible characters (borrowed when it has none, as almost all text).
pub fn strip_invisible(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || !s.chars().any(is_invisible) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().filter(|&c| !is_invisible(c)).collect())
}

/// Calls `f` with each word of `text`, lower-cased: exactly
/// `strip_invisible(text).unicode_words().map(str::to_lowercase)`.
pub fn lowercase_words(text: &str, scratch: &mut String, mut f: impl FnMut(&str)) {
    let text = strip_invisible(text);
    if text.is_ascii() {
        scratch.clear();
        scratch.push_str(&text);
        scratch.make_ascii_lowercase();
        ascii_words(scratch, f);
    } else {
        for w in text.unicode_words() {
            f(&w.to_lowercase());
        }
    }
}

/// The UAX #29 words of lower-case ASCII text (segments holding a letter or digit), for
/// callers that have already brought their text to that form.
pub fn ascii_words(text: &str, mut f: impl FnMut(&str)) {
    debug_assert!(text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()));
    let b = text.as_bytes();
    let class = |i: usize| b.get(i).map_or(Class::Other, |&c| Class::of(c));
    let mut i = 0;
    while i < b.len() {
        if !class(i).is_word() {
            i += 1;
            continue;
        }
        let start = i;
        let mut alnum = false;
        loop {
            let c = class(i);
            if c.is_word() {
                alnum |= c != Class::Connector;
                i += 1;
                continue;
            }
            // A middle mark joins only between two letters or two digits (WB6/7, WB11/12),
            // looking at the characters right next to it.
            let (prev, next) = (class(i - 1), class(i + 1));
            let joins = match c {
                Class::MidLetter => prev == Class::Letter && next == Class::Letter,
                Class::MidNum => prev == Class::Digit && next == Class::Digit,
                Class::MidNumLet => prev == next && matches!(prev, Class::Letter | Class::Digit),
                _ => false,
            };
            if !joins {
                break;
            }
            i += 1;
        }
        if alnum {
            f(&text[start..i]);
        }
    }
}

/// Word_Break classes of lower-case ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    /// `_` (ExtendNumLet): joins with letters, digits and itself, but is not a word alone.
    Connector,
    MidLetter,
    MidNum,
    MidNumLet,
    Other,
}

impl Class {
    fn of(b: u8) -> Class {
        match b {
            b'a'..=b'z' => Class::Letter,
            b'0'..=b'9' => Class::Digit,
            b'_' => Class::Connector,
            b':' => Class::MidLetter,
            b',' | b';' => Class::MidNum,
            b'.' | b'\'' => Class::MidNumLet,
            _ => Class::Other,
        }
    }

    fn is_word(self) -> bool {
        matches!(self, Class::Letter | Class::Digit | Class::Connector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        lowercase_words(text, &mut String::new(), |w| out.push(w.to_owned()));
        out
    }

    fn slow(text: &str) -> Vec<String> {
        strip_invisible(text)
            .unicode_words()
            .map(str::to_lowercase)
            .collect()
    }

    #[test]
    fn invisible_characters_are_not_part_of_words() {
        let plain = fast("Palestinian officials met in Doha");
        for marked in [
            "Palest\u{ad}inian officials met in Doha",
            "Pales\u{200b}tinian offi\u{200c}cials met in\u{200d} Doha\u{2060}",
            "\u{feff}Palestinian officials met \u{200b}\u{200b}in Doha",
        ] {
            assert_eq!(fast(marked), plain, "{marked:?}");
        }
    }

    #[test]
    fn ascii_rules_equal_the_general_segmenter() {
        for t in [
            "U.S. envoy's talks: 1,000.5 troops; a:b 10:30 e.g. __x _ won't dogs' 'tis",
            "...A.. ,1,, .'. a'b'c 1'2 a.1 1.a 1,a a,b ''x'' x_1 1_x `tick` MiXeD",
        ] {
            assert_eq!(fast(t), slow(t), "{t}");
        }
        let alphabet: Vec<char> = "aZ9_.,;:'` -\"()".chars().collect();
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let t: String = (0..rng.usize(1..16))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            assert_eq!(fast(&t), slow(&t), "{t:?}");
        }
    }

    #[test]
    fn ascii_rules_equal_the_general_segmenter_on_the_corpus() {
        for name in ["feed-items.jsonl", "articles.jsonl"] {
            let data = crate::test_corpus::articles_file(name);
            for line in data.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                for key in ["title", "text"] {
                    for l in v[key].as_str().unwrap_or("").lines() {
                        assert_eq!(fast(l), slow(l), "{name}: {l}");
                    }
                }
            }
        }
    }
}
