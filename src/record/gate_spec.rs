//! A gate as stored with a run: its metric and its condition in the text a person writes.

use crate::metrics::format_number;
use crate::workflow::{Comparison, GateBound, GateCondition};

/// A gate as written in the workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateSpec {
    pub metric: String,
    pub condition: String,
}

impl GateSpec {
    /// The gates of a parsed workflow, in the text that reports show.
    pub fn from_workflow(gates: &[crate::workflow::Gate]) -> Vec<GateSpec> {
        gates
            .iter()
            .map(|g| GateSpec {
                metric: g.metric.value.clone(),
                condition: describe(&g.condition.value),
            })
            .collect()
    }
}

/// The text of a condition as a person writes it: `>= base - 0.01`.
pub fn describe(condition: &GateCondition) -> String {
    let op = comparison_symbol(condition.comparison);
    match condition.bound {
        GateBound::Absolute(n) => format!("{op} {}", format_number(n)),
        GateBound::Baseline { offset, factor } => {
            let mut text = format!("{op} base");
            if factor != 1.0 {
                text.push_str(&format!(" * {}", format_number(factor)));
            }
            if offset > 0.0 {
                text.push_str(&format!(" + {}", format_number(offset)));
            } else if offset < 0.0 {
                text.push_str(&format!(" - {}", format_number(-offset)));
            }
            text
        }
    }
}

/// `<=`, `>`, `!=`…: a comparison as written.
pub fn comparison_symbol(comparison: Comparison) -> &'static str {
    match comparison {
        Comparison::Less => "<",
        Comparison::LessOrEqual => "<=",
        Comparison::Greater => ">",
        Comparison::GreaterOrEqual => ">=",
        Comparison::Equal => "==",
        Comparison::NotEqual => "!=",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::parse_gate;

    #[test]
    fn conditions_print_as_written() {
        for text in [
            ">= 0.9",
            "< 0.2",
            ">= base - 0.01",
            "<= base * 1.05",
            "== 1",
            "!= base",
        ] {
            assert_eq!(describe(&parse_gate(text).unwrap()), text);
        }
    }
}
