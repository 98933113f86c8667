//! The `on:` section: the events that trigger a workflow, their filters, and
//! the inputs, outputs and secrets of `workflow_dispatch` and `workflow_call`.

use super::reader::{Reader, suggest};
use crate::diag::{Diagnostic, Span};
use crate::expr::Value;
use crate::workflow::context;
use crate::workflow::model::{InputKind, Spanned, Trigger, TriggerFilters, WorkflowInput};
use crate::yaml::{Node, NodeKind, Style};
use indexmap::IndexMap;

/// mlci's own events, which GitHub does not know: a workflow that uses one
/// runs only under mlci (`mlci watch`, or `mlci run -e dataset`).
/// `dataset`: the content of the files that `paths` matches changed.
pub const MLCI_EVENTS: &[&str] = &["dataset"];

/// Every event that can trigger a workflow on GitHub.
const EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];

impl Reader<'_> {
    pub(super) fn triggers(&mut self, node: &Node) -> Vec<Trigger> {
        let mut triggers = Vec::new();
        match &node.kind {
            NodeKind::Scalar(_) => {
                if let Some(event) = self.event_name(node) {
                    self.dataset_needs_paths(&event, None);
                    triggers.push(Trigger {
                        event,
                        filters: TriggerFilters::default(),
                    });
                }
            }
            NodeKind::Sequence(items) => {
                for item in items {
                    if item.as_scalar().is_none() {
                        self.expected(item, "an event name");
                        continue;
                    }
                    if let Some(event) = self.event_name(item) {
                        self.dataset_needs_paths(&event, None);
                        triggers.push(Trigger {
                            event,
                            filters: TriggerFilters::default(),
                        });
                    }
                }
            }
            NodeKind::Mapping(entries) => {
                for (key, value) in entries {
                    if let Some(event) = self.event_name(key) {
                        self.dataset_needs_paths(&event, Some(value));
                        let filters = self.trigger_filters(&event.value, value);
                        triggers.push(Trigger { event, filters });
                    }
                }
            }
        }
        if triggers.is_empty()
            && !self
                .diagnostics
                .iter()
                .any(|d| d.span.start >= node.span.start && d.span.start <= node.span.end)
        {
            self.error(node.span, "expected at least one event in `on`");
        }
        triggers
    }

    fn event_name(&mut self, node: &Node) -> Option<Spanned<String>> {
        let name = node.as_str().unwrap_or_default();
        if EVENTS.contains(&name) || MLCI_EVENTS.contains(&name) {
            return Some(Spanned::new(name.to_string(), node.span));
        }
        let mut diagnostic = Diagnostic::error(node.span, format!("unknown event `{name}`"));
        let known: Vec<&str> = EVENTS.iter().chain(MLCI_EVENTS).copied().collect();
        if let Some(close) = suggest(name, &known) {
            diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
        }
        self.diagnostics.push(diagnostic);
        None
    }

    /// `dataset` means nothing without the files to watch.
    fn dataset_needs_paths(&mut self, event: &Spanned<String>, filters: Option<&Node>) {
        if event.value == "dataset" && filters.and_then(|f| f.get("paths")).is_none() {
            self.error(
                event.span,
                "the `dataset` event needs `paths`: the dataset files (globs) whose content starts the workflow, as in `dataset: { paths: [data/train.csv] }`",
            );
        }
    }

    /// The patterns of `dataset.paths` compile, and there is at least one.
    fn dataset_paths(&mut self, node: &Node, paths: &[Spanned<String>]) {
        let patterns: Vec<&str> = paths.iter().map(|p| p.value.as_str()).collect();
        match crate::workflow::path_filter::PathFilter::new(&patterns) {
            Ok(_) if paths.is_empty() => {
                if let Some(value) = node.get("paths") {
                    self.expected(value, "at least one path pattern of the dataset's files");
                }
            }
            Ok(_) => {}
            Err((index, message)) => self.error(paths[index].span, message),
        }
    }

    /// A cron expression of `schedule`, checked as GitHub checks it; an error
    /// points at the field that is wrong.
    fn cron(&mut self, node: &Node, cron: &Spanned<String>) {
        let Err(error) = crate::workflow::cron::Cron::parse(&cron.value) else {
            return;
        };
        let raw = self
            .source
            .get(node.span.start..node.span.end)
            .unwrap_or("");
        let text = cron.value.as_str();
        let start = match node.as_scalar().map(|s| s.style) {
            Some(Style::Plain) if raw == text => node.span.start + error.offset,
            Some(Style::SingleQuoted | Style::DoubleQuoted)
                if raw.len() == text.len() + 2 && &raw[1..raw.len() - 1] == text =>
            {
                node.span.start + 1 + error.offset
            }
            _ => node.span.start,
        };
        self.error(Span::new(start, start + error.len), error.message);
    }

    fn trigger_filters(&mut self, event: &str, node: &Node) -> TriggerFilters {
        let mut filters = TriggerFilters::default();
        if node.is_null() {
            return filters;
        }
        if event == "schedule" {
            let Some(items) = node.as_sequence() else {
                self.expected(node, "a list of `- cron: ...` entries");
                return filters;
            };
            for item in items {
                for field in self.fields(item, "a schedule", &["cron", "timezone"]) {
                    if field.name == "timezone" {
                        if let Some(zone) =
                            self.required_string(field.value, "an IANA time zone name", None)
                        {
                            filters.timezones.push(zone);
                        }
                    } else if let Some(cron) =
                        self.required_string(field.value, "a cron expression", None)
                    {
                        self.cron(field.value, &cron);
                        filters.cron.push(cron);
                    }
                }
            }
            return filters;
        }
        let allowed: &[&'static str] = match event {
            "push" => &[
                "branches",
                "branches-ignore",
                "tags",
                "tags-ignore",
                "paths",
                "paths-ignore",
            ],
            "pull_request" | "pull_request_target" => &[
                "branches",
                "branches-ignore",
                "paths",
                "paths-ignore",
                "types",
                "tags",
                "tags-ignore",
            ],
            "workflow_dispatch" => &["inputs"],
            "dataset" => &["paths"],
            "workflow_call" => &["inputs", "outputs", "secrets"],
            "workflow_run" => &["workflows", "types", "branches", "branches-ignore"],
            "merge_group" => &["types", "branches", "branches-ignore"],
            _ => &["types"],
        };
        let what = format!("the `{event}` event");
        for field in self.fields(node, &what, allowed) {
            let value = field.value;
            match field.name {
                "branches" => filters.branches = self.string_list(value, None),
                "branches-ignore" => filters.branches_ignore = self.string_list(value, None),
                "tags" => filters.tags = self.string_list(value, None),
                "tags-ignore" => filters.tags_ignore = self.string_list(value, None),
                "paths" => filters.paths = self.string_list(value, None),
                "paths-ignore" => filters.paths_ignore = self.string_list(value, None),
                "types" => filters.types = self.string_list(value, None),
                "workflows" => filters.workflows = self.string_list(value, None),
                "inputs" => filters.inputs = self.workflow_inputs(value, event),
                "outputs" => filters.outputs = self.workflow_call_outputs(value),
                "secrets" => {
                    (filters.secrets, filters.required_secrets) = self.workflow_call_secrets(value)
                }
                _ => unreachable!("every filter key is handled"),
            }
        }
        if event == "dataset" {
            self.dataset_paths(node, &filters.paths);
        }
        let branch_conflict = !filters.branches.is_empty() && !filters.branches_ignore.is_empty();
        let path_conflict = !filters.paths.is_empty() && !filters.paths_ignore.is_empty();
        if branch_conflict || path_conflict {
            let (a, b) = if branch_conflict {
                ("branches", "branches-ignore")
            } else {
                ("paths", "paths-ignore")
            };
            self.error(
                node.span,
                format!("`{a}` and `{b}` cannot be used together for the same event; use `!` patterns in `{a}` instead"),
            );
        }
        filters
    }

    fn workflow_inputs(&mut self, node: &Node, event: &str) -> Vec<WorkflowInput> {
        let mut inputs = Vec::new();
        if node.is_null() {
            return inputs;
        }
        let Some(entries) = self.mapping(node, "a map of inputs") else {
            return inputs;
        };
        let allowed: &[&'static str] = &[
            "description",
            "required",
            "type",
            "default",
            "options",
            "deprecationMessage",
        ];
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let mut input = WorkflowInput {
                name: Spanned::new(name.to_string(), key.span),
                description: None,
                required: false,
                kind: InputKind::String,
                default: None,
                options: Vec::new(),
            };
            let what = format!("input `{name}`");
            for field in self.fields(value, &what, allowed) {
                match field.name {
                    "description" | "deprecationMessage" => {
                        if let Some(text) = self.string(field.value, None) {
                            if field.name == "description" {
                                input.description = Some(text.value);
                            }
                        }
                    }
                    "required" => match field.value.to_value() {
                        Value::Bool(b) => input.required = b,
                        _ => self.expected(field.value, "a boolean (true or false)"),
                    },
                    "type" => {
                        let kinds: &[&str] = if event == "workflow_call" {
                            &["string", "boolean", "number"]
                        } else {
                            &["string", "boolean", "number", "choice", "environment"]
                        };
                        match field.value.as_str() {
                            Some(kind) if kinds.contains(&kind) => {
                                input.kind = match kind {
                                    "boolean" => InputKind::Boolean,
                                    "number" => InputKind::Number,
                                    "choice" => InputKind::Choice,
                                    "environment" => InputKind::Environment,
                                    _ => InputKind::String,
                                }
                            }
                            _ => {
                                self.expected(field.value, &format!("one of {}", kinds.join(", ")))
                            }
                        }
                    }
                    "default" => {
                        if let Some(text) = field.value.as_str() {
                            self.template(field.value, text, &context::WORKFLOW_CALL_INPUT_DEFAULT);
                            input.default =
                                Some(Spanned::new(field.value.to_value(), field.value.span));
                        } else {
                            self.expected(field.value, "a string, number or boolean");
                        }
                    }
                    "options" => input.options = self.list_of_strings(field.value, None),
                    _ => unreachable!("every input key is handled"),
                }
            }
            if input.kind == InputKind::Choice && input.options.is_empty() {
                self.error(
                    key.span,
                    format!("input `{name}` has `type: choice` but no `options`"),
                );
            }
            inputs.push(input);
        }
        inputs
    }

    fn workflow_call_outputs(&mut self, node: &Node) -> IndexMap<String, Spanned<String>> {
        let mut outputs = IndexMap::new();
        if node.is_null() {
            return outputs;
        }
        let Some(entries) = self.mapping(node, "a map of outputs") else {
            return outputs;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let what = format!("output `{name}`");
            let mut saw_value = false;
            for field in self.fields(value, &what, &["description", "value"]) {
                if field.name == "value" {
                    saw_value = true;
                    if let Some(text) =
                        self.string(field.value, Some(&context::WORKFLOW_CALL_OUTPUT))
                    {
                        outputs.insert(name.to_string(), text);
                    }
                } else {
                    self.string(field.value, None);
                }
            }
            if !saw_value && value.as_mapping().is_some() {
                self.error(key.span, format!("output `{name}` is missing `value`"));
            }
        }
        outputs
    }

    /// The secrets a caller may pass, and the names of the required ones.
    fn workflow_call_secrets(&mut self, node: &Node) -> (Vec<Spanned<String>>, Vec<String>) {
        let mut secrets = Vec::new();
        let mut required = Vec::new();
        if node.is_null() {
            return (secrets, required);
        }
        let Some(entries) = self.mapping(node, "a map of secrets") else {
            return (secrets, required);
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            if !value.is_null() {
                let what = format!("secret `{name}`");
                for field in self.fields(value, &what, &["description", "required"]) {
                    if field.name == "required" {
                        match field.value.to_value() {
                            Value::Bool(true) => required.push(name.to_string()),
                            Value::Bool(false) => {}
                            _ => self.expected(field.value, "a boolean (true or false)"),
                        }
                    }
                }
            }
            secrets.push(Spanned::new(name.to_string(), key.span));
        }
        (secrets, required)
    }
}
