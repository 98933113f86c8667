//! Evaluating a `run:` step into what runs in the container: its script,
//! shell, environment, working directory and timeout, and (with the cache
//! on and `inputs` declared) what its cache key is made of.

use super::cache_key::{StepKeyParts, key_parts};
use super::context::{StepState, step_env, workdir_in};
use super::exec::{StepCommand, StepExec};
use super::scope::{JobScope, step_timeout};
use crate::executor::Backend;
use crate::run::defaults;
use crate::run::shared::Shared;
use crate::run::shell;
use crate::workflow::{Job, Step, StepAction};

/// Whether a `uses:` is `actions/checkout` (the workspace already is the
/// repository, so it changes nothing the cache cannot see).
pub(crate) fn is_checkout(uses: &str) -> bool {
    uses.to_ascii_lowercase().starts_with("actions/checkout@")
}

/// A `run:` step ready to execute, and what its cache key is made of when
/// it has `inputs` and the cache is on.
pub(crate) struct PreparedRun {
    pub exec: StepExec,
    pub key_parts: Option<StepKeyParts>,
}

/// Evaluates a `run:` step: its script, shell, environment, working
/// directory and timeout.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare_run<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    step: &Step,
    index: usize,
    scope: &JobScope,
    state: &StepState,
    has_bash: bool,
    workspace: &str,
) -> Result<PreparedRun, String> {
    let StepAction::Run(run) = &step.action else {
        return Err("not a `run:` step".to_string());
    };
    let script = scope
        .eval_string(&run.value)
        .map_err(|message| format!("cannot evaluate `run`: {message}"))?;
    // A called workflow's job has its own workflow's defaults in `job.defaults`;
    // the caller's do not reach it.
    let workflow_defaults = match &job.call {
        Some(_) => None,
        None => Some(&shared.workflow.workflow.defaults),
    };
    let shell_name = step
        .shell
        .as_ref()
        .map(|s| s.value.clone())
        .or_else(|| job.defaults.shell.as_ref().map(|s| s.value.clone()))
        .or_else(|| {
            workflow_defaults
                .and_then(|d| d.shell.as_ref())
                .map(|s| s.value.clone())
        });
    let shell = shell::resolve(shell_name.as_deref(), has_bash).map_err(|e| e.to_string())?;
    let workdir = step
        .working_directory
        .as_ref()
        .or(job.defaults.working_directory.as_ref())
        .or(workflow_defaults.and_then(|d| d.working_directory.as_ref()))
        .map(|d| {
            scope
                .eval_string(&d.value)
                .unwrap_or_else(|_| d.value.clone())
        });
    let shell_key = shell.argv("{0}").join(" ");
    let exec = StepExec {
        key: format!("step_{index}"),
        command: StepCommand::Script {
            text: script.clone(),
            shell,
        },
        env: step_env(shared, job, step, scope, state),
        workdir: workdir_in(workspace, workdir.as_deref()),
        timeout: step_timeout(scope, step),
        action: defaults::action_name(step.id.as_ref().map(|i| i.value.as_str()), None, index),
    };
    let key_parts = if shared.cache.is_some() && step.is_cached() {
        Some(key_parts(shared, step, scope, &exec, script, shell_key)?)
    } else {
        None
    };
    Ok(PreparedRun { exec, key_parts })
}
