//! Index behaviour on synthetic articles written for these tests (corpus tests live in
//! `tests/dedupe_corpus.rs`).

use super::*;
use crate::model::{Article, RawArticle};

fn article(title: &str, body: &str, lang: &str, hour: i64) -> Article {
    let mut a = crate::normalize::normalize(RawArticle {
        title: Some(title.into()),
        content_text: Some(body.into()),
        lang: Some(lang.into()),
        ..Default::default()
    })
    .unwrap();
    a.published_at = chrono::DateTime::from_timestamp(1_770_000_000 + hour * 3600, 0);
    a
}

fn fp(title: &str, body: &str) -> Fingerprint {
    fingerprint(&article(title, body, "en", 0))
}

const WIRE: &str = "TOKYO (AP) - The foreign ministers of Japan and South Korea agreed on \
    Tuesday to resume regular security talks suspended since 2019, pledging closer cooperation \
    on North Korea's missile launches and maritime patrols.";
const WIRE_COPY: &str = "The foreign ministers of Japan and South Korea agreed on Tuesday to \
    resume regular security talks suspended since 2019, pledging closer cooperation on North \
    Korea's missile launches…";

#[test]
fn wire_copy_in_two_outlets_is_grouped_under_the_first() {
    let mut idx = NearDupIndex::new(&DedupeConfig::default());
    idx.insert(
        1,
        fp("Japan and South Korea agree to resume security talks", WIRE),
    );
    idx.insert(
        2,
        fp(
            "Seoul weighs new rice import quotas",
            "Farm ministry officials in \
        Seoul are weighing new rice import quotas after a poor harvest, a spokesman said.",
        ),
    );
    let m = idx
        .find(&fp(
            "Japan, South Korea to resume security talks",
            WIRE_COPY,
        ))
        .expect("wire copy must match");
    assert_eq!(m.article_id, 1);
    assert_eq!(m.detector, Detector::ShortText);
    assert_eq!(m.evidence["detector"], "short_text");
    assert_eq!(m.evidence["matched_article_id"], 1);
    assert!(m.similarity >= DedupeConfig::default().short_min_score);

    // A third copy joins the group through the second, still pointing at the earliest.
    idx.insert(
        3,
        fp("Japan, South Korea to resume security talks", WIRE_COPY),
    );
    let m = idx
        .find(&fp("Japan and S. Korea resume security talks", WIRE_COPY))
        .unwrap();
    assert_eq!(m.article_id, 1);
    assert_eq!(idx.len(), 3);
}

#[test]
fn different_languages_are_never_merged() {
    let mut idx = NearDupIndex::new(&DedupeConfig::default());
    idx.insert(
        1,
        fingerprint(&article(
            "Japan and South Korea resume talks",
            WIRE,
            "en",
            0,
        )),
    );
    // Same words (a feed mislabelled or a bilingual outlet): the declared languages differ.
    let de = fingerprint(&article(
        "Japan and South Korea resume talks",
        WIRE,
        "de",
        0,
    ));
    assert!(idx.find(&de).is_none());
    let en = fingerprint(&article(
        "Japan and South Korea resume talks",
        WIRE,
        "en",
        0,
    ));
    assert!(idx.find(&en).is_some());
}

#[test]
fn items_sharing_only_boilerplate_stay_apart() {
    let mut idx = NearDupIndex::new(&DedupeConfig::default());
    let tail = "\n\nRead more:\n\nAdvertisement\n\nShare this article";
    idx.insert(
        1,
        fp(
            "Storm closes ports along the Baltic coast",
            &format!("Storm warnings closed three ports on Monday.{tail}"),
        ),
    );
    let other = fp(
        "Court delays verdict in bribery trial",
        &format!("Judges postponed the ruling until March.{tail}"),
    );
    assert!(idx.find(&other).is_none());

    // A recurring feed blurb that is not on the boilerplate list: different headline and a
    // blurb too short to compare.
    let blurb = "Listen to the latest episode now.";
    idx.insert(2, fp("Episode 41: ports and storms", blurb));
    assert!(idx
        .find(&fp("Episode 42: courts and bribes", blurb))
        .is_none());
}

#[test]
fn follow_up_sharing_background_is_not_the_same_story() {
    let background = "The mayor has been under pressure since a leaked report last month \
        showed the city overspent on its new tram line by forty million, and opposition \
        councillors have called for an independent inquiry into the contracts awarded to \
        three firms linked to his former chief of staff.";
    let first = format!(
        "The city council voted on Monday to open an inquiry into the tram contracts, \
         the first such vote in a decade.\n\n{background}"
    );
    let second = format!(
        "The mayor's former chief of staff was arrested on Thursday at his home on \
         suspicion of fraud, police said.\n\n{background}"
    );
    let mut idx = NearDupIndex::new(&DedupeConfig::default());
    idx.insert(1, fp("Council opens inquiry into tram contracts", &first));
    assert!(idx
        .find(&fp("Mayor's former aide arrested over tram fraud", &second))
        .is_none());
}

