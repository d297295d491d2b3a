//! The multi-pattern matcher: every term of the taxonomy in one Aho-Corasick automaton, built
//! once per load. A scan returns the mentions that pass word-boundary and case rules, with
//! overlaps resolved leftmost-longest ("Papua New Guinea" beats "Guinea", "Washington Post"
//! beats "Washington"), plus the context cues (confirm/deny/unless phrases), which are collected
//! from all matches because they only describe surroundings.
//!
//! Case rules come from how a term is written: each capital letter in the term must be a capital
//! in the text ("US" never matches "us" or "Us"; "Turkey" never matches "turkey"), lower-case
//! letters match either case. A trailing `*` lets the term end anywhere inside a word.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::collections::HashMap;

/// Which part of a country's gazetteer entry an alias came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AliasKind {
    Name,
    Demonym,
    Capital,
    Leader,
    Place,
}

impl AliasKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AliasKind::Name => "name",
            AliasKind::Demonym => "demonym",
            AliasKind::Capital => "capital",
            AliasKind::Leader => "leader",
            AliasKind::Place => "place",
        }
    }
}

/// What a matched term means. One term can mean several things ("Pentagon": a US metonym, a
/// defence term, a state actor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// Evidence for a topic: index into `Taxonomy::groups`.
    Term(u32),
    /// A flag signal: index into `Taxonomy::signals`.
    Signal(u32),
    Country {
        country: u16,
        kind: AliasKind,
        /// The ambiguity rule this name must pass, if any.
        rule: Option<u16>,
    },
    Org(u32),
    /// Swallows a country-like word that is not a country ("China Open").
    Blocker,
    /// Context cues: confirm or veto an ambiguous name; veto a term group's mention.
    Confirm(u32),
    Deny(u32),
    Unless(u32),
}

impl Meaning {
    fn is_cue(self) -> bool {
        matches!(
            self,
            Meaning::Confirm(_) | Meaning::Deny(_) | Meaning::Unless(_)
        )
    }
}

#[derive(Debug)]
struct Sense {
    meaning: Meaning,
    /// The term as written in the taxonomy (without `*`), for case checks and evidence.
    term: u32,
    prefix: bool,
}

/// The compiled patterns.
pub(crate) struct PatternSet {
    ac: AhoCorasick,
    senses: Vec<Vec<Sense>>,
    terms: Vec<Box<str>>,
}

/// Collects terms before compiling; identical terms (ignoring ASCII case) share one pattern.
#[derive(Default)]
pub(crate) struct Builder {
    keys: HashMap<String, usize>,
    patterns: Vec<String>,
    senses: Vec<Vec<Sense>>,
    terms: Vec<Box<str>>,
    term_ids: HashMap<String, u32>,
}

impl Builder {
    pub(crate) fn add(&mut self, term: &str, meaning: Meaning) {
        let (core, prefix) = match term.strip_suffix('*') {
            Some(c) => (c, true),
            None => (term, false),
        };
        let key = core.to_ascii_lowercase();
        let pi = *self.keys.entry(key).or_insert_with(|| {
            self.patterns.push(core.to_string());
            self.senses.push(Vec::new());
            self.patterns.len() - 1
        });
        let next = self.terms.len() as u32;
        let tid = *self.term_ids.entry(core.to_string()).or_insert(next);
        if tid == next {
            self.terms.push(core.into());
        }
        let sense = Sense {
            meaning,
            term: tid,
            prefix,
        };
        let list = &mut self.senses[pi];
        if !list
            .iter()
            .any(|s| s.meaning == meaning && s.term == tid && s.prefix == prefix)
        {
            list.push(sense);
        }
    }

    pub(crate) fn build(self) -> Result<PatternSet, String> {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&self.patterns)
            .map_err(|e| e.to_string())?;
        Ok(PatternSet {
            ac,
            senses: self.senses,
            terms: self.terms,
        })
    }
}

/// One accepted mention of a term.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mention {
    pub start: u32,
    pub end: u32,
    pub meaning: Meaning,
    pub term: u32,
}

/// The result of one scan: mentions in text order and cues (unordered within a position).
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub mentions: Vec<Mention>,
    pub cues: Vec<Mention>,
}

impl PatternSet {
    pub(crate) fn term(&self, id: u32) -> &str {
        &self.terms[id as usize]
    }

