//! A local stand-in for the GitHub REST API: a real HTTP/1 server (hyper) on
//! 127.0.0.1 that implements the endpoints mlci calls, with GitHub's
//! documented request and response shapes, and records every request.
//!
//! - `GET  /repos/{o}/{r}/commits/{sha}/pulls`
//! - `GET  /repos/{o}/{r}/issues/{n}/comments` (`per_page` default 30, max 100, `page`;
//!   `Link` headers point at `/repositories/{id}/issues/{n}/comments`, as GitHub's do,
//!   and that path is served too)
//! - `POST /repos/{o}/{r}/issues/{n}/comments`, `PATCH /repos/{o}/{r}/issues/comments/{id}`
//!   (422 over 65,536 characters)
//! - `POST /repos/{o}/{r}/check-runs`, `PATCH /repos/{o}/{r}/check-runs/{id}` (422 over 50 annotations)
//! - `POST /repos/{o}/{r}/statuses/{sha}`
//! - `POST /repos/{o}/{r}/deployments` (`ref` required; `environment` defaults to
//!   production, `production_environment` to whether it is production, as GitHub's do)
//! - `POST /repos/{o}/{r}/deployments/{id}/statuses` (GitHub's seven states; 404 for
//!   an unknown deployment)
//!
//! The same API is served under `/api/v3`, as GitHub Enterprise Server does.
//!
//! Faults on demand: 5xx answers for the next requests that match a route,
//! a primary rate limit (403, `x-ratelimit-remaining: 0`, `x-ratelimit-reset`),
//! check runs refused (403 as for a personal token), deployments refused (403 as
//! for a workflow token without `deployments: write`), and read-only tokens that
//! get 403 "Resource not accessible by integration" on every write.

#![allow(dead_code)]

#[path = "../http_record/mod.rs"]
mod http_record;
pub use http_record::Recorded;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub const OWNER: &str = "octo-org";
pub const REPO: &str = "ml-project";
pub const REPO_ID: u64 = 1296269;

#[derive(Clone, Debug)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
    pub user: String,
}

#[derive(Default)]
pub struct State {
    pub token: String,
    pub read_only_tokens: HashSet<String>,
    /// Check runs answer 403 "You must authenticate via a GitHub App." (a personal token).
    pub refuse_check_runs: bool,
    /// (method, path substring, status): the next matching requests get these answers.
    pub faults: VecDeque<(String, String, u16)>,
    /// The next this-many requests hit the primary rate limit.
    pub rate_limited: usize,
    /// Seconds from now to the rate limit's reset.
    pub rate_limit_reset_in: u64,
    /// The next this-many requests get 429 with `retry-after: 1` (a secondary rate limit).
    pub too_many_requests: usize,
    pub comments: Vec<Comment>,
    pub next_id: u64,
    /// Commit sha → pull request numbers (`commits/{sha}/pulls`).
    pub pulls_of_commit: BTreeMap<String, Vec<u64>>,
    pub check_runs: Vec<Value>,
    /// Annotations per check run id, appended by PATCH as GitHub does.
    pub annotations: BTreeMap<u64, Vec<Value>>,
    pub statuses: Vec<(String, Value)>,
    /// Deployments answer 403 "Resource not accessible by integration".
    pub refuse_deployments: bool,
    /// The deployments created, as GitHub answered them.
    pub deployments: Vec<Value>,
    /// Deployment id and status, in the order they came.
    pub deployment_statuses: Vec<(u64, Value)>,
    pub requests: Vec<Recorded>,
}

