//! The per-article path shared by feeds, local files and the spool: normalize, fingerprint
//! (for near-duplicate detection), tag. Pure CPU work with no I/O, so callers run it wherever
//! suits them (a blocking thread in the daemon, the main thread in the CLI) and hand the
//! result to the store writer.

use crate::model::{Article, RawArticle};
use crate::normalize::{normalize, NormalizeError};
use crate::store::write::{NewItem, TagRow, TagSet};
use crate::tag::{TagKind, Taxonomy, TaxonomyError};
use std::collections::HashMap;
use std::sync::Arc;

/// What the pipeline needs to turn a raw article into a storable one: the taxonomy, built
/// once per load. Cheap to clone and shared by every worker; a config reload swaps in a new one.
#[derive(Clone)]
pub struct Tagger {
    taxonomy: Arc<Taxonomy>,
    /// IPTC codes of the topics, for the `tags` table.
    codes: Arc<HashMap<(TagKind, String), String>>,
}

impl Tagger {
    /// Load the taxonomy files the config names.
    pub fn load(config: &crate::config::Config) -> Result<Tagger, TaxonomyError> {
        let taxonomy = Taxonomy::load_with(
            &config.taxonomy.topics,
            &config.taxonomy.countries,
            config.tag.clone(),
        )?;
        Ok(Tagger::new(taxonomy))
    }

    pub fn new(taxonomy: Taxonomy) -> Tagger {
        let codes = taxonomy
            .tag_defs()
            .into_iter()
            .filter_map(|d| Some(((d.kind, d.slug), d.code?)))
            .collect();
        Tagger {
            taxonomy: Arc::new(taxonomy),
            codes: Arc::new(codes),
        }
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// The tagger's verdict on an article, in the store's terms.
    pub fn tag(&self, article: &Article) -> TagSet {
        let t = crate::tag::tag(&self.taxonomy, article);
        TagSet {
            foreign_policy: t.foreign_policy,
            score: t.score,
            evidence: t.evidence.to_string(),
            tags: t
                .tags
                .into_iter()
                .map(|h| TagRow {
                    kind: h.kind.as_str().to_string(),
                    code: self.codes.get(&(h.kind, h.slug.clone())).cloned(),
                    slug: h.slug,
                    label: h.label,
                    score: h.score,
                    evidence: h.evidence.to_string(),
                })
                .collect(),
        }
    }

    /// Normalize, fingerprint and tag one raw article.
    pub fn prepare(&self, raw: RawArticle, guid: String) -> Result<NewItem, NormalizeError> {
        let article = normalize(raw)?;
        let fingerprint = Some(crate::dedupe::fingerprint(&article));
        let tags = Some(self.tag(&article));
        Ok(NewItem {
            article,
            guid,
            tags,
            fingerprint,
            item_hash: None,
        })
    }
}
