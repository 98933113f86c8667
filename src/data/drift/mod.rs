//! Whether a column's distribution moved from the baseline's, with a method
//! that suits the sample size, as Evidently chooses one:
//!
//! - **Small samples** (the smaller side at most [`SMALL_SAMPLE_ROWS`]
//!   values): a two-sample test with a p-value, Kolmogorov–Smirnov for
//!   numbers and chi-square for categories (Fisher's exact test for a thin
//!   two-by-two table). A distance on 300 rows is mostly noise: two samples
//!   of one normal distribution are 0.17 apart in Jensen–Shannon distance.
//! - **Large samples**: a distance with a threshold, the Wasserstein
//!   distance in baseline standard deviations for numbers and the
//!   Jensen–Shannon distance for categories. On a million rows every
//!   difference is significant; the distance says whether it is large.
//!   A distance counts only when the test says it is also more than chance,
//!   so that a column of many rare categories does not drift by noise alone.
//! - **Across columns**, p-values are corrected (Holm's method by default):
//!   the dataset's verdict alarms on clean data no more often than the
//!   p-value says, however many columns it has.
//!
//! The baseline keeps each numeric column's quantiles (every value of a
//! small sample), which the tests and the Wasserstein distance need; a
//! histogram cannot support them.

mod distance;
mod ecdf;
mod tests_of_chance;

use super::stats::ColumnStats;
use serde::{Deserialize, Serialize};
use tests_of_chance::CategoryTest;

pub use distance::{category_pairs, jensen_shannon, l_infinity, psi};

/// Up to this many values on the smaller side, columns are tested for
/// drift with p-values; above it, by distances (Evidently's switch).
pub const SMALL_SAMPLE_ROWS: u64 = 1000;
/// Fewer values than this on either side, and a column is not tested.
pub const MIN_DRIFT_VALUES: u64 = 10;
/// The family-wise p-value below which a dataset drifts, by default.
pub const DEFAULT_P_VALUE: f64 = 0.05;

/// How a column's drift is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftMethod {
    /// Kolmogorov–Smirnov: the largest gap between the distribution functions.
    Ks,
    ChiSquare,
    /// Chosen in place of chi-square for a thin two-by-two table.
    FisherExact,
    /// Wasserstein distance in baseline standard deviations.
    Wasserstein,
    JensenShannon,
    Psi,
    LInfinity,
}

/// What a column's `drift: {method: …}` may name.
pub const METHOD_NAMES: &[(&str, DriftMethod)] = &[
    ("ks", DriftMethod::Ks),
    ("kolmogorov-smirnov", DriftMethod::Ks),
    ("chi-square", DriftMethod::ChiSquare),
    ("wasserstein", DriftMethod::Wasserstein),
    ("jensen-shannon", DriftMethod::JensenShannon),
    ("psi", DriftMethod::Psi),
    ("l-infinity", DriftMethod::LInfinity),
];

impl DriftMethod {
    pub fn from_name(name: &str) -> Option<DriftMethod> {
        let name = name.to_ascii_lowercase();
        METHOD_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }

    /// The method of a key that [`DriftMethod::key`] wrote.
    pub fn from_key(key: &str) -> Option<DriftMethod> {
        match key {
            "fisher-exact" => Some(DriftMethod::FisherExact),
            _ => DriftMethod::from_name(key),
        }
    }

    /// The name a schema writes.
    pub fn key(self) -> &'static str {
        match self {
            DriftMethod::Ks => "ks",
            DriftMethod::ChiSquare => "chi-square",
            DriftMethod::FisherExact => "fisher-exact",
            DriftMethod::Wasserstein => "wasserstein",
            DriftMethod::JensenShannon => "jensen-shannon",
            DriftMethod::Psi => "psi",
            DriftMethod::LInfinity => "l-infinity",
        }
    }

    /// The name people read.
    pub fn name(self) -> &'static str {
        match self {
            DriftMethod::Ks => "Kolmogorov-Smirnov",
            DriftMethod::ChiSquare => "chi-square",
            DriftMethod::FisherExact => "Fisher's exact test",
            DriftMethod::Wasserstein => "Wasserstein",
            DriftMethod::JensenShannon => "Jensen-Shannon",
            DriftMethod::Psi => "PSI",
            DriftMethod::LInfinity => "L-infinity",
        }
    }

    /// The statistic with its symbol, for tables and reports: `D 0.213`,
    /// `χ² 8`, or a distance's bare figure.
    pub fn labelled(self, statistic: f64) -> String {
        match self {
            DriftMethod::Ks => format!("D {}", figure(statistic)),
            DriftMethod::ChiSquare => format!("χ² {}", figure(statistic)),
            _ => figure(statistic),
        }
    }

    /// A distance, with a threshold, rather than a test.
    pub fn is_distance(self) -> bool {
        matches!(
            self,
            DriftMethod::Wasserstein
                | DriftMethod::JensenShannon
                | DriftMethod::Psi
                | DriftMethod::LInfinity
        )
    }

    /// The threshold of a distance when the schema names none.
    pub fn default_threshold(self) -> Option<f64> {
        match self {
            DriftMethod::Wasserstein | DriftMethod::JensenShannon | DriftMethod::LInfinity => {
                Some(0.1)
            }
            DriftMethod::Psi => Some(0.2),
            DriftMethod::Ks | DriftMethod::ChiSquare | DriftMethod::FisherExact => None,
        }
    }

    /// Whether the method measures numeric columns (else categorical ones).
    pub fn fits(self, numeric: bool) -> bool {
        match self {
            DriftMethod::Ks | DriftMethod::Wasserstein => numeric,
            DriftMethod::ChiSquare | DriftMethod::FisherExact | DriftMethod::LInfinity => !numeric,
            DriftMethod::JensenShannon | DriftMethod::Psi => true,
        }
    }
}

