//! The two-sample tests that say whether a difference is more than chance:
//! Kolmogorov–Smirnov for numbers, chi-square for categories (Fisher's
//! exact test for a two-by-two table with tiny counts). Each gives the
//! probability of a difference at least as large between two samples of the
//! same source (the p-value).

use statrs::distribution::{ChiSquared, ContinuousCDF, Discrete, Hypergeometric};

/// The p-value of a two-sample Kolmogorov–Smirnov statistic `d` between
/// samples of `n` and `m` values: Kolmogorov's limit distribution with
/// Stephens' correction for small samples, as Numerical Recipes gives it.
/// Conservative for values with ties (integers), exact enough otherwise.
pub fn ks_p_value(d: f64, n: u64, m: u64) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let (n, m) = (n as f64, m as f64);
    let effective = (n * m / (n + m)).sqrt();
    let lambda = (effective + 0.12 + 0.11 / effective) * d;
    kolmogorov_survival(lambda)
}

/// Q(λ) = 2 Σ (−1)^(j−1) e^(−2 j² λ²), the chance that the scaled largest
/// gap of a Brownian bridge exceeds λ.
fn kolmogorov_survival(lambda: f64) -> f64 {
    // Below 0.2 the series converges slowly and the answer is 1 to 6 places.
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for j in 1..=100 {
        let term = sign * (-2.0 * (j * j) as f64 * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-16 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// A chi-square test of homogeneity, or Fisher's exact test where the table
/// is too thin for the chi-square approximation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CategoryTest {
    ChiSquare {
        statistic: f64,
        degrees_of_freedom: u32,
        p_value: f64,
    },
    FisherExact {
        p_value: f64,
    },
}

impl CategoryTest {
    pub fn p_value(self) -> f64 {
        match self {
            CategoryTest::ChiSquare { p_value, .. } | CategoryTest::FisherExact { p_value } => {
                p_value
            }
        }
    }
}

/// Expected count a cell needs for the chi-square approximation (Cochran's rule).
const MIN_EXPECTED: f64 = 5.0;

/// Tests whether the counts of the same categories in two samples (`pairs`:
/// baseline count, current count) come from one distribution. Categories
/// too rare for the approximation are pooled into one; a table left with
/// two categories and a thin cell gets Fisher's exact test. None when
/// either side is empty.
pub fn category_test(pairs: &[(u64, u64)]) -> Option<CategoryTest> {
    let n: u64 = pairs.iter().map(|p| p.0).sum();
    let m: u64 = pairs.iter().map(|p| p.1).sum();
    if n == 0 || m == 0 {
        return None;
    }
    let total = (n + m) as f64;
    let smaller = n.min(m) as f64;
    // Most common first; the rare tail is pooled.
    let mut sorted: Vec<(u64, u64)> = pairs.iter().copied().filter(|p| p.0 + p.1 > 0).collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.0 + p.1));
    let mut cells: Vec<(u64, u64)> = Vec::new();
    let mut pooled = (0, 0);
    for (b, c) in sorted {
        if (b + c) as f64 * smaller / total >= MIN_EXPECTED {
            cells.push((b, c));
        } else {
            pooled.0 += b;
            pooled.1 += c;
        }
    }
    if pooled.0 + pooled.1 > 0 {
        let enough = (pooled.0 + pooled.1) as f64 * smaller / total >= MIN_EXPECTED;
        match cells.last_mut() {
            Some(last) if !enough => {
                last.0 += pooled.0;
                last.1 += pooled.1;
            }
            _ => cells.push(pooled),
        }
    }
    if cells.len() < 2 {
        // Too thin to pool: two categories get Fisher's exact test, more
        // the chi-square of every category (rough, but no category hidden);
        // one category on both sides is no difference.
        let seen: Vec<(u64, u64)> = pairs.iter().copied().filter(|p| p.0 + p.1 > 0).collect();
        match seen.as_slice() {
            [first, second] => {
                return Some(CategoryTest::FisherExact {
                    p_value: fisher_exact(*first, *second),
                });
            }
            [_, _, ..] => cells = seen,
            _ => {
                return Some(CategoryTest::ChiSquare {
                    statistic: 0.0,
                    degrees_of_freedom: 0,
                    p_value: 1.0,
                });
            }
        }
    }
    let mut statistic = 0.0;
    for &(b, c) in &cells {
        let row = (b + c) as f64;
        let (expected_b, expected_c) = (row * n as f64 / total, row * m as f64 / total);
        statistic += (b as f64 - expected_b).powi(2) / expected_b;
        statistic += (c as f64 - expected_c).powi(2) / expected_c;
    }
    let degrees_of_freedom = (cells.len() - 1) as u32;
    let p_value = ChiSquared::new(f64::from(degrees_of_freedom))
        .map(|chi| chi.sf(statistic))
        .unwrap_or(1.0);
    Some(CategoryTest::ChiSquare {
        statistic,
        degrees_of_freedom,
        p_value,
    })
}

