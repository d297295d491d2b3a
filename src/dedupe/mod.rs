//! Near-duplicate detection (SPEC section 5, issue 4): which earlier article, if any, is the
//! same story as this one. Exact identity (same feed and guid, canonical URL, content hash) is a
//! store lookup; this module finds the rest:
//!
//! - a long-text detector: SimHash over word 3-shingles, Hamming distance through a banded
//!   index (see `index`);
//! - a short-text detector for the common case of a headline and a sentence or two: title and
//!   lede word overlap within a time window (see `short`).
//!
//! Everything here is pure. The store keeps each article's `Fingerprint` (`to_bytes`) and
//! rebuilds the index at start with `NearDupIndex::insert_with_group`; on SQLite the index
//! then reads the words of the few short-text candidates that pass its in-memory tests back
//! from the store (`StoredFingerprints`) instead of holding them all.

pub mod explain;
mod fingerprint;
mod index;
pub mod short;
pub mod simhash;
pub mod text;

pub use fingerprint::{fingerprint, Fingerprint, FingerprintError, LEDE_WORDS, TITLE_WORDS};
pub use index::{NearDupIndex, NoStore, ReadStats, StoredFingerprints};

/// Thresholds for both detectors. Defaults were tuned on the corpus (SOURCES.md section D and
/// every pair over the 1,156 feed items and 837 articles checked by hand).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupeConfig {
    /// Largest SimHash Hamming distance for a long-text match. The banded index guarantees
    /// every match up to 3; larger values only find pairs that also agree on a whole block.
    pub simhash_max_distance: u32,
    /// Words (title and body, boilerplate out) both texts need for the SimHash to be trusted.
    pub simhash_min_words: u32,
    /// Short-text: least combined score, (2 * lede Jaccard + title Jaccard) / 3.
    pub short_min_score: f64,
    /// Short-text: least lede Jaccard, whatever the title says.
    pub short_min_lede_jaccard: f64,
    /// Short-text: below this title Jaccard the headlines are unrelated, and only a lede
    /// Jaccard of at least `short_lede_only_jaccard` (a re-issued wire lede) still matches.
    pub short_title_floor: f64,
    pub short_lede_only_jaccard: f64,
    /// Short-text: ledes with fewer content words than this are too short to compare; such
    /// items match only on a headline Jaccard of at least `short_headline_only_jaccard`.
    pub short_min_lede_words: usize,
    pub short_headline_only_jaccard: f64,
    /// Short-text: two long texts whose ledes match must also be within this SimHash distance.
    pub long_pair_max_distance: u32,
    /// Short-text: items further apart in time than this are different stories. Two dated
    /// items compare dates; otherwise the times each was first seen (see `short::seconds_apart`).
    pub short_window_hours: u64,
    /// Short-text: newest entries kept per candidate bucket (bounds lookup cost).
    pub short_bucket_cap: usize,
    /// Short-text: the most recently stored items kept in memory (bounds memory; older ones
    /// drop out). Only this count evicts, never a date.
    pub short_max_entries: usize,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        DedupeConfig {
            simhash_max_distance: 3,
            simhash_min_words: 60,
            short_min_score: 0.5,
            short_min_lede_jaccard: 0.35,
            short_title_floor: 0.2,
            short_lede_only_jaccard: 0.85,
            short_min_lede_words: 8,
            short_headline_only_jaccard: 0.8,
            long_pair_max_distance: 20,
            short_window_hours: 72,
            short_bucket_cap: 32,
            short_max_entries: 200_000,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DedupeConfigError {
    #[error("dedupe.{field} = {value}: {why}")]
    OutOfRange {
        field: &'static str,
        value: String,
        why: &'static str,
    },
}

impl DedupeConfig {
    /// Reject values the detectors cannot honour, naming the setting.
    pub fn validate(&self) -> Result<(), DedupeConfigError> {
        let bad =
            |field, value: String, why| Err(DedupeConfigError::OutOfRange { field, value, why });
        if self.simhash_max_distance > 3 {
            return bad(
                "simhash_max_distance",
                self.simhash_max_distance.to_string(),
                "the four-block index only guarantees distances up to 3",
            );
        }
        for (field, v) in [
            ("short_min_score", self.short_min_score),
            ("short_min_lede_jaccard", self.short_min_lede_jaccard),
            ("short_title_floor", self.short_title_floor),
            ("short_lede_only_jaccard", self.short_lede_only_jaccard),
            (
                "short_headline_only_jaccard",
                self.short_headline_only_jaccard,
            ),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, v.to_string(), "must be between 0 and 1");
            }
        }
        if self.short_bucket_cap == 0 || self.short_max_entries == 0 {
            return bad(
                "short_bucket_cap",
                format!("{}/{}", self.short_bucket_cap, self.short_max_entries),
                "bucket cap and max entries must be at least 1",
            );
        }
        if self.short_max_entries > MAX_SHORT_ENTRIES {
            return bad(
                "short_max_entries",
                self.short_max_entries.to_string(),
                "must be at most 100000000",
            );
        }
        Ok(())
    }
}

/// The short-text ring numbers its items with wrapping 32-bit sequence numbers; far below 2^32
/// keeps those unambiguous (and the ring's memory sane).
pub const MAX_SHORT_ENTRIES: usize = 100_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    Simhash,
    ShortText,
}

impl Detector {
    /// The name stored with a duplicate.
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Simhash => "simhash",
            Detector::ShortText => "short_text",
        }
    }
}

/// The group an article belongs to, and why we think so.
#[derive(Debug, Clone, PartialEq)]
pub struct NearMatch {
    /// The earliest article of the group: the new article's `duplicate_of`.
    pub article_id: i64,
    pub detector: Detector,
    /// 1 - distance / 64 for SimHash; the combined score for short text.
    pub similarity: f64,
    /// Which detector, the matched article, distances and similarities, and the thresholds
    /// they were held to: stored with the duplicate so a merge can be explained later.
    pub evidence: serde_json::Value,
}

#[cfg(test)]
mod tests;
