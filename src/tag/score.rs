//! Tagging one article: its explainable features (`features`), then the flag and the topics
//! from the trained model (`model`) when the taxonomy has one, else from the flag model and the
//! topic rules, and the countries and organisations that clear their thresholds. Every number
//! that goes into a decision is echoed in the evidence.

use super::doc::{build_doc, count_words, Doc, Zone};
use super::features::{features, kept_countries, score_mentions, Scored};
use super::matcher::AliasKind;
use super::model::{Scores, TextModel};
use super::taxonomy::Taxonomy;
use super::{Contribution, FlagEvidence, MentionRow, TagEvidence, TagHit, TagKind, Tagging};
use crate::model::Article;
use serde_json::{json, Value};
use std::sync::Arc;

/// The flag model's inputs for one article (for training the model; see `examples/tag_train.rs`).
pub fn flag_features(tax: &Taxonomy, article: &Article) -> Vec<f64> {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, false);
    let kept = kept_countries(tax, &s, None);
    features(&doc, &s, &kept)
}

/// The trained model's inputs for one article: its dense features and the text it reads.
pub(crate) fn model_inputs(tax: &Taxonomy, article: &Article) -> (Vec<f64>, String) {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, false);
    let kept = kept_countries(tax, &s, None);
    let f = features(&doc, &s, &kept);
    (f, doc.text)
}

/// The country decision's candidates for an article whose flag has probability `p` and is
/// decided `foreign_policy`: for training it on labelled items.
pub(crate) fn country_inputs(
    tax: &Taxonomy,
    article: &Article,
    p: f64,
    foreign_policy: bool,
) -> Vec<(usize, [f64; super::country::N])> {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, false);
    let kept = kept_countries(tax, &s, Some(foreign_policy));
    super::country::candidates(&doc, &s, &kept, p)
}

/// Every country, topic and organisation score before thresholds, with its hits, and the flag
/// model's features: for tuning (`examples/tag_explain.rs --dump`), not for storage.
#[doc(hidden)]
pub fn raw_scores(tax: &Taxonomy, article: &Article) -> Value {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, true);
    let mut countries = serde_json::Map::new();
    let mut topics = serde_json::Map::new();
    for &(topic, i, term, zone, base, word) in s.trace.iter().flatten() {
        let (map, key) = if topic {
            (&mut topics, tax.topics[i].slug.clone())
        } else {
            (&mut countries, tax.countries[i].code.clone())
        };
        let hit = json!([tax.patterns.term(term), zone.as_str(), base, word]);
        match map.get_mut(&key).and_then(Value::as_array_mut) {
            Some(v) => v.push(hit),
            None => {
                map.insert(key, json!([hit]));
            }
        }
    }
    let body_words = count_words(&doc.text[doc.lede_end..]);
    json!({
        "body_scale": doc.body_scale,
        "body_words": body_words,
        "title_case": doc.title_case,
        "countries": countries,
        "topics": topics,
        "signals": tax.signals.iter().zip(&s.signal).map(|(n, v)| json!([n, round(*v)])).collect::<Vec<_>>(),
    })
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Group hits by (term, zone) into evidence rows.
fn mention_rows(
    tax: &Taxonomy,
    hits: impl Iterator<Item = (u32, Zone, Option<AliasKind>)>,
) -> TagEvidence {
    let mut rows: Vec<(u32, Zone, Option<AliasKind>, u32)> = Vec::new();
    for (term, zone, kind) in hits {
        match rows.iter_mut().find(|r| r.0 == term && r.1 == zone) {
            Some(r) => r.3 += 1,
            None => rows.push((term, zone, kind, 1)),
        }
    }
    let mentions = rows
        .into_iter()
        .map(|(term, zone, kind, count)| MentionRow {
            alias: kind.map(AliasKind::as_str),
            count,
            term: tax.patterns.term_shared(term),
            zone: zone.as_str(),
        })
        .collect();
    TagEvidence {
        features: Vec::new(),
        mentions,
    }
}