    /// Find every mention in `text`.
    pub(crate) fn scan(&self, text: &str) -> Scan {
        let bytes = text.as_bytes();
        let mut candidates: Vec<Mention> = Vec::new();
        let mut scan = Scan::default();
        for m in self.ac.find_overlapping_iter(text) {
            let (start, end) = (m.start(), m.end());
            if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                continue;
            }
            if text[..start].chars().next_back().is_some_and(is_word_char) {
                continue;
            }
            let right_ok = !text[end..].chars().next().is_some_and(is_word_char);
            for sense in &self.senses[m.pattern().as_usize()] {
                if !case_ok(self.term(sense.term).as_bytes(), &bytes[start..end]) {
                    continue;
                }
                let end = if sense.prefix {
                    end + text[end..]
                        .char_indices()
                        .find(|&(_, c)| !is_word_char(c))
                        .map_or(text.len() - end, |(i, _)| i)
                } else if right_ok {
                    end
                } else {
                    continue;
                };
                let mention = Mention {
                    start: start as u32,
                    end: end as u32,
                    meaning: sense.meaning,
                    term: sense.term,
                };
                if sense.meaning.is_cue() {
                    scan.cues.push(mention);
                } else {
                    candidates.push(mention);
                }
            }
        }
        // Leftmost-longest over spans; every meaning of the chosen span is kept.
        candidates.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut chosen: Option<(u32, u32)> = None;
        for c in candidates {
            match chosen {
                Some((s, e)) if c.start == s && c.end == e => {}
                Some((_, e)) if c.start < e => continue,
                _ => chosen = Some((c.start, c.end)),
            }
            if c.meaning != Meaning::Blocker {
                scan.mentions.push(c);
            }
        }
        scan
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Every capital letter of the term must be a capital in the text.
fn case_ok(term: &[u8], found: &[u8]) -> bool {
    term.iter()
        .zip(found)
        .all(|(t, f)| !t.is_ascii_uppercase() || f.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(terms: &[(&str, Meaning)]) -> PatternSet {
        let mut b = Builder::default();
        for (t, m) in terms {
            b.add(t, *m);
        }
        b.build().unwrap()
    }

    fn found(s: &PatternSet, text: &str) -> Vec<String> {
        s.scan(text)
            .mentions
            .iter()
            .map(|m| text[m.start as usize..m.end as usize].to_string())
            .collect()
    }

    #[test]
    fn word_boundaries_and_prefixes() {
        let s = set(&[("war", Meaning::Term(0)), ("sanction*", Meaning::Term(1))]);
        assert_eq!(found(&s, "the war, a warlord, antiwar"), vec!["war"]);
        assert_eq!(
            found(&s, "Sanctions and sanctioned; unsanctioned"),
            vec!["Sanctions", "sanctioned"]
        );
    }

    #[test]
    fn capitals_in_the_term_must_be_capitals_in_the_text() {
        let c = Meaning::Country {
            country: 0,
            kind: AliasKind::Name,
            rule: None,
        };
        let s = set(&[("US", c), ("Turkey", c), ("the Kremlin", c)]);
        assert_eq!(found(&s, "US and us and Us"), vec!["US"]);
        assert_eq!(
            found(&s, "roast turkey; Turkey; TURKEY"),
            vec!["Turkey", "TURKEY"]
        );
        assert_eq!(
            found(&s, "The Kremlin said; the kremlin"),
            vec!["The Kremlin"]
        );
    }

    #[test]
    fn longest_match_wins_and_blockers_swallow() {
        let gn = Meaning::Country {
            country: 0,
            kind: AliasKind::Name,
            rule: None,
        };
        let pg = Meaning::Country {
            country: 1,
            kind: AliasKind::Name,
            rule: None,
        };
        let s = set(&[
            ("Guinea", gn),
            ("Papua New Guinea", pg),
            ("Gulf of Guinea", Meaning::Blocker),
        ]);
        let scan = s.scan("Papua New Guinea and Guinea, not the Gulf of Guinea");
        let got: Vec<Meaning> = scan.mentions.iter().map(|m| m.meaning).collect();
        assert_eq!(got, vec![pg, gn]);
    }

    #[test]
    fn cues_are_seen_inside_longer_matches() {
        let c = Meaning::Country {
            country: 0,
            kind: AliasKind::Place,
            rule: None,
        };
        let s = set(&[("Senate", c), ("Senate race", Meaning::Deny(0))]);
        let scan = s.scan("the Senate race");
        assert_eq!(scan.mentions.len(), 1);
        assert_eq!(scan.cues.len(), 1);
    }
}
