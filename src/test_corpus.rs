//! Where unit tests find the shared corpus: `$NEWSDESK_CORPUS`, else `../shared/corpus` beside
//! the checkout (the integration tests' `tests/common` does the same). A missing corpus fails
//! the test that needs it.

use std::path::PathBuf;

pub(crate) fn corpus() -> PathBuf {
    let dir = std::env::var_os("NEWSDESK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")));
    assert!(
        dir.join("articles").is_dir(),
        "corpus not found at {} (set NEWSDESK_CORPUS to the shared corpus folder)",
        dir.display()
    );
    dir
}

/// The text of a file of the corpus's `articles/` folder.
pub(crate) fn articles_file(name: &str) -> String {
    let path = corpus().join("articles").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("corpus file {} is needed: {e}", path.display()))
}
