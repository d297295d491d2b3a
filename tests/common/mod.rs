//! Helpers shared by the integration tests: the corpus location, a scratch folder with a
//! config, and running the real binary.
#![allow(dead_code)]

pub mod feed_server;
pub mod pg;
pub mod sources;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared corpus: $NEWSDESK_CORPUS, else ../shared/corpus beside the checkout. Missing
/// corpus is a failure, never a silent pass.
pub fn corpus() -> PathBuf {
    let dir = std::env::var_os("NEWSDESK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    assert!(
        dir.join("articles/articles.jsonl").is_file() && dir.join("SOURCES.md").is_file(),
        "corpus not found at {} (set NEWSDESK_CORPUS to the shared corpus folder)",
        dir.display()
    );
    dir
}

/// Whether we run in CI (`CI` set, as CI services and `.ci/run` do): there a missing tool is a
/// failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A tool a test needs is not installed: in CI that fails the test; elsewhere the test prints
/// a notice (`how` says how to install the tool) and the caller skips the check.
pub fn tool_missing(tool: &str, how: &str) {
    assert!(
        !in_ci(),
        "{tool} is not installed, and CI must run this check ({how})"
    );
    eprintln!("NOTICE: {tool} is not installed; skipping this check ({how})");
}

/// The seed articles, beside the corpus.
pub fn seeds() -> Vec<PathBuf> {
    let dir = corpus().join("../seeds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seeds folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        2,
        "expected the two seed articles in {}",
        dir.display()
    );
    files
}

/// A scratch folder with a config whose database lives inside it.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox::with_config("")
    }

    /// `extra` is appended to a config that points the store into the sandbox and the
    /// taxonomy at the repository's shipped files.
    pub fn with_config(extra: &str) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let repo_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let config = format!(
            "[store]\npath = \"{}\"\n\n[taxonomy]\ntopics = \"{}\"\ncountries = \"{}\"\n\n{extra}\n",
            dir.path().join("newsdesk.db").display(),
            repo_config.join("topics.toml").display(),
            repo_config.join("countries.toml").display(),
        );
        std::fs::write(dir.path().join("newsdesk.toml"), config).unwrap();
        Sandbox { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.path("newsdesk.db")
    }

    pub fn config(&self) -> PathBuf {
        self.path("newsdesk.toml")
    }

    /// Add `text` to the end of the sandbox's config.
    pub fn append_config(&self, text: &str) {
        let base = std::fs::read_to_string(self.config()).unwrap();
        std::fs::write(self.config(), format!("{base}{text}")).unwrap();
    }

    /// Run `newsdesk --config <sandbox config> args...`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_newsdesk"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("NEWSDESK_CONFIG")
            .output()
            .expect("run newsdesk")
    }

    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "newsdesk {args:?} failed: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}
