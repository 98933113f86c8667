//! Quality gates: `accuracy: ">= 0.90"`, `loss: "<= base + 0.01"`.

use crate::metrics::{MetricValue, format_number};
use crate::record::{GateSpec, comparison_symbol, describe};
use crate::workflow::{Comparison, GateBound, GateCondition};

/// A gate to check: the metric and its parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub struct GateCheck {
    pub metric: String,
    pub condition: GateCondition,
}

impl GateCheck {
    pub fn from_workflow(gates: &[crate::workflow::Gate]) -> Vec<GateCheck> {
        gates
            .iter()
            .map(|g| GateCheck {
                metric: g.metric.value.clone(),
                condition: g.condition.value.clone(),
            })
            .collect()
    }

    /// Gates as stored with a run; a condition that no longer parses fails on evaluation.
    pub fn from_specs(specs: &[GateSpec]) -> Result<Vec<GateCheck>, String> {
        specs
            .iter()
            .map(|spec| {
                crate::workflow::parse_gate(&spec.condition)
                    .map(|condition| GateCheck {
                        metric: spec.metric.clone(),
                        condition,
                    })
                    .ok_or_else(|| {
                        format!(
                            "the gate `{}: {}` is not a comparison such as `>= 0.9` or `<= base + 0.01`",
                            spec.metric, spec.condition
                        )
                    })
            })
            .collect()
    }
}

/// The verdict on one gate for one metric value.
#[derive(Clone, Debug, PartialEq)]
pub struct GateResult {
    /// The metric as keyed in the run (`accuracy`, or `accuracy [train (cpu)]`).
    pub metric: String,
    /// The condition as written (`>= base - 0.01`).
    pub condition: String,
    pub value: Option<f64>,
    pub baseline: Option<f64>,
    /// The number the value was compared with.
    pub bound: Option<f64>,
    pub passed: bool,
    /// Why it failed (or `0.93 >= 0.9` when it passed).
    pub reason: String,
}

/// Every gate of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateOutcome {
    pub results: Vec<GateResult>,
}

impl GateOutcome {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    pub fn failed_count(&self) -> usize {
        self.results.iter().filter(|r| !r.passed).count()
    }

    /// `gates: 1 of 2 failed` with one line per gate, for the terminal.
    pub fn render_text(&self) -> String {
        if self.results.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "gates: {} of {} {}\n",
            if self.passed() {
                self.results.len()
            } else {
                self.failed_count()
            },
            self.results.len(),
            if self.passed() { "passed" } else { "failed" }
        );
        for result in &self.results {
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                if result.passed { "pass" } else { "FAIL" },
                result.metric,
                result.condition,
                result.reason
            ));
        }
        out
    }
}

/// Checks gates against a run's metric values and its baseline's.
/// A gate on `accuracy` applies to every instance of it (`accuracy [train (cpu)]`…).
pub fn evaluate(
    gates: &[GateCheck],
    current: &[(String, MetricValue)],
    baseline: Option<&[(String, MetricValue)]>,
    baseline_label: Option<&str>,
) -> GateOutcome {
    let mut results = Vec::new();
    for gate in gates {
        let condition = describe(&gate.condition);
        let prefix = format!("{} [", gate.metric);
        let matching: Vec<&(String, MetricValue)> = current
            .iter()
            .filter(|(name, _)| *name == gate.metric || name.starts_with(&prefix))
            .collect();
        if matching.is_empty() {
            results.push(GateResult {
                metric: gate.metric.clone(),
                condition,
                value: None,
                baseline: None,
                bound: None,
                passed: false,
                reason: format!("the run reported no metric `{}`", gate.metric),
            });
            continue;
        }
        for (name, value) in matching {
            results.push(check_one(
                gate,
                name,
                value,
                baseline,
                baseline_label,
                &condition,
            ));
        }
    }
    GateOutcome { results }
}

