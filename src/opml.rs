//! OPML subscription lists in and out (`newsdesk feed import|export`), through the `opml` crate.

use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not a valid OPML document: {0}")]
    Parse(String),
    #[error("cannot write OPML: {0}")]
    Write(String),
}

/// One subscription of an OPML file.
#[derive(Debug, Clone, PartialEq)]
pub struct OpmlFeed {
    pub url: Url,
    pub title: Option<String>,
    pub site_url: Option<String>,
}

/// Every feed in the document, folders flattened, in document order; outlines whose
/// `xmlUrl` is missing or not an http(s) URL are returned apart so the caller can report them.
pub fn import(xml: &str) -> Result<(Vec<OpmlFeed>, Vec<String>), OpmlError> {
    let doc = opml::OPML::from_str(xml).map_err(|e| OpmlError::Parse(e.to_string()))?;
    let mut feeds = Vec::new();
    let mut skipped = Vec::new();
    let mut stack: Vec<&opml::Outline> = doc.body.outlines.iter().rev().collect();
    while let Some(o) = stack.pop() {
        stack.extend(o.outlines.iter().rev());
        let Some(raw) = o
            .xml_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            continue;
        };
        match Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                if !feeds.iter().any(|f: &OpmlFeed| f.url == url) {
                    let title = o
                        .title
                        .clone()
                        .or_else(|| Some(o.text.clone()))
                        .filter(|t| !t.trim().is_empty());
                    feeds.push(OpmlFeed {
                        url,
                        title,
                        site_url: o.html_url.clone(),
                    });
                }
            }
            _ => skipped.push(raw.to_string()),
        }
    }
    Ok((feeds, skipped))
}

/// An OPML 2.0 document listing `feeds`.
pub fn export(feeds: &[OpmlFeed]) -> Result<String, OpmlError> {
    let mut doc = opml::OPML {
        head: Some(opml::Head {
            title: Some("newsdesk feeds".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    for f in feeds {
        let text = f.title.clone().unwrap_or_else(|| f.url.to_string());
        doc.body.outlines.push(opml::Outline {
            text: text.clone(),
            title: Some(text),
            r#type: Some("rss".into()),
            xml_url: Some(f.url.to_string()),
            html_url: f.site_url.clone(),
            ..Default::default()
        });
    }
    doc.to_string().map_err(|e| OpmlError::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_flattens_folders_and_reports_bad_urls() {
        let xml = r#"<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>
            <outline text="World"><outline text="One" xmlUrl="https://one.example/rss" htmlUrl="https://one.example/"/>
              <outline text="Bad" xmlUrl="ftp://x/y"/></outline>
            <outline text="Two" title="Two!" type="rss" xmlUrl="http://two.example/atom"/>
            <outline text="One again" xmlUrl="https://one.example/rss"/></body></opml>"#;
        let (feeds, skipped) = import(xml).unwrap();
        assert_eq!(feeds.len(), 2);
        assert_eq!(feeds[0].title.as_deref(), Some("One"));
        assert_eq!(feeds[1].title.as_deref(), Some("Two!"));
        assert_eq!(skipped, ["ftp://x/y"]);
        assert!(import("<html>").is_err());
    }

    #[test]
    fn export_round_trips() {
        let feeds = vec![OpmlFeed {
            url: Url::parse("https://one.example/rss").unwrap(),
            title: Some("One & Co".into()),
            site_url: None,
        }];
        let xml = export(&feeds).unwrap();
        assert_eq!(import(&xml).unwrap().0, feeds);
    }
}
