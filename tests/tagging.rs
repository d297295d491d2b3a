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
    let out: serde_json::Value = serde_json::from_str(&sb.run_ok(&["--json", "retag"])).unwrap();
    assert_eq!(
        (&out["retagged"], &out["flag_changed"]),
        (&2.into(), &0.into()),
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

/// The four corpus files the model is trained and cross-validated on.
fn training_args(corpus: &[String; 4]) -> Vec<&str> {
    let [articles, items, dev, feed_dev] = corpus;
    vec!["--articles", articles, items, "--labels", dev, feed_dev]
}

fn corpus_files() -> [String; 4] {
    let c = corpus();
    [
        "articles/articles.jsonl",
        "articles/feed-items.jsonl",
        "labels-dev.jsonl",
        "labels-feed-dev.jsonl",
    ]
    .map(|f| c.join(f).to_str().unwrap().to_owned())
}

/// Held out, not in-sample: each labelled feed is tagged by a model trained without it, with
/// thresholds chosen without it. The shipped training reaches flag F1 0.866, topics F1 0.701
/// and countries F1 0.917 over the 13 feeds (micro), and flag F1 0.887 over the dev sources
/// held out one at a time; a change that loses more than 0.03 of any fails here.
#[test]
fn leave_feeds_out_flag_f1_holds() {
    let sb = Sandbox::new();
    let files = corpus_files();
    let mut args = vec!["--json", "eval", "--cv"];
    args.extend(training_args(&files));
    let out = sb.run_ok(&args);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f1 = |r: &serde_json::Value| r["flag"]["f1"].as_f64().unwrap_or(0.0);
    let feeds = f1(&report["feeds"]);
    assert!(feeds >= 0.866 - 0.03, "leave-feeds-out flag F1 {feeds:.3}");
    let topics = report["feeds"]["topics"]["f1"].as_f64().unwrap_or(0.0);
    assert!(
        topics >= 0.701 - 0.03,
        "leave-feeds-out topics F1 {topics:.3}"
    );
    let countries = report["feeds"]["countries"]["f1"].as_f64().unwrap_or(0.0);
    assert!(
        countries >= 0.917 - 0.03,
        "leave-feeds-out countries F1 {countries:.3}"
    );
    // The topic errors split by cause add up to the topics' misses: those of the items whose
    // flag was missed and those of the topic choice on the items it caught.
    let errors = &report["feeds"]["topic_errors"];
    let missed = errors["flag_missed_topics"].as_u64().unwrap_or(0);
    let choice = errors["on_flagged"]["fn"].as_u64().unwrap_or(0);
    let total = report["feeds"]["topics"]["fn"].as_u64().unwrap_or(u64::MAX);
    assert!(missed > 0 && missed + choice == total, "{errors}");
    assert!(report["country_threshold"].is_number(), "{out}");
    assert_eq!(report["feeds"]["labelled"], 626, "{out}");
    let sources = f1(&report["sources"]);
    assert!(
        sources >= 0.887 - 0.03,
        "leave-source-out flag F1 {sources:.3}"
    );
}

/// The same labels and seed give the same model file, byte for byte; the file is what
/// `topics.toml` loads and it stays under 5 MB. A signal marked `flag = false` (world regions)
/// has no weight in the flag head and some in the topic heads.
#[test]
fn training_twice_gives_identical_weights() {
    let sb = Sandbox::new();
    let files = corpus_files();
    let train = |out: &str| {
        let out = sb.path(out);
        let mut args = vec!["train", "--out", out.to_str().unwrap()];
        args.extend(training_args(&files));
        sb.run_ok(&args);
        std::fs::read(out).unwrap()
    };
    let (a, b) = (train("a.tsv"), train("b.tsv"));
    assert!(!a.is_empty() && a == b, "two trainings differ");
    assert!(a.len() < 5 << 20, "{} bytes", a.len());
    let text = String::from_utf8(a).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("dense\tsignal:world-region\t"))
        .expect("the world-region signal's weights");
    let weights: Vec<f64> = line
        .split('\t')
        .skip(2)
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(weights[0], 0.0, "{line}");
    assert!(weights[1..].iter().any(|&w| w != 0.0), "{line}");
}

