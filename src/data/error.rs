//! What stops a validation before any rule is checked: a schema that does not
//! parse, a file that cannot be read, a format that cannot be told. Each is one
//! sentence that names the file; the command line exits 2 on them. A value that
//! breaks a rule is not an error but a [`super::Failure`].

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The schema file has errors; each is rendered `file:line:column: error: …`
    /// with the line and a caret.
    #[error("{rendered}")]
    Schema { path: PathBuf, rendered: String },
    /// The dataset (or a stats file) could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The dataset is not what its format says: ragged rows, bad encoding, a
    /// broken Parquet footer, a JSON line that does not parse.
    #[error("{}: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    /// No format given and none to be told from the file's extension.
    #[error(
        "{}: cannot tell the format from the extension; name it with `format: csv|parquet|jsonl` in the schema",
        path.display()
    )]
    UnknownFormat { path: PathBuf },
    /// A baseline stats file that is not the JSON `mlci data validate --stats-out` writes.
    #[error("{}: not a stats file written by `mlci data validate --stats-out`: {message}", path.display())]
    Stats { path: PathBuf, message: String },
}

impl DataError {
    pub(crate) fn malformed(path: &std::path::Path, message: impl Into<String>) -> Self {
        DataError::Malformed {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// The same error naming the file as `path`: a run names a dataset by
    /// its path in the workspace, not in the host's scratch directory.
    pub fn named(mut self, name: &std::path::Path) -> Self {
        match &mut self {
            DataError::Io { path, .. }
            | DataError::Malformed { path, .. }
            | DataError::UnknownFormat { path }
            | DataError::Stats { path, .. } => *path = name.to_path_buf(),
            // Rendered already, with the schema's own name.
            DataError::Schema { .. } => {}
        }
        self
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
