//! Training the tagger model (`newsdesk train`) and measuring it honestly (`newsdesk eval
//! --cv`): logistic regression by stochastic gradient descent with a fixed seed (the same
//! labels give the same weights, bit for bit), and leave-one-group-out cross-validation where a
//! group is a feed (`feed` in the record) or a source (`source`): train on every other group,
//! tag the held-out one as the daemon would, score it, for every group.

use super::country::{self, CountryModel};
use super::eval::{self, EvalError, EvalReport, Gold, Label, Prediction};
use super::model::{tf_idf, TextModel};
use super::{tag_with, TagKind, Taxonomy};
use crate::model::{Article, ArticleRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// Training settings. The defaults were chosen on leave-feeds-out figures only.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// L2 penalty per example.
    pub l2: f64,
    pub epochs: usize,
    /// A term is in the vocabulary when this many training items have it.
    pub min_df: u32,
    /// How much a labelled feed item counts against a dev article: feed items are what the
    /// daemon tags every day.
    pub feed_weight: f64,
    pub seed: u64,
    /// Each head is fitted this many times, from differently shuffled orders, and the weights
    /// averaged: one SGD run's weights depend on its order (leave-feeds-out flag F1 moved by
    /// 0.005 between seeds), the average much less.
    pub bags: u64,
    /// Train the country decision (`country`); else the gazetteer's rules decide.
    pub countries: bool,
    /// Its L2 penalty (on the summed, weighted log loss).
    pub country_l2: f64,
    /// NB weighting (Wang & Manning 2012): each head's text features scaled by
    /// `1 - nb + nb * |log-count ratio|` from its training rows, so a term that tells the
    /// classes apart is cheaper to weigh under the L2 penalty; 0 is plain tf-idf. 0.25 was
    /// best (flag F1 +0.004 held out by feed, topics +0.01; 0.5 and 1 lost flag F1 by feed).
    pub nb: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            l2: 1e-3,
            epochs: 20,
            min_df: 2,
            feed_weight: 2.0,
            seed: 17,
            bags: 5,
            countries: true,
            country_l2: 1.0,
            nb: 0.25,
        }
    }
}

/// Whether a group is a feed (the shape the daemon tags) or a source of dev articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Feed,
    Source,
}

/// One labelled item, ready for training: what the taxonomy makes of it, once.
pub struct Example {
    pub id: String,
    pub group: usize,
    pub label: Label,
    article: Article,
    dense: Vec<f64>,
    /// (term key, count) of the text the model reads.
    terms: Vec<(u64, f32)>,
}

/// The labelled items and their groups.
pub struct Data {
    pub examples: Vec<Example>,
    /// (family, name) of each group.
    pub groups: Vec<(Family, String)>,
    /// The text of every term key seen, for the model file.
    names: HashMap<u64, String>,
    labels: HashMap<String, Label>,
}

#[derive(serde::Deserialize)]
struct Origin {
    #[serde(default)]
    feed: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// Read the records of `articles` that a label of `labels` names (only those: unlabelled
/// items are not read for anything, not even the vocabulary).
pub fn load(tax: &Taxonomy, articles: &[PathBuf], labels: &[PathBuf]) -> Result<Data, EvalError> {
    let mut all = HashMap::new();
    for l in labels {
        all.extend(eval::read_labels(l)?);
    }
    let mut data = Data {
        examples: Vec::new(),
        groups: Vec::new(),
        names: HashMap::new(),
        labels: HashMap::new(),
    };
    let mut group_of: BTreeMap<(Family, String), usize> = BTreeMap::new();
    for path in articles {
        let records: Vec<ArticleRecord> = eval::read_records(path)?;
        let origins: Vec<Origin> = eval::read_jsonl(path)?;
        for (r, o) in records.into_iter().zip(origins) {
            let Some(label) = r.id.as_ref().and_then(|id| all.get(id)).cloned() else {
                continue;
            };
            let Ok(article) = crate::normalize::normalize(r.into_raw()) else {
                continue;
            };
            let key = match (o.feed, o.source) {
                (Some(f), _) => (Family::Feed, f),
                (None, Some(s)) => (Family::Source, s),
                (None, None) => (Family::Source, "(no source)".to_string()),
            };
            let next = group_of.len();
            let group = *group_of.entry(key.clone()).or_insert(next);
            if group == data.groups.len() {
                data.groups.push(key);
            }
            let (dense, text) = super::score::model_inputs(tax, &article);
            let mut terms: Vec<(u64, f32)> = Vec::new();
            super::text::terms(&text, true, |k, name, _| {
                data.names.entry(k).or_insert_with(|| name.to_string());
                match terms.iter_mut().find(|t| t.0 == k) {
                    Some(t) => t.1 += 1.0,
                    None => terms.push((k, 1.0)),
                }
            });
            data.labels.insert(label.id.clone(), label.clone());
            data.examples.push(Example {
                id: label.id.clone(),
                group,
                label,
                article,
                dense,
                terms,
            });
        }
    }
    Ok(data)
}

/// A deterministic shuffle (xorshift64*, seeded): the order examples are visited in.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for i in (1..n).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        order.swap(i, (r % (i as u64 + 1)) as usize);
    }
    order
}

