//! JSON lines: one object per line, read line by line into a reused buffer.
//! Keys are columns; a key missing from a line is a null there; nested
//! arrays and objects are kept as their JSON text. A line longer than
//! [`MAX_RECORD_BYTES`] is refused before it is held whole.

use super::limits::{MAX_COLUMNS, MAX_NAME_BYTES, MAX_RECORD_BYTES, check_count, size};
use super::visitor::{Visitor, open, recycle};
use crate::data::DataError;
use crate::data::value::Cell;
use serde::de::{self, Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub(super) fn read(path: &Path, visitor: &mut dyn Visitor) -> Result<(), DataError> {
    let mut input = BufReader::with_capacity(1 << 16, open(path)?);
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut line = Vec::new();
    let mut spare: Vec<Cell<'static>> = Vec::new();
    let (mut line_number, mut row) = (0u64, 0u64);
    let mut announced = false;
    loop {
        line.clear();
        // One byte past the limit tells a line over it from one exactly at it.
        let read = (&mut input)
            .take(MAX_RECORD_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| DataError::io(path, e))?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        if body.len() as u64 > MAX_RECORD_BYTES {
            return Err(DataError::malformed(
                path,
                format!(
                    "line {line_number} is longer than mlci's limit of {} for one record",
                    size(MAX_RECORD_BYTES)
                ),
            ));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let object = match serde_json::from_slice::<Entries<'_>>(&line) {
            Ok(Entries(entries)) => entries,
            Err(e) => {
                let message = match kind(&line) {
                    Some(found) => format!("expected a JSON object, found {found}"),
                    // The limit on keys, not a syntax error.
                    None if e.is_data() => e.to_string(),
                    None => format!("not JSON: {e}"),
                };
                return Err(DataError::malformed(
                    path,
                    format!("line {line_number}: {message}"),
                ));
            }
        };
        let before = names.len();
        for (key, _) in &object {
            if !index.contains_key(key) {
                if key.len() > MAX_NAME_BYTES {
                    return Err(DataError::malformed(
                        path,
                        format!(
                            "line {line_number}: a key is {} long, over mlci's limit of {} for a column name",
                            size(key.len() as u64),
                            size(MAX_NAME_BYTES as u64)
                        ),
                    ));
                }
                check_count(names.len() + 1).map_err(|message| {
                    DataError::malformed(path, format!("line {line_number}: {message}"))
                })?;
                index.insert(key.clone(), names.len());
                names.push(key.clone());
            }
        }
        if names.len() > before || !announced {
            visitor.columns(&names);
            announced = true;
        }
        row += 1;
        // Scalars parsed, nested values kept as their compact text.
        let values: Vec<(usize, Value)> = object
            .iter()
            .map(|(key, raw)| {
                let text = raw.get();
                let value = if text.starts_with(['[', '{']) {
                    Value::String(compact(text))
                } else {
                    serde_json::from_str(text).unwrap_or(Value::Null)
                };
                (index[key], value)
            })
            .collect();
        let mut cells = recycle(spare);
        cells.resize(names.len(), Cell::Null);
        for (i, value) in &values {
            cells[*i] = match value {
                Value::Bool(b) => Cell::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Cell::Int(i),
                    None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                Value::String(s) => Cell::Str(s),
                Value::Null | Value::Array(_) | Value::Object(_) => Cell::Null,
            };
        }
        visitor.row(row, &cells);
        spare = recycle(cells);
    }
    if !announced {
        visitor.columns(&names);
    }
    Ok(())
}

/// One line's top-level entries: each key with its value's source text.
/// Nested values are not built (an 8 MiB array stays a slice of the line,
/// not four million values), and more than [`MAX_COLUMNS`] keys stop the
/// parse.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> de::Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.len() == MAX_COLUMNS {
                return Err(de::Error::custom(format!(
                    "more than {MAX_COLUMNS} keys, over mlci's limit of columns"
                )));
            }
            entries.push((key, map.next_value::<&RawValue>()?));
        }
        Ok(Entries(entries))
    }
}

/// A JSON text without the whitespace outside its strings, as
/// `serde_json::to_string` writes a value.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            (in_string, escaped) = (escaped || c != '"', !escaped && c == '\\');
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        out.push(c);
    }
    out
}

/// What a line that is no object holds, told by its first character
/// (without building it: it may be a huge array).
fn kind(line: &[u8]) -> Option<&'static str> {
    match line.iter().find(|b| !b.is_ascii_whitespace())? {
        b'n' => Some("null"),
        b't' | b'f' => Some("a boolean"),
        b'-' | b'0'..=b'9' => Some("a number"),
        b'"' => Some("a string"),
        b'[' => Some("an array"),
        _ => None,
    }
}
