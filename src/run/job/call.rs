//! The jobs of reusable workflows in a run: a called job's `inputs` and
//! `secrets` (from its call, evaluated in the caller's scope when it starts,
//! after the caller's `if`), and the calling job itself, which runs nothing:
//! it gathers its called jobs' result and its workflow's `outputs`.

use crate::executor::Backend;
use crate::expr::{self, EvalContext, Object, Status, Value};
use crate::plan::{CallerScope, JobResult, PlanInputs, PlannedJob};
use crate::run::report::JobReport;
use crate::run::shared::Shared;
use crate::run::step::JobScope;
use crate::workflow::{CallFrame, CalledJobs};
use std::time::Instant;

/// The `inputs` and secrets of a called job; None when a caller's `if`
/// (or its needs) says the call does not run.
pub(super) fn frame_values<B: Backend>(
    shared: &Shared<B>,
    frame: &CallFrame,
    scope: &JobScope,
) -> Result<Option<crate::plan::call_scope::CallValues>, String> {
    let github = match scope.contexts.get("github") {
        Some(Value::Object(github)) => github.clone(),
        _ => Object::new(),
    };
    let vars = super::to_object(&shared.options.vars);
    let needs = |jobs: &[(String, String)]| Some(shared.finished.needs_context_of(jobs));
    let caller = CallerScope {
        github: &github,
        vars: &vars,
        inputs: &shared.inputs,
        pending: &shared.plan_inputs.pending,
        secrets: &shared.options.secrets,
        needs: &needs,
    };
    caller.evaluate(frame)
}

/// What a called job whose matrix was deferred is planned with when it
/// starts: its call's `inputs`, now that the caller's `needs` are known.
/// None when the call does not run (the job is skipped, unexpanded).
pub(crate) fn call_plan_inputs<B: Backend>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    frame: &CallFrame,
) -> Result<Option<PlanInputs>, String> {
    let job = shared
        .workflow
        .workflow
        .job(&planned.id)
        .ok_or_else(|| format!("no job `{}`", planned.id))?;
    let (scope, _) = super::contexts::instance_scope(shared, planned, job, 0);
    Ok(
        frame_values(shared, frame, &scope)?.map(|(inputs, _)| PlanInputs {
            inputs,
            pending: Default::default(),
            ..shared.plan_inputs.clone()
        }),
    )
}

/// A called job's scope: its call's `inputs` and `secrets` in place of the
/// run's. False when the call does not run (the job is skipped).
pub(super) fn enter_call<B: Backend>(
    shared: &Shared<B>,
    frame: &CallFrame,
    scope: &mut JobScope,
) -> Result<bool, String> {
    let Some((inputs, secrets)) = frame_values(shared, frame, scope)? else {
        return Ok(false);
    };
    for value in secrets.values() {
        shared.masker.add(value);
    }
    scope.contexts.insert("inputs", Value::Object(inputs));
    scope.contexts.insert(
        "secrets",
        Value::Object(
            secrets
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    );
    Ok(true)
}

/// The calling job: the worst result of its called jobs, and the called
/// workflow's `outputs` (of a matrix of calls, the last successful call to
/// finish that sets one gives it, as on GitHub).
pub(super) fn gather<B: Backend>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    called: &CalledJobs,
    scope: &JobScope,
    mut report: JobReport,
    started: Instant,
) -> JobReport {
    let name = report.name.clone();
    let mut results = Vec::new();
    let mut outputs = Object::new();
    // In the order the calls finished: the last one that sets an output wins.
    let mut calls: Vec<_> = called.calls.iter().collect();
    calls.sort_by_key(|(_, jobs)| {
        let ids: Vec<&String> = jobs.values().collect();
        shared.finished.finished_at(&ids)
    });
    for (frame, jobs) in calls {
        let mut jobs_context = Object::new();
        let mut call_results = Vec::new();
        for (local, flat) in jobs {
            let (result, job_outputs) = shared
                .finished
                .get(flat)
                .unwrap_or((JobResult::Skipped, Object::new()));
            call_results.push(result);
            let mut entry = Object::new();
            entry.insert("result", Value::String(result.as_str().to_string()));
            entry.insert("outputs", Value::Object(job_outputs));
            jobs_context.insert(local.clone(), Value::Object(entry));
        }
        let call_result = worst(&call_results);
        results.push(call_result);
        if call_result != JobResult::Success {
            continue;
        }
        let inputs = frame_values(shared, frame, scope)
            .ok()
            .flatten()
            .map(|(inputs, _)| inputs)
            .unwrap_or_default();
        let mut contexts = Object::new();
        for key in ["github", "vars"] {
            if let Some(value) = scope.contexts.get(key) {
                contexts.insert(key, value.clone());
            }
        }
        contexts.insert("inputs", Value::Object(inputs));
        contexts.insert("jobs", Value::Object(jobs_context));
        let ctx = EvalContext {
            contexts: &contexts,
            status: Status::Success,
            workspace: None,
        };
        for (output, text) in &called.outputs {
            let value = expr::parse_template(&text.value)
                .map_err(|e| e.message)
                .and_then(|t| t.eval_string(&ctx).map_err(|e| e.message));
            match value {
                Ok(value) if !value.is_empty() => {
                    outputs.insert(output.clone(), Value::String(value));
                }
                Ok(_) => {}
                Err(message) => shared.print(
                    &name,
                    &format!("warning: cannot evaluate output `{output}`: {message}"),
                ),
            }
        }
    }
    let result = worst(&results);
    let count = called.calls.len();
    let succeeded = results.iter().filter(|r| **r == JobResult::Success).count();
    shared.print(
        &name,
        &format!(
            "{result}: {succeeded} of {count} call{} of {} succeeded{}",
            if count == 1 { "" } else { "s" },
            called
                .calls
                .first()
                .map(|(frame, _)| frame.uses.as_str())
                .unwrap_or_default(),
            if outputs.is_empty() {
                String::new()
            } else {
                format!(
                    "; outputs {}",
                    outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }
        ),
    );
    shared.finished.add_outputs(&planned.id, outputs);
    report.result = result;
    report.duration = started.elapsed();
    report
}

/// Failure over cancelled over success; skipped only when every one was.
fn worst(results: &[JobResult]) -> JobResult {
    if results.contains(&JobResult::Failure) {
        JobResult::Failure
    } else if results.contains(&JobResult::Cancelled) {
        JobResult::Cancelled
    } else if results.contains(&JobResult::Success) {
        JobResult::Success
    } else {
        JobResult::Skipped
    }
}
