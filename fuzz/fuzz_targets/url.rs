//! URL canonicalisation: a link as a feed gives it (relative or absolute, any text), made
//! absolute against a base and canonicalised. The canonical form must be stable: canonical
//! twice is canonical once, or dedupe by URL would split one story in two.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsdesk::normalize::{absolute_url, canonical_url};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (href, base) = text
        .split_once('\n')
        .unwrap_or((text, "https://news.example/world/"));
    let base = url::Url::parse(base).ok();
    let Some(abs) = absolute_url(href, base.as_ref()) else {
        return;
    };
    let once = canonical_url(&abs);
    if let Ok(again) = url::Url::parse(&once) {
        assert_eq!(
            canonical_url(&again),
            once,
            "canonical_url is not idempotent for {abs}"
        );
    }
});
