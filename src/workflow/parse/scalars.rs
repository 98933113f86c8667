//! Typed values read from YAML nodes: strings, lists of strings, booleans or
//! numbers that may be expressions, `env` and `with` maps.

use super::reader::{Reader, is_expression};
use crate::expr::Value;
use crate::workflow::context::{self, Site};
use crate::workflow::model::{BoolOrExpr, Env, MAX_TIMEOUT_MINUTES, NumberOrExpr, Spanned};
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;

impl Reader<'_> {
    /// A string, checking the expressions inside it against `site`. Numbers
    /// and booleans are accepted as their text, as GitHub does.
    pub(super) fn string(&mut self, node: &Node, site: Option<&Site>) -> Option<Spanned<String>> {
        match &node.kind {
            NodeKind::Scalar(scalar) => {
                match site {
                    Some(site) => self.template(node, &scalar.text, site),
                    // GitHub does not evaluate `${{ }}` here, but a broken
                    // one is still a mistake worth pointing out.
                    None => self.template(node, &scalar.text, &context::ANY),
                }
                Some(Spanned::new(scalar.text.clone(), node.span))
            }
            _ => {
                self.expected(node, "a string");
                None
            }
        }
    }

    /// A string that must not be empty (a null value is refused too).
    pub(super) fn required_string(
        &mut self,
        node: &Node,
        what: &str,
        site: Option<&Site>,
    ) -> Option<Spanned<String>> {
        if node.is_null() || node.as_str() == Some("") {
            self.error(node.span, format!("expected {what}, found nothing"));
            return None;
        }
        self.string(node, site)
    }

    /// One string or a list of strings.
    pub(super) fn string_list(&mut self, node: &Node, site: Option<&Site>) -> Vec<Spanned<String>> {
        match &node.kind {
            NodeKind::Sequence(items) => items
                .iter()
                .filter_map(|item| match item.kind {
                    NodeKind::Scalar(_) => self.string(item, site),
                    _ => {
                        self.expected(item, "a string");
                        None
                    }
                })
                .collect(),
            NodeKind::Scalar(_) if node.is_null() => Vec::new(),
            NodeKind::Scalar(_) => self.string(node, site).into_iter().collect(),
            NodeKind::Mapping(_) => {
                self.expected(node, "a string or a list of strings");
                Vec::new()
            }
        }
    }

    /// A list of strings (a single string is refused).
    pub(super) fn list_of_strings(
        &mut self,
        node: &Node,
        site: Option<&Site>,
    ) -> Vec<Spanned<String>> {
        match &node.kind {
            NodeKind::Sequence(_) => self.string_list(node, site),
            _ => {
                self.expected(node, "a list of strings");
                Vec::new()
            }
        }
    }

    pub(super) fn bool_or_expr(&mut self, node: &Node, site: &Site) -> Option<Spanned<BoolOrExpr>> {
        if let Value::Bool(b) = node.to_value() {
            return Some(Spanned::new(BoolOrExpr::Bool(b), node.span));
        }
        match node.as_str() {
            Some(text) if is_expression(text) => {
                self.template(node, text, site);
                Some(Spanned::new(BoolOrExpr::Expr(text.to_string()), node.span))
            }
            _ => {
                self.expected(node, "a boolean (true or false) or an expression");
                None
            }
        }
    }

    pub(super) fn number_or_expr(
        &mut self,
        node: &Node,
        site: &Site,
    ) -> Option<Spanned<NumberOrExpr>> {
        if let Value::Number(n) = node.to_value() {
            return Some(Spanned::new(NumberOrExpr::Number(n), node.span));
        }
        match node.as_str() {
            Some(text) if is_expression(text) => {
                self.template(node, text, site);
                Some(Spanned::new(
                    NumberOrExpr::Expr(text.to_string()),
                    node.span,
                ))
            }
            _ => {
                self.expected(node, "a number or an expression");
                None
            }
        }
    }

    /// A `timeout-minutes`: an expression, or a number from 0 to
    /// [`MAX_TIMEOUT_MINUTES`].
    pub(super) fn timeout_minutes(
        &mut self,
        node: &Node,
        site: &Site,
    ) -> Option<Spanned<NumberOrExpr>> {
        let minutes = self.number_or_expr(node, site)?;
        if let NumberOrExpr::Number(n) = minutes.value {
            if !(0.0..=MAX_TIMEOUT_MINUTES).contains(&n) {
                self.error(
                    node.span,
                    format!(
                        "`timeout-minutes` must be a number from 0 to {} (35 days, the longest a GitHub workflow run may take), found {}",
                        MAX_TIMEOUT_MINUTES,
                        node.as_str().unwrap_or_default()
                    ),
                );
                return None;
            }
        }
        Some(minutes)
    }

    /// A map of environment variables; values are turned into strings.
    pub(super) fn env(&mut self, node: &Node, site: &Site) -> Env {
        let mut env = Env::new();
        if node.is_null() {
            return env;
        }
        if let Some(text) = node.as_str() {
            // `env: ${{ fromJSON(...) }}` is allowed by GitHub.
            if is_expression(text) {
                self.template(node, text, site);
            } else {
                self.expected(node, "a map of environment variables");
            }
            return env;
        }
        let Some(entries) = self.mapping(node, "a map of environment variables") else {
            return env;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            if let Some(value) = self.scalar_string(value, site) {
                env.insert(name.to_string(), value);
            }
        }
        env
    }

    /// A scalar of any type as a string (`true` → "true", `~` → "").
    pub(super) fn scalar_string(&mut self, node: &Node, site: &Site) -> Option<Spanned<String>> {
        match node.as_scalar() {
            Some(scalar) => {
                self.template(node, &scalar.text, site);
                let text = if node.is_null() {
                    String::new()
                } else {
                    scalar.text.clone()
                };
                Some(Spanned::new(text, node.span))
            }
            None => {
                self.expected(node, "a string, number or boolean");
                None
            }
        }
    }

    /// A map of inputs for an action or a reusable workflow.
    pub(super) fn with(&mut self, node: &Node, site: &Site) -> IndexMap<String, Spanned<Value>> {
        let mut with = IndexMap::new();
        if node.is_null() {
            return with;
        }
        let Some(entries) = self.mapping(node, "a map of inputs") else {
            return with;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match value.as_scalar() {
                Some(scalar) => {
                    self.template(value, &scalar.text, site);
                    with.insert(name.to_string(), Spanned::new(value.to_value(), value.span));
                }
                None => self.expected(value, "a string, number or boolean"),
            }
        }
        with
    }
}
