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
//!   The ring keeps what the rules can test without the words (times, language, lede length
//!   and a 64-bit mask of the lede's words): 24 bytes an item. The word hashes of the few
//!   candidates that pass are read from the store (`StoredFingerprints`), which keeps every
//!   article's fingerprint anyway: held in memory they were 25 MB of a 103 MB heap peak at
//!   200,000 items. An index made with `new` holds them itself (PostgreSQL, tests).

use std::borrow::Cow;
use std::cell::Cell;
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

/// What the ring keeps of a recent item: what the short-text rules can test before reading its
/// words. 24 bytes; the simhash, word count, language and ids are its slot's.
#[derive(Clone, Copy)]
struct ShortEntry {
    /// The bits of its lede words (`lede_mask`), read in place of the words to rule out most
    /// candidates without reading them.
    lede_mask: u64,
    slot: u32,
    /// Its date and first-seen time as `clock` packs them.
    time: u32,
    seen: u32,
    lede_len: u8,
}

/// Where the short-text detector reads the word hashes of a candidate that passed every test
/// the ring can make: the stored fingerprint of the article (see `NearDupIndex::for_store`).
pub trait StoredFingerprints {
    type Error;
    /// The fingerprint stored for `article_id`; `None` when there is none (or it cannot be
    /// read): the candidate is then passed over.
    fn read(&mut self, article_id: i64) -> Result<Option<Fingerprint>, Self::Error>;
}

/// No store: for an index that holds every fingerprint itself (`NearDupIndex::new`).
pub struct NoStore;

impl StoredFingerprints for NoStore {
    type Error = std::convert::Infallible;
    fn read(&mut self, _: i64) -> Result<Option<Fingerprint>, Self::Error> {
        Ok(None)
    }
}

/// The fingerprints the index holds itself.
enum Held {
    /// Every ring item's, parallel to the ring.
    All(VecDeque<Fingerprint>),
    /// For a store.
    Store {
        /// The newest ring items' (at most `RECENT_HELD`), parallel to the ring's back.
        recent: VecDeque<Fingerprint>,
        /// Those of older items whose stored fingerprint a revision has since replaced (by
        /// sequence number): the ring still holds the earlier version, which matches copies of
        /// it until it is evicted, as it did when every fingerprint was in memory.
        replaced: HashMap<u32, Fingerprint>,
    },
}

/// Ring items whose fingerprints a store-backed index keeps in memory anyway, the newest.
/// Buckets keep each key's newest items, so candidates are mostly recent: in a cold poll of
/// the 1,000 x 50 farm (27 candidates read per lookup without them) 82% of the reads were of
/// the newest 256 items and 99.97% of the newest 4,096. About 0.8 MB.
const RECENT_HELD: usize = 4096;

/// How often the store was read, for `NearDupIndex::reads`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadStats {
    /// Short-text lookups made.
    pub lookups: u64,
    /// Candidates whose stored fingerprint was read.
    pub reads: u64,
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
    held: Held,
    recent_held: usize,
    /// Word hash -> sequence numbers of recent items having it as a key, oldest first.
    /// Sequence numbers wrap at 2^32; the ring holds far fewer (`MAX_SHORT_ENTRIES`), so an
    /// item's position is always `seq - short_base` in wrapping arithmetic. Entries are 32-bit
    /// and the keys (already hashes) skip SipHash: a lookup reads ten buckets that are rarely in
    /// cache, and their size is what it costs.
    /// An evicted item's sequence numbers stay in its buckets (its keys are in its words,
    /// which the ring no longer has) until the bucket cap pushes them out or a sweep drops
    /// them; a lookup skips them. Being older than every live entry they sit at the bucket's
    /// front, so the live entries are the same as if they had been removed at eviction.
    buckets: HashMap<u32, VecDeque<u32>, KeyHash>,
    /// Items evicted since the last sweep of the buckets.
    evicted: usize,
    stats: Cell<ReadStats>,
}

impl NearDupIndex {
    /// An index that holds every recent item's fingerprint itself: `find` needs nothing else.
    pub fn new(cfg: &DedupeConfig) -> Self {
        Self::with_held(cfg, Held::All(VecDeque::new()))
    }

