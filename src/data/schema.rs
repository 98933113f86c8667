//! What a dataset must look like: its format, how many rows, and for each
//! column a type and the rules its values follow (null or not, a range, a set
//! of allowed values), plus how far its distribution may drift from a
//! baseline. Users declare what TFDV's schema and Great Expectations' common
//! expectations say, in a YAML file next to the data; `mlci data schema infer`
//! writes a first one from the data itself ([`Schema::to_yaml`]).
//!
//! Loading (with `file:line:column` errors) is in `schema_parse`.

use super::drift::{Correction, DEFAULT_P_VALUE, DriftMethod, DriftRule};
use super::read::Format;
use super::value::{ColumnType, format_date, format_timestamp};
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// None: told from the file's extension.
    pub format: Option<Format>,
    pub rows: RowBounds,
    /// In the schema file's order.
    pub columns: Vec<ColumnSchema>,
    /// How columns that do not set their own are checked for drift; None
    /// when the schema says `drift: false` (none unless a column asks).
    pub drift: Option<SchemaDrift>,
    /// CSV texts read as null besides the empty field (such as `NA`).
    pub null_values: Vec<String>,
}

/// `rows: {min, max}`, both inclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RowBounds {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    pub kind: ColumnType,
    /// May values be null (an empty CSV field, JSON null, a Parquet null)? Default true.
    pub nullable: bool,
    /// Must the column be present? Default true.
    pub required: bool,
    /// Inclusive bounds of numeric, date and timestamp columns (dates as days
    /// since 1970, timestamps as seconds).
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The values allowed, as written in the schema (numbers in their text).
    pub allowed: Option<Vec<String>>,
    pub drift: DriftSetting,
}

/// The schema's `drift:` key: `{method: auto, p: 0.05, correction: holm}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SchemaDrift {
    /// None (`auto`): by sample size, see `data::drift`.
    pub method: Option<DriftMethod>,
    /// The family-wise p-value below which a column drifts.
    pub p_value: f64,
    /// The threshold of distances; None: each method's default.
    pub threshold: Option<f64>,
    pub correction: Correction,
}

impl Default for SchemaDrift {
    fn default() -> Self {
        SchemaDrift {
            method: None,
            p_value: DEFAULT_P_VALUE,
            threshold: None,
            correction: Correction::Holm,
        }
    }
}

/// A column's `drift:` key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DriftSetting {
    /// The schema's setting.
    Default,
    /// `drift: {method: ks, p: 0.01}`, `drift: {method: psi, threshold: 0.2}`,
    /// or `drift: 0.2` (a threshold); what is not given is the schema's.
    Custom {
        method: Option<DriftMethod>,
        p_value: Option<f64>,
        threshold: Option<f64>,
    },
    /// `drift: false`: never checked.
    Off,
}

impl ColumnSchema {
    pub fn new(name: impl Into<String>, kind: ColumnType) -> Self {
        ColumnSchema {
            name: name.into(),
            kind,
            nullable: true,
            required: true,
            min: None,
            max: None,
            allowed: None,
            drift: DriftSetting::Default,
        }
    }
}

