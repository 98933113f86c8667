//! mlci's step keys for the model registry and data validation:
//! `register: {name, path, promote: {alias, if}}` and
//! `validate: {data, schema, drift}` (one map or a list of them).

use super::gates::parse_gate;
use super::reader::Reader;
use crate::workflow::context;
use crate::workflow::model::{
    DataCheck, DriftSetting, Promote, PromoteCondition, Register, Spanned,
};
use crate::yaml::{Node, NodeKind};

impl Reader<'_> {
    pub(super) fn register(&mut self, node: &Node) -> Option<Register> {
        let mut name = None;
        let mut path = None;
        let mut promote = None;
        for field in self.fields(node, "`register`", &["name", "path", "promote"]) {
            match field.name {
                "name" => name = self.registry_name(field.value, "model name"),
                "path" => {
                    path = self.required_string(
                        field.value,
                        "a file or directory",
                        Some(&context::STEP),
                    )
                }
                "promote" => promote = self.promote(field.value),
                _ => unreachable!("every `register` key is handled"),
            }
        }
        node.as_mapping()?;
        for (missing, what) in [(name.is_none(), "name"), (path.is_none(), "path")] {
            if missing && node.get(what).is_none() {
                self.error(node.span, format!("`register` is missing `{what}`"));
            }
        }
        Some(Register {
            name: name?,
            path: path?,
            promote,
        })
    }

    fn promote(&mut self, node: &Node) -> Option<Promote> {
        // `promote: champion` is short for `promote: {alias: champion}`.
        if node.as_scalar().is_some() {
            let alias = self.registry_name(node, "alias")?;
            return Some(Promote {
                alias,
                condition: None,
            });
        }
        let mut alias = None;
        let mut condition = None;
        for field in self.fields(node, "`promote`", &["alias", "if"]) {
            match field.name {
                "alias" => alias = self.registry_name(field.value, "alias"),
                "if" => {
                    let Some(text) = self.required_string(field.value, "a condition", None) else {
                        continue;
                    };
                    match parse_promote_condition(&text.value) {
                        Some(parsed) => condition = Some(Spanned::new(parsed, text.span)),
                        None => self.expected(
                            field.value,
                            "a condition such as \"accuracy >= champion + 0.005\" or \"loss < 0.2\"",
                        ),
                    }
                }
                _ => unreachable!("every `promote` key is handled"),
            }
        }
        if alias.is_none() && node.as_mapping().is_some() && node.get("alias").is_none() {
            self.error(node.span, "`promote` is missing `alias`");
        }
        Some(Promote {
            alias: alias?,
            condition,
        })
    }

    /// A model name or an alias: letters, digits, `.`, `-`, `_`, not all digits.
    fn registry_name(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let text = self.required_string(node, &format!("{article} {what}"), None)?;
        if !is_registry_name(&text.value) {
            self.error(
                text.span,
                format!(
                    "invalid {what} `{}`: use letters, digits, `.`, `-` and `_`, starting with a letter",
                    text.value
                ),
            );
            return None;
        }
        Some(text)
    }

    pub(super) fn validate_checks(&mut self, node: &Node) -> Vec<DataCheck> {
        match &node.kind {
            NodeKind::Sequence(items) => items.iter().filter_map(|i| self.data_check(i)).collect(),
            _ => self.data_check(node).into_iter().collect(),
        }
    }

    fn data_check(&mut self, node: &Node) -> Option<DataCheck> {
        let mut data = None;
        let mut schema = None;
        let mut drift = None;
        for field in self.fields(node, "`validate`", &["data", "schema", "drift"]) {
            match field.name {
                "data" => {
                    data = self.required_string(field.value, "a dataset file", Some(&context::STEP))
                }
                "schema" => {
                    schema =
                        self.required_string(field.value, "a schema file", Some(&context::STEP))
                }
                "drift" => {
                    let setting = match field.value.as_str() {
                        Some("false") => Some(DriftSetting::Off),
                        Some(text) => text
                            .parse::<f64>()
                            .ok()
                            .filter(|t| t.is_finite() && *t > 0.0 && *t <= 1.0)
                            .map(DriftSetting::Threshold),
                        None => None,
                    };
                    match setting {
                        Some(setting) => drift = Some(Spanned::new(setting, field.value.span)),
                        None => self.expected(
                            field.value,
                            "a drift threshold between 0 and 1 (such as 0.1), or false",
                        ),
                    }
                }
                _ => unreachable!("every `validate` key is handled"),
            }
        }
        node.as_mapping()?;
        for (missing, what) in [(data.is_none(), "data"), (schema.is_none(), "schema")] {
            if missing && node.get(what).is_none() {
                self.error(node.span, format!("`validate` is missing `{what}`"));
            }
        }
        Some(DataCheck {
            data: data?,
            schema: schema?,
            drift,
        })
    }
}

pub fn is_registry_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// `accuracy >= champion + 0.005`, `loss < 0.2`, `f1 >= staging * 1.01`.
pub fn parse_promote_condition(text: &str) -> Option<PromoteCondition> {
    let text = text.trim();
    let at = text.find(['<', '>', '=', '!'])?;
    let metric = text[..at].trim();
    if metric.is_empty() || metric.contains(char::is_whitespace) {
        return None;
    }
    let rest = &text[at..];
    let op_len = if rest[1..].starts_with('=') { 2 } else { 1 };
    let (op, bound) = rest.split_at(op_len);
    let bound = bound.trim();
    let alias_len = bound
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        .unwrap_or(bound.len());
    let word = &bound[..alias_len];
    let (against, gate_text) = if is_registry_name(word) {
        (
            Some(word.to_string()),
            format!("{op} base {}", &bound[alias_len..]),
        )
    } else {
        (None, format!("{op} {bound}"))
    };
    Some(PromoteCondition {
        text: text.to_string(),
        metric: metric.to_string(),
        against,
        condition: parse_gate(&gate_text)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::model::{Comparison, GateBound};

    #[test]
    fn promote_conditions_name_a_metric_and_an_alias_or_a_number() {
        let c = parse_promote_condition("accuracy >= champion + 0.005").unwrap();
        assert_eq!(c.metric, "accuracy");
        assert_eq!(c.against.as_deref(), Some("champion"));
        assert_eq!(c.condition.comparison, Comparison::GreaterOrEqual);
        assert_eq!(
            c.condition.bound,
            GateBound::Baseline {
                offset: 0.005,
                factor: 1.0
            }
        );
        let c = parse_promote_condition("loss<0.2").unwrap();
        assert_eq!(c.against, None);
        assert_eq!(c.condition.bound, GateBound::Absolute(0.2));
        let c = parse_promote_condition("f1 > staging").unwrap();
        assert_eq!(c.against.as_deref(), Some("staging"));
        assert!(parse_promote_condition("accuracy").is_none());
        assert!(parse_promote_condition(">= 0.9").is_none());
        assert!(parse_promote_condition("accuracy >= champion / 2").is_none());
    }

    #[test]
    fn registry_names() {
        assert!(is_registry_name("iris-forest_v2.1"));
        assert!(!is_registry_name("2"));
        assert!(!is_registry_name("a b"));
        assert!(!is_registry_name(""));
    }
}