/// How p-values are corrected for testing several columns at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Correction {
    /// Holm's step-down method: as safe as Bonferroni, more powerful.
    #[default]
    Holm,
    Bonferroni,
    None,
}

impl Correction {
    pub fn from_name(name: &str) -> Option<Correction> {
        match name.to_ascii_lowercase().as_str() {
            "holm" => Some(Correction::Holm),
            "bonferroni" => Some(Correction::Bonferroni),
            "none" => Some(Correction::None),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Correction::Holm => "holm",
            Correction::Bonferroni => "bonferroni",
            Correction::None => "none",
        }
    }
}

/// One column's drift setting, resolved from the column's and the schema's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriftRule {
    /// None: chosen by sample size.
    pub method: Option<DriftMethod>,
    /// The p-value below which a difference is more than chance.
    pub p_value: f64,
    /// A distance's threshold; None: the method's default.
    pub threshold: Option<f64>,
}

/// One column's drift from the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub column: String,
    /// None when the column was not tested (see `not_tested`).
    pub method: Option<DriftMethod>,
    /// The method's figure: D, χ², or the distance.
    pub statistic: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degrees_of_freedom: Option<u32>,
    /// The test's p-value (for a distance, that of the test beside it).
    pub p_value: Option<f64>,
    /// The p-value corrected for the number of columns tested.
    pub p_adjusted: Option<f64>,
    /// The p-value below which the column drifts.
    pub p_threshold: f64,
    /// A distance's threshold.
    pub threshold: Option<f64>,
    /// Values compared on each side (nulls are not).
    pub baseline_values: u64,
    pub current_values: u64,
    pub drifted: bool,
    /// Why the column was not tested, or how it was when not as asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Drift {
    fn untested(column: &str, rule: &DriftRule, sizes: (u64, u64), why: String) -> Drift {
        Drift {
            column: column.to_string(),
            method: None,
            statistic: None,
            degrees_of_freedom: None,
            p_value: None,
            p_adjusted: None,
            p_threshold: rule.p_value,
            threshold: None,
            baseline_values: sizes.0,
            current_values: sizes.1,
            drifted: false,
            note: Some(why),
        }
    }

    /// The verdict in a few words, for tables: `DRIFT`, `ok`, or why not tested.
    pub fn verdict(&self) -> &str {
        match (&self.method, self.drifted) {
            (None, _) => self.note.as_deref().unwrap_or("not tested"),
            (Some(_), true) => "DRIFT",
            (Some(_), false) => "ok",
        }
    }

    /// The failure's sentence: what moved, by how much, against what.
    pub fn explain(&self, tested: usize, correction: Correction) -> String {
        let method = self.method.map_or("drift", DriftMethod::name);
        let p = self.p_text(tested, correction);
        let sizes = format!(
            "{} baseline and {} current values",
            self.baseline_values, self.current_values
        );
        match (self.method, self.statistic, self.threshold) {
            (Some(m), Some(distance), Some(threshold)) if m.is_distance() => format!(
                "{method} distance {} from the baseline is above the threshold {threshold}, and more than chance: {p} ({sizes})",
                figure(distance)
            ),
            (Some(DriftMethod::FisherExact), _, _) => format!("{method}: {p} ({sizes})"),
            (Some(DriftMethod::ChiSquare), Some(statistic), _) => format!(
                "{method} {} with {} degree{} of freedom: {p} ({sizes})",
                figure(statistic),
                self.degrees_of_freedom.unwrap_or(0),
                if self.degrees_of_freedom == Some(1) {
                    ""
                } else {
                    "s"
                }
            ),
            (_, Some(statistic), _) => format!("{method} D = {}: {p} ({sizes})", figure(statistic)),
            _ => format!("{method}: {p} ({sizes})"),
        }
    }

    /// `p = 0.0012 (0.0048 after Holm's correction for 4 columns) < 0.05`.
    fn p_text(&self, tested: usize, correction: Correction) -> String {
        let Some(p) = self.p_value else {
            return "no p-value".to_string();
        };
        let below = if self.p_adjusted.unwrap_or(p) < self.p_threshold {
            "<"
        } else {
            "≥"
        };
        match self.p_adjusted {
            Some(adjusted) if tested > 1 && correction != Correction::None => format!(
                "p {} ({} after {} correction for {tested} columns) {below} {}",
                p_equals(p),
                p_figure(adjusted),
                match correction {
                    Correction::Holm => "Holm's",
                    _ => "Bonferroni's",
                },
                self.p_threshold
            ),
            _ => format!("p {} {below} {}", p_equals(p), self.p_threshold),
        }
    }
}

