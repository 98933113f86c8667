use super::*;
use crate::data::stats::ColumnAccumulator;
use crate::data::value::ColumnType;

fn numeric(name: &str, values: &[f64]) -> (ColumnStats, Vec<f64>) {
    let mut acc = ColumnAccumulator::new(name, ColumnType::Float);
    for &x in values {
        acc.number(x);
    }
    (acc.finish(), acc.sample().to_vec())
}

fn categorical(name: &str, counts: &[(&str, u64)]) -> ColumnStats {
    let mut acc = ColumnAccumulator::new(name, ColumnType::String);
    for (value, count) in counts {
        for _ in 0..*count {
            acc.text(value);
        }
    }
    acc.finish()
}

const AUTO: DriftRule = DriftRule {
    method: None,
    p_value: 0.05,
    threshold: None,
};

/// A numeric column `x` of `current` measured against one of `baseline`.
fn measure_values(baseline: &[f64], current: &[f64], rule: &DriftRule) -> Drift {
    let (base, _) = numeric("x", baseline);
    let (cur, sample) = numeric("x", current);
    measure(
        &base,
        Current {
            stats: &cur,
            sample: &sample,
        },
        rule,
    )
}

/// A column without a sample (categorical) measured against `baseline`.
fn measure_stats(baseline: &ColumnStats, current: &ColumnStats) -> Drift {
    measure(
        baseline,
        Current {
            stats: current,
            sample: &[],
        },
        &AUTO,
    )
}

/// Evenly spaced quantiles of a bell-shaped distribution centred on `mean`
/// with standard deviation 1 (the logistic, scale √3/π): a smooth stand-in
/// for a sample, the same on both sides.
fn normal_like(n: usize, mean: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let u = (i as f64 + 0.5) / n as f64;
            mean + (u / (1.0 - u)).ln() * 0.5513
        })
        .collect()
}

#[test]
fn small_samples_are_tested_and_large_ones_measured() {
    let d = measure_values(&normal_like(300, 0.0), &normal_like(300, 0.0), &AUTO);
    assert_eq!(d.method, Some(DriftMethod::Ks));
    assert_eq!(d.threshold, None);
    assert_eq!((d.baseline_values, d.current_values), (300, 300));
    assert!(
        d.statistic.unwrap() < 1e-9 && d.p_value.unwrap() > 0.99,
        "{d:?}"
    );

    let mut drifts = vec![measure_values(
        &normal_like(5000, 0.0),
        &normal_like(5000, 0.5),
        &AUTO,
    )];
    correct(&mut drifts, Correction::Holm);
    let d = &drifts[0];
    assert_eq!(d.method, Some(DriftMethod::Wasserstein));
    assert_eq!(d.threshold, Some(0.1));
    // Half a standard deviation, within the quantiles' resolution.
    assert!((d.statistic.unwrap() - 0.5).abs() < 0.02, "{d:?}");
    assert!(d.drifted);
}

#[test]
fn categories_get_chi_square_and_thin_pairs_fishers_test() {
    let base = categorical("c", &[("a", 60), ("b", 40)]);
    let cur = categorical("c", &[("a", 40), ("b", 60)]);
    let mut drifts = vec![measure_stats(&base, &cur)];
    correct(&mut drifts, Correction::Holm);
    let d = &drifts[0];
    assert_eq!(d.method, Some(DriftMethod::ChiSquare));
    assert_eq!(d.degrees_of_freedom, Some(1));
    assert!((d.statistic.unwrap() - 8.0).abs() < 1e-9);
    assert!(d.drifted, "{d:?}");
    assert!(
        d.explain(1, Correction::Holm)
            .starts_with("chi-square 8 with 1 degree of freedom: p = 0.0047 < 0.05 (100 baseline and 100 current values)"),
        "{}",
        d.explain(1, Correction::Holm)
    );

    let base = categorical("c", &[("a", 9), ("b", 1)]);
    let cur = categorical("c", &[("a", 2), ("b", 8)]);
    let d = measure_stats(&base, &cur);
    assert_eq!(d.method, Some(DriftMethod::FisherExact));
    assert!(d.p_value.unwrap() < 0.01, "{d:?}");
}

