//! What the command line says about a run, and the run's id.

use super::run_cache::CacheConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the command line says about a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub repo: PathBuf,
    pub event: String,
    pub event_path: Option<PathBuf>,
    pub inputs: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub vars: BTreeMap<String, String>,
    /// `-P label=image`, on top of the default label map.
    pub platforms: BTreeMap<String, String>,
    /// `-j JOB`: run this job and the jobs it needs.
    pub job: Option<String>,
    /// At most this many job instances at once.
    pub parallel: usize,
    pub allow_privileged: bool,
    /// Labels every container and network of the run; generated when empty.
    pub run_id: String,
    /// `--env-file`: variables every step sees, below the workflow's own `env`
    /// (as a runner machine's environment would be).
    pub env: BTreeMap<String, String>,
    /// Spinners and folded groups for a person at a terminal; plain lines otherwise.
    pub interactive: bool,
    /// Log lines go to stderr (`--json`: stdout holds the summary alone).
    pub logs_to_stderr: bool,
    /// The step cache; None runs every step and keeps nothing.
    pub cache: Option<CacheConfig>,
    /// The statistics (JSON) that the baseline run's `validate:` checks
    /// stored, by dataset path: what drift is measured against.
    pub dataset_baselines: std::sync::Arc<BTreeMap<String, String>>,
    /// The run store that records the run: `deploy:` steps resolve models
    /// there and record their deployments under the run. None: such a step
    /// fails, saying so.
    pub store: Option<RunStoreRow>,
    /// GitHub, when the run publishes there (`--github`): each job with an
    /// `environment` becomes a GitHub Deployment.
    pub github: Option<crate::github::GithubConfig>,
}

/// The run store's file, and the run's row in it (its "started" row, when
/// the store took one).
#[derive(Clone, Debug)]
pub struct RunStoreRow {
    pub path: PathBuf,
    pub run_id: Option<crate::record::RunId>,
}

/// A fresh run id: unique on this machine, readable in `docker ps`.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    )
}
