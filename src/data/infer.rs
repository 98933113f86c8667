//! A first schema from the data itself, in one pass: each column's narrowest
//! type (integer within float, date within timestamp, anything else string),
//! nullable when a null was seen, the range observed, and `allowed` for string
//! columns of at most 20 distinct values. It is a starting point to edit, as
//! TFDV's `infer_schema` is.

use super::DataError;
use super::read::{self, Format, Visitor};
use super::schema::{ColumnSchema, RowBounds, Schema};
use super::value::{
    Cell, ColumnType, format_date, format_timestamp, parse_bool, parse_date, parse_float,
    parse_int, parse_timestamp, shorten,
};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// String columns with at most this many distinct values get `allowed:`.
pub const MAX_ALLOWED_VALUES: usize = 20;

/// A value longer than this (in bytes) is text, not a category: a column
/// that has one gets no `allowed:` (and the schema no huge value).
pub const MAX_ALLOWED_VALUE_BYTES: usize = 200;

/// Infers a schema from the dataset at `path` (format from its extension).
pub fn infer_schema(path: &Path) -> Result<Schema, DataError> {
    infer_schema_as(path, None)
}

/// Infers a schema, reading the file as `format` when given.
pub fn infer_schema_as(path: &Path, format: Option<Format>) -> Result<Schema, DataError> {
    let format = Format::resolve(format, path)?;
    let mut inference = Inference::default();
    read::read(path, format, &mut inference)?;
    inference.check_names(path)?;
    let mut schema = Schema::new(
        inference
            .columns
            .iter()
            .map(InferredColumn::schema)
            .collect(),
    );
    schema.format = Some(format);
    // A file with a header and no rows gets no lower bound, so that the
    // schema passes the data it came from.
    schema.rows = RowBounds {
        min: (inference.rows > 0).then_some(1),
        max: None,
    };
    Ok(schema)
}

#[derive(Default)]
struct Inference {
    columns: Vec<InferredColumn>,
    rows: u64,
}

