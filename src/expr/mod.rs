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

mod context;
mod error;
mod eval;
mod expression;
mod functions;
mod lex;
mod memory;
mod number;
mod parse;
mod template;
mod value;
mod view;

pub use context::{EvalContext, Status};
pub use error::{EvalError, ExprError};
pub use expression::{Expr, parse, parse_with_contexts};
pub use number::format_number;
pub use template::{Condition, Template, TemplatePart, parse_condition, parse_template};
pub use value::{Object, Value};
