//! `newsdesk eval`: tag article records in memory (no database) and measure the tagger against
//! labels written under LABELING.md. Flag precision/recall/F1 leave borderline items out; topic
//! figures are micro-averaged over the items labelled foreign-policy; country figures over every
//! labelled item.

use super::{tag, TagKind, Taxonomy};
use crate::model::{Article, ArticleRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {source}")]
    Json {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A label's flag: "yes" / "no" / "borderline" (booleans are accepted too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gold {
    Yes,
    No,
    Borderline,
}

impl<'de> Deserialize<'de> for Gold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Ok(Gold::Yes),
            serde_json::Value::Bool(false) => Ok(Gold::No),
            serde_json::Value::String(s) => match s.as_str() {
                "yes" | "true" => Ok(Gold::Yes),
                "no" | "false" => Ok(Gold::No),
                "borderline" => Ok(Gold::Borderline),
                other => Err(serde::de::Error::custom(format!("unknown flag {other:?}"))),
            },
            other => Err(serde::de::Error::custom(format!("unknown flag {other}"))),
        }
    }
}

/// One line of a labels file.
#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub foreign_policy: Gold,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub countries: Vec<String>,
}

fn set(v: &[String]) -> HashSet<&str> {
    v.iter().map(String::as_str).collect()
}

fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// One prediction, in the labels' shape.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub id: String,
    pub foreign_policy: bool,
    pub topics: Vec<String>,
    pub countries: Vec<String>,
}

/// Precision, recall and F1 with the counts behind them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn add(&mut self, predicted: &HashSet<&str>, gold: &HashSet<&str>) {
        self.tp += predicted.intersection(gold).count();
        self.fp += predicted.difference(gold).count();
        self.fn_ += gold.difference(predicted).count();
    }

    fn finish(mut self) -> Prf {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        self.precision = ratio(self.tp, self.tp + self.fp);
        self.recall = ratio(self.tp, self.tp + self.fn_);
        self.f1 = if self.precision + self.recall == 0.0 {
            0.0
        } else {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        };
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub records: usize,
    pub labelled: usize,
    pub predicted_foreign_policy: usize,
    /// Present when labels were given.
    pub flag: Option<Prf>,
    pub topics: Option<Prf>,
    pub countries: Option<Prf>,
    pub per_topic: BTreeMap<String, Prf>,
    /// Where the topic errors come from (present when labels were given).
    pub topic_errors: Option<TopicErrors>,
}

/// The topic errors on foreign-policy items, split by cause: an item whose flag is missed
/// gets no topics at all, so its labelled topics are lost before any topic is chosen; on the
/// items the flag catches, the errors are the topic choice itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TopicErrors {
    /// Foreign-policy items whose flag was missed, and their labelled topics.
    pub flag_missed_items: usize,
    pub flag_missed_topics: usize,
    /// Topics on the foreign-policy items the flag caught.
    pub on_flagged: Prf,
    /// (labelled topics, predicted topics, items) on the items the flag caught.
    pub counts: Vec<(usize, usize, usize)>,
    /// (predicted but not labelled, labelled but not predicted, items): on one item, the
    /// topic given in place of the one labelled, most frequent first.
    pub confusions: Vec<(String, String, usize)>,
}

impl TopicErrors {
    fn add(&mut self, predicted: &HashSet<&str>, gold: &HashSet<&str>, flagged: bool) {
        if !flagged {
            self.flag_missed_items += 1;
            self.flag_missed_topics += gold.len();
            return;
        }
        self.on_flagged.add(predicted, gold);
        let key = (gold.len(), predicted.len());
        match self.counts.iter_mut().find(|c| (c.0, c.1) == key) {
            Some(c) => c.2 += 1,
            None => self.counts.push((key.0, key.1, 1)),
        }
        for p in predicted.difference(gold) {
            for g in gold.difference(predicted) {
                match self.confusions.iter_mut().find(|c| c.0 == *p && c.1 == *g) {
                    Some(c) => c.2 += 1,
                    None => self.confusions.push((p.to_string(), g.to_string(), 1)),
                }
            }
        }
    }

    fn finish(mut self) -> TopicErrors {
        self.on_flagged = self.on_flagged.finish();
        self.counts.sort_unstable();
        self.confusions
            .sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        self
    }
}

impl std::fmt::Display for TopicErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.on_flagged;
        writeln!(
            f,
            "  flag missed {} foreign-policy items ({} labelled topics lost); on the items it \
             caught: topics P {:.3} R {:.3} F1 {:.3} (tp {}, fp {}, fn {})",
            self.flag_missed_items,
            self.flag_missed_topics,
            o.precision,
            o.recall,
            o.f1,
            o.tp,
            o.fp,
            o.fn_
        )?;
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(g, p, n)| format!("{g}->{p}: {n}"))
            .collect();
        writeln!(
            f,
            "  items by labelled -> predicted topic count: {}",
            counts.join(", ")
        )?;
        let top: Vec<String> = self
            .confusions
            .iter()
            .take(8)
            .map(|(p, g, n)| format!("{p} for {g} {n}"))
            .collect();
        writeln!(
            f,
            "  topic given in place of the labelled one: {}",
            top.join(", ")
        )
    }
}

/// Read a JSON Lines file of article records.
pub fn read_records(path: &Path) -> Result<Vec<ArticleRecord>, EvalError> {
    read_jsonl(path)
}

/// Read a labels file into a map by id.
pub fn read_labels(path: &Path) -> Result<HashMap<String, Label>, EvalError> {
    let labels: Vec<Label> = read_jsonl(path)?;
    Ok(labels.into_iter().map(|l| (l.id.clone(), l)).collect())
}

