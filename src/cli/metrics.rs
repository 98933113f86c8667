//! `mlci metrics show|diff`.

use super::args::MetricsCommand;
use super::run_store::{describe_run, fail, find_run, open, resolve};
use super::table::table;
use crate::metrics::format_number;
use crate::record::StoredRun;
use crate::report::{MetricDiff, diff};
use serde_json::json;
use std::process::ExitCode;

pub(super) fn metrics(command: MetricsCommand) -> ExitCode {
    match command {
        MetricsCommand::Show { run, store: args } => {
            let store = match open(&args) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let run = match find_run(&store, run.as_deref(), &args) {
                Ok(run) => run,
                Err(code) => return code,
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
            let run = match find_run(&store, a.as_deref(), &args) {
                Ok(run) => run,
                Err(code) => return code,
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
fn diff_table(diffs: &[MetricDiff]) -> String {
    let mut rows = vec![[
        "METRIC".to_string(),
        "VALUE".to_string(),
        "BASELINE".to_string(),
        "CHANGE".to_string(),
        "RELATIVE".to_string(),
    ]];
    for d in diffs {
        let (change, relative) = crate::report::markdown::change_cell(d);
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
