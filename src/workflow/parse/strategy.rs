//! A job's `strategy:`: the matrix with its `include` and `exclude` rows,
//! `fail-fast` and `max-parallel`.

use super::reader::{Reader, is_expression};
use crate::workflow::context;
use crate::workflow::model::{Matrix, MatrixRows, MatrixValues, Spanned, Strategy};
use crate::yaml::{Node, NodeKind};

impl Reader<'_> {
    pub(super) fn strategy(&mut self, node: &Node) -> Option<Strategy> {
        let mut strategy = Strategy {
            matrix: None,
            fail_fast: None,
            max_parallel: None,
        };
        if let Some(text) = node.as_str().filter(|t| is_expression(t)) {
            self.template(node, text, &context::STRATEGY);
            strategy.matrix = Some(Matrix::Expr(Spanned::new(text.to_string(), node.span)));
            return Some(strategy);
        }
        for field in self.fields(node, "`strategy`", &["matrix", "fail-fast", "max-parallel"]) {
            match field.name {
                "matrix" => strategy.matrix = self.matrix(field.value),
                "fail-fast" => {
                    strategy.fail_fast = self.bool_or_expr(field.value, &context::STRATEGY)
                }
                _ => strategy.max_parallel = self.number_or_expr(field.value, &context::STRATEGY),
            }
        }
        Some(strategy)
    }

    fn matrix(&mut self, node: &Node) -> Option<Matrix> {
        if let Some(text) = node.as_str() {
            if is_expression(text) {
                self.template(node, text, &context::STRATEGY);
                return Some(Matrix::Expr(Spanned::new(text.to_string(), node.span)));
            }
        }
        let entries = self.mapping(node, "a map of matrix dimensions, or an expression")?;
        let mut dimensions = Vec::new();
        let mut include = None;
        let mut exclude = None;
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match name {
                "include" => include = self.matrix_rows(value, "include"),
                "exclude" => exclude = self.matrix_rows(value, "exclude"),
                _ => {
                    let values = match &value.kind {
                        NodeKind::Sequence(items) => {
                            for item in items {
                                self.check_value_expressions(item, &context::STRATEGY);
                            }
                            MatrixValues::List(
                                items
                                    .iter()
                                    .map(|item| Spanned::new(item.to_value(), item.span))
                                    .collect(),
                            )
                        }
                        NodeKind::Scalar(scalar) if is_expression(&scalar.text) => {
                            self.template(value, &scalar.text, &context::STRATEGY);
                            MatrixValues::Expr(Spanned::new(scalar.text.clone(), value.span))
                        }
                        _ => {
                            self.expected(
                                value,
                                &format!("a list of values for matrix dimension `{name}`"),
                            );
                            continue;
                        }
                    };
                    dimensions.push((Spanned::new(name.to_string(), key.span), values));
                }
            }
        }
        Some(Matrix::Map {
            span: node.span,
            dimensions,
            include,
            exclude,
        })
    }

    fn matrix_rows(&mut self, node: &Node, key: &str) -> Option<MatrixRows> {
        if let Some(text) = node.as_str() {
            if is_expression(text) {
                self.template(node, text, &context::STRATEGY);
                return Some(MatrixRows::Expr(Spanned::new(text.to_string(), node.span)));
            }
        }
        let Some(items) = node.as_sequence() else {
            self.error(
                node.span,
                format!(
                    "matrix `{key}` must be a list of maps, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut rows = Vec::new();
        for item in items {
            let Some(entries) = item.as_mapping() else {
                self.error(
                    item.span,
                    format!(
                        "matrix `{key}` must be a list of maps, found {} in the list",
                        item.describe()
                    ),
                );
                continue;
            };
            self.check_value_expressions(item, &context::STRATEGY);
            let row = entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.to_value())))
                .collect();
            rows.push(Spanned::new(row, item.span));
        }
        Some(MatrixRows::List(rows))
    }
}
