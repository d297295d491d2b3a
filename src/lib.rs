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
//! - [`cli`]: the command line; `main.rs` only maps its result to an exit code.

pub mod model;
pub mod normalize;
pub mod tag;
