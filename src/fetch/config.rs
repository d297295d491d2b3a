//! The `[fetch]` table: how politely and how defensively we talk HTTP.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    /// Sent with every request; publishers use it to find out who is polling them.
    pub user_agent: String,
    #[serde(deserialize_with = "crate::config::duration")]
    pub connect_timeout: Duration,
    /// Whole request, redirects and body included: a slow drip ends here.
    #[serde(deserialize_with = "crate::config::duration")]
    pub timeout: Duration,
    /// Cap on the decompressed body; a larger one is an error, not a truncated feed.
    pub max_body_bytes: u64,
    /// Items taken from one poll of one feed (the rest are dropped, newest first as listed).
    pub max_items_per_poll: usize,
    /// Requests in flight at once, all hosts together.
    pub concurrency: usize,
    /// Requests in flight at once to one host.
    pub per_host_concurrency: usize,
    /// Least time between the starts of two requests to one host.
    #[serde(deserialize_with = "crate::config::duration")]
    pub per_host_min_gap: Duration,
    /// Permit loopback, private, link-local and metadata addresses (tests, local benches).
    pub allow_private_addresses: bool,
    /// Longest redirect chain followed; one more is an error.
    pub max_redirects: usize,
    /// PEM files of root certificates trusted beside the built-in ones (a corporate TLS proxy,
    /// an internal CA). Relative paths are taken from the config file's folder.
    pub extra_root_certificates: Vec<PathBuf>,
    /// Host name (or `*.suffix`) -> `IP` or `IP:port`, used instead of DNS for those names,
    /// like curl's `--resolve`. The port applies only to URLs that give none.
    pub resolve: BTreeMap<String, String>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: concat!(
                "newsdesk/",
                env!("CARGO_PKG_VERSION"),
                " (news feed reader; polls politely, honours ETag and Retry-After)"
            )
            .to_string(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_items_per_poll: 500,
            concurrency: 8,
            per_host_concurrency: 2,
            per_host_min_gap: Duration::from_secs(1),
            allow_private_addresses: false,
            max_redirects: 5,
            extra_root_certificates: Vec::new(),
            resolve: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_toml_with_defaults_and_rejects_unknown_keys() {
        #[derive(Deserialize)]
        struct Wrap {
            fetch: FetchConfig,
        }
        let w: Wrap = toml::from_str(
            "[fetch]\ntimeout = \"45s\"\nper_host_min_gap = \"500ms\"\nallow_private_addresses = true\n",
        )
        .unwrap();
        assert_eq!(w.fetch.timeout, Duration::from_secs(45));
        assert_eq!(w.fetch.per_host_min_gap, Duration::from_millis(500));
        assert!(w.fetch.allow_private_addresses);
        assert_eq!(w.fetch.max_redirects, 5);
        let err = toml::from_str::<Wrap>("[fetch]\ntimeout = \"thirty\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(toml::from_str::<Wrap>("[fetch]\nuser_agnet = \"x\"\n").is_err());
    }
}
