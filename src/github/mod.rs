//! Reports on GitHub: the pull-request comment, the check run (or commit
//! statuses), and the job summary. Every request goes through octocrab.
//!
//! Configured from GitHub's environment, so the same binary works on
//! github.com, GitHub Enterprise Server (`GITHUB_API_URL=https://host/api/v3`)
//! and a local stand-in: `GITHUB_API_URL`, `GITHUB_REPOSITORY`,
//! `GITHUB_EVENT_PATH`, `GITHUB_EVENT_NAME`, `GITHUB_SHA`, `GITHUB_TOKEN`
//! (or `--token`), `GITHUB_STEP_SUMMARY`, `GITHUB_SERVER_URL`, `GITHUB_RUN_ID`.
//!
//! Server errors (5xx) and unreachable servers are retried with exponential
//! backoff; rate limits (403/429 with `x-ratelimit-remaining: 0` or
//! `retry-after`) are waited out. `MLCI_GITHUB_MAX_WAIT` (seconds) caps any
//! single wait, for tests and impatient people. The token is never printed:
//! every message passes through [`redact`].

use crate::record::AnnotationRecord;
use crate::report::Report;
use http::{HeaderMap, StatusCode};
use octocrab::Octocrab;
use serde_json::{Value as Json, json};
use std::path::PathBuf;
use std::time::Duration;

/// How often a request is tried before giving up.
const ATTEMPTS: u32 = 6;
/// Annotations per check-run request: GitHub's limit.
const ANNOTATION_BATCH: usize = 50;
/// GitHub's limit on a check run's `output.summary`.
const CHECK_SUMMARY_LIMIT: usize = 65_535;

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
}

impl GithubError {
    /// A 403 "Resource not accessible by integration": a read-only token (pull requests from forks).
    pub fn is_read_only(&self) -> bool {
        matches!(self, GithubError::Status { status: 403, message, .. }
            if message.contains("Resource not accessible by integration"))
    }

    fn status(&self) -> Option<u16> {
        match self {
            GithubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The sentence for a read-only token.
pub const READ_ONLY_MESSAGE: &str = "The GitHub token is read-only here (\"Resource not accessible by integration\", as on pull requests from forks), so no comment or check was posted; the report is in the job summary.";

/// Which reports `--github` publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishMode {
    pub comment: bool,
    pub check: bool,
    pub summary: bool,
}

impl Default for PublishMode {
    fn default() -> Self {
        PublishMode {
            comment: true,
            check: true,
            summary: true,
        }
    }
}

impl PublishMode {
    /// `all`, or a comma-separated list of `comment`, `check`, `summary`.
    pub fn parse(text: &str) -> Result<PublishMode, String> {
        let mut mode = PublishMode {
            comment: false,
            check: false,
            summary: false,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => mode = PublishMode::default(),
                "comment" => mode.comment = true,
                "check" | "status" => mode.check = true,
                "summary" => mode.summary = true,
                other => {
                    return Err(format!(
                        "unknown report target `{other}`: expected comment, check, summary or all"
                    ));
                }
            }
        }
        if !(mode.comment || mode.check || mode.summary) {
            return Err("no report target: expected comment, check, summary or all".to_string());
        }
        Ok(mode)
    }
}

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
    token: Option<String>,
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
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
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

/// Replaces the token, wherever it appears, by `***`.
pub fn redact(text: &str, token: Option<&str>) -> String {
    match token {
        Some(token) if !token.is_empty() => text.replace(token, "***"),
        _ => text.to_string(),
    }
}

struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Response {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or(Json::Null)
    }
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
}

/// octocrab with mlci's retries.
struct Client {
    octo: Octocrab,
    api_url: String,
    /// The path part of the API URL (`/api/v3` on Enterprise), which octocrab prefixes.
    api_path: String,
    token: Option<String>,
    max_wait: Duration,
}

