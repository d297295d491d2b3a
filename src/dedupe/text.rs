//! Words for dedupe: folded, tokenized, with the parts that outlets add around a wire story
//! (datelines, bylines, agency tags, leftover markup) taken off, so two copies of one story
//! produce the same words.

use unicode_segmentation::UnicodeSegmentation;

/// Words that carry no identity. Kept short: a long list hides real overlap between short items.
/// A `match` rather than a list search: it runs for every word of every article.
fn is_stopword(w: &str) -> bool {
    matches!(
        w,
        "a" | "about"
            | "after"
            | "also"
            | "an"
            | "and"
            | "are"
            | "as"
            | "at"
            | "be"
            | "been"
            | "before"
            | "but"
            | "by"
            | "can"
            | "could"
            | "did"
            | "do"
            | "does"
            | "for"
            | "from"
            | "had"
            | "has"
            | "have"
            | "he"
            | "her"
            | "his"
            | "how"
            | "i"
            | "in"
            | "into"
            | "is"
            | "it"
            | "its"
            | "may"
            | "might"
            | "no"
            | "not"
            | "of"
            | "on"
            | "or"
            | "our"
            | "out"
            | "over"
            | "said"
            | "say"
            | "says"
            | "she"
            | "should"
            | "than"
            | "that"
            | "the"
            | "their"
            | "them"
            | "then"
            | "there"
            | "these"
            | "they"
            | "this"
            | "those"
            | "to"
            | "up"
            | "was"
            | "we"
            | "were"
            | "what"
            | "when"
            | "where"
            | "which"
            | "who"
            | "why"
            | "will"
            | "with"
            | "would"
            | "you"
            | "your"
    )
}

/// Title words that only say how the item was packaged ("(AP)", "Update 1:", "- video").
const TITLE_NOISE: &[&str] = &[
    "ap", "afp", "reuters", "update", "updated", "video", "watch", "live", "photos", "analysis",
];

/// Agency tags that mark the end of a dateline: "TOKYO (AP) -", "DUBAI, Feb 17 (Reuters) -".
const AGENCY_TAGS: &[&str] = &[
    "(ap)",
    "(reuters)",
    "(afp)",
    "(upi)",
    "(dpa)",
    "(ians)",
    "(pti)",
];

/// Lower-case, fold typographic apostrophes and Latin diacritics ("Jerí" and "Jeri" are one
/// name in two outlets' spelling), drop invisible characters (`words::is_invisible`).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| !crate::words::is_invisible(c)) {
        match fold_char(c) {
            Some(a) => out.push(a),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// All words of folded text, possessive "'s" and stray apostrophes removed.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.unicode_words().filter_map(trim_word)
}

fn trim_word(w: &str) -> Option<&str> {
    let w = w.strip_suffix("'s").unwrap_or(w).trim_matches('\'');
    (!w.is_empty()).then_some(w)
}

/// Calls `f` with each word of `fold(text)` in order, exactly as `words(&fold(text))` yields
/// them, without the UAX #29 tables when it can: fingerprinting is on every article's path and
/// the general segmenter was most of its cost. Text that folds to ASCII, apart from a few
/// punctuation marks that always separate words, is segmented by the ASCII subset of the same
/// rules; anything else (other scripts, format characters) takes the general path.
pub fn for_each_word(text: &str, scratch: &mut Vec<u8>, mut f: impl FnMut(&str)) {
    if !fold_ascii(text, scratch) {
        let folded = fold(text);
        words(&folded).for_each(f);
        return;
    }
    // Only ASCII bytes were written, so this cannot fail.
    if let Ok(folded) = std::str::from_utf8(scratch) {
        crate::words::ascii_words(folded, |w| {
            if let Some(w) = trim_word(w) {
                f(w);
            }
        });
    }
}

