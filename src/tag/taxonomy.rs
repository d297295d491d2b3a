//! Loading the taxonomy: `config/topics.toml` (topics, organisations, flag signals),
//! `config/countries.toml` (the gazetteer and its ambiguity rules) and the flag model they point
//! to. Everything is validated and compiled once here, so tagging itself never fails and never
//! allocates a matcher.

use super::matcher::{self, AliasKind, Meaning, PatternSet};
use super::{TagDef, TagKind};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TaxonomyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot build the matcher: {0}")]
    Build(String),
    #[error(transparent)]
    Model(#[from] super::model::ModelError),
}

/// What a term group needs around a mention before the mention counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Needs {
    #[default]
    #[serde(rename = "")]
    Nothing,
    /// A country, organisation or state actor within the window.
    #[serde(rename = "state")]
    State,
    /// The article involves two states (or a state and an organisation, or a cross-border cue).
    #[serde(rename = "foreign")]
    Foreign,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    window: usize,
    flag_model: String,
    /// The trained model (`newsdesk train`); without it the flag model and the topic rules
    /// decide alone.
    #[serde(default)]
    model: Option<String>,
    topic: Vec<TopicRaw>,
    #[serde(default)]
    org: Vec<OrgRaw>,
    #[serde(default)]
    signal: Vec<SignalRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicRaw {
    slug: String,
    label: String,
    code: Option<String>,
    #[serde(default = "yes")]
    rules_alone: bool,
    terms: Vec<GroupRaw>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRaw {
    weight: f64,
    #[serde(default)]
    needs: Needs,
    #[serde(default)]
    unless: Vec<String>,
    terms: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRaw {
    slug: String,
    label: String,
    names: Vec<String>,
    #[serde(default)]
    topics: Vec<String>,
    /// How much a mention counts for `topics`, times `TagConfig::org_topic_weight`.
    #[serde(default = "one")]
    topic_weight: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalRaw {
    slug: String,
    terms: Vec<String>,
    /// Whether the trained model's flag head reads the signal (else only its topic heads do).
    #[serde(default = "yes")]
    flag: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountriesFile {
    #[serde(default)]
    blockers: Vec<String>,
    country: BTreeMap<String, CountryRaw>,
    #[serde(default)]
    ambiguous: Vec<AmbiguousRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountryRaw {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    demonyms: Vec<String>,
    #[serde(default)]
    capitals: Vec<String>,
    #[serde(default)]
    leaders: Vec<String>,
    #[serde(default)]
    places: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmbiguousRaw {
    text: String,
    code: String,
    confirm: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    person: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagModelFile {
    bias: f64,
    threshold: f64,
    weights: BTreeMap<String, f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct TopicDef {
    pub slug: String,
    pub label: String,
    pub code: Option<String>,
    /// Beside a trained model, whether the term rules alone tag the topic (else the model
    /// must rank it first or clear its threshold).
    pub rules_alone: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupDef {
    pub topic: usize,
    pub weight: f64,
    pub needs: Needs,
}

#[derive(Debug, Clone)]
pub(crate) struct CountryDef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct OrgDef {
    pub slug: String,
    pub label: String,
    pub topics: Vec<usize>,
    pub topic_weight: f64,
}

/// How an ambiguous name is confirmed or vetoed (see countries.toml).
#[derive(Debug, Clone)]
pub(crate) struct AmbiguityRule {
    pub country: usize,
    pub confirm_countries: Vec<usize>,
    pub confirm_any: bool,
    pub person: bool,
}

/// The logistic flag model: weights by feature name, resolved to feature indices at load.
#[derive(Debug, Clone)]
pub(crate) struct FlagModel {
    pub bias: f64,
    pub threshold: f64,
    pub weights: Vec<f64>,
}

/// The taxonomy with its compiled matcher. Built once per load; `tag` only reads it.
pub struct Taxonomy {
    pub(crate) patterns: PatternSet,
    pub(crate) window: usize,
    pub(crate) topics: Vec<TopicDef>,
    pub(crate) groups: Vec<GroupDef>,
    pub(crate) countries: Vec<CountryDef>,
    pub(crate) orgs: Vec<OrgDef>,
    pub(crate) signals: Vec<String>,
    pub(crate) rules: Vec<AmbiguityRule>,
    pub(crate) model: FlagModel,
    /// The trained model, when `topics.toml` names one.
    pub(crate) text_model: Option<std::sync::Arc<super::model::TextModel>>,
    /// Where `topics.toml` says the trained model is (whether or not it exists yet).
    pub(crate) text_model_path: Option<PathBuf>,
    /// The flag model's feature names, built once: evidence names the top contributions of
    /// every article, and formatting the names per article cost more than the model itself.
    pub(crate) feature_names: Vec<std::sync::Arc<str>>,
    pub(crate) config: super::TagConfig,
    /// Index of the "state-actor" and "cross-border" signals, which context rules use.
    pub(crate) state_signal: Option<usize>,
    pub(crate) cross_signal: Option<usize>,
    /// The dense features (indices into `feature_names`) the trained flag head leaves out:
    /// the signals marked `flag = false`, read by the topic heads only.
    pub(crate) not_for_flag: Vec<usize>,
}

fn read(path: &Path) -> Result<String, TaxonomyError> {
    std::fs::read_to_string(path).map_err(|source| TaxonomyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, TaxonomyError> {
    toml::from_str(text).map_err(|source| TaxonomyError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, message: String) -> TaxonomyError {
    TaxonomyError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

impl Taxonomy {
    /// Load and compile the taxonomy with the default tuning.
    pub fn load(topics: &Path, countries: &Path) -> Result<Taxonomy, TaxonomyError> {
        Self::load_with(topics, countries, super::TagConfig::default())
    }

    /// Load with explicit tuning (the `[tag]` table of the main config).
    pub fn load_with(
        topics: &Path,
        countries: &Path,
        config: super::TagConfig,
    ) -> Result<Taxonomy, TaxonomyError> {
        Self::load_parts(topics, countries, config, true)
    }

    /// Load without the trained model (which `newsdesk train` is about to write), keeping
    /// where it goes.
    pub fn load_untrained(
        topics: &Path,
        countries: &Path,
        config: super::TagConfig,
    ) -> Result<Taxonomy, TaxonomyError> {
        Self::load_parts(topics, countries, config, false)
    }

    fn load_parts(
        topics: &Path,
        countries: &Path,
        config: super::TagConfig,
        trained: bool,
    ) -> Result<Taxonomy, TaxonomyError> {
        let tf: TopicsFile = parse(topics, &read(topics)?)?;
        let cf: CountriesFile = parse(countries, &read(countries)?)?;
        let model_path = topics
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(&tf.flag_model);
        let mf: FlagModelFile = parse(&model_path, &read(&model_path)?)?;
        let text_model_path = tf
            .model
            .as_ref()
            .map(|m| topics.parent().unwrap_or_else(|| Path::new(".")).join(m));
        let mut tax = build(topics, countries, &model_path, tf, cf, mf, config)?;
        if let Some(path) = text_model_path.as_ref().filter(|_| trained) {
            let m = super::model::TextModel::load(path, &tax.model_heads(), &tax.feature_names)?;
            tax.text_model = Some(std::sync::Arc::new(m));
        }
        tax.text_model_path = text_model_path;
        Ok(tax)
    }

    /// The trained model's heads for this taxonomy: "flag", then every topic slug.
    pub fn model_heads(&self) -> Vec<String> {
        std::iter::once("flag".to_string())
            .chain(self.topics.iter().map(|t| t.slug.clone()))
            .collect()
    }

    /// Where `topics.toml` puts the trained model (`model = ...`), resolved.
    pub fn model_path(&self) -> Option<&Path> {
        self.text_model_path.as_deref()
    }

    /// The trained model in use, if any.
    pub fn text_model(&self) -> Option<&super::model::TextModel> {
        self.text_model.as_deref()
    }

    /// Every tag that can be assigned, for the `tags` table.
    pub fn tag_defs(&self) -> Vec<TagDef> {
        let topics = self.topics.iter().map(|t| TagDef {
            kind: TagKind::Topic,
            slug: t.slug.clone(),
            label: t.label.clone(),
            code: t.code.clone(),
        });
        let countries = self.countries.iter().map(|c| TagDef {
            kind: TagKind::Country,
            slug: c.code.clone(),
            label: c.name.clone(),
            code: None,
        });
        let orgs = self.orgs.iter().map(|o| TagDef {
            kind: TagKind::Org,
            slug: o.slug.clone(),
            label: o.label.clone(),
            code: None,
        });
        topics.chain(countries).chain(orgs).collect()
    }

    /// Replace the flag model with the one in `path` (to compare models trained on different
    /// splits without editing topics.toml).
    pub fn with_flag_model(mut self, path: &Path) -> Result<Taxonomy, TaxonomyError> {
        let mf: FlagModelFile = parse(path, &read(path)?)?;
        self.model = resolve_model(path, &self.feature_names, mf)?;
        Ok(self)
    }

    /// Names of the flag model's features, in the order `flag_features` returns them.
    pub fn feature_names(&self) -> Vec<String> {
        self.feature_names.iter().map(|n| n.to_string()).collect()
    }
}

fn check_term(path: &Path, what: &str, term: &str) -> Result<(), TaxonomyError> {
    let core = term.strip_suffix('*').unwrap_or(term);
    if core.trim().is_empty() || core.trim() != core {
        return Err(invalid(path, format!("{what}: bad term {term:?}")));
    }
    Ok(())
}

fn build(
    topics_path: &Path,
    countries_path: &Path,
    model_path: &Path,
    tf: TopicsFile,
    cf: CountriesFile,
    mf: FlagModelFile,
    config: super::TagConfig,
) -> Result<Taxonomy, TaxonomyError> {
    let mut set = matcher::Builder::default();
    let (topics, groups, topic_index) = build_topics(topics_path, &tf, &mut set)?;
    let orgs = build_orgs(topics_path, &tf, &topic_index, &mut set)?;
    let signals = build_signals(topics_path, &tf, &mut set)?;
    let (countries, country_index, aliases_of) = build_countries(countries_path, &cf)?;
    let (rules, rule_of) = build_rules(countries_path, &cf, &country_index, &aliases_of, &mut set)?;
    add_country_names(&cf, &country_index, &rule_of, &mut set);
    for b in &cf.blockers {
        check_term(countries_path, "blockers", b)?;
        set.add(b, Meaning::Blocker);
    }

    let feature_names: Vec<std::sync::Arc<str>> = super::features::feature_names(&topics, &signals)
        .into_iter()
        .map(Into::into)
        .collect();
    let model = resolve_model(model_path, &feature_names, mf)?;
    let state_signal = signals.iter().position(|s| s == "state-actor");
    let cross_signal = signals.iter().position(|s| s == "cross-border");
    let not_for_flag = tf
        .signal
        .iter()
        .filter(|s| !s.flag)
        .filter_map(|s| {
            let name = format!("signal:{}", s.slug);
            feature_names.iter().position(|n| **n == *name)
        })
        .collect();
    if tf.window == 0 {
        return Err(invalid(topics_path, "window must be positive".into()));
    }

    Ok(Taxonomy {
        patterns: set.build().map_err(TaxonomyError::Build)?,
        window: tf.window,
        topics,
        groups,
        countries,
        orgs,
        signals,
        rules,
        model,
        text_model: None,
        text_model_path: None,
        feature_names,
        config,
        state_signal,
        cross_signal,
        not_for_flag,
    })
}

type TopicIndex = HashMap<String, usize>;

/// Topics and their term groups.
fn build_topics(
    topics_path: &Path,
    tf: &TopicsFile,
    set: &mut matcher::Builder,
) -> Result<(Vec<TopicDef>, Vec<GroupDef>, TopicIndex), TaxonomyError> {
    let mut topics = Vec::new();
    let mut groups = Vec::new();
    let mut topic_index = HashMap::new();
    for t in &tf.topic {
        if topic_index.insert(t.slug.clone(), topics.len()).is_some() {
            return Err(invalid(
                topics_path,
                format!("topic {} defined twice", t.slug),
            ));
        }
        if let Some(code) = &t.code {
            if !code.starts_with("medtop:") {
                return Err(invalid(
                    topics_path,
                    format!("topic {}: code {code:?} is not an IPTC medtop code", t.slug),
                ));
            }
        }
        for g in &t.terms {
            if !(g.weight > 0.0 && g.weight.is_finite()) {
                return Err(invalid(
                    topics_path,
                    format!("topic {}: weight must be positive", t.slug),
                ));
            }
            let gi = groups.len();
            groups.push(GroupDef {
                topic: topics.len(),
                weight: g.weight,
                needs: g.needs,
            });
            for term in &g.terms {
                check_term(topics_path, &t.slug, term)?;
                set.add(term, Meaning::Term(gi as u32));
            }
            for u in &g.unless {
                check_term(topics_path, &t.slug, u)?;
                set.add(u, Meaning::Unless(gi as u32));
            }
        }
        topics.push(TopicDef {
            slug: t.slug.clone(),
            label: t.label.clone(),
            code: t.code.clone(),
            rules_alone: t.rules_alone,
        });
    }

    Ok((topics, groups, topic_index))
}

fn build_orgs(
    topics_path: &Path,
    tf: &TopicsFile,
    topic_index: &TopicIndex,
    set: &mut matcher::Builder,
) -> Result<Vec<OrgDef>, TaxonomyError> {
    let mut orgs = Vec::new();
    let mut org_slugs = HashSet::new();
    for o in &tf.org {
        if !org_slugs.insert(o.slug.clone()) {
            return Err(invalid(
                topics_path,
                format!("org {} defined twice", o.slug),
            ));
        }
        let mut ts = Vec::new();
        for slug in &o.topics {
            match topic_index.get(slug) {
                Some(&i) => ts.push(i),
                None => {
                    return Err(invalid(
                        topics_path,
                        format!("org {}: unknown topic {slug}", o.slug),
                    ))
                }
            }
        }
        if !(o.topic_weight.is_finite() && o.topic_weight >= 0.0) {
            return Err(invalid(
                topics_path,
                format!("org {}: topic_weight must be a number >= 0", o.slug),
            ));
        }
        for n in &o.names {
            check_term(topics_path, &o.slug, n)?;
            set.add(n, Meaning::Org(orgs.len() as u32));
        }
        orgs.push(OrgDef {
            slug: o.slug.clone(),
            label: o.label.clone(),
            topics: ts,
            topic_weight: o.topic_weight,
        });
    }

    Ok(orgs)
}

fn build_signals(
    topics_path: &Path,
    tf: &TopicsFile,
    set: &mut matcher::Builder,
) -> Result<Vec<String>, TaxonomyError> {
    let mut signals = Vec::new();
    for s in &tf.signal {
        for term in &s.terms {
            check_term(topics_path, &s.slug, term)?;
            set.add(term, Meaning::Signal(signals.len() as u32));
        }
        signals.push(s.slug.clone());
    }

    Ok(signals)
}

type CountryIndex = HashMap<String, usize>;
/// Every name of a country (alias text) to the countries it names.
type AliasesOf = HashMap<String, Vec<usize>>;

fn build_countries(
    countries_path: &Path,
    cf: &CountriesFile,
) -> Result<(Vec<CountryDef>, CountryIndex, AliasesOf), TaxonomyError> {
    let mut countries = Vec::new();
    let mut country_index = HashMap::new();
    let mut aliases_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (code, c) in &cf.country {
        let valid_code = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !valid_code {
            return Err(invalid(
                countries_path,
                format!("{code:?} is not an ISO 3166-1 alpha-2 code"),
            ));
        }
        let ci = countries.len();
        country_index.insert(code.clone(), ci);
        let lists = [&c.aliases, &c.demonyms, &c.capitals, &c.leaders, &c.places];
        for a in std::iter::once(&c.name).chain(lists.into_iter().flatten()) {
            check_term(countries_path, code, a)?;
            aliases_of.entry(a.clone()).or_default().push(ci);
        }
        countries.push(CountryDef {
            code: code.clone(),
            name: c.name.clone(),
        });
    }

    Ok((countries, country_index, aliases_of))
}

/// The ambiguity rule of each (alias text, country).
type RuleOf = HashMap<(String, usize), usize>;

/// Ambiguity rules: keyed by the alias text, which must belong to the rule's country.
fn build_rules(
    countries_path: &Path,
    cf: &CountriesFile,
    country_index: &CountryIndex,
    aliases_of: &AliasesOf,
    set: &mut matcher::Builder,
) -> Result<(Vec<AmbiguityRule>, RuleOf), TaxonomyError> {
    let mut rules = Vec::new();
    let mut rule_of: HashMap<(String, usize), usize> = HashMap::new();
    for r in &cf.ambiguous {
        let Some(&ci) = country_index.get(&r.code) else {
            return Err(invalid(
                countries_path,
                format!("ambiguous {:?}: unknown country {}", r.text, r.code),
            ));
        };
        if !aliases_of.get(&r.text).is_some_and(|v| v.contains(&ci)) {
            return Err(invalid(
                countries_path,
                format!("ambiguous {:?} is not a name of {}", r.text, r.code),
            ));
        }
        let ri = rules.len();
        let mut rule = AmbiguityRule {
            country: ci,
            confirm_countries: Vec::new(),
            confirm_any: false,
            person: r.person,
        };
        for cue in &r.confirm {
            if cue == "ANY" {
                rule.confirm_any = true;
            } else if let Some(&cc) = country_index.get(cue) {
                rule.confirm_countries.push(cc);
            } else {
                check_term(countries_path, &r.text, cue)?;
                set.add(cue, Meaning::Confirm(ri as u32));
            }
        }
        for cue in &r.deny {
            check_term(countries_path, &r.text, cue)?;
            set.add(cue, Meaning::Deny(ri as u32));
        }
        if rule_of.insert((r.text.clone(), ci), ri).is_some() {
            return Err(invalid(
                countries_path,
                format!("ambiguous {:?} defined twice", r.text),
            ));
        }
        rules.push(rule);
    }

    Ok((rules, rule_of))
}

/// Every name of every country, with the ambiguity rule it needs, if any.
fn add_country_names(
    cf: &CountriesFile,
    country_index: &CountryIndex,
    rule_of: &RuleOf,
    set: &mut matcher::Builder,
) {
    for (code, c) in &cf.country {
        let ci = country_index[code];
        let kinds: [(&[String], AliasKind); 6] = [
            (std::slice::from_ref(&c.name), AliasKind::Name),
            (&c.aliases, AliasKind::Name),
            (&c.demonyms, AliasKind::Demonym),
            (&c.capitals, AliasKind::Capital),
            (&c.leaders, AliasKind::Leader),
            (&c.places, AliasKind::Place),
        ];
        for (list, kind) in kinds {
            for a in list {
                let rule = rule_of.get(&(a.clone(), ci)).map(|&r| r as u16);
                set.add(
                    a,
                    Meaning::Country {
                        country: ci as u16,
                        kind,
                        rule,
                    },
                );
            }
        }
    }
}

fn resolve_model(
    path: &Path,
    names: &[std::sync::Arc<str>],
    mf: FlagModelFile,
) -> Result<FlagModel, TaxonomyError> {
    let mut weights = vec![0.0; names.len()];
    for (name, w) in &mf.weights {
        match names.iter().position(|n| **n == **name) {
            Some(i) => weights[i] = *w,
            None => return Err(invalid(path, format!("unknown feature {name:?}"))),
        }
    }
    if !(mf.threshold > 0.0 && mf.threshold < 1.0) {
        return Err(invalid(path, "threshold must be between 0 and 1".into()));
    }
    Ok(FlagModel {
        bias: mf.bias,
        threshold: mf.threshold,
        weights,
    })
}
