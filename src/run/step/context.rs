//! What a step runs with: its job's context ([`StepCtx`]), what the job's
//! steps have built up so far ([`StepState`]), and the environment of a
//! step — GitHub's precedence of `env` maps and the default variables,
//! with the step's file-command files created empty before it runs.

use super::scope::JobScope;
use crate::executor::{Backend, FileToWrite, JobEnv};
use crate::expr::Object;
use crate::run::defaults;
use crate::run::report::StepReport;
use crate::run::shared::{Shared, workflow_name};
use crate::timings::PhaseTimes;
use crate::workflow::{Job, Step};
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// The job container's temporary directory (`RUNNER_TEMP`).
pub(crate) const TEMP: &str = "/__w/_temp";
/// Where the event payload is in the job container (`GITHUB_EVENT_PATH`).
pub(crate) const EVENT_PATH: &str = "/github/workflow/event.json";
// The file-command files of a step, in its commands directory.
pub(super) const FILE_OUTPUT: &str = "set_output";
pub(super) const FILE_ENV: &str = "set_env";
pub(super) const FILE_PATH: &str = "add_path";
pub(super) const FILE_SUMMARY: &str = "step_summary";
pub(super) const FILE_STATE: &str = "save_state";

/// What the steps of a job have built up so far.
pub(crate) struct StepState {
    pub github_env: BTreeMap<String, String>,
    pub github_path: Vec<String>,
    /// The `steps` context: each step with an `id`, its outputs and outcome.
    pub steps: Object,
    pub failed: bool,
    /// The job summary so far: every step's `GITHUB_STEP_SUMMARY`, in order.
    pub summary: String,
    /// The step cache's view of the workspace, when the cache is on.
    pub cache: Option<JobCacheState>,
    /// What the step being run adds to its report (cache key, metrics…).
    pub current: StepReport,
    /// What the step cache spent so far: hashing, restores, copy-out, saves.
    pub phases: PhaseTimes,
}

/// What the cache knows of a job's workspace.
pub(crate) struct JobCacheState {
    /// The outputs of cached steps so far (and of the jobs this one needs),
    /// to lay over the repository snapshot when hashing inputs.
    pub overlay: crate::cache::Tree,
    pub image_digest: String,
    /// A step without `inputs` ran: it may have changed any file, so inputs
    /// are read from the container from now on.
    pub dirty: bool,
}

impl StepState {
    /// The state before a job's first step.
    pub fn new(cache: Option<JobCacheState>) -> StepState {
        StepState {
            github_env: BTreeMap::new(),
            github_path: Vec::new(),
            steps: Object::new(),
            failed: false,
            summary: String::new(),
            cache,
            current: StepReport::default(),
            phases: PhaseTimes::default(),
        }
    }
}

/// The environment of a step, by GitHub's precedence: workflow `env`, then
/// job `env`, then what earlier steps wrote to `GITHUB_ENV`, then step `env`.
pub(crate) fn step_env<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    step: &Step,
    scope: &JobScope,
    state: &StepState,
) -> BTreeMap<String, String> {
    let mut env = shared.options.env.clone();
    // A called workflow's job has its own workflow's `env` in `job.env`.
    let workflow_env = match &job.call {
        Some(_) => None,
        None => Some(&shared.workflow.workflow.env),
    };
    for map in workflow_env.into_iter().chain([&job.env]) {
        for (k, v) in map {
            env.insert(
                k.clone(),
                scope
                    .eval_string(&v.value)
                    .unwrap_or_else(|_| v.value.clone()),
            );
        }
    }
    env.extend(state.github_env.clone());
    for (k, v) in &step.env {
        env.insert(
            k.clone(),
            scope
                .eval_string(&v.value)
                .unwrap_or_else(|_| v.value.clone()),
        );
    }
    env
}

