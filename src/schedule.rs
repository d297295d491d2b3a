//! When to poll a feed next (SPEC section 3, "Scheduling"). Pure maths: the caller passes the
//! current time (so tests use a fake clock) and a jitter value in [0, 1) (so tests are exact and
//! production uses `jitter_unit()`). Nothing here sleeps, reads a clock or touches the store.
//!
//! The policy:
//! - a healthy feed is polled about as often as it publishes (median gap between its recent items),
//!   never more often than `min_interval` and never less often than `max_interval`; a per-feed
//!   interval from config or the CLI replaces the estimate;
//! - the publisher's hints (RSS `<ttl>`, `Cache-Control: max-age`, `Retry-After`) only ever push
//!   the next poll later, up to `max_hint`, so a wrong hint cannot silence a feed for a month;
//! - consecutive errors back off exponentially from `backoff_base` to `backoff_cap`; a feed is never
//!   given up on here (only 410 Gone or the user disables one);
//! - jitter spreads feeds so they do not poll in lockstep; it only ever adds time, so no jittered
//!   delay is shorter than what the rules above asked for.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Shortest interval between two polls of one feed, whatever the feed does.
    #[serde(deserialize_with = "crate::config::duration")]
    pub min_interval: Duration,
    /// Longest interval for a healthy feed, however quiet it is.
    #[serde(deserialize_with = "crate::config::duration")]
    pub max_interval: Duration,
    /// Interval for a feed whose publishing rate is not known yet (fewer than two dated items).
    #[serde(deserialize_with = "crate::config::duration")]
    pub default_interval: Duration,
    /// First delay after an error; doubles with each consecutive error.
    #[serde(deserialize_with = "crate::config::duration")]
    pub backoff_base: Duration,
    /// Longest delay after errors.
    #[serde(deserialize_with = "crate::config::duration")]
    pub backoff_cap: Duration,
    /// Longest delay a publisher's hint (ttl, max-age, Retry-After) may impose.
    #[serde(deserialize_with = "crate::config::duration")]
    pub max_hint: Duration,
    /// Fraction of the delay added at random (0.1 = up to 10% later).
    pub jitter: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(6 * 3600),
            default_interval: Duration::from_secs(30 * 60),
            backoff_base: Duration::from_secs(5 * 60),
            backoff_cap: Duration::from_secs(24 * 3600),
            max_hint: Duration::from_secs(24 * 3600),
            jitter: 0.1,
        }
    }
}

