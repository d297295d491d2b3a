//! The text the tagger reads: the headline, the lede, subheadings and the body, with the
//! boundaries between them, and the weight a mention gets by where it is.

use super::Taxonomy;
use crate::model::Article;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Zone {
    Title,
    Lede,
    /// A section heading inside the body: a short line standing alone between paragraphs.
    Subhead,
    Body,
}

impl Zone {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Zone::Title => "title",
            Zone::Lede => "lede",
            Zone::Subhead => "subhead",
            Zone::Body => "body",
        }
    }

    /// The headline and lede: what the article leads with, for the flag's headline features.
    pub(super) fn is_head(self) -> bool {
        matches!(self, Zone::Title | Zone::Lede)
    }
}

/// The text the tagger reads, with zone boundaries (byte offsets).
pub(super) struct Doc {
    pub(super) text: String,
    pub(super) title_end: usize,
    pub(super) lede_end: usize,
    /// End of the dateline ("WASHINGTON (Reuters) -", "NAJAF, Iraq -") that opens the text
    /// after the headline; `title_end` when there is none.
    pub(super) dateline_end: usize,
    /// Byte ranges of the body's subheadings, in order.
    pub(super) subheads: Vec<(usize, usize)>,
    pub(super) title_case: bool,
    pub(super) body_scale: f64,
}

/// The lede is the first paragraph, cut after its first sentence past `LEDE_MIN` bytes so that a
/// long first paragraph (or a body with no paragraph breaks) does not count as all lede.
pub(super) const LEDE_MIN: usize = 200;
pub(super) const LEDE_MAX: usize = 500;

pub(super) fn build_doc(a: &Article, body_ref_words: f64) -> Doc {
    let mut text = String::with_capacity(a.title.len() + a.body_text.len() + 8);
    if !a.title_derived {
        text.push_str(&a.title);
    }
    text.push('\n');
    let title_end = text.len();
    let title_case = is_title_case(&a.title);
    let mut lede_end = None;
    if let Some(s) = &a.summary {
        text.push_str(s);
        text.push('\n');
        lede_end = Some(text.len());
    }
    let body_start = text.len();
    let mut subheads = Vec::new();
    let mut lines = a.body_text.lines().peekable();
    let mut after_break = false;
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            // Keep paragraph breaks: the lede ends at the first one.
            if !text.ends_with("\n\n") && text.len() > body_start {
                text.push('\n');
            }
            after_break = true;
            continue;
        }
        if crate::normalize::is_boilerplate_line(line) {
            continue;
        }
        let alone = after_break && lines.peek().is_some_and(|l| l.trim().is_empty());
        if alone && is_subhead(line) {
            subheads.push((text.len(), text.len() + line.len()));
        }
        text.push_str(line);
        text.push('\n');
        after_break = false;
    }
    let lede_end = lede_end.unwrap_or_else(|| {
        let body = &text[body_start..];
        let para = body.find("\n\n").unwrap_or(body.len());
        // Byte offsets into UTF-8 text: every cut is moved back to a character boundary.
        let floor = |mut i: usize| {
            while !body.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let mut end = floor(para.min(LEDE_MAX));
        let start = floor(LEDE_MIN.min(para));
        if para > LEDE_MIN && start < end {
            if let Some(i) = body[start..end].find(". ") {
                end = start + i + 1;
            }
        }
        body_start + end
    });
    let body_words = count_words(&text[lede_end..]) as f64;
    let body_scale = if body_words > body_ref_words {
        (body_ref_words / body_words).sqrt()
    } else {
        1.0
    };
    let dateline_end = title_end + dateline_len(&text[title_end..]);
    subheads.retain(|&(start, _)| start >= lede_end);
    Doc {
        text,
        title_end,
        lede_end,
        dateline_end,
        subheads,
        title_case,
        body_scale,
    }
}

/// A line that reads as a section heading: two to twelve words, no sentence punctuation at its
/// end ("China must 'do more' to pressure North Korea"). Only lines standing alone between
/// paragraphs are asked.
pub(super) fn is_subhead(line: &str) -> bool {
    let line = line.trim();
    // Most lines asked are whole paragraphs: stop counting past the limit.
    let words = line.split_whitespace().take(13).count();
    // Credits and captions stand alone too, and name places ("Reporting by ... in Washington").
    const NOT: &[&str] = &[
        "By ",
        "by ",
        "Reporting",
        "Additional reporting",
        "Writing by",
        "Editing by",
        "Photo",
        "Image",
        "Picture",
        "Video",
        "Source",
        "Copyright",
        "©",
    ];
    (2..=12).contains(&words)
        && !line.ends_with(['.', '!', '?', ':', ';', ',', '"', '\u{201d}'])
        && !NOT.iter().any(|p| line.starts_with(p))
}

