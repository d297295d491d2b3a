//! Normalization (SPEC section 4): one function, `normalize`, turns whatever a source gave us
//! into an `Article` with clean text, a canonical URL and UTC times. Feeds and local files share
//! it, so an item looks the same in the store whichever way it arrived.

use crate::model::{Article, RawArticle};
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

/// How much of the body language detection reads.
const LANG_SAMPLE_BYTES: usize = 600;
/// Longest derived title; longer first sentences are cut at a word boundary.
const DERIVED_TITLE_MAX_CHARS: usize = 160;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NormalizeError {
    #[error("no text: the item has neither a title nor a body")]
    Empty,
}

/// Normalize one raw article. Fails only when there is nothing to store at all.
pub fn normalize(raw: RawArticle) -> Result<Article, NormalizeError> {
    let base = raw.base_url.as_ref();
    let (url, canonical_url) = match raw.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => match absolute_url(u, base) {
            Some(abs) => {
                let canon = canonical_url(&abs);
                (Some(abs.to_string()), Some(canon))
            }
            None => (None, None),
        },
        None => (None, None),
    };

    let summary_text = raw
        .summary
        .as_deref()
        .map(markup_to_text)
        .filter(|s| !s.is_empty());
    let body_html = raw
        .content_html
        .as_deref()
        .filter(|h| !h.trim().is_empty())
        .map(|h| sanitize_html(h, base));
    let mut body_text = match (&raw.content_text, &raw.content_html) {
        (Some(t), _) if !t.trim().is_empty() => plain_text(t),
        (_, Some(h)) if !h.trim().is_empty() => html_to_text(h),
        _ => String::new(),
    };
    // A feed item with only a description: the description is the body. Keep `summary` only
    // when it says something the body does not start with.
    let summary = match summary_text {
        Some(s) if body_text.is_empty() => {
            body_text = s;
            None
        }
        Some(s) if body_text.starts_with(s.trim_end_matches(['…', '.'])) => None,
        other => other,
    };

    let title = raw
        .title
        .as_deref()
        .map(markup_to_text)
        .map(|t| collapse_spaces(&t));
    let (title, title_derived) = match title.filter(|t| !t.is_empty()) {
        Some(t) => (t, false),
        // A feed item with only a link is still an item (RSS 2.0): its link stands for a title.
        None => match derive_title(&body_text).or_else(|| url.clone()) {
            Some(t) => (t, true),
            None => return Err(NormalizeError::Empty),
        },
    };

    let lang = raw
        .lang
        .as_deref()
        .and_then(declared_lang)
        .or_else(|| detect_lang(&title, &body_text));
    let content_hash = content_hash(&title, &body_text);
    let author = raw
        .author
        .as_deref()
        .map(clean_author)
        .filter(|a| !a.is_empty());

    Ok(Article {
        guid: raw
            .guid
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty()),
        url,
        canonical_url,
        title,
        title_derived,
        author,
        published_at: raw.published.or(raw.updated),
        updated_at: raw.updated,
        summary,
        body_text,
        body_html,
        lang,
        content_hash,
    })
}

/// Resolve `href` against `base`; only http(s) links are kept, anything else (javascript:,
/// mailto:, data:) is not a link to an article.
pub fn absolute_url(href: &str, base: Option<&Url>) -> Option<Url> {
    let parsed = match Url::parse(href) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(href).ok()?,
        Err(_) => return None,
    };
    matches!(parsed.scheme(), "http" | "https").then_some(parsed)
}

/// Query parameters that only say how a reader arrived, never which article it is.
fn is_tracking_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_")
        || n.starts_with("at_")
        || n.starts_with("ns_")
        || matches!(
            n.as_str(),
            "fbclid"
                | "gclid"
                | "gclsrc"
                | "dclid"
                | "msclkid"
                | "yclid"
                | "igshid"
                | "mc_cid"
                | "mc_eid"
                | "_ga"
                | "_gl"
                | "maca"
                | "traffic_source"
                | "ocid"
                | "cmpid"
                | "smid"
                | "smtyp"
        )
}

