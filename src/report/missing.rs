//! A commit without a run to report: what GitHub is shown instead of another
//! commit's results. A failing check (or commit status) on the commit that
//! says so in one sentence, and the pull request's comment rewritten to say
//! the same, so that nothing shows a base branch's green run as the PR's.

use super::error::ReportError;
use super::options::ReportOptions;
use super::output::{Published, write_file};
use crate::github::{GithubConfig, Publication, marker};

/// A workflow that should have had a run for the event's commit and has none.
#[derive(Clone, Debug)]
pub struct MissingRun {
    /// The workflow's name, as its runs are filed (the check is `mlci / <name>`).
    pub workflow: String,
    /// Its file, where known (the check's annotations would point there).
    pub workflow_path: String,
    /// Why there is no run, one clause: "cannot reach the Docker engine at …".
    pub reason: String,
}

impl MissingRun {
    /// The sentence every place shows: "mlci did not record a run for <sha>: <reason>."
    pub fn sentence(&self, sha: &str) -> String {
        let reason = self.reason.trim().trim_end_matches('.');
        format!("mlci did not record a run for {sha}: {reason}.")
    }

    /// The comment and the check's summary: the marker, a headline, the sentence.
    pub fn markdown(&self, sha: &str) -> String {
        format!(
            "{}\n## ❌ mlci · {}: no run recorded for {}\n\n{}\n\nNo results are shown: the results of another commit are never reported as this one's.\n",
            marker(&self.workflow),
            self.workflow,
            short(sha),
            self.sentence(sha),
        )
    }

    /// What GitHub is handed: a failing verdict on `sha`, nothing of any run.
    pub fn publication(&self, sha: &str) -> Publication {
        Publication {
            workflow: self.workflow.clone(),
            workflow_path: self.workflow_path.clone(),
            markdown: self.markdown(sha),
            title: format!("mlci did not record a run for {}", short(sha)),
            passed: false,
            sha: sha.to_string(),
            pr_number: None,
            details_url: None,
            jobs: Vec::new(),
            annotations: Vec::new(),
        }
    }
}

/// The first seven characters of a commit's sha.
pub(super) fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

/// Whether a run of commit `run_sha` may be reported as the event's: it is
/// the head commit (the pull request's head, else `GITHUB_SHA`) or
/// `GITHUB_SHA` itself (a pull request's merge commit, checked out by
/// `actions/checkout`). Outside an event (no commit known) anything goes.
pub fn is_event_commit(run_sha: &str, config: &GithubConfig) -> bool {
    match config.head_sha() {
        None => true,
        Some(head) => run_sha == head || config.sha.as_deref() == Some(run_sha),
    }
}

/// Posts the notice of a missing run: to `--output`, and to GitHub as the
/// options say (a failing check or status on the event's commit, the
/// comment, the job summary). `refused` is set: the caller exits with a failure.
pub async fn publish_missing(
    missing: &MissingRun,
    options: &ReportOptions,
) -> Result<Published, ReportError> {
    let config = if options.github {
        Some(GithubConfig::from_env(options.token.clone())?)
    } else {
        None
    };
    let sha = match &config {
        Some(config) => config.head_sha().ok_or_else(|| {
            ReportError::NotPosted(format!(
                "{} GITHUB_SHA is not set, so nothing was posted",
                missing.sentence("this commit")
            ))
        })?,
        None => std::env::var("GITHUB_SHA")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "this commit".to_string()),
    };
    let mut published = Published {
        refused: true,
        messages: vec![format!("error: {}", missing.sentence(&sha))],
    };
    write_file(&missing.markdown(&sha), options, &mut published)?;
    if let Some(config) = &config {
        let outcome =
            crate::github::publish(config, &missing.publication(&sha), options.mode).await?;
        published.messages.extend(outcome.messages);
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_names_the_commit_and_the_reason() {
        let missing = MissingRun {
            workflow: "train-evaluate".into(),
            workflow_path: "workflows/train-evaluate.yml".into(),
            reason: "cannot reach the Docker engine at unix:///nonexistent.".into(),
        };
        let sha = "1111111111111111111111111111111111111111";
        assert_eq!(
            missing.sentence(sha),
            format!(
                "mlci did not record a run for {sha}: cannot reach the Docker engine at unix:///nonexistent."
            )
        );
        let publication = missing.publication(sha);
        assert!(!publication.passed);
        assert_eq!(publication.sha, sha);
        assert!(
            publication
                .markdown
                .starts_with("<!-- mlci:report workflow=train-evaluate -->\n")
        );
        assert_eq!(publication.title, "mlci did not record a run for 1111111");
    }
}
