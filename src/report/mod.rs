//! From the run store to what people read: gates, diffs against the
//! baseline, the Markdown report, and its publication (file, terminal, GitHub).
//!
//! The engine calls [`after_run`] once a run is recorded; `mlci report` calls
//! [`prepare`] and [`publish`] for a stored run.

pub mod cli;
pub mod gates;
pub mod markdown;

use crate::github::{GithubConfig, Publication, PublishMode};
use crate::metrics::MetricValue;
use crate::record::{RunFilter, RunId, Store, StoreError, StoredRun};
use gates::{GateCheck, GateOutcome};
use std::path::PathBuf;

/// A metric's value against the baseline's.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricDiff {
    pub name: String,
    pub value: Option<MetricValue>,
    pub baseline: Option<MetricValue>,
    /// value − baseline, when both are numbers.
    pub absolute: Option<f64>,
    /// (value − baseline) / |baseline|, when both are numbers and the baseline is not 0.
    pub relative: Option<f64>,
}

/// Metrics of the run in its order, then metrics only the baseline has.
pub fn diff(
    current: &[(String, MetricValue)],
    baseline: &[(String, MetricValue)],
) -> Vec<MetricDiff> {
    let mut out: Vec<MetricDiff> = current
        .iter()
        .map(|(name, value)| {
            let base = baseline
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone());
            let (absolute, relative) =
                match (value.as_number(), base.as_ref().and_then(|b| b.as_number())) {
                    (Some(a), Some(b)) => (Some(a - b), (b != 0.0).then(|| (a - b) / b.abs())),
                    _ => (None, None),
                };
            MetricDiff {
                name: name.clone(),
                value: Some(value.clone()),
                baseline: base,
                absolute,
                relative,
            }
        })
        .collect();
    for (name, value) in baseline {
        if !current.iter().any(|(n, _)| n == name) {
            out.push(MetricDiff {
                name: name.clone(),
                value: None,
                baseline: Some(value.clone()),
                absolute: None,
                relative: None,
            });
        }
    }
    out
}

/// Everything a report shows, read from the store.
#[derive(Clone, Debug)]
pub struct Report {
    pub run: StoredRun,
    pub baseline: Option<StoredRun>,
    /// Recent successful runs of the same workflow and branch, oldest first, ending with this run.
    pub history: Vec<StoredRun>,
    pub gates: GateOutcome,
    pub diffs: Vec<MetricDiff>,
    /// A line of links (run page, commit), when known.
    pub links: Option<String>,
    /// What to do to see the whole report when it is truncated.
    pub full_report_hint: String,
}

impl Report {
    pub fn markdown(&self) -> String {
        markdown::render(self)
    }
}

/// How a report is produced and where it goes.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// Write the Markdown here.
    pub output: Option<PathBuf>,
    /// Post to GitHub (comment, check run or statuses, job summary).
    pub github: bool,
    /// The token, else `GITHUB_TOKEN` from the environment.
    pub token: Option<String>,
    /// Which of comment, check and summary to publish with `github`.
    pub mode: PublishMode,
    /// The branch whose latest successful run is the baseline (default: the PR's base, else main).
    pub baseline_ref: Option<String>,
    /// How many runs the history charts cover.
    pub history: usize,
    /// Print nothing to the terminal (the gates' lines are printed otherwise).
    pub quiet: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Gates(String),
    #[error("cannot write the report to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Github(#[from] crate::github::GithubError),
}

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
    Ok(Report {
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

/// What [`publish`] did.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// One sentence per thing worth saying (where the report went, what was refused).
    pub messages: Vec<String>,
}

/// Writes the report where the options say: the file, and GitHub.
pub async fn publish(report: &Report, options: &ReportOptions) -> Result<Published, ReportError> {
    let markdown = report.markdown();
    let mut published = Published::default();
    if let Some(path) = &options.output {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(path, &markdown).map_err(|source| ReportError::Write {
            path: path.display().to_string(),
            source,
        })?;
        published
            .messages
            .push(format!("report written to {}", path.display()));
    }
    if options.github {
        let config = GithubConfig::from_env(options.token.clone())?;
        let publication = Publication::from_report(report, &markdown);
        let outcome = crate::github::publish(&config, &publication, options.mode).await?;
        published.messages.extend(outcome.messages);
    }
    Ok(published)
}

/// The end of `mlci run`: evaluates the gates of the recorded run, writes the
/// report (`--report FILE.md`) and publishes it (`--github`). The run fails
/// (exit 1) when `!outcome.passed()`.
///
/// The store is read before the first `.await`, but `&Store` lives in the
/// future, which is therefore not `Send`: call it from `block_on` or a local
/// task, not `tokio::spawn`.
pub async fn after_run(
    store: &Store,
    run_id: RunId,
    gates: &[crate::workflow::Gate],
    options: &ReportOptions,
) -> Result<GateOutcome, ReportError> {
    let report = prepare(store, run_id, gates, options)?;
    if !options.quiet {
        eprint!("{}", report.gates.render_text());
    }
    let published = publish(&report, options).await?;
    if !options.quiet {
        for message in &published.messages {
            eprintln!("{message}");
        }
    }
    Ok(report.gates)
}
