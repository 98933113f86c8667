//! The Markdown report: what the PR comment, the check run and the job summary show.

use super::cell::cell;
use super::contents::Report;
use super::diff::MetricDiff;
use super::gates::GateOutcome;
use crate::github::{GITHUB_BODY_LIMIT, marker, truncate};
use crate::metrics::format_number;
use crate::record::{RunRecord, RunResult, StoredRun, format_time};

/// Points at most in one chart; longer series are thinned evenly (the last point is kept).
const MAX_POINTS: usize = 60;

fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn run_label(run: &StoredRun) -> String {
    let r = &run.record;
    let place = match (r.pr_number, r.branch.as_deref()) {
        (Some(pr), Some(branch)) => format!("`{branch}` (PR #{pr})"),
        (Some(pr), None) => format!("PR #{pr}"),
        (None, Some(branch)) => format!("`{branch}`"),
        (None, None) => format!("`{}`", r.git_ref),
    };
    format!("run {} on {place} at `{}`", run.id, short_sha(&r.sha))
}

fn duration(ms: i64) -> String {
    let secs = ms as f64 / 1000.0;
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let total = secs.round() as i64;
        format!("{}m {:02}s", total / 60, total % 60)
    }
}

fn signed(n: f64) -> String {
    if n > 0.0 {
        format!("+{}", format_number(n))
    } else if n < 0.0 {
        format!("−{}", format_number(-n))
    } else {
        "0".to_string()
    }
}

/// `▲ +0.012`, `▼ −0.003`, `= 0`.
pub fn change_cell(diff: &MetricDiff) -> (String, String) {
    match (diff.absolute, diff.relative) {
        (Some(abs), rel) => {
            let arrow = if abs > 0.0 {
                "▲"
            } else if abs < 0.0 {
                "▼"
            } else {
                "="
            };
            let rel = match rel {
                Some(r) => format!(
                    "{}{:.2} %",
                    if r > 0.0 {
                        "+"
                    } else if r < 0.0 {
                        "−"
                    } else {
                        ""
                    },
                    (r * 100.0).abs()
                ),
                None => "—".to_string(),
            };
            (format!("{arrow} {}", signed(abs)), rel)
        }
        _ => match (&diff.value, &diff.baseline) {
            (Some(_), None) => ("new".to_string(), "—".to_string()),
            (None, Some(_)) => ("removed".to_string(), "—".to_string()),
            (Some(a), Some(b)) if a.to_string() != b.to_string() => {
                ("changed".to_string(), "—".to_string())
            }
            _ => ("—".to_string(), "—".to_string()),
        },
    }
}

impl Report {
    /// The report in Markdown (see [`render`]).
    pub fn markdown(&self) -> String {
        render(self)
    }
}

