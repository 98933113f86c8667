//! The record of a run: plain data that the engine fills and the store gives back.

use super::gate_spec::GateSpec;
use crate::metrics::{Metric, Param};
use std::collections::BTreeMap;

/// A run's id in the store (`runs.id`), shown to users as `#12`.
pub type RunId = i64;

/// What the engine knows about a run when it ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunRecord {
    /// The workflow's `name:`, else its file name; reports and comments are per workflow.
    pub workflow: String,
    /// The workflow file, relative to the project.
    pub workflow_path: String,
    /// The event that triggered the run (`push`, `pull_request`…).
    pub event: String,
    pub sha: String,
    /// `refs/heads/feature`, `refs/pull/7/merge`…
    pub git_ref: String,
    /// The branch the run is about: the head branch of a pull request, else the pushed branch.
    pub branch: Option<String>,
    /// The base branch of a pull request: where the baseline comes from.
    pub base_ref: Option<String>,
    pub pr_number: Option<u64>,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    pub finished_at: i64,
    pub result: RunResult,
    /// A link to the run (the Actions run page inside GitHub), when there is one.
    pub url: Option<String>,
    /// The workflow's `gates:`, as written (`accuracy`, `>= 0.90`).
    pub gates: Vec<GateSpec>,
    pub jobs: Vec<JobRecord>,
    /// Artifacts known to the run (inputs and outputs of steps); steps refer to them by path.
    pub artifacts: Vec<Artifact>,
    /// Time the run spent outside its jobs (`snapshot`, `checkout`), in milliseconds.
    pub phases: Vec<PhaseRecord>,
}

/// Time spent in one phase (`container`, `steps`… as `crate::timings::Phase`
/// names them), in milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhaseRecord {
    pub phase: String,
    pub duration_ms: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunResult {
    #[default]
    Success,
    Failure,
    Cancelled,
    /// Still going: written when the run starts, replaced when it ends.
    Started,
    /// Its process was killed before it could record how the run ended.
    Interrupted,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Failure => "failure",
            RunResult::Cancelled => "cancelled",
            RunResult::Started => "started",
            RunResult::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> RunResult {
        match text {
            "success" => RunResult::Success,
            "cancelled" => RunResult::Cancelled,
            "started" => RunResult::Started,
            "interrupted" => RunResult::Interrupted,
            _ => RunResult::Failure,
        }
    }
}

/// One job instance (one cell of a matrix).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobRecord {
    /// The job's id in the workflow (`train`).
    pub job_id: String,
    /// The name shown (`train (forest)`).
    pub name: String,
    /// The matrix values of this instance.
    pub matrix: BTreeMap<String, String>,
    /// `success`, `failure`, `cancelled` or `skipped`.
    pub result: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    /// The GPU request from `container.options` (`all`, `2`, `device=0,1`).
    pub gpu_request: Option<String>,
    /// The GPU(s) the job saw (`NVIDIA H100 80GB HBM3`), when known.
    pub gpu_name: Option<String>,
    pub steps: Vec<StepRecord>,
    /// Where the job's time went, phase by phase.
    pub phases: Vec<PhaseRecord>,
    /// `::error file=,line=::` and friends, for check-run annotations.
    pub annotations: Vec<AnnotationRecord>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepRecord {
    /// Position in the job, from 0.
    pub index: i64,
    pub name: String,
    /// The step's `id:`.
    pub step_id: Option<String>,
    /// `success`, `failure`, `cancelled`, `skipped`: before continue-on-error.
    pub outcome: String,
    /// After continue-on-error.
    pub conclusion: String,
    pub duration_ms: i64,
    pub cache_key: Option<String>,
    /// The step did not run: its outputs and metrics came from the cache.
    pub cache_hit: bool,
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    /// Paths of artifacts (see [`RunRecord::artifacts`]) the step read.
    pub inputs: Vec<String>,
    /// Paths of artifacts the step wrote.
    pub outputs: Vec<String>,
    /// Its `register:` model, a candidate version of the registry.
    pub model: Option<ModelCandidate>,
    /// Its `validate:` checks.
    pub data_checks: Vec<DataCheckRecord>,
}

