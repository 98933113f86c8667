//! The pull-request comment: found again by its hidden marker, updated in place.

use super::client::{Client, Method, next_link};
use super::error::GithubError;
use super::publication::Publication;
use serde_json::{Value as Json, json};

/// The hidden first line that finds a workflow's comment again.
pub fn marker(workflow: &str) -> String {
    let name: String = workflow
        .chars()
        .map(|c| if c == '>' || c == '\n' { '_' } else { c })
        .collect::<String>()
        .replace("--", "-");
    format!("<!-- mlci:report workflow={name} -->")
}

/// The open pull request of a commit, if any.
pub(super) async fn pr_for_commit(
    client: &Client,
    repo: &str,
    sha: &str,
) -> Result<Option<u64>, GithubError> {
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

/// Posts the report comment, or updates the one that carries its marker.
pub(super) async fn upsert_comment(
    client: &Client,
    repo: &str,
    pr: u64,
    publication: &Publication,
) -> Result<(u64, String), GithubError> {
    let marker = marker(&publication.workflow);
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
