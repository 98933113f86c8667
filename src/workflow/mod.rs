//! Workflow files: read the YAML, build the typed model, check it.
//!
//! `parse` turns text into a [`Workflow`] and the problems found on the way;
//! nothing here knows about Docker or GitHub.

pub mod calls;
pub mod context;
pub mod cron;
pub mod model;
mod model_ref;
mod parse;
pub mod path_filter;
mod validate;

pub use model::*;
pub use model_ref::{ModelRef, Pick};
pub use parse::{
    MLCI_EVENTS, check_deploy_value, is_registry_name, parse_canary, parse_gate, parse_port,
    parse_promote_condition, read_steps, suggest,
};

use crate::diag::{Diagnostic, Severity, SourceFile};
use std::path::{Path, PathBuf};

/// A workflow file with its model and every problem found in it.
#[derive(Clone, Debug)]
pub struct LoadedWorkflow {
    pub file: SourceFile,
    pub workflow: Workflow,
    pub diagnostics: Vec<Diagnostic>,
    /// The workflows its jobs call (`jobs.<id>.uses`), by calling job id,
    /// once `calls::resolve_calls` has read them.
    pub called: Vec<(String, LoadedWorkflow)>,
}

impl LoadedWorkflow {
    /// Whether this file, or a workflow it calls, has an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
            || self.called.iter().any(|(_, c)| c.has_errors())
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
            + self
                .called
                .iter()
                .map(|(_, c)| c.error_count())
                .sum::<usize>()
    }

    /// Every diagnostic, rendered rustc-style, in the order of the file,
    /// then those of the workflows it calls (each in its own file).
    pub fn render_diagnostics(&self) -> String {
        let mut rendered: Vec<String> = self
            .diagnostics
            .iter()
            .map(|d| self.file.render(d))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for (_, called) in &self.called {
            // A workflow called twice is reported once.
            if seen.insert(called.file.path.clone()) {
                rendered.push(called.render_diagnostics());
            }
        }
        rendered.retain(|r| !r.is_empty());
        rendered.join("\n")
    }
}

/// Parses and checks one workflow held in memory.
pub fn parse(file: SourceFile) -> LoadedWorkflow {
    let (root, mut diagnostics) = crate::yaml::load(&file.text);
    let syntax_ok = diagnostics.is_empty() || root.is_some();
    let (workflow, model_diagnostics) = if syntax_ok
        && !diagnostics
            .iter()
            .any(|d| d.message.starts_with("invalid YAML"))
    {
        parse::read_workflow(&file.text, root.as_ref())
    } else {
        (Workflow::default(), Vec::new())
    };
    let model_clean = !model_diagnostics.iter().any(Diagnostic::is_error);
    diagnostics.extend(model_diagnostics);
    // Cross-job checks read the model, so they only run on a complete one;
    // `needs` problems are still found when other parts of the file are wrong.
    if model_clean || !workflow.jobs.is_empty() {
        diagnostics.extend(validate::check(&workflow, &file.text));
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.severity != Severity::Error));
    diagnostics.dedup();
    LoadedWorkflow {
        file,
        workflow,
        diagnostics,
        called: Vec::new(),
    }
}

/// The largest workflow file read: GitHub's own limit (actions/runner
/// `ParseOptions.MaxFileSize`), which also bounds the time and memory that
/// parsing and planning a file can take.
pub const MAX_WORKFLOW_BYTES: u64 = 1024 * 1024;

/// Reads, parses and checks one workflow file.
pub fn load(path: &Path) -> std::io::Result<LoadedWorkflow> {
    let text = crate::diag::read_text(path, MAX_WORKFLOW_BYTES, "workflow files")?;
    Ok(parse(SourceFile::new(path, text)))
}

/// The workflow files named by `paths`: files as given, directories searched
/// for `*.yml` and `*.yaml` (not recursively, as GitHub does). With no path,
/// `.github/workflows/`.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let default = [PathBuf::from(".github/workflows")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read the directory {}: {e}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!(
                    "no workflow files (*.yml, *.yaml) in {}",
                    path.display()
                ));
            }
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else if paths == default {
            return Err(
                "no workflows found: .github/workflows/ does not exist here; pass a workflow file or directory"
                    .to_string(),
            );
        } else {
            return Err(format!("no such file or directory: {}", path.display()));
        }
    }
    Ok(files)
}