    /// An index for a store that keeps each inserted article's fingerprint, as inserted, under
    /// its article id: the short-text detector reads a candidate's words from it
    /// (`find_with`). The caller tells it of a stored fingerprint replaced while the article
    /// may still be in the ring (`replacing`).
    pub fn for_store(cfg: &DedupeConfig) -> Self {
        Self::for_store_holding(cfg, RECENT_HELD)
    }

    /// `for_store`, holding the newest `recent` items' fingerprints.
    fn for_store_holding(cfg: &DedupeConfig, recent: usize) -> Self {
        let mut index = Self::with_held(
            cfg,
            Held::Store {
                recent: VecDeque::new(),
                replaced: HashMap::new(),
            },
        );
        index.recent_held = recent;
        index
    }

    fn with_held(cfg: &DedupeConfig, held: Held) -> Self {
        NearDupIndex {
            cfg: cfg.clone(),
            slots: Vec::new(),
            heads: vec![NONE; BLOCKS << BLOCK_BITS],
            next: Vec::new(),
            short: VecDeque::new(),
            short_base: 0,
            held,
            recent_held: 0,
            buckets: HashMap::default(),
            evicted: 0,
            stats: Cell::new(ReadStats::default()),
        }
    }

    /// Lookups made and stored fingerprints read so far.
    pub fn reads(&self) -> ReadStats {
        self.stats.get()
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

    /// Add an article, computing its group with `find` (so for an index made with `new`). At
    /// ingest, where the caller has just called `find` itself, `insert_with_group` avoids the
    /// second lookup.
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
        self.evict();
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
        let max = self.cfg.short_max_entries;
        reserve_up_to(&mut self.short, max);
        self.short.push_back(ShortEntry {
            lede_mask: lede_mask(fp.lede_words()),
            slot,
            time: clock(fp.time),
            seen: clock(fp.seen),
            lede_len: fp.lede_words().len().min(usize::from(u8::MAX)) as u8,
        });
        match &mut self.held {
            Held::All(all) => {
                reserve_up_to(all, max);
                all.push_back(fp);
            }
            Held::Store { recent, .. } if self.recent_held > 0 => {
                if recent.len() >= self.recent_held {
                    recent.pop_front();
                }
                reserve_up_to(recent, self.recent_held.min(max));
                recent.push_back(fp);
            }
            Held::Store { .. } => {}
        }
    }