/// Tag one article. Pure and deterministic: same taxonomy and article, same result.
pub fn tag(tax: &Taxonomy, article: &Article) -> Tagging {
    tag_with(tax, tax.text_model.as_deref(), article)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// How many features the evidence of a decision lists (the trained model: this many dense
/// features and this many words).
const TOP_FEATURES: usize = 8;
const TOP_MODEL_FEATURES: usize = 5;

/// Tag with `model` in place of the taxonomy's own (`None`: the flag model of `flag_model`
/// and the topic rules), as cross-validation does with a model per held-out group.
pub fn tag_with(tax: &Taxonomy, model: Option<&TextModel>, article: &Article) -> Tagging {
    let doc = build_doc(article, tax.config.body_ref_words);
    let scan = tax.patterns.scan(&doc.text);
    let s = score_mentions(tax, &doc, &scan.mentions, &scan.cues, false);
    let kept = kept_countries(tax, &s, None);
    let f = features(&doc, &s, &kept);
    let scores = model.map(|m| m.score(&f, &doc.text));
    let (p, evidence) = match (model, &scores) {
        (Some(m), Some(sc)) => model_flag(m, (&f, &doc.text), sc),
        _ => rules_flag(tax, &f),
    };
    let foreign_policy = p >= evidence.threshold;
    let mut kept = kept_countries(tax, &s, Some(foreign_policy));
    // On a feed-sized item the learned country decision vetoes what the rules keep (their
    // precision is what fails on new outlets); a long article keeps the rules, whose repeated-
    // mention rule knows an op-ed about eight states better than 14 features do.
    if let Some(c) = model.and_then(|m| m.country.as_ref()) {
        if doc.body_scale >= 1.0 {
            let learned = c.decide(&super::country::candidates(&doc, &s, &kept, p));
            kept = learned.into_iter().filter(|c| kept.contains(c)).collect();
        }
    }

    let mut tags = Vec::new();
    if foreign_policy {
        match (model, &scores) {
            (Some(m), Some(sc)) => model_topics(tax, m, &f, sc, (&doc, &s), &mut tags),
            _ => rule_topics(tax, &doc, &s, &mut tags),
        }
    }
    country_and_org_tags(tax, &s, &kept, &mut tags);
    Tagging {
        foreign_policy,
        score: round(p),
        evidence,
        tags,
    }
}

/// The flag from the logistic model over the dense features alone (`flag_model`).
fn rules_flag(tax: &Taxonomy, f: &[f64]) -> (f64, FlagEvidence) {
    let model = &tax.model;
    let z = model.bias
        + f.iter()
            .zip(&model.weights)
            .map(|(x, w)| x * w)
            .sum::<f64>();
    let p = sigmoid(z);
    let names = &tax.feature_names;
    let mut contrib: Vec<(usize, f64)> = f
        .iter()
        .zip(&model.weights)
        .enumerate()
        .map(|(i, (x, w))| (i, x * w))
        .filter(|(_, c)| *c != 0.0)
        .collect();
    contrib.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let contributions = contrib
        .iter()
        .take(TOP_FEATURES)
        .map(|&(i, c)| Contribution {
            contribution: round(c),
            feature: Arc::clone(&names[i]),
            value: round(f[i]),
        })
        .collect();
    let evidence = FlagEvidence {
        bias: round(model.bias),
        contributions,
        probability: round(p),
        threshold: model.threshold,
    };
    (p, evidence)
}

fn contributions(
    m: &TextModel,
    head: usize,
    input: (&[f64], &str),
    sc: &Scores,
) -> Vec<Contribution> {
    m.explain(head, input, sc, TOP_MODEL_FEATURES)
        .into_iter()
        .map(|(feature, value, c)| Contribution {
            contribution: round(c),
            feature,
            value: round(value),
        })
        .collect()
}

/// The flag from the trained model's first head, explained by its words and features.
fn model_flag(m: &TextModel, input: (&[f64], &str), sc: &Scores) -> (f64, FlagEvidence) {
    let p = sigmoid(sc.z[0]);
    let evidence = FlagEvidence {
        bias: round(m.bias[0]),
        contributions: contributions(m, 0, input, sc),
        probability: round(p),
        threshold: m.threshold[0],
    };
    (p, evidence)
}

fn topic_evidence(tax: &Taxonomy, s: &Scored, i: usize) -> TagEvidence {
    mention_rows(
        tax,
        s.topic_hits
            .iter()
            .filter(|h| h.0 == i)
            .map(|&(_, t, z)| (t, z, None)),
    )
}

/// Topics from the trained model: on a foreign-policy article the most probable topic (every
/// such article has a subject), and every other topic at its head's threshold unless one of
/// the topic's terms was excluded by a rule (trade talks are not diplomacy) and too little
/// other evidence for it is left. Asking for
/// `topic_min` of the rules' evidence instead, as before, held back topics of feed items,
/// which seldom have it: leave-feeds-out topics F1 0.652 against 0.676. The topics the term
/// rules keep are kept too (the model's or the rules'): the rules know a topic from one
/// decisive term the model has seen too seldom to weigh, and the model reads the opening only
/// (topics F1 +0.005 held out by feed, +0.017 by source, against the rules on long articles
/// only). Except a topic marked `rules_alone = false` (armed conflict, whose terms name the
/// military in every defence story): its rules alone were wrong three times in four.
fn model_topics(
    tax: &Taxonomy,
    m: &TextModel,
    f: &[f64],
    sc: &Scores,
    (doc, s): (&Doc, &Scored),
    tags: &mut Vec<TagHit>,
) {
    let p: Vec<f64> = sc.z[1..].iter().map(|&z| sigmoid(z)).collect();
    let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]));
    let ruled = rule_topic_list(tax, doc, s);
    let mut idx: Vec<usize> = (0..p.len())
        .filter(|&i| {
            let excluded = s.topic_vetoed[i] && s.topic[i] < tax.config.topic_min;
            let rules_alone = tax.topics[i].rules_alone && ruled.contains(&i);
            (p[i] >= m.threshold[i + 1] && !excluded) || Some(i) == best || rules_alone
        })
        .collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    for i in idx {
        let t = &tax.topics[i];
        let mut evidence = topic_evidence(tax, s, i);
        evidence.features = contributions(m, i + 1, (f, &doc.text), sc);
        tags.push(TagHit {
            kind: TagKind::Topic,
            slug: t.slug.clone(),
            label: t.label.clone(),
            score: round(p[i]),
            evidence,
        });
    }
}

