//! `mlci validate`, `mlci list` and `mlci graph`: what the workflow files say,
//! without running them.

use super::args::{GraphArgs, ListArgs, PathsArgs};
use super::exit::EXIT_INVALID;
use super::load::load_all;
use super::table::{or_dash, plural, table};
use crate::expr::{Object, Value};
use crate::plan::{self, NodeLabel, Plan, PlanInputs};
use crate::workflow::LoadedWorkflow;
use std::io::Write;
use std::process::ExitCode;

pub(super) fn validate(args: &PathsArgs) -> ExitCode {
    let loaded = match load_all(args) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for workflow in &loaded {
        // Planned as `run` plans it, so that what `run` would refuse before
        // starting anything is refused here too. A reusable workflow found in
        // a directory is planned inside the workflows that call it, as `run`
        // runs it; named on its own, it is planned as `run` would run it.
        let named = args.paths.iter().any(|p| p == &workflow.file.path);
        if named || !is_callable_only(workflow) {
            if let Err(rendered) = crate::run::plan_workflow(workflow, &PlanInputs::default()) {
                eprint!("{rendered}");
                failed = true;
                continue;
            }
        }
        let jobs = workflow.workflow.jobs.len();
        let _ = writeln!(
            out,
            "ok {} ({jobs} job{})",
            workflow.file.path.display(),
            plural(jobs)
        );
    }
    if failed {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether a workflow is only ever called (`on: workflow_call` alone).
fn is_callable_only(workflow: &LoadedWorkflow) -> bool {
    let on = &workflow.workflow.on;
    !on.is_empty() && on.iter().all(|t| t.event.value == "workflow_call")
}

pub(super) fn list(args: &ListArgs) -> ExitCode {
    let mut loaded = match load_all(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if let Some(event) = &args.event {
        loaded.retain(|w| super::load::runs_on_its_own(w, &args.paths, event));
    }
    let given: Object = args
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let event = args.event.as_deref().unwrap_or(DEFAULT_EVENT);
    let Some(plans) = plan_all(&loaded, event, &given) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let json: Vec<serde_json::Value> = loaded
            .iter()
            .zip(&plans)
            .map(|(workflow, plan)| list_json(workflow, plan))
            .collect();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    for (index, (workflow, plan)) in loaded.iter().zip(&plans).enumerate() {
        if index > 0 {
            let _ = writeln!(out);
        }
        let _ = writeln!(
            out,
            "{}: {} job{}, {} instance{}",
            workflow_heading(workflow),
            plan.jobs.len(),
            plural(plan.jobs.len()),
            plan.instance_count(),
            plural(plan.instance_count())
        );
        let mut rows = vec![[
            "JOB".to_string(),
            "INSTANCE".to_string(),
            "MATRIX".to_string(),
            "RUNS-ON".to_string(),
            "NEEDS".to_string(),
        ]];
        for job in &plan.jobs {
            for instance in &job.instances {
                let matrix = match &job.deferred {
                    Some(_) => "(expanded at run time)".to_string(),
                    None => instance
                        .matrix
                        .iter()
                        .map(|(k, v)| format!("{k}={}", matrix_value(v)))
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                rows.push([
                    job.id.clone(),
                    instance.name.clone(),
                    or_dash(matrix),
                    or_dash(instance.runs_on.join(", ")),
                    or_dash(job.needs.join(", ")),
                ]);
            }
        }
        let _ = write!(out, "{}", table(&rows));
    }
    ExitCode::SUCCESS
}

pub(super) fn graph(args: &GraphArgs) -> ExitCode {
    let (loaded, plans) = match load_and_plan(&args.paths) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    for (index, (workflow, plan)) in loaded.iter().zip(&plans).enumerate() {
        let labels: Vec<NodeLabel> = plan
            .jobs
            .iter()
            .map(|job| {
                let matrix = !job.instances.first().is_none_or(|i| i.matrix.is_empty());
                if matrix {
                    NodeLabel::with_instances(
                        job.id.clone(),
                        job.instances.iter().map(|i| i.name.clone()).collect(),
                    )
                } else if job.id.contains('/') {
                    // A called workflow's job, by the name GitHub shows: `caller / job`.
                    NodeLabel::new(
                        job.instances
                            .first()
                            .map_or_else(|| job.id.clone(), |i| i.name.clone()),
                    )
                } else {
                    NodeLabel::new(job.id.clone())
                }
            })
            .collect();
        if args.dot {
            let _ = write!(out, "{}", plan.graph.to_dot(&labels));
        } else {
            if index > 0 {
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "{}", workflow_heading(workflow));
            let _ = write!(out, "{}", plan.graph.to_text(&labels));
        }
    }
    ExitCode::SUCCESS
}

/// The event `mlci run` takes when given none.
const DEFAULT_EVENT: &str = "push";

/// The workflows at `paths` and their plans; the exit code when one of them is invalid.
fn load_and_plan(paths: &PathsArgs) -> Result<(Vec<LoadedWorkflow>, Vec<Plan>), ExitCode> {
    let loaded = load_all(paths)?;
    let plans =
        plan_all(&loaded, DEFAULT_EVENT, &Object::new()).ok_or(ExitCode::from(EXIT_INVALID))?;
    Ok((loaded, plans))
}

/// Plans every workflow as a run on `event` would; prints the problems and
/// returns None on failure.
fn plan_all(loaded: &[LoadedWorkflow], event: &str, given: &Object) -> Option<Vec<Plan>> {
    let mut plans = Vec::new();
    let mut failed = false;
    for workflow in loaded {
        let inputs = PlanInputs::for_event(&workflow.workflow, event, given, Object::new());
        let flat = match plan::flatten(workflow, &inputs) {
            Ok(flat) => flat,
            Err(diagnostics) => {
                for diagnostic in &diagnostics {
                    eprint!("{}", workflow.file.render(diagnostic));
                }
                failed = true;
                continue;
            }
        };
        match plan::build(&flat, &inputs) {
            Ok(plan) => plans.push(plan),
            Err(diagnostics) => {
                for diagnostic in &diagnostics {
                    eprint!("{}", workflow.file.render(diagnostic));
                }
                failed = true;
            }
        }
    }
    (!failed).then_some(plans)
}

fn list_json(workflow: &LoadedWorkflow, plan: &Plan) -> serde_json::Value {
    let jobs: Vec<serde_json::Value> = plan
        .jobs
        .iter()
        .flat_map(|job| {
            job.instances.iter().map(move |instance| {
                serde_json::json!({
                    "job": job.id,
                    "name": instance.name,
                    "matrix": Value::Object(instance.matrix.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).to_json(),
                    "runs_on": instance.runs_on,
                    "needs": job.needs,
                    "matrix_expanded_at_run_time": job.deferred.is_some(),
                })
            })
        })
        .collect();
    serde_json::json!({
        "file": workflow.file.path.display().to_string(),
        "name": workflow_title(workflow),
        "instances": jobs,
    })
}

/// `name (path)`, or the path alone for a workflow without a name.
fn workflow_heading(workflow: &LoadedWorkflow) -> String {
    let path = workflow.file.path.display();
    match &workflow.workflow.name {
        Some(name) => format!("{} ({path})", name.value),
        None => path.to_string(),
    }
}

fn workflow_title(workflow: &LoadedWorkflow) -> String {
    match &workflow.workflow.name {
        Some(name) => name.value.clone(),
        None => workflow.file.path.display().to_string(),
    }
}

/// Matrix values as GitHub writes them in job names; objects as JSON.
fn matrix_value(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => value.to_json().to_string(),
        other => other.to_display_string(),
    }
}