/// `fold(text)` into `out` as ASCII, with characters that always separate words written as a
/// space. False when some character needs the general path.
fn fold_ascii(text: &str, out: &mut Vec<u8>) -> bool {
    out.clear();
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| match b {
            b'`' => b'\'',
            b => b.to_ascii_lowercase(),
        }));
        return true;
    }
    out.reserve(text.len());
    for c in text.chars() {
        if c.is_ascii() && c != '`' {
            out.push(c.to_ascii_lowercase() as u8);
            continue;
        }
        if crate::words::is_invisible(c) {
            continue;
        }
        let folded = match fold_char(c) {
            Some(a) => a,
            // Word_Break "Other": quotes, dashes, no-break space, ellipsis, bullets, currency.
            None if matches!(
                c,
                '\u{a0}'
                    | '\u{ab}'
                    | '\u{bb}'
                    | '\u{b0}'
                    | '\u{a3}'
                    | '\u{20ac}'
                    | '\u{201c}'
                    | '\u{201d}'
                    | '\u{201e}'
                    | '\u{2013}'
                    | '\u{2014}'
                    | '\u{2026}'
                    | '\u{2022}'
            ) =>
            {
                ' '
            }
            None => return false,
        };
        out.push(folded as u8);
    }
    true
}

/// The ASCII character `fold` turns a non-ASCII one into, if it does.
fn fold_char(c: char) -> Option<char> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{02bc}' | '`' => '\'',
        'à'..='å' | 'À'..='Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è'..='ë' | 'È'..='Ë' => 'e',
        'ì'..='ï' | 'Ì'..='Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò'..='ö' | 'ø' | 'Ò'..='Ö' | 'Ø' => 'o',
        'ù'..='ü' | 'Ù'..='Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        _ => return None,
    })
}

/// Whether a word says something about the story (for the short-text detector).
pub fn is_content_word(w: &str) -> bool {
    (w.len() > 4 || w.chars().count() > 1 || w.chars().all(|c| c.is_ascii_digit()))
        && !is_stopword(w)
}

pub fn is_title_noise(w: &str) -> bool {
    TITLE_NOISE.contains(&w)
}

/// A syndication byline line: "By Jane Doe", "By Jane Doe and John Roe, Reuters".
pub fn is_byline(line: &str) -> bool {
    let l = line.trim();
    let Some(rest) = l.strip_prefix("By ").or_else(|| l.strip_prefix("BY ")) else {
        return false;
    };
    let n = rest.split_whitespace().count();
    n > 0 && n <= 8 && !rest.ends_with('.')
}

/// A wire credit line: "(Reporting by Jane Doe; Editing by John Roe)", "Additional reporting
/// by ...". Re-runs add or drop it; it names the staff, not the story.
pub fn is_credit_line(line: &str) -> bool {
    // Runs on every line of every body: compare the start in place, no lower-cased copy.
    let l = line.trim_start().trim_start_matches('(').as_bytes();
    [
        "reporting by",
        "additional reporting",
        "writing by",
        "editing by",
        "compiled by",
    ]
    .iter()
    .any(|p| l.len() >= p.len() && l[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
        && line.split_whitespace().count() <= 30
}

/// Words that attribute a headline's claim rather than say it: re-runs add or drop a tail
/// of them (", officials say", ", say police", ": cops").
const ATTRIBUTION: &[&str] = &[
    "say",
    "says",
    "said",
    "report",
    "reports",
    "claims",
    "cops",
    "police",
    "officials",
    "sources",
    "media",
];

/// A headline without a trailing attribution: "Man arrested near Capitol, say police" and
/// "Man arrested near Capitol: cops" are "Man arrested near Capitol". Only a tail of at most
/// four words holding an attribution word, after a comma, colon or dash, and only when at
/// least three words stay.
pub fn strip_attribution(title: &str) -> &str {
    let t = title.trim_end_matches(['.', ' ']);
    let Some(i) = t
        .rfind([',', ':', '\u{2013}', '\u{2014}'])
        .or_else(|| t.rfind(" - "))
    else {
        return title;
    };
    let (head, tail) = (&t[..i], &t[i..]);
    let tail_words: Vec<String> = tail
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let attributes = !tail_words.is_empty()
        && tail_words.len() <= 4
        && tail_words.iter().any(|w| ATTRIBUTION.contains(&w.as_str()));
    if attributes && head.split_whitespace().count() >= 3 {
        head
    } else {
        title
    }
}

/// A dotted abbreviation as its letters: "u.s" (how the segmenter leaves "U.S.") is "us",
/// "u.k" is "uk": outlets write both.
pub fn join_initials(w: &str) -> std::borrow::Cow<'_, str> {
    let initials = w.contains('.')
        && w.split('.')
            .all(|part| part.chars().count() == 1 && part.chars().all(char::is_alphabetic));
    if initials {
        std::borrow::Cow::Owned(w.replace('.', ""))
    } else {
        std::borrow::Cow::Borrowed(w)
    }
}

/// Remove markup that leaked into text as literal or escaped tags (AG News keeps
/// `&lt;A HREF=...&gt;` in its leads): its URL words would look like shared content.
pub fn strip_markup(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('<') && !s.contains("&lt;") {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let lt = rest.find('<').map(|i| (i, ">", 1));
        let esc = rest.find("&lt;").map(|i| (i, "&gt;", 4));
        let next = match (lt, esc) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some((start, close, open_len)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start]);
        let after = &rest[start + open_len..];
        // An unclosed or very long "tag" is text (a "<" in prose): keep it.
        match after.find(close).filter(|&e| e <= 400) {
            Some(end) => {
                out.push(' ');
                rest = &after[end + close.len()..];
            }
            None => {
                out.push_str(&rest[start..start + open_len]);
                rest = after;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The body's first paragraph without a leading dateline or inline byline: "TOKYO (AP) - ",
/// "REAL, Philippines (AFP) - ", "By A and B DUBAI, Feb 17 (Reuters) - ", "WASHINGTON: ",
/// "MILAN -- ". Each outlet writes the dateline differently, so it must not count.
pub fn strip_dateline(text: &str) -> &str {
    let head_end = floor_char_boundary(text, 220);
    let head = &text[..head_end];
    if head.contains('(') {
        let lower = head.to_ascii_lowercase();
        for tag in AGENCY_TAGS {
            if let Some(i) = lower.find(tag) {
                let after = &text[i + tag.len()..];
                return trim_separator(after).unwrap_or(after);
            }
        }
    }
    // "AP - text", "TOKYO - text", "WASHINGTON: text": an upper-case place of a few words. A
    // separator past the first lower-case letter cannot end such a prefix, so the search stops
    // there (most lines are prose and have one within a word or two).
    let upper_end = head
        .char_indices()
        .find(|&(_, c)| c.is_alphabetic() && !c.is_uppercase())
        .map_or(head.len(), |(i, _)| i);
    let head = &head[..floor_char_boundary(head, upper_end + 8)];
    for sep in [" -- ", " - ", " — ", " – ", ": ", "-- ", "— "] {
        if let Some(i) = head.find(sep) {
            let prefix = &head[..i];
            let words = prefix.split_whitespace().count();
            let letters = prefix.chars().filter(|c| c.is_alphabetic()).count();
            if words > 0
                && words <= 4
                && letters >= 2
                && prefix
                    .chars()
                    .all(|c| !c.is_alphabetic() || c.is_uppercase())
            {
                return text[i + sep.len()..].trim_start();
            }
        }
    }
    text
}

fn trim_separator(s: &str) -> Option<&str> {
    let t = s.trim_start();
    let t2 = t.trim_start_matches(['-', '—', '–', ':']);
    (t2.len() < t.len()).then(|| t2.trim_start())
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(text: &str) -> Vec<String> {
        words(&fold(text)).map(str::to_owned).collect()
    }

    fn fast(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_word(text, &mut Vec::new(), |w| out.push(w.to_owned()));
        out
    }

    #[test]
    fn content_words() {
        assert!(!is_content_word("the") && is_content_word("talks") && is_content_word("7"));
    }

    #[test]
    fn fast_words_equal_the_unicode_segmenter_on_tricky_text() {
        for t in [
            "U.S. envoy's talks: 1,000.5 troops; a:b 10:30 e.g. __x _ won't dogs' 'tis",
            "Jerí’s “quoted” — text… «guillemets» 3–4 €5 £6 a\u{a0}b `tick` x_1 1_x",
            "Zoë Ærø straße Łódź İstanbul 東京 ١٢٣ soft\u{ad}hyphen a\u{200d}b",
            "...a.. ,1,, .'. a'b'c 1'2 a.1 1.a 1,a a,b ''x''",
        ] {
            assert_eq!(fast(t), slow(t), "{t}");
        }
        // Random strings over the characters whose rules differ.
        let alphabet: Vec<char> = "aZ9_.,;:'` -é’“—\u{a0}ßж".chars().collect();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let t: String = (0..rng.usize(1..16))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            assert_eq!(fast(&t), slow(&t), "{t:?}");
        }
    }

    #[test]
    fn fast_words_equal_the_unicode_segmenter_on_the_corpus() {
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

    #[test]
    fn datelines_and_agency_tags_are_removed() {
        assert_eq!(
            strip_dateline("TOKYO - Accused deserter left."),
            "Accused deserter left."
        );
        assert_eq!(
            strip_dateline("AP - Accused deserter left."),
            "Accused deserter left."
        );
        assert_eq!(
            strip_dateline("REAL, Philippines (AFP) - Rescuers dug."),
            "Rescuers dug."
        );
        assert_eq!(
            strip_dateline("By Ann Lee and Bo Chan DUBAI, Feb 17 (Reuters) - Armed group said."),
            "Armed group said."
        );
        assert_eq!(
            strip_dateline("WASHINGTON: The US is ready."),
            "The US is ready."
        );
        assert_eq!(
            strip_dateline("MILAN -- A prosecutor asked."),
            "A prosecutor asked."
        );
        // Ordinary sentences with a dash or colon keep their start.
        assert_eq!(
            strip_dateline("The minister said: talks resume."),
            "The minister said: talks resume."
        );
        assert_eq!(
            strip_dateline("Peru - a country in crisis."),
            "Peru - a country in crisis."
        );
    }

    #[test]
    fn folding_and_words() {
        let f = fold("José Jerí’s WON’T");
        assert_eq!(words(&f).collect::<Vec<_>>(), ["jose", "jeri", "won't"]);
    }

    #[test]
    fn escaped_and_literal_tags_are_removed() {
        let s = strip_markup("Kmart &lt;A HREF=\"http://x.example/q?t=K\"&gt;KMRT.O&lt;/A&gt; named <b>a</b> CEO; 3 < 4");
        assert_eq!(s, "Kmart  KMRT.O  named  a  CEO; 3 < 4");
    }

    #[test]
    fn attributions_credits_and_initials() {
        for t in [
            "Man arrested near the Capitol, say police",
            "Man arrested near the Capitol, officials say",
            "Man arrested near the Capitol: Cops",
            "Man arrested near the Capitol - report",
        ] {
            assert_eq!(strip_attribution(t), "Man arrested near the Capitol", "{t}");
        }
        for t in [
            "Police say", // nothing would stay
            "Talks resume: a new round begins in Geneva",
            "Trump, Xi meet in Busan",
        ] {
            assert_eq!(strip_attribution(t), t);
        }
        assert!(is_credit_line(
            "(Reporting by Jane Doe; Editing by John Roe)"
        ));
        assert!(!is_credit_line("Reporters were barred from the hearing."));
        assert_eq!(join_initials("u.s"), "us");
        assert_eq!(join_initials("u.k"), "uk");
        assert_eq!(join_initials("3.5"), "3.5");
        assert_eq!(join_initials("e.g"), "eg");
        assert_eq!(join_initials("talks"), "talks");
    }

    #[test]
    fn bylines() {
        assert!(is_byline("By Jane Doe"));
        assert!(is_byline("By Jane Doe and John Roe, Reuters"));
        assert!(!is_byline("By the end of the week the talks had failed."));
        assert!(!is_byline("Byron spoke."));
    }
}