/// What one step (or one step of a composite action) needs from its job.
pub(crate) struct StepCtx<'a, B: Backend> {
    pub shared: &'a Shared<B>,
    pub job: &'a Job,
    pub env: &'a B::Env,
    /// The job instance's name: the prefix of every output line.
    pub name: &'a str,
    /// The workspace inside the container.
    pub workspace: &'a str,
    pub has_bash: bool,
    pub cancel: &'a CancellationToken,
}

/// A working directory: relative ones are inside the workspace.
pub(crate) fn workdir_in(workspace: &str, dir: Option<&str>) -> String {
    match dir {
        Some(d) if d.starts_with('/') => d.to_string(),
        Some(d) => format!("{workspace}/{d}"),
        None => workspace.to_string(),
    }
}

impl<B: Backend> StepCtx<'_, B> {
    /// A working directory: relative ones are inside the workspace.
    pub fn workdir(&self, dir: Option<&str>) -> String {
        workdir_in(self.workspace, dir)
    }

    /// The directory of a step's file commands: one download reads them all
    /// back after the step.
    pub(super) fn commands_dir(key: &str) -> String {
        format!("{TEMP}/_runner_file_commands/{key}")
    }

    /// The full environment of a step: the default variables (`CI`,
    /// `GITHUB_*`, `RUNNER_*`), the step's own, and the directories earlier
    /// steps added to `GITHUB_PATH`. Creates the step's files empty, and
    /// writes `extra` files in the same round trip.
    pub async fn prepare_env(
        &self,
        state: &StepState,
        key: &str,
        action: &str,
        own: BTreeMap<String, String>,
        extra: Vec<FileToWrite>,
    ) -> Result<BTreeMap<String, String>, String> {
        let shared = self.shared;
        let commands_dir = Self::commands_dir(key);
        let files = defaults::FileCommandPaths {
            output: format!("{commands_dir}/{FILE_OUTPUT}"),
            env: format!("{commands_dir}/{FILE_ENV}"),
            path: format!("{commands_dir}/{FILE_PATH}"),
            step_summary: format!("{commands_dir}/{FILE_SUMMARY}"),
            state: format!("{commands_dir}/{FILE_STATE}"),
        };
        let mut uploads: Vec<FileToWrite> = [
            &files.output,
            &files.env,
            &files.path,
            &files.step_summary,
            &files.state,
        ]
        .into_iter()
        .map(|path| FileToWrite {
            path: path.clone(),
            contents: Vec::new(),
            mode: 0o666,
        })
        .collect();
        uploads.extend(extra);
        self.env
            .write_files(uploads)
            .await
            .map_err(|e| e.to_string())?;
        let mut variables = defaults::default_env(&defaults::DefaultEnvInput {
            workflow: workflow_name(shared).to_string(),
            workflow_ref: None,
            workflow_sha: None,
            run_id: shared.run_number,
            run_number: shared.run_number,
            run_attempt: 1,
            job: self.job.id.value.clone(),
            action: action.to_string(),
            actor: shared.info.actor.clone(),
            triggering_actor: None,
            repository: shared.info.repository.clone(),
            event_name: shared.options.event.clone(),
            event_path: EVENT_PATH.to_string(),
            workspace: self.workspace.to_string(),
            sha: shared.info.sha.clone(),
            git_ref: shared.info.git_ref.clone(),
            head_ref: None,
            base_ref: None,
            server_url: "https://github.com".to_string(),
            files,
            runner_arch: defaults::runner_arch(std::env::consts::ARCH).to_string(),
            runner_name: "mlci".to_string(),
            runner_temp: TEMP.to_string(),
            runner_tool_cache: "/__t".to_string(),
            runner_environment: "self-hosted".to_string(),
            debug: false,
            home: Some("/github/home".to_string()),
            retention_days: None,
        });
        variables.extend(own);
        if !state.github_path.is_empty() {
            let base = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
            let mut paths: Vec<String> = state.github_path.iter().rev().cloned().collect();
            paths.push(
                variables
                    .get("PATH")
                    .cloned()
                    .unwrap_or_else(|| base.to_string()),
            );
            variables.insert("PATH".to_string(), paths.join(":"));
        }
        Ok(variables)
    }
}
