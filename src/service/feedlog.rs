//! Which feeds are failing and how, so that a feed that stays broken warns once per change
//! (first failure, a different error kind, recovery) instead of once per poll. The events in
//! `events` consult it; this module only keeps the state and says what a new result means.

use std::collections::HashMap;

/// A feed's failure streak as this process has seen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// The error kind last logged at warn.
    pub kind: String,
    /// Failed polls in this streak.
    pub failures: u64,
    /// Failures since the last warn line (the ones logged only at debug).
    pub repeats: u64,
}

/// What a new failure means for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The feed was fine (or unknown to this process): warn.
    FirstFailure,
    /// It was failing with another kind of error: warn, saying how often the old one repeated.
    KindChanged { previous: String, repeats: u64 },
    /// Same failure as last time: count it, debug only.
    Repeat { repeats: u64 },
}

/// Which feeds are failing and how, keyed by feed URL. Owned by the loop that collects poll
/// results (one place, so `&mut` is enough).
#[derive(Debug, Default)]
pub struct FeedLog {
    failing: HashMap<String, Failing>,
}

impl FeedLog {
    pub fn new() -> FeedLog {
        FeedLog::default()
    }

    pub fn failed(&mut self, url: &str, kind: &str) -> Transition {
        match self.failing.get_mut(url) {
            None => {
                self.failing.insert(
                    url.to_string(),
                    Failing {
                        kind: kind.to_string(),
                        failures: 1,
                        repeats: 0,
                    },
                );
                Transition::FirstFailure
            }
            Some(f) if f.kind != kind => {
                let previous = std::mem::replace(&mut f.kind, kind.to_string());
                let repeats = std::mem::take(&mut f.repeats);
                f.failures += 1;
                Transition::KindChanged { previous, repeats }
            }
            Some(f) => {
                f.failures += 1;
                f.repeats += 1;
                Transition::Repeat { repeats: f.repeats }
            }
        }
    }

    /// A poll of `url` succeeded; returns the streak it ended, if it was failing.
    pub fn succeeded(&mut self, url: &str) -> Option<Failing> {
        self.failing.remove(url)
    }

    /// The feed is gone or removed: drop its streak.
    pub fn forget(&mut self, url: &str) {
        self.failing.remove(url);
    }

    /// The feed's URL changed: its streak follows it.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(f) = self.failing.remove(from) {
            self.failing.insert(to.to_string(), f);
        }
    }

    /// Feeds currently failing, as this process has seen them.
    pub fn failing_count(&self) -> usize {
        self.failing.len()
    }

    pub fn get(&self, url: &str) -> Option<&Failing> {
        self.failing.get(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_warn_on_changes_and_count_repeats() {
        let mut log = FeedLog::new();
        let a = "http://a.test/rss";
        assert_eq!(log.failed(a, "timeout"), Transition::FirstFailure);
        assert_eq!(log.failed(a, "timeout"), Transition::Repeat { repeats: 1 });
        assert_eq!(log.failed(a, "timeout"), Transition::Repeat { repeats: 2 });
        assert_eq!(
            log.failed(a, "dns"),
            Transition::KindChanged {
                previous: "timeout".into(),
                repeats: 2
            }
        );
        assert_eq!(log.failed(a, "dns"), Transition::Repeat { repeats: 1 });
        // Another feed has its own streak.
        assert_eq!(
            log.failed("http://b.test/", "dns"),
            Transition::FirstFailure
        );
        assert_eq!(log.failing_count(), 2);

        let streak = log.succeeded(a).expect("a was failing");
        assert_eq!(streak.failures, 5);
        assert_eq!(streak.kind, "dns");
        assert_eq!(log.succeeded(a), None, "recovery is reported once");
        assert_eq!(log.failed(a, "dns"), Transition::FirstFailure);
    }

    #[test]
    fn rename_moves_a_streak_and_forget_drops_it() {
        let mut log = FeedLog::new();
        log.failed("http://old.test/", "http_5xx");
        log.rename("http://old.test/", "http://new.test/");
        assert!(log.get("http://old.test/").is_none());
        assert_eq!(
            log.failed("http://new.test/", "http_5xx"),
            Transition::Repeat { repeats: 1 }
        );
        log.forget("http://new.test/");
        assert_eq!(log.failing_count(), 0);
    }
}