#[test]
fn long_texts_within_three_bits_match_through_the_bands() {
    let cfg = DedupeConfig::default();
    let mut idx = NearDupIndex::new(&cfg);
    let words = |t: i64| {
        Fingerprint::from_parts(
            0,
            cfg.simhash_min_words,
            Some(t),
            Some("en"),
            vec![],
            vec![],
        )
    };
    let base: u64 = 0x0123_4567_89ab_cdef;
    let mut a = words(0);
    a.simhash = base;
    idx.insert(10, a);
    // Three bits flipped, one in each of three blocks: only the fourth block agrees.
    let mut near = words(0);
    near.simhash = base ^ (1 << 3) ^ (1 << 20) ^ (1 << 40);
    let m = idx.find(&near).expect("distance 3 must be found");
    assert_eq!((m.article_id, m.detector), (10, Detector::Simhash));
    assert_eq!(m.evidence["distance"], 3);
    // Four bits, one per block: beyond the threshold.
    let mut far = words(0);
    far.simhash = base ^ (1 << 3) ^ (1 << 20) ^ (1 << 40) ^ (1 << 60);
    assert!(idx.find(&far).is_none());
    // Short texts never use the SimHash, however close.
    let mut short = Fingerprint::from_parts(base, 10, Some(0), Some("en"), vec![], vec![]);
    short.simhash = base;
    assert!(idx.find(&short).is_none());
}

#[test]
fn time_window_and_ring_bound_the_short_index() {
    let cfg = DedupeConfig {
        short_max_entries: 3,
        ..DedupeConfig::default()
    };
    let mut idx = NearDupIndex::new(&cfg);
    let a = fingerprint(&article(
        "Japan and South Korea resume talks",
        WIRE,
        "en",
        0,
    ));
    idx.insert(1, a.clone());
    // A week later the same words are a different story (or at least not this one).
    let later = fingerprint(&article(
        "Japan and South Korea resume talks",
        WIRE,
        "en",
        24 * 7,
    ));
    assert!(idx.find(&later).is_none());
    for id in 2..=4 {
        idx.insert(
            id,
            fp(
                &format!("Unrelated item number {id}"),
                "Nothing in common here.",
            ),
        );
    }
    assert_eq!(idx.short_len(), 3);
    assert_eq!(idx.len(), 4);
    assert!(idx.find(&a).is_none(), "evicted from the ring");
}

#[test]
fn rebuild_from_stored_bytes_gives_the_same_answers() {
    let cfg = DedupeConfig::default();
    let items = [
        (
            1,
            fp("Japan and South Korea agree to resume security talks", WIRE),
        ),
        (
            2,
            fp("Japan, South Korea to resume security talks", WIRE_COPY),
        ),
    ];
    let mut live = NearDupIndex::new(&cfg);
    let mut stored = Vec::new();
    for (id, f) in &items {
        let group = live.find(f).map_or(*id, |m| m.article_id);
        live.insert_with_group(*id, group, f.clone());
        stored.push((*id, group, f.to_bytes()));
    }
    let mut rebuilt = NearDupIndex::new(&cfg);
    for (id, group, blob) in stored {
        rebuilt.insert_with_group(id, group, Fingerprint::from_bytes(&blob).unwrap());
    }
    let probe = fp("Japan and S. Korea resume security talks", WIRE_COPY);
    assert_eq!(live.find(&probe), rebuilt.find(&probe));
    assert_eq!(rebuilt.find(&probe).unwrap().article_id, 1);
}

#[test]
fn config_rejects_unknown_keys_and_bad_values() {
    let c: DedupeConfig = toml::from_str("simhash_max_distance = 2").unwrap();
    assert_eq!(c.simhash_max_distance, 2);
    assert_eq!(c.short_window_hours, 72);
    assert!(toml::from_str::<DedupeConfig>("simhash_max_distanse = 2").is_err());
    let bad = DedupeConfig {
        simhash_max_distance: 5,
        ..DedupeConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(DedupeConfigError::OutOfRange {
            field: "simhash_max_distance",
            ..
        })
    ));
    assert_eq!(DedupeConfig::default().validate(), Ok(()));
}
