//! Scoring one article: resolve ambiguous names, apply context rules, weigh mentions by where
//! they are (headline > lede > rest), then decide the flag with the logistic flag model and keep
//! the topics, countries and organisations that clear their thresholds. Every number that goes
//! into a decision is echoed in the evidence.

use super::matcher::{AliasKind, Meaning, Mention};
use super::taxonomy::{Needs, Taxonomy, TopicDef};
use super::{Contribution, FlagEvidence, MentionRow, TagEvidence, TagHit, TagKind, Tagging};
use crate::model::Article;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    Title,
    Lede,
    /// A section heading inside the body: a short line standing alone between paragraphs.
    Subhead,
    Body,
}

impl Zone {
    fn as_str(self) -> &'static str {
        match self {
            Zone::Title => "title",
            Zone::Lede => "lede",
            Zone::Subhead => "subhead",
            Zone::Body => "body",
        }
    }

    /// The headline and lede: what the article leads with, for the flag's headline features.
    fn is_head(self) -> bool {
        matches!(self, Zone::Title | Zone::Lede)
    }
}

/// The text the tagger reads, with zone boundaries (byte offsets).
struct Doc {
    text: String,
    title_end: usize,
    lede_end: usize,
    /// End of the dateline ("WASHINGTON (Reuters) -", "NAJAF, Iraq -") that opens the text
    /// after the headline; `title_end` when there is none.
    dateline_end: usize,
    /// Byte ranges of the body's subheadings, in order.
    subheads: Vec<(usize, usize)>,
    title_case: bool,
    body_scale: f64,
}

/// The lede is the first paragraph, cut after its first sentence past `LEDE_MIN` bytes so that a
/// long first paragraph (or a body with no paragraph breaks) does not count as all lede.
const LEDE_MIN: usize = 200;
const LEDE_MAX: usize = 500;

