//! After a run is recorded and its gates checked: each model a `register:`
//! step left becomes the next version of its name when the run's gates
//! pass and its job succeeded, and its alias moves when the promotion
//! condition holds against the version the alias names now.

use super::shared;
use crate::cache::Remote;
use crate::metrics::{MetricValue, format_number};
use crate::record::{
    CandidateOutcome, CandidateStatus, JobRecord, ModelVersion, Promotion, RunId, Store,
    comparison_symbol, now_ms,
};
use crate::report::gates::{GateOutcome, holds};
use crate::workflow::{GateBound, parse_promote_condition};
use std::collections::BTreeMap;

/// Decides every pending candidate of a run; the outcomes, and one
/// sentence per thing that went wrong on the way (the shared registry down…).
pub async fn decide_candidates(
    store: &mut Store,
    run_id: RunId,
    gates: &GateOutcome,
    remote: Option<&Remote>,
) -> Result<(Vec<CandidateOutcome>, Vec<String>), String> {
    let mut warnings = Vec::new();
    let pending: Vec<CandidateOutcome> = store
        .candidates(run_id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|c| c.status == CandidateStatus::Pending)
        .collect();
    if pending.is_empty() {
        return Ok((Vec::new(), warnings));
    }
    let run = store.get_run(run_id).map_err(|e| e.to_string())?;
    let failed_gates: Vec<String> = gates
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("gate `{} {}` failed: {}", r.metric, r.condition, r.reason))
        .collect();
    let mut outcomes = Vec::new();
    // The shared registry is read once per model name: a matrix of trainings
    // registers one name several times, and only this run adds to it meanwhile.
    let mut synced = std::collections::BTreeSet::new();
    for mut outcome in pending {
        let job = run.record.jobs.iter().find(|j| j.name == outcome.job);
        let name = outcome.candidate.name.clone();
        if let Some(remote) = remote
            && synced.insert(name.clone())
            && let Err(error) = shared::sync(remote, store, &name).await
        {
            warnings.push(error);
        }
        let alias = outcome.candidate.promote_alias.clone();
        let holder_now = match &alias {
            Some(alias) => store
                .alias_version(&name, alias)
                .map_err(|e| e.to_string())?,
            None => None,
        };
        let refusal = match job {
            None => Some(format!("its job `{}` is not in the run", outcome.job)),
            Some(job) if job.result != "success" => Some(format!(
                "its job `{}` did not succeed ({})",
                job.name, job.result
            )),
            Some(_) if !failed_gates.is_empty() => Some(failed_gates.join("; ")),
            Some(_) => None,
        };
        if let Some(reason) = refusal {
            outcome.status = CandidateStatus::Rejected;
            outcome.replaces = holder_now;
            outcome.reason = reason;
            store
                .decide_candidate(&outcome)
                .map_err(|e| e.to_string())?;
            outcomes.push(outcome);
            continue;
        }
        let job = job.expect("a refused candidate went on above");
        let version = ModelVersion {
            name: name.clone(),
            version: 0,
            tree_hash: outcome.candidate.tree_hash.clone(),
            entry_key: outcome.candidate.entry_key.clone(),
            path: outcome.candidate.path.clone(),
            size: outcome.candidate.size,
            run_id: Some(run_id),
            step_row: outcome.step_row,
            workflow: Some(run.record.workflow.clone()),
            job: Some(job.name.clone()),
            step_name: Some(outcome.step_name.clone()),
            sha: Some(run.record.sha.clone()),
            params: job_params(job),
            metrics: job_metrics(job),
            created_at: now_ms(),
            origin: "run".to_string(),
        };
        let registration = register(
            store,
            &version,
            alias.as_deref(),
            outcome.candidate.promote_if.as_deref(),
            Some(run_id),
        )?;
        outcome.status = if registration.existing {
            CandidateStatus::Existing
        } else {
            CandidateStatus::Registered
        };
        outcome.version = Some(registration.version);
        outcome.replaces = registration.previous_holder;
        outcome.promoted = registration.promoted;
        outcome.reason = registration.reason.clone();
        store
            .decide_candidate(&outcome)
            .map_err(|e| e.to_string())?;
        if let Some(remote) = remote {
            let registered = ModelVersion {
                version: registration.version,
                ..version
            };
            warnings.extend(publish(remote, &registered, alias.as_deref(), &registration).await);
        }
        outcomes.push(outcome);
    }
    Ok((outcomes, warnings))
}