/// The model a `register:` step left, stored in the cache; it becomes a
/// registry version after the run when the run's gates pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelCandidate {
    pub name: String,
    /// The registered file or directory, relative to the workspace.
    pub path: String,
    /// The BLAKE3 tree hash of its content.
    pub tree_hash: String,
    /// The cache entry that holds its files.
    pub entry_key: String,
    pub size: u64,
    pub promote_alias: Option<String>,
    /// The promotion condition as written (`accuracy >= champion + 0.005`).
    pub promote_if: Option<String>,
}

/// One dataset checked by a `validate:` step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataCheckRecord {
    /// The dataset, relative to the workspace.
    pub path: String,
    /// The BLAKE3 of its content.
    pub hash: String,
    pub schema: String,
    pub passed: bool,
    /// One line per failed rule (column, rule, offending values).
    pub failures: Vec<String>,
    /// Drift per column against the baseline run's statistics.
    pub drift: Vec<ColumnDrift>,
    /// The dataset's statistics (JSON), the baseline of later runs.
    pub stats: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnDrift {
    pub column: String,
    /// The method's key: `ks`, `chi-square`, `fisher-exact`, `wasserstein`,
    /// `jensen-shannon`, `psi`, `l-infinity`; empty when not tested.
    pub measure: String,
    /// The method's figure: D, χ² or the distance (runs before p-values
    /// were kept stored the distance as `distance`).
    #[serde(alias = "distance")]
    pub statistic: Option<f64>,
    #[serde(default)]
    pub p_value: Option<f64>,
    /// Corrected for the number of columns tested.
    #[serde(default)]
    pub p_adjusted: Option<f64>,
    #[serde(default)]
    pub p_threshold: Option<f64>,
    /// A distance's threshold.
    pub threshold: Option<f64>,
    #[serde(default)]
    pub baseline_values: u64,
    #[serde(default)]
    pub current_values: u64,
    pub drifted: bool,
    /// Why the column was not tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ColumnDrift {
    /// `Kolmogorov-Smirnov D 0.213, p 0.0048 < 0.05` for a report's cell.
    pub fn summary(&self) -> String {
        let method = crate::data::DriftMethod::from_key(&self.measure);
        let mut text = method
            .map_or(self.measure.as_str(), |m| m.name())
            .to_string();
        if let Some(statistic) = self.statistic {
            let labelled = match method {
                Some(m) => m.labelled(statistic),
                None => crate::data::figure(statistic),
            };
            text.push_str(&format!(" {labelled}"));
        }
        if let Some(threshold) = self.threshold {
            text.push_str(&format!(" (threshold {threshold})"));
        }
        if let (Some(p), Some(alpha)) = (self.p_adjusted.or(self.p_value), self.p_threshold) {
            let sign = if p < alpha { "<" } else { "≥" };
            text.push_str(&format!(", p {} {sign} {alpha}", crate::data::p_figure(p)));
        }
        if self.measure.is_empty() {
            text = self
                .note
                .clone()
                .unwrap_or_else(|| "not tested".to_string());
        }
        text
    }
}

/// A file or directory with its content hash (blake3, hex).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub hash: String,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnotationRecord {
    /// `error`, `warning` or `notice`.
    pub level: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub end_line: Option<i64>,
    pub title: Option<String>,
}

/// A run read back from the store.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRun {
    pub id: RunId,
    pub record: RunRecord,
}

/// The row of `mlci runs ls`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub id: RunId,
    pub workflow: String,
    pub event: String,
    pub branch: Option<String>,
    pub sha: String,
    pub pr_number: Option<u64>,
    pub started_at: i64,
    pub finished_at: i64,
    pub result: RunResult,
}
