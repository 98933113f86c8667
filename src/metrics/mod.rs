//! Metric and parameter files: what a step lists under `metrics:`, the
//! `params.yaml`/`params.json` it lists under `inputs:`, and the keys it
//! names under `params:` ([`params`]).
//!
//! Formats are chosen by extension, else by content:
//!
//! - JSON and YAML: nested keys flattened as `a.b`; an array of numbers is a
//!   series indexed from 0; an array of objects is a series indexed by their
//!   `step` key (else by position), as DVC's plots files are written.
//! - CSV and TSV: a header row; the last row gives the values, and every row
//!   is also a point of a series indexed by the `step` column (else by row number).
//! - `key=value` (or `key: value`) lines, `#` comments.
//!
//! Numbers are kept as numbers, booleans as 0/1, other scalars as text.

mod params;
mod tree;

pub use params::{ParamValues, parse_document, select_params};
pub use tree::{Param, format_number};

use tree::{flatten_params, join, load_yaml};

use crate::expr::Value;
use std::path::Path;

/// One metric value; `step` is set for a point of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: MetricValue,
    pub step: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    Number(f64),
    Text(String),
}

impl MetricValue {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            MetricValue::Number(n) => Some(*n),
            MetricValue::Text(_) => None,
        }
    }
}

impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Number(n) => f.write_str(&format_number(*n)),
            MetricValue::Text(t) => f.write_str(t),
        }
    }
}

impl Metric {
    pub fn number(name: impl Into<String>, value: f64) -> Metric {
        Metric {
            name: name.into(),
            value: MetricValue::Number(value),
            step: None,
        }
    }

    pub fn point(name: impl Into<String>, step: i64, value: f64) -> Metric {
        Metric {
            name: name.into(),
            value: MetricValue::Number(value),
            step: Some(step),
        }
    }
}

/// A metric or params file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot read the metrics file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the metrics file {path} is not valid {format}: {reason}")]
    Invalid {
        path: String,
        format: &'static str,
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
    Csv,
    Tsv,
    KeyValue,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Csv => "CSV",
            Format::Tsv => "TSV",
            Format::KeyValue => "key=value lines",
        }
    }
}

fn detect(path: &str, text: &str) -> Format {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "json" => return Format::Json,
        "yaml" | "yml" => return Format::Yaml,
        "csv" => return Format::Csv,
        "tsv" => return Format::Tsv,
        _ => {}
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Format::Json;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if first.contains('=') {
        Format::KeyValue
    } else if first.contains('\t') {
        Format::Tsv
    } else if first.contains(':') {
        Format::Yaml
    } else if first.contains(',') {
        Format::Csv
    } else {
        Format::KeyValue
    }
}

