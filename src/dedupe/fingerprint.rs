//! What dedupe keeps about one article: a SimHash of the whole text for the long-text detector,
//! and hashed content words of the title and lede for the short-text detector. Small, plain, and
//! storable as one BLOB so the index can be rebuilt from the store at start.

use super::simhash::{hash64, simhash};
use super::text;
use crate::model::Article;

/// Content words of the lede kept. A feed item's description is about this long, and past it
/// outlets' copies of a wire story drift apart (trimmed, extended, re-ordered).
pub const LEDE_WORDS: usize = 25;
/// Content words of the title kept (a headline rarely has more).
pub const TITLE_WORDS: usize = 20;

/// Version 2 added the first-seen time beside the document's own date.
const FORMAT_VERSION: u8 = 2;
const NO_TIME: i64 = i64::MIN;
/// Bytes before the word sets: version, simhash, words, time(s), lang, the two set lengths.
const HEADER_V1: usize = 26;
const HEADER_V2: usize = 34;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// SimHash of the word 3-shingles of title and body (boilerplate, bylines, dateline out).
    pub simhash: u64,
    /// Words the SimHash was built from; below `simhash_min_words` it is too noisy to use.
    pub words: u32,
    /// Unix seconds: the article's own date (published, else updated); `None` when it has
    /// none. Never a first-seen time: an undated copy must not be compared with a date.
    pub time: Option<i64>,
    /// Unix seconds: when the store first saw the article (see `seen_at`); `None` until then.
    pub seen: Option<i64>,
    /// ISO 639 code, up to 3 ASCII letters, zero-padded.
    lang: [u8; 3],
    /// How many of `hashes` are the title's (at most `TITLE_WORDS`).
    title_len: u8,
    /// Sorted, distinct hashes of the title's content words (empty for a derived title), then
    /// those of the first `LEDE_WORDS` content words of the body. One allocation, not two:
    /// the near-duplicate index keeps a fingerprint per recent article (200,000 by default).
    hashes: Box<[u32]>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum FingerprintError {
    #[error("fingerprint blob is {len} bytes, shorter than its header says")]
    Truncated { len: usize },
    #[error("fingerprint blob has format version {0}, this build reads {FORMAT_VERSION}")]
    Version(u8),
    #[error("fingerprint blob has {0} bytes after its end")]
    Trailing(usize),
}

/// The fingerprint of one normalized article. Pure: same article, same fingerprint, on any
/// machine and across releases (the store keeps it).
pub fn fingerprint(article: &Article) -> Fingerprint {
    // About one word per six bytes of text: sized once instead of doubling up from 64.
    let mut word_hashes: Vec<u64> =
        Vec::with_capacity((article.title.len() + article.body_text.len()) / 6 + 16);
    let mut title_set: Vec<u32> = Vec::new();

    let mut scratch = Vec::new();

    if !article.title_derived {
        let mut prev_update = false;
        let title = text::strip_markup(&article.title);
        text::for_each_word(text::strip_attribution(&title), &mut scratch, |w| {
            let w = &*text::join_initials(w);
            word_hashes.push(hash64(w.as_bytes()));
            // "Update 2:" numbers the re-issue, it does not name the story.
            let packaging = text::is_title_noise(w) || prev_update;
            if title_set.len() < TITLE_WORDS && text::is_content_word(w) && !packaging {
                title_set.push(word_hash32(w));
            }
            prev_update = w == "update";
        });
    }

    let mut lede_set: Vec<u32> = Vec::with_capacity(LEDE_WORDS);
    let mut first_line = true;
    for line in article.body_text.lines() {
        if crate::normalize::is_boilerplate_line(line)
            || text::is_byline(line)
            || text::is_credit_line(line)
        {
            continue;
        }
        let line = if first_line {
            first_line = false;
            text::strip_dateline(line)
        } else {
            line
        };
        text::for_each_word(&text::strip_markup(line), &mut scratch, |w| {
            let w = &*text::join_initials(w);
            word_hashes.push(hash64(w.as_bytes()));
            if lede_set.len() < LEDE_WORDS && text::is_content_word(w) {
                lede_set.push(word_hash32(w));
            }
        });
    }

    Fingerprint {
        simhash: simhash(&word_hashes),
        words: u32::try_from(word_hashes.len()).unwrap_or(u32::MAX),
        time: article
            .published_at
            .or(article.updated_at)
            .map(|t| t.timestamp()),
        seen: None,
        lang: pack_lang(article.lang.as_deref()),
        ..word_sets(title_set, lede_set)
    }
}

