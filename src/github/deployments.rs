//! GitHub Deployments, as GitHub makes them for a job with `environment:`:
//! one deployment of the run's commit to the environment when the job
//! starts, then its statuses (`in_progress`, then `success` or `failure`)
//! with the environment's URL and the run's log. REST: `POST
//! /repos/{o}/{r}/deployments` and `POST …/deployments/{id}/statuses`.

use super::client::{Client, Method};
use super::config::GithubConfig;
use super::error::GithubError;
use serde_json::{Value as Json, json};

/// A deployment status's state (GitHub also has `queued`, `pending`,
/// `error` and `inactive`; a job needs these three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentStatus {
    InProgress,
    Success,
    Failure,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::InProgress => "in_progress",
            DeploymentStatus::Success => "success",
            DeploymentStatus::Failure => "failure",
        }
    }
}

/// The deployments API of one repository, through octocrab with mlci's retries.
pub struct Deployments {
    client: Client,
    repository: String,
    /// The run's page on GitHub, when mlci runs inside GitHub Actions.
    log_url: Option<String>,
}

impl Deployments {
    /// Needs a token: without one nothing can be created.
    pub fn new(config: &GithubConfig) -> Result<Deployments, GithubError> {
        if !config.has_token() {
            return Err(GithubError::Config(
                "no GitHub token: set GITHUB_TOKEN or pass --token".to_string(),
            ));
        }
        let log_url = std::env::var("GITHUB_RUN_ID")
            .ok()
            .filter(|id| !id.trim().is_empty())
            .map(|id| {
                format!(
                    "{}/{}/actions/runs/{}",
                    config.server_url.trim_end_matches('/'),
                    config.repository,
                    id.trim()
                )
            });
        Ok(Deployments {
            client: Client::new(config)?,
            repository: config.repository.clone(),
            log_url,
        })
    }

    /// The run's log on GitHub, when known.
    pub fn log_url(&self) -> Option<&str> {
        self.log_url.as_deref()
    }

    /// Creates a deployment of commit `sha` to `environment`; its id. As
    /// GitHub Actions does: task `deploy`, no merge of the default branch,
    /// no commit status required first, and `production_environment` only
    /// for an environment named production (GitHub's default).
    pub async fn create(
        &self,
        sha: &str,
        environment: &str,
        description: &str,
    ) -> Result<u64, GithubError> {
        let body = json!({
            "ref": sha,
            "task": "deploy",
            "auto_merge": false,
            "required_contexts": [],
            "environment": environment,
            "description": short(description),
            "transient_environment": false,
            "production_environment": environment.eq_ignore_ascii_case("production"),
        });
        let response = self
            .client
            .request(
                Method::Post,
                &format!("/repos/{}/deployments", self.repository),
                Some(&body),
                "creating a deployment",
            )
            .await?;
        response
            .json()
            .get("id")
            .and_then(Json::as_u64)
            .ok_or_else(|| GithubError::Status {
                status: 201,
                what: "creating a deployment".to_string(),
                message: "the answer has no deployment id".to_string(),
            })
    }

    /// Adds a status to deployment `id`. `environment_url` is where the
    /// deployed thing answers; the log is the run's, when known.
    pub async fn set_status(
        &self,
        id: u64,
        state: DeploymentStatus,
        environment_url: Option<&str>,
        description: &str,
    ) -> Result<(), GithubError> {
        let mut body = json!({
            "state": state.as_str(),
            "description": short(description),
        });
        if let Some(url) = environment_url.filter(|u| !u.is_empty()) {
            body["environment_url"] = json!(url);
        }
        if let Some(url) = &self.log_url {
            body["log_url"] = json!(url);
        }
        self.client
            .request(
                Method::Post,
                &format!("/repos/{}/deployments/{id}/statuses", self.repository),
                Some(&body),
                "posting a deployment status",
            )
            .await
            .map(|_| ())
    }
}

/// GitHub keeps 140 characters of a description.
fn short(text: &str) -> String {
    if text.chars().count() <= 140 {
        return text.to_string();
    }
    let mut out: String = text.chars().take(139).collect();
    out.push('…');
    out
}