/// A statistic to three significant places.
pub fn figure(x: f64) -> String {
    if x == 0.0 || (0.001..1000.0).contains(&x.abs()) {
        let text = format!("{x:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.3e}")
    }
}

/// A p-value as people read them: 0.034, 0.0012, 3.1e-9.
pub fn p_figure(p: f64) -> String {
    if p < 1e-300 {
        // Below what a double holds: the distributions do not overlap.
        "< 1e-300".to_string()
    } else if p >= 0.01 {
        format!("{p:.3}")
    } else if p >= 0.0001 {
        format!("{p:.4}")
    } else {
        format!("{p:.1e}")
    }
}

/// `= 0.034`, or `< 1e-300` for a p-value below what a double holds.
fn p_equals(p: f64) -> String {
    let figure = p_figure(p);
    if figure.starts_with('<') {
        figure
    } else {
        format!("= {figure}")
    }
}

/// The current side of a column: its statistics and its sample of values.
pub struct Current<'a> {
    pub stats: &'a ColumnStats,
    pub sample: &'a [f64],
}

/// Measures one column against the baseline's statistics. The verdict is
/// not final until [`correct`] has seen every column's p-value.
pub fn measure(baseline: &ColumnStats, current: Current<'_>, rule: &DriftRule) -> Drift {
    let column = current.stats.name.as_str();
    let sizes = (baseline.count, current.stats.count);
    let numeric = current.stats.kind.is_numeric();
    if numeric != baseline.kind.is_numeric() {
        return Drift::untested(
            column,
            rule,
            sizes,
            format!(
                "the baseline's column is {}, not comparable with {}",
                baseline.kind, current.stats.kind
            ),
        );
    }
    let fewest = sizes.0.min(sizes.1);
    if fewest < MIN_DRIFT_VALUES {
        return Drift::untested(
            column,
            rule,
            sizes,
            format!(
                "not enough data to test drift: {fewest} value{} (at least {MIN_DRIFT_VALUES} on each side)",
                if fewest == 1 { "" } else { "s" }
            ),
        );
    }
    let method = rule.method.filter(|m| m.fits(numeric)).unwrap_or(
        match (numeric, fewest <= SMALL_SAMPLE_ROWS) {
            (true, true) => DriftMethod::Ks,
            (true, false) => DriftMethod::Wasserstein,
            (false, true) => DriftMethod::ChiSquare,
            (false, false) => DriftMethod::JensenShannon,
        },
    );
    let threshold = rule.threshold.or(method.default_threshold());
    let mut drift = Drift {
        column: column.to_string(),
        method: Some(method),
        statistic: None,
        degrees_of_freedom: None,
        p_value: None,
        p_adjusted: None,
        p_threshold: rule.p_value,
        threshold: if method.is_distance() {
            threshold
        } else {
            None
        },
        baseline_values: sizes.0,
        current_values: sizes.1,
        drifted: false,
        note: None,
    };
    if numeric {
        measure_numbers(&mut drift, baseline, &current);
    } else {
        measure_categories(&mut drift, baseline, &current);
    }
    drift
}

