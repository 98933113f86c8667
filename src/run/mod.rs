//! Running workflows. Step semantics that need no Docker: workflow commands in step output,
//! the `GITHUB_*` files, secret masking, shells, and default environment
//! variables, each as GitHub's Linux runner does it.
//!
//! Running a workflow goes one way, each layer using only the ones below it:
//! `engine` (the job graph) → `job` (one job instance) → `actions` and
//! `cached` (the step cache) → `step` (the step executor) → `shared` (the
//! run-wide state) and `report` (what a run reports of its jobs and steps).

pub mod commands;
pub mod defaults;
pub mod dotenv;
pub mod file_commands;
pub mod mask;
pub mod output;
mod recording;
pub mod shell;

// Running a workflow: the repository snapshot, the `github` context, and the
// layers that drive jobs through an executor backend.
mod actions;
mod cache_secrets;
mod cached;
mod engine;
pub mod github;
mod job;
mod preflight;
mod report;
mod shared;
mod step;
pub mod workspace;

pub use actions::fetch_repository;
pub use engine::{PlannedSpec, RunCleanup, RunOutput, planned_specs, run};
pub use preflight::{plan_for_run, plan_workflow};
pub use recording::{RunFacts, RunSubject, run_record, run_subject};
pub use report::{JobReport, StepReport};
pub use shared::{CacheConfig, RunOptions, RunStoreRow, new_run_id};
