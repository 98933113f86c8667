//! A run's metrics against its baseline's: absolute and relative change.

use crate::metrics::MetricValue;

/// A metric's value against the baseline's.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricDiff {
    pub name: String,
    pub value: Option<MetricValue>,
    pub baseline: Option<MetricValue>,
    /// value − baseline, when both are numbers.
    pub absolute: Option<f64>,
    /// (value − baseline) / |baseline|, when both are numbers and the baseline is not 0.
    pub relative: Option<f64>,
}

/// Metrics of the run in its order, then metrics only the baseline has.
pub fn diff(
    current: &[(String, MetricValue)],
    baseline: &[(String, MetricValue)],
) -> Vec<MetricDiff> {
    let mut out: Vec<MetricDiff> = current
        .iter()
        .map(|(name, value)| {
            let base = baseline
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone());
            let (absolute, relative) =
                match (value.as_number(), base.as_ref().and_then(|b| b.as_number())) {
                    (Some(a), Some(b)) => (Some(a - b), (b != 0.0).then(|| (a - b) / b.abs())),
                    _ => (None, None),
                };
            MetricDiff {
                name: name.clone(),
                value: Some(value.clone()),
                baseline: base,
                absolute,
                relative,
            }
        })
        .collect();
    for (name, value) in baseline {
        if !current.iter().any(|(n, _)| n == name) {
            out.push(MetricDiff {
                name: name.clone(),
                value: None,
                baseline: Some(value.clone()),
                absolute: None,
                relative: None,
            });
        }
    }
    out
}
