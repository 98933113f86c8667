//! The two sides of a numeric comparison as step functions: the baseline's
//! stored quantiles (every value when it had at most
//! [`MAX_EXACT_QUANTILES`](crate::data::stats::QUANTILES) of them, else a
//! grid of quantiles of its sample) and this dataset's sample, both sorted.
//! Each point weighs the same on its side, so walking the two lists in order
//! gives both empirical distribution functions at every step, from which the
//! Kolmogorov–Smirnov statistic and the Wasserstein distance follow.

/// `f(x, F_baseline(x), F_current(x), next_x)` at every distinct point, in
/// order: the two distribution functions just after `x`, and the next point
/// (None after the last).
fn walk(baseline: &[f64], current: &[f64], mut f: impl FnMut(f64, f64, f64, Option<f64>)) {
    let (n, m) = (baseline.len() as f64, current.len() as f64);
    let (mut i, mut j) = (0, 0);
    while i < baseline.len() || j < current.len() {
        let x = match (baseline.get(i), current.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while baseline.get(i).is_some_and(|&a| a <= x) {
            i += 1;
        }
        while current.get(j).is_some_and(|&b| b <= x) {
            j += 1;
        }
        // Only a NaN (which a baseline file may hold) stops both: the rest
        // is not comparable.
        if (i, j) == (i0, j0) {
            break;
        }
        let next = match (baseline.get(i), current.get(j)) {
            (Some(&a), Some(&b)) => Some(a.min(b)),
            (Some(&a), None) => Some(a),
            (None, Some(&b)) => Some(b),
            (None, None) => None,
        };
        f(x, i as f64 / n, j as f64 / m, next);
    }
}

/// The largest gap between the two distribution functions; 0 when either
/// side is empty.
pub fn ks_statistic(baseline: &[f64], current: &[f64]) -> f64 {
    if baseline.is_empty() || current.is_empty() {
        return 0.0;
    }
    let mut d: f64 = 0.0;
    walk(baseline, current, |_, fb, fc, _| d = d.max((fb - fc).abs()));
    d
}

/// The first Wasserstein distance, ∫|F_baseline − F_current| dx: how far,
/// in the column's unit, the mass has to move; 0 when either side is empty.
pub fn wasserstein(baseline: &[f64], current: &[f64]) -> f64 {
    if baseline.is_empty() || current.is_empty() {
        return 0.0;
    }
    let mut area = 0.0;
    walk(baseline, current, |x, fb, fc, next| {
        // An infinite value (`1e999` reads as one) adds no finite area.
        if let Some(next) = next.filter(|n| (n - x).is_finite()) {
            area += (fb - fc).abs() * (next - x);
        }
    });
    area
}

/// The shares of `values` (sorted) in the bins that `edges` (sorted) cut:
/// `edges.len() + 1` bins, the first below the first edge, the last from
/// the last edge up. A value on an edge goes in the bin above it.
pub fn shares_in_bins(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let total = values.len().max(1) as f64;
    let mut below = Vec::with_capacity(edges.len() + 2);
    below.push(0);
    below.extend(edges.iter().map(|&e| values.partition_point(|&v| v < e)));
    below.push(values.len());
    below
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 / total)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ks_statistic_is_the_largest_gap_between_the_steps() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(ks_statistic(&a, &a), 0.0);
        assert_eq!(ks_statistic(&a, &[5.0, 6.0]), 1.0);
        // After 2: 1/2 against 0; after 3: 3/4 against 1/2.
        assert_eq!(ks_statistic(&a, &[3.0, 4.0]), 0.5);
        // Ties on both sides step together.
        assert_eq!(ks_statistic(&[1.0, 1.0, 2.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(ks_statistic(&[], &a), 0.0);
    }

    #[test]
    fn nan_and_infinities_from_a_hostile_baseline_end_the_walk() {
        assert_eq!(ks_statistic(&[1.0, f64::NAN], &[1.0]), 0.5);
        assert!(wasserstein(&[f64::NEG_INFINITY, 0.0], &[0.0, f64::INFINITY]).is_finite());
    }

    #[test]
    fn wasserstein_is_the_mass_times_the_distance_it_moves() {
        let a = [0.0, 1.0, 2.0, 3.0];
        assert!(wasserstein(&a, &a).abs() < 1e-12);
        let shifted: Vec<f64> = a.iter().map(|x| x + 0.5).collect();
        assert!((wasserstein(&a, &shifted) - 0.5).abs() < 1e-12);
        // Half the mass moves by 10.
        assert!((wasserstein(&[0.0, 0.0], &[0.0, 10.0]) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn shares_cover_every_value_once() {
        let values = [0.0, 1.0, 1.0, 2.0, 5.0];
        let shares = shares_in_bins(&values, &[1.0, 2.0]);
        assert_eq!(shares, vec![0.2, 0.4, 0.4]);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