    /// Tell the index that the stored fingerprint of `article_id`, `old`, is being replaced
    /// (a revision): ring items inserted with `old` keep it in memory from now on. Call it
    /// before the store replaces it. Items are found through `old`'s keys; one no longer in
    /// any of its buckets can never be a candidate again.
    pub fn replacing(&mut self, article_id: i64, old: &Fingerprint) {
        // Items among the recent ones are kept too: they leave `recent` before the ring.
        let Held::Store { replaced, .. } = &mut self.held else {
            return;
        };
        let mut found: Vec<u32> = Vec::new();
        for key in short::keys(old) {
            let Some(bucket) = self.buckets.get(&key) else {
                continue;
            };
            for &seq in bucket {
                let pos = seq.wrapping_sub(self.short_base);
                let Some(entry) = self.short.get(pos as usize) else {
                    continue;
                };
                let slot = &self.slots[entry.slot as usize];
                if slot.article_id == article_id
                    && !replaced.contains_key(&seq)
                    && is_version_of(entry, slot, old)
                    && !found.contains(&seq)
                {
                    found.push(seq);
                }
            }
        }
        for seq in found {
            replaced.insert(seq, old.clone());
        }
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
    /// For an index made with `new`.
    pub fn find(&self, fp: &Fingerprint) -> Option<NearMatch> {
        match self.find_with(fp, &mut NoStore) {
            Ok(m) => m,
            Err(never) => match never {},
        }
    }

    /// `find` for an index made with `for_store`, reading candidates' words from `store`.
    pub fn find_with<S: StoredFingerprints>(
        &self,
        fp: &Fingerprint,
        store: &mut S,
    ) -> Result<Option<NearMatch>, S::Error> {
        match self.find_simhash(fp) {
            Some(m) => Ok(Some(m)),
            None => self.find_short(fp, store),
        }
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

    fn find_short<S: StoredFingerprints>(
        &self,
        fp: &Fingerprint,
        store: &mut S,
    ) -> Result<Option<NearMatch>, S::Error> {
        let window = i64::try_from(self.cfg.short_window_hours)
            .unwrap_or(i64::MAX / 3600)
            .saturating_mul(3600);
        let mut stats = self.stats.get();
        stats.lookups += 1;
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
        let lang = lang_bytes(fp);
        let mut best: Option<(short::ShortScore, u32, Cow<Fingerprint>)> = None;
        for pos in candidates {
            // Evicted items left in the buckets fall outside the ring here.
            let Some(entry) = self.short.get(pos as usize) else {
                continue;
            };
            let slot = &self.slots[entry.slot as usize];
            // The tests the ring can make, in the order that rules most out first.
            if lang_conflict(lang, slot)
                || !may_be_within(fp, entry, window)
                || !lede_bound_can_match(fp.lede_words(), entry, self.cfg.short_min_lede_jaccard)
            {
                continue;
            }
            let other = match self.held_at(pos) {
                Some(held) => Cow::Borrowed(held),
                None => {
                    stats.reads += 1;
                    match store.read(slot.article_id) {
                        // A stored fingerprint that is not the one inserted (another process
                        // revised the article) is not this item's: pass over it.
                        Ok(Some(read)) if is_version_of(entry, slot, &read) => Cow::Owned(read),
                        Ok(_) => continue,
                        Err(e) => {
                            self.stats.set(stats);
                            return Err(e);
                        }
                    }
                }
            };
            // The exact rules, on the words.
            if fp.lang_conflicts(&other) {
                continue;
            }
            if short::seconds_apart(fp, &other).is_some_and(|(d, _)| d > window) {
                continue;
            }
            if !short::lede_can_match(fp, &other, self.cfg.short_min_lede_jaccard) {
                continue;
            }
            let s = short::score(fp, &other);
            if best.as_ref().is_some_and(|(bs, ..)| bs.score >= s.score) {
                continue;
            }
            if short::is_match(&s, fp, &other, &self.cfg) && self.long_pair_agrees(fp, &other) {
                best = Some((s, entry.slot, other));
            }
        }
        self.stats.set(stats);
        let Some((s, slot, other)) = best else {
            return Ok(None);
        };
        let slot = &self.slots[slot as usize];
        let (hours_apart, times) = match short::seconds_apart(fp, &other) {
            Some((d, basis)) => (serde_json::json!(d as f64 / 3600.0), basis.as_str()),
            None => (serde_json::Value::Null, "unknown"),
        };
        Ok(Some(NearMatch {
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
                "simhash_distance": hamming(fp.simhash, other.simhash),
                "hours_apart": hours_apart,
                "times": times,
                "window_hours": self.cfg.short_window_hours,
            }),
        }))
    }

