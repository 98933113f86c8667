//! Where a job's files are: its workspace's path in the container, and
//! its own directory on the host.

use crate::executor::Backend;
use crate::run::shared::Shared;

/// Where job workspaces are in the container.
const WORK_ROOT: &str = "/__w";

/// The workspace's path in the container: `/__w/<repo>/<repo>`, as GitHub's.
pub(super) fn workspace_path<B: Backend>(shared: &Shared<B>) -> String {
    format!(
        "{WORK_ROOT}/{0}/{0}",
        shared.info.repository.rsplit('/').next().unwrap_or("repo")
    )
}

/// An empty directory for the job's files on the host: in the cache's
/// temporary directory (named with the process id, so that a killed run's
/// leftovers are removed by the next), else in the system's.
pub(super) fn job_dir<B: Backend>(shared: &Shared<B>) -> Option<tempfile::TempDir> {
    let prefix = format!("job.{}.", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    let in_cache = shared.cache.as_ref().and_then(|cache| {
        let parent = cache.store().dir().join("tmp");
        std::fs::create_dir_all(&parent).ok()?;
        builder.tempdir_in(&parent).ok()
    });
    in_cache.or_else(|| builder.tempdir().ok())
}
