//! Feed bytes -> parse -> normalize: what a poll does with whatever a server sends. The input's
//! length picks the Content-Type the server claimed (none, XML, JSON, a charset), so every
//! byte of a seed feed stays the feed.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TYPES: [Option<&str>; 5] = [
    None,
    Some("application/rss+xml"),
    Some("application/feed+json"),
    Some("text/html; charset=windows-1251"),
    Some("text/xml; charset=iso-8859-1"),
];

fuzz_target!(|data: &[u8]| {
    let content_type = TYPES[data.len() % TYPES.len()];
    let url = url::Url::parse("https://feeds.example/world/rss.xml").unwrap();
    if let Ok(feed) = newsdesk::parse::parse_feed(data, content_type, &url, 500) {
        for item in feed.items {
            let _ = newsdesk::normalize::normalize(item);
        }
    }
});