    /// The fingerprint the index holds for the ring item at `pos`, if it holds it.
    fn held_at(&self, pos: u32) -> Option<&Fingerprint> {
        match &self.held {
            Held::All(all) => all.get(pos as usize),
            Held::Store { recent, replaced } => {
                let first_recent = self.short.len() - recent.len();
                match (pos as usize).checked_sub(first_recent) {
                    Some(i) => recent.get(i),
                    None => replaced.get(&self.short_base.wrapping_add(pos)),
                }
            }
        }
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

    /// Make room for one more short-text item, dropping the oldest beyond the ring's size.
    /// Only the count evicts: an eviction by time would follow the newest date seen, which one
    /// undated or future-dated item (or a live poll before an archive backfill) moves far
    /// past every other article, and which pairs can match would then depend on the stream.
    /// The window is held per pair, in `find_short`.
    fn evict(&mut self) {
        while self.short.len() >= self.cfg.short_max_entries {
            self.short.pop_front();
            match &mut self.held {
                Held::All(all) => {
                    all.pop_front();
                }
                Held::Store { recent, replaced } => {
                    replaced.remove(&self.short_base);
                    if recent.len() > self.short.len() {
                        recent.pop_front();
                    }
                }
            }
            self.short_base = self.short_base.wrapping_add(1);
            self.evicted += 1;
        }
        // Sweep once a quarter of the ring has turned over: the buckets then hold at most a
        // quarter more entries than live ones, and the sweep's cost spreads over those inserts.
        // Sequence numbers stay far from wrapping onto a stale entry (MAX_SHORT_ENTRIES).
        if self.evicted > self.cfg.short_max_entries / 4 {
            self.sweep();
        }
    }

    /// Drop evicted items' sequence numbers from the buckets, and buckets left empty.
    fn sweep(&mut self) {
        let (base, len) = (self.short_base, self.short.len());
        self.buckets.retain(|_, bucket| {
            while bucket
                .front()
                .is_some_and(|&seq| seq.wrapping_sub(base) as usize >= len)
            {
                bucket.pop_front();
            }
            !bucket.is_empty()
        });
        self.evicted = 0;
    }
}

/// Grow a ring by doubling, but never past `max` items: at the default 200,000 a doubling
/// reserved 262,144.
fn reserve_up_to<T>(ring: &mut VecDeque<T>, max: usize) {
    if ring.len() == ring.capacity() {
        let want = (ring.capacity() * 2).max(16).min(max.max(ring.len() + 1));
        ring.reserve_exact(want - ring.len());
    }
}

/// Times as the ring keeps them: unix seconds in 32 bits (1970 to 2106); `CLOCK_NONE` for no
/// time and `CLOCK_FAR` for one outside that range, which `may_be_within` cannot rule out.
const CLOCK_NONE: u32 = u32::MAX;
const CLOCK_FAR: u32 = u32::MAX - 1;

fn clock(t: Option<i64>) -> u32 {
    match t {
        None => CLOCK_NONE,
        Some(t) => u32::try_from(t)
            .ok()
            .filter(|&c| c < CLOCK_FAR)
            .unwrap_or(CLOCK_FAR),
    }
}

/// False only when `short::seconds_apart` of `fp` and the entry's fingerprint is known to
/// exceed `window`: the same choice of times, on the packed ones.
fn may_be_within(fp: &Fingerprint, entry: &ShortEntry, window: i64) -> bool {
    let (x, y) = match ((fp.time, entry.time), (fp.seen, entry.seen)) {
        ((Some(x), y), _) if y != CLOCK_NONE => (x, y),
        (_, (Some(x), y)) if y != CLOCK_NONE => (x, y),
        _ => return true,
    };
    y == CLOCK_FAR || x.abs_diff(i64::from(y)) <= window.unsigned_abs()
}

/// Whether `fp` is the fingerprint the ring item was inserted with, as far as the ring and its
/// slot can tell: a stored fingerprint read back for an item must be.
fn is_version_of(entry: &ShortEntry, slot: &Slot, fp: &Fingerprint) -> bool {
    slot.simhash == fp.simhash
        && slot.words == fp.words
        && entry.time == clock(fp.time)
        && entry.seen == clock(fp.seen)
        && usize::from(entry.lede_len) == fp.lede_words().len().min(usize::from(u8::MAX))
        && entry.lede_mask == lede_mask(fp.lede_words())
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
    let other = usize::from(entry.lede_len);
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
        // Evicted items a bucket still names are skipped by lookups: not part of the state.
        let live = |seq: &&u32| (seq.wrapping_sub(ix.short_base) as usize) < ix.short.len();
        let mut buckets: Buckets = ix
            .buckets
            .iter()
            .map(|(k, b)| (*k, b.iter().filter(live).map(|&s| article(s)).collect()))
            .filter(|(_, b): &(u32, Vec<i64>)| !b.is_empty())
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

    /// A random small ring (at most `entries` items, `cap` per bucket, a 1-5 hour window),
    /// so that the count, the caps and the clock all evict.
    fn small_config(next: &mut impl FnMut() -> u64, entries: u64, cap: u64) -> DedupeConfig {
        DedupeConfig {
            short_max_entries: 1 + (next() % entries) as usize,
            short_bucket_cap: 1 + (next() % cap) as usize,
            short_window_hours: 1 + next() % 5,
            ..DedupeConfig::default()
        }
    }

    #[test]
    fn a_rebuild_that_skips_the_ring_for_old_articles_builds_the_same_index() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        for round in 0..20 {
            let cfg = small_config(&mut next, 60, 6);
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

    /// A store for the tests: each article's latest fingerprint, as `article_fingerprints`
    /// keeps it.
    #[derive(Default)]
    struct MapStore {
        rows: HashMap<i64, Fingerprint>,
        reads: u64,
    }

    impl StoredFingerprints for MapStore {
        type Error = std::convert::Infallible;
        fn read(&mut self, article_id: i64) -> Result<Option<Fingerprint>, Self::Error> {
            self.reads += 1;
            Ok(self.rows.get(&article_id).cloned())
        }
    }

    #[test]
    fn reading_words_from_the_store_finds_what_holding_them_finds() {
        let mut next = xorshift(0x0bad_5eed_1234_5678u64);
        let (mut found, mut of_revised, mut reads) = (0, 0, 0);
        for round in 0..40 {
            let cfg = small_config(&mut next, 80, 8);
            let mut held = NearDupIndex::new(&cfg);
            // Few held, so most candidates are read from the store.
            let mut stored = NearDupIndex::for_store_holding(&cfg, (next() % 8) as usize);
            let mut store = MapStore::default();
            let mut made: Vec<Fingerprint> = Vec::new();
            // Ids of articles stored, with their groups: revisions pick among them.
            let mut ids: Vec<(i64, i64)> = Vec::new();
            let mut revised: Vec<i64> = Vec::new();
            for i in 0..300i64 {
                let words = |k: u64, next: &mut dyn FnMut() -> u64| {
                    (0..k).map(|_| (next() % 60) as u32).collect::<Vec<_>>()
                };
                // A third are copies of an earlier item with a few words changed, so that
                // matches are common; some long enough for the SimHash rules.
                let (title, lede, simhash) = match made.len() {
                    n if n > 0 && next() % 3 == 0 => {
                        let base = &made[(next() % n as u64) as usize];
                        let mut t = base.title_words().to_vec();
                        let mut l = base.lede_words().to_vec();
                        for _ in 0..next() % 4 {
                            if let Some(w) = l.get_mut((next() % 12) as usize) {
                                *w = (next() % 60) as u32;
                            }
                        }
                        if next() % 2 == 0 {
                            t.push((next() % 60) as u32);
                        }
                        (
                            t,
                            l,
                            base.simhash ^ (1 << (next() % 64)) ^ (1 << (next() % 64)),
                        )
                    }
                    _ => (words(4, &mut next), words(12, &mut next), next()),
                };
                let long = if next() % 4 == 0 { 80 } else { 30 };
                let time = (next() % 6 != 0).then(|| (next() % 30_000) as i64);
                let lang = ["en", "en", "en", "de"][(next() % 4) as usize];
                let mut fp = Fingerprint::from_parts(simhash, long, time, Some(lang), title, lede);
                if next() % 5 != 0 {
                    fp = fp.seen_at((next() % 30_000) as i64);
                }
                made.push(fp.clone());
                if !ids.is_empty() && next() % 6 == 0 {
                    // A revision of a stored article: its row is replaced, the ring keeps the
                    // earlier version too.
                    let (id, group) = ids[(next() % ids.len() as u64) as usize];
                    if let Some(old) = store.rows.get(&id) {
                        stored.replacing(id, old);
                    }
                    store.rows.insert(id, fp.clone());
                    revised.push(id);
                    held.insert_with_group(id, group, fp.clone());
                    stored.insert_with_group(id, group, fp);
                    continue;
                }
                let want = held.find(&fp);
                let got = stored
                    .find_with(&fp, &mut store)
                    .unwrap_or_else(|e| match e {});
                assert_eq!(got, want, "round {round}, item {i}");
                if let Some(m) = &want {
                    found += 1;
                    let matched = m.evidence["matched_article_id"].as_i64();
                    of_revised += usize::from(matched.is_some_and(|id| revised.contains(&id)));
                }
                let group = want.map_or(i, |m| m.article_id);
                store.rows.insert(i + 1000, fp.clone());
                held.insert_with_group(i + 1000, group, fp.clone());
                stored.insert_with_group(i + 1000, group, fp);
                ids.push((i + 1000, group));
                assert_eq!(short_state(&held), short_state(&stored), "round {round}");
            }
            reads += store.reads;
        }
        // Matches happened, revised articles matched, and candidates were read.
        assert!(
            found > 500 && of_revised > 50 && reads > 300,
            "{found} {of_revised} {reads}"
        );
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
                lede_mask: lede_mask(b.lede_words()),
                slot: 0,
                time: clock(b.time),
                seen: clock(b.seen),
                lede_len: b.lede_words().len() as u8,
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
