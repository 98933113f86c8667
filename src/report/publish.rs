//! Handing a made report on: to a file, and to the GitHub publisher as a
//! plain [`Publication`] (the publisher knows nothing of reports).

use super::contents::Report;
use super::error::ReportError;
use super::options::ReportOptions;
use crate::github::{Annotation, GithubConfig, Publication};
use crate::record::{AnnotationRecord, RunResult};

/// What [`publish`] did.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// One sentence per thing worth saying (where the report went, what was refused).
    pub messages: Vec<String>,
}

/// Writes the report where the options say: the file, and GitHub.
pub async fn publish(report: &Report, options: &ReportOptions) -> Result<Published, ReportError> {
    let markdown = report.markdown();
    let mut published = Published::default();
    if let Some(path) = &options.output {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(path, &markdown).map_err(|source| ReportError::Write {
            path: path.display().to_string(),
            source,
        })?;
        published
            .messages
            .push(format!("report written to {}", path.display()));
    }
    if options.github {
        let config = GithubConfig::from_env(options.token.clone())?;
        let publication = publication(report, &markdown);
        let outcome = crate::github::publish(&config, &publication, options.mode).await?;
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
