//! The check run: the verdict, the report as its summary, the annotations.

use super::client::{Client, Method};
use super::error::GithubError;
use super::publication::{Annotation, Publication};
use super::truncate::truncate;
use serde_json::{Value as Json, json};

/// Annotations per check-run request: GitHub's limit.
const ANNOTATION_BATCH: usize = 50;
/// GitHub's limit on a check run's `output.summary`.
const CHECK_SUMMARY_LIMIT: usize = 65_535;

fn annotation_json(annotation: &Annotation, workflow_path: &str) -> Json {
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

/// Creates the completed check run, with the annotations in batches.
pub(super) async fn create_check_run(
    client: &Client,
    repo: &str,
    sha: &str,
    publication: &Publication,
) -> Result<u64, GithubError> {
    let summary = truncate(
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
