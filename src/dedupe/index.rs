//! The near-duplicate index. Lookup cost does not grow with the number of articles:
//!
//! - Long texts: the pigeonhole banding of Manku et al. (2007). Split the 64-bit SimHash into
//!   four 16-bit blocks; two hashes within distance 3 agree exactly on at least one block. Each
//!   block indexes a table of 65,536 buckets addressed directly by the block value, so a lookup
//!   reads four buckets of about n / 65,536 entries each (15 at a million articles). A bucket
//!   is a chain through the articles' slots (a head per bucket, a next link per slot and
//!   block): 20 bytes per article and 1 MiB in all, where a `Vec` per bucket cost 6 MiB of
//!   empty headers and about 80 bytes per article (measured with heaptrack: 18 MB of a 49 MB
//!   heap peak in a 50,000-article cold poll).
//! - Short texts: buckets keyed by each item's bottom-k word hashes (a MinHash sketch), each
//!   bucket capped to its newest entries, and only items inside a bounded ring of recent ones,
//!   so both the candidate count and the memory stay fixed however long the daemon runs.

use std::collections::{HashMap, VecDeque};

use super::fingerprint::Fingerprint;
use super::simhash::hamming;
use super::{short, DedupeConfig, Detector, NearMatch};

const BLOCKS: usize = 4;
const BLOCK_BITS: u32 = 16;

/// The end of a band chain.
const NONE: u32 = u32::MAX;

/// What the index remembers per inserted article.
#[derive(Clone, Copy)]
struct Slot {
    simhash: u64,
    article_id: i64,
    /// The earliest article of its group (itself when it is no one's duplicate).
    group_id: i64,
    words: u32,
    lang: [u8; 3],
}

struct ShortEntry {
    slot: u32,
    /// The bits of its lede words (`lede_mask`), read in place of the words to rule out most
    /// candidates without following the fingerprint's pointer.
    lede_mask: u64,
    fp: Fingerprint,
}

pub struct NearDupIndex {
    cfg: DedupeConfig,
    slots: Vec<Slot>,
    /// Block `b`'s bucket `v` starts at slot `heads[b << BLOCK_BITS | v]` (newest first).
    heads: Vec<u32>,
    /// Per slot, the next (older) slot in the bucket of each block; `NONE` at a chain's end
    /// and for articles too short for SimHash.
    next: Vec<[u32; BLOCKS]>,
    /// Recent items for the short-text detector, oldest first; `short_base` is the sequence
    /// number of the front entry.
    short: VecDeque<ShortEntry>,
    short_base: u32,
    /// Word hash -> sequence numbers of recent items having it as a key, oldest first.
    /// Sequence numbers wrap at 2^32; the ring holds far fewer (`MAX_SHORT_ENTRIES`), so an
    /// item's position is always `seq - short_base` in wrapping arithmetic. Entries are 32-bit
    /// and the keys (already hashes) skip SipHash: a lookup reads ten buckets that are rarely in
    /// cache, and their size is what it costs.
    buckets: HashMap<u32, VecDeque<u32>, KeyHash>,
}

impl NearDupIndex {
    pub fn new(cfg: &DedupeConfig) -> Self {
        NearDupIndex {
            cfg: cfg.clone(),
            slots: Vec::new(),
            heads: vec![NONE; BLOCKS << BLOCK_BITS],
            next: Vec::new(),
            short: VecDeque::new(),
            short_base: 0,
            buckets: HashMap::default(),
        }
    }

    /// Articles inserted (all of them, including those since evicted from the short-text ring).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Items currently held for the short-text detector.
    pub fn short_len(&self) -> usize {
        self.short.len()
    }

    /// Add an article, computing its group with `find`. At ingest, where the caller has just
    /// called `find` itself, `insert_with_group` avoids the second lookup.
    pub fn insert(&mut self, article_id: i64, fp: Fingerprint) {
        let group = self.find(&fp).map_or(article_id, |m| m.article_id);
        self.insert_with_group(article_id, group, fp);
    }

