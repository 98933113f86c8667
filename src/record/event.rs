//! What the event and the git ref say about a run: its pull request and its branch.

/// What a run's event payload says about its pull request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullRequestInfo {
    pub number: Option<u64>,
    /// The PR's head branch: the run's `branch`.
    pub head_ref: Option<String>,
    /// The PR's base branch: where the baseline comes from.
    pub base_ref: Option<String>,
    /// The PR's head commit (the event's `GITHUB_SHA` is the merge commit).
    pub head_sha: Option<String>,
}

impl PullRequestInfo {
    /// From `pull_request` / `pull_request_target` payloads (and `issue_comment` on a PR).
    pub fn from_event(payload: &serde_json::Value) -> PullRequestInfo {
        let text = |pointer: &str| {
            payload
                .pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let number = payload
            .pointer("/pull_request/number")
            .and_then(serde_json::Value::as_u64)
            .or_else(|| {
                payload
                    .pointer("/issue/pull_request")
                    .and_then(|_| payload.pointer("/issue/number"))
                    .and_then(serde_json::Value::as_u64)
            });
        PullRequestInfo {
            number,
            head_ref: text("/pull_request/head/ref"),
            base_ref: text("/pull_request/base/ref"),
            head_sha: text("/pull_request/head/sha"),
        }
    }
}

/// `refs/heads/main` → `main`; other text as is.
pub fn branch_name(git_ref: &str) -> &str {
    git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref)
}
