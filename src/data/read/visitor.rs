//! What readers share: the [`Visitor`] they hand rows to, and how they open
//! a file and reuse a row's vector of cells.

use crate::data::DataError;
use crate::data::value::Cell;
use std::path::Path;

/// What a reader hands its rows to.
pub trait Visitor {
    /// The column names in the file's order. Called before the first row, and
    /// again with the longer list when a JSON line brings a key not seen before
    /// (the rows before it lacked that column).
    fn columns(&mut self, names: &[String]);
    /// One row; `row` counts data rows from 1 (for CSV, the header is not
    /// counted: row 1 is line 2). `cells` follows the names; a shorter slice
    /// means the columns after it are missing from this row.
    fn row(&mut self, row: u64, cells: &[Cell<'_>]);
}

/// Opens a dataset for reading, with an error that names it.
pub(super) fn open(path: &Path) -> Result<std::fs::File, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(DataError::malformed(path, "is a directory, not a dataset"));
    }
    Ok(file)
}

/// An empty vector whose allocation is handed from one row to the next
/// (the cells of a row borrow that row's buffer, so the vector cannot be kept
/// itself).
pub(super) fn recycle<'b>(cells: Vec<Cell<'_>>) -> Vec<Cell<'b>> {
    let mut cells = cells;
    cells.clear();
    cells.into_iter().map(|_| Cell::Null).collect()
}
