//! Strings with `${{ }}` parts, and `if:` conditions.

use super::context::{EvalContext, Status};
use super::error::{EvalError, ExprError};
use super::expression::{Expr, parse};
use super::value::Value;

/// A string with `${{ expression }}` parts.
#[derive(Clone, Debug)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

#[derive(Clone, Debug)]
pub enum TemplatePart {
    Literal(String),
    Expr {
        expr: Expr,
        /// Byte offset of the expression text (just after `${{`) in the source.
        offset: usize,
    },
}

const OPEN: &str = "${{";
const CLOSE: &str = "}}";

/// Splits `src` into literal text and expressions. Inside an expression a
/// `}}` within a string literal does not end it.
pub fn parse_template(src: &str) -> Result<Template, ExprError> {
    let mut parts = Vec::new();
    let mut rest_start = 0;
    while let Some(found) = src.get(rest_start..).and_then(|r| r.find(OPEN)) {
        let open = rest_start + found;
        if open > rest_start {
            parts.push(TemplatePart::Literal(src[rest_start..open].to_string()));
        }
        let text_start = open + OPEN.len();
        let close = find_close(src, text_start).ok_or_else(|| ExprError {
            offset: open,
            len: OPEN.len(),
            message: "The expression is not closed. An unescaped ${{ sequence was found, \
                      but the closing }} sequence was not found."
                .to_string(),
        })?;
        let text = &src[text_start..close];
        if text.trim().is_empty() {
            return Err(ExprError {
                offset: open,
                len: close + CLOSE.len() - open,
                message: "An expression was expected".to_string(),
            });
        }
        let expr = parse(text).map_err(|mut e| {
            e.offset += text_start;
            e
        })?;
        parts.push(TemplatePart::Expr {
            expr,
            offset: text_start,
        });
        rest_start = close + CLOSE.len();
    }
    if rest_start < src.len() {
        parts.push(TemplatePart::Literal(src[rest_start..].to_string()));
    }
    Ok(Template { parts })
}

/// The byte offset of the `}}` that ends an expression starting at `from`,
/// skipping over single-quoted strings (`''` inside one toggles twice).
fn find_close(src: &str, from: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut in_string = false;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

impl Template {
    /// No expressions at all.
    pub fn is_literal(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, TemplatePart::Literal(_)))
    }

    /// The expression when the whole string is one `${{ e }}`, give or take
    /// surrounding whitespace.
    pub fn single_expr(&self) -> Option<&Expr> {
        self.single().map(|(_, e)| e)
    }

    fn single(&self) -> Option<(usize, &Expr)> {
        let mut found = None;
        for part in &self.parts {
            match part {
                TemplatePart::Literal(s) if s.trim().is_empty() => {}
                TemplatePart::Literal(_) => return None,
                TemplatePart::Expr { expr, offset } => {
                    if found.is_some() {
                        return None;
                    }
                    found = Some((*offset, expr));
                }
            }
        }
        found
    }

    /// A single expression gives its value as it is (an object stays an
    /// object); otherwise the parts are joined into a string, with null as ''
    /// and arrays and objects as 'Array' and 'Object'.
    pub fn eval(&self, ctx: &EvalContext) -> Result<Value, EvalError> {
        if let Some(expr) = self.single_expr() {
            return expr.eval(ctx);
        }
        self.concat(ctx).map(Value::String)
    }

    /// The result as a string, as substituted into `run:` and `env:`.
    pub fn eval_string(&self, ctx: &EvalContext) -> Result<String, EvalError> {
        if let Some(expr) = self.single_expr() {
            return Ok(expr.eval(ctx)?.to_display_string());
        }
        self.concat(ctx)
    }

    fn concat(&self, ctx: &EvalContext) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Expr { expr, .. } => {
                    out.push_str(&expr.eval(ctx)?.to_display_string());
                }
            }
        }
        Ok(out)
    }

    /// Every expression with its byte offset in the source.
    pub fn expressions(&self) -> impl Iterator<Item = (usize, &Expr)> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Expr { expr, offset } => Some((*offset, expr)),
            TemplatePart::Literal(_) => None,
        })
    }
}

/// A parsed `if:` value.
#[derive(Clone, Debug)]
pub struct Condition {
    body: Body,
    /// No status function is called, so GitHub runs it as `success() && (e)`.
    implicit_success: bool,
}

#[derive(Clone, Debug)]
enum Body {
    /// An empty `if:`: only the implicit `success()`.
    Empty,
    Expr {
        expr: Expr,
        offset: usize,
    },
    /// Text mixed with `${{ }}`: true when the resulting string is not empty.
    Template(Template),
}

/// Parses an `if:` value: `${{ e }}` alone is `e`, text without `${{` is an
/// expression, anything else is a template whose string result is tested.
pub fn parse_condition(src: &str) -> Result<Condition, ExprError> {
    let body = if src.trim().is_empty() {
        Body::Empty
    } else if !src.contains(OPEN) {
        Body::Expr {
            expr: parse(src)?,
            offset: 0,
        }
    } else {
        let template = parse_template(src)?;
        match template.single() {
            Some((offset, expr)) => Body::Expr {
                expr: expr.clone(),
                offset,
            },
            None => Body::Template(template),
        }
    };
    let mut condition = Condition {
        body,
        implicit_success: true,
    };
    let calls_status = condition
        .expressions()
        .any(|(_, e)| e.calls_status_function());
    condition.implicit_success = !calls_status;
    Ok(condition)
}

impl Condition {
    pub fn eval(&self, ctx: &EvalContext) -> Result<bool, EvalError> {
        // `success() && (e)`: e is not evaluated once the job has failed.
        if self.implicit_success && ctx.status != Status::Success {
            return Ok(false);
        }
        Ok(match &self.body {
            Body::Empty => true,
            Body::Expr { expr, .. } => expr.eval(ctx)?.is_truthy(),
            Body::Template(t) => !t.eval_string(ctx)?.is_empty(),
        })
    }

    /// Every expression with its byte offset in the `if:` source.
    pub fn expressions(&self) -> impl Iterator<Item = (usize, &Expr)> {
        let list: Vec<(usize, &Expr)> = match &self.body {
            Body::Empty => Vec::new(),
            Body::Expr { expr, offset } => vec![(*offset, expr)],
            Body::Template(t) => t.expressions().collect(),
        };
        list.into_iter()
    }
}
