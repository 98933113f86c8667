//! What can go wrong in the store.

use crate::cache::tree::TreeError;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cache: {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("the step did not produce its declared output{} {}", if .0.len() == 1 { "" } else { "s" }, .0.join(", "))]
    MissingOutput(Vec<String>),
    #[error("a cache entry with the key `{0}` already exists")]
    Exists(String),
    #[error("{path} changed while it was being saved to the cache")]
    Changed { path: PathBuf },
    #[error("the cache entry `{key}` is unsafe: {reason}")]
    Unsafe { key: String, reason: String },
    #[error("the cache entry `{key}` is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("cannot restore {path}: {reason}")]
    InTheWay { path: PathBuf, reason: String },
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
