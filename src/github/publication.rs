//! What the publisher is handed: the Markdown body, the verdict, the commit,
//! the pull request and the annotations. It knows nothing of how they were made.

/// What to publish: the report as plain data, made by whoever wrote it.
#[derive(Clone, Debug)]
pub struct Publication {
    pub workflow: String,
    pub workflow_path: String,
    pub markdown: String,
    /// Title of the check run (the headline).
    pub title: String,
    pub passed: bool,
    pub sha: String,
    pub pr_number: Option<u64>,
    pub details_url: Option<String>,
    /// Job name and result, for commit statuses.
    pub jobs: Vec<(String, String)>,
    pub annotations: Vec<Annotation>,
}

/// A check-run annotation (`::error file=,line=::` and friends).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotation {
    /// `error`, `warning` or `notice`.
    pub level: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub end_line: Option<i64>,
    pub title: Option<String>,
}
