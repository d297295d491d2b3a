//! Why two articles were or were not grouped: every test each detector applies to the pair,
//! with its value and the threshold it is held to, for `newsdesk dedupe --explain`. An analyst
//! who sees two copies apart (or two stories merged) can tell which rule decided it and file
//! a bug report that says so.

use super::fingerprint::Fingerprint;
use super::simhash::hamming;
use super::{short, DedupeConfig};

/// One test of one detector.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub value: serde_json::Value,
    /// The bound, written as the test reads ("<= 3", ">= 0.35").
    pub threshold: String,
    pub pass: bool,
}

/// A detector's verdict on the pair and the checks behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectorVerdict {
    pub detector: &'static str,
    pub matches: bool,
    pub checks: Vec<Check>,
}

fn check(
    name: &'static str,
    value: impl Into<serde_json::Value>,
    threshold: String,
    pass: bool,
) -> Check {
    Check {
        name,
        value: value.into(),
        threshold,
        pass,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Both detectors' verdicts on `a` and `b`, as the index would judge them if one were stored
/// and the other arrived (the index also needs them to share candidate keys; see
/// `shared_keys`).
pub fn explain(a: &Fingerprint, b: &Fingerprint, cfg: &DedupeConfig) -> Vec<DetectorVerdict> {
    vec![explain_simhash(a, b, cfg), explain_short(a, b, cfg)]
}

fn language(a: &Fingerprint, b: &Fingerprint) -> Check {
    check(
        "language",
        format!("{} / {}", a.lang().unwrap_or("?"), b.lang().unwrap_or("?")),
        "same, or unknown".into(),
        !a.lang_conflicts(b),
    )
}

fn explain_simhash(a: &Fingerprint, b: &Fingerprint, cfg: &DedupeConfig) -> DetectorVerdict {
    let d = hamming(a.simhash, b.simhash);
    let checks = vec![
        check(
            "words",
            a.words.min(b.words),
            format!(">= {} (both texts)", cfg.simhash_min_words),
            a.words.min(b.words) >= cfg.simhash_min_words,
        ),
        check(
            "simhash_distance",
            d,
            format!("<= {}", cfg.simhash_max_distance),
            d <= cfg.simhash_max_distance,
        ),
        language(a, b),
    ];
    DetectorVerdict {
        detector: super::Detector::Simhash.as_str(),
        matches: checks.iter().all(|c| c.pass),
        checks,
    }
}

fn explain_short(a: &Fingerprint, b: &Fingerprint, cfg: &DedupeConfig) -> DetectorVerdict {
    let s = short::score(a, b);
    let shared = shared_keys(a, b);
    let need = short::keys(a).len().clamp(1, 2);
    let mut checks = vec![
        check(
            "shared_candidate_keys",
            shared,
            format!(">= {need} of the {} smallest word hashes", short::KEYS),
            shared >= need,
        ),
        language(a, b),
    ];
    let window = cfg.short_window_hours as f64;
    checks.push(match short::seconds_apart(a, b) {
        Some((secs, basis)) => {
            let hours = round3(secs as f64 / 3600.0);
            check(
                "hours_apart",
                hours,
                format!("<= {window} ({} times)", basis.as_str()),
                hours <= window,
            )
        }
        None => check(
            "hours_apart",
            serde_json::Value::Null,
            "unknown times do not separate".into(),
            true,
        ),
    });
    let short_lede = a.lede_words().len().min(b.lede_words().len()) < cfg.short_min_lede_words;
    checks.push(check(
        "lede_jaccard",
        round3(s.lede),
        format!(">= {}", cfg.short_min_lede_jaccard),
        s.lede >= cfg.short_min_lede_jaccard,
    ));
    if short_lede {
        let words = |f: &Fingerprint| f.title_words().len() + f.lede_words().len();
        let w = words(a).min(words(b));
        checks.push(check(
            "short_lede_words",
            w,
            format!(
                ">= {} title + lede content words (a lede under {} words)",
                cfg.short_min_lede_words / 2,
                cfg.short_min_lede_words
            ),
            w >= cfg.short_min_lede_words / 2,
        ));
        checks.push(check(
            "title_jaccard",
            round3(s.title),
            format!(
                ">= {} (short lede: the headline decides)",
                cfg.short_headline_only_jaccard
            ),
            s.title >= cfg.short_headline_only_jaccard,
        ));
    } else {
        checks.push(check(
            "score",
            round3(s.score),
            format!(">= {} ((2 x lede + title) / 3)", cfg.short_min_score),
            s.score >= cfg.short_min_score,
        ));
        let rewritten = s.title < cfg.short_title_floor;
        checks.push(check(
            "title_or_near_identical_lede",
            serde_json::json!({"title_jaccard": round3(s.title), "lede_jaccard": round3(s.lede)}),
            format!(
                "title >= {} or lede >= {}",
                cfg.short_title_floor, cfg.short_lede_only_jaccard
            ),
            !rewritten || s.lede >= cfg.short_lede_only_jaccard,
        ));
    }
    let long = a.words.min(b.words) >= cfg.simhash_min_words;
    let d = hamming(a.simhash, b.simhash);
    checks.push(check(
        "long_texts_simhash_distance",
        d,
        format!(
            "<= {} when both have >= {} words",
            cfg.long_pair_max_distance, cfg.simhash_min_words
        ),
        !long || d <= cfg.long_pair_max_distance,
    ));
    DetectorVerdict {
        detector: super::Detector::ShortText.as_str(),
        matches: checks.iter().all(|c| c.pass),
        checks,
    }
}

/// Candidate keys (bottom-k word hashes) the two share: the short-text index only scores
/// pairs that share two.
pub fn shared_keys(a: &Fingerprint, b: &Fingerprint) -> usize {
    let kb = short::keys(b);
    short::keys(a).iter().filter(|k| kb.contains(k)).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedupe::NearDupIndex;

    fn fp(title: &str, body: &str, time: Option<i64>) -> Fingerprint {
        let a = crate::normalize::normalize(crate::model::RawArticle {
            title: Some(title.into()),
            content_text: Some(body.into()),
            ..Default::default()
        })
        .unwrap();
        let mut f = crate::dedupe::fingerprint(&a).seen_at(1_000);
        f.time = time;
        f
    }

    /// The explanation's verdict is the index's: pairs it explains as a match are found,
    /// pairs it explains as apart are not.
    #[test]
    fn the_verdict_agrees_with_the_index() {
        let cfg = DedupeConfig::default();
        let lede = "Foreign ministers of both countries opened talks in Geneva on Monday about reopening the border crossing closed since the spring";
        let cases = [
            (fp("Border talks open in Geneva", lede, Some(0)), true),
            (fp("Border talks open in Geneva", lede, Some(10 * 86_400)), false),
            (fp("Border talks open in Geneva", lede, None), true),
            (fp("Markets rally on rate cut hopes", "Shares rose across Asia on Tuesday as traders bet on lower interest rates this year", Some(0)), false),
        ];
        let stored = fp(
            "Border talks open in Geneva",
            &format!("GENEVA (Reuters) - {lede}"),
            Some(3600),
        );
        for (i, (other, want)) in cases.iter().enumerate() {
            let verdicts = explain(other, &stored, &cfg);
            let explained = verdicts.iter().any(|v| v.matches);
            let mut index = NearDupIndex::new(&cfg);
            index.insert(1, stored.clone());
            assert_eq!(index.find(other).is_some(), *want, "case {i}");
            assert_eq!(explained, *want, "case {i}: {verdicts:#?}");
        }
        let apart = explain(&cases[1].0, &stored, &cfg);
        let hours = apart[1]
            .checks
            .iter()
            .find(|c| c.name == "hours_apart")
            .unwrap();
        assert!(
            !hours.pass && hours.threshold.contains("dated"),
            "{hours:?}"
        );
    }
}
