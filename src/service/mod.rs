//! Running as a system service (SPEC section 9): the pieces the daemon plugs in.
//!
//! - [`notify`]: sd_notify messages for a `Type=notify` unit (READY, STATUS, WATCHDOG, STOPPING).
//! - [`events`]: one type per thing that happens; `emit()` logs and counts in one step.
//! - [`feedlog`]: which feeds are failing, so repeated failures are counted, not re-logged.
//! - [`metrics`]: series names, help text, buckets, the Prometheus recorder.
//! - [`health`]: the few atomics the daemon updates and `/healthz` judges.
//! - [`http`]: the optional loopback listener serving `/healthz` and `/metrics`.
//! - [`backoff`]: how often work may retry while the store refuses writes (disk full).

pub mod backoff;
pub mod events;
pub mod feedlog;
pub mod health;
pub mod http;
pub mod metrics;
pub mod notify;
