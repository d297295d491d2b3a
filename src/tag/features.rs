//! The explainable features of an article: resolve ambiguous names, apply context rules, weigh
//! mentions by where they are (headline > lede > rest) into topic, country, organisation and
//! signal scores, keep the countries the article is about, and summarise it all as the dense
//! features every model head reads.

use super::doc::{zone_weight, Doc, WordCursor, Zone};
use super::matcher::{AliasKind, Meaning, Mention};
use super::taxonomy::{Needs, Taxonomy, TopicDef};

pub(super) fn kind_weight(kind: AliasKind) -> f64 {
    // A state named outright or by its capital says most; a city or province only places it.
    match kind {
        AliasKind::Name => 1.0,
        AliasKind::Capital | AliasKind::Leader => 0.9,
        AliasKind::Demonym => 0.8,
        AliasKind::Place => 0.5,
    }
}

pub(super) fn near(a: &Mention, b: &Mention, window: usize) -> bool {
    let w = window as u32;
    a.start <= b.end + w && b.start <= a.end + w
}

pub(super) fn overlaps(a: &Mention, b: &Mention) -> bool {
    a.start < b.end && b.start < a.end
}

/// Capitalised words that may sit next to a place name without making it a person's name.
pub(super) const NOT_NAMES: &[&str] = &[
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
pub(super) fn looks_like_person(text: &str, m: &Mention) -> bool {
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
pub(super) struct Scored {
    pub(super) topic: Vec<f64>,
    pub(super) topic_head: f64,
    /// Topics one of whose terms a rule's exclusion (`unless`) vetoed: "trade talks" are
    /// not diplomacy.
    pub(super) topic_vetoed: Vec<bool>,
    /// (topic, term, zone), in text order.
    pub(super) topic_hits: Vec<(usize, u32, Zone)>,
    pub(super) country: Vec<f64>,
    /// (country, term, zone, kind), in text order.
    pub(super) country_hits: Vec<(usize, u32, Zone, AliasKind)>,
    pub(super) head_countries: Vec<bool>,
    pub(super) org: Vec<f64>,
    /// (organisation, term, zone), in text order.
    pub(super) org_hits: Vec<(usize, u32, Zone)>,
    pub(super) signal: Vec<f64>,
    /// The topic mentions counted at the latest span (see `add_topic`).
    pub(super) span_topics: Vec<SpanTopic>,
    /// For tuning only (`raw_scores`): every scored hit as (topic?, index, term, zone, base
    /// weight, body word).
    pub(super) trace: Option<Vec<TraceHit>>,
}

/// (is a topic, topic or country index, term, zone, base weight, body word): see `raw_scores`.
pub(super) type TraceHit = (bool, usize, u32, Zone, f64, usize);

/// One topic mention, as `Scored::add_topic` records it.
pub(super) struct TopicMention {
    pub(super) span: (u32, u32),
    pub(super) term: u32,
    pub(super) zone: Zone,
    /// The pattern's own weight, before the zone's (for the trace).
    pub(super) base: f64,
    pub(super) body_word: usize,
}

impl Scored {
    /// Count `weight` for `topic`, once per span of text. Two patterns can match the same
    /// words ("militar*" and "military", "battle*" and "battlefield", "Security Council" as a
    /// term and as the organisation): the words are one mention, worth the larger weight.
    /// `head` says whether a title or lede mention adds to the headline score.
    pub(super) fn add_topic(&mut self, topic: usize, weight: f64, head: bool, m: TopicMention) {
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
pub(super) struct SpanTopic {
    pub(super) span: (u32, u32),
    pub(super) topic: usize,
    pub(super) weight: f64,
    pub(super) hit: usize,
    pub(super) trace: Option<usize>,
}

/// The mentions that count: every one but the ambiguous country names ("Georgia", "Jordan")
/// that their context does not confirm, or vetoes, or that read as a person's name.
fn live_mentions(
    tax: &Taxonomy,
    doc: &Doc,
    mentions: &[Mention],
    cues: &[Mention],
) -> Vec<Mention> {
    let nc = tax.countries.len();
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

    live
}

/// Whether the article involves two states, or a state and an organisation or a cross-border
/// cue: the context `needs = "foreign"` term groups ask for.
fn involves_two_states(tax: &Taxonomy, live: &[Mention]) -> bool {
    let mut seen_country = vec![false; tax.countries.len()];
    let mut any_org = false;
    let mut cross = false;
    for m in live {
        match m.meaning {
            Meaning::Country { country, .. } => seen_country[country as usize] = true,
            Meaning::Org(_) => any_org = true,
            Meaning::Signal(i) if Some(i as usize) == tax.cross_signal => cross = true,
            _ => {}
        }
    }
    let n_seen = seen_country.iter().filter(|&&b| b).count();
    n_seen >= 2 || (n_seen >= 1 && (any_org || cross))
}

pub(super) fn score_mentions(
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
        topic_vetoed: vec![false; tax.topics.len()],
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

    let live = live_mentions(tax, doc, mentions, cues);
    let is_state = |m: &Mention| match m.meaning {
        Meaning::Country { .. } | Meaning::Org(_) => true,
        Meaning::Signal(i) => Some(i as usize) == tax.state_signal,
        _ => false,
    };
    let foreign = involves_two_states(tax, &live);

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
                if vetoed {
                    s.topic_vetoed[group.topic] = true;
                }
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
pub(super) fn feature_names(topics: &[TopicDef], signals: &[String]) -> Vec<String> {
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
pub(super) fn kept_countries(tax: &Taxonomy, s: &Scored, foreign: Option<bool>) -> Vec<usize> {
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

pub(super) fn features(doc: &Doc, s: &Scored, kept: &[usize]) -> Vec<f64> {
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
