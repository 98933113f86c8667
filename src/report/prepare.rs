//! Making a report: reading a run, its baseline and history from the store,
//! and evaluating its gates.

use super::contents::Report;
use super::diff::diff;
use super::error::ReportError;
use super::gates::{self, GateCheck};
use super::options::ReportOptions;
use crate::record::{RunFilter, RunId, Store, StoredRun};

/// Reads a run, its baseline and history from the store and evaluates its gates.
/// `gates` are the workflow's; when empty, the gates stored with the run are used.
pub fn prepare(
    store: &Store,
    run_id: RunId,
    gates: &[crate::workflow::Gate],
    options: &ReportOptions,
) -> Result<Report, ReportError> {
    let run = store.get_run(run_id)?;
    let checks = if gates.is_empty() {
        GateCheck::from_specs(&run.record.gates).map_err(ReportError::Gates)?
    } else {
        GateCheck::from_workflow(gates)
    };
    let baseline = match store.baseline(&run, options.baseline_ref.as_deref())? {
        Some(id) => Some(store.get_run(id)?),
        None => None,
    };
    let current = run.record.metric_values();
    let base_values = baseline.as_ref().map(|b| b.record.metric_values());
    let base_label = baseline.as_ref().map(|b| format!("#{}", b.id));
    let outcome = gates::evaluate(
        &checks,
        &current,
        base_values.as_deref(),
        base_label.as_deref(),
    );
    let diffs = diff(&current, base_values.as_deref().unwrap_or(&[]));
    let mut history = Vec::new();
    let limit = if options.history == 0 {
        10
    } else {
        options.history
    };
    if let Some(branch) = run.record.branch.clone() {
        let older = store.list_runs(&RunFilter {
            workflow: Some(run.record.workflow.clone()),
            branch: Some(branch),
            successful_only: true,
            before: Some(run.id),
            limit: Some(limit.saturating_sub(1)),
        })?;
        for summary in older.iter().rev() {
            history.push(store.get_run(summary.id)?);
        }
    }
    history.push(run.clone());
    let links = links(&run);
    let models = store.candidates(run.id)?;
    let deployments = store.deployments_of_run(run.id)?;
    Ok(Report {
        models,
        deployments,
        full_report_hint: format!("Run `mlci report --run {}` for the whole report.", run.id),
        run,
        baseline,
        history,
        gates: outcome,
        diffs,
        links,
    })
}

/// Links to the Actions run and the commit, from GitHub's environment when set.
fn links(run: &StoredRun) -> Option<String> {
    let server = std::env::var("GITHUB_SERVER_URL")
        .ok()
        .filter(|s| !s.is_empty())?;
    let repository = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|s| !s.is_empty())?;
    let server = server.trim_end_matches('/');
    let mut parts = Vec::new();
    if run.record.url.is_none()
        && let Ok(id) = std::env::var("GITHUB_RUN_ID")
        && !id.is_empty()
    {
        parts.push(format!(
            "[Actions run]({server}/{repository}/actions/runs/{id})"
        ));
    }
    if run.record.sha.len() >= 7 {
        parts.push(format!(
            "[commit {}]({server}/{repository}/commit/{})",
            &run.record.sha[..7],
            run.record.sha
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}
