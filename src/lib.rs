//! mlci: a CI/CD runner for machine-learning projects.
//!
//! The modules follow the flow of data:
//!
//! ```text
//! workflow file ──parse──▶ Workflow (typed, with source spans)   workflow::
//!                ──plan───▶ Plan: jobs × matrix, a DAG by needs   plan::
//!                ──run────▶ jobs in containers                   run::, executor::
//!                ──record─▶ run store (SQLite)                   record::, metrics::
//!                ──report─▶ markdown · PR comment · check run    report::, github::
//!                ──register▶ model registry versions, aliases    registry::, lineage::
//! ```
//!
//! `data` checks datasets (CSV, Parquet, JSON lines) against a schema and a
//! baseline's statistics (`mlci data`); it stands beside the flow, using only
//! `yaml`, `diag`, `expr::Value` and `metrics::format_number`, so that the
//! run engine can call it (a `validate:` step) without an import circle.
//! `expr` is the GitHub Actions expression language that both use, and `diag`
//! holds source positions and the rustc-style error messages built on them.
//! `watch` starts workflows when their triggers fire (`mlci watch`), as
//! `mlci run` child processes.
//! `confine` resolves a relative path under a root (the workspace, the
//! repository, a model) against the real file system, refusing symlinks
//! that lead out of it: every host path read or written for a workflow,
//! a cache entry or a registry record goes through it.
//! `timings` names the phases of a job, which executor, run, record and cli share.
//! Imports point one way, down this flow: `report` hands a plain publication
//! to `github`, which knows nothing of reports; `record` knows nothing of
//! `report`; `cli` sits on top of everything. `.ci/module-graph.py` checks that
//! no file imports a file that imports it back.
//! `console` comes first: its print macros replace std's in every module
//! after it, so that output to a closed pipe never panics. `owner` names the
//! process that owns a run's objects, for the sweep after a `kill -9`.

#[macro_use]
pub mod console;

pub mod cache;
pub mod calendar;
pub mod cli;
pub mod confine;
pub mod data;
pub mod deploy;
pub mod diag;
pub mod executor;
pub mod expr;
pub mod github;
pub mod images;
pub mod lineage;
pub mod metrics;
pub mod owner;
pub mod plan;
pub mod record;
pub mod registry;
pub mod report;
pub mod run;
pub mod terminal;
pub mod timings;
pub mod watch;
pub mod workflow;
pub mod yaml;
