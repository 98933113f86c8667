//! CSV with a header row, read record by record as bytes (`csv::ByteRecord`:
//! no allocation per row); each field is checked to be UTF-8 on its way out.
//! The file reaches the csv reader through [`Guard`], which bounds a record's
//! length and refuses a quote that is never closed.

use super::csv_guard::{Guard, refusal};
use super::limits::{check_count, check_names};
use super::visitor::{Visitor, open, recycle};
use crate::data::DataError;
use crate::data::value::Cell;
use std::collections::HashSet;
use std::path::Path;

pub(super) fn read(path: &Path, visitor: &mut dyn Visitor) -> Result<(), DataError> {
    let file = open(path)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(1 << 16)
        .from_reader(Guard::new(file));
    let header = reader
        .byte_headers()
        .map_err(|e| error(path, e, 0))?
        .clone();
    if header.is_empty() {
        return Err(DataError::malformed(
            path,
            "the file is empty: a CSV dataset starts with a header row that names its columns",
        ));
    }
    check_count(header.len()).map_err(|message| DataError::malformed(path, message))?;
    let mut names = Vec::with_capacity(header.len());
    let mut seen = HashSet::new();
    for (i, field) in header.iter().enumerate() {
        let name = std::str::from_utf8(field).map_err(|_| {
            DataError::malformed(
                path,
                format!("the name of column {} in the header is not UTF-8", i + 1),
            )
        })?;
        if !seen.insert(name) {
            return Err(DataError::malformed(
                path,
                format!("column `{name}` appears twice in the header"),
            ));
        }
        names.push(name.to_string());
    }
    check_names(&names).map_err(|message| DataError::malformed(path, message))?;
    visitor.columns(&names);
    let mut record = ::csv::ByteRecord::new();
    let mut spare: Vec<Cell<'static>> = Vec::with_capacity(names.len());
    let mut row = 0u64;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| error(path, e, row + 1))?
    {
        row += 1;
        let mut cells = recycle(spare);
        for (i, field) in record.iter().enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| {
                DataError::malformed(
                    path,
                    format!(
                        "row {row} (line {}), column `{}`: the value is not UTF-8 text",
                        line(&record),
                        names[i]
                    ),
                )
            })?;
            cells.push(Cell::Text(text));
        }
        visitor.row(row, &cells);
        spare = recycle(cells);
    }
    Ok(())
}

fn line(record: &::csv::ByteRecord) -> u64 {
    record.position().map(|p| p.line()).unwrap_or(0)
}

/// The csv crate's error, met while reading the `row`-th record (0 for the
/// header), as one sentence.
fn error(path: &Path, e: ::csv::Error, row: u64) -> DataError {
    match e.into_kind() {
        ::csv::ErrorKind::Io(source) => match refusal(&source) {
            Some(refusal) => DataError::malformed(path, refusal.describe(row)),
            None => DataError::io(path, source),
        },
        ::csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let at = pos
                .map(|p| format!("row {} (line {})", p.record(), p.line()))
                .unwrap_or_else(|| "a row".to_string());
            DataError::malformed(
                path,
                format!(
                    "{at} has {len} field{} where the header has {expected_len}",
                    if len == 1 { "" } else { "s" }
                ),
            )
        }
        other => DataError::malformed(path, format!("not readable as CSV: {other:?}")),
    }
}
