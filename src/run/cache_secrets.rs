//! Secrets and the step cache: no byte that the cache stores (entries, their
//! objects, the remote) holds a secret value.
//!
//! - Keys: a part that carries a secret enters sealed (`step::cache_key`).
//! - Results: a step whose `GITHUB_OUTPUT` values or output files carry a
//!   secret is not stored. A masked copy would be restored later as if it
//!   were the value, so values derived from secrets are never cached.
//! - Names: an entry keeps the names of its workflow, job and step masked.

use super::mask::Masker;
use super::shared::{Shared, workflow_name};
use crate::cache::{EntryKind, StepRef, Tree};
use crate::executor::Backend;
use crate::expr::Object;
use std::path::Path;

/// What in a step's results carries a secret value, if anything: a step
/// output, or one of `files` (the output files found under a root).
pub(super) fn secret_in_results(
    masker: &Masker,
    outputs: &Object,
    files: Option<(&Path, &Tree)>,
) -> Option<String> {
    for (name, value) in outputs.iter() {
        let value = value.to_display_string();
        if masker.mask(&value) != value || masker.mask(name) != *name {
            return Some(format!("its output `{}`", masker.mask(name)));
        }
    }
    let (root, tree) = files?;
    tree.entries().iter().find_map(|item| {
        let carries = match item.kind {
            EntryKind::Symlink => {
                let target = item.target.as_deref().unwrap_or_default();
                masker.mask(target) != target
            }
            // A file that cannot be read here is left to the save to report.
            EntryKind::File => std::fs::File::open(root.join(&item.path))
                .and_then(|file| masker.found_in(file))
                .unwrap_or(false),
        };
        let path = masker.mask(&item.path);
        (carries || path != item.path).then(|| format!("its output file `{path}`"))
    })
}

/// Which step made an entry, with every name masked.
pub(super) fn made_by<B: Backend>(shared: &Shared<B>, job: &str, step: &str) -> StepRef {
    StepRef {
        workflow: shared.masker.mask(workflow_name(shared)),
        job: shared.masker.mask(job),
        step: shared.masker.mask(step),
    }
}
