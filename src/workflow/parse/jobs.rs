//! The `jobs:` map and each job's own keys (`needs`, `runs-on`, `environment`,
//! `outputs`, the `with` and `secrets` of a reusable-workflow call).

use super::reader::{Reader, is_identifier, suggest};
use crate::diag::Diagnostic;
use crate::workflow::context;
use crate::workflow::model::{Defaults, Env, Environment, Job, JobSecrets, RunsOn, Spanned};
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;

pub(super) const JOB_KEYS: &[&str] = &[
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

impl Reader<'_> {
    pub(super) fn jobs(&mut self, node: &Node) -> Vec<Job> {
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
            call: None,
            needs_as: None,
            called: None,
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
                    job.timeout_minutes = self.timeout_minutes(value, &context::JOB)
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
            return Some(Environment {
                name,
                url: None,
                deployment: None,
            });
        }
        let mut name = None;
        let mut url = None;
        let mut deployment = None;
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
                _ => deployment = self.bool_or_expr(field.value, &context::JOB),
            }
        }
        if name.is_none() && node.as_mapping().is_some() {
            self.error(node.span, "`environment` is missing `name`");
        }
        Some(Environment {
            name: name?,
            url,
            deployment,
        })
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
}