/// One training row: sparse (feature, value) over dense features then terms, its target and
/// its weight.
struct Row {
    x: Vec<(u32, f32)>,
    y: f64,
    weight: f64,
}

/// L2-regularised logistic regression by SGD, the penalty applied as a running scale of the
/// weights so that a step costs only the row's features. Returns (bias, weights).
fn fit_head(rows: &[Row], dim: usize, p: &Params, seed: u64) -> (f64, Vec<f64>) {
    let (mut v, mut scale, mut bias) = (vec![0.0f64; dim], 1.0f64, 0.0f64);
    let eta0 = 0.5;
    let mut t = 0.0;
    for epoch in 0..p.epochs {
        for i in shuffled(rows.len(), seed ^ (epoch as u64).wrapping_mul(0x1000_0001)) {
            let r = &rows[i];
            let eta = eta0 / (1.0 + eta0 * p.l2 * t);
            t += 1.0;
            let z = bias
                + scale
                    * r.x
                        .iter()
                        .map(|&(j, x)| v[j as usize] * x as f64)
                        .sum::<f64>();
            let g = (1.0 / (1.0 + (-z).exp()) - r.y) * r.weight;
            scale *= 1.0 - eta * p.l2;
            if scale < 1e-6 {
                v.iter_mut().for_each(|w| *w *= scale);
                scale = 1.0;
            }
            for &(j, x) in &r.x {
                v[j as usize] -= eta * g * x as f64 / scale;
            }
            bias -= eta * g * 0.1;
        }
    }
    v.iter_mut().for_each(|w| *w *= scale);
    (bias, v)
}

