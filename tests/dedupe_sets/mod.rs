//! The corpus' near-duplicate sets (SOURCES.md section D), shared by the in-memory tests
//! (`dedupe_corpus.rs`) and the end-to-end ones (`dedupe_live.rs`), so both hold the detector
//! to the same answers.
#![allow(dead_code)]

/// The D1 clusters whose members are one wire story (AP/Reuters copy) in several outlets'
/// feeds; the other D1 clusters are independent write-ups of one event, which we leave apart.
pub const D1_WIRE: &[&[&str]] = &[
    &["f0040", "f0828", "f0887"], // Australia won't repatriate 34 women and children (ABC US, Japan Today, NPR)
    &["f0027", "f0825"], // Peru's Congress removes interim President Jeri (ABC US, Japan Today)
    &["f0039", "f0860"], // Iran closes Strait of Hormuz during talks (ABC US, NDTV)
    &["f0819", "f0863"], // Man arrested running toward US Capitol with shotgun (Japan Today, NDTV)
    &["f0029", "f0826"], // Macron holds talks with Modi (ABC US, Japan Today)
    &["f0238", "f0839"], // Accused Bondi killer appears in court (Dawn, Japan Today)
    &["f0064", "f0823"], // Hezbollah rejects disarmament plan (Al-Monitor/Reuters, Japan Today)
];

/// The item the Al Jazeera feed lists four times is one story.
pub const ALJAZEERA_REPEATS: &[&str] = &["f0066", "f0067", "f0068", "f0069"];

/// Feed items that share a subject but are different articles.
pub const FEED_APART: &[(&str, &str)] = &[
    // TIME: two articles on Trump's Greenland tariffs with the same background sentence.
    ("f1108", "f1110"),
    // Independent write-ups of one event by different outlets are separate articles.
    ("f0072", "f0241"),
    // The Week: "Magazine solutions" and "Magazine printables" of the same issue.
    ("f0983", "f0984"),
    // allAfrica items whose description is just "[allAfrica]".
    ("f0102", "f0120"),
];

/// D2: revisions and wire pairs within articles.jsonl.
pub const D2: &[(&str, &str)] = &[
    ("a0257", "a0258"),
    ("a0291", "a0292"),
    ("a0372", "a0373"),
    ("a0262", "a0264"),
    ("a0350", "a0351"),
    ("a0439", "a0442"),
    ("a0417", "a0418"),
    ("a0209", "a0211"),
    ("a0499", "a0501"),
    ("a0396", "a0398"),
    ("a0414", "a0415"),
    ("a0263", "a0267"),
    ("a0338", "a0339"),
    ("a0482", "a0483"),
    ("a0227", "a0228"),
    ("a0228", "a0229"),
    ("a0435", "a0436"),
    ("a0316", "a0317"),
    ("a0276", "a0278"),
    ("a0220", "a0223"),
    ("a0207", "a0208"),
    ("a0345", "a0347"),
    ("a0374", "a0389"),
    ("a0090", "a0144"),
    ("a0094", "a0141"),
    ("a0027", "a0048"),
    ("a0023", "a0037"),
    ("a0175", "a0198"),
];

/// articles.jsonl pairs that are different articles.
pub const ARTICLES_APART: &[(&str, &str)] = &[
    // BBC: two reports on one row (Livingstone's remark) sharing a background paragraph.
    ("a0102", "a0106"),
    // NYT front page: different headlines whose coder summary is the same three words.
    ("a0617", "a0618"),
    // AG News: two Reuters business leads that share only escaped ticker markup.
    ("a0371", "a0427"),
];
