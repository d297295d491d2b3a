//! Which of the countries an article names it is substantially about (LABELING.md: "the
//! states in focus ... not every country named in passing"): a small logistic decision per
//! (article, named country) over how the country is named — in the headline or the lede, how
//! often, by name or only by a demonym or a city, its share of all country mentions, how many
//! states the article names — beside the gazetteer rules' own verdict and the flag's
//! probability. Trained with the text model (`train`) on the labelled items, each with the
//! flag's held-out probability. On a feed-sized item it vetoes countries the rules keep (their
//! precision is what failed on new outlets: 0.75); long articles and taxonomies without a
//! trained model keep the rules alone (`features::kept_countries`).

use super::doc::{Doc, Zone};
use super::features::Scored;
use super::matcher::AliasKind;

/// The decision's features, in the model file's order (after its bias).
pub(crate) const FEATURES: [&str; 15] = [
    "rules",
    "score",
    "share",
    "top",
    "title",
    "lede",
    "mentions",
    "by-name",
    "by-capital-or-leader",
    "demonym-only",
    "place-only",
    "countries-named",
    "sole",
    "flag",
    "long-text",
];
pub(crate) const N: usize = FEATURES.len();

/// The weights of the decision: `bias`, one weight per `FEATURES`, and the threshold on its
/// probability.
#[derive(Debug, Clone, PartialEq)]
pub struct CountryModel {
    pub bias: f64,
    pub weights: [f64; N],
    pub threshold: f64,
}

/// Every country the article names (a score above zero), with its features, in index order.
/// `kept` is what the gazetteer's rules keep, `p_flag` the flag's probability.
pub(super) fn candidates(
    doc: &Doc,
    s: &Scored,
    kept: &[usize],
    p_flag: f64,
) -> Vec<(usize, [f64; N])> {
    let mut named: Vec<usize> = s.country_hits.iter().map(|h| h.0).collect();
    named.sort_unstable();
    named.dedup();
    named.retain(|&c| s.country[c] > 0.0);
    let max = named.iter().map(|&c| s.country[c]).fold(0.0, f64::max);
    let ln = |x: f64| (1.0 + x).ln();
    let n = named.len() as f64;
    named
        .iter()
        .map(|&c| {
            let (mut title, mut lede, mut count) = (false, false, 0usize);
            let (mut name, mut capital, mut demonym, mut place) = (false, false, 0usize, 0usize);
            for h in s.country_hits.iter().filter(|h| h.0 == c) {
                count += 1;
                match h.2 {
                    Zone::Title => title = true,
                    Zone::Lede => lede = true,
                    _ => {}
                }
                match h.3 {
                    AliasKind::Name => name = true,
                    AliasKind::Capital | AliasKind::Leader => capital = true,
                    AliasKind::Demonym => demonym += 1,
                    AliasKind::Place => place += 1,
                }
            }
            let b = |x: bool| x as u8 as f64;
            let x = [
                b(kept.contains(&c)),
                ln(s.country[c]),
                s.country[c] / max,
                b(s.country[c] >= max),
                b(title),
                b(lede),
                ln(count as f64),
                b(name),
                b(capital),
                b(demonym == count),
                b(place == count),
                ln(n),
                b(named.len() == 1),
                p_flag,
                b(doc.body_scale < 1.0),
            ];
            (c, x)
        })
        .collect()
}

impl CountryModel {
    pub(crate) fn probability(&self, x: &[f64; N]) -> f64 {
        let z = self.bias + x.iter().zip(&self.weights).map(|(x, w)| x * w).sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }

    /// The countries kept, most probable first.
    pub(super) fn decide(&self, cands: &[(usize, [f64; N])]) -> Vec<usize> {
        let mut kept: Vec<(usize, f64)> = cands
            .iter()
            .map(|(c, x)| (*c, self.probability(x)))
            .filter(|&(_, p)| p >= self.threshold)
            .collect();
        kept.sort_by(|a, b| b.1.total_cmp(&a.1));
        kept.into_iter().map(|k| k.0).collect()
    }
}

/// Fit the decision on rows (features, is a gold country, weight) by Newton's method on the
/// L2-penalised log loss: a few exact steps on 16 weights, the same result every run.
pub(crate) fn fit(rows: &[([f64; N], bool, f64)], l2: f64, threshold: f64) -> CountryModel {
    const D: usize = N + 1;
    let mut w = [0.0f64; D];
    let x_of = |x: &[f64; N]| {
        let mut v = [1.0f64; D];
        v[1..].copy_from_slice(x);
        v
    };
    for _ in 0..25 {
        let mut g = [0.0f64; D];
        let mut h = [[0.0f64; D]; D];
        for (x, y, wt) in rows {
            let v = x_of(x);
            let z: f64 = v.iter().zip(&w).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let e = (p - *y as u8 as f64) * wt;
            let q = (p * (1.0 - p)).max(1e-9) * wt;
            for i in 0..D {
                g[i] += e * v[i];
                for j in 0..D {
                    h[i][j] += q * v[i] * v[j];
                }
            }
        }
        // The bias is not penalised.
        for i in 1..D {
            g[i] += l2 * w[i];
            h[i][i] += l2;
        }
        h[0][0] += 1e-9;
        let step = solve(h, g);
        let mut moved = 0.0f64;
        for i in 0..D {
            w[i] -= step[i];
            moved = moved.max(step[i].abs());
        }
        if moved < 1e-10 {
            break;
        }
    }
    let mut weights = [0.0; N];
    weights.copy_from_slice(&w[1..]);
    CountryModel {
        bias: w[0],
        weights,
        threshold,
    }
}

/// Solve `a x = b` by Gaussian elimination with partial pivoting (`a` is positive definite).
fn solve<const D: usize>(mut a: [[f64; D]; D], mut b: [f64; D]) -> [f64; D] {
    for col in 0..D {
        let pivot = (col..D)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        let d = a[col][col];
        if d.abs() < 1e-300 {
            continue;
        }
        let (pivot_row, pivot_b) = (a[col], b[col]);
        for (row, br) in a.iter_mut().zip(b.iter_mut()).skip(col + 1) {
            let f = row[col] / d;
            if f != 0.0 {
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *x -= f * p;
                }
                *br -= f * pivot_b;
            }
        }
    }
    let mut x = [0.0; D];
    for r in (0..D).rev() {
        let s: f64 = (r + 1..D).map(|k| a[r][k] * x[k]).sum();
        x[r] = if a[r][r].abs() < 1e-300 {
            0.0
        } else {
            (b[r] - s) / a[r][r]
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Newton's method finds the separating direction of a clean one-feature problem, and the
    /// same rows give the same weights.
    #[test]
    fn fit_learns_a_clear_rule_deterministically() {
        let mut rows = Vec::new();
        for i in 0..40 {
            let mut x = [0.0; N];
            x[4] = (i % 2) as f64; // "title"
            x[1] = (i % 5) as f64 / 10.0;
            rows.push((x, i % 2 == 1 || i % 7 == 0, 1.0));
        }
        let m = fit(&rows, 1.0, 0.5);
        assert!(m.weights[4] > 1.0, "{m:?}");
        let mut on = [0.0; N];
        on[4] = 1.0;
        assert!(m.probability(&on) > 0.5 && m.probability(&[0.0; N]) < 0.5);
        assert_eq!(m, fit(&rows, 1.0, 0.5));
    }

    #[test]
    fn solve_inverts_a_small_system() {
        let x = solve([[4.0, 1.0], [1.0, 3.0]], [1.0, 2.0]);
        assert!((x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12);
    }
}
