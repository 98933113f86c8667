//! Handing a made report on: to a file, and to the GitHub publisher as a
//! plain [`Publication`] (the publisher knows nothing of reports).

use super::contents::Report;
use super::error::ReportError;
use super::missing::{MissingRun, is_event_commit, publish_missing, short};
use super::options::ReportOptions;
use super::output::{Published, write_file};
use crate::github::{Annotation, GithubConfig, Publication};
use crate::record::{AnnotationRecord, RunResult};

/// Writes the report where the options say: the file, and GitHub. A run of
/// another commit than the event's is refused: the event's commit gets a
/// failing notice instead ([`publish_missing`]), the file says the same.
pub async fn publish(report: &Report, options: &ReportOptions) -> Result<Published, ReportError> {
    let config = if options.github {
        Some(GithubConfig::from_env(options.token.clone())?)
    } else {
        None
    };
    let record = &report.run.record;
    if let Some(config) = &config
        && !is_event_commit(&record.sha, config)
    {
        let missing = MissingRun {
            workflow: record.workflow.clone(),
            workflow_path: record.workflow_path.clone(),
            reason: format!(
                "the run to report, #{}, is of commit {}{}, not of this one",
                report.run.id,
                short(&record.sha),
                record
                    .branch
                    .as_deref()
                    .map(|b| format!(" on {b}"))
                    .unwrap_or_default()
            ),
        };
        return publish_missing(&missing, options).await;
    }
    let markdown = report.markdown();
    let mut published = Published::default();
    write_file(&markdown, options, &mut published)?;
    if let Some(config) = &config {
        let publication = publication(report, &markdown);
        let outcome = crate::github::publish(config, &publication, options.mode).await?;
        published.messages.extend(outcome.messages);
    }
    Ok(published)
}

/// What GitHub is to show of a report whose Markdown is `markdown`: the
/// headline as the check's title, passed only when the gates passed and no job failed.
pub fn publication(report: &Report, markdown: &str) -> Publication {
    let record = &report.run.record;
    let failed_jobs = record
        .jobs
        .iter()
        .any(|j| j.result == "failure" || j.result == "cancelled");
    let passed = report.gates.passed() && record.result == RunResult::Success && !failed_jobs;
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
            .flat_map(|j| j.annotations.iter().map(annotation))
            .collect(),
    }
}

/// A recorded annotation as the check run shows it.
fn annotation(record: &AnnotationRecord) -> Annotation {
    Annotation {
        level: record.level.clone(),
        message: record.message.clone(),
        file: record.file.clone(),
        line: record.line,
        end_line: record.end_line,
        title: record.title.clone(),
    }
}