/// What the publisher told us about when to come back.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hints {
    /// RSS `<ttl>`.
    pub ttl: Option<Duration>,
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Retry-After` (on 429/503, or anywhere a server sends it).
    pub retry_after: Option<Duration>,
}

impl Hints {
    fn longest(&self) -> Option<Duration> {
        [self.ttl, self.max_age, self.retry_after]
            .into_iter()
            .flatten()
            .max()
    }
}

/// How the last poll went, as far as scheduling cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The poll worked (200 or 304). `interval` is the feed's regular interval, from
    /// `adaptive_interval`.
    Success { interval: Duration, hints: Hints },
    /// The poll failed; `consecutive_errors` counts this one (so it is at least 1).
    Failure {
        consecutive_errors: u32,
        hints: Hints,
    },
}

/// The regular polling interval of a feed from the publication times of its recent items.
///
/// The median gap (robust to a burst of items published together) is the estimate; a feed whose
/// newest item is much older than that has gone quiet, so the time since the newest item (halved,
/// to notice a restart reasonably soon) raises it. `override_interval` (per-feed config) wins over
/// the estimate but is still held to `min_interval`.
pub fn adaptive_interval(
    cfg: &ScheduleConfig,
    now: DateTime<Utc>,
    item_times: &[DateTime<Utc>],
    override_interval: Option<Duration>,
) -> Duration {
    if let Some(o) = override_interval {
        return o.max(cfg.min_interval);
    }
    let mut times: Vec<DateTime<Utc>> = item_times.iter().copied().filter(|t| *t <= now).collect();
    if times.len() < 2 {
        return clamp(cfg.default_interval, cfg);
    }
    times.sort_unstable();
    let mut gaps: Vec<Duration> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).to_std().unwrap_or_default())
        .collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    let newest = times[times.len() - 1];
    let quiet_for = (now - newest).to_std().unwrap_or_default() / 2;
    clamp(median.max(quiet_for), cfg)
}

/// Delay before the next poll after `consecutive_errors` failures in a row (at least 1):
/// `backoff_base * 2^(n-1)`, capped at `backoff_cap`, then jittered.
pub fn backoff(cfg: &ScheduleConfig, consecutive_errors: u32, jitter_unit: f64) -> Duration {
    let exp = consecutive_errors.saturating_sub(1).min(32);
    let raw = cfg
        .backoff_base
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(cfg.backoff_cap)
        .min(cfg.backoff_cap);
    add_jitter(raw, cfg.jitter, jitter_unit)
}

/// When to poll next, given how the poll that just finished at `now` went.
pub fn next_poll_at(
    cfg: &ScheduleConfig,
    now: DateTime<Utc>,
    outcome: &Outcome,
    jitter_unit: f64,
) -> DateTime<Utc> {
    let (base, hints) = match outcome {
        Outcome::Success { interval, hints } => (
            add_jitter(clamp(*interval, cfg), cfg.jitter, jitter_unit),
            hints,
        ),
        Outcome::Failure {
            consecutive_errors,
            hints,
        } => (
            backoff(cfg, (*consecutive_errors).max(1), jitter_unit),
            hints,
        ),
    };
    let hinted = hints
        .longest()
        .map(|h| h.min(cfg.max_hint))
        .unwrap_or_default();
    let delay = base.max(hinted).max(cfg.min_interval);
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

/// A jitter value in [0, 1) for production use.
pub fn jitter_unit() -> f64 {
    fastrand::f64()
}

fn clamp(d: Duration, cfg: &ScheduleConfig) -> Duration {
    d.max(cfg.min_interval)
        .min(cfg.max_interval.max(cfg.min_interval))
}

fn add_jitter(d: Duration, fraction: f64, unit: f64) -> Duration {
    let extra = fraction.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
    d + d.mul_f64(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MIN: u64 = 60;
    const HOUR: u64 = 3600;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 17, 12, 0, 0).unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ago(s: i64) -> DateTime<Utc> {
        t0() - chrono::Duration::seconds(s)
    }

    #[test]
    fn interval_follows_median_gap() {
        let cfg = ScheduleConfig::default();
        // Items every 20 minutes, newest 10 minutes ago.
        let times: Vec<_> = (0..6).map(|i| ago(600 + i * 1200)).collect();
        assert_eq!(adaptive_interval(&cfg, t0(), &times, None), secs(20 * MIN));
    }

    #[test]
    fn a_burst_does_not_drag_the_interval_down() {
        let cfg = ScheduleConfig::default();
        // Hourly items plus three published in the same second.
        let mut times: Vec<_> = (0..8).map(|i| ago(60 + i * 3600)).collect();
        times.extend([ago(30), ago(30), ago(30)]);
        let got = adaptive_interval(&cfg, t0(), &times, None);
        assert_eq!(got, secs(HOUR), "median of hourly gaps with a burst");
    }

    #[test]
    fn interval_is_clamped_between_min_and_max() {
        let cfg = ScheduleConfig::default();
        let fast: Vec<_> = (0..10).map(|i| ago(i * 10)).collect();
        assert_eq!(adaptive_interval(&cfg, t0(), &fast, None), cfg.min_interval);
        let slow: Vec<_> = (0..4).map(|i| ago(i * 3 * 86_400)).collect();
        assert_eq!(adaptive_interval(&cfg, t0(), &slow, None), cfg.max_interval);
    }

    #[test]
    fn a_feed_that_went_quiet_is_polled_less() {
        let cfg = ScheduleConfig::default();
        // Used to publish every 10 minutes, but the newest item is 4 hours old.
        let times: Vec<_> = (0..6).map(|i| ago(4 * 3600 + i * 600)).collect();
        assert_eq!(adaptive_interval(&cfg, t0(), &times, None), secs(2 * HOUR));
    }

    #[test]
    fn unknown_rate_uses_default_and_future_dates_are_ignored() {
        let cfg = ScheduleConfig::default();
        assert_eq!(
            adaptive_interval(&cfg, t0(), &[], None),
            cfg.default_interval
        );
        let future = [t0() + chrono::Duration::hours(5), ago(60)];
        assert_eq!(
            adaptive_interval(&cfg, t0(), &future, None),
            cfg.default_interval
        );
    }

    #[test]
    fn override_wins_but_not_below_min() {
        let cfg = ScheduleConfig::default();
        let times: Vec<_> = (0..6).map(|i| ago(i * 1200)).collect();
        assert_eq!(
            adaptive_interval(&cfg, t0(), &times, Some(secs(2 * HOUR))),
            secs(2 * HOUR)
        );
        assert_eq!(
            adaptive_interval(&cfg, t0(), &times, Some(secs(10))),
            cfg.min_interval
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = ScheduleConfig::default();
        let got: Vec<u64> = (1..=11)
            .map(|n| backoff(&cfg, n, 0.0).as_secs() / 60)
            .collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1440, 1440]);
        assert_eq!(backoff(&cfg, u32::MAX, 0.0), cfg.backoff_cap);
    }

    #[test]
    fn jitter_only_adds_and_stays_within_its_fraction() {
        let cfg = ScheduleConfig::default();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..1000 {
            let d = backoff(&cfg, 3, rng.f64());
            assert!(d >= secs(20 * MIN) && d < secs(22 * MIN), "{d:?}");
        }
        assert_eq!(backoff(&cfg, 3, 0.5), secs(21 * MIN));
    }

    #[test]
    fn success_uses_interval_plus_jitter() {
        let cfg = ScheduleConfig::default();
        let out = Outcome::Success {
            interval: secs(HOUR),
            hints: Hints::default(),
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::hours(1)
        );
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.5),
            t0() + chrono::Duration::minutes(63)
        );
    }

    #[test]
    fn hints_push_later_never_earlier() {
        let cfg = ScheduleConfig::default();
        let later = Hints {
            ttl: Some(secs(2 * HOUR)),
            ..Hints::default()
        };
        let out = Outcome::Success {
            interval: secs(HOUR),
            hints: later,
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::hours(2)
        );

        // A max-age of 10 s does not bring a 1 h interval forward, nor go below the minimum.
        let short = Hints {
            max_age: Some(secs(10)),
            ..Hints::default()
        };
        let out = Outcome::Success {
            interval: secs(HOUR),
            hints: short,
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::hours(1)
        );
        let out = Outcome::Success {
            interval: secs(1),
            hints: short,
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::minutes(5)
        );
    }

    #[test]
    fn retry_after_beats_backoff_but_is_capped() {
        let cfg = ScheduleConfig::default();
        let ra = Hints {
            retry_after: Some(secs(3 * HOUR)),
            ..Hints::default()
        };
        let out = Outcome::Failure {
            consecutive_errors: 1,
            hints: ra,
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::hours(3)
        );

        let huge = Hints {
            retry_after: Some(secs(30 * 86_400)),
            ..Hints::default()
        };
        let out = Outcome::Failure {
            consecutive_errors: 1,
            hints: huge,
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::hours(24)
        );

        // A short Retry-After does not shorten a long backoff.
        let short = Hints {
            retry_after: Some(secs(30)),
            ..Hints::default()
        };
        let out = Outcome::Failure {
            consecutive_errors: 4,
            hints: short,
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::minutes(40)
        );
    }

    #[test]
    fn failure_with_zero_count_is_treated_as_first_error() {
        let cfg = ScheduleConfig::default();
        let out = Outcome::Failure {
            consecutive_errors: 0,
            hints: Hints::default(),
        };
        assert_eq!(
            next_poll_at(&cfg, t0(), &out, 0.0),
            t0() + chrono::Duration::minutes(5)
        );
    }

    #[test]
    fn config_reads_humantime_and_reports_bad_values() {
        #[derive(Deserialize)]
        struct Wrap {
            schedule: ScheduleConfig,
        }
        let w: Wrap =
            toml::from_str("[schedule]\nmin_interval = \"2m\"\nmax_interval = \"1h 30m\"\n")
                .unwrap();
        assert_eq!(w.schedule.min_interval, secs(2 * MIN));
        assert_eq!(w.schedule.max_interval, secs(90 * MIN));
        assert_eq!(w.schedule.backoff_cap, secs(24 * HOUR));
        let err = toml::from_str::<Wrap>("[schedule]\n\nmin_interval = \"soon\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 3") && err.contains("soon"), "{err}");
        assert!(toml::from_str::<Wrap>("[schedule]\nmin_intervl = \"2m\"\n").is_err());
    }
}
