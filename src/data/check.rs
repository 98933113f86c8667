//! The rules a column's values are checked against, value by value as the
//! file streams past, and the failures they give: each names the column, the
//! rule, and the first offending values with their rows, plus how many there
//! were in all (Great Expectations' `partial_unexpected_list` and count).

use super::schema::{ColumnSchema, Schema};
use super::stats::ColumnAccumulator;
use super::value::{Cell, ColumnType, Typed, format_value, shorten};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// Offending values kept per rule and column.
pub const MAX_EXAMPLES: usize = 5;

/// What a failure broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// A value not of the column's type.
    Type,
    /// A null in a column that is not nullable.
    Nullable,
    Min,
    Max,
    Allowed,
    /// The number of rows is out of `rows: {min, max}`.
    Rows,
    /// A required column is not in the data.
    Missing,
    /// A column of the data is not in the schema.
    Unexpected,
    /// The distribution moved further from the baseline than the threshold.
    Drift,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Type => "type",
            Rule::Nullable => "nullable",
            Rule::Min => "min",
            Rule::Max => "max",
            Rule::Allowed => "allowed",
            Rule::Rows => "rows",
            Rule::Missing => "missing",
            Rule::Unexpected => "unexpected",
            Rule::Drift => "drift",
        }
    }
}

/// One offending value and the data row it is on (rows count from 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub row: u64,
    pub value: String,
}

/// A broken rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// None for rules of the whole dataset (rows).
    pub column: Option<String>,
    pub rule: Rule,
    /// What was expected, such as "expected integer".
    pub message: String,
    /// The first offending values.
    pub examples: Vec<Example>,
    /// Offending values in all (0 for rules without values).
    pub count: u64,
}

impl Failure {
    pub fn new(column: Option<&str>, rule: Rule, message: impl Into<String>) -> Self {
        Failure {
            column: column.map(str::to_string),
            rule,
            message: message.into(),
            examples: Vec::new(),
            count: 0,
        }
    }
}

/// `column `age` [type]: expected integer, found `abc` at row 17, `x` at row 20 (2 rows)`
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(
                f,
                "column `{}` [{}]: {}",
                // A column name is the data's text: what a message shows of it is clipped.
                shorten(column),
                self.rule.name(),
                self.message
            )?,
            None => write!(f, "dataset [{}]: {}", self.rule.name(), self.message)?,
        }
        if self.examples.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = self
            .examples
            .iter()
            .map(|e| format!("{} at row {}", e.value, e.row))
            .collect();
        write!(f, ", found {}", shown.join(", "))?;
        let rows = if self.count == 1 { "row" } else { "rows" };
        if self.count as usize > self.examples.len() {
            write!(f, ", … ({} {rows} in all)", self.count)
        } else {
            write!(f, " ({} {rows})", self.count)
        }
    }
}

/// The first offending values of one rule, and their count.
#[derive(Clone, Debug, Default)]
struct Log {
    examples: Vec<Example>,
    count: u64,
}

impl Log {
    fn add(&mut self, row: u64, value: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(Example {
                row,
                value: value(),
            });
        }
    }

    fn failure(self, column: &str, rule: Rule, message: String) -> Option<Failure> {
        (self.count > 0).then(|| Failure {
            column: Some(column.to_string()),
            rule,
            message,
            examples: self.examples,
            count: self.count,
        })
    }
}

/// One declared column's rules, its logs of offending values, and its statistics.
pub struct ColumnCheck {
    name: String,
    kind: ColumnType,
    nullable: bool,
    min: Option<f64>,
    max: Option<f64>,
    allowed_text: Option<HashSet<String>>,
    allowed_numbers: Option<Vec<f64>>,
    null_values: HashSet<String>,
    type_errors: Log,
    nulls: Log,
    below: Log,
    above: Log,
    not_allowed: Log,
    pub stats: ColumnAccumulator,
}

impl ColumnCheck {
    pub fn new(column: &ColumnSchema, schema: &Schema) -> Self {
        let (allowed_text, allowed_numbers) = match (&column.allowed, column.kind.is_numeric()) {
            (None, _) => (None, None),
            (Some(values), false) => (
                Some(
                    values
                        .iter()
                        .map(|v| canonical_text(column.kind, v))
                        .collect(),
                ),
                None,
            ),
            (Some(values), true) => (
                None,
                Some(
                    values
                        .iter()
                        .filter_map(|v| Cell::Text(v).as_type(column.kind))
                        .filter_map(|t| match t {
                            Typed::Number(x) => Some(x),
                            _ => None,
                        })
                        .collect(),
                ),
            ),
        };
        ColumnCheck {
            name: column.name.clone(),
            kind: column.kind,
            nullable: column.nullable,
            min: column.min,
            max: column.max,
            allowed_text,
            allowed_numbers,
            null_values: schema.null_values.iter().cloned().collect(),
            type_errors: Log::default(),
            nulls: Log::default(),
            below: Log::default(),
            above: Log::default(),
            not_allowed: Log::default(),
            stats: ColumnAccumulator::new(&column.name, column.kind),
        }
    }

