//! How far a column's distribution moved from the baseline's, as TFDV
//! measures it: the Jensen–Shannon distance between histograms for numeric
//! columns (this dataset's values binned on the baseline's edges, with an
//! underflow and an overflow bin for values outside them), the L-infinity
//! distance between normalized value frequencies for the others. Both lie in
//! [0, 1]; a column drifts when its distance is above its threshold.

use super::stats::{Frequencies, Histogram, bin_of};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftMetric {
    JensenShannon,
    LInfinity,
}

impl DriftMetric {
    pub fn name(self) -> &'static str {
        match self {
            DriftMetric::JensenShannon => "Jensen-Shannon",
            DriftMetric::LInfinity => "L-infinity",
        }
    }
}

/// One column's drift from the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub column: String,
    pub metric: DriftMetric,
    pub distance: f64,
    pub threshold: f64,
}

impl Drift {
    pub fn drifted(&self) -> bool {
        self.distance > self.threshold
    }
}

/// Jensen–Shannon distance (the square root of the divergence, base 2)
/// between the baseline's histogram and `values` binned on its edges; None
/// when either side has no values.
pub fn jensen_shannon(baseline: &Histogram, values: &[f64]) -> Option<f64> {
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
    js_distance(&base, &current)
}

/// √JSD(p, q) of two unnormalized distributions over the same bins.
fn js_distance(p: &[f64], q: &[f64]) -> Option<f64> {
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

/// The largest difference between the share of a value in the baseline and
/// in this dataset (values past the tracked ones compared as one "other");
/// None when either side has no values.
pub fn l_infinity(baseline: &Frequencies, current: &Frequencies) -> Option<f64> {
    let total = |f: &Frequencies| f.values.iter().map(|v| v.count).sum::<u64>() + f.other;
    let (tb, tc) = (total(baseline) as f64, total(current) as f64);
    if tb <= 0.0 || tc <= 0.0 {
        return None;
    }
    let mut shares: HashMap<&str, (f64, f64)> = HashMap::new();
    for v in &baseline.values {
        shares.entry(&v.value).or_default().0 = v.count as f64 / tb;
    }
    for v in &current.values {
        shares.entry(&v.value).or_default().1 = v.count as f64 / tc;
    }
    let other = (baseline.other as f64 / tb - current.other as f64 / tc).abs();
    Some(
        shares
            .values()
            .map(|(b, c)| (b - c).abs())
            .fold(other, f64::max),
    )
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
        assert!(jensen_shannon(&histogram, &values).unwrap() < 1e-9);
        let far = uniform(20.0, 30.0, 1000);
        assert!((jensen_shannon(&histogram, &far).unwrap() - 1.0).abs() < 1e-9);
        let shifted = uniform(2.0, 12.0, 1000);
        let d = jensen_shannon(&histogram, &shifted).unwrap();
        assert!(d > 0.3 && d < 0.8, "{d}");
        assert_eq!(jensen_shannon(&histogram, &[]), None);
    }

    #[test]
    fn l_infinity_is_the_largest_change_of_a_share() {
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
        assert_eq!(l_infinity(&base, &base), Some(0.0));
        let current = f(&[("a", 80), ("b", 20)], 0);
        assert!((l_infinity(&base, &current).unwrap() - 0.3).abs() < 1e-12);
        let new_value = f(&[("a", 50), ("c", 50)], 0);
        assert!((l_infinity(&base, &new_value).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(l_infinity(&base, &f(&[], 0)), None);
    }
}