/// Topics from the term rules: a topic clears `topic_min` and `topic_rel` of the top one.
fn rule_topics(tax: &Taxonomy, doc: &Doc, s: &Scored, tags: &mut Vec<TagHit>) {
    for i in rule_topic_list(tax, doc, s) {
        let t = &tax.topics[i];
        tags.push(TagHit {
            kind: TagKind::Topic,
            slug: t.slug.clone(),
            label: t.label.clone(),
            score: round(s.topic[i]),
            evidence: topic_evidence(tax, s, i),
        });
    }
}

/// The topics the term rules keep, best first.
fn rule_topic_list(tax: &Taxonomy, doc: &Doc, s: &Scored) -> Vec<usize> {
    let max = s.topic.iter().cloned().fold(0.0, f64::max);
    let c = &tax.config;
    // A long article covers several subjects at length and one of them dominates the
    // scores; there a topic that comes back `topic_mentions` times is a subject too.
    let long = doc.body_scale < 1.0;
    let repeated = |i: usize| {
        long && c.topic_mentions > 0
            && s.topic_hits.iter().filter(|h| h.0 == i).count() >= c.topic_mentions
    };
    let mut idx: Vec<usize> = (0..s.topic.len())
        .filter(|&i| {
            s.topic[i] > 0.0
                && ((s.topic[i] >= c.topic_min && s.topic[i] >= c.topic_rel * max)
                    || repeated(i)
                    || s.topic[i] == max)
        })
        .collect();
    idx.sort_by(|&a, &b| s.topic[b].total_cmp(&s.topic[a]));
    idx
}

fn country_and_org_tags(tax: &Taxonomy, s: &Scored, kept: &[usize], tags: &mut Vec<TagHit>) {
    for &i in kept {
        let c = &tax.countries[i];
        tags.push(TagHit {
            kind: TagKind::Country,
            slug: c.code.clone(),
            label: c.name.clone(),
            score: round(s.country[i]),
            evidence: mention_rows(
                tax,
                s.country_hits
                    .iter()
                    .filter(|h| h.0 == i)
                    .map(|&(_, t, z, k)| (t, z, Some(k))),
            ),
        });
    }
    let mut orgs: Vec<usize> = (0..s.org.len())
        .filter(|&i| s.org[i] >= tax.config.org_min)
        .collect();
    orgs.sort_by(|&a, &b| s.org[b].total_cmp(&s.org[a]));
    for i in orgs {
        let o = &tax.orgs[i];
        tags.push(TagHit {
            kind: TagKind::Org,
            slug: o.slug.clone(),
            label: o.label.clone(),
            score: round(s.org[i]),
            evidence: mention_rows(
                tax,
                s.org_hits
                    .iter()
                    .filter(|h| h.0 == i)
                    .map(|&(_, t, z)| (t, z, None)),
            ),
        });
    }
}

#[cfg(test)]
mod utf8_cut_tests {
    /// Ledes are cut at byte offsets; text full of multi-byte characters must not panic.
    #[test]
    fn multibyte_text_at_every_cut_point_does_not_panic() {
        let tax = crate::tag::Taxonomy::load(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml")),
            std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/countries.toml"
            )),
        )
        .unwrap();
        for pad in 0..4 {
            for word in ["я", "€", "’", "ç"] {
                let body = format!("{}{}", "x".repeat(pad), word.repeat(400));
                let raw = crate::model::RawArticle {
                    title: Some("t".into()),
                    content_text: Some(format!("{body}. More. {body}")),
                    ..Default::default()
                };
                let a = crate::normalize::normalize(raw).unwrap();
                let _ = crate::tag::tag(&tax, &a);
            }
        }
    }
}

#[cfg(test)]
mod scoring_tests {
    use crate::tag::{raw_scores, Taxonomy};
    use std::path::Path;

    fn taxonomy() -> Taxonomy {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
        Taxonomy::load(&dir.join("topics.toml"), &dir.join("countries.toml")).unwrap()
    }

