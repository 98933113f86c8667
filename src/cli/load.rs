//! Loading the workflows named on the command line, with their problems printed.

use super::args::PathsArgs;
use super::exit::EXIT_INVALID;
use super::table::plural;
use crate::workflow::{self, LoadedWorkflow};
use std::process::ExitCode;

/// Loads every workflow named on the command line, printing the problems.
/// Returns None (after printing why) when any file is invalid.
pub(super) fn load_all(args: &PathsArgs) -> Result<Vec<LoadedWorkflow>, ExitCode> {
    let files = workflow::discover(&args.paths).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_INVALID)
    })?;
    let mut loaded = Vec::new();
    let mut failed = false;
    for path in files {
        match workflow::load(&path) {
            Ok(workflow) => {
                if !workflow.diagnostics.is_empty() {
                    eprint!("{}", workflow.render_diagnostics());
                    eprintln!();
                }
                failed |= workflow.has_errors();
                loaded.push(workflow);
            }
            Err(error) => {
                eprintln!("error: cannot read {}: {error}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        let bad: Vec<String> = loaded
            .iter()
            .filter(|w| w.has_errors())
            .map(|w| {
                format!(
                    "{} ({} error{})",
                    w.file.path.display(),
                    w.error_count(),
                    plural(w.error_count())
                )
            })
            .collect();
        if !bad.is_empty() {
            eprintln!("error: invalid workflow: {}", bad.join(", "));
        }
        return Err(ExitCode::from(EXIT_INVALID));
    }
    Ok(loaded)
}
