//! Running workflows. Step semantics that need no Docker: workflow commands in step output,
//! the `GITHUB_*` files, secret masking, shells, and default environment
//! variables, each as GitHub's Linux runner does it.

mod cached;
pub mod commands;
pub mod defaults;
pub mod dotenv;
pub mod file_commands;
pub mod mask;
pub mod output;
mod recording;
pub mod shell;

// Running a workflow: the repository snapshot, the `github` context, and the
// engine that drives jobs through an executor backend.
mod actions;
mod engine;
pub mod github;
pub mod workspace;

pub use cached::CacheConfig;
pub use engine::{JobReport, RunOptions, StepReport, new_run_id, run};
pub use recording::{RunFacts, run_record};
