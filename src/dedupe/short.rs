//! The short-text detector. A feed item is a headline and a sentence or two; wire copies of one
//! story in two outlets share only part of their shingles, but they share most of the lede's
//! content words and usually much of the headline. Both are compared, with separate thresholds,
//! and the lede carries more weight: outlets rewrite headlines far more than ledes.

use super::fingerprint::Fingerprint;
use super::DedupeConfig;

/// Keys per fingerprint in the candidate buckets. Keys are the smallest word hashes of title
/// and lede together (a bottom-k MinHash sketch), so two items whose words overlap by a third
/// share a key with probability above 97%.
pub const KEYS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShortScore {
    /// Jaccard similarity of the titles' content words (0 when either has no real title).
    pub title: f64,
    /// Jaccard similarity of the ledes' content words.
    pub lede: f64,
    /// (2 * lede + title) / 3.
    pub score: f64,
}

pub fn score(a: &Fingerprint, b: &Fingerprint) -> ShortScore {
    let title = jaccard(a.title_words(), b.title_words());
    let lede = if a.lede_words().is_empty() && b.lede_words().is_empty() {
        // Two headline-only items: only the headline can speak.
        title
    } else {
        jaccard(a.lede_words(), b.lede_words())
    };
    ShortScore {
        title,
        lede,
        score: (2.0 * lede + title) / 3.0,
    }
}

/// Whether the scores say "same story". Ledes too short to mean anything (a bare "[allAfrica]",
/// a three-word coder summary) only match with the same headline; a weak headline match needs a
/// near-identical lede; shared boilerplate alone never reaches either bar because boilerplate
/// lines are not in the lede and stopwords are not in either set.
pub fn is_match(s: &ShortScore, a: &Fingerprint, b: &Fingerprint, cfg: &DedupeConfig) -> bool {
    let short_lede = a.lede_words().len().min(b.lede_words().len()) < cfg.short_min_lede_words;
    if short_lede {
        // Enough words between headline and lede to name a story ("Letters" alone does not).
        let words = |f: &Fingerprint| f.title_words().len() + f.lede_words().len();
        return words(a).min(words(b)) >= cfg.short_min_lede_words / 2
            && s.title >= cfg.short_headline_only_jaccard
            && s.lede >= cfg.short_min_lede_jaccard;
    }
    if s.lede < cfg.short_min_lede_jaccard || s.score < cfg.short_min_score {
        return false;
    }
    s.title >= cfg.short_title_floor || s.lede >= cfg.short_lede_only_jaccard
}

/// The candidate keys of a fingerprint: its `KEYS` smallest word hashes over title and lede,
/// ascending. Both lists are sorted and distinct, so merging their fronts finds them without
/// an allocation or a sort (this runs on every lookup and insert).
pub fn keys(fp: &Fingerprint) -> Keys {
    let (a, b) = (fp.title_words(), fp.lede_words());
    let mut out = Keys {
        keys: [0; KEYS],
        len: 0,
    };
    let (mut i, mut j) = (0, 0);
    while out.len < KEYS {
        let next = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x == y => {
                i += 1;
                j += 1;
                x
            }
            (Some(&x), Some(&y)) if x < y => {
                i += 1;
                x
            }
            (_, Some(&y)) => {
                j += 1;
                y
            }
            (Some(&x), None) => {
                i += 1;
                x
            }
            (None, None) => break,
        };
        out.keys[out.len] = next;
        out.len += 1;
    }
    out
}

/// Up to `KEYS` keys, inline.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    keys: [u32; KEYS],
    len: usize,
}

impl std::ops::Deref for Keys {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        &self.keys[..self.len]
    }
}

impl IntoIterator for Keys {
    type Item = u32;
    type IntoIter = std::iter::Take<std::array::IntoIter<u32, KEYS>>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter().take(self.len)
    }
}

/// Which times `seconds_apart` compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBasis {
    /// Both articles' own dates.
    Dated,
    /// When each was first seen: at least one has no date, and a first-seen time is never
    /// compared with a date (a feed re-running dated wire items without their dates sees
    /// them when the original is seen, whatever the original's date).
    FirstSeen,
}

impl TimeBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeBasis::Dated => "dated",
            TimeBasis::FirstSeen => "first_seen",
        }
    }
}

/// How far apart two articles are in time, in seconds, and by which times; `None` when it
/// cannot be told (an undated article not yet seen by the store), and the time then does not
/// keep the two apart. Depends on the two articles only.
pub fn seconds_apart(a: &Fingerprint, b: &Fingerprint) -> Option<(i64, TimeBasis)> {
    match ((a.time, b.time), (a.seen, b.seen)) {
        ((Some(x), Some(y)), _) => {
            Some((x.abs_diff(y).min(i64::MAX as u64) as i64, TimeBasis::Dated))
        }
        (_, (Some(x), Some(y))) => Some((
            x.abs_diff(y).min(i64::MAX as u64) as i64,
            TimeBasis::FirstSeen,
        )),
        _ => None,
    }
}