    /// Add an article whose group is known: `group_id` is its `duplicate_of`, or its own id.
    /// Rebuilding at start inserts articles in id order with the stored `duplicate_of`.
    pub fn insert_with_group(&mut self, article_id: i64, group_id: i64, fp: Fingerprint) {
        let Some(slot) = self.insert_long(article_id, group_id, &fp) else {
            return;
        };
        // The ring never holds more than MAX_SHORT_ENTRIES, far below u32::MAX.
        let seq = self.short_base.wrapping_add(self.short.len() as u32);
        for key in short::keys(&fp) {
            let bucket = self.buckets.entry(key).or_default();
            // Drop before adding so the ring's allocation stays at the cap, not the next
            // power of two above it.
            if bucket.len() >= self.cfg.short_bucket_cap {
                bucket.pop_front();
            }
            bucket.push_back(seq);
        }
        self.short.push_back(ShortEntry {
            slot,
            lede_mask: lede_mask(fp.lede_words()),
            fp,
        });
        self.evict();
    }

    /// Add an article that is older than the newest `short_max_entries` the rebuild will
    /// insert: the short-text ring would evict it anyway, so only the long-text tables take
    /// it. The result is the same index as [`insert_with_group`]'s, without
    /// filling and emptying the ring's buckets for most of a large store (that was most of a
    /// restart's rebuild at a million articles).
    ///
    /// [`insert_with_group`]: Self::insert_with_group
    pub fn insert_archived(&mut self, article_id: i64, group_id: i64, fp: &Fingerprint) {
        self.insert_long(article_id, group_id, fp);
    }

    /// The slot and band entries of a new article; `None` when the index is full.
    fn insert_long(&mut self, article_id: i64, group_id: i64, fp: &Fingerprint) -> Option<u32> {
        let slot = match u32::try_from(self.slots.len()) {
            Ok(s) if s != NONE => s,
            // Four billion articles: beyond what one process indexes; stop growing.
            _ => return None,
        };
        let lang = lang_bytes(fp);
        self.slots.push(Slot {
            simhash: fp.simhash,
            article_id,
            group_id,
            words: fp.words,
            lang,
        });
        let mut links = [NONE; BLOCKS];
        if fp.words >= self.cfg.simhash_min_words {
            for (b, link) in links.iter_mut().enumerate() {
                let head = &mut self.heads[bucket(fp.simhash, b)];
                *link = *head;
                *head = slot;
            }
        }
        self.next.push(links);
        Some(slot)
    }

    /// The earliest article of the group `fp` belongs to, if any. A SimHash match (long texts,
    /// nearly the same words throughout) wins over a short-text match.
    pub fn find(&self, fp: &Fingerprint) -> Option<NearMatch> {
        self.find_simhash(fp).or_else(|| self.find_short(fp))
    }

    fn find_simhash(&self, fp: &Fingerprint) -> Option<NearMatch> {
        if fp.words < self.cfg.simhash_min_words {
            return None;
        }
        let lang = lang_bytes(fp);
        // The nearest; between equally near ones the earliest (lowest slot), whichever block
        // found it.
        let mut best: Option<(u32, u32)> = None; // (distance, slot)
        for b in 0..BLOCKS {
            let mut at = self.heads[bucket(fp.simhash, b)];
            while at != NONE {
                let s = &self.slots[at as usize];
                let d = hamming(s.simhash, fp.simhash);
                if d <= self.cfg.simhash_max_distance
                    && best.is_none_or(|bd| (d, at) < bd)
                    && !lang_conflict(lang, s)
                {
                    best = Some((d, at));
                }
                at = self.next[at as usize][b];
            }
        }
        let (d, slot) = best?;
        let s = &self.slots[slot as usize];
        Some(NearMatch {
            article_id: s.group_id,
            detector: Detector::Simhash,
            similarity: 1.0 - f64::from(d) / 64.0,
            evidence: serde_json::json!({
                "detector": Detector::Simhash.as_str(),
                "matched_article_id": s.article_id,
                "distance": d,
                "max_distance": self.cfg.simhash_max_distance,
                "words": [fp.words, s.words],
                "min_words": self.cfg.simhash_min_words,
            }),
        })
    }

