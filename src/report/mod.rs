//! From the run store to what people read: gates, diffs against the
//! baseline, the Markdown report, and its publication (file, terminal, GitHub).
//!
//! `mlci run` (once a run is recorded, with the registry's decisions between
//! the two) and `mlci report` call [`prepare`] and [`publish`]. A commit
//! without a run gets a failing verdict instead ([`publish_missing`]), never
//! another commit's results: [`publish`] refuses a run of another commit.

mod cell;
mod contents;
mod deployments;
mod diff;
mod error;
pub mod gates;
pub mod markdown;
mod missing;
mod mlops;
mod options;
mod output;
mod prepare;
mod publish;

pub use contents::Report;
pub use diff::{MetricDiff, diff};
pub use error::ReportError;
pub use missing::{MissingRun, is_event_commit, publish_missing};
pub use options::ReportOptions;
pub use output::Published;
pub use prepare::prepare;
pub use publish::{publication, publish};
