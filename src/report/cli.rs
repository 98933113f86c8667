//! `mlci metrics show|diff`, `mlci runs ls|show`, `mlci report`.

use super::{MetricDiff, ReportOptions, diff};
use crate::cli::{MetricsCommand, ReportArgs, RunsCommand, StoreArgs, table};
use crate::metrics::format_number;
use crate::record::{RunFilter, RunId, Store, StoreError, StoredRun, format_time};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

fn open(args: &StoreArgs) -> Result<Store, ExitCode> {
    let path = crate::record::default_path(Path::new("."), args.db.as_deref());
    if args.db.is_none() && std::env::var_os("MLCI_DB").is_none() && !path.exists() {
        eprintln!(
            "error: no run store at {}: run `mlci run` first, or name one with --db or MLCI_DB",
            path.display()
        );
        return Err(ExitCode::FAILURE);
    }
    Store::open(&path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn resolve(store: &Store, spec: Option<&str>, args: &StoreArgs) -> Result<RunId, ExitCode> {
    store
        .resolve(spec.unwrap_or("latest"), args.workflow.as_deref())
        .map_err(|e| match e {
            StoreError::NoRun(what) if what == "yet" => {
                fail("the run store has no runs yet: run `mlci run` first")
            }
            other => fail(other),
        })
}

fn describe_run(run: &StoredRun) -> String {
    let r = &run.record;
    let place = r.branch.clone().unwrap_or_else(|| r.git_ref.clone());
    let pr = r
        .pr_number
        .map(|n| format!(", PR #{n}"))
        .unwrap_or_default();
    format!(
        "run {} of {} on {place}{pr} at {} ({})",
        run.id,
        r.workflow,
        &r.sha[..r.sha.len().min(7)],
        r.result.as_str()
    )
}

pub fn metrics(command: MetricsCommand) -> ExitCode {
    match command {
        MetricsCommand::Show { run, store: args } => {
            let store = match open(&args) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let id = match resolve(&store, run.as_deref(), &args) {
                Ok(id) => id,
                Err(code) => return code,
            };
            let run = match store.get_run(id) {
                Ok(run) => run,
                Err(e) => return fail(e),
            };
            let values = run.record.metric_values();
            let params = run.record.params();
            if args.json {
                let value = json!({
                    "run": run.id,
                    "metrics": values.iter().map(|(n, v)| (n.clone(), match v {
                        crate::metrics::MetricValue::Number(x) => json!(x),
                        crate::metrics::MetricValue::Text(t) => json!(t),
                    })).collect::<serde_json::Map<_, _>>(),
                    "params": params.iter().map(|p| (p.name.clone(), json!(p.value))).collect::<serde_json::Map<_, _>>(),
                    "series": run.record.series().iter().map(|(n, pts)| (n.clone(), json!(pts))).collect::<serde_json::Map<_, _>>(),
                });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            println!("{}", describe_run(&run));
            if values.is_empty() {
                println!("  no metrics");
            } else {
                let mut rows = vec![["METRIC".to_string(), "VALUE".to_string()]];
                rows.extend(values.iter().map(|(n, v)| [n.clone(), v.to_string()]));
                print!("{}", table(&rows));
            }
            for (name, points) in run.record.series() {
                let last = points
                    .last()
                    .map(|(s, v)| format!("step {s}: {}", format_number(*v)));
                println!(
                    "  series {name}: {} points, last {}",
                    points.len(),
                    last.unwrap_or_default()
                );
            }
            if !params.is_empty() {
                let mut rows = vec![["PARAM".to_string(), "VALUE".to_string()]];
                rows.extend(params.iter().map(|p| [p.name.clone(), p.value.clone()]));
                print!("{}", table(&rows));
            }
            ExitCode::SUCCESS
        }
        MetricsCommand::Diff {
            a,
            b,
            baseline,
            store: args,
        } => {
            let store = match open(&args) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let a_id = match resolve(&store, a.as_deref(), &args) {
                Ok(id) => id,
                Err(code) => return code,
            };
            let run = match store.get_run(a_id) {
                Ok(run) => run,
                Err(e) => return fail(e),
            };
            let base_id = match &b {
                Some(spec) => match resolve(&store, Some(spec), &args) {
                    Ok(id) => Some(id),
                    Err(code) => return code,
                },
                None => match store.baseline(&run, baseline.as_deref()) {
                    Ok(id) => id,
                    Err(e) => return fail(e),
                },
            };
            let base = match base_id.map(|id| store.get_run(id)).transpose() {
                Ok(base) => base,
                Err(e) => return fail(e),
            };
            let diffs = diff(
                &run.record.metric_values(),
                &base
                    .as_ref()
                    .map(|b| b.record.metric_values())
                    .unwrap_or_default(),
            );
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&diff_json(&run, base.as_ref(), &diffs))
                        .unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            println!("{}", describe_run(&run));
            match &base {
                Some(base) => println!("baseline: {}", describe_run(base)),
                None => println!(
                    "baseline: none (no successful run of the base branch; name one with --baseline REF or a second run)"
                ),
            }
            print!("{}", diff_table(&diffs));
            ExitCode::SUCCESS
        }
    }
}

/// The table of `mlci metrics diff`.
pub fn diff_table(diffs: &[MetricDiff]) -> String {
    let mut rows = vec![[
        "METRIC".to_string(),
        "VALUE".to_string(),
        "BASELINE".to_string(),
        "CHANGE".to_string(),
        "RELATIVE".to_string(),
    ]];
    for d in diffs {
        let (change, relative) = super::markdown::change_cell(d);
        rows.push([
            d.name.clone(),
            d.value
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            d.baseline
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            change.replace('—', "-"),
            relative.replace('—', "-"),
        ]);
    }
    table(&rows)
}

fn diff_json(run: &StoredRun, base: Option<&StoredRun>, diffs: &[MetricDiff]) -> serde_json::Value {
    let value = |v: &Option<crate::metrics::MetricValue>| match v {
        Some(crate::metrics::MetricValue::Number(n)) => json!(n),
        Some(crate::metrics::MetricValue::Text(t)) => json!(t),
        None => serde_json::Value::Null,
    };
    json!({
        "run": run.id,
        "baseline": base.map(|b| b.id),
        "metrics": diffs.iter().map(|d| json!({
            "name": d.name,
            "value": value(&d.value),
            "baseline": value(&d.baseline),
            "change": d.absolute,
            "relative": d.relative,
        })).collect::<Vec<_>>(),
    })
}

pub fn runs(command: RunsCommand) -> ExitCode {
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
            let id = match resolve(&store, run.as_deref(), &args) {
                Ok(id) => id,
                Err(code) => return code,
            };
            let run = match store.get_run(id) {
                Ok(run) => run,
                Err(e) => return fail(e),
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
            }
            if !r.artifacts.is_empty() {
                println!("\n  artifacts");
                let mut rows = vec![["PATH".to_string(), "HASH".to_string()]];
                for a in &r.artifacts {
                    rows.push([a.path.clone(), a.hash.chars().take(16).collect()]);
                }
                print!("{}", table(&rows));
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

pub fn report(args: ReportArgs) -> ExitCode {
    let mode = match crate::github::PublishMode::parse(&args.to) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(crate::cli::EXIT_INVALID);
        }
    };
    let store = match open(&args.store) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let id = match resolve(&store, args.run.as_deref(), &args.store) {
        Ok(id) => id,
        Err(code) => return code,
    };
    let options = ReportOptions {
        output: args.output.clone(),
        github: args.github,
        token: args.token.clone(),
        mode,
        baseline_ref: args.baseline.clone(),
        history: 10,
        quiet: false,
    };
    let token = options
        .token
        .clone()
        .or_else(|| std::env::var("GITHUB_TOKEN").ok())
        .filter(|t| !t.is_empty());
    let redact = |text: String| crate::github::redact(&text, token.as_deref());
    let report = match super::prepare(&store, id, &[], &options) {
        Ok(report) => report,
        Err(e) => return fail(redact(e.to_string())),
    };
    drop(store);
    if options.output.is_none() && !options.github {
        print!("{}", report.markdown());
    } else {
        eprint!("{}", report.gates.render_text());
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(super::publish(&report, &options)) {
        Ok(published) => {
            for message in published.messages {
                eprintln!("{}", redact(message));
            }
        }
        Err(e) => {
            eprintln!("error: {}", redact(e.to_string()));
            return ExitCode::FAILURE;
        }
    }
    if report.gates.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