impl Schema {
    pub fn new(columns: Vec<ColumnSchema>) -> Self {
        Schema {
            format: None,
            rows: RowBounds::default(),
            columns,
            drift: Some(SchemaDrift::default()),
            null_values: Vec::new(),
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// How a column is checked for drift, None when it is not.
    pub fn drift_rule(&self, column: &ColumnSchema) -> Option<DriftRule> {
        let schema = self.drift;
        let defaults = schema.unwrap_or_default();
        let rule = DriftRule {
            method: defaults.method,
            p_value: defaults.p_value,
            threshold: defaults.threshold,
        };
        match column.drift {
            DriftSetting::Default => schema.map(|_| rule),
            DriftSetting::Custom {
                method,
                p_value,
                threshold,
            } => Some(DriftRule {
                method: method.or(rule.method),
                p_value: p_value.unwrap_or(rule.p_value),
                threshold: threshold.or(rule.threshold),
            }),
            DriftSetting::Off => None,
        }
    }

    /// How p-values are corrected across columns.
    pub fn drift_correction(&self) -> Correction {
        self.drift.map(|d| d.correction).unwrap_or_default()
    }

    /// The schema as YAML that [`Schema::parse`] reads back to the same schema,
    /// one line per column, after `header` (each of its lines becomes a comment).
    pub fn to_yaml(&self, header: &str) -> String {
        self.to_yaml_with_notes(header, &[])
    }

    /// As [`Schema::to_yaml`], with `notes[i]` written as comments above
    /// the line of column `i` (what inference observed and why it enforces
    /// what it does). Columns past the end of `notes` get none.
    pub fn to_yaml_with_notes(&self, header: &str, notes: &[Vec<String>]) -> String {
        let mut out = String::new();
        for line in header.lines() {
            let _ = writeln!(out, "# {line}");
        }
        if let Some(format) = self.format {
            let _ = writeln!(out, "format: {format}");
        }
        let mut rows = Vec::new();
        if let Some(min) = self.rows.min {
            rows.push(format!("min: {min}"));
        }
        if let Some(max) = self.rows.max {
            rows.push(format!("max: {max}"));
        }
        if !rows.is_empty() {
            let _ = writeln!(out, "rows: {{{}}}", rows.join(", "));
        }
        if !self.null_values.is_empty() {
            let values: Vec<String> = self.null_values.iter().map(|v| quoted(v)).collect();
            let _ = writeln!(out, "null_values: [{}]", values.join(", "));
        }
        out.push_str("columns:\n");
        for (i, column) in self.columns.iter().enumerate() {
            for note in notes.get(i).into_iter().flatten() {
                let _ = writeln!(out, "  # {}", comment_text(note));
            }
            let _ = writeln!(
                out,
                "  {}: {{{}}}",
                scalar(&column.name),
                column_yaml(column)
            );
        }
        match self.drift {
            Some(drift) => {
                let _ = writeln!(out, "drift: {{{}}}", schema_drift_yaml(&drift));
            }
            None => out.push_str("drift: false\n"),
        }
        out
    }
}

fn column_yaml(column: &ColumnSchema) -> String {
    let mut parts = vec![format!("type: {}", column.kind)];
    if !column.nullable {
        parts.push("nullable: false".to_string());
    }
    if !column.required {
        parts.push("required: false".to_string());
    }
    let bound = |x: f64| match column.kind {
        ColumnType::Date => quoted(&format_date(x.round() as i64)),
        ColumnType::Timestamp => quoted(&format_timestamp(x)),
        _ => format!("{x}"),
    };
    if let Some(min) = column.min {
        parts.push(format!("min: {}", bound(min)));
    }
    if let Some(max) = column.max {
        parts.push(format!("max: {}", bound(max)));
    }
    if let Some(allowed) = &column.allowed {
        let values: Vec<String> = allowed
            .iter()
            .map(|v| match column.kind {
                ColumnType::String => scalar(v),
                _ => v.clone(),
            })
            .collect();
        parts.push(format!("allowed: [{}]", values.join(", ")));
    }
    match column.drift {
        DriftSetting::Default => {}
        DriftSetting::Custom {
            method,
            p_value,
            threshold,
        } => {
            let mut keys = Vec::new();
            if let Some(method) = method {
                keys.push(format!("method: {}", method.key()));
            }
            if let Some(p) = p_value {
                keys.push(format!("p: {p}"));
            }
            if let Some(t) = threshold {
                keys.push(format!("threshold: {t}"));
            }
            parts.push(format!("drift: {{{}}}", keys.join(", ")));
        }
        DriftSetting::Off => parts.push("drift: false".to_string()),
    }
    parts.join(", ")
}

/// `method: auto, p: 0.05`, and the threshold and correction when set.
fn schema_drift_yaml(drift: &SchemaDrift) -> String {
    let mut keys = vec![
        format!("method: {}", drift.method.map_or("auto", DriftMethod::key)),
        format!("p: {}", drift.p_value),
    ];
    if let Some(t) = drift.threshold {
        keys.push(format!("threshold: {t}"));
    }
    if drift.correction != Correction::Holm {
        keys.push(format!("correction: {}", drift.correction.key()));
    }
    keys.join(", ")
}

/// A note as the text of one comment line: a line break or another
/// character YAML does not print (it may come from a column's name or
/// value) is escaped, so it can neither end the comment nor fail the parse.
fn comment_text(note: &str) -> String {
    let mut out = String::with_capacity(note.len());
    for c in note.chars() {
        if c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            )
        {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A string as a YAML scalar that reads back as that string: plain when
/// it is safe (letters, digits, `_`, `-`, `.`, `/`, inner spaces, and it
/// reads as no number, boolean or null), else double-quoted.
fn scalar(text: &str) -> String {
    let plain_safe = text
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && !text.ends_with(' ')
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' '))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "null" | "true" | "false" | "y" | "n" | "yes" | "no" | "on" | "off"
        )
        && !text.starts_with(".inf")
        && !text.to_ascii_lowercase().starts_with(".nan");
    if plain_safe {
        text.to_string()
    } else {
        quoted(text)
    }
}

/// A JSON string is a valid YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}
