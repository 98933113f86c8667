//! The run store: every run of `mlci run`, in one SQLite file.
//!
//! The engine fills a [`RunRecord`] (plain data, no database types) and hands
//! it to [`Store::insert_run`], which writes it in one transaction. The
//! reporter reads it back with [`Store::get_run`], [`Store::list_runs`] and
//! [`Store::baseline`]. The file lives at `.mlci/runs.db` under the project
//! unless `--db` or `MLCI_DB` says otherwise.
//!
//! Two runs may write at once: the database is in WAL mode, waits on a busy
//! lock instead of failing, and every write is one `BEGIN IMMEDIATE`
//! transaction. The schema is versioned with `PRAGMA user_version`; opening
//! an older file applies the missing migrations in order.

mod deployments;
mod error;
mod event;
mod gate_spec;
mod lineage;
mod model;
mod query;
mod read;
mod registry;
mod run_metrics;
mod schema;
mod started;
mod store;
mod time;
mod write;

pub use deployments::{DeployAction, DeployOutcome, DeploymentRecord, DeploymentState};
pub use error::StoreError;
pub use event::{PullRequestInfo, branch_name};
pub use gate_spec::{GateSpec, comparison_symbol, describe};
pub use lineage::StepPlace;
pub use model::{
    AnnotationRecord, Artifact, ColumnDrift, DataCheckRecord, JobRecord, ModelCandidate,
    PhaseRecord, RunId, RunRecord, RunResult, RunSummary, StepRecord, StoredRun,
};
pub use query::RunFilter;
pub use registry::{
    AliasEvent, CandidateOutcome, CandidateStatus, ModelVersion, Promotion, Registration,
};
pub use schema::SCHEMA_VERSION;
pub use store::{DEFAULT_DB, Store, default_path};
pub use time::{format_time, now_ms};