/// Whether `is_match` can hold for the two ledes: every rule of it needs the lede Jaccard at
/// `min`. The writer asks this of every candidate before scoring it, and most fail early.
pub fn lede_can_match(a: &Fingerprint, b: &Fingerprint, min: f64) -> bool {
    let (a, b) = (a.lede_words(), b.lede_words());
    // Two empty ledes: `score` falls back to the headline.
    (a.is_empty() && b.is_empty()) || jaccard_at_least(a, b, min).is_some()
}

/// Jaccard similarity of two sorted, distinct slices, by merging.
pub fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    jaccard_at_least(a, b, f64::NEG_INFINITY).unwrap_or(0.0)
}

/// The Jaccard similarity when it reaches `min`, else `None`. The merge stops as soon as the
/// rest of the shorter list could no longer lift the overlap to `min`; the bound uses the
/// same formula as the result, so the answer is exactly `jaccard(a, b) >= min`.
fn jaccard_at_least(a: &[u32], b: &[u32], min: f64) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return (0.0 >= min).then_some(0.0);
    }
    let ratio = |common: usize| common as f64 / (a.len() + b.len() - common) as f64;
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        if ratio(common + (a.len() - i).min(b.len() - j)) < min {
            return None;
        }
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let j = ratio(common);
    (j >= min).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(title: &[u32], lede: &[u32]) -> Fingerprint {
        Fingerprint::from_parts(0, 30, Some(0), Some("en"), title.to_vec(), lede.to_vec())
    }

    /// A deterministic source of sorted, distinct sets: `sets(n, range)` has up to `n - 1`
    /// values below `range`.
    fn random_sets(mut seed: u64) -> impl FnMut(u64, u64) -> Vec<u32> {
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        move |n, range| {
            let mut v: Vec<u32> = (0..next() % n).map(|_| (next() % range) as u32).collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    }

    #[test]
    fn the_lede_bound_agrees_with_jaccard() {
        let mut sets = random_sets(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5000 {
            let (la, lb) = (sets(25, 40), sets(25, 40));
            let (a, b) = (fp(&[1], &la), fp(&[2], &lb));
            for min in [0.0, 0.2, 0.35, 0.5, 0.9, 1.0] {
                let want = if la.is_empty() && lb.is_empty() {
                    true
                } else {
                    jaccard(&la, &lb) >= min
                };
                assert_eq!(lede_can_match(&a, &b, min), want, "{la:?} {lb:?} {min}");
            }
        }
    }

    #[test]
    fn jaccard_counts_the_overlap() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[1], &[2]), 0.0);
        assert_eq!(jaccard(&[], &[]), 0.0);
    }

    #[test]
    fn a_rewritten_headline_needs_a_near_identical_lede() {
        let cfg = DedupeConfig::default();
        let lede: Vec<u32> = (100..120).collect();
        let mut close = lede.clone();
        close[0] = 999; // 19 of 21 words shared
        let a = fp(&[1, 2, 3], &lede);
        let b = fp(&[7, 8, 9], &close);
        let s = score(&a, &b);
        assert!(s.title == 0.0 && s.lede > 0.85);
        assert!(is_match(&s, &a, &b, &cfg), "{s:?}");

        // Half the lede shared and nothing of the title: related stories, not one story.
        let half: Vec<u32> = (110..130).collect();
        let c = fp(&[7, 8, 9], &half);
        let s = score(&a, &c);
        assert!(!is_match(&s, &a, &c, &cfg), "{s:?}");
    }

    #[test]
    fn keys_equal_the_sorted_union_cut_to_size() {
        let mut sets = random_sets(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let (t, l) = (sets(12, 60), sets(40, 60));
            let mut want: Vec<u32> = t.iter().chain(&l).copied().collect();
            want.sort_unstable();
            want.dedup();
            want.truncate(KEYS);
            assert_eq!(&*keys(&fp(&t, &l)), &want[..], "{t:?} {l:?}");
        }
    }

    #[test]
    fn keys_are_the_smallest_hashes() {
        let f = fp(&[50, 3], &(10..40).collect::<Vec<_>>());
        let k = keys(&f);
        assert_eq!(k.len(), KEYS);
        assert_eq!(k[0], 3);
        assert_eq!(*k.last().unwrap(), 18);
    }
}
