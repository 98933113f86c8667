//! Where a run keeps what actions need on the host: its artifacts and the
//! cache of cloned actions.

use std::path::PathBuf;

/// `$MLCI_CACHE_DIR`, else `~/.cache/mlci`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("MLCI_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("mlci")
}

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
    pub fn new(run_id: &str) -> RunActions {
        let root = cache_root();
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
