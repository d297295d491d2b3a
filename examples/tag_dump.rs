//! Every record of a JSON Lines file, tagged, as one JSON line each: the full tagging (tags,
//! scores, evidence), the tagging with every threshold off (so evidence of tags that normally
//! fall below them is dumped too), the raw scores and the flag model's features. For checking
//! that a change to the tagger's mechanics leaves its output byte-identical:
//!
//! cargo run --release --example tag_dump -- FILE.jsonl > before.jsonl   (then diff)
//!
//! Records go through the same path as `newsdesk eval` (`eval::read_records`, `eval::articles`).

use newsdesk::tag::{eval, flag_features, raw_scores, tag, TagConfig, Taxonomy};
use std::io::Write;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let (topics, countries) = (dir.join("topics.toml"), dir.join("countries.toml"));
    let base = Taxonomy::load(&topics, &countries)?;
    let open = TagConfig {
        country_min: 0.0,
        country_rel: 0.0,
        country_rel_other: 0.0,
        topic_min: 0.0,
        topic_rel: 0.0,
        org_min: 0.0,
        ..TagConfig::default()
    };
    let all = Taxonomy::load_with(&topics, &countries, open)?;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for file in std::env::args().skip(1) {
        let records = eval::read_records(&PathBuf::from(&file))?;
        for (id, article) in eval::articles(&records) {
            let line = match article {
                Some(a) => serde_json::json!({
                    "id": id,
                    "tagging": tag(&base, &a),
                    "open": tag(&all, &a),
                    "raw": raw_scores(&base, &a),
                    "features": flag_features(&base, &a),
                }),
                None => serde_json::json!({"id": id, "article": null}),
            };
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(())
}
