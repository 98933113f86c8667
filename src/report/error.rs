//! Why a report could not be made or published.

use crate::record::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Gates(String),
    #[error("cannot write the report to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// Nothing could be posted, and why (one sentence).
    #[error("{0}")]
    NotPosted(String),
    #[error(transparent)]
    Github(#[from] crate::github::GithubError),
}
