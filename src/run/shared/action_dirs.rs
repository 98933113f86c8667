//! Where a run keeps what actions need on the host: its artifacts and the
//! cache of cloned actions, both under the run's cache directory (the one
//! `--cache-dir` or `MLCI_CACHE_DIR` names, resolved once by the command line).

use std::path::{Path, PathBuf};

/// Per-run state of actions: where artifacts and cloned actions live.
pub(crate) struct RunActions {
    /// This run's artifacts, one sub-directory per artifact name.
    pub artifacts: PathBuf,
    /// The action cache (`…/actions`).
    pub cache: PathBuf,
    /// One clone at a time within a run (other runs are kept apart by
    /// cloning into a temporary directory and renaming it into place).
    pub clone_lock: tokio::sync::Mutex<()>,
}

impl RunActions {
    pub fn new(run_id: &str, cache_dir: &Path) -> RunActions {
        let root = cache_dir;
        let artifacts = std::env::var_os("MLCI_ARTIFACTS_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("artifacts"))
            .join(run_id);
        RunActions {
            artifacts,
            cache: root.join("actions"),
            clone_lock: tokio::sync::Mutex::new(()),
        }
    }
}
