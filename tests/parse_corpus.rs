//! Every feed of the shared corpus through `parse_feed`: item counts as SOURCES.md gives them,
//! correct text in the legacy-charset feeds, absolute links, stable identities.

use newsdesk::parse::{parse_feed, ParseError, ParsedFeed};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use url::Url;

const MALFORMED: &str = "dylanharris-blog-malformed-rss-prefixed.xml";

fn corpus() -> PathBuf {
    let dir = std::env::var("NEWSDESK_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus").to_string());
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("feeds").is_dir() && dir.join("SOURCES.md").is_file(),
        "corpus not found at {} (set NEWSDESK_CORPUS to the shared corpus directory)",
        dir.display()
    );
    dir
}

/// file name -> item count, from the feeds table of SOURCES.md ("| file | format | encoding |
/// items | ...").
fn expected_counts() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(corpus().join("SOURCES.md")).expect("read SOURCES.md");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 5 && cells[1].contains('.') && !cells[1].contains(' ') {
            if let Ok(n) = cells[4].parse::<usize>() {
                out.insert(cells[1].to_string(), n);
            }
        }
    }
    assert_eq!(
        out.len(),
        40,
        "SOURCES.md should list 40 feeds, found {}",
        out.len()
    );
    out
}

/// The item count once an item listed several times in one feed is counted once: when every
/// item has a non-empty `<guid>`, the number of distinct guid texts (a plain byte scan, independent of the
/// parser); otherwise the count SOURCES.md gives.
fn unique_count(name: &str, items: usize) -> usize {
    let bytes = std::fs::read(corpus().join("feeds").join(name)).expect("read feed");
    let text = String::from_utf8_lossy(&bytes);
    let guids: Vec<&str> = text
        .split("<guid")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once('>')
                .and_then(|(_, v)| v.split_once("</guid>"))
        })
        .map(|(v, _)| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if guids.len() != items {
        return items;
    }
    guids.iter().collect::<HashSet<_>>().len()
}

/// The malformed feed's items by a plain byte scan: its elements carry an undeclared `rss:` prefix.
fn distinct_prefixed_guids(name: &str) -> usize {
    let bytes = std::fs::read(corpus().join("feeds").join(name)).expect("read feed");
    let text = String::from_utf8_lossy(&bytes);
    let guids: HashSet<&str> = text
        .split("<rss:guid")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once('>')
                .and_then(|(_, v)| v.split_once("</rss:guid>"))
        })
        .map(|(v, _)| v.trim())
        .collect();
    assert!(
        guids.len() > 10,
        "{name}: expected its items to be found by the scan"
    );
    guids.len()
}

fn feed_url(name: &str) -> Url {
    Url::parse(&format!("http://feeds.example.test/corpus/{name}")).unwrap()
}

fn parse_file(name: &str) -> Result<ParsedFeed, ParseError> {
    let bytes = std::fs::read(corpus().join("feeds").join(name)).expect("read feed");
    parse_feed(&bytes, None, &feed_url(name), 10_000)
}