pub struct GithubServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl GithubServer {
    /// Starts the server on a free port, in its own thread; `token` is the one valid token.
    pub fn start(token: &str) -> GithubServer {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            next_id: 1000,
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = shared.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let state = state.clone();
                            async move { Ok::<_, hyper::Error>(handle(request, state, addr).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        GithubServer { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    pub fn comments_on(&self, issue: u64) -> Vec<Comment> {
        self.with(|s| {
            s.comments
                .iter()
                .filter(|c| c.issue == issue)
                .cloned()
                .collect()
        })
    }

    /// Adds a comment as another user would have written it.
    pub fn add_comment(&self, issue: u64, body: &str, user: &str) -> u64 {
        self.with(|s| {
            s.next_id += 1;
            let id = s.next_id;
            s.comments.push(Comment {
                id,
                issue,
                body: body.to_string(),
                user: user.to_string(),
            });
            id
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn comment_json(base: &str, c: &Comment) -> Value {
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "url": format!("{base}/repos/{OWNER}/{REPO}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("{base}/repos/{OWNER}/{REPO}/issues/{}", c.issue),
        "body": c.body,
        "user": { "login": c.user, "id": 1, "type": if c.user.ends_with("[bot]") { "Bot" } else { "User" } },
        "created_at": "2024-05-01T12:00:00Z",
        "updated_at": "2024-05-01T12:00:00Z",
        "author_association": "MEMBER",
    })
}

fn query_param(query: &str, name: &str) -> Option<u64> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body,
        headers: Vec::new(),
    }
}

fn not_found() -> Answer {
    answer(
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

fn validation(resource: &str, field: &str, message: &str) -> Answer {
    answer(
        422,
        json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": "custom", "field": field, "message": message}],
            "documentation_url": "https://docs.github.com/rest",
            "status": "422",
        }),
    )
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_string();
    let uri = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    // GitHub Enterprise Server serves the API under /api/v3.
    let (base, routed) = match uri.strip_prefix("/api/v3") {
        Some(rest) if rest.starts_with('/') => (format!("http://{addr}/api/v3"), rest.to_string()),
        _ => (format!("http://{addr}"), uri.clone()),
    };
    let mut s = state.lock().unwrap();
    let answer = route(&mut s, &method, &routed, &headers, &body, &base);
    s.requests.push(Recorded {
        method,
        uri,
        headers,
        body,
        status: answer.status,
    });
    let remaining = if answer.status == 403
        && answer
            .headers
            .iter()
            .any(|(k, _)| k == "x-ratelimit-remaining")
    {
        None
    } else {
        Some("4999")
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap())
        .header("content-type", "application/json; charset=utf-8")
        .header("x-github-api-version-selected", "2022-11-28")
        .header("x-github-request-id", format!("MLCI:{}", s.requests.len()))
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-used", "1")
        .header("x-ratelimit-resource", "core");
    if let Some(remaining) = remaining {
        response = response
            .header("x-ratelimit-remaining", remaining)
            .header("x-ratelimit-reset", (now() + 3600).to_string());
    }
    for (k, v) in &answer.headers {
        response = response.header(k.as_str(), v.as_str());
    }
    let text = if answer.body.is_null() {
        String::new()
    } else {
        answer.body.to_string()
    };
    response.body(Full::new(Bytes::from(text))).unwrap()
}

fn route(
    s: &mut State,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &str,
    base: &str,
) -> Answer {
    let auth = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))
        .unwrap_or("");
    let read_only = s.read_only_tokens.contains(token);
    if token.is_empty() || (token != s.token && !read_only) {
        return answer(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
        );
    }
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    if let Some(index) = s
        .faults
        .iter()
        .position(|(m, p, _)| m == method && path.contains(p.as_str()))
    {
        let (_, _, status) = s.faults.remove(index).unwrap();
        return answer(status, json!({"message": "Server Error"}));
    }
    if s.too_many_requests > 0 {
        s.too_many_requests -= 1;
        let mut a = answer(
            429,
            json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "429",
            }),
        );
        a.headers = vec![("retry-after".into(), "1".into())];
        return a;
    }
    if s.rate_limited > 0 {
        s.rate_limited -= 1;
        let mut a = answer(
            403,
            json!({
                "message": "API rate limit exceeded for installation ID 1.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403",
            }),
        );
        a.headers = vec![
            ("x-ratelimit-remaining".into(), "0".into()),
            (
                "x-ratelimit-reset".into(),
                (now() + s.rate_limit_reset_in).to_string(),
            ),
        ];
        return a;
    }
    if read_only && method != "GET" {
        return answer(
            403,
            json!({
                "message": "Resource not accessible by integration",
                "documentation_url": "https://docs.github.com/rest",
                "status": "403",
            }),
        );
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let repo_ok = |p: &[&str]| {
        (p.len() >= 3 && p[0] == "repos" && p[1] == OWNER && p[2] == REPO)
            || (p.len() >= 2 && p[0] == "repositories" && p[1] == REPO_ID.to_string())
    };
    if !repo_ok(&parts) {
        return not_found();
    }
    let rest: Vec<&str> = if parts[0] == "repos" {
        parts[3..].to_vec()
    } else {
        parts[2..].to_vec()
    };
    let json_body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match (method, rest.as_slice()) {
        ("GET", ["commits", sha, "pulls"]) => {
            let prs = s.pulls_of_commit.get(*sha).cloned().unwrap_or_default();
            let list: Vec<Value> = prs
                .iter()
                .map(|n| {
                    json!({
                        "id": 1_000_000 + n, "number": n, "state": "open",
                        "url": format!("{base}/repos/{OWNER}/{REPO}/pulls/{n}"),
                        "head": {"sha": sha, "ref": "feature"},
                        "base": {"ref": "main"},
                    })
                })
                .collect();
            answer(200, json!(list))
        }
        ("GET", ["issues", issue, "comments"]) => {
            let Ok(issue) = issue.parse::<u64>() else {
                return not_found();
            };
            let per_page = query_param(query, "per_page").unwrap_or(30).clamp(1, 100) as usize;
            let page = query_param(query, "page").unwrap_or(1).max(1) as usize;
            let all: Vec<&Comment> = s.comments.iter().filter(|c| c.issue == issue).collect();
            let last = all.len().div_ceil(per_page).max(1);
            let items: Vec<Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|c| comment_json(base, c))
                .collect();
            let link_to = |p: usize| {
                format!(
                    "{base}/repositories/{REPO_ID}/issues/{issue}/comments?per_page={per_page}&page={p}"
                )
            };
            let mut links = Vec::new();
            if page > 1 {
                links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
            }
            if page < last {
                links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
                links.push(format!("<{}>; rel=\"last\"", link_to(last)));
            }
            if page > 1 {
                links.push(format!("<{}>; rel=\"first\"", link_to(1)));
            }
            let mut a = answer(200, json!(items));
            if !links.is_empty() {
                a.headers.push(("link".into(), links.join(", ")));
            }
            a
        }
        ("POST", ["issues", issue, "comments"]) => {
            let Ok(issue) = issue.parse::<u64>() else {
                return not_found();
            };
            let Some(text) = json_body.get("body").and_then(Value::as_str) else {
                return validation("IssueComment", "body", "body is missing");
            };
            if text.chars().count() > 65_536 {
                return validation(
                    "IssueComment",
                    "body",
                    "body is too long (maximum is 65536 characters)",
                );
            }
            s.next_id += 1;
            let comment = Comment {
                id: s.next_id,
                issue,
                body: text.to_string(),
                user: "github-actions[bot]".to_string(),
            };
            let value = comment_json(base, &comment);
            s.comments.push(comment);
            answer(201, value)
        }
        ("PATCH", ["issues", "comments", id]) => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            let Some(text) = json_body.get("body").and_then(Value::as_str) else {
                return validation("IssueComment", "body", "body is missing");
            };
            if text.chars().count() > 65_536 {
                return validation(
                    "IssueComment",
                    "body",
                    "body is too long (maximum is 65536 characters)",
                );
            }
            match s.comments.iter_mut().find(|c| c.id == id) {
                Some(comment) => {
                    comment.body = text.to_string();
                    let value = comment_json(base, comment);
                    answer(200, value)
                }
                None => not_found(),
            }
        }
        ("POST", ["check-runs"]) => {
            if s.refuse_check_runs {
                return answer(
                    403,
                    json!({"message": "You must authenticate via a GitHub App.", "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run", "status": "403"}),
                );
            }
            let (Some(name), Some(head_sha)) = (
                json_body.get("name").and_then(Value::as_str),
                json_body.get("head_sha").and_then(Value::as_str),
            ) else {
                return validation("CheckRun", "name", "name and head_sha are required");
            };
            let annotations = json_body
                .pointer("/output/annotations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if annotations.len() > 50 {
                return validation(
                    "CheckRun",
                    "annotations",
                    "at most 50 annotations per request",
                );
            }
            if let Some(output) = json_body.get("output")
                && (output.get("title").is_none() || output.get("summary").is_none())
            {
                return validation("CheckRun", "output", "output needs title and summary");
            }
            s.next_id += 1;
            let id = s.next_id;
            s.annotations.insert(id, annotations);
            let run = json!({
                "id": id,
                "head_sha": head_sha,
                "node_id": format!("CR_{id}"),
                "external_id": "",
                "url": format!("{base}/repos/{OWNER}/{REPO}/check-runs/{id}"),
                "html_url": format!("https://github.com/{OWNER}/{REPO}/runs/{id}"),
                "status": json_body.get("status").cloned().unwrap_or(json!("queued")),
                "conclusion": json_body.get("conclusion").cloned().unwrap_or(Value::Null),
                "name": name,
                "output": {
                    "title": json_body.pointer("/output/title").cloned().unwrap_or(Value::Null),
                    "summary": json_body.pointer("/output/summary").cloned().unwrap_or(Value::Null),
                    "annotations_count": s.annotations[&id].len(),
                },
            });
            s.check_runs.push(run.clone());
            answer(201, run)
        }
        ("PATCH", ["check-runs", id]) => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            let Some(index) = s.check_runs.iter().position(|r| r["id"] == json!(id)) else {
                return not_found();
            };
            let annotations = json_body
                .pointer("/output/annotations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if annotations.len() > 50 {
                return validation(
                    "CheckRun",
                    "annotations",
                    "at most 50 annotations per request",
                );
            }
            if let Some(output) = json_body.get("output")
                && (output.get("title").is_none() || output.get("summary").is_none())
            {
                return validation("CheckRun", "output", "output needs title and summary");
            }
            s.annotations.entry(id).or_default().extend(annotations);
            let count = s.annotations[&id].len();
            let run = &mut s.check_runs[index];
            run["output"]["annotations_count"] = json!(count);
            if let Some(c) = json_body.get("conclusion") {
                run["conclusion"] = c.clone();
            }
            let value = run.clone();
            answer(200, value)
        }
        ("POST", ["statuses", sha]) => {
            let state = json_body.get("state").and_then(Value::as_str).unwrap_or("");
            if !["error", "failure", "pending", "success"].contains(&state) {
                return validation("Status", "state", "state is not included in the list");
            }
            s.next_id += 1;
            let mut value = json_body.clone();
            value["id"] = json!(s.next_id);
            value["url"] = json!(format!("{base}/repos/{OWNER}/{REPO}/statuses/{sha}"));
            value["created_at"] = json!("2024-05-01T12:00:00Z");
            s.statuses.push((sha.to_string(), value.clone()));
            answer(201, value)
        }
        ("POST", ["deployments"]) => {
            if s.refuse_deployments {
                return answer(
                    403,
                    json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment", "status": "403"}),
                );
            }
            let Some(git_ref) = json_body.get("ref").and_then(Value::as_str) else {
                return validation("Deployment", "ref", "ref is missing");
            };
            let environment = json_body
                .get("environment")
                .and_then(Value::as_str)
                .unwrap_or("production")
                .to_string();
            s.next_id += 1;
            let id = s.next_id;
            let deployment = json!({
                "url": format!("{base}/repos/{OWNER}/{REPO}/deployments/{id}"),
                "id": id,
                "node_id": format!("DE_{id}"),
                "sha": git_ref,
                "ref": git_ref,
                "task": json_body.get("task").cloned().unwrap_or(json!("deploy")),
                "payload": json_body.get("payload").cloned().unwrap_or(json!({})),
                "original_environment": environment,
                "environment": environment,
                "description": json_body.get("description").cloned().unwrap_or(Value::Null),
                "creator": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
                "created_at": "2024-05-01T12:00:00Z",
                "updated_at": "2024-05-01T12:00:00Z",
                "statuses_url": format!("{base}/repos/{OWNER}/{REPO}/deployments/{id}/statuses"),
                "repository_url": format!("{base}/repos/{OWNER}/{REPO}"),
                "transient_environment": json_body.get("transient_environment").cloned().unwrap_or(json!(false)),
                "production_environment": json_body.get("production_environment").cloned().unwrap_or(json!(environment == "production")),
            });
            s.deployments.push(deployment.clone());
            answer(201, deployment)
        }
        ("POST", ["deployments", id, "statuses"]) => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            let Some(deployment) = s.deployments.iter().find(|d| d["id"] == json!(id)).cloned()
            else {
                return not_found();
            };
            let state = json_body.get("state").and_then(Value::as_str).unwrap_or("");
            let states = [
                "error",
                "failure",
                "inactive",
                "in_progress",
                "queued",
                "pending",
                "success",
            ];
            if !states.contains(&state) {
                return validation(
                    "DeploymentStatus",
                    "state",
                    "state is not included in the list",
                );
            }
            s.next_id += 1;
            let status_id = s.next_id;
            let text = |key: &str| json_body.get(key).cloned().unwrap_or(json!(""));
            let status = json!({
                "url": format!("{base}/repos/{OWNER}/{REPO}/deployments/{id}/statuses/{status_id}"),
                "id": status_id,
                "node_id": format!("DES_{status_id}"),
                "state": state,
                "creator": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
                "description": text("description"),
                "environment": json_body.get("environment").cloned().unwrap_or(deployment["environment"].clone()),
                "target_url": text("log_url"),
                "log_url": text("log_url"),
                "environment_url": text("environment_url"),
                "created_at": "2024-05-01T12:00:00Z",
                "updated_at": "2024-05-01T12:00:00Z",
                "deployment_url": deployment["url"].clone(),
                "repository_url": format!("{base}/repos/{OWNER}/{REPO}"),
            });
            s.deployment_statuses.push((id, status.clone()));
            answer(201, status)
        }
        _ => not_found(),
    }
}
