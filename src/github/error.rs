//! What went wrong talking to GitHub, and the sentence for a read-only token.

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach GitHub at {api}: {reason}")]
    Unreachable { api: String, reason: String },
    #[error("GitHub answered {status} to {what}: {message}")]
    Status {
        status: u16,
        what: String,
        message: String,
    },
    /// A publication of one commit for an event about another: never posted.
    #[error(
        "refusing to post the results of commit {published} on commit {head}, the event's: one commit's results are never shown as another's"
    )]
    OtherCommit { published: String, head: String },
}

impl GithubError {
    /// A 403 "Resource not accessible by integration": a read-only token (pull requests from forks).
    pub fn is_read_only(&self) -> bool {
        matches!(self, GithubError::Status { status: 403, message, .. }
            if message.contains("Resource not accessible by integration"))
    }

    /// The HTTP status GitHub answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The sentence for a read-only token.
pub const READ_ONLY_MESSAGE: &str = "The GitHub token is read-only here (\"Resource not accessible by integration\", as on pull requests from forks), so no comment or check was posted; the report is in the job summary.";
