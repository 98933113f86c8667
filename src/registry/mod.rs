//! The model registry: versions numbered per name, content-addressed in the
//! cache (entries `model-<tree hash>`, never evicted), with the run, commit,
//! params and metrics that made them; aliases (`champion`, `staging`) that
//! move atomically, with their history; shared between machines through the
//! S3 remote. Compare MLflow's registry (versions, aliases) and DVC's GTO.
//!
//! The tables live in the run store (`record`); this module is what runs on
//! them: `decide` (a run's candidates, after its gates), `files` (pull a
//! version, store a path), `shared` (the remote copy). What a person types
//! (`iris`, `iris@3`, `iris:champion`) is a [`ModelRef`], part of the
//! workflow language since `deploy:` steps name models too.

mod decide;
mod files;
mod shared;

pub use crate::workflow::{ModelRef, Pick};
pub use decide::{decide_candidates, publish, register};
pub use files::{FilesError, pull, resolve, store_path};
pub use shared::{publish_alias, sync};
