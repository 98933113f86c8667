//! What `mlci run` checks before it starts anything, which is also what
//! `mlci validate` checks once a file parses: the plan (calls inlined,
//! matrices expanded within their budgets, the expressions known before the
//! run evaluated within theirs), and each step's action reference and cache
//! paths. One code path, so that `validate` refuses exactly what `run` would
//! refuse, with the same message, and `run` refuses it before any container.

use super::RunOptions;
use super::actions::ActionRef;
use super::job::to_object;
use crate::diag::Diagnostic;
use crate::plan::{self, Plan, PlanInputs};
use crate::workflow::{LoadedWorkflow, StepAction, Workflow};

/// The workflow with its calls inlined (None when it calls none: it is its
/// own plan's workflow, not copied), and its plan; or every problem found,
/// rendered against the file each one is in.
pub fn plan_workflow(
    loaded: &LoadedWorkflow,
    inputs: &PlanInputs,
) -> Result<(Option<Workflow>, Plan), String> {
    let steps = step_problems(loaded);
    if !steps.is_empty() {
        return Err(steps);
    }
    let render = |diagnostics: Vec<Diagnostic>| {
        diagnostics
            .iter()
            .map(|d| loaded.file.render(d))
            .collect::<String>()
    };
    if loaded.called.is_empty() {
        let plan = plan::build(&loaded.workflow, inputs).map_err(render)?;
        return Ok((None, plan));
    }
    let flat = plan::flatten(loaded, inputs).map_err(render)?;
    let plan = plan::build(&flat, inputs).map_err(render)?;
    Ok((Some(flat), plan))
}

/// The plan `mlci run` runs, with the inputs of its event: what the engine
/// runs, and what `mlci run` checks for every workflow before it starts the
/// first, so that a bad second file is refused before anything ran.
pub fn plan_for_run(
    loaded: &LoadedWorkflow,
    options: &RunOptions,
) -> Result<(PlanInputs, Option<Workflow>, Plan), String> {
    let given = to_object(&options.inputs);
    let inputs = PlanInputs::for_event(
        &loaded.workflow,
        &options.event,
        &given,
        to_object(&options.vars),
    );
    if let Some(name) = inputs.pending.first() {
        return Err(format!(
            "{}: input `{name}` of workflow_call is required: give it with --input {name}=VALUE",
            loaded.file.path.display()
        ));
    }
    let (flat, plan) = plan_workflow(loaded, &inputs)?;
    Ok((inputs, flat, plan))
}

/// Steps' values that are wrong whatever the run: a `uses:` that is no
/// action reference (paths that leave the workspace are refused when the
/// file is parsed: `workflow::parse::paths`). Values with `${{ }}` are
/// checked when they are known. Each
/// file, the called ones included, is rendered against itself.
fn step_problems(loaded: &LoadedWorkflow) -> String {
    let mut rendered: String = check_steps(&loaded.workflow)
        .iter()
        .map(|d| loaded.file.render(d))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for (_, called) in &loaded.called {
        // A workflow called twice is reported once.
        if seen.insert(called.file.path.clone()) {
            rendered.push_str(&step_problems(called));
        }
    }
    rendered
}

fn check_steps(workflow: &Workflow) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for step in workflow.jobs.iter().flat_map(|job| &job.steps) {
        if let StepAction::Uses(uses) = &step.action {
            if !uses.value.contains("${{") {
                if let Err(message) = ActionRef::parse(&uses.value) {
                    diagnostics.push(Diagnostic::error(uses.span, message));
                }
            }
        }
    }
    diagnostics
}
