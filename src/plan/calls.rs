//! Reusable workflows at plan time: a job that calls one (`jobs.<id>.uses`)
//! is replaced by the called workflow's jobs, once per cell of the caller's
//! matrix, with ids under the caller's (`train/fit`, `train.2/fit`) and the
//! names GitHub shows (`train (forest) / fit`). The calling job stays, with
//! no steps, after them: it gathers their result and the workflow's
//! `outputs`, so that the jobs that need it read `needs.<id>.outputs` as on
//! GitHub. Each inlined job carries its call's frame, from which its
//! `inputs`, `secrets` and the caller's `if` are evaluated when it starts
//! (they may read the caller's `needs`).

use super::PlanInputs;
use super::build::plan_caller_cells;
use crate::diag::Diagnostic;
use crate::workflow::{CallFrame, CalledJobs, Job, LoadedWorkflow, Spanned, Workflow};
use indexmap::IndexMap;
use std::sync::Arc;

/// The workflow with every call inlined; the workflow itself when it calls none.
pub fn flatten(loaded: &LoadedWorkflow, inputs: &PlanInputs) -> Result<Workflow, Vec<Diagnostic>> {
    if loaded.called.is_empty() {
        return Ok(loaded.workflow.clone());
    }
    let mut jobs = Vec::new();
    let mut diagnostics = Vec::new();
    flatten_jobs(loaded, None, "", "", inputs, &mut jobs, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    Ok(Workflow {
        jobs,
        ..loaded.workflow.clone()
    })
}

/// Adds the jobs of `loaded` (called through `frame`, when it is) to `out`;
/// its job ids and the ids they got.
fn flatten_jobs(
    loaded: &LoadedWorkflow,
    frame: Option<Arc<CallFrame>>,
    prefix: &str,
    name_prefix: &str,
    inputs: &PlanInputs,
    out: &mut Vec<Job>,
    diagnostics: &mut Vec<Diagnostic>,
) -> IndexMap<String, String> {
    let ids: IndexMap<String, String> = loaded
        .workflow
        .jobs
        .iter()
        .map(|j| (j.id.value.clone(), format!("{prefix}{}", j.id.value)))
        .collect();
    // Every job of a call waits for what its callers need.
    let mut inherited: Vec<String> = Vec::new();
    let mut up = frame.as_deref();
    while let Some(f) = up {
        inherited.extend(f.caller_needs.iter().map(|(id, _)| id.clone()));
        up = f.parent.as_deref();
    }
    let called_workflow = frame.is_some();
    for job in &loaded.workflow.jobs {
        let own_needs: Vec<(String, String)> = job
            .needs
            .iter()
            .map(|n| {
                let id = ids
                    .get(&n.value)
                    .cloned()
                    .unwrap_or_else(|| n.value.clone());
                (id, n.value.clone())
            })
            .collect();
        let mut flat = job.clone();
        flat.id = Spanned::new(ids[&job.id.value].clone(), job.id.span);
        if called_workflow {
            flat.name = Some(Spanned::new(
                format!("{name_prefix}{}", job.display_name()),
                job.name.as_ref().map_or(job.id.span, |n| n.span),
            ));
            flat.needs_as = Some(own_needs.clone());
            flat.call = frame.clone();
            // The called workflow's own `env` and `defaults`, not the caller's.
            let mut env = loaded.workflow.env.clone();
            env.extend(job.env.clone());
            flat.env = env;
            if flat.defaults.shell.is_none() {
                flat.defaults.shell = loaded.workflow.defaults.shell.clone();
            }
            if flat.defaults.working_directory.is_none() {
                flat.defaults.working_directory =
                    loaded.workflow.defaults.working_directory.clone();
            }
        }
        let mut needs: Vec<Spanned<String>> = own_needs
            .iter()
            .map(|(id, _)| Spanned::new(id.clone(), job.id.span))
            .collect();
        needs.extend(
            inherited
                .iter()
                .map(|id| Spanned::new(id.clone(), job.id.span)),
        );
        let Some((_, callee)) = loaded.called.iter().find(|(id, _)| *id == job.id.value) else {
            flat.needs = needs;
            out.push(flat);
            continue;
        };
        let cells = match plan_caller_cells(job, inputs) {
            Ok(cells) => cells,
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                continue;
            }
        };
        let declared = callee
            .workflow
            .trigger("workflow_call")
            .map(|t| t.filters.clone())
            .unwrap_or_default();
        let first = out.len();
        let mut calls = Vec::new();
        let caller_id = flat.id.value.clone();
        for (index, (name, matrix)) in cells.iter().enumerate() {
            let call = Arc::new(CallFrame {
                caller_id: caller_id.clone(),
                caller_name: format!("{name_prefix}{name}"),
                caller_matrix: matrix.clone(),
                caller_needs: own_needs.clone(),
                caller_if: job.condition.as_ref().map(|c| c.value.clone()),
                with: job.with.clone(),
                secrets: job.secrets.clone(),
                declared_inputs: declared.inputs.clone(),
                uses: job
                    .uses
                    .as_ref()
                    .map(|u| u.value.clone())
                    .unwrap_or_default(),
                parent: frame.clone(),
            });
            let cell_prefix = if cells.len() == 1 {
                format!("{caller_id}/")
            } else {
                format!("{caller_id}.{}/", index + 1)
            };
            let cell_names = format!("{} / ", call.caller_name);
            let map = flatten_jobs(
                callee,
                Some(call.clone()),
                &cell_prefix,
                &cell_names,
                inputs,
                out,
                diagnostics,
            );
            calls.push((call, map));
        }
        needs.extend(
            out[first..]
                .iter()
                .map(|inlined| Spanned::new(inlined.id.value.clone(), job.id.span)),
        );
        flat.needs = needs;
        flat.strategy = None;
        flat.called = Some(CalledJobs {
            calls,
            outputs: declared.outputs.clone(),
        });
        out.push(flat);
    }
    ids
}
