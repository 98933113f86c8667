//! What `mlci run` prints at the end (a table per workflow, or JSON), and the
//! inner job summaries forwarded to the outer GitHub job.

use super::table::table;
use crate::run::JobReport;
use crate::timings::{Phase, RunPhases};
use std::time::Duration;

/// One workflow's run, as the summary prints it.
pub(super) struct WorkflowRun {
    /// The workflow file.
    pub path: String,
    pub jobs: Vec<JobReport>,
    pub phases: RunPhases,
}

/// Inside GitHub Actions, the job summaries of the inner run go to the
/// outer job's summary page too.
pub(super) fn forward_step_summaries(runs: &[WorkflowRun]) {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let mut text = String::new();
    for report in runs.iter().flat_map(|run| &run.jobs) {
        if !report.summary.is_empty() {
            text.push_str(&format!("### {}\n\n{}\n", report.name, report.summary));
        }
    }
    if text.is_empty() {
        return;
    }
    use std::io::Write;
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(error) = written {
        eprintln!("warning: cannot write GITHUB_STEP_SUMMARY: {error}");
    }
}

pub(super) fn print_summary(runs: &[WorkflowRun], json: bool) {
    if json {
        let value: Vec<serde_json::Value> = runs
            .iter()
            .map(|run| {
                serde_json::json!({
                    "workflow": run.path,
                    "jobs": run.jobs.iter().map(|r| serde_json::json!({
                        "job": r.job_id,
                        "name": r.name,
                        "result": r.result.as_str(),
                        "duration_seconds": r.duration.as_secs_f64(),
                        "error": r.error,
                        "summary": r.summary,
                        "phases": r.phases.iter().map(|(phase, spent)| {
                            (phase.as_str().to_string(), serde_json::json!(spent.as_secs_f64()))
                        }).collect::<serde_json::Map<_, _>>(),
                    })).collect::<Vec<_>>(),
                    "phases": {
                        "snapshot": run.phases.snapshot.as_secs_f64(),
                        "checkout": run.phases.checkout.as_secs_f64(),
                    },
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return;
    }
    for WorkflowRun {
        path,
        jobs: reports,
        ..
    } in runs
    {
        for report in reports.iter().filter(|r| !r.summary.is_empty()) {
            println!(
                "\n── summary of {} ──\n{}",
                report.name,
                report.summary.trim_end()
            );
        }
        println!("\n{path}");
        let mut rows = vec![["JOB".to_string(), "RESULT".to_string(), "TIME".to_string()]];
        for report in reports {
            rows.push([
                report.name.clone(),
                report.result.as_str().to_string(),
                format!("{:.1}s", report.duration.as_secs_f64()),
            ]);
        }
        print!("{}", table(&rows));
    }
}

/// `--timings`: per workflow, a row per job with the seconds of each phase
/// that any job spent time in, what no phase covers (`other`: contexts,
/// waiting for a concurrency group, the job's report) and the total; then
/// what the run spent outside its jobs.
pub(super) fn print_timings(runs: &[WorkflowRun]) {
    for run in runs {
        let used: Vec<Phase> = Phase::ALL
            .into_iter()
            .filter(|p| run.jobs.iter().any(|j| !j.phases.get(*p).is_zero()))
            .collect();
        let mut header = vec!["JOB".to_string()];
        header.extend(used.iter().map(|p| p.as_str().to_string()));
        header.extend(["other".to_string(), "total".to_string()]);
        let mut rows = vec![header];
        for job in &run.jobs {
            let mut row = vec![job.name.clone()];
            row.extend(used.iter().map(|p| seconds(job.phases.get(*p))));
            row.push(seconds(job.duration.saturating_sub(job.phases.total())));
            row.push(seconds(job.duration));
            rows.push(row);
        }
        println!("\ntimings of {} (seconds)", run.path);
        print!("{}", table(&rows));
        println!(
            "  outside the jobs: snapshot {}, checkout of outputs {} (the last containers are removed in the background)",
            seconds(run.phases.snapshot),
            seconds(run.phases.checkout)
        );
    }
}

fn seconds(spent: Duration) -> String {
    format!("{:.2}", spent.as_secs_f64())
}
