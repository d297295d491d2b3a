//! What `/healthz` judges: a few atomics the daemon updates as it works, read without locks by
//! the HTTP task. "Stuck" means work is waiting and nothing has moved for `stuck_after`: the
//! scheduler has not ticked, or the writer has jobs queued but has finished none.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Times are milliseconds since `base` (plus one, so that 0 can mean "never").
#[derive(Debug)]
pub struct Health {
    base: Instant,
    scheduler_tick: AtomicU64,
    last_success: AtomicU64,
    writer_depth: AtomicUsize,
    writer_progress: AtomicU64,
    /// Since when (a stamp) and why the store has refused writes; None while it takes them.
    store_failure: Mutex<Option<(u64, String)>>,
}

/// `/healthz`'s answer, also usable by `newsdesk status`-like callers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HealthReport {
    /// False when the scheduler or the writer is stuck.
    pub up: bool,
    /// What is wrong, in words, when `up` is false.
    pub problems: Vec<String>,
    pub uptime_secs: f64,
    /// None until a poll has succeeded.
    pub last_successful_poll_age_secs: Option<f64>,
    pub scheduler_tick_age_secs: f64,
    pub writer_queue_depth: usize,
    /// Time since the writer last finished a job or, if it was idle, since work arrived.
    pub writer_idle_secs: f64,
    /// How long the store has refused writes (disk full, ...); None while it takes them.
    pub store_failing_secs: Option<f64>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Start the clocks: the scheduler and writer count as having just moved.
    pub fn new() -> Health {
        Health {
            base: Instant::now(),
            scheduler_tick: AtomicU64::new(1),
            last_success: AtomicU64::new(0),
            writer_depth: AtomicUsize::new(0),
            writer_progress: AtomicU64::new(1),
            store_failure: Mutex::new(None),
        }
    }

    fn stamp(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_millis() as u64 + 1
    }

    fn age(&self, stamp: u64, now: Instant) -> Option<Duration> {
        (stamp != 0).then(|| {
            let at = self.base + Duration::from_millis(stamp - 1);
            now.saturating_duration_since(at)
        })
    }

    /// The scheduler loop came round (call it where WATCHDOG=1 is sent).
    pub fn scheduler_tick(&self) {
        self.scheduler_tick
            .store(self.stamp(Instant::now()), Ordering::Relaxed);
    }

    /// A poll fetched and stored its feed (outcome ok or not_modified).
    pub fn poll_succeeded(&self) {
        self.last_success
            .store(self.stamp(Instant::now()), Ordering::Relaxed);
    }

    /// The writer finished a job.
    pub fn writer_progressed(&self) {
        self.writer_progress
            .store(self.stamp(Instant::now()), Ordering::Relaxed);
    }

    /// The store refuses writes (the writer reports the change, not every attempt).
    pub fn store_failing(&self, error: &str) {
        let stamp = self.stamp(Instant::now());
        if let Ok(mut f) = self.store_failure.lock() {
            *f = Some((stamp, error.to_string()));
        }
    }

    /// The store takes writes again.
    pub fn store_recovered(&self) {
        if let Ok(mut f) = self.store_failure.lock() {
            *f = None;
        }
    }

    /// The writer's queue depth, sampled by the daemon (every scheduler tick is enough). Also
    /// sets the `newsdesk_writer_queue_depth` gauge, so `/healthz` and `/metrics` agree. When
    /// work arrives at an idle writer its "stuck" clock starts now, not at its last job.
    pub fn set_writer_queue_depth(&self, depth: usize) {
        let before = self.writer_depth.swap(depth, Ordering::Relaxed);
        if before == 0 && depth > 0 {
            self.writer_progressed();
        }
        metrics::gauge!(super::metrics::WRITER_QUEUE_DEPTH).set(depth as f64);
    }

    /// Judge health as of `now`.
    pub fn report(&self, now: Instant, stuck_after: Duration) -> HealthReport {
        let tick_age = self
            .age(self.scheduler_tick.load(Ordering::Relaxed), now)
            .unwrap_or_default();
        let writer_idle = self
            .age(self.writer_progress.load(Ordering::Relaxed), now)
            .unwrap_or_default();
        let depth = self.writer_depth.load(Ordering::Relaxed);
        let mut problems = Vec::new();
        if tick_age > stuck_after {
            problems.push(format!("scheduler has not run for {}s", tick_age.as_secs()));
        }
        if depth > 0 && writer_idle > stuck_after {
            problems.push(format!(
                "store writer has {depth} jobs queued and finished none for {}s",
                writer_idle.as_secs()
            ));
        }
        let store_failure = self
            .store_failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .map(|(stamp, error)| (self.age(stamp, now).unwrap_or_default(), error));
        if let Some((age, error)) = &store_failure {
            problems.push(format!(
                "store writes failing for {}s: {error}",
                age.as_secs()
            ));
        }
        HealthReport {
            up: problems.is_empty(),
            problems,
            uptime_secs: now.saturating_duration_since(self.base).as_secs_f64(),
            last_successful_poll_age_secs: self
                .age(self.last_success.load(Ordering::Relaxed), now)
                .map(|d| d.as_secs_f64()),
            scheduler_tick_age_secs: tick_age.as_secs_f64(),
            writer_queue_depth: depth,
            writer_idle_secs: writer_idle.as_secs_f64(),
            store_failing_secs: store_failure.map(|(age, _)| age.as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUCK: Duration = Duration::from_secs(60);

    #[test]
    fn fresh_daemon_is_up_with_no_successful_poll() {
        let h = Health::new();
        let r = h.report(Instant::now(), STUCK);
        assert!(r.up, "{r:?}");
        assert_eq!(r.last_successful_poll_age_secs, None);
    }

    #[test]
    fn a_scheduler_that_stops_ticking_is_stuck() {
        let h = Health::new();
        h.scheduler_tick();
        let later = Instant::now() + Duration::from_secs(90);
        let r = h.report(later, STUCK);
        assert!(!r.up);
        assert!(r.problems[0].contains("scheduler"), "{r:?}");
        assert!(r.scheduler_tick_age_secs >= 90.0);
        assert!(h.report(Instant::now() + Duration::from_secs(30), STUCK).up);
    }

    #[test]
    fn a_writer_is_stuck_only_with_work_waiting() {
        let h = Health::new();
        // Idle for long: fine, nothing waits.
        let much_later = Instant::now() + Duration::from_secs(600);
        h.set_writer_queue_depth(0);
        let idle = h.report(much_later, Duration::from_secs(6000));
        assert!(idle.up, "{idle:?}");

        h.set_writer_queue_depth(3);
        let r = h.report(
            Instant::now() + Duration::from_secs(61),
            Duration::from_secs(60),
        );
        assert!(!r.up);
        assert_eq!(r.writer_queue_depth, 3);
        assert!(r.problems.iter().any(|p| p.contains("writer")), "{r:?}");

        // Work arriving at an idle writer starts its clock then, not at its last job.
        let h = Health::new();
        std::thread::sleep(Duration::from_millis(30));
        h.set_writer_queue_depth(1);
        let r = h.report(Instant::now(), Duration::from_millis(20));
        assert!(r.writer_idle_secs < 0.02, "{r:?}");
        assert!(r.problems.iter().all(|p| !p.contains("writer")), "{r:?}");
    }

    #[test]
    fn a_store_that_refuses_writes_is_down_until_it_takes_them() {
        let h = Health::new();
        h.store_failing("database or disk is full");
        let r = h.report(Instant::now() + Duration::from_secs(3), STUCK);
        assert!(!r.up, "{r:?}");
        assert!(r.problems[0].contains("disk is full"), "{r:?}");
        assert!(r.store_failing_secs.is_some_and(|s| s >= 3.0), "{r:?}");
        h.store_recovered();
        let r = h.report(Instant::now(), STUCK);
        assert!(r.up, "{r:?}");
        assert_eq!(r.store_failing_secs, None);
    }

    #[test]
    fn successful_poll_age_is_reported() {
        let h = Health::new();
        h.poll_succeeded();
        let r = h.report(Instant::now() + Duration::from_secs(5), STUCK);
        let age = r.last_successful_poll_age_secs.unwrap();
        assert!((5.0..6.0).contains(&age), "{age}");
    }
}