/// Registers a version (or finds it by content) and decides its promotion.
pub fn register(
    store: &mut Store,
    version: &ModelVersion,
    alias: Option<&str>,
    condition: Option<&str>,
    run_id: Option<RunId>,
) -> Result<crate::record::Registration, String> {
    let condition = match condition {
        Some(text) => Some(parse_promote_condition(text).ok_or_else(|| {
            format!("`{text}` is not a promotion condition such as `accuracy >= champion + 0.005`")
        })?),
        None => None,
    };
    // A condition may compare with another alias than the one that moves.
    let other_holder = match (&condition, alias) {
        (Some(c), Some(alias)) => match c.against.as_deref() {
            Some(against) if against != alias => {
                match store
                    .alias_version(&version.name, against)
                    .map_err(|e| e.to_string())?
                {
                    Some(v) => store
                        .model_version(&version.name, v)
                        .map_err(|e| e.to_string())?,
                    None => None,
                }
            }
            _ => None,
        },
        _ => None,
    };
    let decide = |holder: Option<&ModelVersion>| -> (bool, String) {
        let Some(condition) = &condition else {
            return (true, "promoted: no condition".to_string());
        };
        let Some(value) = version.metrics.get(&condition.metric).copied() else {
            return (
                false,
                format!(
                    "not promoted: the candidate has no metric `{}`",
                    condition.metric
                ),
            );
        };
        let op = comparison_symbol(condition.condition.comparison);
        let (bound, shown) = match condition.condition.bound {
            GateBound::Absolute(n) => (n, format_number(n)),
            GateBound::Baseline { offset, factor } => {
                let against = condition.against.as_deref().unwrap_or_default();
                let base = if Some(against) == alias {
                    holder
                } else {
                    other_holder.as_ref()
                };
                let Some(base) = base else {
                    return (true, format!("promoted: no version is `{against}` yet"));
                };
                let Some(base_value) = base.metrics.get(&condition.metric).copied() else {
                    return (
                        false,
                        format!(
                            "not promoted: {} has no metric `{}`",
                            base.label(),
                            condition.metric
                        ),
                    );
                };
                let bound = base_value * factor + offset;
                (
                    bound,
                    format!(
                        "{} ({against} {}: {})",
                        format_number(bound),
                        base.label(),
                        format_number(base_value)
                    ),
                )
            }
        };
        let value_text = format!("{} {}", condition.metric, format_number(value));
        if holds(condition.condition.comparison, value, bound) {
            (true, format!("promoted: {value_text} {op} {shown}"))
        } else {
            (
                false,
                format!("not promoted: {value_text} is not {op} {shown}"),
            )
        }
    };
    let promotion = alias.map(|alias| Promotion {
        alias,
        decide: &decide,
        run_id,
    });
    store
        .register_version(version, promotion, now_ms())
        .map_err(|e| e.to_string())
}

/// Writes a new version (and its alias move) to the shared registry.
pub async fn publish(
    remote: &Remote,
    version: &ModelVersion,
    alias: Option<&str>,
    registration: &crate::record::Registration,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Err(error) = shared::publish_version(remote, version).await {
        warnings.push(error);
        return warnings;
    }
    if let (Some(alias), true) = (alias, registration.promoted)
        && let Err(error) = shared::publish_alias(
            remote,
            &version.name,
            alias,
            registration.version,
            registration.previous_holder,
            now_ms(),
            &registration.reason,
        )
        .await
    {
        warnings.push(error);
    }
    warnings
}

/// The job's numeric metrics, the last value of each name.
fn job_metrics(job: &JobRecord) -> BTreeMap<String, f64> {
    let mut metrics = BTreeMap::new();
    for step in &job.steps {
        for metric in &step.metrics {
            if let MetricValue::Number(n) = metric.value {
                metrics.insert(metric.name.clone(), n);
            }
        }
    }
    metrics
}

fn job_params(job: &JobRecord) -> BTreeMap<String, String> {
    job.steps
        .iter()
        .flat_map(|s| &s.params)
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect()
}
