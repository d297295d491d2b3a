//! What the corpus's `SOURCES.md` says about its feeds, read without the code under test: the
//! item count of each feed file, and the items a feed lists more than once.

use super::corpus;
use std::collections::{BTreeMap, HashSet};

/// The feed SOURCES.md marks as malformed: it must fail, never yield items.
pub const MALFORMED: &str = "dylanharris-blog-malformed-rss-prefixed.xml";

/// File name -> item count, from the feeds table of SOURCES.md ("| file | format | encoding |
/// items | ..."). The count is of `<item>`/`<entry>` start tags, repeats included.
pub fn feed_items() -> BTreeMap<String, usize> {
    let path = corpus().join("SOURCES.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let is_feed = [".xml", ".rdf", ".json"].iter().any(|ext| {
            cells
                .get(1)
                .is_some_and(|c| c.ends_with(ext) && !c.contains(' '))
        });
        if cells.len() > 5 && is_feed {
            if let Ok(n) = cells[4].parse() {
                out.insert(cells[1].to_string(), n);
            }
        }
    }
    assert_eq!(
        out.len(),
        40,
        "SOURCES.md should list 40 feeds, found {out:?}"
    );
    out
}

/// The count once an item listed several times in one feed is counted once (al-monitor lists
/// 20 items with 11 guids): when every item has a non-empty `<guid>`, the number of distinct
/// guid texts, by a plain byte scan independent of the parser; otherwise SOURCES.md's count.
pub fn distinct_items(name: &str, listed: usize) -> usize {
    let path = corpus().join("feeds").join(name);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    let guids: Vec<&str> = element_texts(&text, "guid")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    if guids.len() != listed {
        return listed;
    }
    guids.iter().collect::<HashSet<_>>().len()
}

/// The malformed feed's distinct items, by a plain byte scan: its elements carry an undeclared
/// `rss:` prefix, so SOURCES.md (a strict parser's view) counts none of them.
pub fn malformed_distinct_items() -> usize {
    let path = corpus().join("feeds").join(MALFORMED);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    let guids: HashSet<&str> = element_texts(&text, "rss:guid").into_iter().collect();
    assert!(
        guids.len() > 10,
        "{MALFORMED}: expected its items to be found by the scan"
    );
    guids.len()
}

/// The trimmed texts of every `<name ...>text</name>` in a document, by a plain byte scan
/// (independent of the parser under test).
fn element_texts<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    text.split(open.as_str())
        .skip(1)
        .filter_map(|rest| {
            rest.split_once('>')
                .and_then(|(_, v)| v.split_once(close.as_str()))
        })
        .map(|(v, _)| v.trim())
        .collect()
}
