//! Reading a schema file with the project's position-keeping YAML loader, so
//! that every mistake is reported as `file:line:column: error: …` with the
//! line and a caret, all of them at once, as workflow files are.

use super::DataError;
use super::drift::{Correction, DriftMethod, METHOD_NAMES};
use super::read::Format;
use super::schema::{ColumnSchema, DriftSetting, RowBounds, Schema, SchemaDrift};
use super::value::{ColumnType, parse_date, parse_float, parse_timestamp};
use crate::diag::{Diagnostic, SourceFile};
use crate::expr::Value;
use crate::yaml::{Node, NodeKind};
use std::path::Path;

const TOP_KEYS: &[&str] = &["format", "rows", "columns", "drift", "null_values"];
const COLUMN_KEYS: &[&str] = &[
    "type", "nullable", "required", "min", "max", "allowed", "drift",
];

impl Schema {
    /// Reads and checks a schema file.
    pub fn load(path: &Path) -> Result<Schema, DataError> {
        // A schema is a page of YAML (1 MiB holds thousands of columns); the
        // limit bounds what a hostile one costs, as for workflow files.
        let text = crate::diag::read_text(path, 1024 * 1024, "schema files")
            .map_err(|e| DataError::io(path, e))?;
        Schema::parse(path, &text)
    }

    /// Checks a schema's text; `path` names it in the errors.
    pub fn parse(path: &Path, text: &str) -> Result<Schema, DataError> {
        let (root, mut diagnostics) = crate::yaml::load(text);
        let mut reader = SchemaReader {
            diagnostics: Vec::new(),
        };
        let schema = match &root {
            Some(root) => reader.schema(root),
            None if diagnostics.is_empty() => {
                reader.diagnostics.push(Diagnostic::error(
                    crate::diag::Span::point(0),
                    "the schema is empty: expected a map with `columns:`",
                ));
                None
            }
            None => None,
        };
        diagnostics.extend(reader.diagnostics);
        match schema {
            Some(schema) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(schema),
            _ => {
                let file = SourceFile::new(path, text);
                let rendered: String = diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .map(|d| file.render(d))
                    .collect();
                Err(DataError::Schema {
                    path: path.to_path_buf(),
                    rendered: rendered.trim_end().to_string(),
                })
            }
        }
    }
}

struct SchemaReader {
    diagnostics: Vec<Diagnostic>,
}

impl SchemaReader {
    fn expected(&mut self, node: &Node, what: &str) {
        self.diagnostics.push(Diagnostic::error(
            node.span,
            format!("expected {what}, found {}", node.describe()),
        ));
    }

