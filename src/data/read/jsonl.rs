//! JSON lines: one object per line, read line by line into a reused buffer.
//! Keys are columns; a key missing from a line is a null there; nested
//! arrays and objects are kept as their JSON text. A line longer than
//! [`MAX_RECORD_BYTES`] is refused before it is held whole.

use super::limits::{MAX_NAME_BYTES, MAX_RECORD_BYTES, check_count, size};
use super::visitor::{Visitor, open, recycle};
use crate::data::DataError;
use crate::data::value::Cell;
use serde_json::Value;
use std::collections::HashMap;
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
        let object = match serde_json::from_slice::<Value>(&line) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                return Err(DataError::malformed(
                    path,
                    format!(
                        "line {line_number}: expected a JSON object, found {}",
                        kind(&other)
                    ),
                ));
            }
            Err(e) => {
                return Err(DataError::malformed(
                    path,
                    format!("line {line_number}: not JSON: {e}"),
                ));
            }
        };
        let before = names.len();
        for key in object.keys() {
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
        let nested: Vec<(usize, String)> = object
            .iter()
            .filter(|(_, v)| v.is_array() || v.is_object())
            .map(|(k, v)| (index[k], v.to_string()))
            .collect();
        let mut cells = recycle(spare);
        cells.resize(names.len(), Cell::Null);
        for (key, value) in &object {
            let cell = match value {
                Value::Null => Cell::Null,
                Value::Bool(b) => Cell::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Cell::Int(i),
                    None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                Value::String(s) => Cell::Str(s),
                Value::Array(_) | Value::Object(_) => continue,
            };
            cells[index[key]] = cell;
        }
        for (i, text) in &nested {
            cells[*i] = Cell::Str(text);
        }
        visitor.row(row, &cells);
        spare = recycle(cells);
    }
    if !announced {
        visitor.columns(&names);
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
