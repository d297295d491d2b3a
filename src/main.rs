//! The `newsdesk` binary: parse the command line, run it, map the outcome to an exit code
//! (0 ok, 1 runtime failure, 2 bad usage or config).

use clap::Parser;
use newsdesk::cli::{run, Cli, UsageError};
use newsdesk::config::ConfigError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            let usage = e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<newsdesk::logging::LogError>().is_some()
                || e.downcast_ref::<newsdesk::tag::TaxonomyError>().is_some();
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
