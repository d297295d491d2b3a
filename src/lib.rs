//! newsdesk: a news-ingest daemon.
//!
//! # Layout
//! The data's path, one module per stage:
//!
//! ```text
//! fetch (HTTP) -> parse (feed-rs) -> normalize -> dedupe -> tag -> store (one writer, SQLite)
//! ingest (local files, spool) ------^
//! ```
//!
//! - [`model`]: the plain types passed between stages.
//! - [`normalize`]: raw item -> clean `Article` (text, canonical URL, times, language).
//! - [`config`]: raw TOML -> validated `Config`.
//! - [`store`]: migrations, the single writer, read queries.
//! - [`ingest`]: local article files (text, HTML, JSON, JSON Lines) -> raw articles.
//! - [`service`]: systemd notify, events that log and count, `/healthz` and `/metrics`.
//! - [`cli`]: the command line; `main.rs` only maps its result to an exit code.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dedupe;
pub mod fetch;
pub mod fulltext;
pub mod ingest;
pub mod logging;
pub mod model;
pub mod normalize;
pub mod opml;
pub mod parse;
pub mod pipeline;
pub mod poll;
pub mod schedule;
pub mod service;
pub mod spool;
pub mod store;
pub mod tag;
pub mod words;

#[cfg(test)]
mod test_corpus;
