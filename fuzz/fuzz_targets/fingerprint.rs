//! The dedupe fingerprint: built from any article text, it must survive its BLOB form; and any
//! bytes read back as a stored fingerprint are refused or decoded, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsdesk::dedupe::Fingerprint;

fuzz_target!(|data: &[u8]| {
    let _ = Fingerprint::from_bytes(data);
    let text = String::from_utf8_lossy(data);
    let raw = newsdesk::ingest::parse_text(&text);
    if let Ok(article) = newsdesk::normalize::normalize(raw) {
        let fp = newsdesk::dedupe::fingerprint(&article);
        let back =
            Fingerprint::from_bytes(&fp.to_bytes()).expect("a written fingerprint reads back");
        assert_eq!(back.to_bytes(), fp.to_bytes());
    }
});
