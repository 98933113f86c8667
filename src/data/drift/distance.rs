//! How far apart two distributions are, whatever the sample sizes: the
//! Jensen–Shannon distance (√ of the divergence, base 2, in [0, 1]), the
//! population stability index (PSI, credit scoring's measure: under 0.1 no
//! change, 0.1–0.2 some, above 0.2 a shift), and the L-infinity distance of
//! category shares (TFDV's). Distances do not shrink with the sample size as
//! p-values do, so they suit large samples, where any difference is
//! significant; on small ones they are mostly noise (see `super`).

use crate::data::stats::{Frequencies, Histogram, bin_of};
use std::collections::HashMap;

/// The Jensen–Shannon distance between the baseline's histogram and
/// `values` binned on its edges (with an underflow and an overflow bin);
/// None when either side has no values.
pub fn jensen_shannon_binned(baseline: &Histogram, values: &[f64]) -> Option<f64> {
    let bins = baseline.counts.len();
    // [under, bins…, over]
    let mut base = vec![0.0; bins + 2];
    for (i, &c) in baseline.counts.iter().enumerate() {
        base[i + 1] = c as f64;
    }
    let mut current = vec![0.0; bins + 2];
    for &x in values {
        let slot = match bin_of(&baseline.edges, x) {
            Some(bin) => bin + 1,
            None if baseline.edges.first().is_some_and(|&e| x < e) => 0,
            None => bins + 1,
        };
        current[slot] += 1.0;
    }
    jensen_shannon(&base, &current)
}

/// √JSD(p, q) of two unnormalized distributions over the same bins; None
/// when either is empty.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> Option<f64> {
    let (tp, tq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    if tp <= 0.0 || tq <= 0.0 {
        return None;
    }
    let mut divergence = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / tp, b / tq);
        let m = (a + b) / 2.0;
        if a > 0.0 {
            divergence += 0.5 * a * (a / m).log2();
        }
        if b > 0.0 {
            divergence += 0.5 * b * (b / m).log2();
        }
    }
    Some(divergence.clamp(0.0, 1.0).sqrt())
}

/// Share of an empty bin in the PSI, which divides by shares and takes
/// their logarithm (the usual floor; a value only one side has still
/// counts, as ln(share / 0.0001)).
const PSI_FLOOR: f64 = 1e-4;

/// Σ (current − baseline) · ln(current / baseline) over the bins' shares;
/// None when either side is empty.
pub fn psi(baseline: &[f64], current: &[f64]) -> Option<f64> {
    let (tb, tc) = (baseline.iter().sum::<f64>(), current.iter().sum::<f64>());
    if tb <= 0.0 || tc <= 0.0 {
        return None;
    }
    Some(
        baseline
            .iter()
            .zip(current)
            .map(|(&b, &c)| {
                let (b, c) = ((b / tb).max(PSI_FLOOR), (c / tc).max(PSI_FLOOR));
                (c - b) * (c / b).ln()
            })
            .sum(),
    )
}

/// The largest difference between a category's share in the baseline and
/// in this dataset; None when either side is empty.
pub fn l_infinity(pairs: &[(u64, u64)]) -> Option<f64> {
    let tb = pairs.iter().map(|p| p.0).sum::<u64>() as f64;
    let tc = pairs.iter().map(|p| p.1).sum::<u64>() as f64;
    if tb <= 0.0 || tc <= 0.0 {
        return None;
    }
    Some(
        pairs
            .iter()
            .map(|&(b, c)| (b as f64 / tb - c as f64 / tc).abs())
            .fold(0.0, f64::max),
    )
}

/// The counts of each category on both sides, (baseline, current), the
/// values past the tracked ones compared as one "other".
pub fn category_pairs(baseline: &Frequencies, current: &Frequencies) -> Vec<(u64, u64)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for v in &baseline.values {
        index.insert(&v.value, pairs.len());
        pairs.push((v.count, 0));
    }
    for v in &current.values {
        match index.get(v.value.as_str()) {
            Some(&i) => pairs[i].1 += v.count,
            None => pairs.push((0, v.count)),
        }
    }
    if baseline.other + current.other > 0 {
        pairs.push((baseline.other, current.other));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::stats::ValueCount;

    fn uniform(from: f64, to: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| from + (to - from) * i as f64 / n as f64)
            .collect()
    }

    #[test]
    fn the_same_distribution_has_no_distance_and_a_disjoint_one_the_most() {
        let values = uniform(0.0, 10.0, 1000);
        let histogram = Histogram::build(Histogram::edges(0.0, 10.0, 20), &values);
        assert!(jensen_shannon_binned(&histogram, &values).unwrap() < 1e-9);
        let far = uniform(20.0, 30.0, 1000);
        assert!((jensen_shannon_binned(&histogram, &far).unwrap() - 1.0).abs() < 1e-9);
        let shifted = uniform(2.0, 12.0, 1000);
        let d = jensen_shannon_binned(&histogram, &shifted).unwrap();
        assert!(d > 0.3 && d < 0.8, "{d}");
        assert_eq!(jensen_shannon_binned(&histogram, &[]), None);
    }

    #[test]
    fn psi_is_zero_for_equal_shares_and_grows_with_the_move() {
        assert!(psi(&[1.0, 1.0], &[2.0, 2.0]).unwrap().abs() < 1e-12);
        // 50/50 to 70/30: 0.2·ln(1.4) − 0.2·ln(0.6) = 0.1695.
        let d = psi(&[50.0, 50.0], &[70.0, 30.0]).unwrap();
        assert!((d - 0.16946).abs() < 1e-4, "{d}");
        assert_eq!(psi(&[0.0], &[1.0]), None);
    }

    #[test]
    fn categories_pair_up_by_value_and_l_infinity_is_the_largest_share_change() {
        let f = |pairs: &[(&str, u64)], other| Frequencies {
            values: pairs
                .iter()
                .map(|(v, c)| ValueCount {
                    value: v.to_string(),
                    count: *c,
                })
                .collect(),
            other,
        };
        let base = f(&[("a", 50), ("b", 50)], 0);
        let pairs = category_pairs(&base, &f(&[("b", 20), ("a", 80)], 0));
        assert_eq!(pairs, vec![(50, 80), (50, 20)]);
        assert!((l_infinity(&pairs).unwrap() - 0.3).abs() < 1e-12);
        let new_value = category_pairs(&base, &f(&[("a", 50), ("c", 50)], 2));
        assert_eq!(new_value, vec![(50, 50), (50, 0), (0, 50), (0, 2)]);
        assert_eq!(l_infinity(&[(0, 3)]), None);
    }
}
