//! How a report is produced and where it goes.

use crate::github::PublishMode;
use std::path::PathBuf;

/// How a report is produced and where it goes.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// Write the Markdown here.
    pub output: Option<PathBuf>,
    /// Post to GitHub (comment, check run or statuses, job summary).
    pub github: bool,
    /// The token, else `GITHUB_TOKEN` from the environment.
    pub token: Option<String>,
    /// Which of comment, check and summary to publish with `github`.
    pub mode: PublishMode,
    /// The branch whose latest successful run is the baseline (default: the PR's base, else main).
    pub baseline_ref: Option<String>,
    /// How many runs the history charts cover.
    pub history: usize,
    /// Print nothing to the terminal (the gates' lines are printed otherwise).
    pub quiet: bool,
}
