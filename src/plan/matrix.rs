//! `strategy.matrix` expansion with GitHub's semantics.
//!
//! The rules follow GitHub's own workflow parser (actions/runner,
//! `src/Sdk/WorkflowParser/Conversion/MatrixBuilder.cs` and
//! `WorkflowTemplateConverter.ConvertToStrategy`) and the documented examples
//! ("Running variations of jobs in a workflow"):
//!
//! 1. The cross product of the dimensions, in declaration order: the first
//!    dimension varies slowest.
//! 2. A combination is dropped when any `exclude` entry matches it.
//! 3. Each `include` entry is split into *filter* pairs (keys that name a
//!    dimension) and *extra* pairs (every other key). Where all filter pairs
//!    match a remaining combination, the extra pairs are added to it; later
//!    entries overwrite extras added by earlier ones, but never a dimension
//!    value (an extra key is never a dimension key). This is exactly the
//!    documented "added when none of the pairs overwrite an original value".
//! 4. Each include entry that matched no original combination becomes a
//!    combination of its own (filter pairs first, then extra pairs), after all
//!    the original ones, in include order.
//!
//! Matching compares each *leaf* of the filter value with the combination
//! value at the same path, using the expression language's `==`: strings
//! compare case-insensitively, values of different types are compared as
//! numbers (`'16' == 16`, `null == ''`), and keys are looked up
//! case-insensitively. A nested mapping in a filter therefore matches when
//! its leaves match (a partial match), and a sequence matches element by
//! element at the same positions.
//!
//! Job-instance names follow `JobNameBuilder`: `name (v1, v2, …)` where the
//! values are the combination's *dimension* values (not values added by
//! `include`), nested arrays and objects are walked depth-first and only their
//! scalar leaves appear, null and empty strings are left out, booleans print
//! `true`/`false`, numbers print like .NET's `ToString("G15")` (`3.10` in YAML
//! is the number 3.1 and prints `3.1`; 1e15 prints `1E+15`), and a name longer
//! than 100 UTF-16 units is cut to 97 and ends in `...`. A combination made
//! from an unmatched include entry is named from all its values.

use crate::expr::Value;
use indexmap::IndexMap;
use std::fmt;

/// One job's matrix values, in order.
pub type Combination = IndexMap<String, Value>;

/// GitHub refuses a strategy that produces more than this many jobs.
pub const MAX_COMBINATIONS: usize = 256;

/// mlci refuses to enumerate a cross product larger than this (before
/// `exclude`), so that a hostile matrix cannot make planning slow.
const MAX_CROSS_PRODUCT: u128 = 1 << 16;

/// Values nested deeper than this are compared and named as opaque values.
const MAX_DEPTH: usize = 64;

/// GitHub caps a job's display name at this many UTF-16 units.
const MAX_NAME_LEN: usize = 100;

/// `strategy.matrix` after parsing: dimensions in declaration order, and the
/// `include` and `exclude` lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatrixSpec {
    pub dimensions: IndexMap<String, Vec<Value>>,
    pub include: Vec<Combination>,
    pub exclude: Vec<Combination>,
}

/// One expanded job instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// The `matrix` context of the instance.
    pub matrix: Combination,
    /// How many leading entries of `matrix` make up the instance's name:
    /// the dimension values for a combination of the cross product, every
    /// entry for one that came from an unmatched `include` entry.
    pub name_keys: usize,
}

impl Configuration {
    /// The name GitHub shows for this instance, e.g. `fit (tree, 0.1)`.
    pub fn name(&self, job_display_name: &str) -> String {
        build_name(job_display_name, self.matrix.values().take(self.name_keys))
    }
}

