//! Every feed of the shared corpus through `parse_feed`: item counts as SOURCES.md gives them,
//! correct text in the legacy-charset feeds, absolute links, identities that do not
//! depend on item order.

mod common;
use common::corpus;
use common::sources::{distinct_items, feed_items, malformed_distinct_items, MALFORMED};
use newsdesk::parse::{parse_feed, ParseError, ParsedFeed};
use std::collections::HashSet;
use url::Url;

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
    let expected = feed_items();
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
                let want = malformed_distinct_items();
                if feed.items.len() != want || feed.degraded.is_none() {
                    failures.push(format!(
                        "{name}: {} items (want {want}), degraded {:?}",
                        feed.items.len(),
                        feed.degraded
                    ));
                }
            }
            Ok(feed) if feed.items.len() != distinct_items(name, *want) => failures.push(format!(
                "{name}: {} items, SOURCES.md says {want} ({} distinct guids)",
                feed.items.len(),
                distinct_items(name, *want)
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

/// The feed's bytes with its `<item>`/`<entry>` elements in reverse order, by a plain byte
/// split independent of the parser; None for JSON Feed and feeds with fewer than two items.
fn reversed_items(bytes: &[u8]) -> Option<Vec<u8>> {
    let tag: &[u8] = if bytes.windows(7).any(|w| w == b"</item>") {
        b"item"
    } else {
        b"entry"
    };
    let close = [b"</", tag, b">"].concat();
    let is_open = |i: usize| {
        bytes[i..].starts_with(b"<")
            && bytes[i + 1..].starts_with(tag)
            && matches!(
                bytes.get(i + 1 + tag.len()),
                Some(b'>' | b' ' | b'\t' | b'\r' | b'\n')
            )
    };
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_open(i) {
            let len = bytes[i..].windows(close.len()).position(|w| w == close)?;
            spans.push(i..i + len + close.len());
            i += len + close.len();
        } else {
            i += 1;
        }
    }
    if spans.len() < 2 {
        return None;
    }
    let (first, last) = (spans[0].start, spans[spans.len() - 1].end);
    let mut out = bytes[..first].to_vec();
    for span in spans.iter().rev() {
        out.extend_from_slice(&bytes[span.clone()]);
        out.push(b'\n');
    }
    out.extend_from_slice(&bytes[last..]);
    Some(out)
}

/// An item's identity is its own: the same items in another order (a publisher reordering its
/// feed) keep their identities, in particular those derived for items without a guid.
#[test]
fn identities_are_unique_and_do_not_depend_on_item_order() {
    let mut reordered = 0;
    for name in feed_items().keys().filter(|n| *n != MALFORMED) {
        let bytes = std::fs::read(corpus().join("feeds").join(name)).expect("read feed");
        let identities = |bytes: &[u8]| -> Vec<(String, Option<String>)> {
            let mut ids: Vec<_> = parse_feed(bytes, None, &feed_url(name), 10_000)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .items
                .into_iter()
                .map(|i| (i.guid.unwrap_or_default(), i.title))
                .collect();
            ids.sort();
            ids
        };
        let ids = identities(&bytes);
        let unique: HashSet<_> = ids.iter().map(|(id, _)| id).collect();
        assert_eq!(unique.len(), ids.len(), "{name}: duplicate identities");
        if let Some(reversed) = reversed_items(&bytes) {
            assert_eq!(
                identities(&reversed),
                ids,
                "{name}: identities change with item order"
            );
            reordered += 1;
        }
    }
    assert!(reordered >= 30, "only {reordered} feeds could be reordered");
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
