//! Full text for feeds that carry only summaries (per feed, opt-in with `full_text = true`):
//! the article page of each item not stored yet is fetched with the same client, limits and
//! politeness as feeds, and readability extracts its main text. The feed's own text is kept as
//! the summary. A page that fails leaves the item as the feed gave it.

use crate::fetch::{FetchRequest, Fetcher};
use crate::model::RawArticle;
use crate::normalize::{absolute_url, canonical_url};
use crate::store::handle::StoreWriter;

/// Which of these canonical URLs the store does not have yet.
async fn unknown_urls(writer: &StoreWriter, urls: Vec<String>) -> Vec<bool> {
    // Without an answer, fetch nothing: the feed's text is stored and nothing is lost.
    writer.unknown_urls(urls).await.unwrap_or_default()
}

/// Replace the text of new items with their pages' main text. Returns how many were enriched.
pub async fn enrich(fetcher: &Fetcher, writer: &StoreWriter, items: &mut [RawArticle]) -> usize {
    let links: Vec<Option<url::Url>> = items
        .iter()
        .map(|i| {
            i.url
                .as_deref()
                .and_then(|u| absolute_url(u, i.base_url.as_ref()))
        })
        .collect();
    let canon: Vec<String> = links
        .iter()
        .map(|l| l.as_ref().map(canonical_url).unwrap_or_default())
        .collect();
    let unknown = unknown_urls(writer, canon).await;
    let mut pages = tokio::task::JoinSet::new();
    for (i, link) in links.into_iter().enumerate() {
        let (Some(link), Some(true)) = (link, unknown.get(i).copied()) else {
            continue;
        };
        let fetcher = fetcher.clone();
        pages.spawn(async move {
            let req = FetchRequest {
                url: link.clone(),
                etag: None,
                last_modified: None,
            };
            let page = fetcher.fetch(&req).await.map_err(|e| e.to_string())?;
            let html = String::from_utf8_lossy(&page.body).into_owned();
            let extracted = tokio::task::spawn_blocking(move || crate::ingest::parse_html(&html))
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((i, link, extracted))
        });
    }
    let mut enriched = 0;
    while let Some(done) = pages.join_next().await {
        match done {
            Ok(Ok((i, _, page)))
                if page
                    .content_text
                    .as_deref()
                    .is_some_and(|t| t.split_whitespace().count() > 30) =>
            {
                let item = &mut items[i];
                let feed_text = item
                    .content_html
                    .take()
                    .or(item.content_text.take())
                    .or(item.summary.take());
                item.summary = feed_text;
                item.content_text = page.content_text;
                item.content_html = page.content_html;
                if item.author.is_none() {
                    item.author = page.author;
                }
                enriched += 1;
            }
            Ok(Ok((_, link, _))) => {
                tracing::debug!(page = %link, "article page has no main text; keeping the feed's text")
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "article page not fetched; keeping the feed's text")
            }
            Err(e) => tracing::warn!(error = %e, "full-text task failed"),
        }
    }
    enriched
}
