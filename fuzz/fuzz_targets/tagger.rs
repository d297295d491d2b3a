//! The tagger, on any text read as an article file (headline, blank line, body), with the
//! shipped taxonomy and flag model from `config/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsdesk::pipeline::Tagger;
use newsdesk::tag::Taxonomy;
use std::path::Path;
use std::sync::OnceLock;

fn tagger() -> &'static Tagger {
    static TAGGER: OnceLock<Tagger> = OnceLock::new();
    TAGGER.get_or_init(|| {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let taxonomy = Taxonomy::load(&config.join("topics.toml"), &config.join("countries.toml"))
            .expect("the shipped taxonomy loads");
        Tagger::new(taxonomy)
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let raw = newsdesk::ingest::parse_text(&text);
    if let Ok(article) = newsdesk::normalize::normalize(raw) {
        let tags = tagger().tag(&article);
        assert!(
            tags.score.is_finite(),
            "score {} for {:?}",
            tags.score,
            article.title
        );
    }
});
