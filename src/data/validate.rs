//! Validation: one pass over the file that checks every declared column's
//! values and gathers its statistics at once, then the dataset's own rules
//! (rows, missing and unexpected columns) and, with a baseline, drift.

use super::DataError;
use super::check::{ColumnCheck, Failure, Rule};
use super::drift::{self, Correction, Drift};
use super::read::{self, Format, Visitor};
use super::schema::Schema;
use super::stats::{DatasetStats, STATS_VERSION};
use super::value::Cell;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Unexpected columns named one by one in the failures; the rest are counted.
const MAX_UNEXPECTED_SHOWN: usize = 5;

/// The outcome of [`validate`]: what failed, the statistics to store for
/// later runs, and the drift of each column that has a baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub failures: Vec<Failure>,
    pub stats: DatasetStats,
    pub drift: Vec<Drift>,
    /// How the drift tests' p-values were corrected for their number.
    pub correction: Correction,
}

impl Validation {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One line per failure.
impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for failure in &self.failures {
            writeln!(f, "{failure}")?;
        }
        Ok(())
    }
}

/// Checks the dataset at `path` against `schema`, and its distribution
/// against `baseline` (the stats of an earlier validation) when given.
pub fn validate(
    path: &Path,
    schema: &Schema,
    baseline: Option<&DatasetStats>,
) -> Result<Validation, DataError> {
    let format = Format::resolve(schema.format, path)?;
    let mut validator = Validator {
        schema,
        checks: schema
            .columns
            .iter()
            .map(|c| ColumnCheck::new(c, schema))
            .collect(),
        present: vec![false; schema.columns.len()],
        bound: Vec::new(),
        unexpected: Vec::new(),
        rows: 0,
    };
    read::read(path, format, &mut validator)?;
    Ok(validator.finish(format, baseline))
}

struct Validator<'s> {
    schema: &'s Schema,
    /// Per declared column.
    checks: Vec<ColumnCheck>,
    present: Vec<bool>,
    /// Per column of the file, its declared column.
    bound: Vec<Option<usize>>,
    unexpected: Vec<String>,
    rows: u64,
}

impl Visitor for Validator<'_> {
    fn columns(&mut self, names: &[String]) {
        for name in names.iter().skip(self.bound.len()) {
            let declared = self.schema.columns.iter().position(|c| &c.name == name);
            match declared {
                Some(i) => {
                    self.present[i] = true;
                    self.checks[i].absent(self.rows);
                }
                None => self.unexpected.push(name.clone()),
            }
            self.bound.push(declared);
        }
    }

    fn row(&mut self, row: u64, cells: &[Cell<'_>]) {
        self.rows = row;
        for (cell, declared) in cells.iter().zip(&self.bound) {
            if let Some(i) = declared {
                self.checks[*i].check(row, *cell);
            }
        }
        for declared in self.bound.iter().skip(cells.len()).flatten() {
            self.checks[*declared].check(row, Cell::Null);
        }
    }
}

