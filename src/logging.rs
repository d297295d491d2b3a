//! Log setup: one subscriber for the whole process, shaped for where it runs. Under systemd
//! (JOURNAL_STREAM set) lines carry no timestamp, since the journal adds its own, and start
//! with a syslog priority such as `<4>` (sd-daemon(3)), so `journalctl -p warning` and the
//! journal's colours work; on a terminal they are coloured; `format = "json"` gives one JSON
//! object per line for log shippers.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
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
            .event_format(journal_format())
            .with_ansi(false)
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

/// The syslog priority journald reads from a `<N>` line prefix (sd-daemon(3)): error is
/// LOG_ERR, warn LOG_WARNING, info LOG_INFO, debug and trace LOG_DEBUG.
pub fn syslog_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Prefix every line of `text` with `<priority>`: journald takes each line as its own entry,
/// so a multi-line message (a TOML error, say) keeps its priority on every line.
pub fn with_priority(priority: u8, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        out.push('<');
        out.push_str(&priority.to_string());
        out.push('>');
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Text lines for the journal: priority prefix, no timestamp, no colour, no module path.
pub fn journal_format() -> JournalFormat {
    JournalFormat {
        inner: format::Format::default()
            .without_time()
            .with_target(false)
            .with_ansi(false),
    }
}

/// An event formatter that renders with tracing's plain text format, then prefixes each line.
pub struct JournalFormat {
    inner: format::Format<format::Full, ()>,
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let priority = syslog_priority(event.metadata().level());
        writer.write_str(&with_priority(priority, &line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(syslog_priority(&Level::ERROR), 3);
        assert_eq!(syslog_priority(&Level::WARN), 4);
        assert_eq!(syslog_priority(&Level::INFO), 6);
        assert_eq!(syslog_priority(&Level::DEBUG), 7);
        assert_eq!(syslog_priority(&Level::TRACE), 7);
    }

    #[test]
    fn every_line_gets_the_prefix() {
        assert_eq!(with_priority(4, "one\ntwo\n"), "<4>one\n<4>two\n");
        assert_eq!(with_priority(6, "single"), "<6>single\n");
    }

    #[test]
    fn journal_lines_carry_priority_and_no_timestamp() {
        #[derive(Clone)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf(Arc::new(Mutex::new(Vec::new())));
        let writer = buf.clone();
        let sub = tracing_subscriber::registry().with(
            fmt::layer()
                .event_format(journal_format())
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .with_filter(tracing_subscriber::filter::LevelFilter::DEBUG),
        );
        tracing::subscriber::with_default(sub, || {
            tracing::error!(feed = "http://a.test/", "broken");
            tracing::warn!(error = %"line one\nline two", "config rejected");
            tracing::info!(new = 3, "polled");
            tracing::debug!("detail");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].contains("broken"), "{text}");
        assert!(
            lines[1].starts_with("<4> WARN") && lines[1].contains("line one"),
            "{text}"
        );
        assert!(lines[2].starts_with("<4>line two"), "{text}");
        assert!(
            lines[3].starts_with("<6>") && lines[3].contains("new=3"),
            "{text}"
        );
        assert!(lines[4].starts_with("<7>"), "{text}");
        // No timestamp: the level comes right after the prefix.
        assert!(lines[0].starts_with("<3>ERROR"), "{text}");
    }
}
