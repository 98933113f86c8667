//! Composite actions: their steps run in the job container one after the
//! other, as steps of the calling step.
//!
//! Inside, `inputs` is the action's inputs, `steps` the action's own steps,
//! `github.action_path` its directory; `env` is the calling step's
//! environment plus what earlier steps wrote to `GITHUB_ENV` plus the inner
//! step's `env`. `run` steps get `INPUT_<NAME>` too (GitHub sets those only
//! for Docker and JavaScript actions; here they are a harmless extra).
//! Outputs are the action's `outputs.<name>.value`, evaluated after its
//! steps. Output lines keep the job's prefix.

use super::call::{Call, ResolvedAction, make_call};
use super::job_actions::JobActions;
use crate::executor::Backend;
use crate::expr::{Object, Status, Value};
use crate::run::shell;
use crate::run::step::{
    JobScope, StepCommand, StepCtx, StepExec, StepState, exec_step, step_timeout, step_title,
};
use crate::workflow::{Step, StepAction};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// Runs a `uses:` of an inner step: the dispatcher in `actions/mod.rs`,
/// handed in by it, so that this file does not import the dispatcher that
/// calls it (composite actions recurse through it).
pub(super) type RunNested<B> =
    for<'a> fn(
        &'a StepCtx<'a, B>,
        Call<'a>,
        String,
        &'a JobScope,
        &'a mut StepState,
        &'a mut JobActions,
    ) -> Pin<Box<dyn Future<Output = (&'static str, Object)> + Send + 'a>>;

/// Runs a composite action's steps; the outcome and the action's outputs.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    action: &ResolvedAction,
    steps: &[Step],
    outer: &JobScope,
    state: &mut StepState,
    job_actions: &mut JobActions,
    run_nested: RunNested<B>,
) -> (&'static str, Object) {
    let (shared, name) = (ctx.shared, ctx.name);
    let base = action.scope(outer);
    let mut inner_steps = Object::new();
    let mut failed = false;
    let github_env_before = state.github_env.clone();
    for (i, step) in steps.iter().enumerate() {
        let mut scope = JobScope {
            contexts: base.contexts.clone(),
            status: if failed { Status::Failure } else { base.status },
            workspace: base.workspace.clone(),
        };
        scope
            .contexts
            .insert("steps", Value::Object(inner_steps.clone()));
        // The calling step's env, what this action's steps set in
        // GITHUB_ENV, then the inner step's own env.
        let mut env = call.env.clone();
        for (k, v) in &state.github_env {
            if github_env_before.get(k) != Some(v) {
                env.insert(k.clone(), v.clone());
            }
        }
        scope.contexts.insert("env", env_object(&env));
        for (k, v) in &step.env {
            env.insert(
                k.clone(),
                scope
                    .eval_string(&v.value)
                    .unwrap_or_else(|_| v.value.clone()),
            );
        }
        scope.contexts.insert("env", env_object(&env));
        let title = step_title(&scope, step);
        let key = format!("{}-{i}", call.key);
        let (outcome, outputs) =
            match scope.condition(step.condition.as_ref().map(|c| c.value.as_str())) {
                Ok(false) => {
                    shared.print(name, &format!("  ○ {title} (skipped)"));
                    ("skipped", Object::new())
                }
                Err(message) => {
                    shared.print(
                        name,
                        &format!("  ✗ {title}: cannot evaluate `if`: {message}"),
                    );
                    ("failure", Object::new())
                }
                Ok(true) => {
                    shared.print(name, &format!("  ▶ {title}"));
                    match &step.action {
                        StepAction::Run(script) => {
                            run_script(
                                ctx,
                                call,
                                action,
                                step,
                                &script.value,
                                &key,
                                env,
                                &scope,
                                state,
                            )
                            .await
                        }
                        StepAction::Uses(uses) => {
                            let inner_call = match make_call(
                                ctx,
                                step,
                                &title,
                                key,
                                &uses.value,
                                i + 1,
                                &scope,
                                env,
                                call.depth + 1,
                            ) {
                                Ok(c) => c,
                                Err(message) => {
                                    shared.print(name, &format!("error: {message}"));
                                    failed = true;
                                    continue;
                                }
                            };
                            run_nested(
                                ctx,
                                inner_call,
                                uses.value.clone(),
                                &scope,
                                state,
                                job_actions,
                            )
                            .await
                        }
                    }
                }
            };
        let continue_on_error = scope.continue_on_error(step.continue_on_error.as_ref());
        let conclusion = if outcome == "failure" && continue_on_error {
            "success"
        } else {
            outcome
        };
        if conclusion == "failure" {
            failed = true;
        }
        if let Some(id) = &step.id {
            let mut entry = Object::new();
            entry.insert("outputs", Value::Object(outputs));
            entry.insert("outcome", Value::str(outcome));
            entry.insert("conclusion", Value::str(conclusion));
            inner_steps.insert(id.value.clone(), Value::Object(entry));
        }
    }
    let mut scope = JobScope {
        contexts: base.contexts.clone(),
        status: base.status,
        workspace: base.workspace.clone(),
    };
    scope.contexts.insert("steps", Value::Object(inner_steps));
    let mut outputs = Object::new();
    for (output, value) in &action.manifest.outputs {
        let Some(value) = value else { continue };
        match scope.eval_string(&value.value) {
            Ok(v) => outputs.insert(output.clone(), Value::String(v)),
            Err(message) => {
                let (line, col) = action.manifest.file.line_col(value.span.start);
                shared.print(
                    name,
                    &format!(
                        "error: {}:{line}:{col}: cannot evaluate output `{output}`: {message}",
                        action.manifest.file.path.display()
                    ),
                );
                failed = true;
            }
        }
    }
    (if failed { "failure" } else { "success" }, outputs)
}

fn env_object(env: &BTreeMap<String, String>) -> Value {
    Value::Object(
        env.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
async fn run_script<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    action: &ResolvedAction,
    step: &Step,
    script: &str,
    key: &str,
    env: BTreeMap<String, String>,
    scope: &JobScope,
    state: &mut StepState,
) -> (&'static str, Object) {
    let (shared, name) = (ctx.shared, ctx.name);
    let script = match scope.eval_string(script) {
        Ok(s) => s,
        Err(message) => {
            shared.print(name, &format!("error: cannot evaluate `run`: {message}"));
            return ("failure", Object::new());
        }
    };
    let shell_name = step.shell.as_ref().map(|s| {
        scope
            .eval_string(&s.value)
            .unwrap_or_else(|_| s.value.clone())
    });
    let shell = match shell::resolve(shell_name.as_deref(), ctx.has_bash) {
        Ok(shell) => shell,
        Err(error) => {
            shared.print(name, &format!("error: {error}"));
            return ("failure", Object::new());
        }
    };
    let workdir = step.working_directory.as_ref().map(|d| {
        scope
            .eval_string(&d.value)
            .unwrap_or_else(|_| d.value.clone())
    });
    let mut own = action.input_env();
    own.extend(env);
    own.extend(action.action_env());
    let exec = StepExec {
        key: key.to_string(),
        command: StepCommand::Script {
            text: script,
            shell,
        },
        env: own,
        workdir: ctx.workdir(workdir.as_deref()),
        timeout: step_timeout(scope, step).or_else(|| step_timeout(scope, call.step)),
        action: call.action.clone(),
    };
    let result = exec_step(ctx, state, exec).await;
    (
        if result.succeeded {
            "success"
        } else {
            "failure"
        },
        result.outputs,
    )
}
