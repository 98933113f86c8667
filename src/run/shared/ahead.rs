//! Job containers started ahead of their needs: while a job runs in its
//! container, the jobs that need it start theirs, so that a chain of jobs
//! pays for one container start instead of one per job. The job runner
//! decides what may start ahead (`run::job::ahead`); this is the run-wide
//! record of it.

use crate::plan::PlannedJob;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tokio::task::JoinHandle;

/// A job environment started before its job's needs were done.
pub(crate) struct StartedAhead<E> {
    pub env: E,
    /// The job's host directory, removed with the environment.
    pub job_dir: Option<tempfile::TempDir>,
    /// The request it was started from (see `run::job::ahead::fingerprint`):
    /// the job uses it only when its request turns out the same.
    pub fingerprint: String,
}

/// A start ahead, going on or done: None when it could not be made.
pub(crate) type AheadStart<E> = JoinHandle<Option<StartedAhead<E>>>;

pub(crate) struct Ahead<E> {
    /// The jobs that may start ahead, by id (see `run::job::ahead::may_start_ahead`).
    pub candidates: BTreeMap<String, PlannedJob>,
    /// Job id to the ids of the jobs that need it directly.
    pub dependents: BTreeMap<String, Vec<String>>,
    /// Jobs with a container running or started ahead.
    started: Mutex<BTreeSet<String>>,
    starts: Mutex<BTreeMap<(String, usize), AheadStart<E>>>,
}

impl<E> Ahead<E> {
    pub fn new(
        candidates: BTreeMap<String, PlannedJob>,
        dependents: BTreeMap<String, Vec<String>>,
    ) -> Ahead<E> {
        Ahead {
            candidates,
            dependents,
            started: Mutex::new(BTreeSet::new()),
            starts: Mutex::new(BTreeMap::new()),
        }
    }

    /// Notes that a job has a container; false when it was noted before.
    pub fn mark_started(&self, job_id: &str) -> bool {
        self.started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_id.to_string())
    }

    pub fn is_started(&self, job_id: &str) -> bool {
        self.started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(job_id)
    }

    /// Records a start; false (and nothing recorded) when one is already there.
    pub fn insert(&self, job_id: &str, index: usize, start: AheadStart<E>) -> bool {
        let mut starts = self.starts.lock().unwrap_or_else(|e| e.into_inner());
        let key = (job_id.to_string(), index);
        if starts.contains_key(&key) {
            start.abort();
            return false;
        }
        starts.insert(key, start);
        true
    }

    pub fn len(&self) -> usize {
        self.starts.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The start of a job instance, when there is one; it is the caller's.
    pub fn take(&self, job_id: &str, index: usize) -> Option<AheadStart<E>> {
        self.starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(job_id.to_string(), index))
    }

    /// Every start that no job took, with the job instance's name.
    pub fn drain(&self) -> Vec<AheadStart<E>> {
        std::mem::take(&mut *self.starts.lock().unwrap_or_else(|e| e.into_inner()))
            .into_values()
            .collect()
    }
}
