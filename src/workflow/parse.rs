//! From the YAML tree to the typed [`Workflow`], reporting every problem.
//!
//! The reader never stops at the first mistake: each field that cannot be
//! read adds a diagnostic and is left out, and reading goes on, so that one
//! run of `mlci validate` shows every error of a file.

use super::context::{self, Site};
use super::model::*;
use crate::diag::{Diagnostic, Span};
use crate::expr::{self, Value};
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;

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

const JOB_KEYS: &[&str] = &[
    "name",
    "needs",
    "runs-on",
    "if",
    "env",
    "defaults",
    "environment",
    "container",
    "services",
    "strategy",
    "outputs",
    "timeout-minutes",
    "continue-on-error",
    "concurrency",
    "permissions",
    "steps",
    "uses",
    "with",
    "secrets",
];

const STEP_KEYS: &[&str] = &[
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
];

const CONTAINER_KEYS: &[&str] = &["image", "env", "options", "volumes", "ports", "credentials"];

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

const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

struct Reader<'s> {
    source: &'s str,
    diagnostics: Vec<Diagnostic>,
}

/// A key of a mapping that the schema knows, in its canonical spelling.
struct Field<'n> {
    name: &'static str,
    key: &'n Node,
    value: &'n Node,
}

impl<'s> Reader<'s> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(span, message));
    }

    fn expected(&mut self, node: &Node, what: &str) {
        let found = node.describe();
        self.error(node.span, format!("expected {what}, found {found}"));
    }

    /// The entries of a mapping, or an error naming what was expected.
    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            NodeKind::Mapping(entries) => Some(entries),
            _ => {
                self.expected(node, what);
                None
            }
        }
    }

    /// The known fields of a mapping; unknown keys are reported with the
    /// closest known key as a suggestion.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&'static str],
    ) -> Vec<Field<'n>> {
        let Some(entries) = self.mapping(node, &format!("a map for {what}")) else {
            return Vec::new();
        };
        let mut fields = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match allowed.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                Some(canonical) => fields.push(Field {
                    name: canonical,
                    key,
                    value,
                }),
                None => self.unknown_key(key, name, what, allowed),
            }
        }
        fields
    }

    fn unknown_key(&mut self, key: &Node, name: &str, what: &str, allowed: &[&str]) {
        let diagnostic = Diagnostic::error(key.span, format!("unknown key `{name}` in {what}"));
        let diagnostic = match suggest(name, allowed) {
            Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
            None => diagnostic.with_help(format!("expected one of: {}", allowed.join(", "))),
        };
        self.diagnostics.push(diagnostic);
    }

    // ---- scalars -------------------------------------------------------

    /// A string, checking the expressions inside it against `site`. Numbers
    /// and booleans are accepted as their text, as GitHub does.
    fn string(&mut self, node: &Node, site: Option<&Site>) -> Option<Spanned<String>> {
        match &node.kind {
            NodeKind::Scalar(scalar) => {
                match site {
                    Some(site) => self.template(node, &scalar.text, site),
                    // GitHub does not evaluate `${{ }}` here, but a broken
                    // one is still a mistake worth pointing out.
                    None => self.template(node, &scalar.text, &context::ANY),
                }
                Some(Spanned::new(scalar.text.clone(), node.span))
            }
            _ => {
                self.expected(node, "a string");
                None
            }
        }
    }

    /// A string that must not be empty (a null value is refused too).
    fn required_string(
        &mut self,
        node: &Node,
        what: &str,
        site: Option<&Site>,
    ) -> Option<Spanned<String>> {
        if node.is_null() || node.as_str() == Some("") {
            self.error(node.span, format!("expected {what}, found nothing"));
            return None;
        }
        self.string(node, site)
    }

    /// One string or a list of strings.
    fn string_list(&mut self, node: &Node, site: Option<&Site>) -> Vec<Spanned<String>> {
        match &node.kind {
            NodeKind::Sequence(items) => items
                .iter()
                .filter_map(|item| match item.kind {
                    NodeKind::Scalar(_) => self.string(item, site),
                    _ => {
                        self.expected(item, "a string");
                        None
                    }
                })
                .collect(),
            NodeKind::Scalar(_) if node.is_null() => Vec::new(),
            NodeKind::Scalar(_) => self.string(node, site).into_iter().collect(),
            NodeKind::Mapping(_) => {
                self.expected(node, "a string or a list of strings");
                Vec::new()
            }
        }
    }

    /// A list of strings (a single string is refused).
    fn list_of_strings(&mut self, node: &Node, site: Option<&Site>) -> Vec<Spanned<String>> {
        match &node.kind {
            NodeKind::Sequence(_) => self.string_list(node, site),
            _ => {
                self.expected(node, "a list of strings");
                Vec::new()
            }
        }
    }

    fn bool_or_expr(&mut self, node: &Node, site: &Site) -> Option<Spanned<BoolOrExpr>> {
        if let Value::Bool(b) = node.to_value() {
            return Some(Spanned::new(BoolOrExpr::Bool(b), node.span));
        }
        match node.as_str() {
            Some(text) if is_expression(text) => {
                self.template(node, text, site);
                Some(Spanned::new(BoolOrExpr::Expr(text.to_string()), node.span))
            }
            _ => {
                self.expected(node, "a boolean (true or false) or an expression");
                None
            }
        }
    }

    fn number_or_expr(&mut self, node: &Node, site: &Site) -> Option<Spanned<NumberOrExpr>> {
        if let Value::Number(n) = node.to_value() {
            return Some(Spanned::new(NumberOrExpr::Number(n), node.span));
        }
        match node.as_str() {
            Some(text) if is_expression(text) => {
                self.template(node, text, site);
                Some(Spanned::new(
                    NumberOrExpr::Expr(text.to_string()),
                    node.span,
                ))
            }
            _ => {
                self.expected(node, "a number or an expression");
                None
            }
        }
    }

    /// A map of environment variables; values are turned into strings.
    fn env(&mut self, node: &Node, site: &Site) -> Env {
        let mut env = Env::new();
        if node.is_null() {
            return env;
        }
        if let Some(text) = node.as_str() {
            // `env: ${{ fromJSON(...) }}` is allowed by GitHub.
            if is_expression(text) {
                self.template(node, text, site);
            } else {
                self.expected(node, "a map of environment variables");
            }
            return env;
        }
        let Some(entries) = self.mapping(node, "a map of environment variables") else {
            return env;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            if let Some(value) = self.scalar_string(value, site) {
                env.insert(name.to_string(), value);
            }
        }
        env
    }

    /// A scalar of any type as a string (`true` → "true", `~` → "").
    fn scalar_string(&mut self, node: &Node, site: &Site) -> Option<Spanned<String>> {
        match node.as_scalar() {
            Some(scalar) => {
                self.template(node, &scalar.text, site);
                let text = if node.is_null() {
                    String::new()
                } else {
                    scalar.text.clone()
                };
                Some(Spanned::new(text, node.span))
            }
            None => {
                self.expected(node, "a string, number or boolean");
                None
            }
        }
    }

    /// A map of inputs for an action or a reusable workflow.
    fn with(&mut self, node: &Node, site: &Site) -> IndexMap<String, Spanned<Value>> {
        let mut with = IndexMap::new();
        if node.is_null() {
            return with;
        }
        let Some(entries) = self.mapping(node, "a map of inputs") else {
            return with;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match value.as_scalar() {
                Some(scalar) => {
                    self.template(value, &scalar.text, site);
                    with.insert(name.to_string(), Spanned::new(value.to_value(), value.span));
                }
                None => self.expected(value, "a string, number or boolean"),
            }
        }
        with
    }

    // ---- expressions ---------------------------------------------------

    /// Checks every `${{ }}` of a string: syntax, functions and contexts.
    fn template(&mut self, node: &Node, text: &str, site: &Site) {
        if !text.contains("${{") {
            return;
        }
        match expr::parse_template(text) {
            Ok(template) => {
                for (offset, expression) in template.expressions() {
                    self.check_expression(node, offset, expression, site);
                }
            }
            Err(error) => self.expression_error(node, &error),
        }
    }

    /// An `if:` value: a bare expression, or a template.
    fn condition(&mut self, node: &Node, site: &Site) -> Option<Spanned<String>> {
        let text = match node.to_value() {
            // `if: true` and `if: 1` are conditions too.
            Value::Bool(_) | Value::Number(_) => node.as_str()?.to_string(),
            Value::String(text) => text,
            _ => {
                self.expected(node, "a condition (an expression)");
                return None;
            }
        };
        match expr::parse_condition(&text) {
            Ok(condition) => {
                for (offset, expression) in condition.expressions() {
                    self.check_expression(node, offset, expression, site);
                }
            }
            Err(error) => self.expression_error(node, &error),
        }
        Some(Spanned::new(text, node.span))
    }

    fn check_expression(
        &mut self,
        node: &Node,
        offset: usize,
        expression: &expr::Expr,
        site: &Site,
    ) {
        for (name, at) in expression.named_values() {
            if let Some(message) = context::check_named_value(&name, site) {
                let start = node.source_offset(self.source, offset + at);
                self.error(Span::new(start, start + name.len()), message);
            }
        }
        for (name, at) in expression.function_calls() {
            if let Some(message) = context::check_function(&name, site) {
                let start = node.source_offset(self.source, offset + at);
                self.error(Span::new(start, start + name.len()), message);
            }
        }
    }

    fn expression_error(&mut self, node: &Node, error: &expr::ExprError) {
        let start = node.source_offset(self.source, error.offset);
        let message = if error
            .message
            .to_ascii_lowercase()
            .starts_with("unrecognized function")
        {
            let name = error
                .message
                .split('\'')
                .nth(1)
                .unwrap_or_default()
                .to_string();
            format!("unrecognized function `{name}`")
        } else {
            format!("invalid expression: {}", error.message)
        };
        let mut diagnostic = Diagnostic::error(Span::new(start, start + error.len.max(1)), message);
        if let Some(name) = diagnostic.message.strip_prefix("unrecognized function `") {
            let name = name.trim_end_matches('`');
            if let Some(close) = suggest(name, context::FUNCTIONS) {
                diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
            }
        }
        self.diagnostics.push(diagnostic);
    }

    // ---- the workflow --------------------------------------------------

    fn workflow(&mut self, root: &Node) -> Workflow {
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

    fn triggers(&mut self, node: &Node) -> Vec<Trigger> {
        let mut triggers = Vec::new();
        match &node.kind {
            NodeKind::Scalar(_) => {
                if let Some(event) = self.event_name(node) {
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
        if EVENTS.contains(&name) {
            return Some(Spanned::new(name.to_string(), node.span));
        }
        let mut diagnostic = Diagnostic::error(node.span, format!("unknown event `{name}`"));
        if let Some(close) = suggest(name, EVENTS) {
            diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
        }
        self.diagnostics.push(diagnostic);
        None
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
                        self.required_string(field.value, "an IANA time zone name", None);
                    } else if let Some(cron) =
                        self.required_string(field.value, "a cron expression", None)
                    {
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
                "secrets" => filters.secrets = self.workflow_call_secrets(value),
                _ => unreachable!("every filter key is handled"),
            }
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

    fn workflow_call_secrets(&mut self, node: &Node) -> Vec<Spanned<String>> {
        let mut secrets = Vec::new();
        if node.is_null() {
            return secrets;
        }
        let Some(entries) = self.mapping(node, "a map of secrets") else {
            return secrets;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            if !value.is_null() {
                let what = format!("secret `{name}`");
                for field in self.fields(value, &what, &["description", "required"]) {
                    if field.name == "required" && !matches!(field.value.to_value(), Value::Bool(_))
                    {
                        self.expected(field.value, "a boolean (true or false)");
                    }
                }
            }
            secrets.push(Spanned::new(name.to_string(), key.span));
        }
        secrets
    }

    fn defaults(&mut self, node: &Node, site: &Site) -> Defaults {
        let mut defaults = Defaults::default();
        for field in self.fields(node, "`defaults`", &["run"]) {
            for run in self.fields(
                field.value,
                "`defaults.run`",
                &["shell", "working-directory"],
            ) {
                match run.name {
                    "shell" => {
                        defaults.shell = self.required_string(run.value, "a shell", Some(site))
                    }
                    _ => {
                        defaults.working_directory =
                            self.required_string(run.value, "a directory", Some(site))
                    }
                }
            }
        }
        defaults
    }

    fn concurrency(&mut self, node: &Node, site: &Site) -> Option<Concurrency> {
        if node.as_scalar().is_some() {
            let group = self.required_string(node, "a concurrency group", Some(site))?;
            return Some(Concurrency {
                group,
                cancel_in_progress: None,
            });
        }
        let mut group = None;
        let mut cancel_in_progress = None;
        for field in self.fields(node, "`concurrency`", &["group", "cancel-in-progress"]) {
            match field.name {
                "group" => {
                    group = self.required_string(field.value, "a concurrency group", Some(site))
                }
                _ => cancel_in_progress = self.bool_or_expr(field.value, site),
            }
        }
        if group.is_none() && node.as_mapping().is_some() {
            self.error(node.span, "`concurrency` is missing `group`");
        }
        Some(Concurrency {
            group: group?,
            cancel_in_progress,
        })
    }

    fn permissions(&mut self, node: &Node) -> Option<Permissions> {
        match &node.kind {
            NodeKind::Scalar(_) => match node.as_str() {
                Some("read-all") => Some(Permissions::ReadAll),
                Some("write-all") => Some(Permissions::WriteAll),
                _ => {
                    self.expected(node, "`read-all`, `write-all` or a map of scopes");
                    None
                }
            },
            NodeKind::Mapping(_) => {
                let mut scopes = IndexMap::new();
                for field in self.fields(node, "`permissions`", PERMISSION_SCOPES) {
                    match field.value.as_str() {
                        Some(level @ ("read" | "write" | "none")) => {
                            scopes.insert(field.name.to_string(), level.to_string());
                        }
                        _ => self.expected(field.value, "`read`, `write` or `none`"),
                    }
                }
                Some(Permissions::Scopes(scopes))
            }
            NodeKind::Sequence(_) => {
                self.expected(node, "`read-all`, `write-all` or a map of scopes");
                None
            }
        }
    }

    fn gates(&mut self, node: &Node) -> Vec<Gate> {
        let mut gates = Vec::new();
        if node.is_null() {
            return gates;
        }
        let Some(entries) = self.mapping(node, "a map of metric names to conditions") else {
            return gates;
        };
        for (key, value) in entries {
            let Some(metric) = key.as_str() else { continue };
            let text = value.as_str().unwrap_or_default();
            match parse_gate(text) {
                Some(condition) if value.as_scalar().is_some() => gates.push(Gate {
                    metric: Spanned::new(metric.to_string(), key.span),
                    condition: Spanned::new(condition, value.span),
                }),
                _ => self.expected(
                    value,
                    "a comparison such as \">= 0.90\", \"< 0.2\", \">= base - 0.01\" or \"<= base * 1.05\"",
                ),
            }
        }
        gates
    }

    // ---- jobs ------------------------------------------------------------

    fn jobs(&mut self, node: &Node) -> Vec<Job> {
        let Some(entries) = self.mapping(node, "a map of jobs") else {
            return Vec::new();
        };
        if entries.is_empty() {
            self.error(node.span, "`jobs` has no job");
        }
        let mut jobs = Vec::new();
        for (key, value) in entries {
            let Some(id) = key.as_str() else { continue };
            if !is_identifier(id) {
                self.error(
                    key.span,
                    format!("invalid job id `{id}`: a job id starts with a letter or `_` and holds only letters, digits, `-` and `_`"),
                );
            }
            if let Some(job) = self.job(Spanned::new(id.to_string(), key.span), value) {
                jobs.push(job);
            }
        }
        jobs
    }

    fn job(&mut self, id: Spanned<String>, node: &Node) -> Option<Job> {
        let what = format!("job `{}`", id.value);
        if node.as_mapping().is_none() {
            self.expected(node, &format!("a map for {what}"));
            return None;
        }
        let mut job = Job {
            id,
            span: node.span,
            name: None,
            needs: Vec::new(),
            runs_on: None,
            condition: None,
            env: Env::new(),
            defaults: Defaults::default(),
            environment: None,
            container: None,
            services: Vec::new(),
            strategy: None,
            outputs: IndexMap::new(),
            timeout_minutes: None,
            continue_on_error: None,
            concurrency: None,
            permissions: None,
            steps: Vec::new(),
            uses: None,
            with: IndexMap::new(),
            secrets: None,
        };
        let mut steps_key = None;
        for field in self.fields(node, &what, JOB_KEYS) {
            let value = field.value;
            match field.name {
                "name" => job.name = self.string(value, Some(&context::JOB)),
                "needs" => job.needs = self.needs(value),
                "runs-on" => job.runs_on = self.runs_on(value),
                "if" => job.condition = self.condition(value, &context::JOB_IF),
                "env" => job.env = self.env(value, &context::JOB_ENV),
                "defaults" => job.defaults = self.defaults(value, &context::JOB_DEFAULTS),
                "environment" => job.environment = self.environment(value),
                "container" => job.container = self.container(value, "the job container"),
                "services" => job.services = self.services(value),
                "strategy" => job.strategy = self.strategy(value),
                "outputs" => {
                    if let Some(entries) = self.mapping(value, "a map of job outputs") {
                        for (key, output) in entries {
                            let Some(name) = key.as_str() else { continue };
                            if let Some(text) = self.scalar_string(output, &context::JOB_OUTPUTS) {
                                job.outputs.insert(name.to_string(), text);
                            }
                        }
                    }
                }
                "timeout-minutes" => {
                    job.timeout_minutes = self.number_or_expr(value, &context::JOB)
                }
                "continue-on-error" => {
                    job.continue_on_error = self.bool_or_expr(value, &context::JOB)
                }
                "concurrency" => job.concurrency = self.concurrency(value, &context::JOB),
                "permissions" => job.permissions = self.permissions(value),
                "steps" => {
                    steps_key = Some(field.key.span);
                    job.steps = self.steps(value);
                }
                "uses" => job.uses = self.required_string(value, "a reusable workflow", None),
                "with" => job.with = self.with(value, &context::JOB),
                "secrets" => job.secrets = self.job_secrets(value),
                _ => unreachable!("every job key is handled"),
            }
        }
        if job.uses.is_some() {
            if let Some(span) = steps_key {
                self.error(
                    span,
                    format!(
                        "{what} calls a reusable workflow with `uses`, so it cannot have `steps`"
                    ),
                );
            }
        } else {
            // A misspelt key (`runs_on`) is already reported with a suggestion.
            let misspelt = |wanted: &str| {
                node.as_mapping().into_iter().flatten().any(|(k, _)| {
                    k.as_str().is_some_and(|k| {
                        !JOB_KEYS.iter().any(|j| j.eq_ignore_ascii_case(k))
                            && suggest(k, JOB_KEYS) == Some(wanted)
                    })
                })
            };
            if job.runs_on.is_none() && node.get("runs-on").is_none() && !misspelt("runs-on") {
                self.error(job.id.span, format!("{what} is missing `runs-on`"));
            }
            if steps_key.is_none() && !misspelt("steps") {
                self.diagnostics.push(Diagnostic::warning(
                    job.id.span,
                    format!("{what} has no `steps`, so it does nothing"),
                ));
            }
            if !job.with.is_empty() || job.secrets.is_some() {
                self.error(
                    job.id.span,
                    format!("{what} has `with` or `secrets`, which only a job that calls a reusable workflow with `uses` may have"),
                );
            }
        }
        Some(job)
    }

    fn needs(&mut self, node: &Node) -> Vec<Spanned<String>> {
        match &node.kind {
            NodeKind::Mapping(_) => {
                self.expected(node, "a job id or a list of job ids");
                Vec::new()
            }
            _ => self.string_list(node, None),
        }
    }

    fn runs_on(&mut self, node: &Node) -> Option<RunsOn> {
        match &node.kind {
            NodeKind::Mapping(_) => {
                let mut group = None;
                let mut labels = Vec::new();
                for field in self.fields(node, "`runs-on`", &["group", "labels"]) {
                    match field.name {
                        "group" => {
                            group = self.required_string(
                                field.value,
                                "a runner group",
                                Some(&context::JOB),
                            )
                        }
                        _ => labels = self.string_list(field.value, Some(&context::JOB)),
                    }
                }
                Some(RunsOn {
                    labels,
                    group,
                    span: node.span,
                })
            }
            _ => {
                if node.is_null() {
                    self.error(
                        node.span,
                        "expected a runner label for `runs-on`, found nothing",
                    );
                    return None;
                }
                let labels = self.string_list(node, Some(&context::JOB));
                if labels.is_empty() {
                    self.error(
                        node.span,
                        "expected at least one runner label for `runs-on`",
                    );
                    return None;
                }
                Some(RunsOn {
                    labels,
                    group: None,
                    span: node.span,
                })
            }
        }
    }

    fn environment(&mut self, node: &Node) -> Option<Environment> {
        if node.as_scalar().is_some() {
            let name = self.required_string(node, "an environment name", Some(&context::JOB))?;
            return Some(Environment { name, url: None });
        }
        let mut name = None;
        let mut url = None;
        for field in self.fields(node, "`environment`", &["name", "url", "deployment"]) {
            match field.name {
                "name" => {
                    name = self.required_string(
                        field.value,
                        "an environment name",
                        Some(&context::JOB),
                    )
                }
                "url" => url = self.string(field.value, Some(&context::ENVIRONMENT_URL)),
                _ => {
                    self.bool_or_expr(field.value, &context::JOB);
                }
            }
        }
        if name.is_none() && node.as_mapping().is_some() {
            self.error(node.span, "`environment` is missing `name`");
        }
        Some(Environment { name: name?, url })
    }

    fn container(&mut self, node: &Node, what: &str) -> Option<Container> {
        if node.as_scalar().is_some() {
            let image = self.required_string(node, "an image", Some(&context::JOB))?;
            return Some(Container {
                image,
                span: node.span,
                env: Env::new(),
                options: None,
                volumes: Vec::new(),
                ports: Vec::new(),
                credentials: None,
            });
        }
        let mut image = None;
        let mut container = Container {
            image: Spanned::new(String::new(), node.span),
            span: node.span,
            env: Env::new(),
            options: None,
            volumes: Vec::new(),
            ports: Vec::new(),
            credentials: None,
        };
        for field in self.fields(node, what, CONTAINER_KEYS) {
            let value = field.value;
            match field.name {
                "image" => image = self.required_string(value, "an image", Some(&context::JOB)),
                "env" => container.env = self.env(value, &context::CONTAINER_ENV),
                "options" => container.options = self.string(value, Some(&context::JOB)),
                "volumes" => container.volumes = self.list_of_strings(value, Some(&context::JOB)),
                "ports" => {
                    container.ports = match &value.kind {
                        NodeKind::Sequence(items) => items
                            .iter()
                            .filter_map(|item| self.scalar_string(item, &context::JOB))
                            .collect(),
                        _ => {
                            self.expected(value, "a list of ports");
                            Vec::new()
                        }
                    }
                }
                "credentials" => container.credentials = self.credentials(value),
                _ => unreachable!("every container key is handled"),
            }
        }
        match image {
            Some(image) => {
                container.image = image;
                Some(container)
            }
            None => {
                if node.as_mapping().is_some() {
                    self.error(node.span, format!("{what} is missing `image`"));
                }
                None
            }
        }
    }

    fn credentials(&mut self, node: &Node) -> Option<Credentials> {
        let mut username = None;
        let mut password = None;
        for field in self.fields(node, "`credentials`", &["username", "password"]) {
            let text = self.string(field.value, Some(&context::CREDENTIALS));
            match field.name {
                "username" => username = text,
                _ => password = text,
            }
        }
        match (username, password) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            _ => {
                if node.as_mapping().is_some() {
                    self.error(
                        node.span,
                        "`credentials` needs both `username` and `password`",
                    );
                }
                None
            }
        }
    }

    fn services(&mut self, node: &Node) -> Vec<(Spanned<String>, Container)> {
        let mut services = Vec::new();
        let Some(entries) = self.mapping(node, "a map of services") else {
            return services;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let what = format!("service `{name}`");
            if let Some(container) = self.container(value, &what) {
                services.push((Spanned::new(name.to_string(), key.span), container));
            }
        }
        services
    }

    fn job_secrets(&mut self, node: &Node) -> Option<JobSecrets> {
        if node.as_str() == Some("inherit") {
            return Some(JobSecrets::Inherit);
        }
        let entries = self.mapping(node, "`inherit` or a map of secrets")?;
        let mut secrets = IndexMap::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            if let Some(text) = self.scalar_string(value, &context::JOB_SECRETS) {
                secrets.insert(name.to_string(), text);
            }
        }
        Some(JobSecrets::Map(secrets))
    }

    fn strategy(&mut self, node: &Node) -> Option<Strategy> {
        let mut strategy = Strategy {
            matrix: None,
            fail_fast: None,
            max_parallel: None,
        };
        if let Some(text) = node.as_str().filter(|t| is_expression(t)) {
            self.template(node, text, &context::STRATEGY);
            strategy.matrix = Some(Matrix::Expr(Spanned::new(text.to_string(), node.span)));
            return Some(strategy);
        }
        for field in self.fields(node, "`strategy`", &["matrix", "fail-fast", "max-parallel"]) {
            match field.name {
                "matrix" => strategy.matrix = self.matrix(field.value),
                "fail-fast" => {
                    strategy.fail_fast = self.bool_or_expr(field.value, &context::STRATEGY)
                }
                _ => strategy.max_parallel = self.number_or_expr(field.value, &context::STRATEGY),
            }
        }
        Some(strategy)
    }

    fn matrix(&mut self, node: &Node) -> Option<Matrix> {
        if let Some(text) = node.as_str() {
            if is_expression(text) {
                self.template(node, text, &context::STRATEGY);
                return Some(Matrix::Expr(Spanned::new(text.to_string(), node.span)));
            }
        }
        let entries = self.mapping(node, "a map of matrix dimensions, or an expression")?;
        let mut dimensions = Vec::new();
        let mut include = None;
        let mut exclude = None;
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match name {
                "include" => include = self.matrix_rows(value, "include"),
                "exclude" => exclude = self.matrix_rows(value, "exclude"),
                _ => {
                    let values = match &value.kind {
                        NodeKind::Sequence(items) => {
                            for item in items {
                                self.check_value_expressions(item, &context::STRATEGY);
                            }
                            MatrixValues::List(
                                items
                                    .iter()
                                    .map(|item| Spanned::new(item.to_value(), item.span))
                                    .collect(),
                            )
                        }
                        NodeKind::Scalar(scalar) if is_expression(&scalar.text) => {
                            self.template(value, &scalar.text, &context::STRATEGY);
                            MatrixValues::Expr(Spanned::new(scalar.text.clone(), value.span))
                        }
                        _ => {
                            self.expected(
                                value,
                                &format!("a list of values for matrix dimension `{name}`"),
                            );
                            continue;
                        }
                    };
                    dimensions.push((Spanned::new(name.to_string(), key.span), values));
                }
            }
        }
        Some(Matrix::Map {
            span: node.span,
            dimensions,
            include,
            exclude,
        })
    }

    fn matrix_rows(&mut self, node: &Node, key: &str) -> Option<MatrixRows> {
        if let Some(text) = node.as_str() {
            if is_expression(text) {
                self.template(node, text, &context::STRATEGY);
                return Some(MatrixRows::Expr(Spanned::new(text.to_string(), node.span)));
            }
        }
        let Some(items) = node.as_sequence() else {
            self.error(
                node.span,
                format!(
                    "matrix `{key}` must be a list of maps, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut rows = Vec::new();
        for item in items {
            let Some(entries) = item.as_mapping() else {
                self.error(
                    item.span,
                    format!(
                        "matrix `{key}` must be a list of maps, found {} in the list",
                        item.describe()
                    ),
                );
                continue;
            };
            self.check_value_expressions(item, &context::STRATEGY);
            let row = entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.to_value())))
                .collect();
            rows.push(Spanned::new(row, item.span));
        }
        Some(MatrixRows::List(rows))
    }

    /// Checks the expressions in every string of a free-form value.
    fn check_value_expressions(&mut self, node: &Node, site: &Site) {
        match &node.kind {
            NodeKind::Scalar(scalar) => self.template(node, &scalar.text, site),
            NodeKind::Sequence(items) => {
                for item in items {
                    self.check_value_expressions(item, site);
                }
            }
            NodeKind::Mapping(entries) => {
                for (_, value) in entries {
                    self.check_value_expressions(value, site);
                }
            }
        }
    }

    // ---- steps -----------------------------------------------------------

    fn steps(&mut self, node: &Node) -> Vec<Step> {
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
                    step.timeout_minutes = self.number_or_expr(value, &context::STEP)
                }
                "inputs" => step.inputs = self.string_list(value, Some(&context::STEP)),
                "outputs" => step.outputs = self.string_list(value, Some(&context::STEP)),
                "metrics" => step.metrics = self.string_list(value, Some(&context::STEP)),
                _ => unreachable!("every step key is handled"),
            }
        }
        let has_run = node.get("run").is_some();
        let has_uses = node.get("uses").is_some();
        let start = Span::point(node.span.start);
        match (run, uses) {
            (Some(run), None) => step.action = StepAction::Run(run),
            (None, Some(uses)) => step.action = StepAction::Uses(uses),
            _ if has_run && has_uses => {
                self.error(start, "a step cannot have both `run` and `uses`");
                return None;
            }
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

/// `${{ ... }}` written as the whole value (or part of it).
fn is_expression(text: &str) -> bool {
    text.contains("${{")
}

/// Job and step ids: a letter or `_`, then letters, digits, `-` and `_`.
fn is_identifier(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The closest candidate to a mistyped name, if one is close enough.
pub fn suggest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normalized = name.to_ascii_lowercase().replace('_', "-");
    candidates
        .iter()
        .map(|c| {
            let candidate = c.to_ascii_lowercase().replace('_', "-");
            (strsim::damerau_levenshtein(&normalized, &candidate), *c)
        })
        .filter(|(distance, c)| *distance <= (c.len() / 3).clamp(1, 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// `">= 0.90"`, `"< 0.2"`, `">= base - 0.01"`, `"<= base * 1.05"`.
pub fn parse_gate(text: &str) -> Option<GateCondition> {
    let text = text.trim();
    let (comparison, rest) = [
        (">=", Comparison::GreaterOrEqual),
        ("<=", Comparison::LessOrEqual),
        ("==", Comparison::Equal),
        ("!=", Comparison::NotEqual),
        (">", Comparison::Greater),
        ("<", Comparison::Less),
    ]
    .iter()
    .find_map(|(op, comparison)| text.strip_prefix(op).map(|rest| (*comparison, rest.trim())))?;
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    let bound = match rest.strip_prefix("base") {
        None => GateBound::Absolute(number(rest)?),
        Some(shift) => {
            let shift = shift.trim();
            if shift.is_empty() {
                GateBound::Baseline {
                    offset: 0.0,
                    factor: 1.0,
                }
            } else if let Some(n) = shift.strip_prefix('+') {
                GateBound::Baseline {
                    offset: number(n)?,
                    factor: 1.0,
                }
            } else if let Some(n) = shift.strip_prefix('-') {
                GateBound::Baseline {
                    offset: -number(n)?,
                    factor: 1.0,
                }
            } else if let Some(n) = shift.strip_prefix('*') {
                GateBound::Baseline {
                    offset: 0.0,
                    factor: number(n)?,
                }
            } else {
                return None;
            }
        }
    };
    Some(GateCondition { comparison, bound })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Style;

    #[test]
    fn suggestions_find_close_keys() {
        assert_eq!(suggest("runs_on", JOB_KEYS), Some("runs-on"));
        assert_eq!(suggest("step", JOB_KEYS), Some("steps"));
        assert_eq!(suggest("wth", STEP_KEYS), Some("with"));
        assert_eq!(suggest("zzzzzz", JOB_KEYS), None);
    }

    #[test]
    fn gates_parse_absolute_and_baseline_bounds() {
        let gate = parse_gate(">= 0.90").unwrap();
        assert_eq!(gate.comparison, Comparison::GreaterOrEqual);
        assert_eq!(gate.bound, GateBound::Absolute(0.9));
        let gate = parse_gate("<= base + 0.01").unwrap();
        assert_eq!(
            gate.bound,
            GateBound::Baseline {
                offset: 0.01,
                factor: 1.0
            }
        );
        let gate = parse_gate("<= base * 1.05").unwrap();
        assert_eq!(
            gate.bound,
            GateBound::Baseline {
                offset: 0.0,
                factor: 1.05
            }
        );
        assert!(parse_gate("about 0.9").is_none());
        assert!(parse_gate(">= base / 2").is_none());
    }

    #[test]
    fn identifiers_follow_github_rules() {
        assert!(is_identifier("build_and-test2"));
        assert!(is_identifier("_x"));
        assert!(!is_identifier("2fast"));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier(""));
    }

    #[test]
    fn block_scalar_style_is_kept() {
        let (root, _) = crate::yaml::load("run: |\n  echo\n");
        let root = root.unwrap();
        let run = root.get("run").unwrap();
        assert_eq!(run.as_scalar().unwrap().style, Style::Literal);
    }
}
