//! mlci: a CI/CD runner for machine-learning projects.
//!
//! The modules follow the flow of data:
//!
//! ```text
//! workflow file ──parse──▶ Workflow (typed, with source spans)   workflow::
//!                ──plan───▶ Plan: jobs × matrix, a DAG by needs   plan::
//! ```
//!
//! `expr` is the GitHub Actions expression language that both use, and `diag`
//! holds source positions and the rustc-style error messages built on them.

pub mod cache;
pub mod cli;
pub mod diag;
pub mod executor;
pub mod expr;
pub mod images;
pub mod plan;
pub mod run;
pub mod workflow;
pub mod yaml;