/// Train a model on the examples `train` (indices into `data.examples`), with thresholds
/// `thresholds` (flag, topics).
pub fn fit(
    tax: &Taxonomy,
    data: &Data,
    train: &[usize],
    p: &Params,
    thresholds: (f64, f64),
) -> TextModel {
    let heads = tax.model_heads();
    let dense_names: Vec<Arc<str>> = tax.feature_names.clone();
    let nd = dense_names.len();

    // The vocabulary and its idf, from the training items only.
    let mut df: HashMap<u64, u32> = HashMap::new();
    for &i in train {
        for &(k, _) in &data.examples[i].terms {
            *df.entry(k).or_default() += 1;
        }
    }
    let mut vocab: Vec<(&str, u64, u32)> = df
        .iter()
        .filter(|(_, &n)| n >= p.min_df)
        .filter_map(|(&k, &n)| Some((data.names.get(&k)?.as_str(), k, n)))
        .collect();
    vocab.sort_unstable();
    let n = train.len() as f32;
    let idf: Vec<f32> = vocab
        .iter()
        .map(|&(_, _, d)| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
        .collect();
    let index: super::text::KeyMap<u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, &(_, k, _))| (k, i as u32))
        .collect();

    let rows: Vec<(usize, Vec<(u32, f32)>)> = train
        .iter()
        .map(|&i| {
            let e = &data.examples[i];
            let mut counts: Vec<(u32, f32)> = e
                .terms
                .iter()
                .filter_map(|&(k, c)| Some((*index.get(&k)?, c)))
                .collect();
            let terms = tf_idf(&mut counts, |t| idf[t as usize]);
            let mut x: Vec<(u32, f32)> = e
                .dense
                .iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(f, &v)| (f as u32, v as f32))
                .collect();
            x.extend(terms.into_iter().map(|(t, v)| (t + nd as u32, v)));
            (i, x)
        })
        .collect();

    let dim = nd + vocab.len();
    let h = heads.len();
    let mut bias = vec![0.0; h];
    let mut weights = vec![0.0; dim * h];
    for head in 0..h {
        let head_rows: Vec<Row> = rows
            .iter()
            .filter_map(|(i, x)| {
                let e = &data.examples[*i];
                let y = target(tax, &e.label, head)?;
                let weight = match data.groups[e.group].0 {
                    Family::Feed => p.feed_weight,
                    Family::Source => 1.0,
                };
                Some(Row {
                    x: x.clone(),
                    y,
                    weight,
                })
            })
            .collect();
        let mut head_rows = head_rows;
        if head == 0 {
            for r in &mut head_rows {
                r.x.retain(|&(j, _)| !tax.not_for_flag.contains(&(j as usize)));
            }
        }
        let scale = nb_scale(&head_rows, nd, dim, p.nb);
        if let Some(scale) = &scale {
            for r in &mut head_rows {
                for (j, x) in &mut r.x {
                    *x *= scale[*j as usize] as f32;
                }
            }
        }
        let (mut b, mut w) = (0.0, vec![0.0; dim]);
        let bags = p.bags.max(1);
        for k in 0..bags {
            let seed = p.seed.wrapping_add(head as u64).wrapping_add(k * 1000);
            let (bk, wk) = fit_head(&head_rows, dim, p, seed);
            b += bk / bags as f64;
            for (x, y) in w.iter_mut().zip(wk) {
                *x += y / bags as f64;
            }
        }
        // The model file holds the weights of the unscaled features: the same decisions, and
        // tagging needs no per-head scaling.
        if let Some(scale) = &scale {
            for (x, s) in w.iter_mut().zip(scale) {
                *x *= s;
            }
        }
        bias[head] = b;
        for (j, wj) in w.into_iter().enumerate() {
            weights[j * h + head] = wj;
        }
    }
    let mut threshold = vec![thresholds.1; h];
    threshold[0] = thresholds.0;
    TextModel {
        heads,
        threshold,
        bias,
        dense_names,
        dense: weights[..nd * h].to_vec(),
        terms: vocab
            .iter()
            .zip(&idf)
            .map(|(&(name, _, _), &idf)| super::model::Term {
                name: Arc::from(format!("text:{name}")),
                idf,
            })
            .collect(),
        weights: weights[nd * h..].iter().map(|&w| w as f32).collect(),
        index,
        country: None,
    }
}

/// The NB scaling of each feature for one head (dense features keep 1): `1 - nb + nb * |r|`,
/// `r` the log ratio of how often the term is present in the positive and the negative rows
/// (add-one smoothed, each side normalised to sum to one). `None` when `nb` is 0.
fn nb_scale(rows: &[Row], nd: usize, dim: usize, nb: f64) -> Option<Vec<f64>> {
    if nb == 0.0 {
        return None;
    }
    let (mut pos, mut neg) = (vec![1.0f64; dim], vec![1.0f64; dim]);
    for r in rows {
        let side = if r.y > 0.5 { &mut pos } else { &mut neg };
        for &(j, x) in &r.x {
            if j as usize >= nd && x != 0.0 {
                side[j as usize] += r.weight;
            }
        }
    }
    let (sp, sn): (f64, f64) = (pos[nd..].iter().sum(), neg[nd..].iter().sum());
    Some(
        (0..dim)
            .map(|j| {
                if j < nd {
                    1.0
                } else {
                    let r = ((pos[j] / sp) / (neg[j] / sn)).ln().abs();
                    1.0 - nb + nb * r
                }
            })
            .collect(),
    )
}

/// What head `head` should say for a label: the flag (borderline left out), or whether a
/// foreign-policy item has the topic (topics are only assigned on foreign policy).
fn target(tax: &Taxonomy, l: &Label, head: usize) -> Option<f64> {
    if head == 0 {
        return match l.foreign_policy {
            Gold::Yes => Some(1.0),
            Gold::No => Some(0.0),
            Gold::Borderline => None,
        };
    }
    if l.foreign_policy != Gold::Yes {
        return None;
    }
    let slug = &tax.topics[head - 1].slug;
    Some(l.topics.iter().any(|t| t == slug) as u8 as f64)
}

