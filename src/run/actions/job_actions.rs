//! What actions leave for the end of a job: the remote actions already
//! copied into its container, the `post` scripts of JavaScript actions and
//! the saves of `actions/cache`.

use super::native::CacheSave;
use super::node::PostStep;
use std::collections::BTreeSet;

/// Per-job state of actions.
#[derive(Default)]
pub(crate) struct JobActions {
    /// Remote actions already copied into the job container.
    pub(super) staged: BTreeSet<String>,
    /// `post` scripts of JavaScript actions, run at the end of the job in
    /// reverse order.
    pub posts: Vec<PostStep>,
    /// `actions/cache` saves, done at the end of a job that succeeded.
    pub cache_saves: Vec<CacheSave>,
}