    /// The entries of a map, with unknown keys reported (and a "did you mean").
    fn entries<'n>(&mut self, node: &'n Node, keys: &[&str], what: &str) -> &'n [(Node, Node)] {
        let Some(entries) = node.as_mapping() else {
            self.expected(node, what);
            return &[];
        };
        for (key, _) in entries {
            let name = key.as_str().unwrap_or_default();
            if !keys.contains(&name) {
                let mut diagnostic = Diagnostic::error(
                    key.span,
                    format!("unknown key `{name}`: expected one of {}", keys.join(", ")),
                );
                if let Some(near) = keys
                    .iter()
                    .filter(|k| strsim::damerau_levenshtein(name, k) <= 2)
                    .min_by_key(|k| strsim::damerau_levenshtein(name, k))
                {
                    diagnostic = diagnostic.with_help(format!("did you mean `{near}`?"));
                }
                self.diagnostics.push(diagnostic);
            }
        }
        entries
    }

    fn schema(&mut self, root: &Node) -> Option<Schema> {
        if root.as_mapping().is_none() {
            self.expected(root, "a map with `columns:`");
            return None;
        }
        let mut schema = Schema::new(Vec::new());
        let mut columns_seen = false;
        for (key, value) in self.entries(root, TOP_KEYS, "a map with `columns:`") {
            match key.as_str().unwrap_or_default() {
                "format" => {
                    schema.format = match value.as_str().and_then(Format::from_name) {
                        Some(f) => Some(f),
                        None => {
                            self.expected(value, "`csv`, `parquet` or `jsonl`");
                            None
                        }
                    }
                }
                "rows" => schema.rows = self.rows(value),
                "columns" => {
                    columns_seen = true;
                    schema.columns = self.columns(value);
                }
                "drift" => schema.drift = self.schema_drift(value),
                "null_values" => {
                    schema.null_values =
                        self.scalars(value, "a list of texts read as null, such as [NA, \"-\"]")
                }
                _ => {}
            }
        }
        if !columns_seen {
            self.diagnostics.push(Diagnostic::error(
                root.span.sub(0, 0),
                "missing key `columns`: a schema names its columns, such as `columns: {age: {type: integer}}`",
            ));
        }
        Some(schema)
    }

    /// The schema's `drift:`: `false`, a distance threshold, or
    /// `{method, p, threshold, correction}`.
    fn schema_drift(&mut self, value: &Node) -> Option<SchemaDrift> {
        let mut drift = SchemaDrift::default();
        match value.to_value() {
            Value::Bool(false) => return None,
            Value::Bool(true) => {}
            Value::Number(_) => drift.threshold = self.threshold(value),
            Value::Object(_) => {
                let keys = &["method", "p", "threshold", "correction"];
                let what = "`{method: auto, p: 0.05, threshold: 0.1, correction: holm}`";
                for (key, v) in self.entries(value, keys, what) {
                    match key.as_str().unwrap_or_default() {
                        "method" => drift.method = self.method(v).flatten(),
                        "p" => drift.p_value = self.p_value(v).unwrap_or(drift.p_value),
                        "threshold" => drift.threshold = self.threshold(v),
                        "correction" => match v.as_str().and_then(Correction::from_name) {
                            Some(c) => drift.correction = c,
                            None => self.expected(v, "`holm`, `bonferroni` or `none`"),
                        },
                        _ => {}
                    }
                }
            }
            _ => self.expected(
                value,
                "`{method: auto, p: 0.05}`, a distance threshold such as 0.1, or `false`",
            ),
        }
        Some(drift)
    }

    /// A column's `drift:`: `false`, a distance threshold, or `{method, p,
    /// threshold}`, the method one that measures the column's type.
    fn column_drift(&mut self, value: &Node, column: &ColumnSchema) -> DriftSetting {
        let (mut method, mut p_value, mut threshold) = (None, None, None);
        match value.to_value() {
            Value::Bool(false) => return DriftSetting::Off,
            Value::Bool(true) => return DriftSetting::Default,
            Value::Number(_) => threshold = self.threshold(value),
            Value::Object(_) => {
                let what = "`{method: ks, p: 0.01}` or `{method: psi, threshold: 0.2}`";
                for (key, v) in self.entries(value, &["method", "p", "threshold"], what) {
                    match key.as_str().unwrap_or_default() {
                        "method" => {
                            method = self.method(v).flatten();
                            let numeric = column.kind.is_numeric();
                            if let Some(m) = method.filter(|m| !m.fits(numeric)) {
                                let fitting: Vec<&str> = METHOD_NAMES
                                    .iter()
                                    .filter(|(name, m)| {
                                        m.fits(numeric) && !name.contains("smirnov")
                                    })
                                    .map(|(name, _)| *name)
                                    .collect();
                                self.diagnostics.push(Diagnostic::error(
                                    v.span,
                                    format!(
                                        "`{}` measures {} columns, and `{}` is a {} column: use {}",
                                        m.key(),
                                        if numeric { "categorical" } else { "numeric" },
                                        column.name,
                                        column.kind,
                                        fitting.join(", ")
                                    ),
                                ));
                            }
                        }
                        "p" => p_value = self.p_value(v),
                        "threshold" => threshold = self.threshold(v),
                        _ => {}
                    }
                }
            }
            _ => self.expected(
                value,
                "`{method: ks, p: 0.01}`, a distance threshold such as 0.1, `true` or `false`",
            ),
        }
        DriftSetting::Custom {
            method,
            p_value,
            threshold,
        }
    }

    /// A drift method's name; Some(None) for `auto`.
    fn method(&mut self, node: &Node) -> Option<Option<DriftMethod>> {
        let name = node.as_str().unwrap_or_default();
        if name.eq_ignore_ascii_case("auto") {
            return Some(None);
        }
        match DriftMethod::from_name(name) {
            Some(method) => Some(Some(method)),
            None => {
                self.expected(
                    node,
                    "`auto`, `ks`, `chi-square`, `wasserstein`, `jensen-shannon`, `psi` or `l-infinity`",
                );
                None
            }
        }
    }

    fn p_value(&mut self, node: &Node) -> Option<f64> {
        match node.to_value() {
            Value::Number(p) if p > 0.0 && p <= 1.0 => Some(p),
            _ => {
                self.expected(node, "a p-value above 0 and at most 1, such as 0.05");
                None
            }
        }
    }

    fn threshold(&mut self, node: &Node) -> Option<f64> {
        match node.to_value() {
            Value::Number(t) if (0.0..=1e6).contains(&t) => Some(t),
            _ => {
                self.expected(
                    node,
                    "a distance threshold of 0 or more (0.1 for Jensen-Shannon, 0.2 for PSI)",
                );
                None
            }
        }
    }

    fn rows(&mut self, node: &Node) -> RowBounds {
        let mut bounds = RowBounds::default();
        for (key, value) in self.entries(node, &["min", "max"], "`{min: N, max: N}`") {
            let count = match value.to_value() {
                Value::Number(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e18 => Some(n as u64),
                _ => {
                    self.expected(value, "a number of rows (a whole number, 0 or more)");
                    None
                }
            };
            match key.as_str() {
                Some("min") => bounds.min = count,
                Some("max") => bounds.max = count,
                _ => {}
            }
        }
        if let (Some(min), Some(max)) = (bounds.min, bounds.max)
            && min > max
        {
            self.diagnostics.push(Diagnostic::error(
                node.span,
                format!("`rows`: min {min} is above max {max}"),
            ));
        }
        bounds
    }

    fn columns(&mut self, node: &Node) -> Vec<ColumnSchema> {
        let Some(entries) = node.as_mapping() else {
            self.expected(node, "a map from column names to their rules");
            return Vec::new();
        };
        let mut columns = Vec::new();
        for (key, value) in entries {
            let name = key.as_str().unwrap_or_default().to_string();
            if let Some(column) = self.column(name, value) {
                columns.push(column);
            }
        }
        columns
    }

    fn column(&mut self, name: String, node: &Node) -> Option<ColumnSchema> {
        const TYPES: &str = "a type: integer, float, string, boolean, date or timestamp";
        // `age: integer` is short for `age: {type: integer}`.
        if let NodeKind::Scalar(_) = node.kind {
            return match node.as_str().and_then(ColumnType::from_name) {
                Some(kind) => Some(ColumnSchema::new(name, kind)),
                None => {
                    self.expected(
                        node,
                        &format!("{TYPES}, or a map such as `{{type: integer}}`"),
                    );
                    None
                }
            };
        }
        let entries = self.entries(node, COLUMN_KEYS, "a map such as `{type: integer, min: 0}`");
        node.as_mapping()?;
        let Some(type_node) = node.get("type") else {
            self.diagnostics.push(Diagnostic::error(
                node.span,
                format!("column `{name}` has no `type`: expected {TYPES}"),
            ));
            return None;
        };
        let Some(kind) = type_node.as_str().and_then(ColumnType::from_name) else {
            self.expected(type_node, TYPES);
            return None;
        };
        let mut column = ColumnSchema::new(name, kind);
        for (key, value) in entries {
            match key.as_str().unwrap_or_default() {
                "nullable" => column.nullable = self.boolean(value).unwrap_or(true),
                "required" => column.required = self.boolean(value).unwrap_or(true),
                "min" => column.min = self.bound(value, kind),
                "max" => column.max = self.bound(value, kind),
                "allowed" => column.allowed = Some(self.allowed(value, kind)),
                "drift" => column.drift = self.column_drift(value, &column),
                _ => {}
            }
        }
        if let (Some(min), Some(max)) = (column.min, column.max)
            && min > max
        {
            self.diagnostics.push(Diagnostic::error(
                node.span,
                format!("column `{}`: min is above max", column.name),
            ));
        }
        Some(column)
    }

    fn boolean(&mut self, node: &Node) -> Option<bool> {
        match node.to_value() {
            Value::Bool(b) => Some(b),
            _ => {
                self.expected(node, "`true` or `false`");
                None
            }
        }
    }

    /// `min:` / `max:`: a number, or for date and timestamp columns their text.
    fn bound(&mut self, node: &Node, kind: ColumnType) -> Option<f64> {
        let value = node.to_value();
        let text = node.as_str().unwrap_or_default();
        let bound = match (kind, &value) {
            (ColumnType::Integer | ColumnType::Float, Value::Number(n)) if n.is_finite() => {
                Some(*n)
            }
            (ColumnType::Date, _) => parse_date(text).map(|d| d as f64),
            (ColumnType::Timestamp, _) => parse_timestamp(text),
            _ => None,
        };
        if bound.is_none() {
            let what = match kind {
                ColumnType::Integer | ColumnType::Float => "a number",
                ColumnType::Date => "a date such as 2024-01-31",
                ColumnType::Timestamp => "a timestamp such as 2024-01-31T12:00:00Z",
                ColumnType::String | ColumnType::Boolean => {
                    self.diagnostics.push(Diagnostic::error(
                        node.span,
                        format!("`min` and `max` apply to numbers, dates and timestamps, not to {kind} columns (use `allowed`)"),
                    ));
                    return None;
                }
            };
            self.expected(node, what);
        }
        bound
    }

    fn allowed(&mut self, node: &Node, kind: ColumnType) -> Vec<String> {
        let values = self.scalars(node, "a list of allowed values, such as [a, b, c]");
        if let Some(items) = node.as_sequence() {
            for (item, text) in items.iter().zip(&values) {
                let ok = match kind {
                    ColumnType::String => true,
                    ColumnType::Integer => text.parse::<i64>().is_ok(),
                    ColumnType::Float => parse_float(text).is_some(),
                    ColumnType::Boolean => matches!(item.to_value(), Value::Bool(_)),
                    ColumnType::Date => parse_date(text).is_some(),
                    ColumnType::Timestamp => parse_timestamp(text).is_some(),
                };
                if !ok {
                    self.expected(item, &format!("a {kind} value"));
                }
            }
        }
        values
    }

    fn scalars(&mut self, node: &Node, what: &str) -> Vec<String> {
        let Some(items) = node.as_sequence() else {
            self.expected(node, what);
            return Vec::new();
        };
        let mut values = Vec::new();
        for item in items {
            match item.as_scalar() {
                Some(s) => values.push(s.text.clone()),
                None => self.expected(item, "a single value"),
            }
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> String {
        match Schema::parse(Path::new("s.yml"), text) {
            Err(DataError::Schema { rendered, .. }) => rendered,
            other => panic!("expected a schema error, got {other:?}"),
        }
    }

    #[test]
    fn a_full_schema_reads_every_key() {
        let text = "format: csv\nrows: {min: 10, max: 20}\nnull_values: [NA]\ncolumns:\n  a: {type: float, nullable: false, min: 0, max: 10, drift: 0.2}\n  b: {type: string, allowed: [x, y], required: false, drift: false}\n  c: integer\n  d: {type: date, min: 2020-01-01}\ndrift: {threshold: 0.05}\n";
        let schema = Schema::parse(Path::new("s.yml"), text).unwrap();
        assert_eq!(schema.format, Some(Format::Csv));
        assert_eq!(
            schema.rows,
            RowBounds {
                min: Some(10),
                max: Some(20)
            }
        );
        assert_eq!(schema.null_values, vec!["NA"]);
        assert_eq!(
            schema.drift,
            Some(SchemaDrift {
                threshold: Some(0.05),
                ..SchemaDrift::default()
            })
        );
        let a = schema.column("a").unwrap();
        assert_eq!(
            (a.kind, a.nullable, a.min, a.max),
            (ColumnType::Float, false, Some(0.0), Some(10.0))
        );
        assert_eq!(
            a.drift,
            DriftSetting::Custom {
                method: None,
                p_value: None,
                threshold: Some(0.2)
            }
        );
        let b = schema.column("b").unwrap();
        assert_eq!(b.allowed, Some(vec!["x".to_string(), "y".to_string()]));
        assert!(!b.required);
        assert_eq!(b.drift, DriftSetting::Off);
        assert_eq!(schema.column("c").unwrap().kind, ColumnType::Integer);
        assert_eq!(schema.column("d").unwrap().min, Some(18_262.0));
    }

    #[test]
    fn mistakes_are_reported_with_line_and_column() {
        let text = "columns:\n  a: {type: integr}\n  b: {type: float, min: low}\n  c: {type: string, nulable: true}\n";
        let rendered = errors(text);
        assert!(
            rendered.contains("s.yml:2:13: error: expected a type"),
            "{rendered}"
        );
        assert!(
            rendered.contains("s.yml:3:25: error: expected a number, found `low`"),
            "{rendered}"
        );
        assert!(
            rendered.contains("s.yml:4:21: error: unknown key `nulable`"),
            "{rendered}"
        );
        assert!(rendered.contains("did you mean `nullable`?"), "{rendered}");
    }

    #[test]
    fn structural_mistakes_are_errors_too() {
        assert!(errors("").contains("the schema is empty"));
        assert!(errors("rows: {min: 5}\n").contains("missing key `columns`"));
        assert!(errors("columns: [a, b]\n").contains("expected a map from column names"));
        assert!(errors("columns: {a: {}}\n").contains("column `a` has no `type`"));
        assert!(errors("columns: {a: [integer]}\n").contains("expected a map such as"));
        assert!(errors("columns:\n  a: {type: [x\n").contains("invalid YAML"));
        assert!(
            errors("columns:\n  a: {type: string, min: 1}\n").contains("not to string columns")
        );
        assert!(
            errors("columns: {a: integer}\nrows: {min: 5, max: 2}\n")
                .contains("min 5 is above max 2")
        );
        assert!(errors("columns: {a: integer}\ndrift: -3\n").contains("a distance threshold"));
    }

    #[test]
    fn drift_methods_p_values_and_corrections_are_read_and_checked() {
        let text = "columns:\n  x: {type: float, drift: {method: ks, p: 0.01}}\n  s: {type: string, drift: {method: psi, threshold: 0.25}}\n  n: integer\ndrift: {method: auto, p: 0.02, correction: bonferroni}\n";
        let schema = Schema::parse(Path::new("s.yml"), text).unwrap();
        let x = schema.drift_rule(schema.column("x").unwrap()).unwrap();
        assert_eq!(
            (x.method, x.p_value, x.threshold),
            (Some(DriftMethod::Ks), 0.01, None)
        );
        let s = schema.drift_rule(schema.column("s").unwrap()).unwrap();
        assert_eq!(
            (s.method, s.p_value, s.threshold),
            (Some(DriftMethod::Psi), 0.02, Some(0.25))
        );
        let n = schema.drift_rule(schema.column("n").unwrap()).unwrap();
        assert_eq!((n.method, n.p_value), (None, 0.02));
        assert_eq!(schema.drift_correction(), Correction::Bonferroni);
        // What the schema writes reads back the same.
        let again = Schema::parse(Path::new("s.yml"), &schema.to_yaml("")).unwrap();
        assert_eq!(again, schema);

        let rendered = errors("columns:\n  s: {type: string, drift: {method: ks}}\n");
        assert!(
            rendered.contains("s.yml:2:37: error: `ks` measures numeric columns, and `s` is a string column: use chi-square, jensen-shannon, psi, l-infinity"),
            "{rendered}"
        );
        assert!(
            errors("columns: {x: {type: float, drift: {method: t-test}}}\n")
                .contains("expected `auto`, `ks`, `chi-square`")
        );
        assert!(
            errors("columns: {x: {type: float, drift: {p: 0}}}\n").contains("a p-value above 0")
        );
        assert!(
            errors("columns: {x: float}\ndrift: {correction: fdr}\n")
                .contains("`holm`, `bonferroni` or `none`")
        );
        assert!(
            errors("columns: {x: float}\ndrift: {pvalue: 0.1}\n").contains("unknown key `pvalue`")
        );
    }
}
