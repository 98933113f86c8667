//! Running one command in a job's container: "run this script or program
//! with this env and working directory, and collect its outputs, env and
//! path" — what `run:` steps, composite steps and JavaScript actions share.

use super::context::{
    FILE_ENV, FILE_OUTPUT, FILE_PATH, FILE_STATE, FILE_SUMMARY, StepCtx, StepState, TEMP,
};
use crate::executor::{Backend, ExecOutcome, ExecRequest, FileToWrite, JobEnv, StreamKind};
use crate::expr::{Object, Value};
use crate::run::file_commands;
use crate::run::shell;
use std::collections::BTreeMap;
use std::time::Duration;

/// GitHub's limit on one step's summary.
const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// What runs in the job container for a step.
pub(crate) enum StepCommand {
    /// A script for a shell (`run:`).
    Script {
        text: String,
        shell: shell::ShellCommand,
    },
    /// A program and its arguments (a JavaScript action's `node main.js`).
    Program(Vec<String>),
}

/// "Run this in the job container with this env and working directory, and
/// collect its outputs, env and path": what `run:` steps, composite steps
/// and JavaScript actions share.
pub(crate) struct StepExec {
    /// Unique within the job: names the step's script and files.
    pub key: String,
    pub command: StepCommand,
    /// The step's own environment (workflow, job, `GITHUB_ENV`, step `env`,
    /// and for actions `INPUT_*`), on top of the default variables.
    pub env: BTreeMap<String, String>,
    pub workdir: String,
    pub timeout: Option<Duration>,
    /// `GITHUB_ACTION`.
    pub action: String,
}

/// How a [`StepExec`] ended.
pub(crate) struct StepExecResult {
    pub succeeded: bool,
    /// `GITHUB_OUTPUT` and `::set-output`.
    pub outputs: Object,
    /// `GITHUB_STATE` (for a JavaScript action's `post`).
    pub saved_state: Vec<(String, String)>,
}

impl StepExecResult {
    pub fn failed() -> Self {
        StepExecResult {
            succeeded: false,
            outputs: Object::new(),
            saved_state: Vec::new(),
        }
    }
}

/// Runs a script or a program in the job container and collects its
/// outputs, `GITHUB_ENV`, `GITHUB_PATH`, summary and `GITHUB_STATE`.
pub(crate) async fn exec_step<B: Backend>(
    ctx: &StepCtx<'_, B>,
    state: &mut StepState,
    exec: StepExec,
) -> StepExecResult {
    let (shared, name, env) = (ctx.shared, ctx.name, ctx.env);
    let mut extra = Vec::new();
    let argv = match &exec.command {
        StepCommand::Script { text, shell } => {
            let script_path = format!("{TEMP}/{}", shell.script_file_name(&exec.key));
            extra.push(FileToWrite {
                path: script_path.clone(),
                contents: shell::script_body(text, shell).into_bytes(),
                mode: 0o755,
            });
            shell.argv(&script_path)
        }
        StepCommand::Program(argv) => argv.clone(),
    };
    let variables = match ctx
        .prepare_env(state, &exec.key, &exec.action, exec.env, extra)
        .await
    {
        Ok(variables) => variables,
        Err(error) => {
            shared.print(name, &format!("error: {error}"));
            return StepExecResult::failed();
        }
    };
    let request = ExecRequest {
        argv,
        env: variables,
        workdir: exec.workdir,
        user: None,
        timeout: exec.timeout,
    };
    let mut sink = ctx.step_output();
    let outcome = {
        let mut on_output = |_kind: StreamKind, bytes: &[u8]| sink.push(bytes);
        env.exec(&request, ctx.cancel, &mut on_output).await
    };
    // Why the step failed, for the job's `error` (`--json`, the run store).
    let reason = match &outcome {
        Ok(ExecOutcome::Exited(0)) => "failed: a workflow command failed it".to_string(),
        Ok(ExecOutcome::Exited(code)) => format!("exited with code {code}"),
        Ok(ExecOutcome::TimedOut) => "ran past its timeout-minutes".to_string(),
        Ok(ExecOutcome::Cancelled) => "was cancelled".to_string(),
        Err(error) => format!("failed: {error}"),
    };
    let (succeeded, mut outputs, mut saved_state) = sink.finish(outcome);
    if !succeeded {
        state
            .current
            .failure
            .get_or_insert(shared.masker.mask(&reason));
    }
    // Step files: outputs, environment and PATH for the steps after this one.
    saved_state.extend(ctx.collect_files(&exec.key, state, &mut outputs).await);
    StepExecResult {
        succeeded,
        outputs,
        saved_state,
    }
}

impl<B: Backend> StepCtx<'_, B> {
    /// Reads back a step's files: outputs into `outputs`, `GITHUB_ENV`,
    /// `GITHUB_PATH` and the summary into `state`; returns what
    /// `GITHUB_STATE` saved.
    pub async fn collect_files(
        &self,
        key: &str,
        state: &mut StepState,
        outputs: &mut Object,
    ) -> Vec<(String, String)> {
        let (shared, name) = (self.shared, self.name);
        let files = match self.env.read_dir_files(&Self::commands_dir(key)).await {
            Ok(files) => files,
            Err(error) => {
                shared.print(name, &format!("error: {error}"));
                BTreeMap::new()
            }
        };
        if let Some(bytes) = files.get(FILE_OUTPUT) {
            match file_commands::parse_key_values(&String::from_utf8_lossy(bytes)) {
                Ok(pairs) => {
                    for (k, v) in pairs {
                        outputs.insert(k, Value::String(v));
                    }
                }
                Err(error) => shared.print(name, &format!("error: GITHUB_OUTPUT: {error}")),
            }
        }
        if let Some(bytes) = files.get(FILE_ENV) {
            match file_commands::parse_key_values(&String::from_utf8_lossy(bytes)) {
                Ok(pairs) => state.github_env.extend(pairs),
                Err(error) => shared.print(name, &format!("error: GITHUB_ENV: {error}")),
            }
        }
        if let Some(bytes) = files.get(FILE_PATH) {
            state
                .github_path
                .extend(file_commands::parse_path_file(&String::from_utf8_lossy(
                    bytes,
                )));
        }
        if let Some(bytes) = files.get(FILE_SUMMARY).filter(|b| !b.is_empty()) {
            if bytes.len() > STEP_SUMMARY_LIMIT {
                // GitHub refuses summaries over 1 MiB and shows an error instead.
                shared.print(
                    name,
                    "warning: GITHUB_STEP_SUMMARY is over 1 MiB and was not kept",
                );
            } else {
                let text = shared.masker.mask(&String::from_utf8_lossy(bytes));
                state.summary.push_str(&text);
                if !text.ends_with('\n') {
                    state.summary.push('\n');
                }
            }
        }
        let mut saved = Vec::new();
        if let Some(bytes) = files.get(FILE_STATE) {
            match file_commands::parse_key_values(&String::from_utf8_lossy(bytes)) {
                Ok(pairs) => saved = pairs,
                Err(error) => shared.print(name, &format!("error: GITHUB_STATE: {error}")),
            }
        }
        saved
    }
}