/// The identity form of a URL: the `url` crate already lower-cases scheme and host and drops
/// default ports; we drop the fragment and tracking parameters and keep the rest in order.
pub fn canonical_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !is_tracking_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        u.set_query(None);
    } else if kept.len() != u.query_pairs().count() {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    u.to_string()
}

/// Lines that syndication adds around an article and that say nothing about it. They stay in
/// the stored body (the user may want to see them) but never count for identity.
pub fn is_boilerplate_line(line: &str) -> bool {
    let l = line.trim().trim_end_matches([':', '.', '…', '»', '>', ' ']);
    if l.is_empty() {
        return true;
    }
    // Called on every line of every article: most lines are prose, longer than any phrase
    // below and not starting like the two patterns, so they are settled without lower-casing.
    let starts_with = |p: &str| l.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    if l.len() > 40 && !starts_with("the post ") && !starts_with("this article originally") {
        return false;
    }
    let l = l.to_lowercase();
    const EXACT: &[&str] = &[
        "read more",
        "read more here",
        "continue reading",
        "advertisement",
        "related",
        "related articles",
        "related stories",
        "share this article",
        "share",
        "click here",
        "see also",
        "also read",
        "watch",
        "video",
        "story continues below advertisement",
    ];
    EXACT.contains(&l.as_str())
        || l.starts_with("the post ") && l.contains(" appeared first on")
        || l.starts_with("this article originally appeared")
}

/// Text that may contain markup or entities (a feed title or description) to plain text.
pub fn markup_to_text(s: &str) -> String {
    if s.contains('<') {
        html_to_text(s)
    } else {
        plain_text(&html_escape::decode_html_entities(s))
    }
}

/// HTML to plain text with paragraph breaks; scripts and styles do not contribute text.
pub fn html_to_text(html: &str) -> String {
    let doc = dom_query::Document::from(html);
    doc.select("script, style, noscript, template").remove();
    let text = doc.root().formatted_text();
    plain_text(&text)
}

/// Plain text to our canonical form: entities decoded by the caller, lines trimmed, runs of
/// spaces collapsed, paragraphs separated by exactly one blank line, invisible characters gone.
pub fn plain_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_break = false;
    for line in s.lines() {
        // Each line is collapsed straight into `out`: a String per line was a tenth of
        // turning an item's HTML into text. The separator goes first and is taken back if
        // the line turns out to hold no word.
        let mark = out.len();
        if !out.is_empty() {
            out.push_str(if pending_break { "\n\n" } else { "\n" });
        }
        let words = out.len();
        collapse_spaces_into(line, &mut out);
        if out.len() == words {
            out.truncate(mark);
            pending_break = !out.is_empty();
            continue;
        }
        pending_break = false;
    }
    out
}

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    collapse_spaces_into(s, &mut out);
    out
}

/// Appends the words of `s` to `out`, one space between them.
fn collapse_spaces_into(s: &str, out: &mut String) {
    let start = out.len();
    let mut push = |word: &str| {
        if !word.is_empty() {
            if out.len() > start {
                out.push(' ');
            }
            out.push_str(word);
        }
    };
    if s.is_ascii() {
        // The same split on bytes: in ASCII, `char::is_whitespace` is exactly 9..=13 and the
        // space, and invisible characters cannot occur. Splitting by `char` was a tenth of
        // normalizing a feed item. Byte offsets of ASCII are char boundaries, so the words
        // are sliced from `s` without validating them again.
        let mut word = 0;
        for (i, b) in s.bytes().enumerate() {
            if matches!(b, 9..=13 | b' ') {
                push(&s[word..i]);
                word = i + 1;
            }
        }
        push(&s[word..]);
    } else {
        // Invisible characters go, not become spaces: wire copy puts them inside words.
        crate::words::strip_invisible(s)
            .split(char::is_whitespace)
            .for_each(push);
    }
}

