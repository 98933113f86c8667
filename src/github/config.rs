//! Where and as whom to report: GitHub's environment (`GITHUB_API_URL`,
//! `GITHUB_REPOSITORY`, the event payload, the token…).

use super::error::GithubError;
use serde_json::Value as Json;
use std::path::PathBuf;
use std::time::Duration;

/// Where and as whom to report.
#[derive(Clone)]
pub struct GithubConfig {
    /// `https://api.github.com`, without a trailing slash.
    pub api_url: String,
    pub server_url: String,
    /// `owner/repo`.
    pub repository: String,
    pub event_name: Option<String>,
    pub event: Option<Json>,
    pub sha: Option<String>,
    pub(super) token: Option<String>,
    pub step_summary: Option<PathBuf>,
    /// The longest single wait (rate limits, backoff).
    pub max_wait: Duration,
}

impl std::fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubConfig")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl GithubConfig {
    /// Reads GitHub's environment; `token` (from `--token`) wins over `GITHUB_TOKEN`.
    pub fn from_env(token: Option<String>) -> Result<GithubConfig, GithubError> {
        let api_url = env("GITHUB_API_URL")
            .unwrap_or_else(|| "https://api.github.com".to_string())
            .trim_end_matches('/')
            .to_string();
        let repository = env("GITHUB_REPOSITORY").ok_or_else(|| {
            GithubError::Config(
                "GITHUB_REPOSITORY is not set: set it to owner/repo to report to GitHub"
                    .to_string(),
            )
        })?;
        if repository.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(GithubError::Config(format!(
                "GITHUB_REPOSITORY is `{repository}`, expected owner/repo"
            )));
        }
        let event = match env("GITHUB_EVENT_PATH") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    GithubError::Config(format!("cannot read the event file {path}: {e}"))
                })?;
                Some(serde_json::from_str(&text).map_err(|e| {
                    GithubError::Config(format!("the event file {path} is not JSON: {e}"))
                })?)
            }
            None => None,
        };
        let max_wait = env("MLCI_GITHUB_MAX_WAIT")
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or(Duration::from_secs(15 * 60));
        Ok(GithubConfig {
            api_url,
            server_url: env("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".to_string()),
            repository,
            event_name: env("GITHUB_EVENT_NAME"),
            event,
            sha: env("GITHUB_SHA"),
            token: token
                .filter(|t| !t.is_empty())
                .or_else(|| env("GITHUB_TOKEN")),
            step_summary: env("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            max_wait,
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The pull request named by the event payload.
    pub fn event_pr(&self) -> Option<u64> {
        let event = self.event.as_ref()?;
        event
            .pointer("/pull_request/number")
            .and_then(Json::as_u64)
            .or_else(|| {
                // issue_comment on a pull request
                event
                    .pointer("/issue/pull_request")
                    .and_then(|_| event.pointer("/issue/number"))
                    .and_then(Json::as_u64)
            })
    }

    /// The commit to attach checks to: the PR's head (not the merge commit), else GITHUB_SHA.
    pub fn head_sha(&self) -> Option<String> {
        self.event
            .as_ref()
            .and_then(|e| e.pointer("/pull_request/head/sha"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .or_else(|| self.sha.clone())
    }
}