fn check_one(
    gate: &GateCheck,
    name: &str,
    value: &MetricValue,
    baseline: Option<&[(String, MetricValue)]>,
    baseline_label: Option<&str>,
    condition: &str,
) -> GateResult {
    let mut result = GateResult {
        metric: name.to_string(),
        condition: condition.to_string(),
        value: value.as_number(),
        baseline: None,
        bound: None,
        passed: false,
        reason: String::new(),
    };
    let Some(number) = value.as_number() else {
        result.reason = format!("`{name}` is `{value}`, not a number");
        return result;
    };
    let bound = match gate.condition.bound {
        GateBound::Absolute(n) => n,
        GateBound::Baseline { offset, factor } => {
            let Some(baseline) = baseline else {
                // The first run of a branch has nothing to compare with:
                // failing it would leave no successful run to be a baseline.
                result.passed = true;
                result.reason = format!(
                    "{} (no baseline yet: no successful run of the base branch in the store)",
                    crate::metrics::format_number(number)
                );
                return result;
            };
            let base = baseline
                .iter()
                .find(|(n, _)| n == name)
                .or_else(|| baseline.iter().find(|(n, _)| *n == gate.metric))
                .and_then(|(_, v)| v.as_number());
            let Some(base) = base else {
                result.reason = format!(
                    "the baseline run{} has no metric `{name}`",
                    baseline_label.map(|l| format!(" {l}")).unwrap_or_default()
                );
                return result;
            };
            result.baseline = Some(base);
            base * factor + offset
        }
    };
    result.bound = Some(bound);
    result.passed = holds(gate.condition.comparison, number, bound);
    let op = comparison_symbol(gate.condition.comparison);
    let shown_bound = match result.baseline {
        Some(base) => format!("{} (base {})", format_number(bound), format_number(base)),
        None => format_number(bound),
    };
    result.reason = if result.passed {
        format!("{} {op} {shown_bound}", format_number(number))
    } else {
        format!("{} is not {op} {shown_bound}", format_number(number))
    };
    result
}

/// Whether `number <comparison> bound`, with a tolerance for the rounding of
/// metrics written as decimals (0.1 + 0.2 is 0.3 here).
pub fn holds(comparison: Comparison, number: f64, bound: f64) -> bool {
    let tolerance = 1e-9 * bound.abs().max(1.0);
    match comparison {
        Comparison::Less => number < bound,
        Comparison::LessOrEqual => number <= bound + tolerance,
        Comparison::Greater => number > bound,
        Comparison::GreaterOrEqual => number >= bound - tolerance,
        Comparison::Equal => (number - bound).abs() <= tolerance,
        Comparison::NotEqual => (number - bound).abs() > tolerance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::parse_gate;

    fn check(metric: &str, text: &str) -> GateCheck {
        GateCheck {
            metric: metric.to_string(),
            condition: parse_gate(text).unwrap(),
        }
    }

    fn values(list: &[(&str, f64)]) -> Vec<(String, MetricValue)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), MetricValue::Number(*v)))
            .collect()
    }

    #[test]
    fn absolute_and_relative_bounds() {
        let current = values(&[("accuracy", 0.93), ("loss", 0.21)]);
        let base = values(&[("accuracy", 0.95), ("loss", 0.2)]);
        let gates = [
            check("accuracy", ">= 0.9"),
            check("loss", "< 0.2"),
            check("accuracy", ">= base - 0.01"),
            check("loss", "<= base * 1.05"),
            check("accuracy", "!= 0.5"),
            check("accuracy", "== 0.93"),
        ];
        let outcome = evaluate(&gates, &current, Some(&base), None);
        let passed: Vec<bool> = outcome.results.iter().map(|r| r.passed).collect();
        assert_eq!(passed, [true, false, false, true, true, true]);
        assert_eq!(outcome.results[3].bound, Some(0.2 * 1.05));
    }

    #[test]
    fn missing_metric_or_base_fails_with_reason() {
        let current = values(&[("accuracy", 0.93)]);
        let outcome = evaluate(
            &[check("f1", ">= 0.5"), check("accuracy", ">= base")],
            &current,
            None,
            None,
        );
        assert!(!outcome.passed());
        assert!(outcome.results[0].reason.contains("no metric `f1`"));
        assert!(outcome.results[1].reason.contains("no baseline"));
    }
}
