//! A value during evaluation, and GitHub's coercing comparisons of two.
//!
//! Values read from the contexts are borrowed, not copied: that is cheaper, and
//! it gives arrays and objects the identity GitHub compares them by (`a == a`
//! is true, two equal-looking arrays are not equal). Results of `*` are kept
//! apart as "filtered" arrays because indexing one applies the index to each
//! element instead of to the array.

use super::number::js_number;
use super::value::{Value, eq_fold, fold_case};

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
pub(crate) fn compare(l: &V<'_>, r: &V<'_>) -> Option<std::cmp::Ordering> {
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
