//! `mlci runs ls|show`.

use super::args::RunsCommand;
use super::run_store::{describe_run, fail, find_run, open};
use super::table::table;
use crate::record::{PhaseRecord, RunFilter, format_time};
use serde_json::json;
use std::process::ExitCode;

pub(super) fn runs(command: RunsCommand) -> ExitCode {
    match command {
        RunsCommand::Ls {
            branch,
            limit,
            store: args,
        } => {
            let store = match open(&args) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let runs = match store.list_runs(&RunFilter {
                workflow: args.workflow.clone(),
                branch,
                limit: Some(limit),
                ..RunFilter::default()
            }) {
                Ok(runs) => runs,
                Err(e) => return fail(e),
            };
            if args.json {
                let list: Vec<_> = runs
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.id, "workflow": r.workflow, "event": r.event, "branch": r.branch,
                            "sha": r.sha, "pr": r.pr_number, "started_at": r.started_at,
                            "finished_at": r.finished_at, "result": r.result.as_str(),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            if runs.is_empty() {
                println!("no runs recorded");
                return ExitCode::SUCCESS;
            }
            let mut rows = vec![[
                "RUN".to_string(),
                "WORKFLOW".to_string(),
                "EVENT".to_string(),
                "BRANCH".to_string(),
                "COMMIT".to_string(),
                "STARTED".to_string(),
                "TIME".to_string(),
                "RESULT".to_string(),
            ]];
            for r in &runs {
                rows.push([
                    r.id.to_string(),
                    r.workflow.clone(),
                    r.event.clone(),
                    match (r.branch.clone(), r.pr_number) {
                        (Some(b), Some(pr)) => format!("{b} (#{pr})"),
                        (Some(b), None) => b,
                        (None, Some(pr)) => format!("#{pr}"),
                        (None, None) => "-".to_string(),
                    },
                    r.sha[..r.sha.len().min(7)].to_string(),
                    format_time(r.started_at),
                    format!("{:.1}s", (r.finished_at - r.started_at) as f64 / 1000.0),
                    r.result.as_str().to_string(),
                ]);
            }
            print!("{}", table(&rows));
            ExitCode::SUCCESS
        }
        RunsCommand::Show { run, store: args } => {
            let store = match open(&args) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let run = match find_run(&store, run.as_deref(), &args) {
                Ok(run) => run,
                Err(code) => return code,
            };
            let r = &run.record;
            println!("{}", describe_run(&run));
            println!(
                "  workflow file {}, event {}, ref {}",
                r.workflow_path, r.event, r.git_ref
            );
            println!(
                "  {} to {}",
                format_time(r.started_at),
                format_time(r.finished_at)
            );
            if let Some(url) = &r.url {
                println!("  {url}");
            }
            for job in &r.jobs {
                let mut extra = Vec::new();
                if let Some(image) = &job.image {
                    extra.push(format!("image {image}"));
                }
                if let Some(digest) = &job.image_digest {
                    extra.push(digest.clone());
                }
                if let Some(gpu) = job.gpu_name.as_ref().or(job.gpu_request.as_ref()) {
                    extra.push(format!("GPU {gpu}"));
                }
                println!(
                    "\n  job {}: {} in {:.1}s{}",
                    job.name,
                    job.result,
                    job.duration_ms as f64 / 1000.0,
                    if extra.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", extra.join(", "))
                    }
                );
                let mut rows = vec![[
                    "#".to_string(),
                    "STEP".to_string(),
                    "RESULT".to_string(),
                    "TIME".to_string(),
                    "CACHE".to_string(),
                ]];
                for step in &job.steps {
                    rows.push([
                        step.index.to_string(),
                        step.name.clone(),
                        step.conclusion.clone(),
                        format!("{:.1}s", step.duration_ms as f64 / 1000.0),
                        match (&step.cache_key, step.cache_hit) {
                            (Some(_), true) => "hit".to_string(),
                            (Some(_), false) => "miss".to_string(),
                            (None, _) => "-".to_string(),
                        },
                    ]);
                }
                print!("{}", table(&rows));
                if !job.phases.is_empty() {
                    println!("  time by phase: {}", phase_list(&job.phases));
                }
            }
            if !r.phases.is_empty() {
                println!("\n  outside the jobs: {}", phase_list(&r.phases));
            }
            if !r.artifacts.is_empty() {
                println!("\n  artifacts");
                let mut rows = vec![["PATH".to_string(), "HASH".to_string()]];
                for a in &r.artifacts {
                    rows.push([a.path.clone(), a.hash.chars().take(16).collect()]);
                }
                print!("{}", table(&rows));
            }
            let checks: Vec<_> = r
                .jobs
                .iter()
                .flat_map(|j| j.steps.iter().flat_map(|s| &s.data_checks))
                .collect();
            if !checks.is_empty() {
                println!("\n  data checks");
                for check in checks {
                    let verdict = if check.passed { "passed" } else { "FAILED" };
                    println!("  {} against {}: {verdict}", check.path, check.schema);
                    for failure in &check.failures {
                        println!("    {failure}");
                    }
                }
            }
            let models = store.candidates(run.id).unwrap_or_default();
            if !models.is_empty() {
                println!("\n  models");
                for model in &models {
                    let what = match model.version {
                        Some(v) => {
                            format!("{}@{v} {}", model.candidate.name, model.status.as_str())
                        }
                        None => format!("{} {}", model.candidate.name, model.status.as_str()),
                    };
                    println!("  {what} (from {}): {}", model.candidate.path, model.reason);
                }
            }
            let values = r.metric_values();
            if !values.is_empty() {
                println!("\n  metrics");
                let mut rows = vec![["METRIC".to_string(), "VALUE".to_string()]];
                rows.extend(values.iter().map(|(n, v)| [n.clone(), v.to_string()]));
                print!("{}", table(&rows));
            }
            ExitCode::SUCCESS
        }
    }
}

/// `container 0.42s, steps 1.20s`: a recorded job's (or run's) time by phase.
fn phase_list(phases: &[PhaseRecord]) -> String {
    phases
        .iter()
        .map(|p| format!("{} {:.2}s", p.phase, p.duration_ms as f64 / 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}
