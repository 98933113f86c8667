//! What `mlci run` prints at the end (a table per workflow, or JSON), and the
//! inner job summaries forwarded to the outer GitHub job.

use super::table::table;

/// Inside GitHub Actions, the job summaries of the inner run go to the
/// outer job's summary page too.
pub(super) fn forward_step_summaries(runs: &[(String, Vec<crate::run::JobReport>)]) {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let mut text = String::new();
    for report in runs.iter().flat_map(|(_, reports)| reports) {
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

pub(super) fn print_summary(runs: &[(String, Vec<crate::run::JobReport>)], json: bool) {
    if json {
        let value: Vec<serde_json::Value> = runs
            .iter()
            .map(|(path, reports)| {
                serde_json::json!({
                    "workflow": path,
                    "jobs": reports.iter().map(|r| serde_json::json!({
                        "job": r.job_id,
                        "name": r.name,
                        "result": r.result.as_str(),
                        "duration_seconds": r.duration.as_secs_f64(),
                        "error": r.error,
                        "summary": r.summary,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return;
    }
    for (path, reports) in runs {
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
