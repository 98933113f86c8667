//! Evaluates a syntax tree: GitHub's type coercion, operators and indexing.
//!
//! Values read from the contexts are borrowed, not copied: that is cheaper, and
//! it gives arrays and objects the identity GitHub compares them by (`a == a`
//! is true, two equal-looking arrays are not equal). Results of `*` are kept
//! apart as "filtered" arrays because indexing one applies the index to each
//! element instead of to the array.

use std::cell::Cell;

use super::functions;
use super::parse::{BinOp, Index, Node};
use super::value::{Value, eq_fold, fold_case, js_number};
use super::{EvalContext, EvalError};

/// GitHub stops an evaluation that builds more than this many bytes of
/// strings and values (its runner counts 2 bytes per character).
pub(crate) const MAX_MEMORY: usize = 1024 * 1024;

/// A value during evaluation.
#[derive(Clone, Debug)]
pub(crate) enum V<'a> {
    /// Part of the contexts; compared by identity when it is an array or object.
    Ref(&'a Value),
    /// Computed by the expression.
    Own(Value),
    /// The result of `.*` or `[*]`.
    Filtered(Vec<V<'a>>),
}

pub(crate) struct Evaluator<'c, 'a> {
    pub ctx: &'c EvalContext<'a>,
    memory: Cell<usize>,
}

impl<'a> V<'a> {
    /// The plain value, unless this is a filtered array.
    pub fn plain(&self) -> Option<&Value> {
        match self {
            V::Ref(v) => Some(v),
            V::Own(v) => Some(v),
            V::Filtered(_) => None,
        }
    }

    pub fn into_value(self) -> Value {
        match self {
            V::Ref(v) => v.clone(),
            V::Own(v) => v,
            V::Filtered(items) => Value::Array(items.into_iter().map(V::into_value).collect()),
        }
    }

    pub fn is_primitive(&self) -> bool {
        !matches!(
            self.plain(),
            None | Some(Value::Array(_) | Value::Object(_))
        )
    }

    /// The elements, for an array of either kind.
    pub fn array_items(&self) -> Option<Vec<V<'_>>> {
        match self {
            V::Filtered(items) => Some(items.iter().map(V::reborrow).collect()),
            _ => match self.plain() {
                Some(Value::Array(items)) => Some(items.iter().map(V::Ref).collect()),
                _ => None,
            },
        }
    }

    fn reborrow(&self) -> V<'_> {
        match self {
            V::Ref(v) => V::Ref(v),
            V::Own(v) => V::Ref(v),
            V::Filtered(items) => V::Filtered(items.iter().map(V::reborrow).collect()),
        }
    }

    pub fn truthy(&self) -> bool {
        self.plain().is_none_or(Value::is_truthy)
    }

    pub fn to_number(&self) -> f64 {
        match self.plain() {
            Some(Value::Null) => 0.0,
            Some(Value::Bool(b)) => f64::from(u8::from(*b)),
            Some(Value::Number(n)) => *n,
            Some(Value::String(s)) => js_number(s),
            _ => f64::NAN,
        }
    }

    /// The string GitHub coerces a value to (`format`, `join`, templates).
    pub fn to_display_string(&self) -> String {
        match self.plain() {
            None => "Array".to_string(),
            Some(v) => v.to_display_string(),
        }
    }
}

/// A value reduced to what comparison looks at.
#[derive(Debug)]
enum Cmp<'v> {
    Null,
    Bool(bool),
    Num(f64),
    Str(&'v str),
    /// Arrays and objects: the address when borrowed from the contexts.
    Array(Option<*const Value>),
    Object(Option<*const Value>),
}

impl Cmp<'_> {
    fn kind(&self) -> u8 {
        match self {
            Cmp::Null => 0,
            Cmp::Bool(_) => 1,
            Cmp::Num(_) => 2,
            Cmp::Str(_) => 3,
            Cmp::Array(_) => 4,
            Cmp::Object(_) => 5,
        }
    }

    fn to_number(&self) -> f64 {
        match self {
            Cmp::Null => 0.0,
            Cmp::Bool(b) => f64::from(u8::from(*b)),
            Cmp::Num(n) => *n,
            Cmp::Str(s) => js_number(s),
            _ => f64::NAN,
        }
    }
}