pub(crate) fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, EvalError> {
    let file = std::fs::File::open(path).map_err(|source| EvalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| EvalError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line).map_err(|source| EvalError::Json {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })?,
        );
    }
    Ok(out)
}

/// Each record's id (`#n` for records without one) and its normalized article, `None` when
/// it normalizes to nothing. Separate from `predict` so benchmarks can time tagging alone on
/// exactly the articles `eval` tags.
pub fn articles(records: &[ArticleRecord]) -> Vec<(String, Option<Article>)> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let id = r.id.clone().unwrap_or_else(|| format!("#{}", i + 1));
            (id, crate::normalize::normalize(r.clone().into_raw()).ok())
        })
        .collect()
}

/// Tag each record. Records that normalize to nothing are predicted "not foreign policy".
pub fn predict(tax: &Taxonomy, records: &[ArticleRecord]) -> Vec<Prediction> {
    articles(records)
        .into_iter()
        .map(|(id, article)| match article {
            Some(article) => {
                let t = tag(tax, &article);
                Prediction {
                    id,
                    foreign_policy: t.foreign_policy,
                    topics: t
                        .slugs(TagKind::Topic)
                        .into_iter()
                        .map(String::from)
                        .collect(),
                    countries: t
                        .slugs(TagKind::Country)
                        .into_iter()
                        .map(String::from)
                        .collect(),
                }
            }
            None => Prediction {
                id,
                foreign_policy: false,
                topics: Vec::new(),
                countries: Vec::new(),
            },
        })
        .collect()
}

/// Score predictions against labels (records without a label are counted but not scored).
pub fn score(predictions: &[Prediction], labels: &HashMap<String, Label>) -> EvalReport {
    let mut flag = Prf::default();
    let mut topics = Prf::default();
    let mut countries = Prf::default();
    let mut per_topic: BTreeMap<String, Prf> = BTreeMap::new();
    let mut errors = TopicErrors::default();
    let mut labelled = 0;
    for p in predictions {
        let Some(l) = labels.get(&p.id) else { continue };
        labelled += 1;
        match (l.foreign_policy, p.foreign_policy) {
            (Gold::Yes, true) => flag.tp += 1,
            (Gold::No, true) => flag.fp += 1,
            (Gold::Yes, false) => flag.fn_ += 1,
            _ => {}
        }
        countries.add(&set(&p.countries), &set(&l.countries));
        if l.foreign_policy == Gold::Yes {
            let (pt, gt) = (set(&p.topics), set(&l.topics));
            topics.add(&pt, &gt);
            errors.add(&pt, &gt, p.foreign_policy);
            for slug in pt.union(&gt) {
                let e = per_topic.entry(slug.to_string()).or_default();
                e.add(
                    &pt.iter().filter(|s| *s == slug).copied().collect(),
                    &gt.iter().filter(|s| *s == slug).copied().collect(),
                );
            }
        }
    }
    let has = labelled > 0;
    EvalReport {
        records: predictions.len(),
        labelled,
        predicted_foreign_policy: predictions.iter().filter(|p| p.foreign_policy).count(),
        flag: has.then(|| flag.finish()),
        topics: has.then(|| topics.finish()),
        countries: has.then(|| countries.finish()),
        per_topic: per_topic
            .into_iter()
            .map(|(k, v)| (k, v.finish()))
            .collect(),
        topic_errors: has.then(|| errors.finish()),
    }
}

/// Write predictions as JSON Lines.
pub fn write_predictions(path: &Path, predictions: &[Prediction]) -> Result<(), EvalError> {
    let err = |source| EvalError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(err)?;
    let mut w = BufWriter::new(file);
    for p in predictions {
        let line = serde_json::to_string(p).map_err(|e| err(e.into()))?;
        writeln!(w, "{line}").map_err(err)?;
    }
    w.flush().map_err(err)
}

/// Tag the records of `articles`, optionally write predictions, and score against `labels`.
pub fn evaluate(
    tax: &Taxonomy,
    articles: &[PathBuf],
    labels: &[PathBuf],
    predictions_out: Option<&Path>,
) -> Result<EvalReport, EvalError> {
    let mut records = Vec::new();
    for a in articles {
        records.extend(read_records(a)?);
    }
    let predictions = predict(tax, &records);
    if let Some(out) = predictions_out {
        write_predictions(out, &predictions)?;
    }
    let mut all = HashMap::new();
    for l in labels {
        all.extend(read_labels(l)?);
    }
    Ok(score(&predictions, &all))
}

impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} records, {} labelled, {} predicted foreign-policy",
            self.records, self.labelled, self.predicted_foreign_policy
        )?;
        let (Some(flag), Some(topics), Some(countries)) = (self.flag, self.topics, self.countries)
        else {
            return Ok(());
        };
        writeln!(
            f,
            "{:<30} {:>9} {:>9} {:>9} {:>5} {:>5} {:>5}",
            "", "precision", "recall", "F1", "tp", "fp", "fn"
        )?;
        let row = |f: &mut std::fmt::Formatter<'_>, name: &str, p: &Prf| {
            writeln!(
                f,
                "{:<30} {:>9.3} {:>9.3} {:>9.3} {:>5} {:>5} {:>5}",
                name, p.precision, p.recall, p.f1, p.tp, p.fp, p.fn_
            )
        };
        row(f, "flag (borderline left out)", &flag)?;
        row(f, "topics (micro, on FP items)", &topics)?;
        row(f, "countries (micro)", &countries)?;
        for (slug, p) in &self.per_topic {
            row(f, &format!("  {slug}"), p)?;
        }
        match &self.topic_errors {
            Some(e) => write!(f, "topic errors\n{e}"),
            None => Ok(()),
        }
    }
}