/// One held-out group's figures.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub family: Family,
    pub group: String,
    pub report: EvalReport,
}

/// Leave-one-group-out cross-validation: per group, and pooled over the feeds and over the
/// sources (micro averages). Each group is scored with thresholds chosen on the other groups'
/// held-out feed items; the thresholds reported are those chosen on all of them, which the
/// shipped model takes.
#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    pub flag_threshold: f64,
    pub topic_threshold: f64,
    /// The country decision's threshold, when one is trained.
    pub country_threshold: Option<f64>,
    pub groups: Vec<GroupReport>,
    pub feeds: Option<EvalReport>,
    pub sources: Option<EvalReport>,
}

/// The held-out probabilities of every example, each from the model trained without its group.
fn held_out(tax: &Taxonomy, data: &Data, p: &Params) -> (Vec<TextModel>, Vec<Vec<f64>>) {
    let mut models = Vec::new();
    let mut probs = vec![Vec::new(); data.examples.len()];
    for g in 0..data.groups.len() {
        let train: Vec<usize> = (0..data.examples.len())
            .filter(|&i| data.examples[i].group != g)
            .collect();
        let m = fit(tax, data, &train, p, (0.5, 0.5));
        for (i, e) in data.examples.iter().enumerate() {
            if e.group == g {
                let (dense, text) = super::score::model_inputs(tax, &e.article);
                let s = m.score(&dense, &text);
                probs[i] = s.z.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect();
            }
        }
        models.push(m);
    }
    (models, probs)
}

fn f1(tp: usize, fp: usize, fn_: usize) -> f64 {
    if tp == 0 {
        return 0.0;
    }
    2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
}

/// For each example, whether it is in the pool thresholds are chosen on: the held-out feed
/// items (all items when there are no feeds), except those of group `skip`.
fn pool(data: &Data, skip: Option<usize>) -> Vec<bool> {
    let feeds = data.groups.iter().any(|g| g.0 == Family::Feed);
    data.examples
        .iter()
        .map(|e| Some(e.group) != skip && (!feeds || data.groups[e.group].0 == Family::Feed))
        .collect()
}

/// The flag and topic thresholds that give the best F1 on the held-out feed items (all items
/// when there are no feeds) outside group `skip`, between 0.1 and 0.95.
fn thresholds(tax: &Taxonomy, data: &Data, probs: &[Vec<f64>], skip: Option<usize>) -> (f64, f64) {
    let items: Vec<usize> = (0..data.examples.len())
        .zip(pool(data, skip))
        .filter_map(|(i, pooled)| pooled.then_some(i))
        .collect();
    let grid: Vec<f64> = (10..=95).step_by(5).map(|t| t as f64 / 100.0).collect();
    let best = |score: &dyn Fn(f64) -> f64| {
        grid.iter()
            .copied()
            .max_by(|a, b| score(*a).total_cmp(&score(*b)).then(b.total_cmp(a)))
            .unwrap_or(0.5)
    };
    let flag = best(&|t| {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for &i in &items {
            let y = target(tax, &data.examples[i].label, 0);
            match (probs[i][0] >= t, y) {
                (true, Some(y)) if y > 0.5 => tp += 1,
                (true, Some(_)) => fp += 1,
                (false, Some(y)) if y > 0.5 => fn_ += 1,
                _ => {}
            }
        }
        f1(tp, fp, fn_)
    });
    let topic = best(&|t| {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for &i in &items {
            let pr = &probs[i];
            let top = (1..pr.len()).max_by(|&a, &b| pr[a].total_cmp(&pr[b]));
            for (h, &ph) in pr.iter().enumerate().skip(1) {
                let Some(y) = target(tax, &data.examples[i].label, h) else {
                    continue;
                };
                match (ph >= t || Some(h) == top, y > 0.5) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fn_ += 1,
                    _ => {}
                }
            }
        }
        f1(tp, fp, fn_)
    });
    (flag, topic)
}

fn predict_one(tax: &Taxonomy, m: &TextModel, e: &Example) -> Prediction {
    let t = tag_with(tax, Some(m), &e.article);
    let slugs = |k| t.slugs(k).into_iter().map(String::from).collect();
    Prediction {
        id: e.id.clone(),
        foreign_policy: t.foreign_policy,
        topics: slugs(TagKind::Topic),
        countries: slugs(TagKind::Country),
    }
}

