//! Synthetic documents for the cases the corpus does not pin down on its own.

use super::*;

fn url() -> Url {
    Url::parse("https://news.example.test/feeds/world.xml").unwrap()
}

fn parse(body: &[u8], ct: Option<&str>) -> Result<ParsedFeed, ParseError> {
    parse_feed(body, ct, &url(), 1000)
}

#[test]
fn empty_and_html_and_garbage_are_clear_errors() {
    assert_eq!(parse(b"", None).unwrap_err(), ParseError::Empty);
    assert_eq!(parse(b" \r\n\t", None).unwrap_err(), ParseError::Empty);
    let html = b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body>hi</body></html>";
    assert_eq!(
        parse(html, Some("text/html")).unwrap_err(),
        ParseError::NotAFeed("an HTML page".into())
    );
    assert!(matches!(
        parse(b"just text", None),
        Err(ParseError::Invalid(_))
    ));
    // A truncated document keeps what it has, marked degraded.
    let truncated = b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>A";
    let feed = parse(truncated, None).unwrap();
    assert_eq!(feed.items[0].title.as_deref(), Some("A"));
    assert_eq!(
        feed.degraded.as_deref(),
        Some("missing end tag </title> at end of file")
    );
    // Items that are there but hold nothing are an error, never an empty success.
    let hollow =
        b"<rss version=\"2.0\"><channel><item></item><item><guid></guid></item></channel></rss>";
    assert_eq!(
        parse(hollow, None).unwrap_err(),
        ParseError::Invalid("2 items in the document but none has a title, link or text".into())
    );
}

#[test]
fn identity_is_guid_then_link_then_title_and_date() {
    let doc = br#"<rss version="2.0"><channel><title>T &amp; Co</title><link>https://news.example.test/</link>
      <item><guid>tag:1</guid><title>One</title><link>/a/1</link></item>
      <item><title>Two</title><link>/a/2</link><pubDate>Tue, 17 Feb 2026 10:00:00 GMT</pubDate></item>
      <item><title>Three</title><pubDate>Tue, 17 Feb 2026 11:00:00 GMT</pubDate></item>
      <item><description>nothing to identify me</description></item>
    </channel></rss>"#;
    let feed = parse(doc, None).unwrap();
    assert_eq!(feed.title.as_deref(), Some("T & Co"));
    let guids: Vec<_> = feed.items.iter().map(|i| i.guid.clone().unwrap()).collect();
    assert_eq!(
        guids,
        [
            "tag:1",
            "https://news.example.test/a/2",
            "Three 2026-02-17T11:00:00+00:00",
            "content:88fae73d54638dece74fb78b374400d7"
        ]
    );
    assert_eq!(
        feed.items[0].url.as_deref(),
        Some("https://news.example.test/a/1")
    );
    // pubDate is not an update.
    assert!(feed.items[1].published.is_some() && feed.items[1].updated.is_none());
    // Same input, same identities (no random or hashed ids).
    let again: Vec<_> = parse(doc, None)
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.guid.unwrap())
        .collect();
    assert_eq!(again, guids);
}

#[test]
fn duplicates_collapse_and_max_items_caps() {
    let mut doc = String::from("<rss version=\"2.0\"><channel><title>x</title>");
    for i in 0..5 {
        doc.push_str(&format!(
            "<item><guid>g{i}</guid><title>t{i}</title></item>"
        ));
        doc.push_str(&format!(
            "<item><guid>g{i}</guid><title>t{i} again</title></item>"
        ));
    }
    doc.push_str("</channel></rss>");
    let feed = parse(doc.as_bytes(), None).unwrap();
    assert_eq!(feed.items.len(), 5);
    assert_eq!(feed.items[1].title.as_deref(), Some("t1"));
    let capped = parse_feed(doc.as_bytes(), None, &url(), 3).unwrap();
    assert_eq!(capped.items.len(), 3);
}

#[test]
fn undeclared_latin1_uses_http_charset_or_sniffs() {
    let doc = b"<rss version=\"2.0\"><channel><title>Not\xedcias</title><item><guid>1</guid><title>Pol\xedtica e educa\xe7\xe3o em S\xe3o Paulo</title></item></channel></rss>";
    let with_header = parse(doc, Some("application/rss+xml; charset=ISO-8859-1")).unwrap();
    assert_eq!(
        with_header.items[0].title.as_deref(),
        Some("Política e educação em São Paulo")
    );
    let sniffed = parse(doc, None).unwrap();
    assert_eq!(sniffed.title.as_deref(), Some("Notícias"));
    assert_eq!(
        sniffed.items[0].title.as_deref(),
        Some("Política e educação em São Paulo")
    );
}

