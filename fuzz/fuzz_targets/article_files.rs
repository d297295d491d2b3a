//! The article-file readers of `newsdesk ingest` and the spool: plain text, HTML, JSON, JSON
//! Lines, and the sniffing of files with no known extension. The input's length picks the file
//! name's extension; the input is the file, written to a scratch file and read back by path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const EXTENSIONS: [&str; 5] = ["txt", "html", "json", "jsonl", "dat"];

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("newsdesk-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let ext = EXTENSIONS[data.len() % EXTENSIONS.len()];
    let path = scratch().join(format!("input.{ext}"));
    std::fs::write(&path, data).unwrap();
    if let Ok(items) = newsdesk::ingest::read_path(&path, 1 << 20) {
        for item in items.flatten() {
            let _ = newsdesk::normalize::normalize(item.raw);
        }
    }
});
