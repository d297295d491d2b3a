//! Words for dedupe: folded, tokenized, with the parts that outlets add around a wire story
//! (datelines, bylines, agency tags, leftover markup) taken off, so two copies of one story
//! produce the same words.

use unicode_segmentation::UnicodeSegmentation;

/// Words that carry no identity. Kept short: a long list hides real overlap between short items.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "also", "an", "and", "are", "as", "at", "be", "been", "before", "but",
    "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her",
    "his", "how", "i", "in", "into", "is", "it", "its", "may", "might", "no", "not", "of", "on",
    "or", "our", "out", "over", "said", "say", "says", "she", "should", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "up", "was", "we",
    "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

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
/// name in two outlets' spelling).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' | '`' => '\'',
            'à'..='å' | 'À'..='Å' => 'a',
            'ç' | 'Ç' => 'c',
            'è'..='ë' | 'È'..='Ë' => 'e',
            'ì'..='ï' | 'Ì'..='Ï' => 'i',
            'ñ' | 'Ñ' => 'n',
            'ò'..='ö' | 'ø' | 'Ò'..='Ö' | 'Ø' => 'o',
            'ù'..='ü' | 'Ù'..='Ü' => 'u',
            'ý' | 'ÿ' | 'Ý' => 'y',
            _ => c,
        };
        out.extend(c.to_lowercase());
    }
    out
}

/// All words of folded text, possessive "'s" and stray apostrophes removed.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.unicode_words().filter_map(|w| {
        let w = w.strip_suffix("'s").unwrap_or(w).trim_matches('\'');
        (!w.is_empty()).then_some(w)
    })
}

/// Whether a word says something about the story (for the short-text detector).
pub fn is_content_word(w: &str) -> bool {
    (w.chars().count() > 1 || w.chars().all(|c| c.is_ascii_digit())) && !STOPWORDS.contains(&w)
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
    let lower = head.to_ascii_lowercase();
    for tag in AGENCY_TAGS {
        if let Some(i) = lower.find(tag) {
            let after = &text[i + tag.len()..];
            return trim_separator(after).unwrap_or(after);
        }
    }
    // "AP - text", "TOKYO - text", "WASHINGTON: text": an upper-case place of a few words.
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
    fn bylines() {
        assert!(is_byline("By Jane Doe"));
        assert!(is_byline("By Jane Doe and John Roe, Reuters"));
        assert!(!is_byline("By the end of the week the talks had failed."));
        assert!(!is_byline("Byron spoke."));
    }
}
