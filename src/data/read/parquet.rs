//! Parquet through the crate's record API, one row group at a time: the
//! file's physical and logical types arrive as typed cells (INT32/INT64 as
//! integers, DOUBLE as floats, UTF8 as strings, DATE and TIMESTAMP as such).
//! The crate reads the file through [`Guarded`], which bounds what it holds.

use super::contain::contain;
use super::limits::check_names;
use super::parquet_guard::{Guarded, refusal};
use super::visitor::{Visitor, open};
use crate::data::DataError;
use crate::data::value::Cell;
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::Field;
use std::path::Path;

pub(super) fn read(path: &Path, visitor: &mut dyn Visitor) -> Result<(), DataError> {
    contain(|| read_guarded(path, visitor)).unwrap_or_else(|panic| {
        Err(DataError::malformed(
            path,
            format!("a corrupt file the Parquet reader cannot decode: {panic}"),
        ))
    })
}

fn read_guarded(path: &Path, visitor: &mut dyn Visitor) -> Result<(), DataError> {
    let file = Guarded::new(open(path)?).map_err(|e| DataError::malformed(path, e.to_string()))?;
    let pages = file.pages();
    let reader = SerializedFileReader::new(file).map_err(|e| match refusal(&e) {
        Some(refusal) => DataError::malformed(path, refusal.to_string()),
        None => DataError::malformed(path, format!("not a readable Parquet file: {e}")),
    })?;
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    check_names(&names).map_err(|message| DataError::malformed(path, message))?;
    visitor.columns(&names);
    let mut row = 0u64;
    for group in 0..reader.num_row_groups() {
        let broken = |e: ::parquet::errors::ParquetError| match refusal(&e) {
            Some(refusal) => DataError::malformed(path, format!("row group {group}: {refusal}")),
            None => DataError::malformed(path, format!("row group {group}: {e}")),
        };
        pages.enter(reader.metadata().row_group(group));
        let group_reader = reader.get_row_group(group).map_err(broken)?;
        for record in group_reader.get_row_iter(None).map_err(broken)? {
            let record = record.map_err(broken)?;
            row += 1;
            // Values without a cell of their own (decimals, nested values, times
            // of day) are handed over as their text.
            let texts: Vec<Option<String>> = record
                .get_column_iter()
                .map(|(_, field)| as_text(field))
                .collect();
            let cells: Vec<Cell<'_>> = record
                .get_column_iter()
                .zip(&texts)
                .map(|((_, field), text)| match text {
                    Some(text) => Cell::Str(text),
                    None => cell(field),
                })
                .collect();
            visitor.row(row, &cells);
        }
    }
    Ok(())
}

fn as_text(field: &Field) -> Option<String> {
    match field {
        Field::Decimal(_)
        | Field::TimeMillis(_)
        | Field::TimeMicros(_)
        | Field::Group(_)
        | Field::ListInternal(_)
        | Field::MapInternal(_) => Some(field.to_string()),
        Field::Bytes(bytes) if bytes.as_utf8().is_err() => Some(format!("<{} bytes>", bytes.len())),
        _ => None,
    }
}

fn cell(field: &Field) -> Cell<'_> {
    match field {
        Field::Null => Cell::Null,
        Field::Bool(b) => Cell::Bool(*b),
        Field::Byte(i) => Cell::Int(i64::from(*i)),
        Field::Short(i) => Cell::Int(i64::from(*i)),
        Field::Int(i) => Cell::Int(i64::from(*i)),
        Field::Long(i) => Cell::Int(*i),
        Field::UByte(i) => Cell::Int(i64::from(*i)),
        Field::UShort(i) => Cell::Int(i64::from(*i)),
        Field::UInt(i) => Cell::Int(i64::from(*i)),
        Field::ULong(i) => i64::try_from(*i).map_or(Cell::Float(*i as f64), Cell::Int),
        Field::Float16(x) => Cell::Float(x.to_f64()),
        Field::Float(x) => Cell::Float(f64::from(*x)),
        Field::Double(x) => Cell::Float(*x),
        Field::Str(s) => Cell::Str(s),
        Field::Bytes(bytes) => bytes.as_utf8().map_or(Cell::Null, Cell::Str),
        Field::Date(days) => Cell::Date(i64::from(*days)),
        Field::TimestampMillis(ms) => Cell::Timestamp(*ms as f64 / 1e3),
        Field::TimestampMicros(us) => Cell::Timestamp(*us as f64 / 1e6),
        // Handed over as text by `as_text`.
        Field::Decimal(_)
        | Field::TimeMillis(_)
        | Field::TimeMicros(_)
        | Field::Group(_)
        | Field::ListInternal(_)
        | Field::MapInternal(_) => Cell::Null,
    }
}