/// Reads one metrics file.
pub fn parse_file(path: &Path) -> Result<Vec<Metric>, MetricsError> {
    let text = std::fs::read_to_string(path).map_err(|source| MetricsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_str(&path.display().to_string(), &text)
}

/// Parses the text of a metrics file; `path` picks the format and names the file in errors.
pub fn parse_str(path: &str, text: &str) -> Result<Vec<Metric>, MetricsError> {
    let format = detect(path, text);
    let invalid = |reason: String| MetricsError::Invalid {
        path: path.to_string(),
        format: format.name(),
        reason,
    };
    let mut out = Vec::new();
    match format {
        Format::Json => {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
            let value = Value::from_json(&value);
            flatten_metrics("", &value, &mut out);
        }
        Format::Yaml => {
            let value = load_yaml(text).map_err(invalid)?;
            flatten_metrics("", &value, &mut out);
        }
        Format::Csv | Format::Tsv => {
            let separator = if format == Format::Csv { ',' } else { '\t' };
            parse_table(text, separator, &mut out).map_err(invalid)?;
        }
        Format::KeyValue => parse_key_values(text, &mut out).map_err(invalid)?,
    }
    Ok(out)
}

fn scalar(value: &Value) -> Option<MetricValue> {
    match value {
        Value::Number(n) if n.is_finite() => Some(MetricValue::Number(*n)),
        Value::Bool(b) => Some(MetricValue::Number(if *b { 1.0 } else { 0.0 })),
        Value::String(s) => Some(text_value(s)),
        _ => None,
    }
}

/// A cell or value written as text: a number when it reads as one.
fn text_value(s: &str) -> MetricValue {
    let t = s.trim();
    match t.parse::<f64>() {
        Ok(n) if n.is_finite() => MetricValue::Number(n),
        _ => match t {
            "true" | "True" => MetricValue::Number(1.0),
            "false" | "False" => MetricValue::Number(0.0),
            _ => MetricValue::Text(t.to_string()),
        },
    }
}

fn flatten_metrics(prefix: &str, value: &Value, out: &mut Vec<Metric>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter() {
                flatten_metrics(&join(prefix, key), item, out);
            }
        }
        Value::Array(items) if !prefix.is_empty() => {
            if items.iter().all(|i| matches!(i, Value::Number(_))) {
                for (index, item) in items.iter().enumerate() {
                    if let Value::Number(n) = item
                        && n.is_finite()
                    {
                        out.push(Metric::point(prefix, index as i64, *n));
                    }
                }
            } else if items.iter().all(|i| matches!(i, Value::Object(_))) {
                for (index, item) in items.iter().enumerate() {
                    let Value::Object(map) = item else { continue };
                    let step = map
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("step"))
                        .and_then(|(_, v)| match v {
                            Value::Number(n) => Some(*n as i64),
                            Value::String(s) => s.trim().parse().ok(),
                            _ => None,
                        })
                        .unwrap_or(index as i64);
                    for (key, v) in map.iter() {
                        if key.eq_ignore_ascii_case("step") {
                            continue;
                        }
                        if let Some(MetricValue::Number(n)) = scalar(v) {
                            out.push(Metric::point(join(prefix, key), step, n));
                        }
                    }
                }
            }
            // Mixed arrays carry no metric that a table or a gate could use.
        }
        Value::Array(_) | Value::Null => {}
        other => {
            if let Some(value) = scalar(other) {
                out.push(Metric {
                    name: prefix.to_string(),
                    value,
                    step: None,
                });
            }
        }
    }
}

fn split_row(line: &str, separator: char) -> Vec<String> {
    // Quoted CSV cells: "a,b" and "" for a quote.
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == separator && !quoted => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

fn parse_table(text: &str, separator: char, out: &mut Vec<Metric>) -> Result<(), String> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let header = split_row(header, separator);
    if header.iter().any(String::is_empty) {
        return Err("the header row has an empty column name".to_string());
    }
    let step_column = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case("step") || h.eq_ignore_ascii_case("epoch"));
    let rows: Vec<Vec<String>> = lines.map(|l| split_row(l, separator)).collect();
    for (number, row) in rows.iter().enumerate() {
        if row.len() != header.len() {
            return Err(format!(
                "row {} has {} cells, the header has {}",
                number + 2,
                row.len(),
                header.len()
            ));
        }
    }
    let many = rows.len() > 1 || step_column.is_some();
    for (number, row) in rows.iter().enumerate() {
        let step = step_column
            .and_then(|c| row[c].parse::<f64>().ok())
            .map(|s| s as i64)
            .unwrap_or(number as i64);
        for (column, cell) in row.iter().enumerate() {
            if Some(column) == step_column || cell.is_empty() {
                continue;
            }
            if many && let MetricValue::Number(n) = text_value(cell) {
                out.push(Metric::point(header[column].clone(), step, n));
            }
        }
    }
    if let Some(last) = rows.last() {
        for (column, cell) in last.iter().enumerate() {
            if Some(column) == step_column || cell.is_empty() {
                continue;
            }
            out.push(Metric {
                name: header[column].clone(),
                value: text_value(cell),
                step: None,
            });
        }
    }
    Ok(())
}

