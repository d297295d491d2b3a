//! Log setup: one subscriber for the whole process, shaped for where it runs. Under systemd
//! (JOURNAL_STREAM set) lines carry no timestamp, since the journal adds its own; on a terminal
//! they are coloured; `format = "json"` gives one JSON object per line for log shippers.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log level `{level}` is not a valid filter: {message}")]
    Filter { level: String, message: String },
    #[error("cannot open log file {path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Install the global subscriber. `RUST_LOG`, when set, overrides `[log] level`. Calling it
/// twice (as tests do) keeps the first subscriber.
pub fn init(cfg: &LogConfig) -> Result<(), LogError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v),
        _ => EnvFilter::try_new(&cfg.level),
    }
    .map_err(|e| LogError::Filter {
        level: cfg.level.clone(),
        message: e.to_string(),
    })?;

    let file = match &cfg.file {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| LogError::File {
                    path: path.clone(),
                    source,
                })?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LogError::File {
                    path: path.clone(),
                    source,
                })?;
            Some(std::sync::Arc::new(f))
        }
        None => None,
    };

    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let terminal = std::io::stderr().is_terminal();
    let json = cfg.format == LogFormat::Json;
    let text_plain = cfg.format == LogFormat::Text;

    let stderr_layer = if json {
        fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(false)
            .boxed()
    } else if under_journal && !text_plain {
        fmt::layer()
            .without_time()
            .with_ansi(false)
            .with_target(false)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        fmt::layer()
            .with_ansi(terminal)
            .with_target(false)
            .with_writer(std::io::stderr)
            .boxed()
    };
    let file_layer = file.map(|f| {
        if json {
            fmt::layer().json().with_writer(f).boxed()
        } else {
            fmt::layer()
                .with_ansi(false)
                .with_target(false)
                .with_writer(f)
                .boxed()
        }
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    Ok(())
}
