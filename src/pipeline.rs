//! The per-article path shared by feeds, local files and the spool: normalize, then tag.
//! Pure CPU work with no I/O, so callers run it wherever suits them (a blocking thread in
//! the daemon, the main thread in the CLI) and hand the result to the store writer.

use crate::model::RawArticle;
use crate::normalize::{normalize, NormalizeError};
use crate::store::write::NewItem;

/// What the pipeline needs to turn a raw article into a storable one. Cheap to clone and
/// shared by every worker; a config reload swaps in a new one.
#[derive(Clone, Default)]
pub struct Tagger {}

impl Tagger {
    /// Build from the config (loads the taxonomy files it names).
    pub fn load(_config: &crate::config::Config) -> anyhow::Result<Tagger> {
        Ok(Tagger {})
    }

    /// Normalize and tag one raw article.
    pub fn prepare(&self, raw: RawArticle, guid: String) -> Result<NewItem, NormalizeError> {
        let article = normalize(raw)?;
        let fingerprint = Some(crate::dedupe::fingerprint(&article));
        Ok(NewItem {
            article,
            guid,
            tags: None,
            fingerprint,
        })
    }
}
