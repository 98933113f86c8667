//! What `mlci run` does about runs killed before it (SIGKILL, a machine that
//! went down): their "started" rows in the run store become `interrupted`,
//! and their containers, networks and volumes are removed from the engine
//! (their temporary files go when the cache opens, see
//! `cache::Store::remove_stale_temp`). And this run's own "started" rows,
//! which it replaces with its records when it ends.

use crate::executor::any::AnyBackend;
use crate::owner::Owner;
use crate::record::{RunId, RunRecord, Store};
use std::path::Path;

/// The engine's sweep, going on beside the run.
pub(super) type EngineSweep = tokio::task::JoinHandle<()>;

/// Starts removing what runs whose process is gone left on the engine.
pub(super) fn sweep_engine(backend: &AnyBackend) -> Option<EngineSweep> {
    let docker = backend.docker()?.clone();
    Some(tokio::spawn(async move {
        match docker.remove_orphans().await {
            Ok(runs) if !runs.is_empty() => {
                let runs: Vec<String> = runs.into_iter().collect();
                eprintln!(
                    "removed the containers of runs whose process was killed: {}",
                    runs.join(", ")
                );
            }
            Ok(_) => {}
            Err(error) => eprintln!("warning: cannot remove what killed runs left: {error}"),
        }
    }))
}

/// This run's rows in the run store while it runs: one per workflow, in
/// order (None where the store could not take it).
pub(super) struct StartedRuns {
    store: Option<Store>,
    pub ids: Vec<Option<RunId>>,
}

impl StartedRuns {
    /// Records the runs of earlier processes that are gone as interrupted,
    /// then writes a "started" row for each of `runs`. A store that cannot
    /// be opened is said at the end, when the run is recorded.
    pub fn start(path: &Path, runs: &[RunRecord], secrets: &[String]) -> StartedRuns {
        let Ok(mut store) = Store::open(path) else {
            return StartedRuns {
                store: None,
                ids: vec![None; runs.len()],
            };
        };
        store.set_secrets(secrets.iter().cloned());
        let gone = |owner: &str| Owner::parse(owner).is_some_and(|o| o.is_gone());
        if let Ok(ids) = store.mark_interrupted(gone)
            && !ids.is_empty()
        {
            let ids: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
            eprintln!(
                "recorded as interrupted (their process was killed): run {}",
                ids.join(", ")
            );
        }
        let owner = Owner::current_encoded();
        let ids = runs
            .iter()
            .map(|run| store.start_run(run, owner).ok())
            .collect();
        StartedRuns {
            store: Some(store),
            ids,
        }
    }

    /// The run ends with nothing to record (an invalid workflow, no
    /// engine): its rows go.
    pub fn discard(mut self) {
        if let Some(store) = self.store.as_mut() {
            for id in self.ids.iter().flatten() {
                let _ = store.discard_started(*id);
            }
        }
    }
}
