//! Word segmentation (Unicode UAX #29 word boundaries, as `unicode-segmentation` implements
//! them) with a fast path for ASCII text. The general segmenter's table lookups were the
//! largest cost of both the content hash and the dedupe fingerprint, and almost every line of
//! English news is ASCII; the ASCII subset of the rules is short, and tests hold it to the
//! general segmenter on the whole corpus and on random strings.

use unicode_segmentation::UnicodeSegmentation;

/// Calls `f` with each word of `text`, lower-cased: exactly
/// `text.unicode_words().map(str::to_lowercase)`.
pub fn lowercase_words(text: &str, scratch: &mut String, mut f: impl FnMut(&str)) {
    if text.is_ascii() {
        scratch.clear();
        scratch.push_str(text);
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
        text.unicode_words().map(str::to_lowercase).collect()
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