/// `text.split_whitespace().count()`, counted in one pass over the bytes: the iterator does
/// far more work per word than counting needs, on every byte of every body. ASCII is settled
/// by byte (`char::is_whitespace` there is space and \t..=\r); other characters are decoded,
/// since Unicode has whitespace beyond ASCII (no-break space, em space).
pub(super) fn count_words(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut words, mut in_word, mut i) = (0, false, 0);
    while i < bytes.len() {
        let b = bytes[i];
        let space = if b.is_ascii() {
            i += 1;
            matches!(b, b' ' | b'\t'..=b'\r')
        } else {
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            c.is_whitespace()
        };
        words += (!space && !in_word) as usize;
        in_word = !space;
    }
    words
}

/// The length in bytes of a dateline at the start of `text`: a place in capitals, optionally a
/// comma and a few words ("NAJAF, Iraq", "ALLENTOWN, Pa."), then " (", " -", " --" or ":".
/// It says where the reporter filed from, not what the story is about. 0 when there is none.
pub(super) fn dateline_len(text: &str) -> usize {
    let mut cut = text.len().min(60);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let Some(sep) = head.find([':', '(', '-']) else {
        return 0;
    };
    let lead = head[..sep].trim_end();
    let (place, rest) = match lead.split_once(',') {
        Some((p, r)) => (p, Some(r.trim())),
        None => (lead, None),
    };
    let letters = place.chars().filter(|c| c.is_alphabetic()).count();
    let caps_place = letters >= 3
        && place
            .chars()
            .all(|c| c.is_uppercase() || matches!(c, ' ' | '.' | '\'' | '-'));
    let rest_ok = rest.is_none_or(|r| !r.is_empty() && r.split_whitespace().count() <= 3);
    // "(" must open a credit ("(Reuters)"); "-" must stand apart ("WASHINGTON - ").
    let sep_ok = match head.as_bytes()[sep] {
        b':' => true,
        b'(' => head[..sep].ends_with(' '),
        _ => head[..sep].ends_with(' ') && head[sep..].starts_with(['-', ' ']),
    };
    if caps_place && rest_ok && sep_ok {
        lead.len()
    } else {
        0
    }
}

/// Headline style ("Iran Warns Washington Over Sanctions"): capitals say nothing about names.
pub(super) fn is_title_case(title: &str) -> bool {
    let (mut long, mut caps) = (0, 0);
    for w in title.split_whitespace() {
        if w.chars().filter(|c| c.is_alphabetic()).take(4).count() >= 4 {
            long += 1;
            caps += w.chars().next().is_some_and(char::is_uppercase) as usize;
        }
    }
    long >= 2 && caps * 10 >= long * 6
}

impl Doc {
    pub(super) fn zone(&self, pos: u32) -> Zone {
        let p = pos as usize;
        if p < self.title_end {
            Zone::Title
        } else if p < self.lede_end {
            Zone::Lede
        } else if self.subheads.iter().any(|&(s, e)| s <= p && p < e) {
            Zone::Subhead
        } else {
            Zone::Body
        }
    }
}

/// The weight of a mention by where it is. In the body, the first `body_full_words` words count
/// in full (the top of a story says what it is about, however long it runs); later mentions are
/// scaled down by `body_scale` so a long article needs proportionally more evidence.
pub(super) fn zone_weight(tax: &Taxonomy, doc: &Doc, zone: Zone, body_word: usize) -> f64 {
    let c = &tax.config;
    match zone {
        Zone::Title => c.title_weight,
        // A subheading says what its section is about, as the lede does for the article.
        Zone::Lede | Zone::Subhead => c.lede_weight,
        Zone::Body if (body_word as f64) < c.body_full_words => c.body_weight,
        Zone::Body => c.body_weight * doc.body_scale,
    }
}

/// Counts words of the body (after the lede) up to each position, for mentions in text order.
pub(super) struct WordCursor {
    pub(super) pos: usize,
    pub(super) words: usize,
    pub(super) in_word: bool,
}

impl WordCursor {
    pub(super) fn new(doc: &Doc) -> WordCursor {
        WordCursor {
            pos: doc.lede_end,
            words: 0,
            in_word: false,
        }
    }

    /// Body words before byte offset `to` (0 for positions in the title or lede).
    pub(super) fn words_before(&mut self, doc: &Doc, to: usize) -> usize {
        if to <= self.pos {
            return self.words;
        }
        for b in doc.text.as_bytes()[self.pos..to].iter() {
            let space = b.is_ascii_whitespace();
            if !space && !self.in_word {
                self.words += 1;
            }
            self.in_word = !space;
        }
        self.pos = to;
        self.words
    }
}