fn parse_key_values(text: &str, out: &mut Vec<Metric>) -> Result<(), String> {
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            return Err(format!("line {} is not key=value", number + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("line {} has no key", number + 1));
        }
        let value = value.trim().trim_matches('"');
        out.push(Metric {
            name: key.to_string(),
            value: text_value(value),
            step: None,
        });
    }
    Ok(())
}

/// Whether a path names a params file (`params.yaml`, `params.yml`, `params.json`).
pub fn is_params_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(name, "params.yaml" | "params.yml" | "params.json")
}

/// Reads `params.yaml` or `params.json`, flattened as metrics are.
pub fn parse_params_file(path: &Path) -> Result<Vec<Param>, MetricsError> {
    let text = std::fs::read_to_string(path).map_err(|source| MetricsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_params_str(&path.display().to_string(), &text)
}

pub fn parse_params_str(path: &str, text: &str) -> Result<Vec<Param>, MetricsError> {
    let format = detect(path, text);
    let invalid = |reason: String| MetricsError::Invalid {
        path: path.to_string(),
        format: format.name(),
        reason,
    };
    let value = match format {
        Format::Json => {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
            Value::from_json(&json)
        }
        Format::Yaml => load_yaml(text).map_err(invalid)?,
        _ => {
            let mut metrics = Vec::new();
            parse_key_values(text, &mut metrics).map_err(invalid)?;
            return Ok(metrics
                .into_iter()
                .map(|m| Param {
                    name: m.name,
                    value: m.value.to_string(),
                })
                .collect());
        }
    };
    let mut out = Vec::new();
    flatten_params("", &value, &mut out);
    Ok(out)
}

/// Reads a step's `metrics:` files, relative to `root` (the workspace on the host).
/// Files that could not be read are returned beside the metrics that could, so
/// that one bad file does not hide the others; the engine prints each error.
pub fn collect(root: &Path, files: &[String]) -> (Vec<Metric>, Vec<MetricsError>) {
    let mut metrics = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let parsed = read_within(root, file, "the workspace").and_then(|text| match text {
            Some(text) => parse_str(file, &text),
            None => Err(MetricsError::Read {
                path: file.clone(),
                source: std::io::ErrorKind::NotFound.into(),
            }),
        });
        match parsed {
            Ok(found) => metrics.extend(found),
            Err(error) => errors.push(error),
        }
    }
    (metrics, errors)
}

/// Reads the params files (`params.yaml`, `params.json`) among a step's `inputs:`.
pub fn collect_params(root: &Path, inputs: &[String]) -> (Vec<Param>, Vec<MetricsError>) {
    let mut params = Vec::new();
    let mut errors = Vec::new();
    for input in inputs.iter().filter(|i| is_params_file(i)) {
        let parsed = match read_within(root, input, "the repository") {
            Ok(None) => continue,
            Ok(Some(text)) => parse_params_str(input, &text),
            Err(error) => Err(error),
        };
        match parsed {
            Ok(found) => params.extend(found),
            Err(error) => errors.push(error),
        }
    }
    (params, errors)
}

/// The text of `file` under `root`, never through a symlink out of it; None
/// when there is no such file.
fn read_within(
    root: &Path,
    file: &str,
    root_name: &'static str,
) -> Result<Option<String>, MetricsError> {
    let read_error = |source| MetricsError::Read {
        path: file.to_string(),
        source,
    };
    let bytes = crate::confine::read(root, file, root_name)
        .map_err(|e| read_error(std::io::Error::other(e.to_string())))?;
    bytes
        .map(|b| String::from_utf8(b).map_err(|e| read_error(std::io::Error::other(e))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_short() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.912345678), "0.912346");
        assert_eq!(format_number(0.5), "0.5");
    }
}
