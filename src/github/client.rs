//! The HTTP client: octocrab with mlci's retries. Server errors (5xx) and
//! unreachable servers are retried with exponential backoff; rate limits
//! (403/429 with `x-ratelimit-remaining: 0` or `retry-after`) are waited out,
//! each wait capped by `MLCI_GITHUB_MAX_WAIT`.

use super::config::GithubConfig;
use super::error::GithubError;
use super::redact::redact;
use http::{HeaderMap, StatusCode};
use octocrab::Octocrab;
use serde_json::Value as Json;
use std::time::Duration;

/// How often a request is tried before giving up.
const ATTEMPTS: u32 = 6;

pub(super) struct Response {
    status: StatusCode,
    pub(super) headers: HeaderMap,
    body: String,
}

impl Response {
    pub(super) fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or(Json::Null)
    }
}

#[derive(Clone, Copy)]
pub(super) enum Method {
    Get,
    Post,
    Patch,
}

/// octocrab with mlci's retries.
pub(super) struct Client {
    octo: Octocrab,
    api_url: String,
    /// The path part of the API URL (`/api/v3` on Enterprise), which octocrab prefixes.
    api_path: String,
    token: Option<String>,
    max_wait: Duration,
}

impl Client {
    pub(super) fn new(config: &GithubConfig) -> Result<Client, GithubError> {
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
    pub(super) async fn request(
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
}
