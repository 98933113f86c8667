//! What the run-store commands share: opening the store, finding a run by
//! what a person types, one line about a run, the error line.

use super::args::StoreArgs;
use crate::record::{RunId, Store, StoreError, StoredRun};
use std::path::Path;
use std::process::ExitCode;

pub(super) fn open(args: &StoreArgs) -> Result<Store, ExitCode> {
    let path = crate::record::default_path(Path::new("."), args.db.as_deref());
    if args.db.is_none() && std::env::var_os("MLCI_DB").is_none() && !path.exists() {
        eprintln!(
            "error: no run store at {}: run `mlci run` first, or name one with --db or MLCI_DB",
            path.display()
        );
        return Err(ExitCode::FAILURE);
    }
    Store::open(&path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

pub(super) fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

pub(super) fn resolve(
    store: &Store,
    spec: Option<&str>,
    args: &StoreArgs,
) -> Result<RunId, ExitCode> {
    store
        .resolve(spec.unwrap_or("latest"), args.workflow.as_deref())
        .map_err(|e| match e {
            StoreError::NoRun(what) if what == "yet" => {
                fail("the run store has no runs yet: run `mlci run` first")
            }
            other => fail(other),
        })
}

/// The run that `spec` names (`latest` without one), read whole.
pub(super) fn find_run(
    store: &Store,
    spec: Option<&str>,
    args: &StoreArgs,
) -> Result<StoredRun, ExitCode> {
    let id = resolve(store, spec, args)?;
    store.get_run(id).map_err(fail)
}

pub(super) fn describe_run(run: &StoredRun) -> String {
    let r = &run.record;
    let place = r.branch.clone().unwrap_or_else(|| r.git_ref.clone());
    let pr = r
        .pr_number
        .map(|n| format!(", PR #{n}"))
        .unwrap_or_default();
    format!(
        "run {} of {} on {place}{pr} at {} ({})",
        run.id,
        r.workflow,
        &r.sha[..r.sha.len().min(7)],
        r.result.as_str()
    )
}