fn build_doc(a: &Article, body_ref_words: f64) -> Doc {
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
fn is_subhead(line: &str) -> bool {
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
fn count_words(text: &str) -> usize {
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
pub(crate) fn dateline_len(text: &str) -> usize {
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
fn is_title_case(title: &str) -> bool {
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
    fn zone(&self, pos: u32) -> Zone {
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
fn zone_weight(tax: &Taxonomy, doc: &Doc, zone: Zone, body_word: usize) -> f64 {
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
struct WordCursor {
    pos: usize,
    words: usize,
    in_word: bool,
}

impl WordCursor {
    fn new(doc: &Doc) -> WordCursor {
        WordCursor {
            pos: doc.lede_end,
            words: 0,
            in_word: false,
        }
    }

    /// Body words before byte offset `to` (0 for positions in the title or lede).
    fn words_before(&mut self, doc: &Doc, to: usize) -> usize {
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

fn kind_weight(kind: AliasKind) -> f64 {
    // A state named outright or by its capital says most; a city or province only places it.
    match kind {
        AliasKind::Name => 1.0,
        AliasKind::Capital | AliasKind::Leader => 0.9,
        AliasKind::Demonym => 0.8,
        AliasKind::Place => 0.5,
    }
}

fn near(a: &Mention, b: &Mention, window: usize) -> bool {
    let w = window as u32;
    a.start <= b.end + w && b.start <= a.end + w
}

fn overlaps(a: &Mention, b: &Mention) -> bool {
    a.start < b.end && b.start < a.end
}

/// Capitalised words that may sit next to a place name without making it a person's name.
const NOT_NAMES: &[&str] = &[
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "To",
    "From",
    "For",
    "With",
    "By",
    "Of",
    "And",
    "But",
    "Or",
    "As",
    "After",
    "Before",
    "Since",
    "While",
    "When",
    "Where",
    "Both",
    "Neighbouring",
    "Neighboring",
    "Northern",
    "Southern",
    "Eastern",
    "Western",
    "Central",
    "Said",
    "Says",
    "Is",
    "Was",
    "Has",
    "Had",
    "Will",
    "Would",
    "It",
    "Its",
    "This",
    "That",
    "If",
    "Then",
    "Inside",
    "Across",
    "Into",
    "Near",
    "About",
    "Against",
    "Between",
    "Via",
];

/// A capitalised word directly before or after the name: "Michael Jordan", "Chad Smith".
fn looks_like_person(text: &str, m: &Mention) -> bool {
    let before = &text[..m.start as usize];
    let prev = before.strip_suffix(' ').map(|b| {
        let start = b
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        &b[start..]
    });
    let after = &text[m.end as usize..];
    let next = after
        .strip_prefix(' ')
        .and_then(|a| a.split(|c: char| !c.is_alphanumeric()).next());
    let is_name = |w: &str| {
        w.chars().next().is_some_and(char::is_uppercase)
            && w.chars().skip(1).any(char::is_lowercase)
            && !NOT_NAMES.contains(&w.trim_end_matches('.'))
    };
    prev.is_some_and(is_name) || next.is_some_and(is_name)
}

/// Per-article working state shared by the scoring steps.
///
/// Hits are kept in one list per kind, tagged with the topic, country or organisation, rather
/// than one list per entity: an article hits a handful of the 250 countries, and a list per
/// country cost an allocation, a fill and a drop for each of them on every article.
struct Scored {
    topic: Vec<f64>,
    topic_head: f64,
    /// (topic, term, zone), in text order.
    topic_hits: Vec<(usize, u32, Zone)>,
    country: Vec<f64>,
    /// (country, term, zone, kind), in text order.
    country_hits: Vec<(usize, u32, Zone, AliasKind)>,
    head_countries: Vec<bool>,
    org: Vec<f64>,
    /// (organisation, term, zone), in text order.
    org_hits: Vec<(usize, u32, Zone)>,
    signal: Vec<f64>,
    /// The topic mentions counted at the latest span (see `add_topic`).
    span_topics: Vec<SpanTopic>,
    /// For tuning only (`raw_scores`): every scored hit as (topic?, index, term, zone, base
    /// weight, body word).
    trace: Option<Vec<TraceHit>>,
}

/// (is a topic, topic or country index, term, zone, base weight, body word): see `raw_scores`.
type TraceHit = (bool, usize, u32, Zone, f64, usize);

/// One topic mention, as `Scored::add_topic` records it.
struct TopicMention {
    span: (u32, u32),
    term: u32,
    zone: Zone,
    /// The pattern's own weight, before the zone's (for the trace).
    base: f64,
    body_word: usize,
}

impl Scored {
    /// Count `weight` for `topic`, once per span of text. Two patterns can match the same
    /// words ("militar*" and "military", "battle*" and "battlefield", "Security Council" as a
    /// term and as the organisation): the words are one mention, worth the larger weight.
    /// `head` says whether a title or lede mention adds to the headline score.
    fn add_topic(&mut self, topic: usize, weight: f64, head: bool, m: TopicMention) {
        let head = head && m.zone.is_head();
        if let Some(prev) = self
            .span_topics
            .iter_mut()
            .find(|p| p.span == m.span && p.topic == topic)
        {
            if weight > prev.weight {
                let extra = weight - prev.weight;
                prev.weight = weight;
                self.topic[topic] += extra;
                if head {
                    self.topic_head += extra;
                }
                // The evidence names the pattern that set the weight.
                self.topic_hits[prev.hit].1 = m.term;
                if let (Some(t), Some(i)) = (&mut self.trace, prev.trace) {
                    t[i] = (true, topic, m.term, m.zone, m.base, m.body_word);
                }
            }
            return;
        }
        self.span_topics.retain(|p| p.span == m.span);
        self.span_topics.push(SpanTopic {
            span: m.span,
            topic,
            weight,
            hit: self.topic_hits.len(),
            trace: self.trace.as_ref().map(Vec::len),
        });
        self.topic[topic] += weight;
        if head {
            self.topic_head += weight;
        }
        self.topic_hits.push((topic, m.term, m.zone));
        if let Some(t) = &mut self.trace {
            t.push((true, topic, m.term, m.zone, m.base, m.body_word));
        }
    }
}

/// A topic mention counted at the latest span: its weight, and where its hit (and trace
/// entry) is, to upgrade them if another pattern gives the same words more weight.
struct SpanTopic {
    span: (u32, u32),
    topic: usize,
    weight: f64,
    hit: usize,
    trace: Option<usize>,
}

fn score_mentions(
    tax: &Taxonomy,
    doc: &Doc,
    mentions: &[Mention],
    cues: &[Mention],
    trace: bool,
) -> Scored {
    let nc = tax.countries.len();
    let mut s = Scored {
        topic: vec![0.0; tax.topics.len()],
        topic_head: 0.0,
        topic_hits: Vec::new(),
        country: vec![0.0; nc],
        country_hits: Vec::new(),
        head_countries: vec![false; nc],
        org: vec![0.0; tax.orgs.len()],
        org_hits: Vec::new(),
        signal: vec![0.0; tax.signals.len()],
        span_topics: Vec::new(),
        trace: trace.then(Vec::new),
    };

    // Countries named without ambiguity, which confirm ambiguous names.
    let mut plain = vec![false; nc];
    for m in mentions {
        if let Meaning::Country {
            country,
            rule: None,
            ..
        } = m.meaning
        {
            plain[country as usize] = true;
        }
    }
    let accepted = |m: &Mention, country: u16, rule: u16| -> bool {
        let r = &tax.rules[rule as usize];
        let confirmed = plain[country as usize]
            || (r.confirm_any && plain.iter().enumerate().any(|(i, &p)| p && i != r.country))
            || r.confirm_countries.iter().any(|&c| plain[c])
            || cues
                .iter()
                .any(|c| c.meaning == Meaning::Confirm(rule as u32) && !overlaps(c, m));
        let denied = cues.iter().any(|c| {
            c.meaning == Meaning::Deny(rule as u32) && !overlaps(c, m) && near(c, m, tax.window)
        });
        let person = r.person
            && !(doc.zone(m.start) == Zone::Title && doc.title_case)
            && looks_like_person(&doc.text, m);
        confirmed && !denied && !person
    };

    let mut live: Vec<Mention> = Vec::with_capacity(mentions.len());
    for m in mentions {
        if let Meaning::Country {
            country,
            rule: Some(rule),
            ..
        } = m.meaning
        {
            if !accepted(m, country, rule) {
                continue;
            }
        }
        live.push(*m);
    }

    // Context for term groups.
    let is_state = |m: &Mention| match m.meaning {
        Meaning::Country { .. } | Meaning::Org(_) => true,
        Meaning::Signal(i) => Some(i as usize) == tax.state_signal,
        _ => false,
    };
    let mut seen_country = vec![false; nc];
    let mut any_org = false;
    let mut cross = false;
    for m in &live {
        match m.meaning {
            Meaning::Country { country, .. } => seen_country[country as usize] = true,
            Meaning::Org(_) => any_org = true,
            Meaning::Signal(i) if Some(i as usize) == tax.cross_signal => cross = true,
            _ => {}
        }
    }
    let n_seen = seen_country.iter().filter(|&&b| b).count();
    let foreign = n_seen >= 2 || (n_seen >= 1 && (any_org || cross));

    let mut cursor = WordCursor::new(doc);
    for m in &live {
        let zone = doc.zone(m.start);
        let body_word = if zone == Zone::Body {
            cursor.words_before(doc, m.start as usize)
        } else {
            0
        };
        let w = zone_weight(tax, doc, zone, body_word);
        match m.meaning {
            Meaning::Term(g) => {
                let group = &tax.groups[g as usize];
                let ok = match group.needs {
                    Needs::Nothing => true,
                    Needs::Foreign => foreign,
                    Needs::State => live
                        .iter()
                        .any(|o| !overlaps(o, m) && is_state(o) && near(o, m, tax.window)),
                };
                let vetoed = cues
                    .iter()
                    .any(|c| c.meaning == Meaning::Unless(g) && near(c, m, tax.window));
                if !ok || vetoed {
                    continue;
                }
                let mention = TopicMention {
                    span: (m.start, m.end),
                    term: m.term,
                    zone,
                    base: group.weight,
                    body_word,
                };
                s.add_topic(group.topic, group.weight * w, true, mention);
            }
            Meaning::Country { country, kind, .. } => {
                let c = country as usize;
                let in_dateline =
                    m.start as usize >= doc.title_end && m.end as usize <= doc.dateline_end;
                let w = if in_dateline {
                    w * tax.config.dateline_weight
                } else {
                    w
                };
                s.country[c] += kind_weight(kind) * w;
                s.country_hits.push((c, m.term, zone, kind));
                if let Some(t) = &mut s.trace {
                    t.push((false, c, m.term, zone, kind_weight(kind), body_word));
                }
                if zone.is_head() {
                    s.head_countries[c] = true;
                }
            }
            Meaning::Org(o) => {
                let o = o as usize;
                s.org[o] += w;
                s.org_hits.push((o, m.term, zone));
                for &t in &tax.orgs[o].topics {
                    let base = tax.config.org_topic_weight * tax.orgs[o].topic_weight;
                    let mention = TopicMention {
                        span: (m.start, m.end),
                        term: m.term,
                        zone,
                        base,
                        body_word,
                    };
                    s.add_topic(t, base * w, false, mention);
                }
            }
            Meaning::Signal(i) => s.signal[i as usize] += w,
            _ => {}
        }
    }
    s
}

/// Feature names of the flag model, in `flag_features` order.
pub(crate) fn feature_names(topics: &[TopicDef], signals: &[String]) -> Vec<String> {
    let mut names: Vec<String> = topics.iter().map(|t| format!("topic:{}", t.slug)).collect();
    names.extend(signals.iter().map(|s| format!("signal:{s}")));
    names.extend(
        [
            "countries:1",
            "countries:2",
            "countries:3+",
            "head-countries:2+",
            "orgs",
            "topics:head",
            "topics:all",
            "topics-with-2-states",
            "long-text",
        ]
        .map(String::from),
    );
    names
}

/// The countries an article is substantially about: a score of at least `country_min` and
/// either a share of the top country's score or, on a foreign-policy article (`foreign`), at
/// least `country_mentions` separate mentions. The relative rule alone would drop every state
/// but the author's own from a long op-ed that names eight of them again and again. Off
/// foreign policy an article is about one state (where it happens) and others are named in
/// passing, so the share is `country_rel_other` there and `country_rel` on foreign policy.
/// The flag's own features count the countries at `country_rel` with no mention rule (`None`).
fn kept_countries(tax: &Taxonomy, s: &Scored, foreign: Option<bool>) -> Vec<usize> {
    // Only a country with hits has a score: walking those (in index order, as a walk over
    // all of them would) instead of all 250 gives the same list for a fraction of the work.
    let mut named: Vec<usize> = s.country_hits.iter().map(|h| h.0).collect();
    named.sort_unstable();
    named.dedup();
    let max = named.iter().map(|&i| s.country[i]).fold(0.0, f64::max);
    let c = &tax.config;
    let rel = match foreign {
        Some(false) => c.country_rel_other,
        _ => c.country_rel,
    };
    let repeated = |i: usize| {
        foreign == Some(true)
            && c.country_mentions > 0
            && s.country_hits.iter().filter(|h| h.0 == i).count() >= c.country_mentions
    };
    let mut kept: Vec<usize> = named
        .iter()
        .copied()
        .filter(|&i| {
            s.country[i] > 0.0
                && s.country[i] >= c.country_min
                && (s.country[i] >= rel * max || repeated(i))
        })
        .collect();
    // An article that names one state only is about that state, even in passing ("Senator
    // ...", "DETROIT --" a carmaker): kept at a lower score.
    if kept.is_empty() && foreign.is_some() {
        let mut named = named.iter().copied().filter(|&i| s.country[i] > 0.0);
        if let (Some(i), None) = (named.next(), named.next()) {
            if c.country_sole_min > 0.0 && s.country[i] >= c.country_sole_min {
                kept.push(i);
            }
        }
    }
    kept.sort_by(|&a, &b| s.country[b].total_cmp(&s.country[a]));
    kept
}

fn features(doc: &Doc, s: &Scored, kept: &[usize]) -> Vec<f64> {
    let ln = |x: f64| (1.0 + x).ln();
    let mut f: Vec<f64> = s.topic.iter().map(|&x| ln(x)).collect();
    f.extend(s.signal.iter().map(|&x| ln(x)));
    let n = kept.len();
    let head = s.head_countries.iter().filter(|&&b| b).count();
    let all: f64 = s.topic.iter().sum();
    f.extend([
        (n == 1) as u8 as f64,
        (n == 2) as u8 as f64,
        (n >= 3) as u8 as f64,
        (head >= 2) as u8 as f64,
        ln(s.org.iter().sum()),
        ln(s.topic_head),
        ln(all),
        if n >= 2 { ln(all) } else { 0.0 },
        (doc.body_scale < 1.0) as u8 as f64,
    ]);
    f
}

/// The flag model's inputs for one article (for training the model; see `examples/tag_train.rs`).
pub fn flag_features(tax: &Taxonomy, article: &Article) -> Vec<f64> {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, false);
    let kept = kept_countries(tax, &s, None);
    features(&doc, &s, &kept)
}

/// Every country, topic and organisation score before thresholds, with its hits, and the flag
/// model's features: for tuning (`examples/tag_explain.rs --dump`), not for storage.
#[doc(hidden)]
pub fn raw_scores(tax: &Taxonomy, article: &Article) -> Value {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, true);
    let mut countries = serde_json::Map::new();
    let mut topics = serde_json::Map::new();
    for &(topic, i, term, zone, base, word) in s.trace.iter().flatten() {
        let (map, key) = if topic {
            (&mut topics, tax.topics[i].slug.clone())
        } else {
            (&mut countries, tax.countries[i].code.clone())
        };
        let hit = json!([tax.patterns.term(term), zone.as_str(), base, word]);
        match map.get_mut(&key).and_then(Value::as_array_mut) {
            Some(v) => v.push(hit),
            None => {
                map.insert(key, json!([hit]));
            }
        }
    }
    let body_words = count_words(&doc.text[doc.lede_end..]);
    json!({
        "body_scale": doc.body_scale,
        "body_words": body_words,
        "title_case": doc.title_case,
        "countries": countries,
        "topics": topics,
        "signals": tax.signals.iter().zip(&s.signal).map(|(n, v)| json!([n, round(*v)])).collect::<Vec<_>>(),
    })
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Group hits by (term, zone) into evidence rows.
fn mention_rows(
    tax: &Taxonomy,
    hits: impl Iterator<Item = (u32, Zone, Option<AliasKind>)>,
) -> TagEvidence {
    let mut rows: Vec<(u32, Zone, Option<AliasKind>, u32)> = Vec::new();
    for (term, zone, kind) in hits {
        match rows.iter_mut().find(|r| r.0 == term && r.1 == zone) {
            Some(r) => r.3 += 1,
            None => rows.push((term, zone, kind, 1)),
        }
    }
    let mentions = rows
        .into_iter()
        .map(|(term, zone, kind, count)| MentionRow {
            alias: kind.map(AliasKind::as_str),
            count,
            term: tax.patterns.term_shared(term),
            zone: zone.as_str(),
        })
        .collect();
    TagEvidence { mentions }
}

/// Tag one article. Pure and deterministic: same taxonomy and article, same result.
pub fn tag(tax: &Taxonomy, article: &Article) -> Tagging {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, false);
    let kept = kept_countries(tax, &s, None);
    let f = features(&doc, &s, &kept);

    let model = &tax.model;
    let z = model.bias
        + f.iter()
            .zip(&model.weights)
            .map(|(x, w)| x * w)
            .sum::<f64>();
    let p = 1.0 / (1.0 + (-z).exp());
    let foreign_policy = p >= model.threshold;
    let kept = kept_countries(tax, &s, Some(foreign_policy));

    let names = &tax.feature_names;
    let mut contrib: Vec<(usize, f64)> = f
        .iter()
        .zip(&model.weights)
        .enumerate()
        .map(|(i, (x, w))| (i, x * w))
        .filter(|(_, c)| *c != 0.0)
        .collect();
    contrib.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let contributions = contrib
        .iter()
        .take(8)
        .map(|&(i, c)| Contribution {
            contribution: round(c),
            feature: Arc::clone(&names[i]),
            value: round(f[i]),
        })
        .collect();
    let evidence = FlagEvidence {
        bias: round(model.bias),
        contributions,
        probability: round(p),
        threshold: model.threshold,
    };

    let mut tags = Vec::new();
    if foreign_policy {
        let max = s.topic.iter().cloned().fold(0.0, f64::max);
        let c = &tax.config;
        // A long article covers several subjects at length and one of them dominates the
        // scores; there a topic that comes back `topic_mentions` times is a subject too.
        let long = doc.body_scale < 1.0;
        let repeated = |i: usize| {
            long && c.topic_mentions > 0
                && s.topic_hits.iter().filter(|h| h.0 == i).count() >= c.topic_mentions
        };
        let mut idx: Vec<usize> = (0..s.topic.len())
            .filter(|&i| {
                s.topic[i] > 0.0
                    && ((s.topic[i] >= c.topic_min && s.topic[i] >= c.topic_rel * max)
                        || repeated(i)
                        || s.topic[i] == max)
            })
            .collect();
        idx.sort_by(|&a, &b| s.topic[b].total_cmp(&s.topic[a]));
        for i in idx {
            let t = &tax.topics[i];
            tags.push(TagHit {
                kind: TagKind::Topic,
                slug: t.slug.clone(),
                label: t.label.clone(),
                score: round(s.topic[i]),
                evidence: mention_rows(
                    tax,
                    s.topic_hits
                        .iter()
                        .filter(|h| h.0 == i)
                        .map(|&(_, t, z)| (t, z, None)),
                ),
            });
        }
    }
    for &i in &kept {
        let c = &tax.countries[i];
        tags.push(TagHit {
            kind: TagKind::Country,
            slug: c.code.clone(),
            label: c.name.clone(),
            score: round(s.country[i]),
            evidence: mention_rows(
                tax,
                s.country_hits
                    .iter()
                    .filter(|h| h.0 == i)
                    .map(|&(_, t, z, k)| (t, z, Some(k))),
            ),
        });
    }
    let mut orgs: Vec<usize> = (0..s.org.len())
        .filter(|&i| s.org[i] >= tax.config.org_min)
        .collect();
    orgs.sort_by(|&a, &b| s.org[b].total_cmp(&s.org[a]));
    for i in orgs {
        let o = &tax.orgs[i];
        tags.push(TagHit {
            kind: TagKind::Org,
            slug: o.slug.clone(),
            label: o.label.clone(),
            score: round(s.org[i]),
            evidence: mention_rows(
                tax,
                s.org_hits
                    .iter()
                    .filter(|h| h.0 == i)
                    .map(|&(_, t, z)| (t, z, None)),
            ),
        });
    }
    Tagging {
        foreign_policy,
        score: round(p),
        evidence,
        tags,
    }
}

#[cfg(test)]
mod utf8_cut_tests {
    /// Ledes are cut at byte offsets; text full of multi-byte characters must not panic.
    #[test]
    fn multibyte_text_at_every_cut_point_does_not_panic() {
        let tax = crate::tag::Taxonomy::load(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml")),
            std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/countries.toml"
            )),
        )
        .unwrap();
        for pad in 0..4 {
            for word in ["я", "€", "’", "ç"] {
                let body = format!("{}{}", "x".repeat(pad), word.repeat(400));
                let raw = crate::model::RawArticle {
                    title: Some("t".into()),
                    content_text: Some(format!("{body}. More. {body}")),
                    ..Default::default()
                };
                let a = crate::normalize::normalize(raw).unwrap();
                let _ = crate::tag::tag(&tax, &a);
            }
        }
    }
}

#[cfg(test)]
mod scoring_tests {
    use crate::tag::{raw_scores, Taxonomy};
    use std::path::Path;

    fn taxonomy() -> Taxonomy {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
        Taxonomy::load(&dir.join("topics.toml"), &dir.join("countries.toml")).unwrap()
    }

    fn article(title: &str, body: &str) -> crate::model::Article {
        crate::normalize::normalize(crate::model::RawArticle {
            title: Some(title.into()),
            content_text: Some(body.into()),
            ..Default::default()
        })
        .unwrap()
    }

    /// The topic's hits as (term, base weight).
    fn hits(raw: &serde_json::Value, topic: &str) -> Vec<(String, f64)> {
        raw["topics"][topic]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| (h[0].as_str().unwrap().to_owned(), h[2].as_f64().unwrap()))
            .collect()
    }

    /// "militar*" and "military" both match "military" in the shipped taxonomy, and
    /// "battle*" (1.4) and "battlefield" (2.5) both match "battlefield": each word is one
    /// mention, at the larger weight.
    #[test]
    fn words_matched_by_two_patterns_of_a_topic_count_once() {
        let tax = taxonomy();
        let a = article(
            "Talks in Kyiv",
            "Ukraine and Russia met in Geneva. Ukraine's military said the battlefield was quiet.",
        );
        let raw = raw_scores(&tax, &a);
        let h = hits(&raw, "armed-conflict");
        let military = h.iter().filter(|(t, _)| t.starts_with("militar")).count();
        assert_eq!(military, 1, "{h:?}");
        let battle: Vec<f64> = h
            .iter()
            .filter(|(t, _)| t.starts_with("battle"))
            .map(|h| h.1)
            .collect();
        assert_eq!(battle, vec![2.5], "{h:?}");
    }

    /// A negative `topic_weight` is refused at load, naming the file and the organisation.
    #[test]
    fn a_negative_topic_weight_is_refused() {
        let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
        let dir = tempfile::tempdir().unwrap();
        for f in ["topics.toml", "countries.toml", "flag-model.toml"] {
            let text = std::fs::read_to_string(src.join(f)).unwrap();
            let text = text.replacen("topic_weight = 0.5", "topic_weight = -1.0", 1);
            std::fs::write(dir.path().join(f), text).unwrap();
        }
        let topics = dir.path().join("topics.toml");
        let err = Taxonomy::load(&topics, &dir.path().join("countries.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("topics.toml") && err.contains("org EU: topic_weight"),
            "{err}"
        );
    }

    /// An organisation's `topic_weight` scales what its mentions add to its topics: the EU
    /// (0.5 in the shipped taxonomy) adds half of what the UN does.
    #[test]
    fn an_organisations_topic_weight_scales_its_topic_evidence() {
        let tax = taxonomy();
        let a = article(
            "EU and UN",
            "The EU and the UN both met in New York on Monday with France and Germany.",
        );
        let h = hits(&raw_scores(&tax, &a), "international-organisations");
        let base = |term: &str| h.iter().find(|(t, _)| t == term).map(|h| h.1);
        let (eu, un) = (base("EU"), base("the UN").or(base("UN")));
        assert_eq!(eu.zip(un).map(|(e, u)| e / u), Some(0.5), "{h:?}");
    }

    /// Where each hit of country `code` is, in an article with this body.
    fn zones(body: &str, code: &str) -> Vec<String> {
        let a = article("Talks", body);
        raw_scores(&taxonomy(), &a)["countries"][code]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| h[1].as_str().unwrap().to_owned())
            .collect()
    }

    /// The lede is the first paragraph: a blank line ends it, however short it is.
    #[test]
    fn the_lede_ends_at_the_first_paragraph_break() {
        let body = "Iran and Iraq held talks on Monday.\n\nFrance welcomed the talks later.";
        assert_eq!(zones(body, "IR"), ["lede"]);
        assert_eq!(zones(body, "FR"), ["body"]);
    }

    /// A short line standing alone between paragraphs is a section heading, weighted like the
    /// lede; a credit line is not.
    #[test]
    fn a_short_line_between_paragraphs_is_a_subheading() {
        let body = "Iran and Iraq held talks on Monday, officials in both capitals said.\n\n\
                    Second paragraph about the talks.\n\n\
                    China must do more on North Korea\n\n\
                    The talks went on.\n\n\
                    By a reporter in Mexico\n\n\
                    The end of the story.";
        assert_eq!(zones(body, "CN"), ["subhead"]);
        assert_eq!(zones(body, "KP"), ["subhead"]);
        assert_eq!(zones(body, "MX"), ["body"]);
    }
}
