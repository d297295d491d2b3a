//! Holding back while the store refuses writes. On a full disk every poll fetched its feed,
//! failed to commit and left the feed due, so the scheduler fetched it again at once: 651
//! requests to one feed in 30 s. While the writer says the store is failing, the daemon starts
//! no work but one probe per retry, the retries doubling from `FIRST_RETRY` to `MAX_RETRY`;
//! the first write that commits ends it. Probes go round the feeds, so no feed sees more than
//! its share of them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// First retry after the store starts failing; doubles with each failed probe.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// Longest wait between probes: space freed is noticed within two minutes.
pub const MAX_RETRY: Duration = Duration::from_secs(120);
/// A store that fails again this soon after recovering resumes its old pace, rather than
/// starting over at `FIRST_RETRY` (a disk that frees a little space then fills again).
const SETTLED_AFTER: Duration = Duration::from_secs(600);

/// What the caller may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// The store takes writes: everything that is due.
    All,
    /// One piece of work, to find out whether the store takes writes again.
    Probe,
    /// Nothing until the next retry.
    Wait,
}

#[derive(Debug, Default)]
pub struct StoreBackoff {
    /// Failed probes since the store started failing.
    probes: u32,
    retry_at: Option<Instant>,
    recovered_at: Option<Instant>,
    /// When each feed was last used as a probe.
    probed: HashMap<i64, Instant>,
}

impl StoreBackoff {
    /// The allowance as of `now`, given whether the writer says the store is failing.
    pub fn allowance(&mut self, failing: bool, now: Instant) -> Allowance {
        if !failing {
            if self.retry_at.take().is_some() {
                self.recovered_at = Some(now);
                self.probed.clear();
            }
            return Allowance::All;
        }
        let Some(retry_at) = self.retry_at else {
            let settled = self
                .recovered_at
                .is_none_or(|t| now.saturating_duration_since(t) >= SETTLED_AFTER);
            if settled {
                self.probes = 0;
            }
            self.retry_at = Some(now + delay(self.probes));
            return Allowance::Wait;
        };
        if now < retry_at {
            return Allowance::Wait;
        }
        self.probes = self.probes.saturating_add(1);
        self.retry_at = Some(now + delay(self.probes));
        Allowance::Probe
    }

    /// Of the feeds `due`, the one to probe with: one never probed, else the one probed
    /// longest ago. Remembers the choice.
    pub fn pick_probe(&mut self, due: &[i64], now: Instant) -> Option<i64> {
        let pick = *due.iter().min_by_key(|id| self.probed.get(id).copied())?;
        self.probed.insert(pick, now);
        Some(pick)
    }
}

fn delay(probes: u32) -> Duration {
    FIRST_RETRY
        .checked_mul(1u32 << probes.min(16))
        .unwrap_or(MAX_RETRY)
        .min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_failing_store_gets_one_probe_per_doubling_retry() {
        let t0 = Instant::now();
        let mut b = StoreBackoff::default();
        assert_eq!(b.allowance(false, t0), Allowance::All);
        // Probe times over ten minutes of a full disk, checked every second.
        let probes: Vec<u64> = (0..600)
            .filter(|s| b.allowance(true, t0 + S * *s) == Allowance::Probe)
            .map(u64::from)
            .collect();
        assert_eq!(probes, vec![5, 15, 35, 75, 155, 275, 395, 515]);
        // Writes succeed: everything may run at once.
        assert_eq!(b.allowance(false, t0 + S * 600), Allowance::All);
    }

    #[test]
    fn failing_again_soon_after_recovering_keeps_the_slow_pace() {
        let t0 = Instant::now();
        let mut b = StoreBackoff::default();
        for s in 0..200 {
            b.allowance(true, t0 + S * s);
        }
        assert_eq!(b.allowance(false, t0 + S * 200), Allowance::All);
        assert_eq!(b.allowance(true, t0 + S * 201), Allowance::Wait);
        assert_eq!(b.allowance(true, t0 + S * 206), Allowance::Wait);
        // Settled for long enough: a new failure starts at the first retry again.
        let mut b = StoreBackoff::default();
        for s in 0..200 {
            b.allowance(true, t0 + S * s);
        }
        b.allowance(false, t0 + S * 200);
        assert_eq!(b.allowance(true, t0 + S * 900), Allowance::Wait);
        assert_eq!(b.allowance(true, t0 + S * 905), Allowance::Probe);
    }

    #[test]
    fn probes_go_round_the_feeds() {
        let t0 = Instant::now();
        let mut b = StoreBackoff::default();
        let picks: Vec<i64> = (0..6)
            .filter_map(|s| b.pick_probe(&[7, 3, 9], t0 + S * s))
            .collect();
        assert_eq!(picks, vec![7, 3, 9, 7, 3, 9]);
        assert_eq!(b.pick_probe(&[], t0), None);
    }
}
