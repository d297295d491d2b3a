//! `newsdesk check-config`: everything that can be verified without side effects.

use super::UsageError;
use crate::config::Config;
use std::path::Path;

pub fn run(config: &Config, path: &Path, json: bool) -> anyhow::Result<u8> {
    crate::pipeline::Tagger::load(config).map_err(|e| UsageError(e.to_string()))?;
    crate::fetch::Fetcher::new(&config.fetch).map_err(|e| UsageError(e.to_string()))?;
    if json {
        println!("{}", serde_json::json!({"ok": true, "config": path}));
    } else {
        println!("{}: ok ({} feeds)", path.display(), config.feeds.len());
    }
    Ok(0)
}
