//! From the run store to what people read: gates, diffs against the
//! baseline, the Markdown report, and its publication (file, terminal, GitHub).
//!
//! The engine calls [`after_run`] once a run is recorded; `mlci report` calls
//! [`prepare`] and [`publish`] for a stored run.

mod contents;
mod diff;
mod error;
pub mod gates;
pub mod markdown;
mod mlops;
mod options;
mod prepare;
mod publish;

pub use contents::Report;
pub use diff::{MetricDiff, diff};
pub use error::ReportError;
pub use options::ReportOptions;
pub use prepare::prepare;
pub use publish::{Published, publication, publish};

use crate::record::{RunId, Store};
use gates::GateOutcome;

/// The end of `mlci run`: evaluates the gates of the recorded run, writes the
/// report (`--report FILE.md`) and publishes it (`--github`). The run fails
/// (exit 1) when `!outcome.passed()`.
///
/// The store is read before the first `.await`, but `&Store` lives in the
/// future, which is therefore not `Send`: call it from `block_on` or a local
/// task, not `tokio::spawn`.
pub async fn after_run(
    store: &Store,
    run_id: RunId,
    gates: &[crate::workflow::Gate],
    options: &ReportOptions,
) -> Result<GateOutcome, ReportError> {
    let report = prepare(store, run_id, gates, options)?;
    if !options.quiet {
        eprint!("{}", report.gates.render_text());
    }
    let published = publish(&report, options).await?;
    if !options.quiet {
        for message in &published.messages {
            eprintln!("{message}");
        }
    }
    Ok(report.gates)
}
