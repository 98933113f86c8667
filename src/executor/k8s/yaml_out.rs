//! Manifests as YAML for `--dry-run`: block style, keys in the order the
//! API types serialise them, every string double-quoted (JSON's escapes are
//! YAML's), so that what is printed reads back as exactly what was built.

use serde_json::Value;
use std::fmt::Write as _;

/// One document (without the `---` that separates documents).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(serde_json::to_string(s).expect("strings serialise")),
        Value::Array(items) if items.is_empty() => Some("[]".into()),
        Value::Object(map) if map.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn key(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !name.starts_with(['-', '.']);
    if plain {
        name.to_string()
    } else {
        serde_json::to_string(name).expect("strings serialise")
    }
}

/// Writes `value` at `indent`; `inline` when the caller already wrote the
/// start of its line (`- ` of a sequence item).
fn write_value(out: &mut String, value: &Value, indent: usize, inline: bool) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (i, (name, item)) in map.iter().enumerate() {
                if !(inline && i == 0) {
                    out.push_str(&pad);
                }
                match scalar(item) {
                    Some(text) => {
                        let _ = writeln!(out, "{}: {text}", key(name));
                    }
                    None => {
                        let _ = writeln!(out, "{}:", key(name));
                        let nested = match item {
                            Value::Array(_) => indent,
                            _ => indent + 2,
                        };
                        write_value(out, item, nested, false);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match scalar(item) {
                    Some(text) => {
                        let _ = writeln!(out, "{text}");
                    }
                    None => write_value(out, item, indent + 2, true),
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_and_lists_print_as_block_yaml() {
        let value = serde_json::json!({
            "kind": "Job",
            "spec": {"containers": [{"name": "job", "args": ["a b", "--x"]}], "empty": []},
            "dev.mlci.run": "r:1"
        });
        assert_eq!(
            to_yaml(&value),
            "kind: \"Job\"\nspec:\n  containers:\n  - name: \"job\"\n    args:\n    - \"a b\"\n    - \"--x\"\n  empty: []\ndev.mlci.run: \"r:1\"\n"
        );
    }
}
