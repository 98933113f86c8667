//! The values that expressions compute with, and that contexts are made of.
//!
//! GitHub's expression language has six kinds of value: null, boolean, number
//! (a double), string, array and object. Object keys are looked up
//! case-insensitively but keep the spelling and order they were written in.

use super::number::format_number;
use indexmap::IndexMap;
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Object),
}

/// A map whose keys compare case-insensitively, as GitHub's contexts do.
///
/// Entries are indexed by their case-folded key, so that a lookup or an
/// insert is one hash probe: a scan for a key differing in case made a map
/// of n keys cost n² to build (40 000 `env` keys took 35 s).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object {
    /// Folded key → (the key as written, its value).
    entries: IndexMap<String, (String, Value)>,
}

impl Object {
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks a key up ignoring case (`github.SHA` finds `sha`), as GitHub's
    /// ordinal-ignore-case comparison does (`Ü` finds `ü`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(&fold_case(key)).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries.get_mut(&fold_case(key)).map(|(_, v)| v)
    }

    /// Inserts or replaces; a key that differs only in case replaces the old one
    /// and keeps its position.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.entries.entry(fold_case(&key)) {
            indexmap::map::Entry::Occupied(mut entry) => entry.get_mut().1 = value,
            indexmap::map::Entry::Vacant(entry) => {
                entry.insert((key, value));
            }
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(&fold_case(key))
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.entries.shift_remove(&fold_case(key)).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.values().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.values().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.values().map(|(_, v)| v)
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut object = Object::new();
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

/// An entry as written: its key's spelling and its value.
type WrittenEntry<'a> = (&'a String, &'a Value);

impl<'a> IntoIterator for &'a Object {
    type Item = WrittenEntry<'a>;
    type IntoIter = std::iter::Map<
        indexmap::map::Values<'a, String, (String, Value)>,
        fn(&'a (String, Value)) -> WrittenEntry<'a>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.values().map(|(k, v)| (k, v))
    }
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// GitHub's truthiness: null, false, 0, NaN and '' are false; everything
    /// else (arrays and objects included, even empty ones) is true.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// The string GitHub substitutes for a value in `${{ }}` templates:
    /// null is '', booleans are 'true'/'false', whole numbers print without a
    /// fraction, arrays and objects print as 'Array' and 'Object'.
    pub fn to_display_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => format_number(*n),
            Value::String(s) => s.clone(),
            Value::Array(_) => "Array".to_string(),
            Value::Object(_) => "Object".to_string(),
        }
    }

    /// Converts to JSON for `toJSON` and machine-readable output. NaN and the
    /// infinities have no JSON form and become null.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(o) => {
                serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Upper-cases a string for GitHub's case-insensitive comparisons
/// (OrdinalIgnoreCase): every character is upper-cased except the dotless ı,
/// which would otherwise become a plain I.
pub(crate) fn fold_case(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\u{131}' {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

/// Case-insensitive equality with [`fold_case`], fast for ASCII.
pub(crate) fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold_case(a) == fold_case(b)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display_string())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}
