//! Loading the workflows named on the command line, with their problems printed.

use super::args::PathsArgs;
use super::exit::EXIT_INVALID;
use super::table::plural;
use crate::workflow::calls::{CallResolver, CallTarget, resolve_calls};
use crate::workflow::{self, LoadedWorkflow};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Reusable workflows: files of this repository, or of a remote one through
/// the action cache under `cache_dir` (cloned once, offline afterwards).
struct Resolver {
    cache_dir: PathBuf,
}

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
                crate::run::fetch_repository(&self.cache_dir, owner, repo, git_ref)?,
                path,
                format!("{owner}/{repo}/{path}@{git_ref}"),
            ),
        };
        // Through symlinks only while they stay in that repository.
        let file = crate::confine::resolve(&dir, path, "the repository")
            .map_err(|e| format!("cannot read the workflow `{shown}`: {e}"))?;
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
/// Returns None (after printing why) when any file is invalid. Remote
/// reusable workflows go to the default cache directory's action cache.
pub(super) fn load_all(args: &PathsArgs) -> Result<Vec<LoadedWorkflow>, ExitCode> {
    load_all_with_cache(args, &crate::cache::default_cache_dir())
}

/// [`load_all`], with remote reusable workflows in the action cache under
/// `cache_dir` (`mlci run --cache-dir`).
pub(super) fn load_all_with_cache(
    args: &PathsArgs,
    cache_dir: &Path,
) -> Result<Vec<LoadedWorkflow>, ExitCode> {
    let resolver = Resolver {
        cache_dir: cache_dir.to_path_buf(),
    };
    let files = workflow::discover(&args.paths)
        .and_then(|files| {
            files.iter().try_for_each(|f| check_inside_repository(f))?;
            Ok(files)
        })
        .map_err(|message| {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_INVALID)
        })?;
    let mut loaded = Vec::new();
    let mut failed = false;
    for path in files {
        match workflow::load(&path) {
            Ok(mut workflow) => {
                if !workflow.has_errors() {
                    resolve_calls(&mut workflow, &resolver);
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

/// Refuses a workflow file that a symlink in its repository (the file
/// itself, `.github`, `workflows`) takes out of it: the file would run code,
/// and its errors print lines, of something the repository does not hold.
/// A file outside any repository that is named on the command line is the
/// user's own choice.
fn check_inside_repository(file: &Path) -> Result<(), String> {
    let root = crate::workflow::calls::repository_root(file);
    // Without `.github/workflows/` above it, the file's repository is the current directory.
    let (root, relative) = if !root.as_os_str().is_empty() {
        let relative = file.strip_prefix(&root).map(Path::to_path_buf);
        (root, relative.ok())
    } else if file.is_absolute() {
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        let relative = file.strip_prefix(&cwd).map(Path::to_path_buf);
        (cwd, relative.ok())
    } else {
        (PathBuf::from("."), Some(file.to_path_buf()))
    };
    let Some(relative) = relative else {
        return Ok(());
    };
    crate::confine::resolve(&root, &relative.to_string_lossy(), "the repository")
        .map_err(|e| format!("cannot read the workflow {}: {e}", file.display()))?;
    Ok(())
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