/// 32 bits are plenty to tell words apart within two short texts, and halve the memory.
pub(crate) fn word_hash32(w: &str) -> u32 {
    (hash64(w.as_bytes()) >> 32) as u32
}

fn sorted_set(v: &mut Vec<u32>) {
    v.sort_unstable();
    v.dedup();
}

/// A fingerprint holding only the two word sets (sorted and deduplicated here), for `..`.
fn word_sets(mut title: Vec<u32>, mut lede: Vec<u32>) -> Fingerprint {
    sorted_set(&mut title);
    sorted_set(&mut lede);
    // Titles keep at most TITLE_WORDS; a longer list (an altered blob) is cut to what a u8 holds.
    title.truncate(usize::from(u8::MAX));
    let title_len = title.len() as u8;
    title.extend_from_slice(&lede);
    Fingerprint {
        simhash: 0,
        words: 0,
        time: None,
        seen: None,
        lang: [0; 3],
        title_len,
        hashes: title.into_boxed_slice(),
    }
}

fn pack_lang(lang: Option<&str>) -> [u8; 3] {
    let mut out = [0u8; 3];
    if let Some(l) = lang.filter(|l| (2..=3).contains(&l.len()) && l.is_ascii()) {
        for (o, b) in out.iter_mut().zip(l.bytes()) {
            *o = b.to_ascii_lowercase();
        }
    }
    out
}

impl Fingerprint {
    /// Record when the article was first seen (unix seconds).
    pub fn seen_at(mut self, seen: i64) -> Self {
        self.seen = Some(seen);
        self
    }

    pub fn lang(&self) -> Option<&str> {
        let n = self.lang.iter().take_while(|&&b| b != 0).count();
        (n > 0)
            .then(|| std::str::from_utf8(&self.lang[..n]).ok())
            .flatten()
    }

    /// Two known, different languages: never the same story for our detectors.
    pub fn lang_conflicts(&self, other: &Fingerprint) -> bool {
        self.lang[0] != 0 && other.lang[0] != 0 && self.lang != other.lang
    }

    pub fn title_words(&self) -> &[u32] {
        &self.hashes[..usize::from(self.title_len)]
    }

    pub fn lede_words(&self) -> &[u32] {
        &self.hashes[usize::from(self.title_len)..]
    }

    /// The SimHash as SQLite stores integers (same bits).
    pub fn simhash_i64(&self) -> i64 {
        self.simhash as i64
    }

    /// Compact form for a BLOB column: version, simhash, words, time, seen, lang, then the two
    /// word sets. 34 bytes plus 4 per word (typically under 200 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_V2 + 4 * self.hashes.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.simhash.to_le_bytes());
        out.extend_from_slice(&self.words.to_le_bytes());
        out.extend_from_slice(&self.time.unwrap_or(NO_TIME).to_le_bytes());
        out.extend_from_slice(&self.seen.unwrap_or(NO_TIME).to_le_bytes());
        out.extend_from_slice(&self.lang);
        // Both lengths fit a byte: TITLE_WORDS and LEDE_WORDS are far below 256.
        out.push(self.title_len);
        out.push((self.hashes.len() - usize::from(self.title_len)) as u8);
        for h in self.hashes.iter() {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    /// Reads this format and version 1, whose one time was the date or, for an undated
    /// article, the first-seen time (it is taken as both; `dedupe --rebuild` rewrites such
    /// blobs from the stored columns).
    pub fn from_bytes(b: &[u8]) -> Result<Fingerprint, FingerprintError> {
        let truncated = FingerprintError::Truncated { len: b.len() };
        let &version = b.first().ok_or(FingerprintError::Truncated { len: 0 })?;
        let header_len = match version {
            1 => HEADER_V1,
            FORMAT_VERSION => HEADER_V2,
            v => return Err(FingerprintError::Version(v)),
        };
        let header = b.get(1..header_len).ok_or(truncated.clone())?;
        let u64_at = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or([0; 8]));
        let time_at = |i: usize| Some(u64_at(i) as i64).filter(|&t| t != NO_TIME);
        let simhash = u64_at(0);
        let words = u32::from_le_bytes(header[8..12].try_into().unwrap_or([0; 4]));
        let time = time_at(12);
        let (seen, rest) = if version == 1 {
            (time, &header[20..])
        } else {
            (time_at(20), &header[28..])
        };
        let lang = [rest[0], rest[1], rest[2]];
        let (nt, nl) = (usize::from(rest[3]), usize::from(rest[4]));
        let body_len = 4 * (nt + nl);
        let body = b.get(header_len..header_len + body_len).ok_or(truncated)?;
        if b.len() > header_len + body_len {
            return Err(FingerprintError::Trailing(b.len() - header_len - body_len));
        }
        let mut hashes = body
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        // Written sorted and distinct; kept so even if the blob was altered, since the key
        // merge and the Jaccard merge rely on it.
        let title = hashes.by_ref().take(nt).collect();
        let lede = hashes.collect();
        Ok(Fingerprint {
            simhash,
            words,
            time,
            seen,
            lang,
            ..word_sets(title, lede)
        })
    }