/// Why a matrix cannot be expanded. Each reads as one sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixError {
    /// Neither a dimension nor an `include` entry.
    NoDimensions,
    /// A dimension whose list of values is empty.
    EmptyDimension { name: String },
    /// An `include` entry with no key.
    EmptyInclude { index: usize },
    /// An `exclude` entry with no key.
    EmptyExclude { index: usize },
    /// An `exclude` key that is not a dimension of the matrix.
    UnknownExcludeKey { index: usize, key: String },
    /// Every combination was excluded and no `include` entry adds one.
    NoCombinations,
    /// More than [`MAX_COMBINATIONS`] combinations.
    TooManyCombinations { count: usize },
    /// The cross product is too large to enumerate at all.
    CrossProductTooLarge { size: u128 },
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatrixError::NoDimensions => write!(
                f,
                "the matrix defines no dimension and no include entry; give it at least one"
            ),
            MatrixError::EmptyDimension { name } => write!(
                f,
                "matrix dimension '{name}' has no values; give it at least one value or remove it"
            ),
            MatrixError::EmptyInclude { index } => write!(
                f,
                "matrix include entry {} has no values; give it at least one key",
                index + 1
            ),
            MatrixError::EmptyExclude { index } => write!(
                f,
                "matrix exclude entry {} is empty; an empty filter would exclude everything",
                index + 1
            ),
            MatrixError::UnknownExcludeKey { index, key } => write!(
                f,
                "matrix exclude entry {} uses key '{key}', which is not a dimension of the matrix",
                index + 1
            ),
            MatrixError::NoCombinations => write!(
                f,
                "the matrix produces no job: exclude removes every combination and no include entry adds one"
            ),
            MatrixError::TooManyCombinations { count } => write!(
                f,
                "the matrix produces {count} jobs, but a matrix may produce at most {MAX_COMBINATIONS} jobs"
            ),
            MatrixError::CrossProductTooLarge { size } => write!(
                f,
                "the matrix has {size} combinations before exclude, but a matrix may produce at most {MAX_COMBINATIONS} jobs"
            ),
        }
    }
}

impl std::error::Error for MatrixError {}

/// Expands a matrix into its combinations, in the order GitHub creates the jobs.
pub fn expand(spec: &MatrixSpec) -> Result<Vec<Combination>, MatrixError> {
    Ok(expand_configurations(spec)?
        .into_iter()
        .map(|c| c.matrix)
        .collect())
}

/// Expands a matrix and keeps, for each instance, what its name is made of.
pub fn expand_configurations(spec: &MatrixSpec) -> Result<Vec<Configuration>, MatrixError> {
    if spec.dimensions.is_empty() && spec.include.is_empty() {
        return Err(MatrixError::NoDimensions);
    }
    if let Some((name, _)) = spec.dimensions.iter().find(|(_, v)| v.is_empty()) {
        return Err(MatrixError::EmptyDimension { name: name.clone() });
    }
    let is_dimension = |key: &str| spec.dimensions.keys().any(|d| eq_ignore_case(d, key));

    // Include entries, split into filter and extra pairs.
    let mut includes = Vec::with_capacity(spec.include.len());
    for (index, entry) in spec.include.iter().enumerate() {
        if entry.is_empty() {
            return Err(MatrixError::EmptyInclude { index });
        }
        let mut filter = Combination::new();
        let mut extra = Combination::new();
        for (k, v) in entry {
            if is_dimension(k) {
                ci_insert(&mut filter, k, v.clone());
            } else {
                ci_insert(&mut extra, k, v.clone());
            }
        }
        let leaves = filter_leaves(&filter);
        includes.push((filter, extra, leaves));
    }

    let mut excludes = Vec::with_capacity(spec.exclude.len());
    for (index, entry) in spec.exclude.iter().enumerate() {
        if entry.is_empty() {
            return Err(MatrixError::EmptyExclude { index });
        }
        if let Some(key) = entry.keys().find(|k| !is_dimension(k)) {
            return Err(MatrixError::UnknownExcludeKey {
                index,
                key: key.clone(),
            });
        }
        excludes.push(filter_leaves(entry));
    }

    let product: u128 = if spec.dimensions.is_empty() {
        0
    } else {
        spec.dimensions
            .values()
            .fold(1u128, |acc, v| acc.saturating_mul(v.len() as u128))
    };
    if product > MAX_CROSS_PRODUCT {
        return Err(MatrixError::CrossProductTooLarge { size: product });
    }

    let dims: Vec<(&String, &Vec<Value>)> = spec.dimensions.iter().collect();
    let mut matched = vec![false; includes.len()];
    let mut result = Vec::new();
    let mut count = 0usize;
    let mut digits = vec![0usize; dims.len()];
    for step in 0..product {
        if step > 0 {
            // Mixed-radix increment: the last dimension varies fastest.
            for pos in (0..dims.len()).rev() {
                digits[pos] += 1;
                if digits[pos] < dims[pos].1.len() {
                    break;
                }
                digits[pos] = 0;
            }
        }
        let mut combo: Combination = dims
            .iter()
            .zip(&digits)
            .map(|((name, values), &i)| ((*name).clone(), values[i].clone()))
            .collect();
        if excludes.iter().any(|leaves| matches(&combo, leaves)) {
            continue;
        }
        count += 1;
        let mut extra = Combination::new();
        for (i, (_, entry_extra, leaves)) in includes.iter().enumerate() {
            if matches(&combo, leaves) {
                matched[i] = true;
                for (k, v) in entry_extra {
                    ci_insert(&mut extra, k, v.clone());
                }
            }
        }
        if count <= MAX_COMBINATIONS {
            let name_keys = combo.len();
            for (k, v) in extra {
                ci_insert(&mut combo, &k, v);
            }
            result.push(Configuration {
                matrix: combo,
                name_keys,
            });
        }
    }

    for (i, (filter, extra, _)) in includes.iter().enumerate() {
        if matched[i] {
            continue;
        }
        count += 1;
        if count <= MAX_COMBINATIONS {
            let mut combo = filter.clone();
            for (k, v) in extra {
                ci_insert(&mut combo, k, v.clone());
            }
            let name_keys = combo.len();
            result.push(Configuration {
                matrix: combo,
                name_keys,
            });
        }
    }

    if count == 0 {
        return Err(MatrixError::NoCombinations);
    }
    if count > MAX_COMBINATIONS {
        return Err(MatrixError::TooManyCombinations { count });
    }
    Ok(result)
}

