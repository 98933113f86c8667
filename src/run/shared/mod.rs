//! The run-wide state that every layer of a run reads: the backend, the
//! options, the workflow, the repository snapshot, the masker and the
//! console, and the run's resources (step cache, actions' directories,
//! finished jobs, concurrency groups). It sits below the engine, the job
//! runner, actions, the step cache and the step executor, and imports none
//! of them.

mod action_dirs;
mod ahead;
mod concurrency;
mod needs;
mod options;
mod run_cache;

pub(crate) use action_dirs::RunActions;
pub(crate) use ahead::{Ahead, StartedAhead};
pub(crate) use concurrency::ConcurrencyGroups;
pub(crate) use needs::FinishedJobs;
pub use options::{RunOptions, RunStoreRow, new_run_id};
pub use run_cache::{CacheConfig, RunCache};

use super::github::GitInfo;
use super::mask::Masker;
use super::output::Console;
use super::report::JobReport;
use crate::executor::Backend;
use crate::expr::Object;
use crate::plan::{JobResult, PlanInputs};
use crate::workflow::LoadedWorkflow;
use std::path::PathBuf;

/// State shared by every job of a run.
pub(crate) struct Shared<B: Backend> {
    pub backend: B,
    pub options: RunOptions,
    pub workflow: LoadedWorkflow,
    pub info: GitInfo,
    /// The event payload (`github.event`).
    pub payload: serde_json::Value,
    /// The `inputs` context.
    pub inputs: Object,
    pub run_id: String,
    pub run_number: u64,
    pub snapshot: PathBuf,
    pub masker: Masker,
    pub console: Console,
    /// Per job id: aggregated result and outputs, for the `needs` context.
    pub finished: FinishedJobs,
    /// For matrices that read `needs`, expanded when their job starts.
    pub plan_inputs: PlanInputs,
    pub concurrency: ConcurrencyGroups,
    /// The run's artifacts and the action cache.
    pub actions: RunActions,
    pub cache: Option<RunCache>,
    /// Job containers being removed in the background: a job is done when
    /// its outputs are saved, and the jobs after it need not wait for the
    /// engine to remove its container. The caller of the run waits for them
    /// at its end, or hands them on (`RunCleanup`).
    pub teardowns: std::sync::Mutex<Vec<Teardown>>,
    /// Containers of jobs started while the jobs they need run.
    pub ahead: Ahead<B::Env>,
    /// The run's own handle, for the tasks that start containers ahead.
    pub me: std::sync::Weak<Shared<B>>,
    /// GitHub's deployments, when the run publishes to GitHub and a job has
    /// an `environment`.
    pub github_deployments: Option<GithubDeployments>,
}

/// GitHub's deployments API for the run's jobs with an `environment`.
pub(crate) struct GithubDeployments {
    pub api: crate::github::Deployments,
    /// Set once GitHub refused to create one (a token without the
    /// permission): said once, and no job asks again.
    pub refused: std::sync::atomic::AtomicBool,
}

/// A job environment's removal, going on in the background.
pub(crate) struct Teardown {
    /// The job instance, for the warning when removal fails.
    pub job: String,
    pub task: tokio::task::JoinHandle<Result<(), String>>,
}

/// The workflow's `name`, else its file's path.
pub(crate) fn workflow_name<B: Backend>(shared: &Shared<B>) -> &str {
    match &shared.workflow.workflow.name {
        Some(name) => &name.value,
        None => shared.workflow.file.path.to_str().unwrap_or("workflow"),
    }
}

impl<B: Backend> Shared<B> {
    /// Removes a job's environment in the background; `keep` (the job's
    /// host directory) is dropped once the environment is gone.
    pub fn tear_down<K: Send + 'static>(&self, job: &str, env: B::Env, keep: K) {
        use crate::executor::JobEnv;
        let task = tokio::spawn(async move {
            let removed = env.remove().await.map_err(|e| e.to_string());
            drop(keep);
            removed
        });
        self.teardowns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Teardown {
                job: job.to_string(),
                task,
            });
    }

    /// Waits for the containers still being started ahead that no job took,
    /// and starts their removal: after this, every container of the run exists.
    pub async fn settle_ahead(&self) {
        for start in self.ahead.drain() {
            if let Ok(Some(started)) = start.await {
                self.tear_down("ahead", started.env, started.job_dir);
            }
        }
    }

    /// Waits for every job environment still being removed, after removing
    /// those started ahead that no job took.
    pub async fn finish_teardowns(&self) {
        self.settle_ahead().await;
        let pending =
            std::mem::take(&mut *self.teardowns.lock().unwrap_or_else(|e| e.into_inner()));
        for teardown in pending {
            match teardown.task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => self.print(&teardown.job, &format!("warning: cleanup: {error}")),
                Err(error) => self.print(&teardown.job, &format!("warning: cleanup: {error}")),
            }
        }
    }

    /// A job that failed before or while it started; with job-level
    /// `continue-on-error` the run goes on as if it succeeded.
    pub fn fail_job(
        &self,
        keep_going: bool,
        report: JobReport,
        name: &str,
        message: String,
    ) -> JobReport {
        let mut report = self.fail(report, name, message);
        if keep_going {
            self.print(name, "failed, but `continue-on-error` lets the run go on");
            report.result = JobResult::Success;
        }
        report
    }

    /// One log line, prefixed with the job instance, secrets masked.
    pub fn print(&self, job: &str, line: &str) {
        self.console.line(job, line);
    }

    /// A job that failed: the error is printed and kept (masked) in its report.
    pub fn fail(&self, mut report: JobReport, name: &str, message: String) -> JobReport {
        self.print(name, &format!("error: {message}"));
        report.result = JobResult::Failure;
        report.error = Some(self.masker.mask(&message));
        report
    }
}