/// A sandbox whose taxonomy is a copy of the shipped one, in `tax/`, that a test can edit.
fn sandbox_with_taxonomy_copy() -> Sandbox {
    let sb = Sandbox::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    std::fs::create_dir(sb.path("tax")).unwrap();
    for f in [
        "topics.toml",
        "countries.toml",
        "flag-model.toml",
        "tagger-model.tsv",
    ] {
        std::fs::copy(repo.join(f), sb.path("tax").join(f)).unwrap();
    }
    let config = format!(
        "[store]\npath = \"{}\"\n\n[taxonomy]\ntopics = \"tax/topics.toml\"\ncountries = \"tax/countries.toml\"\n",
        sb.db().display()
    );
    std::fs::write(sb.config(), config).unwrap();
    sb
}

/// `check-config` (and every command) refuses a model file that is missing, truncated or
/// trained for another taxonomy, naming the file and what is wrong.
#[test]
fn a_missing_truncated_or_foreign_model_is_refused() {
    let sb = sandbox_with_taxonomy_copy();
    sb.run_ok(&["check-config"]);
    let model = sb.path("tax/tagger-model.tsv");
    let good = std::fs::read_to_string(&model).unwrap();
    let refused = |why: &str| {
        let out = sb.run(&["check-config"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("tagger-model.tsv") && err.contains(why),
            "expected {why:?}: {err}"
        );
    };

    std::fs::remove_file(&model).unwrap();
    refused("cannot read");
    std::fs::write(&model, &good[..good.len() / 2]).unwrap();
    refused("truncated");
    std::fs::write(&model, &good).unwrap();
    // A topic renamed: the flag model follows the rename, the trained model does not.
    for f in ["topics.toml", "flag-model.toml"] {
        let path = sb.path("tax").join(f);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("migration-refugees", "migration")).unwrap();
    }
    refused("another taxonomy");
}

