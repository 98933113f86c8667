//! The contexts a job instance's expressions see: `github`, `inputs`,
//! `vars`, `needs`, `matrix` and `strategy` before anything runs, then
//! `secrets`, `runner` and `job` for its steps.

use crate::executor::Backend;
use crate::expr::{Object, Value};
use crate::plan::PlannedJob;
use crate::run::defaults;
use crate::run::github::{self, GithubContextInput};
use crate::run::shared::{Shared, workflow_name};
use crate::run::step::{JobScope, TEMP};
use crate::workflow::Job;
use std::collections::BTreeMap;

/// A map of strings as an expression object.
pub(crate) fn to_object(map: &BTreeMap<String, String>) -> Object {
    map.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// The scope instance `index` of a planned job starts with, as the jobs it
/// needs have finished so far, and its workspace in the container.
pub(super) fn instance_scope<B: Backend>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    job: &Job,
    index: usize,
) -> (JobScope, String) {
    let (needs, status) = shared.finished.needs_context(job);
    let workspace = super::places::workspace_path(shared);
    let scope = JobScope {
        contexts: job_contexts(shared, planned, index, needs, &workspace),
        status,
        workspace: Some(shared.snapshot.clone()),
    };
    (scope, workspace)
}

/// The contexts of instance `index` of a planned job, given its `needs`
/// context and its workspace in the container.
pub(super) fn job_contexts<B: Backend>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    index: usize,
    needs: Object,
    workspace: &str,
) -> Object {
    let instance = &planned.instances[index];
    let mut contexts = Object::new();
    contexts.insert(
        "github",
        Value::Object(github::github_context(&GithubContextInput {
            info: &shared.info,
            event_name: &shared.options.event,
            payload: &shared.payload,
            workflow: workflow_name(shared),
            run_id: shared.run_number,
            workspace,
            job: &planned.id,
        })),
    );
    contexts.insert("inputs", Value::Object(shared.inputs.clone()));
    contexts.insert("vars", Value::Object(to_object(&shared.options.vars)));
    contexts.insert("needs", Value::Object(needs));
    contexts.insert(
        "matrix",
        Value::Object(
            instance
                .matrix
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    );
    let mut strategy = Object::new();
    strategy.insert("fail-fast", Value::Bool(planned.fail_fast));
    strategy.insert("job-index", Value::Number(index as f64));
    strategy.insert("job-total", Value::Number(planned.instances.len() as f64));
    strategy.insert(
        "max-parallel",
        Value::Number(planned.max_parallel.unwrap_or(planned.instances.len()) as f64),
    );
    contexts.insert("strategy", Value::Object(strategy));
    contexts
}

/// The contexts every step of a job sees besides its own: `secrets`,
/// `runner`, `job`.
/// The `secrets` context: the run's secrets, unless the job is a called
/// workflow's, which has the secrets its call passed (see `call`).
pub(super) fn add_secrets<B: Backend>(shared: &Shared<B>, scope: &mut JobScope) {
    if !scope.contexts.contains_key("secrets") {
        let mut secrets = Object::new();
        for (k, v) in &shared.options.secrets {
            secrets.insert(k.clone(), Value::String(v.clone()));
        }
        scope.contexts.insert("secrets", Value::Object(secrets));
    }
}

pub(super) fn fill_step_contexts<B: Backend>(shared: &Shared<B>, scope: &mut JobScope) {
    add_secrets(shared, scope);
    let mut runner = Object::new();
    runner.insert("os", Value::str("Linux"));
    runner.insert(
        "arch",
        Value::str(defaults::runner_arch(std::env::consts::ARCH)),
    );
    runner.insert("name", Value::str("mlci"));
    runner.insert("temp", Value::str(TEMP));
    runner.insert("tool_cache", Value::str("/__t"));
    scope.contexts.insert("runner", Value::Object(runner));
    let mut job_context = Object::new();
    job_context.insert("status", Value::str("success"));
    scope.contexts.insert("job", Value::Object(job_context));
}