/// Renders the whole report, truncated to GitHub's limit.
pub fn render(report: &Report) -> String {
    let run = &report.run;
    let r = &run.record;
    let mut out = String::new();
    out.push_str(&marker(&r.workflow));
    out.push('\n');
    out.push_str(&headline(r, &report.gates));
    out.push_str("\n\n");
    let mut context = run_label(run);
    if let Some(url) = &r.url {
        context = format!("[{context}]({url})");
    }
    match &report.baseline {
        Some(base) => context.push_str(&format!(", compared with {}", run_label(base))),
        None => context.push_str(", no baseline run to compare with"),
    }
    out.push_str(&format!(
        "{context}. Jobs: **{}**, {} to {}.\n",
        match r.result {
            RunResult::Success => "succeeded",
            RunResult::Failure => "failed",
            RunResult::Cancelled => "cancelled",
            RunResult::Started => "still running",
            RunResult::Interrupted => "interrupted (its process was killed)",
        },
        format_time(r.started_at),
        format_time(r.finished_at)
    ));
    if let Some(links) = &report.links {
        out.push_str(&format!("{links}\n"));
    }

    if !report.gates.results.is_empty() {
        out.push_str(
            "\n### Gates\n\n| Gate | Value | Bound | Result |\n| --- | ---: | ---: | --- |\n",
        );
        for gate in &report.gates.results {
            out.push_str(&format!(
                "| `{}` {} | {} | {} | {} |\n",
                cell(&gate.metric),
                cell(&gate.condition),
                gate.value.map(format_number).unwrap_or_else(|| "—".into()),
                gate.bound.map(format_number).unwrap_or_else(|| "—".into()),
                if gate.passed {
                    "✅ passed".to_string()
                } else {
                    format!("❌ {}", cell(&gate.reason))
                }
            ));
        }
    }

    out.push_str(&super::mlops::models_section(&report.models));
    out.push_str(&super::deployments::deployments_section(
        &report.deployments,
    ));
    out.push_str(&super::mlops::data_section(r));

    out.push_str("\n### Metrics\n\n");
    if report.diffs.is_empty() {
        out.push_str("The run reported no metrics.\n");
    } else {
        out.push_str("| Metric | Value | Baseline | Change | Relative |\n| --- | ---: | ---: | ---: | ---: |\n");
        for diff in &report.diffs {
            let (change, relative) = change_cell(diff);
            let failed = report
                .gates
                .results
                .iter()
                .any(|g| g.metric == diff.name && !g.passed);
            let name = if failed {
                format!("**{}** ❌", cell(&diff.name))
            } else {
                cell(&diff.name)
            };
            out.push_str(&format!(
                "| {name} | {} | {} | {change} | {relative} |\n",
                diff.value
                    .as_ref()
                    .map(|v| cell(&v.to_string()))
                    .unwrap_or_else(|| "—".into()),
                diff.baseline
                    .as_ref()
                    .map(|v| cell(&v.to_string()))
                    .unwrap_or_else(|| "—".into()),
            ));
        }
    }

    let params = r.params();
    if !params.is_empty() {
        out.push_str("\n<details><summary>Params</summary>\n\n| Param | Value |\n| --- | --- |\n");
        for p in &params {
            out.push_str(&format!("| {} | {} |\n", cell(&p.name), cell(&p.value)));
        }
        out.push_str("\n</details>\n");
    }

    let series = r.series();
    let history = history_series(report);
    if !series.is_empty() || !history.is_empty() {
        out.push_str("\n### Charts\n");
        for (name, points) in &series {
            let labels: Vec<String> = points.iter().map(|(s, _)| s.to_string()).collect();
            let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
            out.push_str(&chart(name, "step", &labels, &values));
        }
        for (name, points) in &history {
            let labels: Vec<String> = points.iter().map(|(id, _)| format!("#{id}")).collect();
            let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
            out.push_str(&chart(
                &format!("{name} across recent runs"),
                "run",
                &labels,
                &values,
            ));
        }
    }

    out.push_str("\n### Stages\n\n");
    let mut restored = 0;
    let mut ran = 0;
    let mut rows = String::new();
    for job in &r.jobs {
        for step in &job.steps {
            let cache = match (&step.cache_key, step.cache_hit) {
                (_, true) => {
                    restored += 1;
                    "♻️ restored from cache"
                }
                (Some(_), false) => {
                    ran += 1;
                    "ran, cached"
                }
                (None, false) => {
                    ran += 1;
                    "ran"
                }
            };
            rows.push_str(&format!(
                "| {} | {} | {} | {} | {cache} |\n",
                cell(&job.name),
                cell(&step.name),
                result_icon(&step.conclusion),
                duration(step.duration_ms)
            ));
        }
    }
    if r.jobs.is_empty() {
        out.push_str("No jobs ran.\n");
    } else {
        out.push_str(&format!(
            "{ran} step{} ran, {restored} restored from cache. Jobs: {}.\n\n",
            if ran == 1 { "" } else { "s" },
            r.jobs
                .iter()
                .map(|j| format!(
                    "{} {} {}",
                    j.name,
                    result_icon(&j.result).split(' ').next().unwrap_or_default(),
                    duration(j.duration_ms)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out.push_str("| Job | Step | Result | Time | Cache |\n| --- | --- | --- | ---: | --- |\n");
        out.push_str(&rows);
    }
    out.push_str(&format!("\n{}\n", gpu_line(r)));
    truncate(&out, GITHUB_BODY_LIMIT, &report.full_report_hint)
}

fn result_icon(result: &str) -> String {
    match result {
        "success" => "✅ success".to_string(),
        "failure" => "❌ failure".to_string(),
        "skipped" => "⏭️ skipped".to_string(),
        "cancelled" => "🚫 cancelled".to_string(),
        other => other.to_string(),
    }
}

fn headline(r: &RunRecord, gates: &GateOutcome) -> String {
    let total = gates.results.len();
    if total == 0 {
        let icon = if r.result == RunResult::Success {
            "✅"
        } else {
            "❌"
        };
        format!(
            "## {icon} mlci · {}: no gates, run {}",
            r.workflow,
            r.result.as_str()
        )
    } else if gates.passed() {
        format!("## ✅ mlci · {}: all {total} gates passed", r.workflow)
    } else {
        format!(
            "## ❌ mlci · {}: {} of {total} gates failed",
            r.workflow,
            gates.failed_count()
        )
    }
}

fn gpu_line(r: &RunRecord) -> String {
    let gpus: Vec<String> = r
        .jobs
        .iter()
        .filter(|j| j.gpu_name.is_some() || j.gpu_request.is_some())
        .map(|j| {
            let mut text = format!("{}: ", j.name);
            match (&j.gpu_name, &j.gpu_request) {
                (Some(name), Some(req)) => text.push_str(&format!("{name} (`--gpus {req}`)")),
                (Some(name), None) => text.push_str(name),
                (None, Some(req)) => text.push_str(&format!("`--gpus {req}`")),
                (None, None) => {}
            }
            text
        })
        .collect();
    if gpus.is_empty() {
        "**GPU:** none requested.".to_string()
    } else {
        format!("**GPU:** {}.", gpus.join("; "))
    }
}

/// Per metric, its value in each recent run (oldest first), when at least two runs have it.
fn history_series(report: &Report) -> Vec<(String, Vec<(i64, f64)>)> {
    let mut out: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
    for run in &report.history {
        for (name, value) in run.record.metric_values() {
            let Some(v) = value.as_number() else { continue };
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, points)) => points.push((run.id, v)),
                None => out.push((name, vec![(run.id, v)])),
            }
        }
    }
    out.retain(|(_, points)| points.len() >= 2);
    out
}

fn thin<T: Clone>(items: &[T]) -> Vec<T> {
    if items.len() <= MAX_POINTS {
        return items.to_vec();
    }
    let step = items.len() as f64 / (MAX_POINTS - 1) as f64;
    let mut out: Vec<T> = (0..MAX_POINTS - 1)
        .map(|i| items[(i as f64 * step) as usize].clone())
        .collect();
    out.push(items[items.len() - 1].clone());
    out
}

/// A Mermaid `xychart-beta` line chart, with its numbers in a table below.
pub fn chart(title: &str, x_name: &str, labels: &[String], values: &[f64]) -> String {
    let labels = thin(labels);
    let values = thin(values);
    let quote = |s: &str| s.replace('"', "'");
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let pad = if max > min {
        (max - min) * 0.1
    } else {
        min.abs().max(1.0) * 0.05
    };
    let mut out = format!(
        "\n```mermaid\nxychart-beta\n    title \"{}\"\n    x-axis \"{x_name}\" [{}]\n    y-axis \"{}\" {} --> {}\n    line [{}]\n```\n",
        quote(title),
        labels
            .iter()
            .map(|l| format!("\"{}\"", quote(l)))
            .collect::<Vec<_>>()
            .join(", "),
        quote(title.split(" across").next().unwrap_or(title)),
        format_number(min - pad),
        format_number(max + pad),
        values
            .iter()
            .map(|v| format_number(*v))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(&format!(
        "\n<details><summary>{} in numbers</summary>\n\n| {x_name} | value |\n| ---: | ---: |\n",
        cell(title)
    ));
    for (label, value) in labels.iter().zip(&values) {
        out.push_str(&format!(
            "| {} | {} |\n",
            cell(label),
            format_number(*value)
        ));
    }
    out.push_str("\n</details>\n");
    out
}