impl Validator<'_> {
    fn finish(mut self, format: Format, baseline: Option<&DatasetStats>) -> Validation {
        let schema = self.schema;
        let mut failures = Vec::new();
        let rows = self.rows;
        if let Some(min) = schema.rows.min.filter(|&min| rows < min) {
            failures.push(Failure::new(
                None,
                Rule::Rows,
                format!("expected at least {min} rows, found {rows}"),
            ));
        }
        if let Some(max) = schema.rows.max.filter(|&max| rows > max) {
            failures.push(Failure::new(
                None,
                Rule::Rows,
                format!("expected at most {max} rows, found {rows}"),
            ));
        }
        for (column, present) in schema.columns.iter().zip(&self.present) {
            if !present && column.required {
                failures.push(Failure::new(
                    Some(&column.name),
                    Rule::Missing,
                    format!(
                        "expected a {} column, not in the data (`required: false` allows that)",
                        column.kind
                    ),
                ));
            }
        }
        // A file that is not the dataset has a header of any length: a few
        // of its columns are named, the rest counted.
        for name in self.unexpected.iter().take(MAX_UNEXPECTED_SHOWN) {
            failures.push(Failure::new(
                Some(name),
                Rule::Unexpected,
                "a column of the data that the schema does not declare",
            ));
        }
        if self.unexpected.len() > MAX_UNEXPECTED_SHOWN {
            failures.push(Failure::new(
                None,
                Rule::Unexpected,
                format!(
                    "… and {} more columns that the schema does not declare",
                    self.unexpected.len() - MAX_UNEXPECTED_SHOWN
                ),
            ));
        }
        let mut columns = Vec::new();
        let mut drift = Vec::new();
        for (i, column) in schema.columns.iter().enumerate() {
            if !self.present[i] {
                continue;
            }
            let check = &mut self.checks[i];
            failures.extend(check.failures());
            let stats = check.stats.finish();
            let rule = schema.drift_rule(column);
            let base = baseline.and_then(|b| b.column(&column.name));
            if let (Some(rule), Some(base)) = (rule, base) {
                let current = drift::Current {
                    stats: &stats,
                    sample: check.stats.sample(),
                };
                drift.push(drift::measure(base, current, &rule));
            }
            columns.push(stats);
        }
        let correction = schema.drift_correction();
        drift::correct(&mut drift, correction);
        let tested = drift.iter().filter(|d| d.p_value.is_some()).count();
        for d in drift.iter().filter(|d| d.drifted) {
            failures.push(Failure::new(
                Some(&d.column),
                Rule::Drift,
                d.explain(tested, correction),
            ));
        }
        Validation {
            failures,
            stats: DatasetStats {
                version: STATS_VERSION,
                format,
                rows,
                columns,
            },
            drift,
            correction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::ColumnSchema;
    use crate::data::value::ColumnType;

    fn file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_json_key_first_seen_late_was_null_in_the_rows_before() {
        let (_dir, path) = file(
            "d.jsonl",
            "{\"a\": 1}\n\n{\"a\": 2}\n{\"a\": 3, \"b\": \"x\"}\n",
        );
        let mut b = ColumnSchema::new("b", ColumnType::String);
        b.nullable = false;
        let schema = Schema::new(vec![ColumnSchema::new("a", ColumnType::Integer), b]);
        let validation = validate(&path, &schema, None).unwrap();
        assert_eq!(validation.stats.rows, 3);
        assert_eq!(validation.failures.len(), 1, "{validation}");
        let failure = &validation.failures[0];
        assert_eq!((failure.rule, failure.count), (Rule::Nullable, 2));
        assert_eq!(
            failure.examples.iter().map(|e| e.row).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(validation.stats.column("b").unwrap().nulls, 2);
    }

    #[test]
    fn the_same_data_does_not_drift_from_itself_and_a_shift_does() {
        let csv = |offset: f64| {
            let mut text = String::from("x,c\n");
            for i in 0..2000 {
                let c = if i % 4 == 0 { "a" } else { "b" };
                text.push_str(&format!("{},{c}\n", offset + f64::from(i % 100)));
            }
            text
        };
        let (_d1, clean) = file("clean.csv", &csv(0.0));
        let (_d2, shifted) = file("shifted.csv", &csv(30.0));
        let schema = Schema::new(vec![
            ColumnSchema::new("x", ColumnType::Float),
            ColumnSchema::new("c", ColumnType::String),
        ]);
        let base = validate(&clean, &schema, None).unwrap().stats;
        let same = validate(&clean, &schema, Some(&base)).unwrap();
        assert!(same.passed(), "{same}");
        assert_eq!(same.drift.len(), 2);
        assert!(
            same.drift
                .iter()
                .all(|d| d.statistic.unwrap() < 0.01 && d.p_value == Some(1.0) && !d.drifted),
            "{:?}",
            same.drift
        );
        let moved = validate(&shifted, &schema, Some(&base)).unwrap();
        let rules: Vec<(Option<&str>, Rule)> = moved
            .failures
            .iter()
            .map(|f| (f.column.as_deref(), f.rule))
            .collect();
        assert_eq!(rules, [(Some("x"), Rule::Drift)], "{moved}");
        // 2000 rows a side: distances, each beside its test.
        use crate::data::DriftMethod;
        assert_eq!(moved.drift[0].method, Some(DriftMethod::Wasserstein));
        assert_eq!(moved.drift[1].method, Some(DriftMethod::JensenShannon));
        assert!(moved.drift[0].p_value.unwrap() < 1e-6, "{:?}", moved.drift);
    }
}