/// Sanitised HTML: no scripts, no event handlers, no styles, no tracking pixels; relative
/// links made absolute so the stored HTML renders anywhere.
pub fn sanitize_html(html: &str, base: Option<&Url>) -> String {
    let without_pixels = drop_pixels(html);
    let mut b = ammonia::Builder::default();
    b.link_rel(Some("noopener noreferrer nofollow"));
    if let Some(base) = base {
        b.url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()));
    }
    b.clean(without_pixels.as_deref().unwrap_or(html))
        .to_string()
}

/// The HTML without its tracking pixels, or None when it has none. They go before ammonia
/// runs: it drops `style`, which would leave a pixel sized by style as a plain `<img>`.
fn drop_pixels(html: &str) -> Option<String> {
    if !html
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"<img"))
    {
        return None;
    }
    let doc = dom_query::Document::from(html);
    let mut removed = false;
    for img in doc.select("img").nodes() {
        let attr = |name: &str| img.attr(name).map(|v| v.to_string());
        if is_pixel(
            attr("width").as_deref(),
            attr("height").as_deref(),
            attr("style").as_deref(),
        ) {
            img.remove_from_parent();
            removed = true;
        }
    }
    removed.then(|| doc.select("body").inner_html().to_string())
}

/// An image no reader can see: at most one pixel wide or high, by attribute or by style, or
/// hidden by style. Only trackers are made that way.
fn is_pixel(width: Option<&str>, height: Option<&str>, style: Option<&str>) -> bool {
    if width.is_some_and(tiny) || height.is_some_and(tiny) {
        return true;
    }
    let Some(style) = style else {
        return false;
    };
    style.split(';').any(|decl| {
        let Some((prop, value)) = decl.split_once(':') else {
            return false;
        };
        let value = value.trim().to_ascii_lowercase();
        let value = value.trim_end_matches("!important").trim();
        match prop.trim().to_ascii_lowercase().as_str() {
            "width" | "height" | "max-width" | "max-height" => tiny(value),
            "display" => value == "none",
            "visibility" => value == "hidden",
            "opacity" => value.parse::<f32>().is_ok_and(|o| o <= 0.0),
            _ => false,
        }
    })
}

/// A length of at most one pixel: `1`, `0`, `1px`, `0.5px`, `1.0`.
fn tiny(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    let v = v.strip_suffix("px").unwrap_or(&v).trim();
    v.parse::<f32>().is_ok_and(|n| (0.0..=1.0).contains(&n))
}

