//! The GitHub Actions expression language: `${{ }}` templates and `if:` conditions.
//!
//! Data flows `lex` → `parse` (syntax tree) → `eval` (coercion, operators)
//! with `functions` for the built-ins; `template` handles strings with
//! `${{ }}` parts and `if:` conditions. Behaviour follows GitHub's, checked
//! against its published test vectors (tests/expr_github_vectors.rs).
//!
//! Parsing does not know which contexts exist where: callers check
//! [`Expr::named_values`] and [`Expr::function_calls`] against what the
//! place allows (GitHub reports `Unrecognized named-value` for the rest).

mod eval;
mod functions;
mod lex;
mod parse;
mod template;
mod value;

use std::fmt;
use std::path::Path;

pub use template::{Condition, Template, TemplatePart, parse_condition, parse_template};
pub use value::{Object, Value, format_number};

/// A parsed expression.
#[derive(Clone, Debug)]
pub struct Expr {
    root: parse::Node,
}

/// A syntax error: a message in GitHub's words and the byte range it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    /// Byte offset into the parsed string.
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

/// A failure while evaluating (a bad format string, invalid JSON, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}
impl std::error::Error for EvalError {}

/// The job's state so far, for `success()`, `failure()` and `cancelled()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    Cancelled,
}

/// What an expression can see.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    /// `github`, `env`, `matrix`, `steps`, `needs`, ... (names case-insensitive).
    pub contexts: &'a Object,
    pub status: Status,
    /// Where `hashFiles` looks; without one it is an error.
    pub workspace: Option<&'a Path>,
}

/// Parses a bare expression such as `github.ref == 'refs/heads/main'`.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    parse::parse_node(src, None).map(|root| Expr { root })
}

/// Like [`parse`], but a context not in `contexts` (compared ignoring case)
/// is the error `Unrecognized named-value: 'name'`, reported where GitHub
/// reports it (before, say, a missing argument later in the expression).
pub fn parse_with_contexts(src: &str, contexts: &[&str]) -> Result<Expr, ExprError> {
    let known = |name: &str| contexts.iter().any(|c| c.eq_ignore_ascii_case(name));
    parse::parse_node(src, Some(&known)).map(|root| Expr { root })
}

impl Expr {
    pub fn eval(&self, ctx: &EvalContext) -> Result<Value, EvalError> {
        let evaluator = eval::Evaluator::new(ctx);
        Ok(evaluator.eval(&self.root)?.into_value())
    }

    /// The contexts the expression reads: lowercased name and byte offset.
    pub fn named_values(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.root.walk(&mut |n| {
            if let parse::Node::Context { name, offset } = n {
                out.push((name.to_ascii_lowercase(), *offset));
            }
        });
        out
    }

    /// The functions the expression calls: lowercased name and byte offset.
    pub fn function_calls(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.root.walk(&mut |n| {
            if let parse::Node::Call { name, offset, .. } = n {
                out.push((name.to_ascii_lowercase(), *offset));
            }
        });
        out
    }

    /// Calls success(), failure(), always() or cancelled().
    pub(crate) fn calls_status_function(&self) -> bool {
        let mut found = false;
        self.root.walk(&mut |n| {
            if let parse::Node::Call { func, .. } = n {
                found |= func.is_status();
            }
        });
        found
    }
}

#[cfg(test)]
mod smoke {
    //! Random input must give a result or an error, never a panic or a hang.
    use super::*;

    #[test]
    fn random_input_never_panics() {
        let pieces = [
            "${{",
            "}}",
            "'",
            "''",
            "(",
            ")",
            "[",
            "]",
            ".",
            "*",
            ",",
            "!",
            "==",
            "!=",
            "<=",
            ">",
            "&&",
            "||",
            "a",
            "b.c",
            "0x1",
            "-1.5e3",
            "NaN",
            "Infinity",
            "null",
            "true",
            " ",
            "format('{0}{{{1}}}', ",
            "join(",
            "contains(",
            "fromJSON('[1,{\"a\":2}]')",
            "toJSON(",
            "case(",
            "success()",
            "'{0}'",
            "é",
            "😊",
            "\n",
            "-",
            "+",
            "=",
            "&",
            "|",
            "}",
            "{",
            "a.*.b",
            "[*]",
            "hashFiles('x')",
            "startsWith(",
            "1",
            "'x}}y'",
        ];
        let mut contexts = Object::new();
        contexts.insert(
            "a",
            Value::from_json(&serde_json::json!({"b": [1, {"c": "x"}], "c": {"d": null}})),
        );
        let ctx = EvalContext {
            contexts: &contexts,
            status: Status::Success,
            workspace: None,
        };
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut src = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 12) as usize;
            for k in 0..n {
                let r = seed.rotate_left(k as u32 * 5);
                src.push_str(pieces[(r % pieces.len() as u64) as usize]);
            }
            if let Ok(e) = parse(&src) {
                let _ = e.eval(&ctx);
            }
            if let Ok(t) = parse_template(&src) {
                let _ = t.eval_string(&ctx);
            }
            if let Ok(c) = parse_condition(&src) {
                let _ = c.eval(&ctx);
            }
        }
    }
}