    /// A fingerprint from raw parts, for synthetic data in benches and tests.
    pub fn from_parts(
        simhash: u64,
        words: u32,
        time: Option<i64>,
        lang: Option<&str>,
        title: Vec<u32>,
        lede: Vec<u32>,
    ) -> Fingerprint {
        Fingerprint {
            simhash,
            words,
            time,
            seen: None,
            lang: pack_lang(lang),
            ..word_sets(title, lede)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(title: &str, body: &str) -> Article {
        crate::normalize::normalize(crate::model::RawArticle {
            title: Some(title.into()),
            content_text: Some(body.into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn bytes_round_trip_and_bad_blobs_fail() {
        let fp = fingerprint(&article(
            "Ministers meet in Geneva",
            "GENEVA (Reuters) - Foreign ministers met on Tuesday to discuss a ceasefire.",
        ))
        .seen_at(1_700_000_000);
        let b = fp.to_bytes();
        assert_eq!(Fingerprint::from_bytes(&b).unwrap(), fp);
        assert_eq!(
            Fingerprint::from_bytes(&b[..b.len() - 1]),
            Err(FingerprintError::Truncated { len: b.len() - 1 })
        );
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(
            Fingerprint::from_bytes(&longer),
            Err(FingerprintError::Trailing(1))
        );
        let mut v3 = b;
        v3[0] = 3;
        assert_eq!(
            Fingerprint::from_bytes(&v3),
            Err(FingerprintError::Version(3))
        );
    }

    #[test]
    fn version_1_blobs_still_read() {
        let fp = fingerprint(&article("Talks resume", "Ministers met on Tuesday."));
        let dated = Fingerprint {
            time: Some(1_700_000_000),
            ..fp
        };
        // Version 1: no first-seen field; its one time stands for both.
        let v2 = dated.to_bytes();
        let mut v1 = vec![1u8];
        v1.extend_from_slice(&v2[1..21]);
        v1.extend_from_slice(&v2[29..]);
        let read = Fingerprint::from_bytes(&v1).unwrap();
        assert_eq!(read, dated.seen_at(1_700_000_000));
    }

    #[test]
    fn dateline_byline_and_boilerplate_do_not_count() {
        let a = fingerprint(&article(
            "Talks resume",
            "By Jane Doe\nGENEVA (Reuters) - Foreign ministers met on Tuesday.\n\nRead more:",
        ));
        let b = fingerprint(&article(
            "Talks resume",
            "Foreign ministers met on Tuesday.",
        ));
        assert_eq!(a.simhash, b.simhash);
        assert_eq!(a.lede_words(), b.lede_words());
        assert_eq!(a.words, b.words);
    }

    #[test]
    fn title_noise_and_stopwords_are_left_out_of_the_title_set() {
        let a = fingerprint(&article("Update 1: Sysco profit climbs (AP)", "x"));
        let b = fingerprint(&article("Sysco Profit Climbs", "y"));
        assert_eq!(a.title_words(), b.title_words());
        assert_eq!(a.title_words().len(), 3);
    }
}