    fn find_short(&self, fp: &Fingerprint) -> Option<NearMatch> {
        let window = i64::try_from(self.cfg.short_window_hours)
            .unwrap_or(i64::MAX / 3600)
            .saturating_mul(3600);
        // Count how many of this item's keys each candidate shares, then score only those that
        // share at least two: a true copy shares most of its title and lede words, while a
        // single shared word is what unrelated items have in common (scoring every one made a
        // lookup cost ~100 us with 100k items stored).
        let keys = short::keys(fp);
        let mut buckets: [Option<&VecDeque<u32>>; short::KEYS] = [None; short::KEYS];
        for (slot, key) in buckets.iter_mut().zip(keys.iter()) {
            *slot = self.buckets.get(key);
        }
        let candidates = shared_at_least(
            buckets.iter().flatten().copied(),
            self.short_base,
            keys.len().clamp(1, 2),
        );
        let mut best: Option<(short::ShortScore, &ShortEntry)> = None;
        for pos in candidates {
            let Some(entry) = self.short.get(pos as usize) else {
                continue;
            };
            let other = &entry.fp;
            if fp.lang_conflicts(other) {
                continue;
            }
            if short::seconds_apart(fp, other).is_some_and(|(d, _)| d > window) {
                continue;
            }
            if !lede_bound_can_match(fp.lede_words(), entry, self.cfg.short_min_lede_jaccard)
                || !short::lede_can_match(fp, other, self.cfg.short_min_lede_jaccard)
            {
                continue;
            }
            let s = short::score(fp, other);
            if best.is_some_and(|(bs, _)| bs.score >= s.score) {
                continue;
            }
            if short::is_match(&s, fp, other, &self.cfg) && self.long_pair_agrees(fp, other) {
                best = Some((s, entry));
            }
        }
        let (s, entry) = best?;
        let slot = &self.slots[entry.slot as usize];
        let (hours_apart, times) = match short::seconds_apart(fp, &entry.fp) {
            Some((d, basis)) => (serde_json::json!(d as f64 / 3600.0), basis.as_str()),
            None => (serde_json::Value::Null, "unknown"),
        };
        Some(NearMatch {
            article_id: slot.group_id,
            detector: Detector::ShortText,
            similarity: s.score,
            evidence: serde_json::json!({
                "detector": Detector::ShortText.as_str(),
                "matched_article_id": slot.article_id,
                "title_jaccard": round3(s.title),
                "lede_jaccard": round3(s.lede),
                "score": round3(s.score),
                "min_score": self.cfg.short_min_score,
                "min_lede_jaccard": self.cfg.short_min_lede_jaccard,
                "title_floor": self.cfg.short_title_floor,
                "lede_only_jaccard": self.cfg.short_lede_only_jaccard,
                "simhash_distance": hamming(fp.simhash, entry.fp.simhash),
                "hours_apart": hours_apart,
                "times": times,
                "window_hours": self.cfg.short_window_hours,
            }),
        })
    }

    /// Two long articles whose ledes agree can still report different things further down (one
    /// outlet's follow-up reusing its background paragraph): when both are long, their whole
    /// texts must also be close.
    fn long_pair_agrees(&self, a: &Fingerprint, b: &Fingerprint) -> bool {
        let long = self.cfg.simhash_min_words;
        a.words < long
            || b.words < long
            || hamming(a.simhash, b.simhash) <= self.cfg.long_pair_max_distance
    }

    /// Drop the oldest short-text items beyond the ring's size, with their bucket keys. Only
    /// the count evicts: an eviction by time would follow the newest date seen, which one
    /// undated or future-dated item (or a live poll before an archive backfill) moves far
    /// past every other article, and which pairs can match would then depend on the stream.
    /// The window is held per pair, in `find_short`.
    fn evict(&mut self) {
        while let Some(front) = self.short.front() {
            if self.short.len() <= self.cfg.short_max_entries {
                break;
            }
            let seq = self.short_base;
            for key in short::keys(&front.fp) {
                if let Some(bucket) = self.buckets.get_mut(&key) {
                    // Sequence numbers are pushed in order: the evicted one is at the front
                    // unless the bucket cap already dropped it.
                    if bucket.front() == Some(&seq) {
                        bucket.pop_front();
                    }
                    if bucket.is_empty() {
                        self.buckets.remove(&key);
                    }
                }
            }
            self.short.pop_front();
            self.short_base = self.short_base.wrapping_add(1);
        }
    }
}

