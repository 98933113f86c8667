//! The value trees of YAML and JSON files, flattened to dotted names: what
//! metrics and params files share.

use crate::expr::Value;

/// A parameter of a run, as text (`0.01`, `forest`, `true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: String,
}

/// Numbers as people write them: integers without `.0`, others at most 6 significant decimals.
pub fn format_number(n: f64) -> String {
    if n.is_finite() && n == n.trunc() && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else if n.is_finite() && n.abs() >= 1e-4 && n.abs() < 1e9 {
        let text = format!("{n:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.to_string()
    } else {
        format!("{n:e}")
    }
}

pub(super) fn load_yaml(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let (node, diagnostics) = crate::yaml::load(text);
    if let Some(error) = diagnostics
        .iter()
        .find(|d| d.severity == crate::diag::Severity::Error)
    {
        let line = text[..error.span.start.min(text.len())]
            .matches('\n')
            .count()
            + 1;
        return Err(format!("line {line}: {}", error.message));
    }
    Ok(node.map(|n| n.to_value()).unwrap_or(Value::Null))
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(super) fn flatten_params(prefix: &str, value: &Value, out: &mut Vec<Param>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter() {
                flatten_params(&join(prefix, key), item, out);
            }
        }
        Value::Null if prefix.is_empty() => {}
        Value::Array(_) => out.push(Param {
            name: prefix.to_string(),
            value: value.to_json().to_string(),
        }),
        Value::Number(n) => out.push(Param {
            name: prefix.to_string(),
            value: format_number(*n),
        }),
        other => out.push(Param {
            name: prefix.to_string(),
            value: other.to_display_string(),
        }),
    }
}
