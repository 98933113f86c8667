//! Loading the workflows named on the command line, with their problems printed.

use super::args::PathsArgs;
use super::exit::EXIT_INVALID;
use super::table::plural;
use crate::workflow::calls::{CallResolver, CallTarget, resolve_calls};
use crate::workflow::{self, LoadedWorkflow};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Reusable workflows: files of this repository, or of a remote one through
/// the action cache (cloned once, offline afterwards).
struct Resolver;

impl CallResolver for Resolver {
    fn locate(&self, target: &CallTarget, root: &Path) -> Result<(PathBuf, PathBuf), String> {
        let (dir, path, shown) = match target {
            CallTarget::Local(path) => (root.to_path_buf(), path, format!("./{path}")),
            CallTarget::Remote {
                owner,
                repo,
                path,
                git_ref,
            } => (
                crate::run::fetch_repository(owner, repo, git_ref)?,
                path,
                format!("{owner}/{repo}/{path}@{git_ref}"),
            ),
        };
        let file = dir.join(path);
        if file.is_file() {
            Ok((file, dir))
        } else {
            Err(format!(
                "no workflow `{shown}`: {} does not exist",
                file.display()
            ))
        }
    }
}

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
            Ok(mut workflow) => {
                if !workflow.has_errors() {
                    resolve_calls(&mut workflow, &Resolver);
                }
                let rendered = workflow.render_diagnostics();
                if !rendered.is_empty() {
                    eprint!("{rendered}");
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

/// Whether `mlci run -e EVENT` runs this workflow on its own: a reusable
/// workflow found in a directory runs when a workflow calls it (as on
/// GitHub); named as a file, or for `workflow_call`, it runs on its own.
/// Prints why when it does not.
pub(super) fn runs_on_its_own(workflow: &LoadedWorkflow, args: &PathsArgs, event: &str) -> bool {
    let named = args.paths.iter().any(|p| p == &workflow.file.path);
    if crate::plan::inputs::callable_only(&workflow.workflow) && !named && event != "workflow_call"
    {
        eprintln!(
            "{}: not run: it is a reusable workflow (only `on: workflow_call`), run by the workflows that call it",
            workflow.file.path.display()
        );
        return false;
    }
    true
}
