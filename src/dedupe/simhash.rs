//! 64-bit SimHash (Charikar 2002) over word 3-shingles, and the stable hash it is built from.
//!
//! Fingerprints are stored and compared across restarts and releases, so the hash must never
//! change with the compiler or a dependency: FNV-1a with a SplitMix64 finalizer, written here.

/// Words per shingle. Three words keep word order without making one changed word cost much.
pub const SHINGLE_WORDS: usize = 3;

/// Stable 64-bit hash of bytes: FNV-1a, then SplitMix64 to spread FNV's weak low bits.
pub fn hash64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// SplitMix64 finalizer: a bijection with good avalanche.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SimHash of the word sequence given as word hashes. Texts shorter than one shingle hash their
/// words alone. Every shingle weighs the same: feed text is too short for idf weights to settle.
pub fn simhash(word_hashes: &[u64]) -> u64 {
    let mut ones = BitCounts::default();
    if word_hashes.len() < SHINGLE_WORDS {
        word_hashes.iter().for_each(|&h| ones.add(h));
    } else {
        for w in word_hashes.windows(SHINGLE_WORDS) {
            ones.add(mix64(
                w[0].wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    ^ w[1].rotate_left(21).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
                    ^ w[2].rotate_left(42),
            ));
        }
    }
    ones.majority()
}

/// How many of the added hashes have each bit set. A plain loop over 64 bits per hash was the
/// largest part of fingerprinting; this counts eight bits per step instead, each in a byte lane
/// of a u64, and empties the lanes into the totals before a byte could overflow.
struct BitCounts {
    totals: [u32; 64],
    lanes: [u64; 8],
    pending: u32,
    added: u32,
}

/// Byte `k` of `SPREAD[b]` is bit `k` of `b`.
const SPREAD: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 8 {
            t[b] |= (((b >> k) & 1) as u64) << (8 * k);
            k += 1;
        }
        b += 1;
    }
    t
};

impl Default for BitCounts {
    fn default() -> Self {
        BitCounts {
            totals: [0; 64],
            lanes: [0; 8],
            pending: 0,
            added: 0,
        }
    }
}

impl BitCounts {
    fn add(&mut self, h: u64) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            *lane += SPREAD[((h >> (8 * j)) & 0xff) as usize];
        }
        self.added += 1;
        self.pending += 1;
        if self.pending == 255 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            for k in 0..8 {
                self.totals[8 * j + k] += ((*lane >> (8 * k)) & 0xff) as u32;
            }
            *lane = 0;
        }
        self.pending = 0;
    }

    /// Bits set in more than half of the hashes (the sign of the +1/-1 sum).
    fn majority(mut self) -> u64 {
        self.flush();
        let added = u64::from(self.added);
        self.totals.iter().enumerate().fold(0u64, |acc, (bit, &n)| {
            if 2 * u64::from(n) > added {
                acc | (1 << bit)
            } else {
                acc
            }
        })
    }
}

pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(text: &str) -> Vec<u64> {
        text.split_whitespace()
            .map(|w| hash64(w.as_bytes()))
            .collect()
    }

    /// The +1/-1 sum per bit, as the SimHash is defined.
    fn reference(hashes: &[u64]) -> u64 {
        let mut counts = [0i64; 64];
        for &h in hashes {
            for (bit, c) in counts.iter_mut().enumerate() {
                *c += if (h >> bit) & 1 == 1 { 1 } else { -1 };
            }
        }
        (0..64).fold(0, |acc, bit| {
            if counts[bit] > 0 {
                acc | (1 << bit)
            } else {
                acc
            }
        })
    }

    #[test]
    fn lane_counting_equals_the_plain_sum() {
        let mut rng = fastrand::Rng::with_seed(3);
        // Past 255 hashes the lanes are emptied mid-way; biased bits make ties and near-ties.
        for n in [1usize, 2, 3, 4, 10, 254, 255, 256, 257, 600, 1000] {
            let hashes: Vec<u64> = (0..n).map(|_| rng.u64(..) & rng.u64(..)).collect();
            let shingled: Vec<u64> = if n < SHINGLE_WORDS {
                hashes.clone()
            } else {
                hashes
                    .windows(SHINGLE_WORDS)
                    .map(|w| {
                        mix64(
                            w[0].wrapping_mul(0x9e37_79b9_7f4a_7c15)
                                ^ w[1].rotate_left(21).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
                                ^ w[2].rotate_left(42),
                        )
                    })
                    .collect()
            };
            assert_eq!(simhash(&hashes), reference(&shingled), "{n} words");
            let mut counts = BitCounts::default();
            hashes.iter().for_each(|&h| counts.add(h));
            assert_eq!(counts.majority(), reference(&hashes), "{n} hashes");
        }
    }

    #[test]
    fn hash_is_stable_across_builds() {
        // Pinned values: a change here would silently invalidate every stored fingerprint.
        assert_eq!(hash64(b"newsdesk"), 0xf4df_467c_f013_3de2);
        assert_ne!(hash64(b"newsdesk"), hash64(b"newsdesl"));
    }

    /// A long synthetic text: 240 words drawn from a fixed vocabulary by a fixed LCG.
    fn long_text(seed: u64) -> String {
        const VOCAB: &[&str] = &[
            "minister",
            "talks",
            "border",
            "ceasefire",
            "aid",
            "convoy",
            "winter",
            "officials",
            "geneva",
            "proposal",
            "fighting",
            "towns",
            "envoy",
            "sanctions",
            "vote",
            "council",
            "troops",
            "harbour",
            "election",
            "court",
            "budget",
            "bank",
            "rates",
            "inflation",
            "wages",
            "market",
            "exports",
            "treaty",
            "summit",
            "pipeline",
            "drought",
            "refugees",
        ];
        let mut x = seed;
        (0..240)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                VOCAB[(x >> 33) as usize % VOCAB.len()]
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn small_edits_move_few_bits_and_different_texts_many() {
        let base = long_text(1);
        let edited = format!("breaking {base}");
        let a = simhash(&hashes(&base));
        assert!(hamming(a, simhash(&hashes(&edited))) <= 6);
        assert!(hamming(a, simhash(&hashes(&long_text(2)))) >= 16);
        // Too short for shingles: the words alone are hashed, in any order.
        assert_eq!(
            simhash(&hashes("ports close")),
            simhash(&hashes("close ports"))
        );
    }
}
