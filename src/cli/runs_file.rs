//! The runs file: what one `mlci run` recorded, handed to `mlci report`
//! (`mlci run --runs-file F`, then `mlci report --runs-file F`), so that the
//! report is of this invocation's runs and never of an older one found in
//! the store.
//!
//! JSON, written at each stage so that a run that stops early still says why:
//!
//! ```json
//! {"workflows": [{"name": "train-evaluate", "path": "workflows/train-evaluate.yml", "run": 12}],
//!  "error": null}
//! ```
//!
//! `run` is the run store's id, null while (or when) the workflow has none;
//! `error` is the sentence that explains a null.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What one `mlci run` recorded, or why it did not.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct RunsFile {
    pub workflows: Vec<RecordedWorkflow>,
    /// Why a workflow has no run (the run stopped before it recorded one).
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RecordedWorkflow {
    /// The name its runs are filed under.
    pub name: String,
    pub path: String,
    /// The run store's id of its run.
    pub run: Option<i64>,
}

/// What a run says while it has not recorded anything yet.
pub(super) const NOT_RECORDED: &str =
    "`mlci run` ended before it recorded a run (its log says why)";

impl RunsFile {
    /// A file that says nothing is recorded yet, with these workflows.
    pub fn pending(workflows: Vec<RecordedWorkflow>) -> RunsFile {
        RunsFile {
            workflows,
            error: Some(NOT_RECORDED.to_string()),
        }
    }

    /// Reads a runs file; a missing or unreadable file is one that recorded nothing, saying why.
    pub fn read(path: &Path) -> RunsFile {
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<RunsFile>(&text).map_err(|e| e.to_string()));
        parsed.unwrap_or_else(|error| RunsFile {
            workflows: Vec::new(),
            error: Some(format!(
                "the runs file {} of `mlci run` cannot be read ({error})",
                path.display()
            )),
        })
    }
}

/// Where `mlci run` keeps its runs file up to date (nothing when not asked).
pub(super) struct RunsFileWriter {
    path: Option<PathBuf>,
    pub file: RunsFile,
}

impl RunsFileWriter {
    /// Starts the file: nothing recorded yet.
    pub fn start(path: Option<PathBuf>) -> RunsFileWriter {
        let mut writer = RunsFileWriter {
            path,
            file: RunsFile::pending(Vec::new()),
        };
        writer.write();
        writer
    }

    /// Writes the file as it stands; a failure is a warning (the run goes on).
    pub fn write(&mut self) {
        let Some(path) = &self.path else { return };
        let text = serde_json::to_string_pretty(&self.file).unwrap_or_default();
        if let Err(error) = std::fs::write(path, text + "\n") {
            eprintln!(
                "warning: cannot write the runs file {}: {error}",
                path.display()
            );
        }
    }

    /// Says why the workflows that have no run have none, and writes the file.
    pub fn fail(&mut self, error: &str) {
        self.file.error = Some(error.to_string());
        self.write();
    }
}
