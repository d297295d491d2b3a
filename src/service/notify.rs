//! Talking to systemd's service manager (sd_notify(3)) for a `Type=notify` unit: READY=1 once
//! the daemon can do its job, STATUS= for `systemctl status`, WATCHDOG=1 from the scheduler loop
//! (so a wedged scheduler gets the unit restarted), RELOADING=1 around SIGHUP and STOPPING=1 on
//! shutdown. Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing and succeeds, so the
//! daemon calls these unconditionally.

use sd_notify::NotifyState;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("cannot notify systemd on {socket} ({what}): {source}")]
pub struct NotifyError {
    /// The `NOTIFY_SOCKET` value the message was sent to.
    pub socket: String,
    /// The message, as sent (e.g. "READY=1").
    pub what: String,
    pub source: std::io::Error,
}

fn send(states: &[NotifyState]) -> Result<(), NotifyError> {
    sd_notify::notify(states).map_err(|source| NotifyError {
        socket: std::env::var("NOTIFY_SOCKET").unwrap_or_default(),
        what: states
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        source,
    })
}

/// Whether a service manager is listening; lets the daemon skip building status text.
pub fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty())
}

/// READY=1: startup is done (migrations applied, first schedule made). systemd holds back
/// `systemctl start` and units ordered after us until this arrives. Also ends a reload.
pub fn ready(status: &str) -> Result<(), NotifyError> {
    send(&[NotifyState::Ready, NotifyState::Status(status)])
}

/// STATUS=...: one line shown by `systemctl status newsdesk`.
pub fn status(text: &str) -> Result<(), NotifyError> {
    send(&[NotifyState::Status(text)])
}

/// WATCHDOG=1: "still alive". Call it from the scheduler loop, not from a timer task of its
/// own, so that a stuck scheduler stops the pings and systemd restarts the service.
pub fn watchdog() -> Result<(), NotifyError> {
    send(&[NotifyState::Watchdog])
}

/// RELOADING=1 while SIGHUP's new config is read; follow it with `ready()` whether the new
/// config was taken or rejected. MONOTONIC_USEC is what `Type=notify-reload` (systemd 253+)
/// requires and older versions ignore.
pub fn reloading() -> Result<(), NotifyError> {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading configuration"),
        ]),
        Err(_) => send(&[
            NotifyState::Reloading,
            NotifyState::Status("reloading configuration"),
        ]),
    }
}

/// STOPPING=1: shutdown has begun; `systemctl status` shows "deactivating" with the reason.
pub fn stopping(reason: &str) -> Result<(), NotifyError> {
    send(&[NotifyState::Stopping, NotifyState::Status(reason)])
}

/// How often to send WATCHDOG=1: half of `WatchdogSec=` (sd_watchdog_enabled(3) advice), or
/// None when the unit has no watchdog (or the variable is meant for another process).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// The STATUS= text: what an operator wants from `systemctl status` at a glance.
pub fn status_line(feeds: usize, failing: usize, last_poll_ago: Option<Duration>) -> String {
    let last = match last_poll_ago {
        None => "no successful poll yet".to_string(),
        Some(d) => format!("last successful poll {}s ago", d.as_secs()),
    };
    if failing == 0 {
        format!("{feeds} feeds, {last}")
    } else {
        format!("{feeds} feeds ({failing} failing), {last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_names_feeds_failures_and_last_poll() {
        assert_eq!(status_line(3, 0, None), "3 feeds, no successful poll yet");
        assert_eq!(
            status_line(12, 2, Some(Duration::from_millis(61_500))),
            "12 feeds (2 failing), last successful poll 61s ago"
        );
    }
}
