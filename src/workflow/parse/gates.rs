//! The workflow's `gates:`: metric names and the conditions (`">= 0.90"`,
//! `"<= base * 1.05"`) their values must meet.

use super::reader::Reader;
use crate::workflow::model::{Comparison, Gate, GateBound, GateCondition, Spanned};
use crate::yaml::Node;

impl Reader<'_> {
    pub(super) fn gates(&mut self, node: &Node) -> Vec<Gate> {
        let mut gates = Vec::new();
        if node.is_null() {
            return gates;
        }
        let Some(entries) = self.mapping(node, "a map of metric names to conditions") else {
            return gates;
        };
        for (key, value) in entries {
            let Some(metric) = key.as_str() else { continue };
            let text = value.as_str().unwrap_or_default();
            match parse_gate(text) {
                Some(condition) if value.as_scalar().is_some() => gates.push(Gate {
                    metric: Spanned::new(metric.to_string(), key.span),
                    condition: Spanned::new(condition, value.span),
                }),
                _ => self.expected(
                    value,
                    "a comparison such as \">= 0.90\", \"< 0.2\", \">= base - 0.01\" or \"<= base * 1.05\"",
                ),
            }
        }
        gates
    }
}

/// `">= 0.90"`, `"< 0.2"`, `">= base - 0.01"`, `"<= base * 1.05"`.
pub fn parse_gate(text: &str) -> Option<GateCondition> {
    let text = text.trim();
    let (comparison, rest) = [
        (">=", Comparison::GreaterOrEqual),
        ("<=", Comparison::LessOrEqual),
        ("==", Comparison::Equal),
        ("!=", Comparison::NotEqual),
        (">", Comparison::Greater),
        ("<", Comparison::Less),
    ]
    .iter()
    .find_map(|(op, comparison)| text.strip_prefix(op).map(|rest| (*comparison, rest.trim())))?;
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    let bound = match rest.strip_prefix("base") {
        None => GateBound::Absolute(number(rest)?),
        Some(shift) => {
            let shift = shift.trim();
            if shift.is_empty() {
                GateBound::Baseline {
                    offset: 0.0,
                    factor: 1.0,
                }
            } else if let Some(n) = shift.strip_prefix('+') {
                GateBound::Baseline {
                    offset: number(n)?,
                    factor: 1.0,
                }
            } else if let Some(n) = shift.strip_prefix('-') {
                GateBound::Baseline {
                    offset: -number(n)?,
                    factor: 1.0,
                }
            } else if let Some(n) = shift.strip_prefix('*') {
                GateBound::Baseline {
                    offset: 0.0,
                    factor: number(n)?,
                }
            } else {
                return None;
            }
        }
    };
    Some(GateCondition { comparison, bound })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_parse_absolute_and_baseline_bounds() {
        let gate = parse_gate(">= 0.90").unwrap();
        assert_eq!(gate.comparison, Comparison::GreaterOrEqual);
        assert_eq!(gate.bound, GateBound::Absolute(0.9));
        let gate = parse_gate("<= base + 0.01").unwrap();
        assert_eq!(
            gate.bound,
            GateBound::Baseline {
                offset: 0.01,
                factor: 1.0
            }
        );
        let gate = parse_gate("<= base * 1.05").unwrap();
        assert_eq!(
            gate.bound,
            GateBound::Baseline {
                offset: 0.0,
                factor: 1.05
            }
        );
        assert!(parse_gate("about 0.9").is_none());
        assert!(parse_gate(">= base / 2").is_none());
    }
}
