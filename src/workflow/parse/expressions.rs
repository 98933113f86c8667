//! Checks the `${{ }}` expressions of a value: their syntax, and that the
//! contexts and functions they name are available where they are written.

use super::reader::{Reader, suggest};
use crate::diag::{Diagnostic, Span};
use crate::expr::{self, Value};
use crate::workflow::context::{self, Site};
use crate::workflow::model::Spanned;
use crate::yaml::{Node, NodeKind};

/// Functions whose value depends on the run: the job's status, the files.
const RUN_FUNCTIONS: &[&str] = &["success", "failure", "always", "cancelled", "hashfiles"];

impl Reader<'_> {
    /// Checks every `${{ }}` of a string: syntax, functions and contexts.
    pub(super) fn template(&mut self, node: &Node, text: &str, site: &Site) {
        if !text.contains("${{") {
            return;
        }
        match expr::parse_template(text) {
            Ok(template) => {
                for (offset, expression) in template.expressions() {
                    self.check_expression(node, offset, expression, site);
                }
            }
            Err(error) => self.expression_error(node, &error),
        }
    }

    /// An `if:` value: a bare expression, or a template.
    pub(super) fn condition(&mut self, node: &Node, site: &Site) -> Option<Spanned<String>> {
        let text = match node.to_value() {
            // `if: true` and `if: 1` are conditions too.
            Value::Bool(_) | Value::Number(_) => node.as_str()?.to_string(),
            Value::String(text) => text,
            _ => {
                self.expected(node, "a condition (an expression)");
                return None;
            }
        };
        match expr::parse_condition(&text) {
            Ok(condition) => {
                for (offset, expression) in condition.expressions() {
                    self.check_expression(node, offset, expression, site);
                }
            }
            Err(error) => self.expression_error(node, &error),
        }
        Some(Spanned::new(text, node.span))
    }

    fn check_expression(
        &mut self,
        node: &Node,
        offset: usize,
        expression: &expr::Expr,
        site: &Site,
    ) {
        for (name, at) in expression.named_values() {
            if let Some(message) = context::check_named_value(&name, site) {
                let start = node.source_offset(self.source, offset + at);
                self.error(Span::new(start, start + name.len()), message);
            }
        }
        let calls = expression.function_calls();
        for (name, at) in &calls {
            if let Some(message) = context::check_function(name, site) {
                let start = node.source_offset(self.source, offset + at);
                self.error(Span::new(start, start + name.len()), message);
            }
        }
        // An expression that reads no context has one value whatever the run:
        // one that cannot be computed (a `format` or `toJSON` past the memory
        // budget, `fromJSON` of bad JSON) is refused now, not in a job.
        let reads_run = calls
            .iter()
            .any(|(name, _)| RUN_FUNCTIONS.contains(&name.as_str()));
        if expression.named_values().is_empty() && !reads_run {
            let contexts = expr::Object::new();
            let context = expr::EvalContext {
                contexts: &contexts,
                status: expr::Status::Success,
                workspace: None,
            };
            if let Err(error) = expression.eval(&context) {
                let start = node.source_offset(self.source, offset);
                self.error(
                    Span::new(start, start + 1),
                    format!("cannot evaluate this expression: {}", error.message),
                );
            }
        }
    }

    fn expression_error(&mut self, node: &Node, error: &expr::ExprError) {
        let start = node.source_offset(self.source, error.offset);
        let message = if error
            .message
            .to_ascii_lowercase()
            .starts_with("unrecognized function")
        {
            let name = error
                .message
                .split('\'')
                .nth(1)
                .unwrap_or_default()
                .to_string();
            format!("unrecognized function `{name}`")
        } else {
            format!("invalid expression: {}", error.message)
        };
        let mut diagnostic = Diagnostic::error(Span::new(start, start + error.len.max(1)), message);
        if let Some(name) = diagnostic.message.strip_prefix("unrecognized function `") {
            let name = name.trim_end_matches('`');
            if let Some(close) = suggest(name, context::FUNCTIONS) {
                diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
            }
        }
        self.diagnostics.push(diagnostic);
    }

    /// Checks the expressions in every string of a free-form value.
    pub(super) fn check_value_expressions(&mut self, node: &Node, site: &Site) {
        match &node.kind {
            NodeKind::Scalar(scalar) => self.template(node, &scalar.text, site),
            NodeKind::Sequence(items) => {
                for item in items {
                    self.check_value_expressions(item, site);
                }
            }
            NodeKind::Mapping(entries) => {
                for (_, value) in entries {
                    self.check_value_expressions(value, site);
                }
            }
        }
    }
}
