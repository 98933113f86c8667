//! What a report shows: the run, its baseline and history, the gates' verdicts, the diffs.

use super::diff::MetricDiff;
use super::gates::GateOutcome;
use crate::record::StoredRun;

/// Everything a report shows, read from the store.
#[derive(Clone, Debug)]
pub struct Report {
    pub run: StoredRun,
    pub baseline: Option<StoredRun>,
    /// Recent successful runs of the same workflow and branch, oldest first, ending with this run.
    pub history: Vec<StoredRun>,
    pub gates: GateOutcome,
    pub diffs: Vec<MetricDiff>,
    /// The models its `register:` steps left, and what became of them.
    pub models: Vec<crate::record::CandidateOutcome>,
    /// What its `deploy:` steps did, oldest first.
    pub deployments: Vec<crate::record::DeploymentRecord>,
    /// A line of links (run page, commit), when known.
    pub links: Option<String>,
    /// What to do to see the whole report when it is truncated.
    pub full_report_hint: String,
}