/// Leave-one-group-out cross-validation of training with `p` on `data`.
pub fn cross_validate(tax: &Taxonomy, data: &Data, p: &Params) -> CvReport {
    cross_validate_full(tax, data, p).0
}

/// One row of the country decision: (example, country, features).
type CountryRow = (usize, usize, [f64; country::N]);

/// Every labelled item's country candidates, from its held-out flag probability: the
/// decision is trained on the flag as it is on items the model has not seen.
fn country_rows(tax: &Taxonomy, data: &Data, probs: &[Vec<f64>], flag_t: f64) -> Vec<CountryRow> {
    let mut rows = Vec::new();
    for (i, e) in data.examples.iter().enumerate() {
        let pf = probs[i][0];
        for (c, x) in super::score::country_inputs(tax, &e.article, pf, pf >= flag_t) {
            rows.push((i, c, x));
        }
    }
    rows
}

fn fit_country(
    tax: &Taxonomy,
    data: &Data,
    rows: &[CountryRow],
    keep: impl Fn(usize) -> bool,
    p: &Params,
    threshold: f64,
) -> CountryModel {
    let train: Vec<([f64; country::N], bool, f64)> = rows
        .iter()
        .filter(|r| keep(r.0))
        .map(|&(i, c, x)| {
            let e = &data.examples[i];
            let gold = e
                .label
                .countries
                .iter()
                .any(|g| *g == tax.countries[c].code);
            let weight = match data.groups[e.group].0 {
                Family::Feed => p.feed_weight,
                Family::Source => 1.0,
            };
            (x, gold, weight)
        })
        .collect();
    country::fit(&train, p.country_l2, threshold)
}

