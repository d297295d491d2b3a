//! The multi-pattern matcher: every term of the taxonomy in one trie (ASCII case folded),
//! built once per load. A scan returns the mentions that pass word-boundary and case rules, with
//! overlaps resolved leftmost-longest ("Papua New Guinea" beats "Guinea", "Washington Post"
//! beats "Washington"), plus the context cues (confirm/deny/unless phrases), which are collected
//! from all matches because they only describe surroundings.
//!
//! A mention must start at a word boundary, so the scan walks the trie from each word start
//! only: it finds every occurrence an overlapping Aho-Corasick search would keep, without that
//! search's work at every byte inside words (it was a third of the tagger's time).
//!
//! Case rules come from how a term is written: each capital letter in the term must be a capital
//! in the text ("US" never matches "us" or "Us"; "Turkey" never matches "turkey"), lower-case
//! letters match either case. A trailing `*` lets the term end anywhere inside a word.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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

/// No pattern ends at a trie node / no child (the root is never a child).
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// This node's children are `edge_bytes[first..first + len]` (sorted) and `edge_to[...]`.
    first: u32,
    len: u32,
    /// The pattern that ends here, or `NONE`.
    pattern: u32,
}

/// The patterns' bytes, ASCII lower-cased, as a trie in flat arrays.
struct Trie {
    /// The root's children by first byte, looked up once per word start.
    root: Box<[u32; 256]>,
    nodes: Vec<Node>,
    edge_bytes: Vec<u8>,
    edge_to: Vec<u32>,
}

impl Trie {
    fn new(patterns: &[String]) -> Trie {
        let mut children: Vec<BTreeMap<u8, u32>> = vec![BTreeMap::new()];
        let mut ends: Vec<u32> = vec![NONE];
        for (pi, p) in patterns.iter().enumerate() {
            let mut n = 0;
            for &b in p.as_bytes() {
                let next = children.len() as u32;
                n = *children[n].entry(b.to_ascii_lowercase()).or_insert(next) as usize;
                if n == next as usize {
                    children.push(BTreeMap::new());
                    ends.push(NONE);
                }
            }
            ends[n] = pi as u32;
        }
        let mut root = Box::new([NONE; 256]);
        for (&b, &to) in &children[0] {
            root[b as usize] = to;
        }
        let mut nodes = Vec::with_capacity(children.len());
        let (mut edge_bytes, mut edge_to) = (Vec::new(), Vec::new());
        for (c, &pattern) in children.iter().zip(&ends) {
            nodes.push(Node {
                first: edge_bytes.len() as u32,
                len: c.len() as u32,
                pattern,
            });
            edge_bytes.extend(c.keys());
            edge_to.extend(c.values());
        }
        Trie {
            root,
            nodes,
            edge_bytes,
            edge_to,
        }
    }

    /// Every pattern that occurs at `start`, as (end, pattern), shortest first.
    fn walk(&self, text: &[u8], start: usize, found: &mut Vec<(usize, u32)>) {
        let Some(&b) = text.get(start) else { return };
        let mut node = self.root[b.to_ascii_lowercase() as usize];
        let mut end = start + 1;
        while node != NONE {
            let n = self.nodes[node as usize];
            if n.pattern != NONE {
                found.push((end, n.pattern));
            }
            let Some(&b) = text.get(end) else { break };
            let (first, len) = (n.first as usize, n.len as usize);
            let b = b.to_ascii_lowercase();
            node = match self.edge_bytes[first..first + len]
                .iter()
                .position(|&e| e == b)
            {
                Some(k) => self.edge_to[first + k],
                None => NONE,
            };
            end += 1;
        }
    }
}

/// The compiled patterns.
pub(crate) struct PatternSet {
    trie: Trie,
    senses: Vec<Vec<Sense>>,
    terms: Vec<Arc<str>>,
}

/// Collects terms before compiling; identical terms (ignoring ASCII case) share one pattern.
#[derive(Default)]
pub(crate) struct Builder {
    keys: HashMap<String, usize>,
    patterns: Vec<String>,
    senses: Vec<Vec<Sense>>,
    terms: Vec<Arc<str>>,
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
        if self.patterns.len() >= NONE as usize {
            return Err(format!("too many terms ({})", self.patterns.len()));
        }
        Ok(PatternSet {
            trie: Trie::new(&self.patterns),
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

    /// The term, shared: evidence rows hold it without copying the text.
    pub(crate) fn term_shared(&self, id: u32) -> Arc<str> {
        Arc::clone(&self.terms[id as usize])
    }

    /// Find every mention in `text`.
    pub(crate) fn scan(&self, text: &str) -> Scan {
        let bytes = text.as_bytes();
        let mut candidates: Vec<Mention> = Vec::new();
        let mut scan = Scan::default();
        let mut found = Vec::new();
        let mut after_word = false;
        for (start, c) in text.char_indices() {
            let word_start = !after_word;
            after_word = is_word_char(c);
            if !word_start {
                continue;
            }
            found.clear();
            self.trie.walk(bytes, start, &mut found);
            for &(end, pattern) in &found {
                self.accept(text, start, end, pattern, &mut candidates, &mut scan.cues);
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

    /// The senses of `pattern` found at `start..end` that pass the end-of-word and case
    /// rules, as candidate mentions or cues. Found by a trie walk from a word start.
    fn accept(
        &self,
        text: &str,
        start: usize,
        end: usize,
        pattern: u32,
        candidates: &mut Vec<Mention>,
        cues: &mut Vec<Mention>,
    ) {
        let bytes = text.as_bytes();
        if !text.is_char_boundary(end) {
            return;
        }
        let right_ok = !text[end..].chars().next().is_some_and(is_word_char);
        for sense in &self.senses[pattern as usize] {
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
                cues.push(mention);
            } else {
                candidates.push(mention);
            }
        }
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