/// The ring positions (sequence numbers less `base`) that occur at least `need` times across
/// `buckets`, newest (highest) first so that ties go to the same article every time. Counted
/// in a small open-addressing table: a lookup gathers up to KEYS x bucket cap positions, and
/// a general hash map or a sort of them cost more than all the rest of the lookup.
fn shared_at_least<'a>(
    buckets: impl Iterator<Item = &'a VecDeque<u32>> + Clone,
    base: u32,
    need: usize,
) -> Vec<u32> {
    const EMPTY: u32 = u32::MAX;
    // With the default cap (32 x 10 keys) the table fits on the stack; a larger configured
    // cap takes the heap.
    const STACK: usize = 1024;
    // The buckets are rarely in cache and their misses were most of a lookup: reading one
    // word of each first lets the misses overlap instead of arriving one bucket at a time.
    let mut total = 0;
    for bucket in buckets.clone() {
        total += bucket.len();
        let (front, back) = bucket.as_slices();
        std::hint::black_box((front.first().copied(), back.first().copied()));
    }
    let size = (total * 2).next_power_of_two().max(16);
    let mut on_stack = [(EMPTY, 0u8); STACK];
    let mut on_heap = Vec::new();
    let slots: &mut [(u32, u8)] = if size <= STACK {
        &mut on_stack[..size]
    } else {
        on_heap.resize(size, (EMPTY, 0u8));
        &mut on_heap
    };
    let mask = size - 1;
    for bucket in buckets {
        let (front, back) = bucket.as_slices();
        for &seq in front.iter().chain(back) {
            // The ring is far smaller than u32::MAX, so no position equals EMPTY.
            let p = seq.wrapping_sub(base);
            let mut i = (p.wrapping_mul(0x9e37_79b1) >> 7) as usize & mask;
            loop {
                let slot = &mut slots[i];
                if slot.0 == EMPTY {
                    *slot = (p, 1);
                    break;
                }
                if slot.0 == p {
                    slot.1 = slot.1.saturating_add(1);
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }
    let need = u8::try_from(need).unwrap_or(u8::MAX);
    let mut out: Vec<u32> = slots
        .iter()
        .filter(|&&(p, n)| p != EMPTY && n >= need)
        .map(|&(p, _)| p)
        .collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out
}

/// Hasher for keys that are already word hashes: one multiply spreads them over the bits the
/// table uses.
#[derive(Default, Clone, Copy)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, k: u32) {
        self.0 = u64::from(k).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// One bit per lede word hash.
fn lede_bit(word: u32) -> u64 {
    1 << (word.wrapping_mul(0x9e37_79b1) >> 26)
}

fn lede_mask(words: &[u32]) -> u64 {
    words.iter().fold(0, |m, &w| m | lede_bit(w))
}

/// False only when the lede Jaccard of `lede` and the entry's cannot reach `min`, so
/// `short::lede_can_match` would say no. Every word the two ledes share has its bit in the
/// entry's mask, so the words of `lede` whose bits are there bound the shared count from
/// above, and the Jaccard grows with the shared count (sizes fixed). Candidates in the
/// writer's lookups mostly fail here, without reading the entry's words (a cache miss each:
/// the lede test was the largest part of a cold poll's near-duplicate lookups).
fn lede_bound_can_match(lede: &[u32], entry: &ShortEntry, min: f64) -> bool {
    let other = entry.fp.lede_words().len();
    if lede.is_empty() || other == 0 {
        // Empty ledes are `lede_can_match`'s own cases.
        return true;
    }
    let bound = lede
        .iter()
        .filter(|&&w| entry.lede_mask & lede_bit(w) != 0)
        .count()
        .min(other);
    // The same formula as `short::jaccard_at_least`, so the bound is exact.
    bound as f64 / (lede.len() + other - bound) as f64 >= min
}

/// Where block `b`'s bucket for `simhash` starts in `heads`.
fn bucket(simhash: u64, b: usize) -> usize {
    (b << BLOCK_BITS) | ((simhash >> (b as u32 * BLOCK_BITS)) & 0xffff) as usize
}

fn lang_bytes(fp: &Fingerprint) -> [u8; 3] {
    let mut out = [0u8; 3];
    if let Some(l) = fp.lang() {
        for (o, b) in out.iter_mut().zip(l.bytes()) {
            *o = b;
        }
    }
    out
}

fn lang_conflict(lang: [u8; 3], s: &Slot) -> bool {
    lang[0] != 0 && s.lang[0] != 0 && lang != s.lang
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key with its articles, oldest first.
    type Buckets = Vec<(u32, Vec<i64>)>;

    /// Everything the short-text detector reads: the ring's articles and the buckets.
    fn short_state(ix: &NearDupIndex) -> (Vec<i64>, Buckets) {
        let article = |seq: u32| {
            let pos = seq.wrapping_sub(ix.short_base) as usize;
            ix.slots[ix.short[pos].slot as usize].article_id
        };
        let ring = ix
            .short
            .iter()
            .map(|e| ix.slots[e.slot as usize].article_id)
            .collect();
        let mut buckets: Buckets = ix
            .buckets
            .iter()
            .map(|(k, b)| (*k, b.iter().map(|&s| article(s)).collect()))
            .collect();
        buckets.sort();
        (ring, buckets)
    }

    /// A fixed-seed xorshift generator: the same random cases on every run.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn a_rebuild_that_skips_the_ring_for_old_articles_builds_the_same_index() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        for round in 0..20 {
            let cfg = DedupeConfig {
                short_max_entries: 1 + (next() % 60) as usize,
                short_bucket_cap: 1 + (next() % 6) as usize,
                short_window_hours: 1 + next() % 5,
                ..DedupeConfig::default()
            };
            // Few distinct words so buckets overflow; times out of order, some missing, so
            // both the count and the clock evict.
            let n = 50 + (next() % 200) as usize;
            let fps: Vec<Fingerprint> = (0..n)
                .map(|_| {
                    let words = |k: u64, next: &mut dyn FnMut() -> u64| {
                        (0..k).map(|_| (next() % 40) as u32).collect::<Vec<_>>()
                    };
                    let title = words(4, &mut next);
                    let lede = words(10, &mut next);
                    let time = (next() % 8 != 0).then(|| (next() % 40_000) as i64);
                    Fingerprint::from_parts(next(), 50, time, Some("en"), title, lede)
                })
                .collect();
            let mut full = NearDupIndex::new(&cfg);
            let mut skipping = NearDupIndex::new(&cfg);
            let archived = n.saturating_sub(cfg.short_max_entries);
            for (i, fp) in fps.iter().enumerate() {
                full.insert_with_group(i as i64, i as i64, fp.clone());
                if i < archived {
                    skipping.insert_archived(i as i64, i as i64, fp);
                } else {
                    skipping.insert_with_group(i as i64, i as i64, fp.clone());
                }
            }
            assert_eq!(short_state(&full), short_state(&skipping), "round {round}");
            assert_eq!(full.len(), skipping.len());
        }
    }

    #[test]
    fn the_lede_mask_never_rules_out_a_lede_that_can_match() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let (mut ruled_out, mut matching) = (0, 0);
        for _ in 0..20_000 {
            // Few distinct words, so ledes overlap and masks collide.
            let mut set = |n: u64| {
                let mut v: Vec<u32> = (0..next() % n).map(|_| (next() % 90) as u32).collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let (la, lb) = (set(30), set(30));
            let a = Fingerprint::from_parts(0, 30, Some(0), Some("en"), vec![1], la.clone());
            let b = Fingerprint::from_parts(0, 30, Some(0), Some("en"), vec![2], lb.clone());
            let entry = ShortEntry {
                slot: 0,
                lede_mask: lede_mask(b.lede_words()),
                fp: b.clone(),
            };
            for min in [0.0, 0.2, 0.35, 0.5, 0.8, 1.0] {
                let can = short::lede_can_match(&a, &b, min);
                let bound = lede_bound_can_match(a.lede_words(), &entry, min);
                assert!(bound || !can, "{la:?} {lb:?} {min}");
                matching += usize::from(can);
                ruled_out += usize::from(!bound);
            }
        }
        // The bound does rule candidates out, and every match got through.
        assert!(
            ruled_out > 10_000 && matching > 1_000,
            "{ruled_out} {matching}"
        );
    }

    #[test]
    fn shared_positions_are_counted_exactly() {
        let count = |positions: &[u32], need| {
            let bucket: VecDeque<u32> = positions.iter().copied().collect();
            shared_at_least([&bucket].into_iter(), 0, need)
        };
        assert_eq!(count(&[5, 9, 5, 7, 9, 9, 1, 0, 0], 2), [9, 5, 0]);
        assert_eq!(count(&[3, 4], 1), [4, 3]);
        assert!(count(&[], 2).is_empty());
        // Positions that all probe from the same few slots are still each counted exactly,
        // past the stack table's size too.
        let many: Vec<u32> = (0..500).flat_map(|i| [i << 20, i << 20]).collect();
        assert_eq!(count(&many, 2).len(), 500);
        let once: Vec<u32> = (0..500).map(|i| i << 20).collect();
        assert!(count(&once, 2).is_empty());
        // Across buckets (a wrapped ring included), relative to the ring's base.
        let mut wrapped = VecDeque::with_capacity(4);
        wrapped.extend([1u32, 2, 3]);
        wrapped.pop_front();
        wrapped.extend([u32::MAX, 7]);
        let other: VecDeque<u32> = [7u32, 3, u32::MAX].into_iter().collect();
        let got = shared_at_least([&wrapped, &other].into_iter(), u32::MAX, 2);
        assert_eq!(got, [8, 4, 0]);
    }
}
