//! A job with `environment:`, as GitHub runs one, when mlci publishes to
//! GitHub (`--github`): a GitHub Deployment of the run's commit to the
//! environment when the job starts, with the status `in_progress`, and its
//! last status when the job ends: `success`, or `failure` for a job that
//! failed or was cancelled, with the environment's URL (its `url`, evaluated
//! after the steps, else the URL of the job's `deploy:` step) and the run's
//! log. `environment.deployment: false` makes none, as on GitHub.
//!
//! GitHub is told, never asked: a token that cannot create deployments (403)
//! is one warning for the whole run, and no failure here fails the job.

use crate::executor::Backend;
use crate::github::DeploymentStatus;
use crate::plan::JobResult;
use crate::run::report::JobReport;
use crate::run::shared::Shared;
use crate::run::step::JobScope;
use crate::workflow::Job;
use std::sync::atomic::Ordering;

/// The GitHub Deployment a job instance made.
pub(super) struct JobDeployment {
    id: u64,
    environment: String,
}

/// Creates the job's deployment and marks it `in_progress`; None when the
/// job has no environment, the run does not publish to GitHub, or GitHub
/// refused (said in the job's log).
pub(super) async fn start<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    scope: &JobScope,
    name: &str,
) -> Option<JobDeployment> {
    let github = shared.github_deployments.as_ref()?;
    let environment = job.environment.as_ref()?;
    if github.refused.load(Ordering::SeqCst) {
        return None;
    }
    let wanted = match &environment.deployment {
        None => true,
        Some(flag) => scope.flag(Some(flag)),
    };
    if !wanted {
        return None;
    }
    let environment = match scope.eval_string(&environment.name.value) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        Ok(_) => {
            shared.print(
                name,
                "warning: `environment.name` is empty: no GitHub deployment",
            );
            return None;
        }
        Err(message) => {
            shared.print(
                name,
                &format!(
                    "warning: cannot evaluate `environment.name` ({message}): no GitHub deployment"
                ),
            );
            return None;
        }
    };
    let description = format!(
        "mlci: job {name} of {}",
        crate::run::shared::workflow_name(shared)
    );
    let id = match github
        .api
        .create(&run_commit(shared), &environment, &description)
        .await
    {
        Ok(id) => id,
        Err(error) if error.status() == Some(403) => {
            if !github.refused.swap(true, Ordering::SeqCst) {
                shared.print(
                    name,
                    &format!(
                        "warning: the GitHub token cannot create deployments ({error}); jobs with an `environment` make no GitHub deployment in this run"
                    ),
                );
            }
            return None;
        }
        Err(error) => {
            shared.print(
                name,
                &format!("warning: no GitHub deployment to `{environment}`: {error}"),
            );
            return None;
        }
    };
    shared.print(
        name,
        &format!("GitHub deployment {id} to `{environment}`: in_progress"),
    );
    if let Err(error) = github
        .api
        .set_status(id, DeploymentStatus::InProgress, None, "the job started")
        .await
    {
        shared.print(
            name,
            &format!("warning: GitHub deployment {id}: cannot say it is in progress: {error}"),
        );
    }
    Some(JobDeployment { id, environment })
}

/// The deployment's last status, from how the job ended.
pub(super) async fn finish<B: Backend>(
    shared: &Shared<B>,
    deployment: JobDeployment,
    report: &JobReport,
) {
    let Some(github) = shared.github_deployments.as_ref() else {
        return;
    };
    let (state, description) = match report.result {
        JobResult::Success | JobResult::Skipped => {
            (DeploymentStatus::Success, "the job succeeded".to_string())
        }
        JobResult::Cancelled => (
            DeploymentStatus::Failure,
            "the job was cancelled".to_string(),
        ),
        JobResult::Failure => (
            DeploymentStatus::Failure,
            report
                .error
                .clone()
                .unwrap_or_else(|| "the job failed".to_string()),
        ),
    };
    let url = report.environment_url();
    let JobDeployment { id, environment } = deployment;
    match github.api.set_status(id, state, url, &description).await {
        Ok(()) => shared.print(
            &report.name,
            &format!(
                "GitHub deployment {id} to `{environment}`: {}{}",
                state.as_str(),
                url.map(|u| format!(" ({u})")).unwrap_or_default()
            ),
        ),
        Err(error) => shared.print(
            &report.name,
            &format!(
                "warning: GitHub deployment {id}: cannot set its status to {}: {error}",
                state.as_str()
            ),
        ),
    }
}

/// The commit the run is of, as its record says: the pull request's head,
/// else what git (or `GITHUB_SHA`) says.
pub(super) fn run_commit<B: Backend>(shared: &Shared<B>) -> String {
    shared
        .payload
        .pointer("/pull_request/head/sha")
        .and_then(|v| v.as_str())
        .filter(|sha| !sha.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| shared.info.sha.clone())
}