fn titles(feed: &ParsedFeed) -> String {
    feed.items
        .iter()
        .filter_map(|i| i.title.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_corpus_feed_yields_its_item_count() {
    let expected = expected_counts();
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus().join("feeds"))
        .expect("list feeds")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, expected.keys().cloned().collect::<Vec<_>>());

    let mut failures = Vec::new();
    for (name, want) in &expected {
        match parse_file(name) {
            Ok(feed) if name == MALFORMED => {
                // Not well-formed: read leniently, every distinct item kept, marked degraded.
                let want = distinct_prefixed_guids(name);
                if feed.items.len() != want || feed.degraded.is_none() {
                    failures.push(format!(
                        "{name}: {} items (want {want}), degraded {:?}",
                        feed.items.len(),
                        feed.degraded
                    ));
                }
            }
            Ok(feed) if feed.items.len() != unique_count(name, *want) => failures.push(format!(
                "{name}: {} items, SOURCES.md says {want} ({} distinct guids)",
                feed.items.len(),
                unique_count(name, *want)
            )),
            Ok(feed) => {
                for item in &feed.items {
                    let guid = item.guid.as_deref().unwrap_or("");
                    if guid.is_empty() || guid.contains('\0') {
                        failures.push(format!("{name}: item without identity: {:?}", item.title));
                    }
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn legacy_charsets_come_out_as_correct_text() {
    let oren = parse_file("oren-ru-rss2-windows1251.xml").unwrap();
    assert_eq!(oren.items.len(), 10);
    assert!(
        oren.title
            .as_deref()
            .unwrap_or("")
            .contains("Новости Оренбурга"),
        "{:?}",
        oren.title
    );
    assert!(
        titles(&oren).contains("В Бузулуке главные стройплощадки"),
        "{}",
        titles(&oren)
    );

    let uol = parse_file("uol-noticias-rss-noversion-undeclared-latin1.xml").unwrap();
    let t = titles(&uol);
    assert!(t.contains("simulações de 2º turno"), "{t}");
    assert!(t.contains("Promotoria abre inquérito"), "{t}");

    let jn = parse_file("jn-jornaldenoticias-rss2-iso8859-1-crlf.xml").unwrap();
    assert_eq!(
        jn.title.as_deref(),
        Some("Jornal de Notícias - Últimas Notícias")
    );
    let golem = parse_file("golem-de-rss1-iso8859-1.rdf").unwrap();
    assert!(
        titles(&golem).contains("Glasfaserförderung"),
        "{}",
        titles(&golem)
    );

    // No replacement characters or UTF-8-read-as-Latin-1 pairs anywhere in these feeds.
    for feed in [&oren, &uol, &jn, &golem] {
        for item in &feed.items {
            let text = format!("{:?} {:?}", item.title, item.summary);
            assert!(
                !text.contains('\u{fffd}') && !text.contains("Ã") && !text.contains("Ð"),
                "{text}"
            );
        }
    }
}

#[test]
fn relative_links_become_absolute() {
    for name in [
        "intertwingly-samruby-blog-atom-xhtml.xml",
        "talkingpointsmemo-all-atom.xml",
    ] {
        let feed = parse_file(name).unwrap();
        for item in &feed.items {
            let url = item
                .url
                .as_deref()
                .unwrap_or_else(|| panic!("{name}: item without link"));
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{name}: {url}"
            );
        }
    }
    let tpm = parse_file("talkingpointsmemo-all-atom.xml").unwrap();
    assert!(tpm.items.iter().any(|i| i.url.as_deref()
        == Some("http://feeds.example.test/livewire/hannity-announces-fox-hired-sebastian-gorka-national-security-strategist")));
    let ruby = parse_file("intertwingly-samruby-blog-atom-xhtml.xml").unwrap();
    assert!(ruby.items.iter().any(|i| i.url.as_deref()
        == Some("http://intertwingly.net/blog/2012/07/16/Inhibiting-Suspend")
        || i.url.as_deref()
            == Some("http://feeds.example.test/blog/2012/07/16/Inhibiting-Suspend")));
    // Relative links inside content are made absolute by normalize with the item's base.
    for item in ruby.items {
        let article = newsdesk::normalize::normalize(item).unwrap();
        if let Some(html) = article.body_html {
            assert!(!html.contains("href=\"/"), "relative href left in {html}");
        }
    }
    // al-monitor declares xml:base on <rss>.
    let am = parse_file("al-monitor-all-rss2.xml").unwrap();
    for item in &am.items {
        assert!(
            item.url
                .as_deref()
                .unwrap_or("")
                .starts_with("https://www.al-monitor.com/"),
            "{:?}",
            item.url
        );
    }
}

#[test]
fn identities_are_stable_and_unique() {
    for name in expected_counts().keys().filter(|n| *n != MALFORMED) {
        let a: Vec<_> = parse_file(name)
            .unwrap()
            .items
            .into_iter()
            .map(|i| i.guid)
            .collect();
        let b: Vec<_> = parse_file(name)
            .unwrap()
            .items
            .into_iter()
            .map(|i| i.guid)
            .collect();
        assert_eq!(a, b, "{name}: identities differ between two parses");
        let unique: HashSet<_> = a.iter().collect();
        assert_eq!(unique.len(), a.len(), "{name}: duplicate identities");
    }
    // DW has no guids: identity is the link.
    let dw = parse_file("dw-english-all-rss1.rdf").unwrap();
    assert!(dw.items.iter().all(|i| i.guid == i.url && i.url.is_some()));
}

#[test]
fn entities_are_decoded_after_normalize() {
    let mut checked = 0;
    for name in [
        "guardian-us-rss2.xml",
        "npr-world-rss2.xml",
        "al-monitor-all-rss2.xml",
        "dawn-world-rss2.xml",
    ] {
        for item in parse_file(name).unwrap().items {
            let a = newsdesk::normalize::normalize(item).unwrap();
            for text in [&a.title, &a.body_text] {
                assert!(
                    !text.contains("&nbsp;") && !text.contains("&amp;") && !text.contains("&lt;"),
                    "{name}: {text}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100);
}