/// Names a job instance from all the values of `combo`: `name (v1, v2, …)`.
///
/// For a combination of the cross product that `include` extended, GitHub
/// names the instance from its dimension values only; use
/// [`Configuration::name`] to get that name.
pub fn instance_name(job_display_name: &str, combo: &Combination) -> String {
    build_name(job_display_name, combo.values())
}

fn build_name<'a>(job_display_name: &str, values: impl Iterator<Item = &'a Value>) -> String {
    let mut segments = Vec::new();
    for value in values {
        name_segments(value, 0, &mut segments);
    }
    let name = if segments.is_empty() {
        job_display_name.to_string()
    } else if job_display_name.is_empty() {
        format!("({})", segments.join(", "))
    } else {
        format!("{job_display_name} ({})", segments.join(", "))
    };
    truncate_utf16(name, MAX_NAME_LEN)
}

fn name_segments(value: &Value, depth: usize, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(if *b { "true" } else { "false" }.to_string()),
        Value::Number(n) => out.push(format_g15(*n)),
        Value::String(s) if s.is_empty() => {}
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) if depth < MAX_DEPTH => {
            for item in items {
                name_segments(item, depth + 1, out);
            }
        }
        Value::Object(object) if depth < MAX_DEPTH => {
            for (_, item) in object {
                name_segments(item, depth + 1, out);
            }
        }
        Value::Array(_) | Value::Object(_) => {}
    }
}

/// Cuts `name` to `max - 3` UTF-16 units plus `...` when it is longer than
/// `max` units, as .NET's `Substring` does (never splitting a character).
fn truncate_utf16(name: String, max: usize) -> String {
    if name.encode_utf16().count() <= max {
        return name;
    }
    let mut units = 0;
    let mut out = String::new();
    for c in name.chars() {
        units += c.len_utf16();
        if units > max - 3 {
            break;
        }
        out.push(c);
    }
    out.push_str("...");
    out
}

/// Formats a number as .NET's `double.ToString("G15", InvariantCulture)`:
/// at most 15 significant digits, fixed notation when the decimal exponent
/// is in -5 < e < 15, otherwise `d.dddE+XX` with at least two exponent digits.
pub(crate) fn format_g15(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_string();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{:.14e}", n.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let sign = if n < 0.0 { "-" } else { "" };
    if exponent > -5 && exponent < 15 {
        let mut out = String::from(sign);
        if exponent < 0 {
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
        out
    } else {
        let mut out = String::from(sign);
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        out.push_str(&format!("E{exp_sign}{:02}", exponent.abs()));
        out
    }
}

// ---- filters -----------------------------------------------------------

#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A leaf of a filter: the path into the combination and the value there.
type Leaf = (Vec<Segment>, Value);

/// Flattens a filter into its scalar leaves, as GitHub builds one
/// `matrix[path] == literal` expression per leaf.
fn filter_leaves(filter: &Combination) -> Vec<Leaf> {
    let mut out = Vec::new();
    for (k, v) in filter {
        let mut path = vec![Segment::Key(k.clone())];
        collect_leaves(v, &mut path, &mut out);
    }
    out
}

fn collect_leaves(value: &Value, path: &mut Vec<Segment>, out: &mut Vec<Leaf>) {
    match value {
        Value::Object(object) if path.len() < MAX_DEPTH => {
            for (k, v) in object {
                path.push(Segment::Key(k.clone()));
                collect_leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) if path.len() < MAX_DEPTH => {
            for (i, v) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                collect_leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push((path.clone(), value.clone())),
    }
}

fn matches(combo: &Combination, leaves: &[Leaf]) -> bool {
    leaves
        .iter()
        .all(|(path, literal)| loose_eq(resolve(combo, path), literal))
}

static NULL: Value = Value::Null;

fn resolve<'a>(combo: &'a Combination, path: &[Segment]) -> &'a Value {
    let Some((Segment::Key(first), rest)) = path.split_first() else {
        return &NULL;
    };
    let Some(mut current) = ci_get(combo, first) else {
        return &NULL;
    };
    for segment in rest {
        current = match (segment, current) {
            (Segment::Key(k), Value::Object(o)) => o
                .iter()
                .find(|(key, _)| eq_ignore_case(key, k))
                .map(|(_, v)| v)
                .unwrap_or(&NULL),
            (Segment::Index(i), Value::Array(items)) => items.get(*i).unwrap_or(&NULL),
            _ => &NULL,
        };
    }
    current
}

/// The expression language's `==` (GitHub's coercion rules).
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => eq_ignore_case(x, y),
        // Arrays and objects are equal only to themselves (by reference).
        (Value::Array(_), _)
        | (_, Value::Array(_))
        | (Value::Object(_), _)
        | (_, Value::Object(_)) => false,
        _ => to_number(a) == to_number(b),
    }
}

