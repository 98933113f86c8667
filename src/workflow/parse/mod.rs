//! From the YAML tree to the typed [`Workflow`], reporting every problem.
//!
//! The reader never stops at the first mistake: each field that cannot be
//! read adds a diagnostic and is left out, and reading goes on, so that one
//! run of `mlci validate` shows every error of a file.
//!
//! One file per part of the schema, all on the shared `reader` helpers:
//! `workflow` → `triggers`, `settings`, `gates`, `jobs` → `container`,
//! `strategy`, `steps` → `params`, `mlops` (register, validate), `deploy`, `paths`
//! (files in the workspace); each reads values with `scalars` and checks their
//! expressions with `expressions`.

mod container;
mod deploy;
mod expressions;
mod gates;
mod jobs;
mod mlops;
mod params;
mod paths;
mod reader;
mod scalars;
mod settings;
mod steps;
mod strategy;
mod triggers;
mod workflow;

pub use deploy::{check_value as check_deploy_value, parse_canary, parse_port};
pub use gates::parse_gate;
pub use mlops::{is_registry_name, parse_promote_condition};
pub use reader::suggest;
pub use triggers::MLCI_EVENTS;

use crate::diag::{Diagnostic, Span};
use crate::workflow::model::{Step, Workflow};
use crate::yaml::Node;
use reader::Reader;

/// Reads the `steps` of a composite action (`runs.steps` of an `action.yml`)
/// with the same schema and checks as a job's steps.
pub fn read_steps(source: &str, node: &Node) -> (Vec<Step>, Vec<Diagnostic>) {
    let mut reader = Reader {
        source,
        diagnostics: Vec::new(),
    };
    let steps = reader.steps(node);
    (steps, reader.diagnostics)
}

/// Reads a workflow from its YAML tree. Returns what could be read and the
/// problems found; the workflow is usable only when no error was reported.
pub fn read_workflow(source: &str, root: Option<&Node>) -> (Workflow, Vec<Diagnostic>) {
    let mut reader = Reader {
        source,
        diagnostics: Vec::new(),
    };
    let workflow = match root {
        None => {
            reader.error(Span::point(0), "the workflow file is empty");
            Workflow::default()
        }
        Some(root) if root.is_null() => {
            reader.error(Span::point(0), "the workflow file is empty");
            Workflow::default()
        }
        Some(root) => reader.workflow(root),
    };
    (workflow, reader.diagnostics)
}

#[cfg(test)]
mod tests {
    use crate::yaml::Style;

    #[test]
    fn block_scalar_style_is_kept() {
        let (root, _) = crate::yaml::load("run: |\n  echo\n");
        let root = root.unwrap();
        let run = root.get("run").unwrap();
        assert_eq!(run.as_scalar().unwrap().style, Style::Literal);
    }
}