    fn article(title: &str, body: &str) -> crate::model::Article {
        crate::normalize::normalize(crate::model::RawArticle {
            title: Some(title.into()),
            content_text: Some(body.into()),
            ..Default::default()
        })
        .unwrap()
    }

    /// The topic's hits as (term, base weight).
    fn hits(raw: &serde_json::Value, topic: &str) -> Vec<(String, f64)> {
        raw["topics"][topic]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| (h[0].as_str().unwrap().to_owned(), h[2].as_f64().unwrap()))
            .collect()
    }

    /// "militar*" and "military" both match "military" in the shipped taxonomy, and
    /// "battle*" (1.4) and "battlefield" (2.5) both match "battlefield": each word is one
    /// mention, at the larger weight.
    #[test]
    fn words_matched_by_two_patterns_of_a_topic_count_once() {
        let tax = taxonomy();
        let a = article(
            "Talks in Kyiv",
            "Ukraine and Russia met in Geneva. Ukraine's military said the battlefield was quiet.",
        );
        let raw = raw_scores(&tax, &a);
        let h = hits(&raw, "armed-conflict");
        let military = h.iter().filter(|(t, _)| t.starts_with("militar")).count();
        assert_eq!(military, 1, "{h:?}");
        let battle: Vec<f64> = h
            .iter()
            .filter(|(t, _)| t.starts_with("battle"))
            .map(|h| h.1)
            .collect();
        assert_eq!(battle, vec![2.5], "{h:?}");
    }

    /// `rules_alone` defaults to true; the shipped armed-conflict topic sets it false (its
    /// terms name the military in every defence story).
    #[test]
    fn rules_alone_defaults_to_true_and_armed_conflict_needs_the_model() {
        let tax = taxonomy();
        for t in &tax.topics {
            assert_eq!(t.rules_alone, t.slug != "armed-conflict", "{}", t.slug);
        }
    }

    /// A negative `topic_weight` is refused at load, naming the file and the organisation.
    #[test]
    fn a_negative_topic_weight_is_refused() {
        let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
        let dir = tempfile::tempdir().unwrap();
        for f in ["topics.toml", "countries.toml", "flag-model.toml"] {
            let text = std::fs::read_to_string(src.join(f)).unwrap();
            let text = text.replacen("topic_weight = 0.5", "topic_weight = -1.0", 1);
            std::fs::write(dir.path().join(f), text).unwrap();
        }
        let topics = dir.path().join("topics.toml");
        let err = Taxonomy::load(&topics, &dir.path().join("countries.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("topics.toml") && err.contains("org EU: topic_weight"),
            "{err}"
        );
    }

    /// An organisation's `topic_weight` scales what its mentions add to its topics: the EU
    /// (0.5 in the shipped taxonomy) adds half of what the UN does.
    #[test]
    fn an_organisations_topic_weight_scales_its_topic_evidence() {
        let tax = taxonomy();
        let a = article(
            "EU and UN",
            "The EU and the UN both met in New York on Monday with France and Germany.",
        );
        let h = hits(&raw_scores(&tax, &a), "international-organisations");
        let base = |term: &str| h.iter().find(|(t, _)| t == term).map(|h| h.1);
        let (eu, un) = (base("EU"), base("the UN").or(base("UN")));
        assert_eq!(eu.zip(un).map(|(e, u)| e / u), Some(0.5), "{h:?}");
    }

    /// Where each hit of country `code` is, in an article with this body.
    fn zones(body: &str, code: &str) -> Vec<String> {
        let a = article("Talks", body);
        raw_scores(&taxonomy(), &a)["countries"][code]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| h[1].as_str().unwrap().to_owned())
            .collect()
    }

    /// The lede is the first paragraph: a blank line ends it, however short it is.
    #[test]
    fn the_lede_ends_at_the_first_paragraph_break() {
        let body = "Iran and Iraq held talks on Monday.\n\nFrance welcomed the talks later.";
        assert_eq!(zones(body, "IR"), ["lede"]);
        assert_eq!(zones(body, "FR"), ["body"]);
    }

    /// A short line standing alone between paragraphs is a section heading, weighted like the
    /// lede; a credit line is not.
    #[test]
    fn a_short_line_between_paragraphs_is_a_subheading() {
        let body = "Iran and Iraq held talks on Monday, officials in both capitals said.\n\n\
                    Second paragraph about the talks.\n\n\
                    China must do more on North Korea\n\n\
                    The talks went on.\n\n\
                    By a reporter in Mexico\n\n\
                    The end of the story.";
        assert_eq!(zones(body, "CN"), ["subhead"]);
        assert_eq!(zones(body, "KP"), ["subhead"]);
        assert_eq!(zones(body, "MX"), ["body"]);
    }
}
