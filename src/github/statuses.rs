//! Commit statuses: the fallback where the token cannot create check runs.

use super::client::{Client, Method};
use super::error::GithubError;
use super::publication::Publication;
use serde_json::json;

fn status_description(text: &str) -> String {
    // GitHub cuts descriptions at 140 characters.
    let mut out: String = text.chars().take(140).collect();
    if text.chars().count() > 140 {
        out = out.chars().take(139).collect();
        out.push('…');
    }
    out
}

/// One commit status for the workflow and one per job, for tokens that cannot create check runs.
pub(super) async fn post_statuses(
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