impl Client {
    fn new(config: &GithubConfig) -> Result<Client, GithubError> {
        let mut builder = Octocrab::builder()
            .base_uri(config.api_url.as_str())
            .map_err(|e| {
                GithubError::Config(format!(
                    "GITHUB_API_URL `{}` is not a URL: {e}",
                    config.api_url
                ))
            })?
            // octocrab sends its own User-Agent; a second one would be appended, not replace it.
            .add_header(
                http::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_string(),
            )
            .add_header(
                http::header::ACCEPT,
                "application/vnd.github+json".to_string(),
            );
        if let Some(token) = &config.token {
            builder = builder.personal_token(token.clone());
        }
        let octo = builder.build().map_err(|e| {
            GithubError::Config(redact(
                &format!("cannot set up the GitHub client: {e}"),
                config.token.as_deref(),
            ))
        })?;
        let api_path = config
            .api_url
            .parse::<http::Uri>()
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        Ok(Client {
            octo,
            api_url: config.api_url.clone(),
            api_path,
            token: config.token.clone(),
            max_wait: config.max_wait,
        })
    }

    fn redact(&self, text: &str) -> String {
        redact(text, self.token.as_deref())
    }

    /// A path relative to the API root for octocrab, from a route or a full URL (Link headers).
    fn route(&self, target: &str) -> String {
        let path = if let Some(rest) = target.strip_prefix(&self.api_url) {
            rest.to_string()
        } else if target.starts_with("http://") || target.starts_with("https://") {
            let uri: Option<http::Uri> = target.parse().ok();
            let pq = uri
                .as_ref()
                .and_then(|u| u.path_and_query())
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".to_string());
            pq.strip_prefix(&self.api_path)
                .filter(|_| !self.api_path.is_empty())
                .map(str::to_string)
                .unwrap_or(pq)
        } else {
            target.to_string()
        };
        if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        }
    }

    async fn wait(&self, wanted: Duration, why: &str) {
        let wait = wanted.min(self.max_wait);
        eprintln!(
            "GitHub: {why}; waiting {:.1}s before trying again",
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
    }

    /// Sends a request, retrying 5xx and transport errors with backoff and waiting out rate limits.
    async fn request(
        &self,
        method: Method,
        target: &str,
        body: Option<&Json>,
        what: &str,
    ) -> Result<Response, GithubError> {
        let route = self.route(target);
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            let backoff = Duration::from_millis(500 * (1u64 << attempt.min(6)));
            let sent = match method {
                Method::Get => self.octo._get(route.as_str()).await,
                Method::Post => self.octo._post(route.as_str(), body).await,
                Method::Patch => self.octo._patch(route.as_str(), body).await,
            };
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    last_error = self.redact(&error_chain(&error));
                    if attempt + 1 < ATTEMPTS {
                        self.wait(backoff, &format!("{what} failed ({last_error})"))
                            .await;
                    }
                    continue;
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            let body_text = self.octo.body_to_string(response).await.unwrap_or_default();
            let response = Response {
                status,
                headers,
                body: body_text,
            };
            if status.is_server_error() {
                last_error = format!("{} {}", status.as_u16(), github_message(&response));
                if attempt + 1 < ATTEMPTS {
                    self.wait(
                        backoff,
                        &format!("{what} got a server error ({})", status.as_u16()),
                    )
                    .await;
                    continue;
                }
                break;
            }
            if let Some(wait) = rate_limit_wait(&response) {
                last_error = format!(
                    "{} rate limit: {}",
                    status.as_u16(),
                    github_message(&response)
                );
                if attempt + 1 < ATTEMPTS {
                    self.wait(wait, "rate limit reached").await;
                    continue;
                }
                break;
            }
            if !status.is_success() {
                return Err(GithubError::Status {
                    status: status.as_u16(),
                    what: what.to_string(),
                    message: self.redact(&github_message(&response)),
                });
            }
            return Ok(response);
        }
        Err(GithubError::Unreachable {
            api: self.api_url.clone(),
            reason: format!("{what} failed {ATTEMPTS} times, last: {last_error}"),
        })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let s = inner.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = inner.source();
    }
    text
}

fn github_message(response: &Response) -> String {
    response
        .json()
        .get("message")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| response.body.chars().take(200).collect())
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long to wait, when a response is a rate limit (primary or secondary).
fn rate_limit_wait(response: &Response) -> Option<Duration> {
    let status = response.status.as_u16();
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(secs) = header_u64(&response.headers, "retry-after") {
        return Some(Duration::from_secs(secs.max(1)));
    }
    if header_u64(&response.headers, "x-ratelimit-remaining") == Some(0) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let reset = header_u64(&response.headers, "x-ratelimit-reset").unwrap_or(now + 60);
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    let message = github_message(response).to_ascii_lowercase();
    if message.contains("secondary rate limit") || status == 429 {
        return Some(Duration::from_secs(60));
    }
    None
}

