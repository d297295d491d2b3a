//! The trained tagger model: one logistic head for the foreign-policy flag and one per topic,
//! each over the explainable features (`features::dense`) and the words and word pairs of the
//! text (`text`). Loaded with the taxonomy, checked against it, applied by `tag`, and explained
//! by the features that moved each decision most.
//!
//! The file is tab-separated text (shown here with spaces), so a diff of two trainings reads as a diff of weights:
//!
//! ```text
//! newsdesk-tagger-model  1
//! taxonomy  <hash of the heads and dense feature names>
//! heads  flag  diplomacy  ...
//! threshold  0.42  0.35  ...
//! bias  -1.2  ...
//! dense  topic:diplomacy  <weight per head>
//! term  <idf>  <weight per head>  ceasefire talks
//! country  bias  <weight>          (then one line per `country::FEATURES`, and
//! country  threshold  <value>       the threshold: optional, else the rules decide)
//! end  <number of term lines>
//! ```

use super::text::KeyMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &str = "newsdesk-tagger-model";
const VERSION: &str = "2";

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ModelError {
    pub path: PathBuf,
    pub message: String,
}

/// A text feature of the model: its name, inverse document frequency and one weight per head.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub name: Arc<str>,
    pub idf: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextModel {
    /// "flag", then topic slugs.
    pub heads: Vec<String>,
    pub threshold: Vec<f64>,
    pub bias: Vec<f64>,
    /// Names of the dense features, in `features::dense` order.
    pub dense_names: Vec<Arc<str>>,
    /// `dense[f * heads + h]`.
    pub dense: Vec<f64>,
    pub terms: Vec<Term>,
    /// `weights[t * heads + h]`.
    pub weights: Vec<f32>,
    /// Term key (`text::key`) to index in `terms`.
    pub index: KeyMap<u32>,
    /// The decision of which named countries the article is about, when trained.
    pub country: Option<super::country::CountryModel>,
}

