//! The steps of one job instance, in order: each step's `env` and `steps`
//! contexts and its `if`, then dispatch — a `deploy:` step to
//! [`super::deploy`], a `uses:` step to [`actions`], a `run:` step with
//! `inputs` to the step cache ([`cached`]), any other `run:` step straight
//! to the step executor — and at the end the `post` steps that actions
//! registered.

use crate::executor::{Backend, JobEnv};
use crate::expr::{Object, Status, Value};
use crate::plan::JobResult;
use crate::run::actions::{self, JobActions};
use crate::run::cached;
use crate::run::report::StepReport;
use crate::run::shared::Shared;
use crate::run::step::{
    JobCacheState, JobScope, StepCtx, StepState, exec_step, is_checkout, prepare_run, step_env,
    step_title,
};
use crate::timings::{Phase, PhaseTimes};
use crate::workflow::{Job, Step, StepAction};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// How a job's steps went.
pub(super) struct StepsOutcome {
    pub result: JobResult,
    /// What the steps wrote to `GITHUB_STEP_SUMMARY`.
    pub summary: String,
    pub reports: Vec<StepReport>,
    /// The steps' commands, and what the cache spent around them.
    pub phases: PhaseTimes,
}

/// Runs a job's steps in its container: the job's result, its summary, the
/// report of every step and where the time went.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_steps<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    env: &B::Env,
    scope: &mut JobScope,
    name: &str,
    workspace: &str,
    has_bash: bool,
    job_cache: Option<JobCacheState>,
    cancel: &CancellationToken,
) -> StepsOutcome {
    let started = Instant::now();
    let mut state = StepState::new(job_cache);
    // Actions copied into the container, `post` steps to run at the end.
    let mut job_actions = JobActions::default();
    let mut reports = Vec::new();

    for (index, step) in job.steps.iter().enumerate() {
        let cancelled = cancel.is_cancelled();
        scope.status = if cancelled {
            Status::Cancelled
        } else if state.failed {
            Status::Failure
        } else {
            Status::Success
        };
        let mut env_context = Object::new();
        for (k, v) in step_env(shared, job, step, scope, &state) {
            env_context.insert(k, Value::String(v));
        }
        scope.contexts.insert("env", Value::Object(env_context));
        scope
            .contexts
            .insert("steps", Value::Object(state.steps.clone()));
        let title = step_title(scope, step);
        let step_started = Instant::now();
        state.current = StepReport::default();
        let should_run = scope.condition(step.condition.as_ref().map(|c| c.value.as_str()));
        let (outcome, outputs) = match should_run {
            Ok(false) => {
                shared.print(name, &format!("○ {title} (skipped)"));
                ("skipped", Object::new())
            }
            Err(message) => {
                shared.print(name, &format!("✗ {title}: cannot evaluate `if`: {message}"));
                ("failure", Object::new())
            }
            Ok(true) => {
                shared.print(name, &format!("▶ {title}"));
                shared.console.status(name, &title);
                // Steps that run because of always()/cancelled() after a
                // Ctrl-C must not be cancelled by the same token.
                let step_cancel = if cancelled {
                    CancellationToken::new()
                } else {
                    cancel.child_token()
                };
                let ctx = StepCtx {
                    shared,
                    job,
                    env,
                    name,
                    workspace,
                    has_bash,
                    cancel: &step_cancel,
                };
                let (outcome, outputs) =
                    run_step(&ctx, step, index, scope, &mut state, &mut job_actions).await;
                if outcome == "success"
                    && !super::mlops::after_step(&ctx, step, scope, &mut state.current).await
                {
                    ("failure", outputs)
                } else {
                    (outcome, outputs)
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
            state.failed = true;
            if let Some(Value::Object(job_context)) = scope.contexts.get_mut("job") {
                job_context.insert("status", Value::str("failure"));
            }
        }
        let mut report = std::mem::take(&mut state.current);
        if outcome != "skipped" && report.metrics.is_empty() && !step.metrics.is_empty() {
            report.metrics = read_metrics(env, scope, step, workspace).await;
        }
        reports.push(StepReport {
            index,
            id: step.id.as_ref().map(|i| i.value.clone()),
            name: title.clone(),
            outcome: outcome.to_string(),
            conclusion: conclusion.to_string(),
            duration: step_started.elapsed(),
            ..report
        });
        if let Some(id) = &step.id {
            let mut entry = Object::new();
            entry.insert("outputs", Value::Object(outputs));
            entry.insert("outcome", Value::str(outcome));
            entry.insert("conclusion", Value::str(conclusion));
            state.steps.insert(id.value.clone(), Value::Object(entry));
        }
    }
    if !job_actions.posts.is_empty() || !job_actions.cache_saves.is_empty() {
        // Post steps of actions, as `always()` steps: not cancelled by the
        // token that cancelled the job.
        scope.status = if cancel.is_cancelled() {
            Status::Cancelled
        } else if state.failed {
            Status::Failure
        } else {
            Status::Success
        };
        let post_cancel = CancellationToken::new();
        let ctx = StepCtx {
            shared,
            job,
            env,
            name,
            workspace,
            has_bash,
            cancel: &post_cancel,
        };
        actions::run_posts(&ctx, scope, &mut state, &mut job_actions).await;
    }
    scope
        .contexts
        .insert("steps", Value::Object(state.steps.clone()));
    let result = if cancel.is_cancelled() {
        JobResult::Cancelled
    } else if state.failed {
        JobResult::Failure
    } else {
        JobResult::Success
    };
    // What the cache phases did not take was the steps' own work.
    let mut phases = std::mem::take(&mut state.phases);
    phases.add(
        Phase::Steps,
        started.elapsed().saturating_sub(phases.total()),
    );
    StepsOutcome {
        result,
        summary: state.summary,
        reports,
        phases,
    }
}

/// A step's `metrics:` files, read from the job container after it ran.
async fn read_metrics<E: JobEnv>(
    env: &E,
    scope: &JobScope,
    step: &Step,
    workspace: &str,
) -> Vec<(String, Vec<u8>)> {
    let mut metrics = Vec::new();
    for path in &step.metrics {
        let path = scope
            .eval_string(&path.value)
            .unwrap_or_else(|_| path.value.clone());
        // As written, the path was checked when the workflow was read; an
        // expression's value that leaves the workspace is not read.
        let relative = path.trim_start_matches("./");
        if crate::confine::check_relative(relative, "the workspace").is_err() {
            continue;
        }
        let full = format!("{workspace}/{relative}");
        if let Ok(Some(bytes)) = env.read_file(&full).await {
            metrics.push((path, bytes));
        }
    }
    metrics
}

async fn run_step<B: Backend>(
    ctx: &StepCtx<'_, B>,
    step: &Step,
    index: usize,
    scope: &JobScope,
    state: &mut StepState,
    job_actions: &mut JobActions,
) -> (&'static str, Object) {
    let (shared, name) = (ctx.shared, ctx.name);
    if let Some(deploy) = &step.deploy {
        return super::deploy::run(ctx, deploy, scope, &mut state.current).await;
    }
    // `validate` and `register` alone: mlci's own work, after the step.
    if step.is_native() {
        return ("success", Object::new());
    }
    if let StepAction::Uses(action) = &step.action {
        // Any action but checkout may change files the cache cannot see.
        if !is_checkout(&action.value)
            && let Some(cache) = state.cache.as_mut()
        {
            cache.dirty = true;
        }
        return actions::run_uses(ctx, step, &action.value, index, scope, state, job_actions).await;
    }
    let prepared = match prepare_run(
        shared,
        ctx.job,
        step,
        index,
        scope,
        state,
        ctx.has_bash,
        ctx.workspace,
    ) {
        Ok(prepared) => prepared,
        Err(message) => {
            shared.print(name, &format!("error: {message}"));
            return ("failure", Object::new());
        }
    };
    if let Some(parts) = prepared.key_parts.filter(|_| state.cache.is_some()) {
        return cached::run_cached_step(ctx, step, scope, state, prepared.exec, parts).await;
    }
    if let Some(cache) = state.cache.as_mut() {
        cache.dirty = true;
    }
    let result = exec_step(ctx, state, prepared.exec).await;
    let outcome = if result.succeeded {
        "success"
    } else {
        "failure"
    };
    (outcome, result.outputs)
}
