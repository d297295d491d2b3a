//! Politeness limits: a global cap on requests in flight, a per-host cap, and a least gap between
//! two request starts to one host. A request holds its `Permit` until its body is read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Hosts not contacted for this long are forgotten, so the map stays small in a months-long run.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct Limits {
    global: Arc<Semaphore>,
    per_host_concurrency: usize,
    min_gap: Duration,
    hosts: Arc<Mutex<HashMap<String, HostState>>>,
    /// The same limits across processes (several daemons on one PostgreSQL store).
    shared: Option<Arc<dyn SharedHosts>>,
}

/// Per-host limits kept outside this process, so that every process polling one store counts
/// against the same slots and gap. Blocking calls: they run on the blocking pool.
pub trait SharedHosts: Send + Sync {
    /// Take a free slot of `host` (of `slots`) and book its turn `gap` after the last one
    /// booked by any process. Returns the slot and how long to wait before starting, or None
    /// when every slot is taken.
    fn acquire(
        &self,
        host: &str,
        slots: usize,
        gap: Duration,
    ) -> Result<Option<(i32, Duration)>, String>;
    /// Free a slot taken by `acquire`.
    fn release(&self, host: &str, slot: i32);
}

/// How long to wait before asking again for a shared slot that was full.
const SHARED_RETRY: Duration = Duration::from_millis(100);

/// A shared slot, given back when the request ends.
struct SharedPermit {
    shared: Arc<dyn SharedHosts>,
    host: String,
    slot: i32,
}

impl Drop for SharedPermit {
    fn drop(&mut self) {
        let (shared, host, slot) = (
            self.shared.clone(),
            std::mem::take(&mut self.host),
            self.slot,
        );
        // Outside a runtime (never, in practice) the slot simply expires.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(move || shared.release(&host, slot));
        }
    }
}

struct HostState {
    slots: Arc<Semaphore>,
    /// When the latest request to this host started or is booked to start.
    next_start: Instant,
}

/// Held while a request runs; dropping it frees both slots.
pub struct Permit {
    _global: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
    _shared: Option<SharedPermit>,
}

impl Limits {
    pub fn new(concurrency: usize, per_host_concurrency: usize, min_gap: Duration) -> Self {
        Limits {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host_concurrency: per_host_concurrency.max(1),
            min_gap,
            hosts: Arc::new(Mutex::new(HashMap::new())),
            shared: None,
        }
    }

    /// Enforce the per-host limits across processes too, through `shared`.
    pub fn with_shared(mut self, shared: Arc<dyn SharedHosts>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// A shared slot and its booked start, waiting while every slot is taken. A store that
    /// cannot answer costs the cross-process limit, not the poll: the local limits still hold.
    async fn acquire_shared(&self, host: &str) -> Option<SharedPermit> {
        let shared = self.shared.clone()?;
        loop {
            let (s, h) = (shared.clone(), host.to_string());
            let (slots, gap) = (self.per_host_concurrency, self.min_gap);
            let answer = tokio::task::spawn_blocking(move || s.acquire(&h, slots, gap)).await;
            match answer {
                Ok(Ok(Some((slot, wait)))) => {
                    let permit = SharedPermit {
                        shared,
                        host: host.to_string(),
                        slot,
                    };
                    tokio::time::sleep(wait).await;
                    return Some(permit);
                }
                Ok(Ok(None)) => tokio::time::sleep(SHARED_RETRY).await,
                Ok(Err(e)) => {
                    tracing::warn!(host, error = %e, "shared per-host limits unavailable; this request uses the local ones only");
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// Wait for a slot for `host` (per-host first, so a busy host does not hold global slots),
    /// then for its turn after the gap, then for a global slot.
    pub async fn acquire(&self, host: &str) -> Permit {
        let slots = {
            let mut hosts = self.lock();
            let now = Instant::now();
            hosts.retain(|_, h| {
                h.next_start + FORGET_AFTER > now
                    || h.slots.available_permits() < self.per_host_concurrency
            });
            hosts
                .entry(host.to_string())
                .or_insert_with(|| HostState {
                    slots: Arc::new(Semaphore::new(self.per_host_concurrency)),
                    next_start: now,
                })
                .slots
                .clone()
        };
        // The semaphores are never closed, so acquiring cannot fail.
        let host_permit = slots
            .acquire_owned()
            .await
            .expect("host semaphore is never closed");
        let start_at = {
            let mut hosts = self.lock();
            let now = Instant::now();
            match hosts.get_mut(host) {
                Some(state) => {
                    let at = state.next_start.max(now);
                    state.next_start = at + self.min_gap;
                    at
                }
                None => now,
            }
        };
        tokio::time::sleep_until(start_at).await;
        let shared = self.acquire_shared(host).await;
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("global semaphore is never closed");
        Permit {
            _global: global,
            _host: host_permit,
            _shared: shared,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HostState>> {
        // A panic while holding this lock leaves plain data behind; keep going with it.
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_are_spaced_by_the_gap() {
        let limits = Limits::new(8, 4, Duration::from_secs(5));
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..3 {
            let _p = limits.acquire("a.test").await;
            starts.push(Instant::now() - t0);
        }
        assert_eq!(
            starts,
            [
                Duration::ZERO,
                Duration::from_secs(5),
                Duration::from_secs(10)
            ]
        );
        // Another host is not held back by a.test's gap.
        let before = Instant::now();
        let _p = limits.acquire("b.test").await;
        assert_eq!(Instant::now(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn per_host_and_global_caps_hold() {
        let limits = Limits::new(3, 2, Duration::ZERO);
        let a1 = limits.acquire("a.test").await;
        let _a2 = limits.acquire("a.test").await;
        let blocked = tokio::time::timeout(Duration::from_secs(1), limits.acquire("a.test")).await;
        assert!(blocked.is_err(), "third request to a.test must wait");
        let _b1 = limits.acquire("b.test").await;
        let blocked = tokio::time::timeout(Duration::from_secs(1), limits.acquire("c.test")).await;
        assert!(blocked.is_err(), "fourth request overall must wait");
        drop(a1);
        let got = tokio::time::timeout(Duration::from_secs(1), limits.acquire("a.test")).await;
        assert!(got.is_ok(), "a freed slot is reusable");
    }
}
