//! The step keys that name files in the workspace (`inputs`, `outputs`,
//! `metrics`, `params`, `register.path`, `validate.data` and `.schema`):
//! each must stay inside it. Absolute paths and `..` are refused here, with
//! their position, so that `validate` and `run` refuse them before any job
//! starts; symlinks are resolved when the files are read (`crate::confine`).

use super::reader::{Reader, is_expression};
use crate::workflow::model::{Spanned, Step};

impl Reader<'_> {
    pub(super) fn check_step_paths(&mut self, step: &Step) {
        let lists = [
            ("inputs", &step.inputs),
            ("outputs", &step.outputs),
            ("metrics", &step.metrics),
        ];
        for (key, paths) in lists {
            for path in paths {
                self.workspace_path(key, path);
            }
        }
        for param in &step.params {
            self.workspace_path("params", &param.file);
        }
        if let Some(register) = &step.register {
            self.workspace_path("register: path", &register.path);
        }
        for check in &step.validate {
            self.workspace_path("validate: data", &check.data);
            self.workspace_path("validate: schema", &check.schema);
        }
    }

    /// Refuses a path that leaves the workspace by its text alone; one with
    /// an expression is checked once evaluated.
    fn workspace_path(&mut self, key: &str, path: &Spanned<String>) {
        if is_expression(&path.value) {
            return;
        }
        if let Err(error) = crate::confine::check_relative(path.value.trim(), "the workspace") {
            self.error(path.span, format!("`{key}`: {error}"));
        }
    }
}