fn measure_numbers(drift: &mut Drift, baseline: &ColumnStats, current: &Current<'_>) {
    let Some(quantiles) = &baseline.quantiles else {
        // A baseline written before quantiles were kept: its histogram is
        // all there is, and supports no test.
        drift.method = Some(DriftMethod::JensenShannon);
        drift.threshold = drift.threshold.or(Some(0.1));
        drift.statistic = baseline
            .histogram
            .as_ref()
            .and_then(|h| distance::jensen_shannon_binned(h, current.sample));
        drift.note = Some(
            "the baseline, written by an older mlci, has no quantiles: Jensen-Shannon on its histogram, without a test; record it again"
                .to_string(),
        );
        return;
    };
    let mut sample = current.sample.to_vec();
    sample.sort_by(f64::total_cmp);
    let base = &quantiles.values;
    let d = ecdf::ks_statistic(base, &sample);
    drift.p_value = Some(tests_of_chance::ks_p_value(
        d,
        quantiles.of,
        sample.len() as u64,
    ));
    drift.statistic = Some(match drift.method {
        Some(DriftMethod::Wasserstein) => {
            let scale = match baseline.std {
                Some(std) if std > 0.0 => std,
                // A constant baseline: in units of its value.
                _ => baseline.mean.map_or(1.0, |m| m.abs().max(1.0)),
            };
            ecdf::wasserstein(base, &sample) / scale
        }
        Some(DriftMethod::Psi) => {
            let edges = deciles(base);
            distance::psi(
                &ecdf::shares_in_bins(base, &edges),
                &ecdf::shares_in_bins(&sample, &edges),
            )
            .unwrap_or(0.0)
        }
        Some(DriftMethod::JensenShannon) => baseline
            .histogram
            .as_ref()
            .and_then(|h| distance::jensen_shannon_binned(h, &sample))
            .unwrap_or(0.0),
        _ => d,
    });
}

/// The nine inner deciles of sorted values, without repeats: the PSI's bins.
fn deciles(sorted: &[f64]) -> Vec<f64> {
    let mut edges: Vec<f64> = (1..10)
        .filter_map(|i| {
            sorted
                .get(i * (sorted.len().saturating_sub(1)) / 10)
                .copied()
        })
        .collect();
    edges.dedup();
    edges
}

fn measure_categories(drift: &mut Drift, baseline: &ColumnStats, current: &Current<'_>) {
    let (Some(b), Some(c)) = (&baseline.frequencies, &current.stats.frequencies) else {
        drift.method = None;
        drift.note = Some("no value counts to compare".to_string());
        return;
    };
    let pairs = category_pairs(b, c);
    let test = tests_of_chance::category_test(&pairs);
    drift.p_value = test.map(CategoryTest::p_value);
    let shares = |side: fn(&(u64, u64)) -> u64| -> Vec<f64> {
        pairs.iter().map(|p| side(p) as f64).collect()
    };
    drift.statistic = match drift.method {
        Some(DriftMethod::JensenShannon) => jensen_shannon(&shares(|p| p.0), &shares(|p| p.1)),
        Some(DriftMethod::Psi) => psi(&shares(|p| p.0), &shares(|p| p.1)),
        Some(DriftMethod::LInfinity) => l_infinity(&pairs),
        _ => match test {
            Some(CategoryTest::ChiSquare {
                statistic,
                degrees_of_freedom,
                ..
            }) => {
                drift.degrees_of_freedom = Some(degrees_of_freedom);
                Some(statistic)
            }
            Some(CategoryTest::FisherExact { .. }) => {
                drift.method = Some(DriftMethod::FisherExact);
                None
            }
            None => None,
        },
    };
}

/// Corrects the p-values of the tested columns for their number, then
/// decides each column: a test drifts when its corrected p-value is below
/// the column's; a distance when it is above its threshold and its test's
/// corrected p-value is below too.
pub fn correct(drifts: &mut [Drift], correction: Correction) {
    let mut tested: Vec<usize> = (0..drifts.len())
        .filter(|&i| drifts[i].p_value.is_some())
        .collect();
    tested.sort_by(|&a, &b| {
        drifts[a]
            .p_value
            .unwrap_or(1.0)
            .total_cmp(&drifts[b].p_value.unwrap_or(1.0))
    });
    let k = tested.len() as f64;
    let mut running: f64 = 0.0;
    for (rank, &i) in tested.iter().enumerate() {
        let p = drifts[i].p_value.unwrap_or(1.0);
        let adjusted = match correction {
            // Holm: the rank-th smallest of k is held to p·(k − rank), and
            // never below a smaller one's (the step-down stops at the first
            // that does not pass).
            Correction::Holm => {
                running = running.max((p * (k - rank as f64)).min(1.0));
                running
            }
            Correction::Bonferroni => (p * k).min(1.0),
            Correction::None => p,
        };
        drifts[i].p_adjusted = Some(adjusted);
    }
    for drift in drifts.iter_mut() {
        let significant = drift.p_adjusted.is_some_and(|p| p < drift.p_threshold);
        drift.drifted = match (drift.method, drift.statistic, drift.threshold) {
            (None, ..) => false,
            (Some(m), Some(distance), Some(threshold)) if m.is_distance() => {
                // A legacy baseline's distance has no test beside it.
                distance > threshold && (significant || drift.p_value.is_none())
            }
            (Some(m), None, _) if m.is_distance() => false,
            _ => significant,
        };
    }
}

#[cfg(test)]
mod tests;