thread_local! {
    /// Per term of the model, where this thread's article being scored counts it (u32::MAX:
    /// not in it); every slot is reset once the article is counted.
    static SLOTS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What the model makes of one article: for each head its log-odds, from the article's dense
/// features and its terms (index, value) with their weights looked up once.
pub(crate) struct Scores {
    pub z: Vec<f64>,
    pub terms: Vec<(u32, f32)>,
    /// (term, ordinal of the first word it came from) of the character grams among `terms`,
    /// in term order: the evidence names a gram by its word.
    pub grams: Vec<(u32, u32)>,
    /// The text's words, read on the first explanation and kept for the other heads'.
    pub words: std::cell::OnceCell<super::text::Words>,
}

/// Keep the `n` entries of `v` with the largest |contribution| (`.2`), largest first, ties in
/// the order of `.0`: what a stable sort of `v` (given in `.0` order) and a cut give, without
/// sorting a few hundred terms to name five.
fn largest(v: &mut Vec<(u32, f64, f64)>, n: usize) {
    let order = |a: &(u32, f64, f64), b: &(u32, f64, f64)| {
        b.2.abs().total_cmp(&a.2.abs()).then(a.0.cmp(&b.0))
    };
    if n == 0 {
        v.clear();
        return;
    }
    if v.len() > n {
        v.select_nth_unstable_by(n - 1, order);
        v.truncate(n);
    }
    v.sort_unstable_by(order);
}

/// A name for the taxonomy a model was trained with: the heads and the dense feature names.
/// A model for another taxonomy (topics added, renamed, reordered) has another one.
pub(crate) fn taxonomy_id(heads: &[String], dense: &[Arc<str>]) -> String {
    let mut text = heads.join("\t");
    for d in dense {
        text.push('\n');
        text.push_str(d);
    }
    format!("{:016x}", super::text::key(&text))
}

impl TextModel {
    pub fn n_heads(&self) -> usize {
        self.heads.len()
    }

    /// The log-odds of every head for an article with these dense features and text.
    pub(crate) fn score(&self, dense: &[f64], text: &str) -> Scores {
        let h = self.n_heads();
        // (term, count, ordinal of the first word a gram came from; u32::MAX for other terms),
        // counted in place through SLOTS: sorting every hit (a gram per letter of 150 words)
        // to count them by runs was a quarter of the model's time.
        let mut seen: Vec<(u32, f32, u32)> = Vec::with_capacity(256);
        SLOTS.with_borrow_mut(|slots| {
            if slots.len() < self.terms.len() {
                slots.resize(self.terms.len(), u32::MAX);
            }
            super::text::terms(text, false, |k, _, of| {
                if let Some(&i) = self.index.get(&k) {
                    let of = of.unwrap_or(u32::MAX);
                    match slots.get_mut(i as usize) {
                        Some(slot) if *slot != u32::MAX => {
                            let entry = &mut seen[*slot as usize];
                            entry.1 += 1.0;
                            entry.2 = entry.2.min(of);
                        }
                        Some(slot) => {
                            *slot = seen.len() as u32;
                            seen.push((i, 1.0, of));
                        }
                        None => {}
                    }
                }
            });
            for &(i, ..) in &seen {
                slots[i as usize] = u32::MAX;
            }
        });
        // In index order, whatever the text: the sums below add up in the same order, and
        // `explain` walks terms and grams side by side. Indexes are unique here.
        seen.sort_unstable_by_key(|e| e.0);
        let mut counts: Vec<(u32, f32)> = Vec::with_capacity(seen.len());
        let mut grams: Vec<(u32, u32)> = Vec::new();
        for (i, count, w) in seen {
            counts.push((i, count));
            if w != u32::MAX {
                grams.push((i, w));
            }
        }
        let terms = tf_idf(&mut counts, |i| self.terms[i as usize].idf);
        let mut z = self.bias.clone();
        for (f, x) in dense.iter().enumerate() {
            if *x != 0.0 {
                for (zh, w) in z.iter_mut().zip(&self.dense[f * h..(f + 1) * h]) {
                    *zh += x * w;
                }
            }
        }
        for &(i, x) in &terms {
            let i = i as usize;
            for (zh, w) in z.iter_mut().zip(&self.weights[i * h..(i + 1) * h]) {
                *zh += (x * w) as f64;
            }
        }
        Scores {
            z,
            terms,
            grams,
            words: std::cell::OnceCell::new(),
        }
    }

    /// The features that moved head `head` most, as (feature name, value, contribution): the
    /// `n` largest of the dense features and the `n` largest of the words, largest first. Each
    /// word weighs little beside a summary feature such as "topics:all", but the words are
    /// what an analyst reads the decision from, so they get places of their own. A word's
    /// character grams ("#<dip", "#dipl", ...) are summed into one feature, "text:~diplomacy"
    /// (its letters), the value the number of them: a gram alone tells an analyst nothing.
    pub(crate) fn explain(
        &self,
        head: usize,
        (dense, text): (&[f64], &str),
        s: &Scores,
        n: usize,
    ) -> Vec<(Arc<str>, f64, f64)> {
        let h = self.n_heads();
        let top = |mut v: Vec<(Arc<str>, f64, f64)>| {
            v.retain(|c| c.2 != 0.0);
            v.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
            v.truncate(n);
            v
        };
        let mut all = top(dense
            .iter()
            .enumerate()
            .map(|(f, &x)| {
                let name = Arc::clone(&self.dense_names[f]);
                (name, x, x * self.dense[f * h + head])
            })
            .collect());
        let contribution = |i: u32, x: f32| (x * self.weights[i as usize * h + head]) as f64;
        // (term, value, contribution) of the words and pairs: named once the top ones are known.
        let mut terms: Vec<(u32, f64, f64)> = Vec::new();
        // Each gram's contribution summed into its word's slot (grams, contribution).
        let mut by_ordinal = [(0u32, 0.0f64); super::text::MAX_WORDS];
        // Both lists are in term order: one walk pairs each gram with its word.
        let mut next = s.grams.iter().peekable();
        for &(i, x) in &s.terms {
            while next.next_if(|g| g.0 < i).is_some() {}
            match next.next_if(|g| g.0 == i) {
                Some(&(_, w)) => {
                    if let Some(slot) = by_ordinal.get_mut(w as usize) {
                        slot.0 += 1;
                        slot.1 += contribution(i, x);
                    }
                }
                None => terms.push((i, x as f64, contribution(i, x))),
            }
        }
        let mut by_word: Vec<(u32, f64, f64)> = by_ordinal
            .iter()
            .enumerate()
            .filter(|(_, w)| w.1 != 0.0)
            .map(|(o, w)| (o as u32, w.0 as f64, w.1))
            .collect();
        largest(&mut by_word, n);
        terms.retain(|c| c.2 != 0.0);
        largest(&mut terms, n);
        let mut words: Vec<(Arc<str>, f64, f64)> = terms
            .into_iter()
            .map(|(i, x, c)| (Arc::clone(&self.terms[i as usize].name), x, c))
            .collect();
        let text_words =
            (!by_word.is_empty()).then(|| s.words.get_or_init(|| super::text::Words::of(text)));
        for (o, count, c) in by_word {
            let word = text_words.map_or("", |w| w.get(o));
            words.push((Arc::from(format!("text:~{word}")), count, c));
        }
        all.extend(top(words));
        all.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
        all
    }

    /// The model as the text the file holds.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let row = |out: &mut String, head: &str, xs: &mut dyn Iterator<Item = f64>| {
            out.push_str(head);
            for x in xs {
                let _ = write!(out, "\t{}", num(x));
            }
        };
        let _ = writeln!(out, "{MAGIC}\t{VERSION}");
        let _ = writeln!(
            out,
            "taxonomy\t{}",
            taxonomy_id(&self.heads, &self.dense_names)
        );
        let _ = writeln!(out, "heads\t{}", self.heads.join("\t"));
        row(&mut out, "threshold", &mut self.threshold.iter().copied());
        out.push('\n');
        row(&mut out, "bias", &mut self.bias.iter().copied());
        out.push('\n');
        let h = self.n_heads();
        for (f, name) in self.dense_names.iter().enumerate() {
            row(
                &mut out,
                &format!("dense\t{name}"),
                &mut self.dense[f * h..(f + 1) * h].iter().copied(),
            );
            out.push('\n');
        }
        for (t, term) in self.terms.iter().enumerate() {
            let _ = write!(out, "term\t{}", num(term.idf as f64));
            for &w in &self.weights[t * h..(t + 1) * h] {
                let _ = write!(out, "\t{}", num(w as f64));
            }
            let name = term.name.strip_prefix("text:").unwrap_or(&term.name);
            let _ = writeln!(out, "\t{name}");
        }
        if let Some(c) = &self.country {
            let _ = writeln!(out, "country\tbias\t{}", num(c.bias));
            for (name, w) in super::country::FEATURES.iter().zip(&c.weights) {
                let _ = writeln!(out, "country\t{name}\t{}", num(*w));
            }
            let _ = writeln!(out, "country\tthreshold\t{}", num(c.threshold));
        }
        let _ = writeln!(out, "end\t{}", self.terms.len());
        out
    }

    /// Read a model file and check it against the taxonomy's heads and dense features.
    pub fn load(
        path: &Path,
        heads: &[String],
        dense_names: &[Arc<str>],
    ) -> Result<TextModel, ModelError> {
        let err = |message: String| ModelError {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let m = parse(&text).map_err(|(line, m)| err(format!("line {line}: {m}")))?;
        if m.heads != heads || m.dense_names != dense_names {
            return Err(err(format!(
                "the model is for another taxonomy (its heads: {}); retrain it with `newsdesk train`",
                m.heads.join(", ")
            )));
        }
        Ok(m)
    }
}

