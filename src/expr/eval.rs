//! Evaluates a syntax tree: GitHub's type coercion, operators and indexing.
//!
//! It walks the tree with the values of [`super::view`]; a built-in function
//! gets the context and the evaluation's [`Memory`], not the evaluator, so
//! `functions` never needs this file back.

use super::context::EvalContext;
use super::error::EvalError;
use super::functions;
use super::memory::Memory;
use super::parse::{BinOp, Index, Node};
use super::value::Value;
use super::view::{V, compare, loose_equals};

pub(crate) struct Evaluator<'c, 'a> {
    pub ctx: &'c EvalContext<'a>,
    memory: Memory,
}

/// What an index selects: `*`, or a key and/or an array position.
struct Selector {
    star: bool,
    key: Option<String>,
    position: Option<usize>,
}

impl Selector {
    fn new(index: Option<&V<'_>>) -> Selector {
        let Some(index) = index else {
            return Selector {
                star: true,
                key: None,
                position: None,
            };
        };
        let key = index.is_primitive().then(|| index.to_display_string());
        let n = index.to_number();
        let position = (n.is_finite() && n >= 0.0).then(|| n.floor() as usize);
        Selector {
            star: false,
            key,
            position,
        }
    }
}

impl<'c, 'a> Evaluator<'c, 'a> {
    pub fn new(ctx: &'c EvalContext<'a>) -> Self {
        Evaluator {
            ctx,
            memory: Memory::new(),
        }
    }

    pub fn eval(&self, node: &Node) -> Result<V<'a>, EvalError> {
        match node {
            Node::Literal(v) => Ok(V::Own(v.clone())),
            Node::Context { name, .. } => Ok(match self.ctx.contexts.get(name) {
                Some(v) => V::Ref(v),
                None => V::Own(Value::Null),
            }),
            Node::Group(inner) => self.eval(inner),
            Node::Not(inner) => Ok(V::Own(Value::Bool(!self.eval(inner)?.truthy()))),
            Node::Logical { and, args } => {
                let mut result = V::Own(Value::Null);
                for arg in args {
                    result = self.eval(arg)?;
                    if result.truthy() != *and {
                        break;
                    }
                }
                Ok(result)
            }
            Node::Binary { op, left, right } => {
                let l = self.eval(left)?;
                let r = self.eval(right)?;
                use std::cmp::Ordering::*;
                let result = match op {
                    BinOp::Eq => loose_equals(&l, &r),
                    BinOp::Ne => !loose_equals(&l, &r),
                    BinOp::Lt => compare(&l, &r) == Some(Less),
                    BinOp::Gt => compare(&l, &r) == Some(Greater),
                    BinOp::Le => loose_equals(&l, &r) || compare(&l, &r) == Some(Less),
                    BinOp::Ge => loose_equals(&l, &r) || compare(&l, &r) == Some(Greater),
                };
                Ok(V::Own(Value::Bool(result)))
            }
            Node::Index { target, index } => {
                // GitHub evaluates the index before the object.
                let selector = match index {
                    Index::Star => Selector::new(None),
                    Index::Property(name) => Selector {
                        star: false,
                        key: Some(name.clone()),
                        position: None,
                    },
                    Index::Expr(e) => Selector::new(Some(&self.eval(e)?)),
                };
                let target = self.eval(target)?;
                Ok(self.index(target, &selector))
            }
            Node::Call { func, args, .. } => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a)?);
                }
                functions::call(self.ctx, &self.memory, *func, values)
            }
        }
    }

    fn index(&self, target: V<'a>, sel: &Selector) -> V<'a> {
        match target {
            V::Filtered(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        // Never built: stars collect plain values.
                        V::Filtered(_) => {}
                        V::Ref(v) => select_many(V::Ref, v, sel, &mut out),
                        V::Own(v) => select_many_owned(v, sel, &mut out),
                    }
                }
                V::Filtered(out)
            }
            V::Ref(v) => {
                if sel.star {
                    let mut out = Vec::new();
                    select_many(V::Ref, v, sel, &mut out);
                    return V::Filtered(out);
                }
                match v {
                    Value::Array(items) => sel
                        .position
                        .and_then(|i| items.get(i))
                        .map_or(V::Own(Value::Null), V::Ref),
                    Value::Object(o) => sel
                        .key
                        .as_deref()
                        .and_then(|k| o.get(k))
                        .map_or(V::Own(Value::Null), V::Ref),
                    _ => V::Own(Value::Null),
                }
            }
            V::Own(v) => {
                if sel.star {
                    let mut out = Vec::new();
                    select_many_owned(v, sel, &mut out);
                    return V::Filtered(out);
                }
                V::Own(match v {
                    Value::Array(items) => sel
                        .position
                        .and_then(|i| items.into_iter().nth(i))
                        .unwrap_or(Value::Null),
                    Value::Object(mut o) => sel
                        .key
                        .as_deref()
                        .and_then(|k| o.remove(k))
                        .unwrap_or(Value::Null),
                    _ => Value::Null,
                })
            }
        }
    }
}

/// Adds what `sel` picks out of one borrowed array/object to `out`: every
/// element for `*`, else the one element that exists. Other values add nothing.
fn select_many<'a>(
    wrap: fn(&'a Value) -> V<'a>,
    v: &'a Value,
    sel: &Selector,
    out: &mut Vec<V<'a>>,
) {
    match v {
        Value::Array(items) if sel.star => out.extend(items.iter().map(wrap)),
        Value::Array(items) => {
            if let Some(item) = sel.position.and_then(|i| items.get(i)) {
                out.push(wrap(item));
            }
        }
        Value::Object(o) if sel.star => out.extend(o.values().map(wrap)),
        Value::Object(o) => {
            if let Some(item) = sel.key.as_deref().and_then(|k| o.get(k)) {
                out.push(wrap(item));
            }
        }
        _ => {}
    }
}

fn select_many_owned<'a>(v: Value, sel: &Selector, out: &mut Vec<V<'a>>) {
    match v {
        Value::Array(items) if sel.star => out.extend(items.into_iter().map(V::Own)),
        Value::Array(items) => {
            if let Some(item) = sel.position.and_then(|i| items.into_iter().nth(i)) {
                out.push(V::Own(item));
            }
        }
        Value::Object(o) if sel.star => out.extend(o.values().cloned().map(V::Own)),
        Value::Object(mut o) => {
            if let Some(item) = sel.key.as_deref().and_then(|k| o.remove(k)) {
                out.push(V::Own(item));
            }
        }
        _ => {}
    }
}