fn cmp_view<'v>(v: &'v V<'_>) -> Cmp<'v> {
    let address = match v {
        V::Ref(r) => Some(*r as *const Value),
        _ => None,
    };
    match v.plain() {
        None => Cmp::Array(None),
        Some(Value::Null) => Cmp::Null,
        Some(Value::Bool(b)) => Cmp::Bool(*b),
        Some(Value::Number(n)) => Cmp::Num(*n),
        Some(Value::String(s)) => Cmp::Str(s),
        Some(Value::Array(_)) => Cmp::Array(address),
        Some(Value::Object(_)) => Cmp::Object(address),
    }
}

/// GitHub's coercion before comparing: like JavaScript's `==` except that
/// arrays and objects are never converted. Number vs string makes both
/// numbers; null and booleans become numbers against anything else.
fn coerce<'v>(l: Cmp<'v>, r: Cmp<'v>) -> (Cmp<'v>, Cmp<'v>) {
    if l.kind() == r.kind() {
        return (l, r);
    }
    match (&l, &r) {
        (Cmp::Num(_), Cmp::Str(_)) => {
            let n = r.to_number();
            (l, Cmp::Num(n))
        }
        (Cmp::Str(_), Cmp::Num(_)) => (Cmp::Num(l.to_number()), r),
        (Cmp::Null | Cmp::Bool(_), _) => coerce(Cmp::Num(l.to_number()), r),
        (_, Cmp::Null | Cmp::Bool(_)) => {
            let n = r.to_number();
            coerce(l, Cmp::Num(n))
        }
        _ => (l, r),
    }
}

pub(crate) fn loose_equals(l: &V<'_>, r: &V<'_>) -> bool {
    match coerce(cmp_view(l), cmp_view(r)) {
        (Cmp::Null, Cmp::Null) => true,
        (Cmp::Bool(a), Cmp::Bool(b)) => a == b,
        (Cmp::Num(a), Cmp::Num(b)) => a == b,
        (Cmp::Str(a), Cmp::Str(b)) => eq_fold(a, b),
        (Cmp::Array(Some(a)), Cmp::Array(Some(b)))
        | (Cmp::Object(Some(a)), Cmp::Object(Some(b))) => std::ptr::eq(a, b),
        _ => false,
    }
}

/// `Some(ordering)` when the values are comparable; NaN, arrays and objects
/// and mismatched kinds are not, so every ordering operator is false for them.
fn compare(l: &V<'_>, r: &V<'_>) -> Option<std::cmp::Ordering> {
    match coerce(cmp_view(l), cmp_view(r)) {
        (Cmp::Num(a), Cmp::Num(b)) => a.partial_cmp(&b),
        (Cmp::Str(a), Cmp::Str(b)) => {
            // Ordinal: UTF-16 code units, as GitHub compares.
            Some(fold_case(a).encode_utf16().cmp(fold_case(b).encode_utf16()))
        }
        (Cmp::Bool(a), Cmp::Bool(b)) => Some(a.cmp(&b)),
        _ => None,
    }
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
            memory: Cell::new(0),
        }
    }

    /// Counts `bytes` against the memory limit.
    pub fn charge(&self, bytes: usize) -> Result<(), EvalError> {
        self.check_room(bytes)?;
        self.memory.set(self.memory.get().saturating_add(bytes));
        Ok(())
    }

    /// Fails if `bytes` more would go over the memory limit, without counting them.
    pub fn check_room(&self, bytes: usize) -> Result<(), EvalError> {
        if self.memory.get().saturating_add(bytes) > MAX_MEMORY {
            return Err(EvalError::new(
                "The maximum allowed memory size was exceeded",
            ));
        }
        Ok(())
    }

    /// Counts a new string (2 bytes per UTF-16 unit, as GitHub counts).
    pub fn charge_str(&self, s: &str) -> Result<(), EvalError> {
        self.charge(s.len().saturating_mul(2))
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
                functions::call(self, *func, values)
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