/// Articles tagged before a model existed are tagged by it after `retag`: its thresholds
/// decide, and the evidence of the flag and of each topic names the words that weighed most.
#[test]
fn retag_applies_a_new_model_and_show_names_its_features() {
    let sb = sandbox_with_taxonomy_copy();
    let topics = sb.path("tax/topics.toml");
    let with_model = std::fs::read_to_string(&topics).unwrap();
    let without: String = with_model
        .lines()
        .filter(|l| !l.starts_with("model = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&topics, without).unwrap();
    let files = seeds();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    sb.run_ok(&args);
    let text_features = |sb: &Sandbox| {
        sb.count("SELECT count(*) FROM articles WHERE foreign_policy_evidence LIKE '%\"text:%'")
    };
    assert_eq!(text_features(&sb), 0);

    std::fs::write(&topics, with_model).unwrap();
    let out = sb.run_ok(&["--json", "retag"]);
    assert!(out.contains("\"retagged\":2"), "{out}");
    assert_eq!(text_features(&sb), 2, "both seeds explained by the model");
    let topic_features = sb.count(
        "SELECT count(*) FROM article_tags at JOIN tags t ON t.id = at.tag_id
          WHERE t.kind = 'topic' AND at.evidence LIKE '%\"features\"%'",
    );
    assert!(topic_features > 0);
    let show = sb.run_ok(&["show", "1"]);
    let because = show
        .lines()
        .find(|l| l.trim_start().starts_with("because of:"))
        .unwrap_or_else(|| panic!("{show}"));
    assert!(because.contains('"'), "words among the features: {because}");
}

/// The shipped taxonomy applied in memory, as the pipeline does.
fn tagger() -> newsdesk::pipeline::Tagger {
    let repo = env!("CARGO_MANIFEST_DIR");
    let config = newsdesk::config::Config::parse(
        &format!(
            "[taxonomy]\ntopics = \"{repo}/config/topics.toml\"\ncountries = \"{repo}/config/countries.toml\"\n"
        ),
        None,
    )
    .unwrap();
    newsdesk::pipeline::Tagger::load(&config).unwrap()
}

/// (flag, countries, topics) of an article with this headline and body.
fn verdict(
    t: &newsdesk::pipeline::Tagger,
    title: &str,
    body: &str,
) -> (bool, Vec<String>, Vec<String>) {
    let article = newsdesk::normalize::normalize(newsdesk::model::RawArticle {
        title: Some(title.into()),
        content_text: Some(body.into()),
        ..Default::default()
    })
    .unwrap();
    let tags = t.tag(&article);
    let of = |kind: &str| {
        tags.tags
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.slug.clone())
            .collect::<Vec<_>>()
    };
    (tags.foreign_policy, of("country"), of("topic"))
}

fn has(list: &[String], x: &str) -> bool {
    list.iter().any(|s| s == x)
}

#[test]
fn ambiguous_country_names_need_their_context() {
    let t = tagger();
    let cases: &[(&str, &str, &str, bool)] = &[
        // (headline, body, code, expected)
        ("Georgia governor signs budget", "ATLANTA - The Georgia governor signed the state budget on Monday after the legislature in Atlanta passed it.", "GE", false),
        ("Georgia and Russia resume talks", "Georgia and Russia resumed talks in Tbilisi on Monday over the breakaway regions of Abkhazia and South Ossetia.", "GE", true),
        ("Michael Jordan sells team stake", "Basketball great Michael Jordan sold his remaining stake in the Charlotte Hornets, the NBA club said.", "JO", false),
        ("Jordan's king meets Egyptian president", "Jordan's King Abdullah met the Egyptian president in Amman on Tuesday to discuss the war in Gaza.", "JO", true),
        ("Chad Smith joins tour", "Drummer Chad Smith said the band would tour Europe next summer.", "TD", false),
        ("Chad closes border with Sudan", "Chad closed its eastern border with Sudan on Monday, officials in N'Djamena said, as fighting spread in Darfur.", "TD", true),
        ("Turkey recipes for Thanksgiving", "Our Thanksgiving turkey recipe: brine the bird overnight and roast it in a hot oven with the stuffing.", "TR", false),
        ("Turkey and Greece hold talks", "Turkey and Greece held talks in Ankara on Tuesday about maritime borders in the Aegean, the Turkish foreign ministry said.", "TR", true),
        ("Nigeria's president visits Abuja market", "Nigeria's president toured a market in Abuja on Monday as food prices rose across Nigeria.", "NE", false),
        ("Niger's junta expels French envoy", "Niger's military junta expelled the French ambassador from Niamey on Friday, deepening the rift with Paris.", "NE", true),
        ("Guinea-Bissau holds election", "Voters in Guinea-Bissau chose a new parliament in Bissau on Sunday.", "GN", false),
        ("Guinea-Bissau holds election", "Voters in Guinea-Bissau chose a new parliament in Bissau on Sunday.", "GW", true),
        ("Papua New Guinea signs security pact", "Papua New Guinea signed a security pact with Australia in Port Moresby.", "GN", false),
        ("Equatorial Guinea frees detainees", "Equatorial Guinea released political detainees in Malabo on Monday.", "GN", false),
        ("Guinea's junta names cabinet", "Guinea's military rulers named a new cabinet in Conakry on Monday.", "GN", true),
        ("Alcaraz wins China Open", "Carlos Alcaraz won the China Open final on Wednesday, beating Jannik Sinner in three sets.", "CN", false),
        ("Denzel Washington wins award", "Actor Denzel Washington received a lifetime award at the festival on Saturday.", "US", false),
        ("Washington imposes sanctions on Moscow", "Washington imposed new sanctions on Moscow on Friday over the war in Ukraine, the Treasury said.", "US", true),
    ];
    let mut wrong = Vec::new();
    for (title, body, code, expected) in cases {
        let (_, countries, _) = verdict(&t, title, body);
        if has(&countries, code) != *expected {
            wrong.push(format!(
                "{title}: {code} expected {expected}, got {countries:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn sanctions_count_when_a_state_is_the_target() {
    let t = tagger();
    let (flag, _, topics) = verdict(
        &t,
        "EU widens sanctions on Iran",
        "The European Union imposed new sanctions on Iran's oil exports on Monday, freezing the assets of officials in Tehran.",
    );
    assert!(flag && has(&topics, "sanctions"), "{topics:?}");
    let (flag, _, topics) = verdict(
        &t,
        "Club sanctioned by the league",
        "The club was sanctioned by the league on Monday and fined for fielding an ineligible player in the cup match.",
    );
    assert!(!flag && !has(&topics, "sanctions"), "{topics:?}");
}

#[test]
fn a_country_named_in_passing_is_not_tagged_but_a_headline_or_repeated_one_is() {
    let t = tagger();
    let (_, countries, _) = verdict(
        &t,
        "France and Germany agree on border checks",
        "France and Germany agreed on Monday to keep joint border checks. French and German officials met in Paris; \
         a German minister said the checks would last a year. The talks followed a similar deal with Belgium last year.",
    );
    assert!(
        has(&countries, "FR") && has(&countries, "DE"),
        "{countries:?}"
    );
    assert!(!has(&countries, "BE"), "one passing mention: {countries:?}");
}

#[test]
fn bombs_and_militants_among_troops_are_armed_conflict_not_terrorism() {
    let t = tagger();
    // LABELING.md: insurgency against coalition or government forces is armed conflict.
    let (flag, _, topics) = verdict(
        &t,
        "Car bomb kills U.S. soldier in Baghdad",
        "A car bomb exploded next to a U.S. military convoy in Baghdad on Sunday, killing one soldier, \
         the military said.",
    );
    assert!(flag, "{topics:?}");
    assert!(has(&topics, "armed-conflict"), "{topics:?}");
    assert!(!has(&topics, "terrorism"), "{topics:?}");
    // A suicide bombing of civilians claimed by a named group stays terrorism.
    let (flag, _, topics) = verdict(
        &t,
        "Suicide bomber kills 20 at Kabul market",
        "A suicide bomber killed 20 people at a crowded market in Kabul on Friday. Islamic State \
         claimed the attack, and Pakistan and Iran condemned it as terrorism.",
    );
    assert!(flag && has(&topics, "terrorism"), "{topics:?}");
}

#[test]
fn a_missile_test_is_arms_control_but_missiles_fired_at_a_city_are_war() {
    let t = tagger();
    let (flag, _, topics) = verdict(
        &t,
        "Pakistan tests nuclear-capable missile",
        "Pakistan tested a nuclear-capable missile on Monday, the army said, days after India tested \
         its own missiles.",
    );
    assert!(flag && has(&topics, "nuclear-arms-control"), "{topics:?}");
    assert!(!has(&topics, "armed-conflict"), "{topics:?}");
    let (flag, _, topics) = verdict(
        &t,
        "Russia fires missiles at Kyiv",
        "Russia fired missiles and drones at Kyiv overnight, striking power stations, Ukraine's air force said. \
         Russian forces also shelled towns near the front line.",
    );
    assert!(flag && has(&topics, "armed-conflict"), "{topics:?}");
}

#[test]
fn trade_negotiations_are_trade_policy_not_diplomacy() {
    let t = tagger();
    let (flag, _, topics) = verdict(
        &t,
        "Japan and US sign agreement after tariff talks",
        "Japanese and US negotiators agreed a tariff deal after three days of talks in Tokyo. The two \
         governments welcomed the agreement in a joint statement and said negotiations on farm \
         subsidies would follow. Japan's trade minister met his US counterpart to sign it.",
    );
    assert!(flag && has(&topics, "trade-policy"), "{topics:?}");
    assert!(!has(&topics, "diplomacy"), "{topics:?}");
    let (flag, _, topics) = verdict(
        &t,
        "US and China hold talks on North Korea",
        "The US secretary of state met his Chinese counterpart in Beijing on Monday for talks on North \
         Korea, the State Department said.",
    );
    assert!(flag && has(&topics, "diplomacy"), "{topics:?}");
}

#[test]
fn a_raid_on_a_palestinian_refugee_camp_is_not_a_refugee_story() {
    let t = tagger();
    let (flag, _, topics) = verdict(
        &t,
        "Israeli troops raid Jenin refugee camp",
        "Israeli troops and bulldozers raided the Jenin refugee camp in the occupied West Bank on \
         Tuesday, killing two Palestinian gunmen, the Palestinian health ministry said.",
    );
    assert!(flag && has(&topics, "armed-conflict"), "{topics:?}");
    assert!(!has(&topics, "migration-refugees"), "{topics:?}");
    let (flag, _, topics) = verdict(
        &t,
        "Thousands reach refugee camps in Chad",
        "Thousands of Sudanese fleeing the fighting in Darfur reached refugee camps across the border \
         in Chad this week, the UN refugee agency said, as Chad asked donors for help.",
    );
    assert!(flag && has(&topics, "migration-refugees"), "{topics:?}");
}

#[test]
fn a_state_redeploying_its_troops_abroad_is_defence_cooperation() {
    let t = tagger();
    let (flag, countries, topics) = verdict(
        &t,
        "Dutch troops to redeploy near Kandahar",
        "The Netherlands will redeploy 400 soldiers to southern Afghanistan next month, where they \
         will serve under US command alongside Canadian forces, the Dutch defence ministry said.",
    );
    assert!(flag && has(&topics, "alliances-defence"), "{topics:?}");
    assert!(
        has(&countries, "NL") && has(&countries, "US"),
        "{countries:?}"
    );
}