impl Inference {
    /// Refuses data that no schema can name: no columns at all, or names
    /// that a schema's keys cannot tell apart (they are compared ignoring
    /// case, as in workflow files).
    fn check_names(&self, path: &Path) -> Result<(), DataError> {
        if self.columns.is_empty() {
            return Err(DataError::malformed(
                path,
                "no columns to infer a schema from: the file holds no row",
            ));
        }
        let mut seen: HashMap<String, &str> = HashMap::new();
        for column in &self.columns {
            if let Some(first) = seen.insert(column.name.to_ascii_lowercase(), &column.name) {
                return Err(DataError::malformed(
                    path,
                    format!(
                        "columns `{}` and `{}` differ only in case: a schema's keys are compared ignoring case, so no schema can name both",
                        shorten(first),
                        shorten(&column.name)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Visitor for Inference {
    fn columns(&mut self, names: &[String]) {
        for name in names.iter().skip(self.columns.len()) {
            let mut column = InferredColumn::new(name);
            column.nulls = self.rows;
            self.columns.push(column);
        }
    }

    fn row(&mut self, row: u64, cells: &[Cell<'_>]) {
        self.rows = row;
        for (i, column) in self.columns.iter_mut().enumerate() {
            column.add(cells.get(i).copied().unwrap_or(Cell::Null));
        }
    }
}

struct InferredColumn {
    name: String,
    kind: Option<ColumnType>,
    nulls: u64,
    /// Ranges per kind of value: numbers, dates (days), timestamps (seconds).
    numbers: Range,
    dates: Range,
    timestamps: Range,
    /// Up to one more than [`MAX_ALLOWED_VALUES`]: more means none.
    distinct: BTreeSet<String>,
    /// A value over [`MAX_ALLOWED_VALUE_BYTES`] was seen: no `allowed:`.
    long_values: bool,
}

#[derive(Clone, Copy)]
struct Range(f64, f64);

impl Range {
    const EMPTY: Range = Range(f64::INFINITY, f64::NEG_INFINITY);

    fn add(&mut self, x: f64) {
        self.0 = self.0.min(x);
        self.1 = self.1.max(x);
    }

    fn merge(self, other: Range) -> Range {
        Range(self.0.min(other.0), self.1.max(other.1))
    }

    fn bounds(self) -> (Option<f64>, Option<f64>) {
        if self.0 <= self.1 {
            (Some(self.0), Some(self.1))
        } else {
            (None, None)
        }
    }
}

impl InferredColumn {
    fn new(name: &str) -> Self {
        InferredColumn {
            name: name.to_string(),
            kind: None,
            nulls: 0,
            numbers: Range::EMPTY,
            dates: Range::EMPTY,
            timestamps: Range::EMPTY,
            distinct: BTreeSet::new(),
            long_values: false,
        }
    }

    fn add(&mut self, cell: Cell<'_>) {
        let kind = match cell {
            Cell::Null => {
                self.nulls += 1;
                return;
            }
            Cell::Text("") => {
                self.nulls += 1;
                return;
            }
            Cell::Float(x) if x.is_nan() => {
                self.nulls += 1;
                return;
            }
            Cell::Text(t) => self.classify(t, true),
            Cell::Str(t) => self.classify(t, false),
            Cell::Int(i) => {
                self.numbers.add(i as f64);
                ColumnType::Integer
            }
            Cell::Float(x) => {
                self.numbers.add(x);
                ColumnType::Float
            }
            Cell::Bool(b) => {
                self.remember(if b { "true" } else { "false" });
                ColumnType::Boolean
            }
            Cell::Date(d) => {
                self.dates.add(d as f64);
                ColumnType::Date
            }
            Cell::Timestamp(s) => {
                self.timestamps.add(s);
                ColumnType::Timestamp
            }
        };
        self.kind = Some(match self.kind {
            None => kind,
            Some(seen) => join(seen, kind),
        });
    }

    /// The type of a text; untyped (CSV) text may be a number or boolean,
    /// a typed string only a date or timestamp besides a string.
    fn classify(&mut self, text: &str, untyped: bool) -> ColumnType {
        if self.kind != Some(ColumnType::String) {
            if untyped {
                if let Some(i) = parse_int(text) {
                    self.numbers.add(i as f64);
                    return ColumnType::Integer;
                }
                if let Some(x) = parse_float(text) {
                    if x.is_nan() {
                        return self.kind.unwrap_or(ColumnType::Float);
                    }
                    self.numbers.add(x);
                    return ColumnType::Float;
                }
                if parse_bool(text).is_some() {
                    self.remember(&text.to_ascii_lowercase());
                    return ColumnType::Boolean;
                }
            }
            if let Some(d) = parse_date(text) {
                self.dates.add(d as f64);
                return ColumnType::Date;
            }
            if let Some(s) = parse_timestamp(text) {
                self.timestamps.add(s);
                return ColumnType::Timestamp;
            }
        }
        self.remember(text);
        ColumnType::String
    }

    fn remember(&mut self, text: &str) {
        if text.len() > MAX_ALLOWED_VALUE_BYTES {
            self.long_values = true;
            return;
        }
        if self.distinct.len() <= MAX_ALLOWED_VALUES && !self.distinct.contains(text) {
            self.distinct.insert(text.to_string());
        }
    }

    fn schema(&self) -> ColumnSchema {
        let kind = self.kind.unwrap_or(ColumnType::String);
        let mut column = ColumnSchema::new(&self.name, kind);
        column.nullable = self.nulls > 0 || self.kind.is_none();
        let (min, max) = match kind {
            ColumnType::Integer | ColumnType::Float => self.numbers.bounds(),
            ColumnType::Date => self.dates.bounds(),
            ColumnType::Timestamp => {
                let days = Range(self.dates.0 * 86_400.0, self.dates.1 * 86_400.0);
                // A schema writes whole seconds: round outwards to keep every value in.
                let (min, max) = self.timestamps.merge(days).bounds();
                (min.map(f64::floor), max.map(f64::ceil))
            }
            ColumnType::String | ColumnType::Boolean => (None, None),
        };
        // A bound the schema cannot write (an infinity, a date past year
        // 9999) is left out: the column is unbounded on that side.
        column.min = min.filter(|&x| writable(kind, x));
        column.max = max.filter(|&x| writable(kind, x));
        if kind == ColumnType::String
            && self.kind.is_some()
            && !self.long_values
            && self.distinct.len() <= MAX_ALLOWED_VALUES
        {
            column.allowed = Some(self.distinct.iter().cloned().collect());
        }
        column
    }
}

/// Whether a schema can hold `x` as a bound of a `kind` column: schemas
/// write numbers as YAML numbers (finite ones only), dates as `YYYY-MM-DD`
/// and timestamps as `YYYY-MM-DDTHH:MM:SSZ`, which must read back the same.
fn writable(kind: ColumnType, x: f64) -> bool {
    match kind {
        ColumnType::Date => x.abs() < 1e9 && parse_date(&format_date(x as i64)) == Some(x as i64),
        ColumnType::Timestamp => x.abs() < 1e15 && parse_timestamp(&format_timestamp(x)) == Some(x),
        _ => x.is_finite(),
    }
}

/// The narrowest type that holds values of both types.
fn join(a: ColumnType, b: ColumnType) -> ColumnType {
    use ColumnType as T;
    match (a, b) {
        _ if a == b => a,
        (T::Integer, T::Float) | (T::Float, T::Integer) => T::Float,
        (T::Date, T::Timestamp) | (T::Timestamp, T::Date) => T::Timestamp,
        _ => T::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_join_to_the_narrowest_that_holds_both() {
        use ColumnType as T;
        assert_eq!(join(T::Integer, T::Float), T::Float);
        assert_eq!(join(T::Date, T::Timestamp), T::Timestamp);
        assert_eq!(join(T::Integer, T::Boolean), T::String);
        assert_eq!(join(T::Date, T::Float), T::String);
    }

    #[test]
    fn an_inferred_schema_round_trips_through_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(
            &path,
            "n,x,s,b,d,t,id,empty\n1,1.5,a b,true,2024-01-02,2024-01-02T03:04:05Z,k1,\n2,,\"null\",false,2024-02-01,2024-01-03,k2,\n3,2,a b,TRUE,2024-01-01,2024-01-02T00:00:00+02:00,k3,\n",
        )
        .unwrap();
        let schema = infer_schema(&path).unwrap();
        let kinds: Vec<ColumnType> = schema.columns.iter().map(|c| c.kind).collect();
        use ColumnType as T;
        assert_eq!(
            kinds,
            [
                T::Integer,
                T::Float,
                T::String,
                T::Boolean,
                T::Date,
                T::Timestamp,
                T::String,
                T::String
            ]
        );
        let x = schema.column("x").unwrap();
        assert!(x.nullable);
        assert_eq!((x.min, x.max), (Some(1.5), Some(2.0)));
        assert_eq!(
            schema.column("s").unwrap().allowed,
            Some(vec!["a b".to_string(), "null".to_string()])
        );
        assert_eq!(
            schema.column("d").unwrap().min,
            parse_date("2024-01-01").map(|d| d as f64)
        );
        assert_eq!(
            schema.column("t").unwrap().min,
            parse_timestamp("2024-01-01T22:00:00Z")
        );
        assert!(schema.column("empty").unwrap().nullable);
        let yaml = schema.to_yaml("a header\nof two lines");
        assert!(yaml.starts_with("# a header\n# of two lines\n"), "{yaml}");
        let back = Schema::parse(Path::new("s.yml"), &yaml).unwrap();
        assert_eq!(back, schema, "{yaml}");
        // And the data passes the schema inferred from it.
        let validation = crate::data::validate(&path, &back, None).unwrap();
        assert!(validation.passed(), "{validation}");
    }
}