/// The `rel="next"` URL of a Link header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

/// What to publish, taken from a [`Report`].
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
    pub annotations: Vec<AnnotationRecord>,
}

impl Publication {
    pub fn from_report(report: &Report, markdown: &str) -> Publication {
        let record = &report.run.record;
        let failed_jobs = record
            .jobs
            .iter()
            .any(|j| j.result == "failure" || j.result == "cancelled");
        let passed = report.gates.passed()
            && record.result == crate::record::RunResult::Success
            && !failed_jobs;
        let title = markdown
            .lines()
            .find(|l| l.starts_with("## "))
            .map(|l| l.trim_start_matches("## ").to_string())
            .unwrap_or_else(|| format!("mlci · {}", record.workflow));
        Publication {
            workflow: record.workflow.clone(),
            workflow_path: record.workflow_path.clone(),
            markdown: markdown.to_string(),
            title,
            passed,
            sha: record.sha.clone(),
            pr_number: record.pr_number,
            details_url: record.url.clone(),
            jobs: record
                .jobs
                .iter()
                .map(|j| (j.name.clone(), j.result.clone()))
                .collect(),
            annotations: record
                .jobs
                .iter()
                .flat_map(|j| j.annotations.iter().cloned())
                .collect(),
        }
    }
}

/// What [`publish`] did, in sentences.
#[derive(Clone, Debug, Default)]
pub struct PublishOutcome {
    pub messages: Vec<String>,
    pub comment_id: Option<u64>,
    pub check_run_id: Option<u64>,
    pub statuses: usize,
    pub read_only: bool,
}

