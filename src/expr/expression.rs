//! A parsed bare expression: parsing it (optionally against the contexts a
//! place allows), evaluating it, and listing the contexts and functions it names.

use super::context::EvalContext;
use super::error::{EvalError, ExprError};
use super::eval::Evaluator;
use super::parse as syntax;
use super::value::Value;

/// A parsed expression.
#[derive(Clone, Debug)]
pub struct Expr {
    root: syntax::Node,
}

/// Parses a bare expression such as `github.ref == 'refs/heads/main'`.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    syntax::parse_node(src, None).map(|root| Expr { root })
}

/// Like [`parse`], but a context not in `contexts` (compared ignoring case)
/// is the error `Unrecognized named-value: 'name'`, reported where GitHub
/// reports it (before, say, a missing argument later in the expression).
pub fn parse_with_contexts(src: &str, contexts: &[&str]) -> Result<Expr, ExprError> {
    let known = |name: &str| contexts.iter().any(|c| c.eq_ignore_ascii_case(name));
    syntax::parse_node(src, Some(&known)).map(|root| Expr { root })
}

impl Expr {
    pub fn eval(&self, ctx: &EvalContext) -> Result<Value, EvalError> {
        let evaluator = Evaluator::new(ctx);
        Ok(evaluator.eval(&self.root)?.into_value())
    }

    /// The contexts the expression reads: lowercased name and byte offset.
    pub fn named_values(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.root.walk(&mut |n| {
            if let syntax::Node::Context { name, offset } = n {
                out.push((name.to_ascii_lowercase(), *offset));
            }
        });
        out
    }

    /// The properties of `context` that the expression may read: `Some(name)`
    /// for `context.name` or `context['name']`, `None` where it reads the
    /// context some other way (whole, or by a computed index).
    pub fn context_properties(&self, context: &str) -> Vec<Option<String>> {
        let is_context = |n: &syntax::Node| matches!(n, syntax::Node::Context { name, .. } if name.eq_ignore_ascii_case(context));
        let mut named = Vec::new();
        let mut by_name: Vec<*const syntax::Node> = Vec::new();
        self.root.walk(&mut |n| {
            if let syntax::Node::Index { target, index } = n {
                if !is_context(target) {
                    return;
                }
                let property = match index {
                    syntax::Index::Property(p) => Some(p.clone()),
                    syntax::Index::Expr(e) => match e.as_ref() {
                        syntax::Node::Literal(Value::String(s)) => Some(s.clone()),
                        _ => None,
                    },
                    syntax::Index::Star => None,
                };
                if let Some(p) = property {
                    named.push(Some(p));
                    by_name.push(&**target as *const syntax::Node);
                }
            }
        });
        // Every other mention of the context reads it in a way not known here.
        self.root.walk(&mut |n| {
            if is_context(n) && !by_name.contains(&(n as *const syntax::Node)) {
                named.push(None);
            }
        });
        named
    }

    /// The functions the expression calls: lowercased name and byte offset.
    pub fn function_calls(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.root.walk(&mut |n| {
            if let syntax::Node::Call { name, offset, .. } = n {
                out.push((name.to_ascii_lowercase(), *offset));
            }
        });
        out
    }

    /// Calls success(), failure(), always() or cancelled().
    pub(crate) fn calls_status_function(&self) -> bool {
        let mut found = false;
        self.root.walk(&mut |n| {
            if let syntax::Node::Call { func, .. } = n {
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
    use crate::expr::{Object, Status, parse_condition, parse_template};

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
