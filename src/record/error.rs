//! Why the run store refused.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the run store {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the run store {path} was written by a newer mlci (schema {found}, this one knows {known}); upgrade mlci"
    )]
    Newer {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("the run store {path} failed: {reason}")]
    Sql { path: String, reason: String },
    #[error("no run {0} in the store")]
    NoRun(String),
}