/// Weights at 5 significant digits: enough for identical decisions, small enough for Git.
fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let s = format!("{x:.5e}");
    // 1.23450e-2 -> the shorter of that and a plain decimal of the same value.
    let v: f64 = s.parse().unwrap_or(x);
    let plain = format!("{v}");
    if plain.len() <= s.len() {
        plain
    } else {
        s
    }
}

/// The length the text's vector is scaled to. The same L2 penalty applies to every weight,
/// and at unit length the words could hardly move a decision beside the dense features;
/// 3 was best on leave-feeds-out flag F1 (1: 0.852, 3: 0.863, 4: 0.859, 6: 0.862).
const TEXT_NORM: f32 = 3.0;

/// `1 + ln(count)` times the term's idf, scaled to `TEXT_NORM`: one long text does not
/// outvote a headline by repeating its words.
pub(crate) fn tf_idf(counts: &mut [(u32, f32)], idf: impl Fn(u32) -> f32) -> Vec<(u32, f32)> {
    let mut norm = 0.0f32;
    for c in counts.iter_mut() {
        c.1 = (1.0 + c.1.ln()) * idf(c.0);
        norm += c.1 * c.1;
    }
    let norm = norm.sqrt() / TEXT_NORM;
    if norm > 0.0 {
        for c in counts.iter_mut() {
            c.1 /= norm;
        }
    }
    counts.to_vec()
}