/// The country threshold with the best micro F1 over the held-out feed items (all items when
/// there are no feeds) outside group `skip`, gold countries that no candidate names counting
/// as misses.
fn country_threshold(
    tax: &Taxonomy,
    data: &Data,
    rows: &[CountryRow],
    probs: &[f64],
    skip: Option<usize>,
) -> f64 {
    let in_pool = pool(data, skip);
    let pooled = |i: usize| in_pool[i];
    let gold_total: usize = (0..data.examples.len())
        .filter(|&i| pooled(i))
        .map(|i| data.examples[i].label.countries.len())
        .sum();
    let grid: Vec<f64> = (10..=90).step_by(5).map(|t| t as f64 / 100.0).collect();
    let score = |t: f64| {
        let (mut tp, mut fp) = (0, 0);
        for (r, &pr) in rows.iter().zip(probs) {
            // As `tag` applies it: a veto on what the rules keep, on feed-sized items only.
            let (rules, long) = (r.2[0] > 0.5, r.2[country::N - 1] > 0.5);
            if !pooled(r.0) || !rules || (!long && pr < t) {
                continue;
            }
            let e = &data.examples[r.0];
            if e.label
                .countries
                .iter()
                .any(|g| *g == tax.countries[r.1].code)
            {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        f1(tp, fp, gold_total.saturating_sub(tp))
    };
    grid.iter()
        .copied()
        .max_by(|a, b| score(*a).total_cmp(&score(*b)).then(b.total_cmp(a)))
        .unwrap_or(0.5)
}

/// Cross-validation, and what training the final model needs from it: the country rows and
/// the country threshold.
fn cross_validate_full(
    tax: &Taxonomy,
    data: &Data,
    p: &Params,
) -> (CvReport, Vec<CountryRow>, f64) {
    let (mut models, probs) = held_out(tax, data, p);
    let (flag_t, topic_t) = thresholds(tax, data, &probs, None);
    // The rows' "flagged" feature takes the threshold chosen on every group, the held-out one
    // included: one 0/1 input of the country decision, a far smaller look at the answers than
    // choosing the thresholds themselves on them (those are nested below).
    let rows = country_rows(tax, data, &probs, flag_t);
    // Each group's country decision is trained on the other groups' rows.
    let mut country_probs = vec![0.0; rows.len()];
    let mut country_models = Vec::new();
    for g in 0..data.groups.len() {
        let cm = fit_country(tax, data, &rows, |i| data.examples[i].group != g, p, 0.5);
        for (r, pr) in rows.iter().zip(country_probs.iter_mut()) {
            if data.examples[r.0].group == g {
                *pr = cm.probability(&r.2);
            }
        }
        country_models.push(cm);
    }
    let country_t = country_threshold(tax, data, &rows, &country_probs, None);
    let mut groups = Vec::new();
    let mut pooled: BTreeMap<Family, Vec<Prediction>> = BTreeMap::new();
    for ((g, m), mut cm) in models.iter_mut().enumerate().zip(country_models) {
        // Each group is scored with thresholds chosen without its items: chosen on the pool
        // that includes them, the figures would have seen the answers they are scored on.
        let (flag_g, topic_g) = thresholds(tax, data, &probs, Some(g));
        m.threshold.iter_mut().for_each(|t| *t = topic_g);
        m.threshold[0] = flag_g;
        cm.threshold = country_threshold(tax, data, &rows, &country_probs, Some(g));
        m.country = p.countries.then_some(cm);
        let preds: Vec<Prediction> = data
            .examples
            .iter()
            .filter(|e| e.group == g)
            .map(|e| predict_one(tax, m, e))
            .collect();
        let (family, name) = data.groups[g].clone();
        groups.push(GroupReport {
            family,
            group: name,
            report: eval::score(&preds, &data.labels),
        });
        pooled.entry(family).or_default().extend(preds);
    }
    let mut pooled_report = |f| pooled.remove(&f).map(|p| eval::score(&p, &data.labels));
    let report = CvReport {
        flag_threshold: flag_t,
        topic_threshold: topic_t,
        country_threshold: p.countries.then_some(country_t),
        groups,
        feeds: pooled_report(Family::Feed),
        sources: pooled_report(Family::Source),
    };
    (report, rows, country_t)
}

/// Train the model to ship: cross-validate for the thresholds, then fit on every example.
pub fn train(tax: &Taxonomy, data: &Data, p: &Params) -> (TextModel, CvReport) {
    let (cv, rows, country_t) = cross_validate_full(tax, data, p);
    let all: Vec<usize> = (0..data.examples.len()).collect();
    let mut m = fit(tax, data, &all, p, (cv.flag_threshold, cv.topic_threshold));
    if p.countries {
        m.country = Some(fit_country(tax, data, &rows, |_| true, p, country_t));
    }
    (m, cv)
}

impl std::fmt::Display for CvReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "leave-one-group-out cross-validation, each group scored with thresholds chosen \
             without it (chosen on all groups, the trained model's: flag {:.2}, topics {:.2}",
            self.flag_threshold, self.topic_threshold
        )?;
        match self.country_threshold {
            Some(t) => writeln!(f, ", countries {t:.2})")?,
            None => writeln!(f, "; countries by the rules)")?,
        }
        writeln!(
            f,
            "{:<8} {:<44} {:>5} {:>7} {:>7} {:>7} {:>9} {:>9}",
            "", "held out", "items", "flag P", "flag R", "flag F1", "topics F1", "countr F1"
        )?;
        let row = |f: &mut std::fmt::Formatter<'_>, fam: &str, name: &str, r: &EvalReport| {
            let (Some(flag), Some(t), Some(c)) = (r.flag, r.topics, r.countries) else {
                return Ok(());
            };
            let name: String = name.chars().take(44).collect();
            writeln!(
                f,
                "{fam:<8} {name:<44} {:>5} {:>7.3} {:>7.3} {:>7.3} {:>9.3} {:>9.3}",
                r.labelled, flag.precision, flag.recall, flag.f1, t.f1, c.f1
            )
        };
        for g in &self.groups {
            let fam = match g.family {
                Family::Feed => "feed",
                Family::Source => "source",
            };
            row(f, fam, &g.group, &g.report)?;
        }
        if let Some(r) = &self.feeds {
            row(f, "micro", "all feeds (leave-feeds-out)", r)?;
        }
        if let Some(r) = &self.sources {
            row(f, "micro", "all sources (leave-source-out)", r)?;
        }
        // Per topic, pooled: which topics the micro figure loses on.
        let pooled = [("feeds", &self.feeds), ("sources", &self.sources)];
        let mut topics: Vec<&String> = pooled
            .iter()
            .filter_map(|(_, r)| r.as_ref())
            .flat_map(|r| r.per_topic.keys())
            .collect();
        topics.sort();
        topics.dedup();
        if topics.is_empty() {
            return Ok(());
        }
        write!(f, "\n{:<30}", "per topic (on FP items), micro")?;
        for (name, r) in &pooled {
            if r.is_some() {
                write!(f, " {name:<23}")?;
            }
        }
        write!(f, "\n{:<30}", "")?;
        for (_, r) in &pooled {
            if r.is_some() {
                write!(f, " {:>5} {:>5} {:>5} {:>5}", "n", "P", "R", "F1")?;
            }
        }
        writeln!(f)?;
        for t in topics {
            write!(f, "{t:<30}")?;
            for (_, r) in &pooled {
                let Some(r) = r else { continue };
                match r.per_topic.get(t) {
                    Some(p) => write!(
                        f,
                        " {:>5} {:.3} {:.3} {:.3}",
                        p.tp + p.fn_,
                        p.precision,
                        p.recall,
                        p.f1
                    )?,
                    None => write!(f, " {:>23}", "-")?,
                }
            }
            writeln!(f)?;
        }
        for (name, r) in &pooled {
            if let Some(e) = r.as_ref().and_then(|r| r.topic_errors.as_ref()) {
                write!(f, "\ntopic errors, all {name}\n{e}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Two feeds of three labelled items whose held-out flag probabilities call for different
    /// thresholds: a's items split at 0.6-0.9, b's at 0.1-0.3.
    fn two_feeds() -> (Taxonomy, Data, Vec<Vec<f64>>) {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
        let tax = Taxonomy::load(&dir.join("topics.toml"), &dir.join("countries.toml")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let (mut records, mut labels) = (String::new(), String::new());
        for (id, feed, fp) in [
            ("a1", "a", "yes"),
            ("a2", "a", "yes"),
            ("a3", "a", "no"),
            ("b1", "b", "yes"),
            ("b2", "b", "yes"),
            ("b3", "b", "no"),
        ] {
            records.push_str(&format!(
                "{{\"id\":\"{id}\",\"feed\":\"{feed}\",\"title\":\"Item {id}\",\"text\":\"Ministers met for talks on item {id}.\"}}\n"
            ));
            labels.push_str(&format!(
                "{{\"id\":\"{id}\",\"foreign_policy\":\"{fp}\",\"topics\":[],\"countries\":[]}}\n"
            ));
        }
        let (r, l) = (tmp.path().join("r.jsonl"), tmp.path().join("l.jsonl"));
        std::fs::write(&r, records).unwrap();
        std::fs::write(&l, labels).unwrap();
        let data = load(&tax, &[r], &[l]).unwrap();
        assert_eq!(data.examples.len(), 6);
        let heads = 1 + tax.topics.len();
        let probs = data
            .examples
            .iter()
            .map(|e| {
                let mut p = vec![0.0; heads];
                p[0] = match e.id.as_str() {
                    "a1" | "a2" => 0.9,
                    "a3" => 0.6,
                    "b1" | "b2" => 0.3,
                    _ => 0.1,
                };
                p
            })
            .collect();
        (tax, data, probs)
    }

    #[test]
    fn a_held_out_groups_thresholds_are_chosen_without_its_items() {
        let (tax, data, probs) = two_feeds();
        let group = |name: &str| data.groups.iter().position(|g| g.1 == name);
        let (a, b) = (group("a"), group("b"));
        assert!(a.is_some() && b.is_some());
        // Without a, only b's items choose: a cut between 0.1 and 0.3.
        let (flag, _) = thresholds(&tax, &data, &probs, a);
        assert!(flag > 0.1 && flag <= 0.3, "{flag}");
        // Without b, only a's: a cut between 0.6 and 0.9.
        let (flag, _) = thresholds(&tax, &data, &probs, b);
        assert!(flag > 0.6 && flag <= 0.9, "{flag}");
        // With both, no single cut separates them: one of the pooled choices differs.
        let (pooled, _) = thresholds(&tax, &data, &probs, None);
        let nested = [a, b].map(|g| thresholds(&tax, &data, &probs, g).0);
        assert!(nested.iter().any(|&t| t != pooled), "{pooled} {nested:?}");
    }
}
