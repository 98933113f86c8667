//! Reading a dataset as a stream of rows, in bounded memory: a reader walks
//! the file once and hands each row to a [`Visitor`], borrowed from its own
//! buffer, so that no file is ever held whole (CSV one record at a time,
//! Parquet one row group at a time, JSON lines one line at a time).

mod csv;
mod jsonl;
mod parquet;
mod visitor;

pub use visitor::Visitor;

use super::DataError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// The file formats `mlci data` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated, with a header row.
    Csv,
    Parquet,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "parquet" => Some(Format::Parquet),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The format a file's extension says: `.csv`, `.parquet`/`.pq`, `.jsonl`/`.ndjson`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// `format`, else the one the extension says, else an error naming the file.
    pub fn resolve(format: Option<Format>, path: &Path) -> Result<Format, DataError> {
        format
            .or_else(|| Format::from_path(path))
            .ok_or_else(|| DataError::UnknownFormat {
                path: path.to_path_buf(),
            })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads `path` as `format`, handing every row to `visitor`.
pub fn read(path: &Path, format: Format, visitor: &mut dyn Visitor) -> Result<(), DataError> {
    match format {
        Format::Csv => csv::read(path, visitor),
        Format::Parquet => parquet::read(path, visitor),
        Format::Jsonl => jsonl::read(path, visitor),
    }
}