type ParseError = (usize, String);

fn parse(text: &str) -> Result<TextModel, ParseError> {
    let last = text.lines().count();
    if !text.lines().last().is_some_and(|l| l.starts_with("end\t")) {
        return Err((
            last,
            "truncated: the file does not end with its end line".into(),
        ));
    }
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut next = |what: &str| -> Result<(usize, Vec<&str>), ParseError> {
        lines
            .next()
            .map(|(n, l)| (n, l.split('\t').collect()))
            .ok_or((0, format!("truncated: no {what} line")))
    };
    let (n, magic) = next("header")?;
    if magic != [MAGIC, VERSION] {
        return Err((n, format!("not a {MAGIC} {VERSION} file")));
    }
    let (n, tax) = next("taxonomy")?;
    let id = match tax.as_slice() {
        ["taxonomy", id] => id.to_string(),
        _ => return Err((n, "expected the taxonomy line".into())),
    };
    let (n, heads) = next("heads")?;
    if heads.first() != Some(&"heads") || heads.len() < 2 {
        return Err((n, "expected the heads line".into()));
    }
    let heads: Vec<String> = heads[1..].iter().map(|s| s.to_string()).collect();
    let h = heads.len();
    let floats = |n: usize, xs: &[&str]| -> Result<Vec<f64>, ParseError> {
        if xs.len() != h {
            return Err((
                n,
                format!("{} numbers where {h} heads need one each", xs.len()),
            ));
        }
        xs.iter()
            .map(|x| {
                x.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or((n, format!("not a number: {x:?}")))
            })
            .collect()
    };
    let (n, t) = next("threshold")?;
    if t.first() != Some(&"threshold") {
        return Err((n, "expected the threshold line".into()));
    }
    let threshold = floats(n, &t[1..])?;
    let (n, b) = next("bias")?;
    if b.first() != Some(&"bias") {
        return Err((n, "expected the bias line".into()));
    }
    let bias = floats(n, &b[1..])?;
    let mut m = TextModel {
        heads,
        threshold,
        bias,
        dense_names: Vec::new(),
        dense: Vec::new(),
        terms: Vec::new(),
        weights: Vec::new(),
        index: KeyMap::default(),
        country: None,
    };
    // (name, value) of the country lines, checked at the end.
    let mut country: Vec<(usize, String, f64)> = Vec::new();
    loop {
        let (n, row) = next("end")?;
        match row.as_slice() {
            ["dense", name, ws @ ..] => {
                m.dense_names.push(Arc::from(*name));
                m.dense.extend(floats(n, ws)?);
            }
            ["term", idf, rest @ ..] if rest.len() == h + 1 => {
                let idf = idf
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or((n, format!("not a number: {idf:?}")))?;
                let name = rest[h];
                m.weights
                    .extend(floats(n, &rest[..h])?.into_iter().map(|w| w as f32));
                if m.index
                    .insert(super::text::key(name), m.terms.len() as u32)
                    .is_some()
                {
                    return Err((n, format!("term {name:?} twice")));
                }
                m.terms.push(Term {
                    name: Arc::from(format!("text:{name}")),
                    idf,
                });
            }
            ["country", name, w] => {
                let w = w
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or((n, format!("not a number: {w:?}")))?;
                country.push((n, name.to_string(), w));
            }
            ["end", count] => {
                if count.parse::<usize>().ok() != Some(m.terms.len()) {
                    return Err((
                        n,
                        format!("truncated: {} terms, end says {count}", m.terms.len()),
                    ));
                }
                break;
            }
            _ => return Err((n, "not a dense, term or end line".into())),
        }
    }
    if let Some((n, _, _)) = country.first() {
        m.country = Some(parse_country(*n, &country)?);
    }
    if id != taxonomy_id(&m.heads, &m.dense_names) {
        return Err((
            2,
            "the taxonomy hash does not match the file's heads and features".into(),
        ));
    }
    Ok(m)
}