/// Fisher's exact test of a two-by-two table, rows (baseline, current) of
/// the two categories: the probability, with the margins fixed, of tables
/// no more likely than this one (two-sided).
fn fisher_exact(first: (u64, u64), second: (u64, u64)) -> f64 {
    let n = first.0 + second.0; // the baseline's size
    let total = n + first.1 + second.1;
    let k = first.0 + first.1; // the first category's count
    // The baseline's count of the first category is hypergeometric.
    let Ok(law) = Hypergeometric::new(total, k, n) else {
        return 1.0;
    };
    let observed = law.pmf(first.0);
    let (low, high) = (k.saturating_sub(total - n), k.min(n));
    let p: f64 = (low..=high)
        .map(|x| law.pmf(x))
        .filter(|&p| p <= observed * (1.0 + 1e-7))
        .sum();
    p.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_p_values_match_the_tables() {
        // Critical values of the two-sample test at 5 %: 1.36·√((n+m)/(n·m)).
        let d = 1.358 * (2.0f64 / 300.0).sqrt();
        let p = ks_p_value(d, 300, 300);
        assert!((0.045..0.055).contains(&p), "{p}");
        assert_eq!(ks_p_value(0.0, 300, 300), 1.0);
        assert!(ks_p_value(1.0, 300, 300) < 1e-100);
        assert_eq!(ks_p_value(0.5, 0, 300), 1.0);
    }

    #[test]
    fn chi_square_matches_a_hand_computed_table() {
        // 60/40 against 40/60: χ² = 8 with one degree of freedom, p = 0.00468.
        let Some(CategoryTest::ChiSquare {
            statistic,
            degrees_of_freedom,
            p_value,
        }) = category_test(&[(60, 40), (40, 60)])
        else {
            panic!("a chi-square test")
        };
        assert!((statistic - 8.0).abs() < 1e-9);
        assert_eq!(degrees_of_freedom, 1);
        assert!((p_value - 0.004678).abs() < 1e-5, "{p_value}");
        // The same shares: no difference.
        let same = category_test(&[(50, 100), (30, 60), (20, 40)]).unwrap();
        assert!((same.p_value() - 1.0).abs() < 1e-12);
        assert_eq!(category_test(&[(0, 3)]), None);
    }

    #[test]
    fn rare_categories_are_pooled_and_tiny_tables_get_fishers_test() {
        // Rare values pooled; the pool, still too thin, joins the least
        // common of the three common categories.
        let pairs = [
            (100, 100),
            (80, 80),
            (60, 60),
            (1, 0),
            (0, 1),
            (2, 1),
            (1, 2),
        ];
        let Some(CategoryTest::ChiSquare {
            degrees_of_freedom, ..
        }) = category_test(&pairs)
        else {
            panic!("a chi-square test")
        };
        assert_eq!(degrees_of_freedom, 2);
        // Fisher's tea-tasting table: 3 and 1 against 1 and 3, p = 0.486.
        let fisher = category_test(&[(3, 1), (1, 3)]).unwrap();
        assert!(matches!(fisher, CategoryTest::FisherExact { .. }));
        assert!((fisher.p_value() - 0.4857).abs() < 1e-3, "{fisher:?}");
        let single = category_test(&[(5, 7)]).unwrap();
        assert_eq!(single.p_value(), 1.0);
    }
}
