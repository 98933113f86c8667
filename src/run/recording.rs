//! From a finished run to its record for the run store: the "record" arrow
//! of the flow. The engine's reports carry what happened; this adds what the
//! repository and the event say (sha, branch, pull request) and parses the
//! metrics and params files the steps named.

use super::github::GitInfo;
use super::{JobReport, RunOptions};
use crate::metrics;
use crate::plan::JobResult;
use crate::record::{
    AnnotationRecord, Artifact, GateSpec, JobRecord, PhaseRecord, PullRequestInfo, RunRecord,
    RunResult, StepRecord, branch_name,
};
use crate::timings::RunPhases;
use crate::workflow::LoadedWorkflow;
use std::collections::BTreeSet;

/// What the record of one workflow's run is made from.
pub struct RunFacts<'a> {
    pub workflow: &'a LoadedWorkflow,
    pub reports: &'a [JobReport],
    /// The time the run spent outside its jobs.
    pub phases: &'a RunPhases,
    /// What git said of the repository when the run started.
    pub info: &'a GitInfo,
    pub options: &'a RunOptions,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    pub finished_at: i64,
    pub interrupted: bool,
}

/// What the run store files a run under: the workflow's name (else its
/// file), the pull request its event names, and the branch it is about (the
/// pull request's head branch, else the pushed branch).
pub struct RunSubject {
    pub workflow: String,
    pub pr: PullRequestInfo,
    pub branch: Option<String>,
}

pub fn run_subject(workflow: &LoadedWorkflow, options: &RunOptions, info: &GitInfo) -> RunSubject {
    let payload = options
        .event_path
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .unwrap_or(serde_json::Value::Null);
    let pr = PullRequestInfo::from_event(&payload);
    let branch = pr
        .head_ref
        .clone()
        .or_else(|| Some(branch_name(&info.git_ref).to_string()).filter(|b| !b.is_empty()));
    RunSubject {
        workflow: workflow
            .workflow
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| workflow.file.path.display().to_string()),
        pr,
        branch,
    }
}

/// The record, and one sentence per metrics or params file that could not be read.
pub fn run_record(facts: &RunFacts<'_>) -> (RunRecord, Vec<String>) {
    let mut warnings = Vec::new();
    let options = facts.options;
    let info = facts.info.clone();
    let RunSubject {
        workflow: workflow_name,
        pr,
        branch,
    } = run_subject(facts.workflow, options, &info);
    let workflow = &facts.workflow.workflow;
    let workflow_path = facts.workflow.file.path.display().to_string();
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut jobs = Vec::new();
    for report in facts.reports {
        let mut steps = Vec::new();
        for step in &report.steps {
            let mut step_metrics = Vec::new();
            for (path, bytes) in &step.metrics {
                match metrics::parse_str(path, &String::from_utf8_lossy(bytes)) {
                    Ok(found) => step_metrics.extend(found),
                    Err(error) => warnings.push(error.to_string()),
                }
            }
            let input_paths: Vec<String> = step.inputs.iter().map(|(p, _, _)| p.clone()).collect();
            let (mut params, errors) = metrics::collect_params(&options.repo, &input_paths);
            warnings.extend(errors.iter().map(|e| e.to_string()));
            for param in &step.params {
                if !params.iter().any(|p| p.name == param.name) {
                    params.push(param.clone());
                }
            }
            for (path, hash, size) in step.inputs.iter().chain(&step.outputs) {
                if seen.insert((path.clone(), hash.clone())) {
                    artifacts.push(Artifact {
                        path: path.clone(),
                        hash: hash.clone(),
                        size: Some(*size),
                    });
                }
            }
            steps.push(StepRecord {
                index: step.index as i64,
                name: step.name.clone(),
                step_id: step.id.clone(),
                outcome: step.outcome.clone(),
                conclusion: step.conclusion.clone(),
                duration_ms: step.duration.as_millis() as i64,
                cache_key: step.cache_key.clone(),
                cache_hit: step.cache_hit,
                metrics: step_metrics,
                params,
                inputs: input_paths,
                outputs: step.outputs.iter().map(|(p, _, _)| p.clone()).collect(),
                model: step.model.clone(),
                data_checks: step.data_checks.clone(),
            });
        }
        jobs.push(JobRecord {
            job_id: report.job_id.clone(),
            name: report.name.clone(),
            matrix: report.matrix.clone(),
            result: report.result.as_str().to_string(),
            started_at: facts.started_at,
            duration_ms: report.duration.as_millis() as i64,
            image: (!report.image.is_empty()).then(|| report.image.clone()),
            image_digest: (!report.image_digest.is_empty()).then(|| report.image_digest.clone()),
            gpu_request: report.gpu_request.clone(),
            gpu_name: report.gpu_name.clone(),
            steps,
            phases: report
                .phases
                .iter()
                .map(|(phase, spent)| PhaseRecord {
                    phase: phase.as_str().to_string(),
                    duration_ms: spent.as_millis() as i64,
                })
                .collect(),
            annotations: report
                .annotations
                .iter()
                .map(|a| AnnotationRecord {
                    level: a.level.as_str().to_string(),
                    message: a.message.clone(),
                    file: a.properties.get("file").map(str::to_string),
                    line: a.properties.get("line").and_then(|l| l.parse().ok()),
                    end_line: a.properties.get("endLine").and_then(|l| l.parse().ok()),
                    title: a.properties.get("title").map(str::to_string),
                })
                .collect(),
        });
    }
    let result = if facts.interrupted {
        RunResult::Cancelled
    } else if facts
        .reports
        .iter()
        .any(|r| matches!(r.result, JobResult::Failure))
    {
        RunResult::Failure
    } else {
        RunResult::Success
    };
    let url = match (
        std::env::var("GITHUB_SERVER_URL"),
        std::env::var("GITHUB_REPOSITORY"),
        std::env::var("GITHUB_RUN_ID"),
    ) {
        (Ok(server), Ok(repo), Ok(run)) if std::env::var("GITHUB_ACTIONS").is_ok() => {
            Some(format!("{server}/{repo}/actions/runs/{run}"))
        }
        _ => None,
    };
    let record = RunRecord {
        workflow: workflow_name,
        workflow_path,
        event: options.event.clone(),
        sha: pr.head_sha.clone().unwrap_or(info.sha),
        git_ref: info.git_ref,
        branch,
        base_ref: pr.base_ref.clone(),
        pr_number: pr.number,
        started_at: facts.started_at,
        finished_at: facts.finished_at,
        result,
        url,
        gates: GateSpec::from_workflow(&workflow.gates),
        jobs,
        artifacts,
        phases: [
            ("snapshot", facts.phases.snapshot),
            ("checkout", facts.phases.checkout),
        ]
        .into_iter()
        .map(|(phase, spent)| PhaseRecord {
            phase: phase.to_string(),
            duration_ms: spent.as_millis() as i64,
        })
        .collect(),
    };
    (record, warnings)
}
