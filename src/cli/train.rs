//! `newsdesk train` (fit the tagger model on labelled records and write it where the taxonomy
//! names it) and `newsdesk eval --cv` (the same training, measured group by group).

use super::UsageError;
use crate::config::Config;
use crate::pipeline::Tagger;
use crate::tag::train::{self, Params};
use std::path::{Path, PathBuf};

/// What `train` and `eval --cv` read.
pub struct Inputs<'a> {
    pub articles: &'a [PathBuf],
    pub labels: &'a [PathBuf],
    pub seed: u64,
}

fn load(config: &Config, inputs: &Inputs) -> anyhow::Result<(Tagger, train::Data, Params)> {
    // Without the current model: training must work when it is missing or for an old taxonomy.
    let taxonomy = crate::tag::Taxonomy::load_untrained(
        &config.taxonomy.topics,
        &config.taxonomy.countries,
        config.tag.clone(),
    )?;
    let tagger = Tagger::new(taxonomy);
    let data = train::load(tagger.taxonomy(), inputs.articles, inputs.labels)?;
    if data.examples.is_empty() {
        return Err(UsageError(
            "no labelled records: no id in the --labels files matches a record of --articles"
                .into(),
        )
        .into());
    }
    let params = Params {
        seed: inputs.seed,
        ..Params::default()
    };
    Ok((tagger, data, params))
}

fn print_cv(cv: &train::CvReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(cv)?);
    } else {
        print!("{cv}");
    }
    Ok(())
}

/// `eval --cv`: leave-one-group-out figures, nothing written.
pub fn cross_validate(config: &Config, inputs: &Inputs, json: bool) -> anyhow::Result<u8> {
    let (tagger, data, params) = load(config, inputs)?;
    let cv = train::cross_validate(tagger.taxonomy(), &data, &params);
    print_cv(&cv, json)?;
    Ok(0)
}

/// `train`: cross-validate (for the thresholds and the figures), fit on every labelled record,
/// write the model to `out` or where `topics.toml` names it.
pub fn run(config: &Config, inputs: &Inputs, out: Option<&Path>, json: bool) -> anyhow::Result<u8> {
    let (tagger, data, params) = load(config, inputs)?;
    let tax = tagger.taxonomy();
    let Some(out) = out.or(tax.model_path()) else {
        return Err(UsageError(format!(
            "no --out and {} names no model file (model = \"tagger-model.tsv\")",
            config.taxonomy.topics.display()
        ))
        .into());
    };
    let (model, cv) = train::train(tax, &data, &params);
    let text = model.to_text();
    // Written beside the old one, then renamed over it: a reader never sees half a model.
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, &text)
        .and_then(|()| std::fs::rename(&tmp, out))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    print_cv(&cv, json)?;
    if !json {
        println!(
            "{}: {} labelled records, {} terms, {} KB",
            out.display(),
            data.examples.len(),
            model.terms.len(),
            text.len() / 1024
        );
    }
    Ok(0)
}