    /// Checks one value and adds it to the statistics.
    pub fn check(&mut self, row: u64, cell: Cell<'_>) {
        let cell = match cell {
            Cell::Text(t) if !self.null_values.is_empty() && self.null_values.contains(t) => {
                Cell::Null
            }
            other => other,
        };
        let Some(typed) = cell.as_type(self.kind) else {
            self.stats.invalid();
            self.type_errors.add(row, || cell.describe());
            return;
        };
        match typed {
            Typed::Null => {
                self.stats.null();
                if !self.nullable {
                    self.nulls.add(row, || "null".to_string());
                }
            }
            Typed::Number(x) => {
                self.stats.number(x);
                let kind = self.kind;
                if self.min.is_some_and(|min| x < min) {
                    self.below
                        .add(row, || format!("`{}`", format_value(kind, x)));
                }
                if self.max.is_some_and(|max| x > max) {
                    self.above
                        .add(row, || format!("`{}`", format_value(kind, x)));
                }
                if let Some(allowed) = &self.allowed_numbers
                    && !allowed.contains(&x)
                {
                    self.not_allowed
                        .add(row, || format!("`{}`", format_value(kind, x)));
                }
            }
            Typed::Text(t) => self.categorical(row, t),
            Typed::Bool(b) => self.categorical(row, if b { "true" } else { "false" }),
        }
    }

    fn categorical(&mut self, row: u64, value: &str) {
        self.stats.text(value);
        if let Some(allowed) = &self.allowed_text
            && !allowed.contains(value)
        {
            self.not_allowed
                .add(row, || format!("`{}`", shorten(value)));
        }
    }

    /// The column is absent from rows `1..=rows` (a JSON key first seen after them).
    pub fn absent(&mut self, rows: u64) {
        self.stats.nulls(rows);
        if !self.nullable {
            for row in 1..=rows.min(MAX_EXAMPLES as u64) {
                self.nulls.add(row, || "no value".to_string());
            }
            self.nulls.count += rows.saturating_sub(MAX_EXAMPLES as u64);
        }
    }

    /// The failures of this column, rule by rule.
    pub fn failures(&mut self) -> Vec<Failure> {
        let name = self.name.clone();
        let kind = self.kind;
        let bound = |x: Option<f64>| x.map(|x| format_value(kind, x)).unwrap_or_default();
        let allowed = match (&self.allowed_text, &self.allowed_numbers) {
            (Some(set), _) => {
                let mut values: Vec<&String> = set.iter().collect();
                values.sort();
                list(values.iter().map(|v| v.as_str()))
            }
            (_, Some(numbers)) => list(numbers.iter().map(|x| format_value(kind, *x))),
            _ => String::new(),
        };
        [
            std::mem::take(&mut self.type_errors).failure(
                &name,
                Rule::Type,
                format!("expected {kind}"),
            ),
            std::mem::take(&mut self.nulls).failure(
                &name,
                Rule::Nullable,
                "expected no nulls (`nullable: false`)".to_string(),
            ),
            std::mem::take(&mut self.below).failure(
                &name,
                Rule::Min,
                format!("expected values of at least {}", bound(self.min)),
            ),
            std::mem::take(&mut self.above).failure(
                &name,
                Rule::Max,
                format!("expected values of at most {}", bound(self.max)),
            ),
            std::mem::take(&mut self.not_allowed).failure(
                &name,
                Rule::Allowed,
                format!("expected one of {allowed}"),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// `[a, b, c]`, at most 10 shown.
fn list<S: AsRef<str>>(values: impl Iterator<Item = S>) -> String {
    let values: Vec<String> = values.map(|v| v.as_ref().to_string()).collect();
    if values.len() > 10 {
        format!("[{}, … ({} values)]", values[..10].join(", "), values.len())
    } else {
        format!("[{}]", values.join(", "))
    }
}

/// Booleans are compared as `true`/`false` whatever their case in the schema.
fn canonical_text(kind: ColumnType, value: &str) -> String {
    match kind {
        ColumnType::Boolean => value.to_ascii_lowercase(),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_five_values_and_the_count() {
        let schema = Schema::new(vec![]);
        let mut column = ColumnSchema::new("age", ColumnType::Integer);
        column.min = Some(0.0);
        let mut check = ColumnCheck::new(&column, &schema);
        for row in 1..=8 {
            check.check(row, Cell::Text("abc"));
        }
        check.check(9, Cell::Text("-3"));
        check.check(10, Cell::Text("4"));
        let failures = check.failures();
        assert_eq!(failures.len(), 2);
        assert_eq!(
            failures[0].to_string(),
            "column `age` [type]: expected integer, found `abc` at row 1, `abc` at row 2, `abc` at row 3, `abc` at row 4, `abc` at row 5, … (8 rows in all)"
        );
        assert_eq!(
            failures[1].to_string(),
            "column `age` [min]: expected values of at least 0, found `-3` at row 9 (1 row)"
        );
    }

    #[test]
    fn allowed_values_compare_as_the_column_type() {
        let schema = Schema::new(vec![]);
        let mut label = ColumnSchema::new("label", ColumnType::Integer);
        label.allowed = Some(vec!["0".into(), "1".into()]);
        let mut check = ColumnCheck::new(&label, &schema);
        check.check(1, Cell::Int(1));
        check.check(2, Cell::Text("01"));
        check.check(3, Cell::Text("2"));
        let failures = check.failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            failures[0].examples,
            vec![Example {
                row: 3,
                value: "`2`".into()
            }]
        );
    }

    #[test]
    fn null_values_of_the_schema_are_nulls() {
        let mut schema = Schema::new(vec![]);
        schema.null_values = vec!["NA".into()];
        let mut column = ColumnSchema::new("x", ColumnType::Float);
        column.nullable = false;
        let mut check = ColumnCheck::new(&column, &schema);
        check.check(1, Cell::Text("NA"));
        check.check(2, Cell::Text(""));
        let failures = check.failures();
        assert_eq!(failures.len(), 1);
        assert_eq!((failures[0].rule, failures[0].count), (Rule::Nullable, 2));
    }
}