#[test]
fn wrong_declared_charset_is_recovered() {
    // Latin-1 bytes that claim UTF-8.
    let doc = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>x</title><item><guid>1</guid><title>Caf\xe9 cr\xe8me pour l'\xe9t\xe9 fran\xe7ais</title></item></channel></rss>";
    let feed = parse(doc, None).unwrap();
    assert_eq!(
        feed.items[0].title.as_deref(),
        Some("Café crème pour l'été français")
    );
    // UTF-8 bytes that claim windows-1251 must not become mojibake.
    let doc = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>x</title><item><guid>1</guid><title>Новости</title></item></channel></rss>";
    let feed = parse(doc.as_bytes(), None).unwrap();
    assert_eq!(feed.items[0].title.as_deref(), Some("Новости"));
}

#[test]
fn xml_base_and_ttl_and_language() {
    let doc = br#"<rss version="2.0" xml:base="https://other.example.test/base/"><channel><title>x</title>
      <language>pt-BR</language><ttl>45</ttl>
      <item><guid>1</guid><title>a</title><link>story/7</link><description>&lt;a href="img/1"&gt;x&lt;/a&gt;</description></item>
    </channel></rss>"#;
    let feed = parse(doc, None).unwrap();
    assert_eq!(feed.ttl, Some(Duration::from_secs(45 * 60)));
    assert_eq!(feed.language.as_deref(), Some("pt-br"));
    let item = &feed.items[0];
    assert_eq!(
        item.url.as_deref(),
        Some("https://other.example.test/base/story/7")
    );
    assert_eq!(
        item.base_url.as_ref().map(Url::as_str),
        Some("https://other.example.test/base/")
    );
    assert_eq!(item.lang.as_deref(), Some("pt-br"));
}

#[test]
fn json_feed_and_author_quirk() {
    let doc = br#"{"version":"https://jsonfeed.org/version/1.1","title":"J","home_page_url":"https://j.example.test/",
      "items":[{"id":"j1","url":"https://j.example.test/p/1","title":"P1","content_html":"<p>Hi&nbsp;there</p>"}]}"#;
    let feed = parse(doc, Some("application/feed+json")).unwrap();
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].guid.as_deref(), Some("j1"));
    assert_eq!(
        feed.site_url.as_ref().map(Url::as_str),
        Some("https://j.example.test/")
    );
    let article = crate::normalize::normalize(feed.items[0].clone()).unwrap();
    assert_eq!(article.body_text, "Hi\u{a0}there".replace('\u{a0}', " "));

    let doc = br#"<rss version="2.0"><channel><title>x</title><item><guid>1</guid><title>a</title>
      <author>desk@example.test (Jane Roe)</author></item></channel></rss>"#;
    assert_eq!(
        parse(doc, None).unwrap().items[0].author.as_deref(),
        Some("Jane Roe")
    );
}

#[test]
fn bom_and_unknown_declared_encoding() {
    let doc = b"\xEF\xBB\xBF<?xml version=\"1.0\"?><rss><channel><title>x</title><item><guid>1</guid><title>B\xc3\xb6rse</title></item></channel></rss>";
    assert_eq!(
        parse(doc, None).unwrap().items[0].title.as_deref(),
        Some("Börse")
    );
    let doc = b"<?xml version=\"1.0\" encoding=\"x-no-such-charset\"?><rss version=\"2.0\"><channel><title>x</title><item><guid>1</guid><title>B\xc3\xb6rse</title></item></channel></rss>";
    assert_eq!(
        parse(doc, None).unwrap().items[0].title.as_deref(),
        Some("Börse")
    );
    let html = b"\xEF\xBB\xBF<html><body>hi</body></html>";
    assert_eq!(
        parse(html, None).unwrap_err(),
        ParseError::NotAFeed("an HTML page".into())
    );
}