#[test]
fn holm_corrects_for_the_number_of_columns_and_distances_need_their_test_too() {
    let tested = |column: &str, p: f64| Drift {
        column: column.to_string(),
        method: Some(DriftMethod::Ks),
        statistic: Some(0.2),
        degrees_of_freedom: None,
        p_value: Some(p),
        p_adjusted: None,
        p_threshold: 0.05,
        threshold: None,
        baseline_values: 300,
        current_values: 300,
        drifted: false,
        note: None,
    };
    let mut drifts = vec![
        tested("a", 0.03),
        tested("b", 0.01),
        tested("c", 0.2),
        tested("d", 0.001),
    ];
    correct(&mut drifts, Correction::Holm);
    let adjusted: Vec<f64> = drifts.iter().map(|d| d.p_adjusted.unwrap()).collect();
    // Sorted 0.001, 0.01, 0.03, 0.2 → ×4, ×3, ×2, ×1, kept increasing.
    let expected = [0.06, 0.03, 0.2, 0.004];
    for (a, e) in adjusted.iter().zip(expected) {
        assert!((a - e).abs() < 1e-12, "{adjusted:?}");
    }
    let drifted: Vec<&str> = drifts
        .iter()
        .filter(|d| d.drifted)
        .map(|d| d.column.as_str())
        .collect();
    assert_eq!(drifted, ["b", "d"]);
    assert!(
        drifts[1]
            .explain(4, Correction::Holm)
            .contains("p = 0.010 (0.030 after Holm's correction for 4 columns) < 0.05"),
        "{}",
        drifts[1].explain(4, Correction::Holm)
    );

    let mut bonferroni = drifts.clone();
    correct(&mut bonferroni, Correction::Bonferroni);
    assert!((bonferroni[1].p_adjusted.unwrap() - 0.04).abs() < 1e-12);

    // A distance above its threshold whose test sees only chance: no drift.
    let mut far_but_noise = tested("e", 0.4);
    far_but_noise.method = Some(DriftMethod::JensenShannon);
    far_but_noise.threshold = Some(0.1);
    let mut near_and_real = tested("f", 1e-9);
    near_and_real.method = Some(DriftMethod::JensenShannon);
    near_and_real.statistic = Some(0.05);
    near_and_real.threshold = Some(0.1);
    let mut both = vec![far_but_noise, near_and_real];
    correct(&mut both, Correction::Holm);
    assert!(!both[0].drifted && !both[1].drifted, "{both:?}");
}

#[test]
fn empty_single_null_and_constant_columns_get_a_verdict_not_a_panic() {
    let base = normal_like(300, 0.0);
    let d = measure_values(&base, &[1.0], &AUTO);
    assert_eq!(d.method, None);
    assert_eq!(
        d.verdict(),
        "not enough data to test drift: 1 value (at least 10 on each side)"
    );
    let d = measure_values(&base, &[], &AUTO);
    assert!(
        d.verdict()
            .starts_with("not enough data to test drift: 0 values"),
        "{d:?}"
    );

    let mut drifts = vec![
        measure_values(&[5.0; 300], &[5.0; 300], &AUTO),
        measure_values(&[5.0; 300], &[6.0; 300], &AUTO),
        measure_values(&[5.0; 3000], &[6.0; 3000], &AUTO),
    ];
    correct(&mut drifts, Correction::None);
    assert!(!drifts[0].drifted, "{:?}", drifts[0]);
    assert!(drifts[1].drifted, "{:?}", drifts[1]);
    assert!(
        drifts[2].drifted && drifts[2].statistic.unwrap().is_finite(),
        "{:?}",
        drifts[2]
    );

    let strings = categorical("s", &[("a", 50)]);
    let numbers = numeric("s", &normal_like(50, 0.0)).0;
    let d = measure_stats(&strings, &numbers);
    assert!(d.verdict().contains("not comparable"), "{d:?}");
}

#[test]
fn psi_and_overrides_apply_where_they_fit() {
    let (base, current) = (normal_like(2000, 0.0), normal_like(2000, 1.0));
    let rule = DriftRule {
        method: Some(DriftMethod::Psi),
        p_value: 0.05,
        threshold: None,
    };
    let d = measure_values(&base, &current, &rule);
    assert_eq!((d.method, d.threshold), (Some(DriftMethod::Psi), Some(0.2)));
    assert!(d.statistic.unwrap() > 0.5, "{d:?}");
    // A categorical method asked of a numeric column: the automatic one.
    let rule = DriftRule {
        method: Some(DriftMethod::ChiSquare),
        ..rule
    };
    let d = measure_values(&base, &current, &rule);
    assert_eq!(d.method, Some(DriftMethod::Wasserstein));
}