/// The country lines: the bias, each of `country::FEATURES` in order, the threshold.
fn parse_country(
    first: usize,
    lines: &[(usize, String, f64)],
) -> Result<super::country::CountryModel, ParseError> {
    let names = super::country::FEATURES;
    let expected: Vec<&str> = std::iter::once("bias")
        .chain(names)
        .chain(std::iter::once("threshold"))
        .collect();
    let got: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    if got != expected {
        return Err((
            first,
            format!(
                "the country lines name {} where this version expects {}",
                got.join(", "),
                expected.join(", ")
            ),
        ));
    }
    let mut weights = [0.0; super::country::N];
    for (w, l) in weights.iter_mut().zip(&lines[1..]) {
        *w = l.2;
    }
    Ok(super::country::CountryModel {
        bias: lines[0].2,
        weights,
        threshold: lines[lines.len() - 1].2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `largest` names the same features, in the same order, as sorting every one (stably)
    /// and cutting: ties included, which are common (a word and its pair often weigh alike).
    #[test]
    fn largest_agrees_with_a_full_stable_sort() {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        for round in 0..2000 {
            let len = (next() % 40) as usize;
            // Few distinct contributions, of both signs, so ties are frequent.
            let v: Vec<(u32, f64, f64)> = (0..len as u32)
                .map(|i| (i * 3, i as f64, (next() % 7) as f64 - 3.0))
                .collect();
            let n = (round % 9) as usize;
            let mut want = v.clone();
            want.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
            want.truncate(n);
            let mut got = v;
            largest(&mut got, n);
            assert_eq!(got, want, "round {round}");
        }
    }

    fn tiny() -> TextModel {
        let heads = vec!["flag".to_string(), "diplomacy".to_string()];
        let dense_names: Vec<Arc<str>> = vec![Arc::from("topic:diplomacy")];
        let mut index = KeyMap::default();
        index.insert(super::super::text::key("envoy"), 0);
        let mut weights = [0.0; super::super::country::N];
        weights[0] = 0.5;
        weights[4] = 1.25;
        TextModel {
            heads,
            threshold: vec![0.45, 0.3],
            bias: vec![-1.5, -0.25],
            dense_names,
            dense: vec![0.75, 1.5],
            terms: vec![Term {
                name: Arc::from("text:envoy"),
                idf: 2.5,
            }],
            weights: vec![0.125, -0.5],
            index,
            country: Some(super::super::country::CountryModel {
                bias: -2.0,
                weights,
                threshold: 0.4,
            }),
        }
    }

    /// What is written is read back as it was, the country decision included.
    #[test]
    fn a_model_round_trips_through_its_file() {
        let m = tiny();
        let back = parse(&m.to_text()).unwrap();
        assert_eq!(back, m);
    }

    /// Country lines that are not the bias, each feature of this version in order, and the
    /// threshold are refused with the line and what was expected.
    #[test]
    fn country_lines_for_another_version_are_refused() {
        let text = tiny().to_text();
        let broken = text.replacen("country\ttitle\t", "country\theadline\t", 1);
        let err = parse(&broken).unwrap_err();
        assert!(
            err.1.contains("headline") && err.1.contains("expects"),
            "{err:?}"
        );
        let dropped: String = text
            .lines()
            .filter(|l| !l.starts_with("country\tthreshold"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(parse(&dropped).is_err());
    }

    /// A word's character grams are explained as one feature, the word's letters, summing
    /// their contributions; each gram counts once, for the first word that has it.
    #[test]
    fn grams_are_explained_by_the_word_they_come_from() {
        let mut m = tiny();
        for (i, g) in ["#<ira", "#iran", "#<env"].into_iter().enumerate() {
            m.index.insert(super::super::text::key(g), i as u32 + 1);
            m.terms.push(Term {
                name: Arc::from(format!("text:{g}")),
                idf: 1.0,
            });
            m.weights.extend([0.5, 0.0]);
        }
        let text = "Iranian envoy\nIran";
        let s = m.score(&[0.0], text);
        let all = m.explain(0, (&[0.0], text), &s, 5);
        let get = |name: &str| all.iter().find(|c| &*c.0 == name);
        let iranian = get("text:~iranian").expect("the grams of \"iranian\"");
        assert_eq!(iranian.1, 2.0, "{all:?}");
        assert!(get("text:~iran").is_none(), "{all:?}");
        assert_eq!(get("text:~envoy").map(|c| c.1), Some(1.0), "{all:?}");
        assert!(get("text:envoy").is_some(), "{all:?}");
        assert!(!all.iter().any(|c| c.0.contains('#')), "{all:?}");
    }
}