#[test]
fn atom_without_namespace_multipart_content_and_deep_nesting() {
    let doc = br#"<!-- a comment first --><feed><entry><title>Plain feed</title><link href="http://a.example.test/1"/>
      <updated>2004-01-01T19:48:21Z</updated><summary>S</summary></entry></feed>"#;
    let item = &parse(doc, None).unwrap().items[0];
    assert_eq!(item.url.as_deref(), Some("http://a.example.test/1"));
    assert!(item.updated.is_some() && item.summary.as_deref() == Some("S"));

    let doc = br#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>M</title>
      <content type="multipart/alternative"><content type="text/plain">plain</content>
      <content type="text/html">&lt;b&gt;rich&lt;/b&gt;</content></content></entry></feed>"#;
    let item = &parse(doc, None).unwrap().items[0];
    assert_eq!(item.content_html.as_deref(), Some("<b>rich</b>"));

    // Nesting far past any real feed neither overflows the stack nor loses the item.
    let deep = format!(
        "<rss><channel><item><title>Deep</title><description>{}x{}</description></item></channel></rss>",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let feed = parse(deep.as_bytes(), None).unwrap();
    assert_eq!(feed.items[0].title.as_deref(), Some("Deep"));
    assert!(feed.degraded.unwrap().contains("nested deeper than 256"));
}

#[test]
fn xml_base_on_the_entry_and_on_the_link_itself() {
    let doc = br#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://a.example.test/feed/">
      <entry xml:base="entries/"><id>1</id><title>A</title><link href="one"/></entry>
      <entry><id>2</id><title>B</title><link xml:base="http://b.example.test/dir/" href="two"/></entry>
    </feed>"#;
    let urls: Vec<_> = parse(doc, None)
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.url.unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "http://a.example.test/feed/entries/one",
            "http://b.example.test/dir/two"
        ]
    );
}

#[test]
fn cdf_channel_items() {
    let doc = br#"<?xml version="1.0"?><CHANNEL HREF="http://cdf.example.test/"><TITLE>CDF</TITLE>
      <ITEM HREF="http://cdf.example.test/1" LASTMOD="2004-01-01T12:00"><TITLE>First CDF item</TITLE>
      <ABSTRACT>What it is about.</ABSTRACT></ITEM></CHANNEL>"#;
    let feed = parse(doc, None).unwrap();
    let item = &feed.items[0];
    assert_eq!(item.url.as_deref(), Some("http://cdf.example.test/1"));
    assert_eq!(item.title.as_deref(), Some("First CDF item"));
    assert_eq!(item.summary.as_deref(), Some("What it is about."));
}

#[test]
fn rss_titles_are_html_only_when_they_look_like_it() {
    let doc = br#"<rss version="2.0"><channel><title>x</title>
      <item><guid>1</guid><title>History of the &lt;blink&gt; tag</title></item>
      <item><guid>2</guid><title>Bold &lt;b&gt;claims&lt;/b&gt;</title></item>
      <item><guid>3</guid><title>Q&amp;A: 3 &lt; 4</title></item>
    </channel></rss>"#;
    let titles: Vec<String> = parse(doc, None)
        .unwrap()
        .items
        .into_iter()
        .map(|i| crate::normalize::normalize(i).unwrap().title)
        .collect();
    assert_eq!(
        titles,
        ["History of the <blink> tag", "Bold claims", "Q&A: 3 < 4"]
    );
}

#[test]
fn binary_atom_content_is_not_text() {
    // A PNG signature in base64: bytes that are not UTF-8 text.
    let doc = br#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>Picture</title>
      <content type="image/png">iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk</content></entry></feed>"#;
    let item = &parse(doc, None).unwrap().items[0];
    assert_eq!((&item.content_html, &item.content_text), (&None, &None));
}

/// Found by `fuzz/run feed`: a second XML declaration naming another encoding, after a
/// windows-1251 one, made quick-xml panic inside feed-rs. The lenient reader takes the first
/// declaration and reads on.
#[test]
fn a_second_xml_declaration_is_an_error_not_a_panic() {
    let mut doc = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>\xcd\xee</title>".to_vec();
    doc.extend_from_slice(&[b' '; 3000]);
    doc.extend_from_slice(
        b"<item><title>A</title><?xml version=\"1.0\" encoding=\"UTF-8\"?></item></channel></rss>",
    );
    match parse(&doc, None) {
        Ok(feed) => assert!(feed.items.len() <= 1),
        Err(e) => assert!(matches!(e, ParseError::Invalid(_)), "{e:?}"),
    }
}