/// Writes the job summary, then the PR comment and the check run (or statuses).
/// A read-only token is not an error: the outcome says so. Other failures are.
pub async fn publish(
    config: &GithubConfig,
    publication: &Publication,
    mode: PublishMode,
) -> Result<PublishOutcome, GithubError> {
    let mut outcome = PublishOutcome::default();
    if mode.summary {
        match &config.step_summary {
            Some(path) => {
                use std::io::Write;
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| {
                        f.write_all(publication.markdown.as_bytes())?;
                        f.write_all(b"\n")
                    });
                match written {
                    Ok(()) => outcome
                        .messages
                        .push("report written to the job summary".to_string()),
                    Err(e) => {
                        return Err(GithubError::Config(format!(
                            "cannot write the job summary {}: {e}",
                            path.display()
                        )));
                    }
                }
            }
            None if !mode.comment && !mode.check => outcome.messages.push(
                "GITHUB_STEP_SUMMARY is not set (not inside GitHub Actions): no job summary written"
                    .to_string(),
            ),
            None => {}
        }
    }
    if !mode.comment && !mode.check {
        return Ok(outcome);
    }
    if !config.has_token() {
        return Err(GithubError::Config(
            "no GitHub token: set GITHUB_TOKEN or pass --token to post the comment and the check"
                .to_string(),
        ));
    }
    let client = Client::new(config)?;
    let repo = config.repository.clone();
    let sha = config
        .head_sha()
        .or_else(|| (!publication.sha.is_empty()).then(|| publication.sha.clone()));

    if mode.comment {
        let pr = match config.event_pr().or(publication.pr_number) {
            Some(pr) => Some(pr),
            None => match &sha {
                Some(sha) => pr_for_commit(&client, &repo, sha).await?,
                None => None,
            },
        };
        match pr {
            Some(pr) => match upsert_comment(&client, &repo, pr, publication).await {
                Ok((id, message)) => {
                    outcome.comment_id = Some(id);
                    outcome.messages.push(message);
                }
                Err(error) if error.is_read_only() => {
                    outcome.read_only = true;
                    outcome.messages.push(READ_ONLY_MESSAGE.to_string());
                    return Ok(outcome);
                }
                Err(error) => return Err(error),
            },
            None => outcome.messages.push(format!(
                "no pull request found for commit {}: no comment posted",
                sha.as_deref().unwrap_or("(unknown)")
            )),
        }
    }

    if mode.check {
        let Some(sha) = sha else {
            outcome.messages.push(
                "GITHUB_SHA is not set and the run has no commit: no check posted".to_string(),
            );
            return Ok(outcome);
        };
        match create_check_run(&client, &repo, &sha, publication).await {
            Ok(id) => {
                outcome.check_run_id = Some(id);
                outcome.messages.push(format!(
                    "check run {id} `mlci / {}` posted: {}",
                    publication.workflow,
                    if publication.passed {
                        "success"
                    } else {
                        "failure"
                    }
                ));
            }
            Err(error) if error.is_read_only() && outcome.comment_id.is_none() => {
                outcome.read_only = true;
                outcome.messages.push(READ_ONLY_MESSAGE.to_string());
                return Ok(outcome);
            }
            Err(error) if matches!(error.status(), Some(403) | Some(404)) => {
                // Tokens that cannot create check runs (personal tokens, some apps) can still post statuses.
                match post_statuses(&client, &repo, &sha, publication).await {
                    Ok(count) => {
                        outcome.statuses = count;
                        outcome.messages.push(format!(
                            "the token cannot create check runs ({}); posted {count} commit status{} instead",
                            error.status().unwrap_or_default(),
                            if count == 1 { "" } else { "es" }
                        ));
                    }
                    Err(error) if error.is_read_only() => {
                        outcome.read_only = true;
                        outcome.messages.push(READ_ONLY_MESSAGE.to_string());
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(outcome)
}

async fn pr_for_commit(client: &Client, repo: &str, sha: &str) -> Result<Option<u64>, GithubError> {
    let response = client
        .request(
            Method::Get,
            &format!("/repos/{repo}/commits/{sha}/pulls"),
            None,
            "listing the pull requests of the commit",
        )
        .await;
    let response = match response {
        Ok(r) => r,
        // An unknown commit (not pushed yet) has no pull request.
        Err(GithubError::Status {
            status: 404 | 422, ..
        }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let pulls = response.json();
    let list = pulls.as_array().cloned().unwrap_or_default();
    // Only an open pull request: a push to main after a merge must not comment on the closed PR.
    let open = list
        .iter()
        .find(|p| p.get("state").and_then(Json::as_str) == Some("open"));
    Ok(open.and_then(|p| p.get("number")).and_then(Json::as_u64))
}

fn normalize(body: &str) -> String {
    body.replace("\r\n", "\n").trim_end().to_string()
}

async fn upsert_comment(
    client: &Client,
    repo: &str,
    pr: u64,
    publication: &Publication,
) -> Result<(u64, String), GithubError> {
    let marker = crate::report::markdown::marker(&publication.workflow);
    let mut next = Some(format!("/repos/{repo}/issues/{pr}/comments?per_page=100"));
    let mut found: Option<(u64, String)> = None;
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        let response = client
            .request(
                Method::Get,
                &url,
                None,
                "listing the pull request's comments",
            )
            .await?;
        let comments = response.json();
        for comment in comments.as_array().into_iter().flatten() {
            let body = comment.get("body").and_then(Json::as_str).unwrap_or("");
            if body.contains(&marker)
                && let Some(id) = comment.get("id").and_then(Json::as_u64)
            {
                // The newest one wins if older duplicates exist.
                found = Some((id, body.to_string()));
            }
        }
        if pages < 1000 {
            next = next_link(&response.headers);
        }
    }
    match found {
        Some((id, body)) if normalize(&body) == normalize(&publication.markdown) => {
            Ok((id, format!("PR #{pr} comment {id} is up to date")))
        }
        Some((id, _)) => {
            client
                .request(
                    Method::Patch,
                    &format!("/repos/{repo}/issues/comments/{id}"),
                    Some(&json!({ "body": publication.markdown })),
                    "updating the report comment",
                )
                .await?;
            Ok((id, format!("PR #{pr} comment {id} updated")))
        }
        None => {
            let response = client
                .request(
                    Method::Post,
                    &format!("/repos/{repo}/issues/{pr}/comments"),
                    Some(&json!({ "body": publication.markdown })),
                    "posting the report comment",
                )
                .await?;
            let id = response
                .json()
                .get("id")
                .and_then(Json::as_u64)
                .unwrap_or_default();
            Ok((id, format!("PR #{pr} comment {id} posted")))
        }
    }
}

fn annotation_json(annotation: &AnnotationRecord, workflow_path: &str) -> Json {
    let level = match annotation.level.as_str() {
        "error" => "failure",
        "warning" => "warning",
        _ => "notice",
    };
    let line = annotation.line.unwrap_or(1).max(1);
    let mut value = json!({
        "path": annotation.file.clone().filter(|f| !f.is_empty()).unwrap_or_else(|| workflow_path.to_string()),
        "start_line": line,
        "end_line": annotation.end_line.unwrap_or(line).max(line),
        "annotation_level": level,
        "message": annotation.message,
    });
    if let Some(title) = &annotation.title {
        value["title"] = json!(title);
    }
    value
}

async fn create_check_run(
    client: &Client,
    repo: &str,
    sha: &str,
    publication: &Publication,
) -> Result<u64, GithubError> {
    let summary = crate::report::markdown::truncate(
        &publication.markdown,
        CHECK_SUMMARY_LIMIT,
        "The pull request comment and the job summary have the rest.",
    );
    let title: String = publication.title.chars().take(200).collect();
    let annotations: Vec<Json> = publication
        .annotations
        .iter()
        .map(|a| annotation_json(a, &publication.workflow_path))
        .collect();
    let mut batches = annotations.chunks(ANNOTATION_BATCH);
    let first = batches.next().unwrap_or(&[]);
    let mut body = json!({
        "name": format!("mlci / {}", publication.workflow),
        "head_sha": sha,
        "status": "completed",
        "conclusion": if publication.passed { "success" } else { "failure" },
        "output": { "title": title, "summary": summary, "annotations": first },
    });
    if let Some(url) = &publication.details_url {
        body["details_url"] = json!(url);
    }
    let response = client
        .request(
            Method::Post,
            &format!("/repos/{repo}/check-runs"),
            Some(&body),
            "creating the check run",
        )
        .await?;
    let id = response
        .json()
        .get("id")
        .and_then(Json::as_u64)
        .unwrap_or_default();
    for batch in batches {
        client
            .request(
                Method::Patch,
                &format!("/repos/{repo}/check-runs/{id}"),
                Some(&json!({
                    "output": { "title": title, "summary": summary, "annotations": batch }
                })),
                "adding annotations to the check run",
            )
            .await?;
    }
    Ok(id)
}

fn status_description(text: &str) -> String {
    // GitHub cuts descriptions at 140 characters.
    let mut out: String = text.chars().take(140).collect();
    if text.chars().count() > 140 {
        out = out.chars().take(139).collect();
        out.push('…');
    }
    out
}

async fn post_statuses(
    client: &Client,
    repo: &str,
    sha: &str,
    publication: &Publication,
) -> Result<usize, GithubError> {
    let mut posted = 0;
    let mut statuses = vec![(
        format!("mlci/{}", publication.workflow),
        if publication.passed {
            "success"
        } else {
            "failure"
        }
        .to_string(),
        publication.title.clone(),
    )];
    for (job, result) in &publication.jobs {
        let state = match result.as_str() {
            "success" | "skipped" => "success",
            "failure" | "cancelled" => "failure",
            _ => "error",
        };
        statuses.push((
            format!("mlci/{}/{job}", publication.workflow),
            state.to_string(),
            format!("{job}: {result}"),
        ));
    }
    for (context, state, description) in statuses {
        let mut body = json!({
            "state": state,
            "context": context,
            "description": status_description(&description),
        });
        if let Some(url) = &publication.details_url {
            body["target_url"] = json!(url);
        }
        client
            .request(
                Method::Post,
                &format!("/repos/{repo}/statuses/{sha}"),
                Some(&body),
                "posting a commit status",
            )
            .await?;
        posted += 1;
    }
    Ok(posted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::LINK,
            "<https://api.github.com/repositories/1/issues/2/comments?page=2>; rel=\"next\", <https://api.github.com/repositories/1/issues/2/comments?page=3>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?page=2")
        );
    }

    #[test]
    fn modes_parse() {
        assert_eq!(PublishMode::parse("all").unwrap(), PublishMode::default());
        let m = PublishMode::parse("comment,summary").unwrap();
        assert!(m.comment && m.summary && !m.check);
        assert!(PublishMode::parse("tweet").is_err());
    }
}
