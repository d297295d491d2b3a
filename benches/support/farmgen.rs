//! Generated news for the load harness (`examples/feedfarm.rs`, `benches/stages.rs`): feeds of
//! items with 1-3 KB of HTML, varied enough that dedupe keeps them apart, with the countries,
//! bodies and policy words that give the tagger real work. Deterministic per (feed, item).

// Each user of this file uses a different part of it.
#![allow(dead_code)]

use std::fmt::Write;

const SUBJECTS: &[&str] = &[
    "The foreign minister",
    "Officials in the capital",
    "A government spokesman",
    "The defence ministry",
    "Diplomats at the talks",
    "The central bank",
    "Opposition leaders",
    "Negotiators",
    "The prime minister",
    "Regional governors",
    "Trade representatives",
    "Aid agencies",
    "The election commission",
    "Energy companies",
    "Farmers' unions",
    "Local residents",
    "The health ministry",
    "Military commanders",
    "Business groups",
    "Lawmakers",
    "The coast guard",
    "University researchers",
    "Port authorities",
];
const VERBS: &[&str] = &[
    "said on Tuesday that",
    "warned that",
    "announced that",
    "denied reports that",
    "confirmed that",
    "argued that",
    "told reporters that",
    "signalled that",
    "insisted that",
    "acknowledged that",
    "cautioned that",
    "expected that",
];
const CLAUSES: &[&str] = &[
    "talks on the border dispute would resume next week",
    "new sanctions on oil exports were under consideration",
    "the ceasefire had largely held despite sporadic shelling",
    "inflation had eased for a third consecutive month",
    "a delegation would travel to Geneva for the nuclear negotiations",
    "tariffs on steel and aluminium imports would be reviewed",
    "the harvest was expected to be the largest in a decade",
    "the summit had produced a joint statement on maritime security",
    "refugee arrivals had risen sharply along the southern frontier",
    "the budget deficit would narrow under the new spending plan",
    "peacekeepers had been deployed to the disputed province",
    "the embassy would reopen after two years of closure",
    "investment in renewable power had doubled since last year",
    "the court would rule on the extradition request within weeks",
    "the alliance planned joint exercises in the spring",
    "the strike at the port had disrupted container traffic",
    "the vaccine campaign would reach rural districts by summer",
    "the intelligence service had detained two suspected agents",
    "the railway project would link the capital with the coast",
    "an agreement on grain shipments was close",
];
const PLACES: &[&str] = &[
    "China",
    "Russia",
    "Ukraine",
    "Iran",
    "Israel",
    "India",
    "Pakistan",
    "Brazil",
    "Nigeria",
    "Japan",
    "Germany",
    "France",
    "Turkey",
    "Egypt",
    "Mexico",
    "Indonesia",
    "South Korea",
    "North Korea",
    "Saudi Arabia",
    "Venezuela",
    "Poland",
    "Kenya",
    "Vietnam",
    "Argentina",
];
const BODIES: &[&str] = &[
    "the United Nations",
    "NATO",
    "the European Union",
    "the IAEA",
    "the World Trade Organization",
    "the African Union",
    "ASEAN",
    "the G20",
    "OPEC",
    "the International Criminal Court",
];
const TAILS: &[&str] = &[
    "according to people familiar with the matter",
    "in a statement released late on Monday",
    "although details remained unclear",
    "citing figures from the statistics office",
    "as pressure mounted ahead of the vote",
    "a move analysts described as long overdue",
    "after weeks of speculation",
    "in remarks broadcast on state television",
];
const TOPIC_WORDS: &[&str] = &[
    "Talks",
    "Sanctions",
    "Ceasefire",
    "Tariffs",
    "Summit",
    "Election",
    "Harvest",
    "Strike",
    "Budget",
    "Embassy",
    "Pipeline",
    "Exercises",
    "Refugees",
    "Court",
    "Railway",
    "Vaccine",
];

/// A small fast generator (xorshift64*), seeded per item so every run serves the same farm.
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
}

pub struct Item {
    pub title: String,
    pub link: String,
    /// HTML paragraphs, 1-3 KB.
    pub html: String,
    /// Unix seconds; later items are newer.
    pub published: i64,
}

/// Item `item` of feed `feed`. The serial numbers in the text keep every item distinct for
/// dedupe (no two share a title or a lede), as distinct stories would be.
pub fn item(feed: usize, item: usize) -> Item {
    let mut g = Gen::new(((feed as u64) << 32) ^ item as u64 ^ 0x5eed);
    let place = g.pick(PLACES);
    let title = format!(
        "{} {} as {} weighs {} (report {feed}-{item})",
        place,
        g.pick(TOPIC_WORDS).to_lowercase(),
        g.pick(PLACES),
        g.pick(TOPIC_WORDS).to_lowercase()
    );
    let target = 1000 + g.below(2000);
    let mut html = String::with_capacity(target + 400);
    let mut paragraph = 0;
    while html.len() < target {
        html.push_str("<p>");
        for _ in 0..(2 + g.below(3)) {
            let _ = write!(
                html,
                "{} {} {} {} {}. ",
                g.pick(SUBJECTS),
                if paragraph == 0 { "in" } else { "from" },
                if g.below(3) == 0 {
                    g.pick(BODIES)
                } else {
                    place
                },
                g.pick(VERBS),
                g.pick(CLAUSES),
            );
            if g.below(2) == 0 {
                let _ = write!(
                    html,
                    "The figure stood at {} {}. ",
                    g.below(90_000),
                    g.pick(TAILS)
                );
            }
        }
        // One sentence per paragraph unique to this item.
        let _ = writeln!(html, "Case file {feed}/{item}/{paragraph} was cited.</p>");
        paragraph += 1;
    }
    Item {
        title,
        link: format!("https://farm.example/feed{feed}/story{item}"),
        html,
        published: BASE_TIME + item as i64 * 600 + g.below(600) as i64,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// 2026-11-01T00:00:00Z: item 0 of every feed; each later item ten minutes on.
pub const BASE_TIME: i64 = 1_793_491_200;

/// RSS 2.0 for feed `feed` holding items `first..first + count`, newest first.
pub fn rss(feed: usize, first: usize, count: usize) -> String {
    let mut out = String::with_capacity(count * 2600 + 512);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Farm feed {feed}</title><link>https://farm.example/feed{feed}/</link>\
         <description>Generated news</description><language>en</language>\n"
    );
    for i in (first..first + count).rev() {
        let it = item(feed, i);
        let when = chrono::DateTime::from_timestamp(it.published, 0)
            .unwrap_or_default()
            .to_rfc2822();
        let _ = writeln!(
            out,
            "<item><title>{}</title><link>{}</link><guid>{}</guid><pubDate>{when}</pubDate>\
             <description>{}</description></item>",
            escape(&it.title),
            it.link,
            it.link,
            escape(&it.html)
        );
    }
    out.push_str("</channel></rss>\n");
    out
}
