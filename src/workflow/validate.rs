//! Checks that need the whole workflow: `needs` that name missing jobs,
//! cycles, duplicate step ids. Calls of reusable workflows are checked in `calls`.

use super::model::Workflow;
use crate::diag::Diagnostic;
use crate::executor::ContainerOptions;
use crate::plan::graph::{GraphError, JobGraph};
use std::collections::HashSet;

pub fn check(workflow: &Workflow, source: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    check_container_options(workflow, source, &mut diagnostics);
    check_needs(workflow, &mut diagnostics);
    check_step_ids(workflow, &mut diagnostics);
    diagnostics
}

/// "Did you mean" hints for at most this many unknown needs: each one
/// compares the name with every job id, so a hint per error made a file of
/// 15 000 jobs with a missing need each take minutes. GitHub reports at
/// most 10 errors of a file (actions/runner `ParseOptions.MaxErrors`).
const MAX_NEED_SUGGESTIONS: usize = 10;

fn check_needs(workflow: &Workflow, diagnostics: &mut Vec<Diagnostic>) {
    let jobs = workflow.needs_by_job();
    let Err(errors) = JobGraph::new(&jobs) else {
        return;
    };
    // Each error names its job by id: one lookup each, not a scan.
    let mut by_id = std::collections::HashMap::new();
    for job in &workflow.jobs {
        by_id.entry(job.id.value.as_str()).or_insert(job);
    }
    let ids: Vec<&str> = workflow.jobs.iter().map(|j| j.id.value.as_str()).collect();
    let mut suggested = 0;
    for error in errors {
        match error {
            GraphError::UnknownNeed { job, need, index } => {
                let Some(job) = by_id.get(job.as_str()) else {
                    continue;
                };
                let span = job.needs.get(index).map(|n| n.span).unwrap_or(job.id.span);
                let mut diagnostic = Diagnostic::error(
                    span,
                    format!(
                        "job `{}` needs `{need}`, which does not exist",
                        job.id.value
                    ),
                );
                if suggested < MAX_NEED_SUGGESTIONS {
                    suggested += 1;
                    if let Some(close) = super::parse::suggest(&need, &ids) {
                        diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
                    }
                }
                diagnostics.push(diagnostic);
            }
            GraphError::SelfNeed { job, index } => {
                let Some(job) = by_id.get(job.as_str()) else {
                    continue;
                };
                let span = job.needs.get(index).map(|n| n.span).unwrap_or(job.id.span);
                diagnostics.push(Diagnostic::error(
                    span,
                    format!("cycle in `needs`: job `{}` needs itself", job.id.value),
                ));
            }
            // The YAML loader already reports keys that differ only in case.
            GraphError::DuplicateJob { .. } => {}
            GraphError::Cycle(cycle) => {
                let Some(first) = cycle.first().and_then(|id| by_id.get(id.as_str())) else {
                    continue;
                };
                let path: Vec<String> = cycle
                    .iter()
                    .chain(cycle.first())
                    .map(|id| format!("`{id}`"))
                    .collect();
                let next = cycle.get(1).unwrap_or(&first.id.value);
                let span = first
                    .needs
                    .iter()
                    .find(|n| &n.value == next)
                    .map(|n| n.span)
                    .unwrap_or(first.id.span);
                diagnostics.push(Diagnostic::error(
                    span,
                    format!("cycle in `needs`: {}", path.join(" → ")),
                ));
            }
        }
    }
}

/// `container.options` and `services.*.options` are Docker's flags: an
/// unknown or malformed flag is refused here, by line, rather than when the
/// job starts. Options that hold `${{ }}` are checked when they are known.
fn check_container_options(workflow: &Workflow, source: &str, diagnostics: &mut Vec<Diagnostic>) {
    let containers = workflow.jobs.iter().flat_map(|job| {
        job.container
            .iter()
            .chain(job.services.iter().map(|(_, service)| service))
    });
    for container in containers {
        let Some(options) = &container.options else {
            continue;
        };
        if options.value.contains("${{") {
            continue;
        }
        if let Err(error) = ContainerOptions::parse(&options.value) {
            // The options are one scalar; quotes around it shift the text by one.
            let raw = source
                .get(options.span.start..options.span.end)
                .unwrap_or("");
            let shift = raw.find(options.value.as_str()).unwrap_or(0);
            let start = options.span.start + shift + error.offset;
            diagnostics.push(Diagnostic::error(
                crate::diag::Span::new(start, start + error.len.max(1)),
                format!("container.options: {}", error.message),
            ));
        }
    }
}

fn check_step_ids(workflow: &Workflow, diagnostics: &mut Vec<Diagnostic>) {
    for job in &workflow.jobs {
        // Step ids are compared ignoring case, as GitHub does.
        let mut seen = HashSet::new();
        for step in &job.steps {
            let Some(id) = &step.id else { continue };
            if !seen.insert(id.value.to_ascii_lowercase()) {
                diagnostics.push(Diagnostic::error(
                    id.span,
                    format!("duplicate step id `{}` in job `{}`", id.value, job.id.value),
                ));
            }
        }
    }
}
