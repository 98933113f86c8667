//! The `steps:` of a job or a composite action: each step's keys, and the
//! check that it has exactly one of `run` and `uses` (or is one of mlci's
//! own: `validate`, `register` or `deploy`).

use super::reader::{Reader, is_identifier};
use crate::diag::Span;
use crate::workflow::context;
use crate::workflow::model::{Env, Spanned, Step, StepAction};
use crate::yaml::Node;
use indexmap::IndexMap;

pub(super) const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "if",
    "run",
    "shell",
    "working-directory",
    "uses",
    "with",
    "env",
    "continue-on-error",
    "timeout-minutes",
    "inputs",
    "outputs",
    "metrics",
    "params",
    "register",
    "validate",
    "deploy",
];

impl Reader<'_> {
    pub(super) fn steps(&mut self, node: &Node) -> Vec<Step> {
        let Some(items) = node.as_sequence() else {
            self.expected(node, "a list of steps");
            return Vec::new();
        };
        if items.is_empty() {
            self.error(node.span, "`steps` has no step");
        }
        items.iter().filter_map(|item| self.step(item)).collect()
    }

    fn step(&mut self, node: &Node) -> Option<Step> {
        if node.as_mapping().is_none() {
            self.expected(node, "a step (a map with `run` or `uses`)");
            return None;
        }
        let mut step = Step {
            span: node.span,
            id: None,
            name: None,
            condition: None,
            action: StepAction::Run(Spanned::new(String::new(), node.span)),
            shell: None,
            working_directory: None,
            with: IndexMap::new(),
            env: Env::new(),
            continue_on_error: None,
            timeout_minutes: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            metrics: Vec::new(),
            params: Vec::new(),
            register: None,
            validate: Vec::new(),
            deploy: None,
        };
        let mut run = None;
        let mut uses = None;
        for field in self.fields(node, "a step", STEP_KEYS) {
            let value = field.value;
            match field.name {
                "id" => {
                    step.id = self.required_string(value, "a step id", None);
                    if let Some(id) = &step.id {
                        if !is_identifier(&id.value) || id.value.starts_with("__") {
                            self.error(
                                id.span,
                                format!("invalid step id `{}`: a step id starts with a letter or `_` and holds only letters, digits, `-` and `_`", id.value),
                            );
                        }
                    }
                }
                "name" => step.name = self.string(value, Some(&context::STEP)),
                "if" => step.condition = self.condition(value, &context::STEP_IF),
                "run" => run = self.required_string(value, "a command", Some(&context::STEP)),
                "shell" => {
                    step.shell = self.required_string(value, "a shell", Some(&context::STEP))
                }
                "working-directory" => {
                    step.working_directory =
                        self.required_string(value, "a directory", Some(&context::STEP))
                }
                "uses" => uses = self.required_string(value, "an action", None),
                "with" => step.with = self.with(value, &context::STEP),
                "env" => step.env = self.env(value, &context::STEP),
                "continue-on-error" => {
                    step.continue_on_error = self.bool_or_expr(value, &context::STEP)
                }
                "timeout-minutes" => {
                    step.timeout_minutes = self.timeout_minutes(value, &context::STEP)
                }
                "inputs" => step.inputs = self.string_list(value, Some(&context::STEP)),
                "outputs" => step.outputs = self.string_list(value, Some(&context::STEP)),
                "metrics" => step.metrics = self.string_list(value, Some(&context::STEP)),
                "params" => step.params = self.params(value),
                "register" => step.register = self.register(value),
                "validate" => step.validate = self.validate_checks(value),
                "deploy" => step.deploy = self.deploy(value),
                _ => unreachable!("every step key is handled"),
            }
        }
        self.check_step_paths(&step);
        let has_run = node.get("run").is_some();
        let has_uses = node.get("uses").is_some();
        if node.get("deploy").is_some() {
            // Each key that cannot go with it is reported where it is written.
            self.check_deploy_alone(node);
            return step.deploy.is_some().then_some(step);
        }
        let start = Span::point(node.span.start);
        match (run, uses) {
            (Some(run), None) => step.action = StepAction::Run(run),
            (None, Some(uses)) => step.action = StepAction::Uses(uses),
            _ if has_run && has_uses => {
                self.error(start, "a step cannot have both `run` and `uses`");
                return None;
            }
            // `validate` and `register` are steps of their own (run by mlci).
            _ if !has_run
                && !has_uses
                && (node.get("validate").is_some() || node.get("register").is_some()) => {}
            _ if !has_run && !has_uses => {
                self.error(start, "a step needs either `run` or `uses`");
                return None;
            }
            // The value of `run` or `uses` was wrong, and that is reported.
            _ => return None,
        }
        Some(step)
    }
}
