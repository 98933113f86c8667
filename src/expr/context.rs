//! What an evaluation can see: the contexts (`github`, `env`, ...), the job's
//! status so far, and the workspace for `hashFiles`.

use super::value::Object;
use std::path::Path;

/// The job's state so far, for `success()`, `failure()` and `cancelled()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    Cancelled,
}

/// What an expression can see.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    /// `github`, `env`, `matrix`, `steps`, `needs`, ... (names case-insensitive).
    pub contexts: &'a Object,
    pub status: Status,
    /// Where `hashFiles` looks; without one it is an error.
    pub workspace: Option<&'a Path>,
}
