//! Foreign-policy tagging (SPEC section 6, `../shared/corpus/LABELING.md`).
//!
//! `Taxonomy::load` reads the topic taxonomy, the country gazetteer, the flag model and the
//! trained model (`newsdesk train`) once and compiles one multi-pattern matcher; `tag` is then a pure function from an `Article` to a
//! `Tagging`: the `foreign_policy` flag with its probability, and topic, country and organisation
//! tags, each with a score and JSON evidence (matched terms, counts, where) so a user can see why.
//!
//! - [`taxonomy`]: load and validate the TOML files, build the matcher.
//! - [`matcher`]: a trie of every term walked from word starts; case rules, longest match.
//! - [`doc`]: the text read, its zones (headline, lede, subheadings, body).
//! - [`features`]: ambiguity rules, context rules, mention scores, the dense features.
//! - [`text`]: the words and word pairs the trained model reads.
//! - [`model`]: the trained model file: load, check, predict, explain.
//! - [`country`]: which named countries an article is about, learned from mention features.
//! - [`train`]: training it, deterministically, and leave-group-out cross-validation.
//! - [`score`]: the flag, topics, countries and organisations of one article, with evidence.
//! - [`eval`]: precision/recall/F1 against labelled records (`newsdesk eval`).

pub mod country;
mod doc;
pub mod eval;
mod features;
mod matcher;
pub mod model;
mod score;
mod taxonomy;
mod text;
pub mod train;

pub use model::{ModelError, TextModel};
pub use score::{flag_features, raw_scores, tag, tag_with};
pub use taxonomy::{Taxonomy, TaxonomyError};

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The three kinds of tag.
#[derive(Debug, Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagKind {
    Topic,
    Country,
    Org,
}

impl TagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TagKind::Topic => "topic",
            TagKind::Country => "country",
            TagKind::Org => "org",
        }
    }
}

/// A tag that can be assigned (a row of the `tags` table).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagDef {
    pub kind: TagKind,
    /// Topic slug, upper-case ISO 3166-1 alpha-2 code, or the organisation's short name.
    pub slug: String,
    pub label: String,
    /// IPTC Media Topics code (`medtop:...`) for topics that have one.
    pub code: Option<String>,
}

/// One assigned tag with its score and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagHit {
    pub kind: TagKind,
    pub slug: String,
    pub label: String,
    pub score: f64,
    /// `{"mentions": [{"term", "where", "count", ...}], ...}`
    pub evidence: TagEvidence,
}

/// Why a topic, country or organisation was tagged: every matched term, where and how often.
///
/// Typed rather than a `serde_json::Value`: building a map per row was a third of the tag
/// stage on feed items, and its text was only ever written out again. Fields are in
/// alphabetical order so the JSON is byte for byte what the sorted `Value` maps gave (the
/// stored evidence is a public interface).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagEvidence {
    /// The trained model's largest contributions to a topic (none from the topic rules).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Contribution>,
    pub mentions: Vec<MentionRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MentionRow {
    /// How a country was named: name, demonym, capital, leader or place (countries only).
    #[serde(rename = "as", skip_serializing_if = "Option::is_none")]
    pub alias: Option<&'static str>,
    pub count: u32,
    pub term: Arc<str>,
    /// title, lede, subhead or body.
    #[serde(rename = "where")]
    pub zone: &'static str,
}

/// The flag model's verdict: its probability, threshold and bias, and the features that
/// moved it most (fields alphabetical, as for `TagEvidence`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagEvidence {
    pub bias: f64,
    pub contributions: Vec<Contribution>,
    pub probability: f64,
    pub threshold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// The feature's value times its weight.
    pub contribution: f64,
    pub feature: Arc<str>,
    pub value: f64,
}

/// Evidence as the JSON text the store keeps.
pub fn evidence_json(evidence: &impl Serialize) -> String {
    // These types hold only strings, numbers and lists, which always serialize; the fallback
    // keeps the column valid JSON all the same.
    serde_json::to_string(evidence)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

/// The tagger's verdict on one article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tagging {
    pub foreign_policy: bool,
    /// Probability that the article's main subject is relations between states (0..1).
    pub score: f64,
    /// The flag model's largest contributions and the figures behind them.
    pub evidence: FlagEvidence,
    pub tags: Vec<TagHit>,
}

impl Tagging {
    /// Slugs of the tags of one kind, in score order.
    pub fn slugs(&self, kind: TagKind) -> Vec<&str> {
        self.tags
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.slug.as_str())
            .collect()
    }
}

/// Tuning of the scorer; the lead embeds it as the `[tag]` table of the main config.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TagConfig {
    /// Weight of a mention in the headline, the lede (first paragraph) and the rest.
    pub title_weight: f64,
    pub lede_weight: f64,
    pub body_weight: f64,
    /// Body mentions are scaled by sqrt(body_ref_words / words) for longer bodies, so a long
    /// article needs proportionally more evidence than a feed item.
    pub body_ref_words: f64,
    /// Body mentions within the first `body_full_words` words of the body count in full.
    pub body_full_words: f64,
    /// A country is tagged when its score reaches `country_min` and `country_rel` of the top
    /// one on a foreign-policy article, `country_rel_other` of it on any other article.
    pub country_min: f64,
    pub country_rel: f64,
    pub country_rel_other: f64,
    /// On a foreign-policy article, a country with at least this many separate mentions is kept
    /// even below `country_rel` of the top one (0 turns the rule off).
    pub country_mentions: usize,
    /// When an article names a single country, it is kept at this lower score (0: off).
    pub country_sole_min: f64,
    /// Weight of a country named in the dateline ("WASHINGTON (Reuters) -"), relative to the
    /// lede: where the reporter filed from, not what the story is about.
    pub dateline_weight: f64,
    /// A topic is tagged (on foreign-policy articles) at `topic_min` and `topic_rel` of the top.
    pub topic_min: f64,
    pub topic_rel: f64,
    /// In a long article (a body past `body_ref_words`), a topic with at least this many
    /// separate mentions is kept whatever its score (0 turns the rule off).
    pub topic_mentions: usize,
    /// An organisation is tagged when its score reaches this.
    pub org_min: f64,
    /// How much one organisation mention adds to the organisation's topics.
    pub org_topic_weight: f64,
}

impl Default for TagConfig {
    fn default() -> Self {
        TagConfig {
            title_weight: 3.0,
            lede_weight: 2.0,
            body_weight: 1.0,
            body_ref_words: 150.0,
            body_full_words: 150.0,
            country_min: 1.5,
            country_rel: 0.25,
            country_rel_other: 0.75,
            country_mentions: 2,
            country_sole_min: 0.6,
            dateline_weight: 0.25,
            topic_min: 2.5,
            topic_rel: 0.3,
            topic_mentions: 3,
            org_min: 1.0,
            org_topic_weight: 1.5,
        }
    }
}
