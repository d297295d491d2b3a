//! Tagging through the real binary: tags and the flag are stored with their evidence, `show`
//! explains them, `tags --counts` and `retag` work on the store, `eval` runs on labelled data.

mod common;
use common::{corpus, seeds, Sandbox};

#[test]
fn seeds_are_tagged_with_evidence_and_retag_is_stable() {
    let sb = Sandbox::new();
    let files = seeds();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    sb.run_ok(&args);

    assert_eq!(
        sb.count("SELECT count(*) FROM articles WHERE foreign_policy = 1"),
        2
    );
    let countries: String = sb
        .sql()
        .query_row(
            "SELECT countries FROM foreign_policy_articles WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for cc in ["US", "PK", "AF", "KP", "CN", "IR", "RU", "SY"] {
        assert!(
            countries.split(',').any(|c| c == cc),
            "{cc} missing from {countries}"
        );
    }
    // Issue 5: the topics of the first seed, and the countries and topics of the second.
    let tags_of = |id: i64, kind: &str| -> Vec<String> {
        sb.sql()
            .prepare(
                "SELECT t.slug FROM article_tags at JOIN tags t ON t.id = at.tag_id
                  WHERE at.article_id = ?1 AND t.kind = ?2",
            )
            .unwrap()
            .query_map(rusqlite::params![id, kind], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let topics = tags_of(1, "topic");
    for t in [
        "diplomacy",
        "terrorism",
        "nuclear-arms-control",
        "sanctions",
    ] {
        assert!(topics.iter().any(|x| x == t), "{t} missing from {topics:?}");
    }
    let second = tags_of(2, "country");
    for cc in ["US", "KP", "CN"] {
        assert!(
            second.iter().any(|x| x == cc),
            "{cc} missing from {second:?}"
        );
    }
    let second = tags_of(2, "topic");
    for t in ["diplomacy", "nuclear-arms-control"] {
        assert!(second.iter().any(|x| x == t), "{t} missing from {second:?}");
    }
    let evidence: String = sb
        .sql()
        .query_row(
            "SELECT at.evidence FROM article_tags at JOIN tags t ON t.id = at.tag_id
              WHERE at.article_id = 1 AND t.kind = 'country' AND t.slug = 'PK'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        evidence.contains("Pakistan"),
        "evidence names the matched term: {evidence}"
    );
    let code: Option<String> = sb
        .sql()
        .query_row(
            "SELECT code FROM tags WHERE kind = 'topic' AND slug = 'diplomacy'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(code.as_deref(), Some("medtop:20000639"));

    let show = sb.run_ok(&["show", "1"]);
    assert!(
        show.contains("foreign policy: yes") && show.contains("PK") && show.contains("Pakistan"),
        "{show}"
    );
    let counts: serde_json::Value =
        serde_json::from_str(&sb.run_ok(&["--json", "tags", "--counts"])).unwrap();
    let pk = counts
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "PK")
        .unwrap();
    assert_eq!(pk["articles"], 1);
    let search = sb.run_ok(&["--json", "search", "Tillerson", "--country", "pk"]);
    assert!(search.contains("Pakistan"), "{search}");

    let before: Vec<(i64, i64, f64)> = tag_rows(&sb);
    let out = sb.run_ok(&["--json", "retag"]);
    assert!(
        out.contains("\"retagged\":2") && out.contains("\"flag_changed\":0"),
        "{out}"
    );
    assert_eq!(
        tag_rows(&sb),
        before,
        "retag with the same taxonomy changes nothing"
    );
}

fn tag_rows(sb: &Sandbox) -> Vec<(i64, i64, f64)> {
    sb.sql()
        .prepare("SELECT article_id, tag_id, score FROM article_tags ORDER BY 1, 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn eval_prints_scores_and_writes_predictions() {
    let sb = Sandbox::new();
    let preds = sb.path("predictions.jsonl");
    let out = sb.run_ok(&[
        "--json",
        "eval",
        "--articles",
        corpus().join("articles/articles.jsonl").to_str().unwrap(),
        "--labels",
        corpus().join("labels-dev.jsonl").to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["records"], 837, "{out}");
    let lines = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(lines.lines().count(), 837);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(
        first["foreign_policy"].is_boolean()
            && first["topics"].is_array()
            && first["countries"].is_array()
    );
    // The database is not touched.
    assert!(!sb.db().exists());
}

#[test]
fn flag_f1_on_the_dev_labels_stays_above_0_85() {
    let sb = Sandbox::new();
    let out = sb.run_ok(&[
        "--json",
        "eval",
        "--articles",
        corpus().join("articles/articles.jsonl").to_str().unwrap(),
        "--labels",
        corpus().join("labels-dev.jsonl").to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f1 = report["flag"]["f1"]
        .as_f64()
        .unwrap_or_else(|| panic!("no flag F1 in {out}"));
    assert!(f1 >= 0.85, "flag F1 {f1:.3} < 0.85");
}
