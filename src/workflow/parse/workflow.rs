//! The top level of a workflow file: its keys, and the checks that `on` and
//! `jobs` are there.

use super::reader::Reader;
use crate::workflow::context;
use crate::workflow::model::Workflow;
use crate::yaml::Node;

const WORKFLOW_KEYS: &[&str] = &[
    "name",
    "run-name",
    "on",
    "env",
    "defaults",
    "concurrency",
    "permissions",
    "jobs",
    "gates",
];

impl Reader<'_> {
    pub(super) fn workflow(&mut self, root: &Node) -> Workflow {
        let mut workflow = Workflow::default();
        if root.as_mapping().is_none() {
            self.expected(root, "a map with `on` and `jobs`");
            return workflow;
        }
        let fields = self.fields(root, "the workflow", WORKFLOW_KEYS);
        let mut saw_on = false;
        let mut saw_jobs = false;
        for field in fields {
            let value = field.value;
            match field.name {
                "name" => workflow.name = self.string(value, None),
                "run-name" => workflow.run_name = self.string(value, Some(&context::RUN_NAME)),
                "on" => {
                    saw_on = true;
                    workflow.on = self.triggers(value);
                }
                "env" => workflow.env = self.env(value, &context::WORKFLOW_ENV),
                "defaults" => workflow.defaults = self.defaults(value, &context::WORKFLOW_DEFAULTS),
                "concurrency" => {
                    workflow.concurrency = self.concurrency(value, &context::WORKFLOW_CONCURRENCY)
                }
                "permissions" => workflow.permissions = self.permissions(value),
                "jobs" => {
                    saw_jobs = true;
                    workflow.jobs = self.jobs(value);
                }
                "gates" => workflow.gates = self.gates(value),
                _ => unreachable!("every workflow key is handled"),
            }
        }
        // Pointed at the first key: the top of the workflow's mapping.
        let top = root
            .as_mapping()
            .and_then(|entries| entries.first())
            .map(|(key, _)| key.span)
            .unwrap_or(root.span);
        if !saw_on {
            self.error(top, "the workflow has no `on` (the events that trigger it)");
        }
        if !saw_jobs {
            self.error(top, "the workflow has no `jobs`");
        }
        workflow
    }
}
