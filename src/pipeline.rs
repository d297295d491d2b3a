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
    /// IPTC codes of the topics by slug, for the `tags` table (only topics have codes).
    codes: Arc<HashMap<String, String>>,
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
            .filter(|d| d.kind == TagKind::Topic)
            .filter_map(|d| Some((d.slug, d.code?)))
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
            evidence: crate::tag::evidence_json(&t.evidence),
            tags: t
                .tags
                .into_iter()
                .map(|h| TagRow {
                    kind: h.kind.as_str().to_string(),
                    code: match h.kind {
                        TagKind::Topic => self.codes.get(h.slug.as_str()).cloned(),
                        _ => None,
                    },
                    slug: h.slug,
                    label: h.label,
                    score: h.score,
                    evidence: crate::tag::evidence_json(&h.evidence),
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
