//! A job's container request ([`JobSpec`]): its image (from `container:` or
//! the `runs-on` label), options, env, volumes, ports and services, with
//! expressions evaluated.

use crate::executor::{
    Backend, ContainerOptions, FileToWrite, JobSpec, RegistryCredentials, ServiceSpec,
};
use crate::plan::JobInstance;
use crate::run::shared::Shared;
use crate::run::step::{EVENT_PATH, JobScope};
use crate::workflow::Job;
use std::collections::{BTreeMap, BTreeSet};

/// The container a job instance runs in.
pub(super) fn job_spec<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    scope: &JobScope,
    instance: &JobInstance,
    workspace: &str,
) -> Result<JobSpec, String> {
    let labels = crate::images::default_label_images();
    let image = match &job.container {
        Some(container) => scope.eval_string(&container.image.value)?,
        None => instance
            .runs_on
            .iter()
            .find_map(|label| {
                shared.options.platforms.get(label).cloned().or_else(|| {
                    labels
                        .iter()
                        .find(|(l, _)| l == label)
                        .map(|(_, image)| image.to_string())
                })
            })
            .ok_or_else(|| {
                format!(
                    "no image for runs-on `{}`: map the label with -P {}=IMAGE",
                    instance.runs_on.join(", "),
                    instance
                        .runs_on
                        .first()
                        .map(String::as_str)
                        .unwrap_or("LABEL")
                )
            })?,
    };
    let mut spec = JobSpec {
        run_id: shared.run_id.clone(),
        job_name: instance.name.clone(),
        image,
        credentials: None,
        options: ContainerOptions::default(),
        env: BTreeMap::new(),
        volumes: Vec::new(),
        ports: Vec::new(),
        services: Vec::new(),
        workspace: shared.snapshot.clone(),
        outputs: output_bases(shared, job, scope),
        workspace_path: workspace.to_string(),
        copies: Vec::new(),
        files: vec![FileToWrite {
            path: EVENT_PATH.to_string(),
            contents: serde_json::to_vec_pretty(&shared.payload).unwrap_or_default(),
            mode: 0o644,
        }],
        allow_privileged: shared.options.allow_privileged,
        host_dir: None,
        timeout: crate::run::step::timeout_minutes(scope, job.timeout_minutes.as_ref()),
        secrets: shared.options.secrets.clone(),
    };
    if let Some(container) = &job.container {
        spec.credentials = credentials(shared, scope, container.credentials.as_ref())?;
        if let Some(options) = &container.options {
            let text = scope.eval_string(&options.value)?;
            spec.options = ContainerOptions::parse(&text)
                .map_err(|e| format!("container.options: {}", e.message))?;
        }
        for (name, value) in &container.env {
            spec.env
                .insert(name.clone(), scope.eval_string(&value.value)?);
        }
        for volume in &container.volumes {
            spec.volumes.push(scope.eval_string(&volume.value)?);
        }
        for port in &container.ports {
            spec.ports.push(scope.eval_string(&port.value)?);
        }
    }
    for (name, service) in &job.services {
        let mut env = BTreeMap::new();
        for (key, value) in &service.env {
            env.insert(key.clone(), scope.eval_string(&value.value)?);
        }
        let options = match &service.options {
            Some(options) => ContainerOptions::parse(&scope.eval_string(&options.value)?)
                .map_err(|e| format!("services.{}.options: {}", name.value, e.message))?,
            None => ContainerOptions::default(),
        };
        spec.services.push(ServiceSpec {
            name: name.value.clone(),
            image: scope.eval_string(&service.image.value)?,
            credentials: credentials(shared, scope, service.credentials.as_ref())?,
            options,
            env,
            ports: service.ports.iter().map(|p| p.value.clone()).collect(),
            volumes: service.volumes.iter().map(|v| v.value.clone()).collect(),
        });
    }
    Ok(spec)
}

/// Where the job writes over the repository's snapshot: the declared
/// `outputs` and `metrics` of its steps, and of the steps of the jobs it
/// needs (directly or not), whose outputs are laid over its workspace. Each is
/// the literal part of a pattern: this job's patterns are evaluated, others
/// (and what cannot be evaluated before the job runs) count from the last `/`
/// before their first expression.
fn output_bases<B: Backend>(shared: &Shared<B>, job: &Job, scope: &JobScope) -> Vec<String> {
    let patterns = |j: &Job| {
        j.steps
            .iter()
            .flat_map(|s| s.outputs.iter().chain(&s.metrics))
            .map(|p| p.value.clone())
            .collect::<Vec<String>>()
    };
    let mut texts: Vec<String> = patterns(job)
        .into_iter()
        .map(|p| scope.eval_string(&p).unwrap_or_else(|_| literal_part(&p)))
        .collect();
    let needed = transitive_needs(shared, job);
    for other in &shared.workflow.workflow.jobs {
        if needed.contains(&other.id.value) {
            texts.extend(patterns(other).iter().map(|p| literal_part(p)));
        }
    }
    let mut bases: Vec<String> = Vec::new();
    for text in texts {
        if let Ok(base) = crate::cache::tree::pattern_base(text.trim().trim_start_matches("./"))
            && !bases.contains(&base)
        {
            bases.push(base);
        }
    }
    bases
}

/// A pattern without its expressions: the whole of it when it has none,
/// else the directories before the first.
fn literal_part(pattern: &str) -> String {
    match pattern.split_once("${{") {
        None => pattern.to_string(),
        Some((before, _)) => before
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir)
            .to_string(),
    }
}

/// `credentials:` of a container or service, evaluated. As on GitHub, they
/// may read `secrets`, which the job's other keys may not (a secret stays a
/// secret: the run masks it, and the pull never prints it).
fn credentials<B: Backend>(
    shared: &Shared<B>,
    scope: &JobScope,
    credentials: Option<&crate::workflow::model::Credentials>,
) -> Result<Option<RegistryCredentials>, String> {
    let Some(c) = credentials else {
        return Ok(None);
    };
    let mut scope = JobScope {
        contexts: scope.contexts.clone(),
        status: scope.status,
        workspace: scope.workspace.clone(),
    };
    super::contexts::add_secrets(shared, &mut scope);
    Ok(Some(RegistryCredentials {
        username: scope.eval_string(&c.username.value)?,
        password: scope.eval_string(&c.password.value)?,
    }))
}

/// Every job this one needs, directly or through others.
pub(super) fn transitive_needs<B: Backend>(shared: &Shared<B>, job: &Job) -> BTreeSet<String> {
    let by_job = shared.workflow.workflow.needs_by_job();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = job.needs.iter().map(|n| n.value.clone()).collect();
    while let Some(next) = todo.pop() {
        if seen.insert(next.clone())
            && let Some((_, needs)) = by_job.iter().find(|(id, _)| **id == next)
        {
            todo.extend(needs.iter().map(|n| n.to_string()));
        }
    }
    seen
}
