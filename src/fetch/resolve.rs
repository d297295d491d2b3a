//! Name resolution for the one shared client: `[fetch] resolve` overrides (curl's `--resolve`,
//! with `*.suffix` patterns), then the system resolver, then the address guard on whatever
//! either gave. Overridden addresses are checked like DNS answers, so an override cannot reach
//! a private address unless `allow_private_addresses` says so.

use super::guard::{is_forbidden, RefusedAddress};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// One `[fetch] resolve` entry, checked.
#[derive(Debug, Clone, PartialEq)]
struct Override {
    /// Lower-case host, or the suffix after `*` (".example.test") for a pattern.
    host: String,
    wildcard: bool,
    /// Port 0 when none was given: hyper then uses the scheme's port.
    addr: SocketAddr,
}

/// Why a `[fetch] resolve` entry is not usable.
#[derive(Debug, thiserror::Error)]
#[error("[fetch] resolve: {entry}: {reason}")]
pub struct BadOverride {
    entry: String,
    reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Overrides(Vec<Override>);

impl Overrides {
    /// Check every entry; exact names are tried before patterns, longer suffixes first.
    pub fn parse(table: &BTreeMap<String, String>) -> Result<Self, BadOverride> {
        let mut list = Vec::with_capacity(table.len());
        for (name, target) in table {
            let bad = |reason: &str| BadOverride {
                entry: format!("{name:?} = {target:?}"),
                reason: reason.to_string(),
            };
            let lower = name.trim().to_ascii_lowercase();
            let (host, wildcard) = match lower.strip_prefix('*') {
                Some(suffix) if suffix.starts_with('.') && suffix.len() > 1 => {
                    (suffix.to_string(), true)
                }
                Some(_) => return Err(bad("a pattern is `*.` followed by a domain")),
                None => (lower, false),
            };
            if host.is_empty() || host.contains(['*', ':', '/', ' ']) {
                return Err(bad("not a host name"));
            }
            let target = target.trim();
            let addr = target
                .parse::<SocketAddr>()
                .or_else(|_| target.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
                .map_err(|_| bad("the value must be an IP address, optionally with :port"))?;
            list.push(Override {
                host,
                wildcard,
                addr,
            });
        }
        list.sort_by_key(|o| (o.wildcard, std::cmp::Reverse(o.host.len())));
        Ok(Overrides(list))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The address configured for `host`, if any.
    fn lookup(&self, host: &str) -> Option<SocketAddr> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.0
            .iter()
            .find(|o| {
                if o.wildcard {
                    host.ends_with(&o.host)
                } else {
                    host == o.host
                }
            })
            .map(|o| o.addr)
    }
}

/// The resolver the client uses when there are overrides or addresses to refuse.
pub struct Resolver {
    pub overrides: Overrides,
    /// Refuse non-public addresses (`allow_private_addresses = false`).
    pub guard: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let fixed = self.overrides.lookup(&host);
        let guard = self.guard;
        Box::pin(async move {
            let found: Vec<SocketAddr> = match fixed {
                Some(addr) => vec![addr],
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| !guard || !is_forbidden(a.ip()))
                .collect();
            if allowed.is_empty() && !found.is_empty() {
                return Err(
                    Box::new(RefusedAddress { host }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn exact_names_win_over_patterns_and_longer_suffixes_over_shorter() {
        let o = Overrides::parse(&table(&[
            ("*.test", "127.0.0.1"),
            ("*.b.test", "127.0.0.2:8443"),
            ("Feed.B.test", "[::1]:9000"),
        ]))
        .unwrap();
        let at = |h: &str| o.lookup(h).map(|a| a.to_string());
        assert_eq!(at("feed.b.test").as_deref(), Some("[::1]:9000"));
        assert_eq!(at("x.b.test").as_deref(), Some("127.0.0.2:8443"));
        assert_eq!(at("h7.test.").as_deref(), Some("127.0.0.1:0"));
        assert_eq!(at("test"), None);
        assert_eq!(at("example.org"), None);
    }

    #[test]
    fn bad_entries_are_named() {
        for (k, v) in [
            ("*test", "127.0.0.1"),
            ("a.test", "localhost"),
            ("", "127.0.0.1"),
            ("a.test", "127.0.0.1:http"),
        ] {
            let err = Overrides::parse(&table(&[(k, v)])).unwrap_err().to_string();
            assert!(err.contains(&format!("{k:?} = {v:?}")), "{err}");
        }
    }
}
