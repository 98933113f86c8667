//! Reading a dataset as a stream of rows, in bounded memory: a reader walks
//! the file once and hands each row to a [`Visitor`], borrowed from its own
//! buffer, so that no file is ever held whole (CSV one record at a time,
//! Parquet one row group at a time, JSON lines one line at a time).

mod contain;
mod csv;
mod csv_guard;
mod jsonl;
pub mod limits;
mod parquet;
mod parquet_guard;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::value::Cell;

    /// Every row as text, for assertions.
    #[derive(Debug, Default)]
    struct Rows {
        names: Vec<String>,
        rows: Vec<String>,
    }

    impl Visitor for Rows {
        fn columns(&mut self, names: &[String]) {
            self.names = names.to_vec();
        }
        fn row(&mut self, row: u64, cells: &[Cell<'_>]) {
            let cells: Vec<String> = cells.iter().map(|c| c.describe()).collect();
            self.rows.push(format!("{row}: {}", cells.join(" ")));
        }
    }

    fn read_text(name: &str, text: &[u8]) -> Result<Rows, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut rows = Rows::default();
        let format = Format::from_path(&path).unwrap();
        read(&path, format, &mut rows).map_err(|e| e.to_string())?;
        Ok(rows)
    }

    #[test]
    fn csv_fields_arrive_as_text_and_broken_files_as_one_sentence() {
        let rows = read_text("d.csv", b"a,b\n1,x\n\"2,5\",\n").unwrap();
        assert_eq!(rows.names, ["a", "b"]);
        assert_eq!(rows.rows, ["1: `1` `x`", "2: `2,5` ``"]);
        let ragged = read_text("d.csv", b"a,b\n1,2\n3\n").unwrap_err();
        assert!(
            ragged.ends_with("d.csv: row 2 (line 3) has 1 field where the header has 2"),
            "{ragged}"
        );
        let twice = read_text("d.csv", b"a,a\n").unwrap_err();
        assert!(twice.contains("column `a` appears twice"), "{twice}");
    }

    #[test]
    fn json_lines_keep_their_types_and_nested_values_as_text() {
        let rows = read_text(
            "d.jsonl",
            b"{\"a\": 1, \"b\": [1, 2], \"c\": null}\n{\"a\": 1.5, \"d\": true}\n",
        )
        .unwrap();
        assert_eq!(rows.names, ["a", "b", "c", "d"]);
        assert_eq!(rows.rows[0], "1: integer `1` string `[1,2]` null");
        assert_eq!(rows.rows[1], "2: float `1.5` null null boolean `true`");
        let broken = read_text("d.jsonl", b"{\"a\": 1}\n{oops\n").unwrap_err();
        assert!(broken.contains("line 2: not JSON"), "{broken}");
    }

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.pq")), Some(Format::Parquet));
        assert_eq!(
            Format::from_path(Path::new("b.ndjson")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_path(Path::new("b.json")), None);
        let error = Format::resolve(None, Path::new("b.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("b.txt: cannot tell the format"),
            "{error}"
        );
    }
}