/// GitHub's conversion of a scalar to a number (NaN when not numeric).
fn to_number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => *n,
        Value::String(s) => parse_number(s),
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

fn parse_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).map_or(f64::NAN, |n| n as f64);
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).map_or(f64::NAN, |n| n as f64);
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    // Decimal: [+-]? digits [. digits] [e [+-] digits], at least one digit.
    let bytes = t.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut mantissa_digits = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return f64::NAN;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return f64::NAN;
        }
    }
    if i != bytes.len() {
        return f64::NAN;
    }
    t.parse().unwrap_or(f64::NAN)
}

/// Case-insensitive comparison by simple (one-to-one) uppercase mapping, as
/// .NET's `OrdinalIgnoreCase` does.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    fn fold(c: char) -> char {
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => u,
            _ => c,
        }
    }
    a == b || a.chars().map(fold).eq(b.chars().map(fold))
}

fn ci_get<'a>(map: &'a Combination, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| eq_ignore_case(k, key))
            .map(|(_, v)| v)
    })
}

/// Inserts or replaces; a key that differs only in case replaces the value
/// and keeps the first spelling and position.
fn ci_insert(map: &mut Combination, key: &str, value: Value) {
    let index = map
        .get_index_of(key)
        .or_else(|| map.keys().position(|k| eq_ignore_case(k, key)));
    match index.and_then(|i| map.get_index_mut(i)) {
        Some((_, slot)) => *slot = value,
        None => {
            map.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g15_matches_dotnet() {
        assert_eq!(format_g15(3.1), "3.1");
        assert_eq!(format_g15(10.0), "10");
        assert_eq!(format_g15(0.1 + 0.2), "0.3");
        assert_eq!(format_g15(1e15), "1E+15");
        assert_eq!(format_g15(123456789012345.0), "123456789012345");
        assert_eq!(format_g15(1234567890123456.0), "1.23456789012346E+15");
        assert_eq!(format_g15(0.0001), "0.0001");
        assert_eq!(format_g15(0.00001), "1E-05");
        assert_eq!(format_g15(-2.5), "-2.5");
        assert_eq!(format_g15(1e-7), "1E-07");
        assert_eq!(format_g15(1.5e300), "1.5E+300");
    }

    #[test]
    fn numbers_from_strings() {
        assert_eq!(parse_number(" 16 "), 16.0);
        assert_eq!(parse_number("0x10"), 16.0);
        assert_eq!(parse_number(""), 0.0);
        assert!(parse_number("inf").is_nan());
        assert!(parse_number("1e").is_nan());
        assert_eq!(parse_number(".5"), 0.5);
    }

    #[test]
    fn loose_equality() {
        assert!(loose_eq(&Value::str("Ubuntu"), &Value::str("ubuntu")));
        assert!(loose_eq(&Value::str("16"), &Value::Number(16.0)));
        assert!(loose_eq(&Value::Null, &Value::str("")));
        assert!(!loose_eq(&Value::Null, &Value::str("a")));
        assert!(loose_eq(&Value::Bool(true), &Value::Number(1.0)));
        assert!(!loose_eq(&Value::Array(vec![]), &Value::Array(vec![])));
    }
}