/// The first sentence of the body, as a title for sources with no headline.
pub fn derive_title(body: &str) -> Option<String> {
    let first_para = body.split("\n\n").map(str::trim).find(|p| !p.is_empty())?;
    let first_line = first_para.lines().next()?.trim();
    let sentence = first_line
        .unicode_sentences()
        .next()
        .unwrap_or(first_line)
        .trim();
    if sentence.chars().count() <= DERIVED_TITLE_MAX_CHARS {
        return Some(sentence.to_string());
    }
    let mut cut = String::new();
    for word in sentence.split_whitespace() {
        if cut.chars().count() + word.chars().count() + 1 > DERIVED_TITLE_MAX_CHARS {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    let cut = cut.trim_end_matches([',', ';', ':', ' ']);
    Some(format!("{cut}…"))
}

fn declared_lang(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    (primary.len() >= 2 && primary.len() <= 3 && primary.chars().all(|c| c.is_ascii_alphabetic()))
        .then_some(primary)
}

/// Detected language of the text; only a reliable guess is recorded.
pub fn detect_lang(title: &str, body: &str) -> Option<String> {
    if looks_english(title, body) {
        return Some("en".into());
    }
    // Trigram detection costs time in proportion to the text; the first ~100 words decide the
    // language as reliably as the whole article (and this was a fifth of ingest time).
    let sample: String = if body.len() > LANG_SAMPLE_BYTES {
        let mut end = LANG_SAMPLE_BYTES;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        format!("{title}\n{}", &body[..end])
    } else {
        format!("{title}\n{body}")
    };
    let info = whatlang::detect(&sample)?;
    // Short texts (a headline and a line) often get a confident-looking wrong guess; an
    // unknown language is better than a wrong one, which would also keep dedupe from grouping
    // copies of one story.
    if !info.is_reliable() {
        return None;
    }
    Some(iso639_1(info.lang()).to_string())
}

/// English prose settles without trigram scoring: about one word in six is one of these
/// function words, which other languages written in Latin script almost never use. Trigram
/// detection cost ~200 us per article (the largest cost of an ingest); this costs ~1 us, and
/// anything it does not settle still goes to whatlang.
fn looks_english(title: &str, body: &str) -> bool {
    const SAMPLE_WORDS: usize = 120;
    const MIN_WORDS: usize = 20;
    let (mut words, mut hits) = (0usize, 0usize);
    let text = title.split_whitespace().chain(body.split_whitespace());
    for w in text.take(SAMPLE_WORDS) {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        if w.is_empty() {
            continue;
        }
        words += 1;
        if FUNCTION_WORDS.iter().any(|f| f.eq_ignore_ascii_case(w)) {
            hits += 1;
        }
    }
    words >= MIN_WORDS && hits * 100 >= words * 8
}

const FUNCTION_WORDS: [&str; 9] = [
    "the", "and", "of", "that", "with", "which", "from", "were", "would",
];

/// whatlang speaks ISO 639-3; users and feeds speak ISO 639-1 where one exists.
fn iso639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match lang {
        Eng => "en",
        Fra => "fr",
        Deu => "de",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Nld => "nl",
        Rus => "ru",
        Ukr => "uk",
        Pol => "pl",
        Ces => "cs",
        Tur => "tr",
        Ara => "ar",
        Heb => "he",
        Pes => "fa",
        Urd => "ur",
        Hin => "hi",
        Ben => "bn",
        Cmn => "zh",
        Jpn => "ja",
        Kor => "ko",
        Vie => "vi",
        Ind => "id",
        Tha => "th",
        Swe => "sv",
        Dan => "da",
        Nob => "nb",
        Fin => "fi",
        Ell => "el",
        Hun => "hu",
        Ron => "ro",
        Bul => "bg",
        Srp => "sr",
        Hrv => "hr",
        Slk => "sk",
        Slv => "sl",
        Lit => "lt",
        Lav => "lv",
        Est => "et",
        Cat => "ca",
        Afr => "af",
        other => other.code(),
    }
}

/// Hash of what makes the text this text: words only, case folded, boilerplate lines out, so
/// re-encoded or re-wrapped copies of one article hash alike.
pub fn content_hash(title: &str, body: &str) -> String {
    let source = if body.is_empty() { title } else { body };
    // The words are gathered and hashed in one call: BLAKE3 hashes the same bytes to the same
    // value however they are split, and two small updates per word cost more than the words.
    let mut words = Vec::with_capacity(source.len());
    let mut scratch = String::new();
    for line in source.lines().filter(|l| !is_boilerplate_line(l)) {
        crate::words::lowercase_words(line, &mut scratch, |word| {
            words.extend_from_slice(word.as_bytes());
            words.push(b' ');
        });
    }
    blake3::hash(&words).to_hex().to_string()
}

/// feed-rs turns `<author>mail (Name)</author>` into "(Name)"; strip such wrapping.
fn clean_author(a: &str) -> String {
    let a = collapse_spaces(&markup_to_text(a));
    let a = a.trim();
    let a = a
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(a);
    let a = a
        .strip_prefix("By ")
        .or_else(|| a.strip_prefix("by "))
        .unwrap_or(a);
    a.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(u: &str) -> String {
        canonical_url(&Url::parse(u).unwrap())
    }

    #[test]
    fn canonical_url_drops_tracking_fragment_and_default_port() {
        assert_eq!(
            canon("HTTPS://WWW.Example.COM:443/a/B?utm_source=x&id=7&fbclid=z&at_medium=rss#top"),
            "https://www.example.com/a/B?id=7"
        );
        assert_eq!(
            canon("http://example.com/x?utm_campaign=a"),
            "http://example.com/x"
        );
        assert_eq!(
            canon("http://example.com/x?b=2&a=1"),
            "http://example.com/x?b=2&a=1"
        );
    }

    #[test]
    fn relative_links_resolve_and_non_http_is_dropped() {
        let base = Url::parse("https://example.org/feeds/world.xml").unwrap();
        assert_eq!(
            absolute_url("../news/1.html", Some(&base))
                .unwrap()
                .as_str(),
            "https://example.org/news/1.html"
        );
        assert!(absolute_url("javascript:alert(1)", Some(&base)).is_none());
        assert!(absolute_url("/x", None).is_none());
    }

    #[test]
    fn html_to_text_keeps_paragraphs_and_drops_scripts() {
        let t = html_to_text("<p>One &amp; two.</p><script>evil()</script><p>Three&nbsp;four</p>");
        assert_eq!(t, "One & two.\n\nThree four");
    }

    #[test]
    fn sanitize_removes_script_handlers_and_pixels() {
        let h = sanitize_html(
            r#"<p onclick="x()">Hi<script>bad()</script></p><img src="https://t.example/p.gif" width="1" height="1"><a href="/a">a</a>"#,
            Some(&Url::parse("https://example.org/").unwrap()),
        );
        assert!(!h.contains("script") && !h.contains("onclick"), "{h}");
        assert!(!h.contains("p.gif"), "{h}");
        assert!(h.contains("https://example.org/a"), "{h}");
    }

    #[test]
    fn pixels_sized_by_style_or_attribute_are_dropped_and_pictures_kept() {
        for pixel in [
            r#"<img style="width:1px;height:1px" src="https://t.example/p.gif">"#,
            r#"<IMG SRC="https://t.example/p.gif" WIDTH="1" HEIGHT="1">"#,
            r#"<img src="https://t.example/p.gif" width="0">"#,
            r#"<img src="https://t.example/p.gif" height="1.0px">"#,
            r#"<img src="https://t.example/p.gif" style="WIDTH: 0 !important">"#,
            r#"<img src="https://t.example/p.gif" style="max-height:1px">"#,
            r#"<img src="https://t.example/p.gif" style="display:none">"#,
            r#"<img src="https://t.example/p.gif" style="border:0; visibility: hidden">"#,
        ] {
            let h = sanitize_html(&format!("<p>Text</p>{pixel}"), None);
            assert!(!h.contains("p.gif") && h.contains("Text"), "{pixel} -> {h}");
        }
        for picture in [
            r#"<img src="https://t.example/photo.jpg" width="640" height="360">"#,
            r#"<img src="https://t.example/photo.jpg" style="width:100%">"#,
            r#"<img src="https://t.example/photo.jpg" style="width: 12px; height: 10px">"#,
        ] {
            let h = sanitize_html(picture, None);
            assert!(h.contains("photo.jpg"), "{picture} -> {h}");
        }
    }

    #[test]
    fn derived_title_is_first_sentence() {
        let body = "The heads of US State said things. Then more.\nSecond line.";
        assert_eq!(
            derive_title(body).unwrap(),
            "The heads of US State said things."
        );
        let long = "word ".repeat(80);
        let t = derive_title(&long).unwrap();
        assert!(t.ends_with('…') && t.chars().count() <= DERIVED_TITLE_MAX_CHARS + 1);
    }

    #[test]
    fn the_content_hash_is_the_one_stored_before() {
        // Stored hashes identify articles across releases: pin one.
        // Values computed by the previous implementation (one hasher update per word).
        assert_eq!(
            content_hash(
                "t",
                "Ministers met in Geneva.\n\nRead more:\n\nThe talks go on."
            ),
            "c5b6ecffbba4bef06f22614d33196fe64566377eed37bca1aa146f227e8a9f67"
        );
        assert_eq!(
            content_hash("Title only", ""),
            "a5e5608ce820e12b704c366ed8e6ef28a4bef27b07f6f055d974e71808eb0af6"
        );
        assert_eq!(
            content_hash(
                "t",
                "Ünïcode wörds, and ASCII ones: don't split it's 3.5 x_y."
            ),
            "480b48309bb074f10c2ca2f7d94ac919a48a764758f21380f49b6da92c947879"
        );
    }

    #[test]
    fn ascii_spaces_collapse_as_unicode_whitespace_does() {
        let reference = |s: &str| {
            s.split(char::is_whitespace)
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        for s in ["", "  a  b ", "a\tb\x0bc\x0cd\re\nf", "x\u{1}y  z", " lone"] {
            assert_eq!(collapse_spaces(s), reference(s), "{s:?}");
        }
    }

    #[test]
    fn plain_text_keeps_one_blank_line_between_paragraphs_whatever_the_spacing() {
        // The line-by-line form plain_text had before it collapsed into one buffer.
        let reference = |s: &str| {
            let mut out = String::new();
            let mut pending_break = false;
            for line in s.lines() {
                let line = collapse_spaces(line);
                if line.is_empty() {
                    pending_break = !out.is_empty();
                    continue;
                }
                if !out.is_empty() {
                    out.push_str(if pending_break { "\n\n" } else { "\n" });
                }
                out.push_str(&line);
                pending_break = false;
            }
            out
        };
        for s in [
            "",
            "\n\n  \n",
            "one",
            "  one  two \n three\n\n\n  four\t five  \n \n",
            "\n\nlead\r\n\r\nafter\u{200b}word \u{a0}x\n\u{200b}\nend",
            "a\n \nb\nc",
        ] {
            assert_eq!(plain_text(s), reference(s), "{s:?}");
        }
    }

    #[test]
    fn invisible_characters_change_neither_text_nor_hash_nor_fingerprint() {
        let article = |title: &str, body: &str| {
            normalize(RawArticle {
                title: Some(title.into()),
                content_text: Some(body.into()),
                ..Default::default()
            })
            .unwrap()
        };
        let plain = article(
            "Hezbollah rejects disarmament plan",
            "The Palestinian Authority said on Tuesday it would grant the army four months.",
        );
        let marked = article(
            "Hez\u{200b}bollah rejects dis\u{ad}armament plan\u{feff}",
            "The Palest\u{ad}inian Author\u{200c}ity said on \u{200d}Tuesday it would \u{2060}grant the army \u{200c}four months.",
        );
        assert_eq!(marked.title, plain.title);
        assert_eq!(marked.body_text, plain.body_text);
        assert_eq!(marked.content_hash, plain.content_hash);
        // Stored text from before this rule (marks still in it) hashes and fingerprints alike.
        assert_eq!(
            content_hash("t", "Palest\u{ad}inian Author\u{200b}ity"),
            content_hash("t", "Palestinian Authority")
        );
        let mut stored = plain.clone();
        stored.title = "Hez\u{200b}bollah rejects dis\u{ad}armament plan".into();
        stored.body_text = "The Palest\u{ad}inian Author\u{200c}ity said on Tuesday it would grant the army four months.".into();
        assert_eq!(
            crate::dedupe::fingerprint(&stored),
            crate::dedupe::fingerprint(&plain)
        );
    }

    #[test]
    fn boilerplate_does_not_change_the_hash() {
        let a = content_hash("t", "Para one.\n\nRead more:\n\nPara two.");
        let b = content_hash("t", "para ONE.\nPara   two.");
        assert_eq!(a, b);
    }

    #[test]
    fn normalize_uses_description_as_body_and_detects_language() {
        let raw = RawArticle {
            title: Some("A &amp; B".into()),
            summary: Some(
                "<p>Ministers from both countries met in Geneva on Monday to discuss the ceasefire \
                 proposal, and they agreed that the talks would continue later this week.</p>"
                    .into(),
            ),
            url: Some("/n/1?utm_source=rss".into()),
            base_url: Some(Url::parse("https://news.example/feed").unwrap()),
            ..Default::default()
        };
        let a = normalize(raw).unwrap();
        assert_eq!(a.title, "A & B");
        assert_eq!(
            a.body_text,
            "Ministers from both countries met in Geneva on Monday to discuss the ceasefire \
             proposal, and they agreed that the talks would continue later this week."
        );
        assert_eq!(a.summary, None);
        assert_eq!(a.canonical_url.as_deref(), Some("https://news.example/n/1"));
        assert_eq!(a.lang.as_deref(), Some("en"));
        // A headline alone is too short to tell: no guess rather than a wrong one.
        assert_eq!(detect_lang("Talks resume", "Envoys meet."), None);
    }

    #[test]
    fn the_english_shortcut_agrees_with_whatlang_on_the_corpus() {
        let mut texts: Vec<(String, String)> = Vec::new();
        for name in ["feed-items.jsonl", "articles.jsonl"] {
            let data = crate::test_corpus::articles_file(name);
            for line in data.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
                texts.push((field("title"), field("text")));
            }
        }
        // Non-English prose must never take the shortcut.
        texts.push((
            "Les ministres se réunissent à Genève".into(),
            "Les ministres des affaires étrangères des deux pays se sont réunis lundi à Genève \
             pour discuter du cessez-le-feu, et ils ont convenu que les pourparlers reprendraient \
             plus tard dans la semaine avec les médiateurs."
                .into(),
        ));
        texts.push((
            "De ministers komen bijeen".into(),
            "De ministers van buitenlandse zaken van beide landen kwamen maandag in Genève \
             bijeen om het staakt-het-vuren te bespreken, of de gesprekken later deze week \
             zouden worden hervat was nog niet duidelijk voor de bemiddelaars."
                .into(),
        ));
        let (mut shortcut, mut disagree) = (0, Vec::new());
        for (title, body) in &texts {
            if !looks_english(title, body) {
                continue;
            }
            shortcut += 1;
            let sample = format!("{title}\n{body}");
            if let Some(info) = whatlang::detect(&sample).filter(|i| i.is_reliable()) {
                if info.lang() != whatlang::Lang::Eng {
                    disagree.push(title.clone());
                }
            }
        }
        assert!(
            shortcut > 1000,
            "the shortcut settles most English items: {shortcut}"
        );
        // Where they differ, whatlang is the one that is wrong: the three items it calls
        // something else are English ("Essential India Newsletter: What Britain can learn from
        // Aadhaar", a Backstreet Boys review, a Giuliani story), checked by hand.
        assert!(disagree.len() <= 3, "{disagree:?}");
        assert!(!looks_english(
            &texts[texts.len() - 1].0,
            &texts[texts.len() - 1].1
        ));
        assert!(!looks_english(
            &texts[texts.len() - 2].0,
            &texts[texts.len() - 2].1
        ));
    }

    #[test]
    fn nothing_to_store_is_an_error() {
        assert_eq!(normalize(RawArticle::default()), Err(NormalizeError::Empty));
    }

    #[test]
    fn author_wrapping_is_removed() {
        assert_eq!(clean_author("(Jane Doe)"), "Jane Doe");
        assert_eq!(clean_author("By John Roe"), "John Roe");
    }
}
