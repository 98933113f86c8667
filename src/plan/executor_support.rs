//! What a cluster executor cannot do yet, found before anything starts:
//! each is an error at the place in the workflow that asks for it, and
//! `mlci run --executor k8s|slurm` exits 2 on any of them.

use crate::diag::{Diagnostic, SourceFile};
use crate::executor::{ContainerOptions, ExecutorKind};
use crate::workflow::{Job, StepAction, Workflow};

/// The `container.options` flags a cluster executor translates (into
/// Slurm's and Docker's flags on the node, or into the pod spec); Slurm's
/// nodes also take `-v` (their own paths).
const CLUSTER_FLAGS: &[&str] = &[
    "--gpus",
    "--shm-size",
    "--memory",
    "-m",
    "--cpus",
    "-e",
    "--env",
];
const SLURM_ONLY_FLAGS: &[&str] = &["-v", "--volume"];

fn supported_flags(executor: ExecutorKind) -> Vec<&'static str> {
    let mut flags = CLUSTER_FLAGS.to_vec();
    if executor == ExecutorKind::Slurm {
        flags.extend_from_slice(SLURM_ONLY_FLAGS);
    }
    flags
}

/// Every use of something `executor` does not support, in `workflow`.
pub fn check(workflow: &Workflow, file: &SourceFile, executor: ExecutorKind) -> Vec<Diagnostic> {
    if executor == ExecutorKind::Docker {
        return Vec::new();
    }
    let mut found = Vec::new();
    for job in &workflow.jobs {
        check_job(job, file, executor, &mut found);
    }
    found
}

fn check_job(job: &Job, file: &SourceFile, executor: ExecutorKind, found: &mut Vec<Diagnostic>) {
    let on = executor.name();
    let flag = executor.flag();
    let supported = supported_flags(executor);
    for step in &job.steps {
        if let StepAction::Uses(uses) = &step.action
            && uses.value.starts_with("docker://")
        {
            found.push(
                Diagnostic::error(
                    uses.span,
                    format!("Docker actions (`docker://`) do not run on {on} yet"),
                )
                .with_help("run the tool in a `run:` step of an image that has it"),
            );
        }
    }
    if executor == ExecutorKind::Slurm
        && let Some((service, _)) = job.services.first()
    {
        found.push(
            Diagnostic::error(service.span, format!("services do not run on {on} yet")).with_help(
                "start the service in a step, or run this job with --executor docker or k8s",
            ),
        );
    }
    let mut containers: Vec<(&str, &crate::workflow::Container)> = Vec::new();
    if let Some(container) = &job.container {
        containers.push(("container", container));
    }
    for (service, container) in &job.services {
        containers.push((service.value.as_str(), container));
    }
    for (role, container) in containers {
        if let Some(credentials) = &container.credentials {
            found.push(Diagnostic::error(
                credentials.username.span,
                format!("registry credentials are not passed to {on} yet: the nodes must be able to pull the image themselves"),
            ));
        }
        if executor == ExecutorKind::Kubernetes
            && let Some(volume) = container.volumes.first()
        {
            found.push(
                Diagnostic::error(
                    volume.span,
                    format!("volumes of this machine do not reach a {on} pod"),
                )
                .with_help(
                    "move the data through the cache (step outputs) or bake it into the image",
                ),
            );
        }
        if role == "container"
            && let Some(port) = container.ports.first()
        {
            found.push(Diagnostic::error(
                port.span,
                format!("the ports of a job container are not published on {on} yet"),
            ));
        }
        let Some(options) = &container.options else {
            continue;
        };
        // Options with expressions are checked when the job starts.
        if options.value.contains("${{") {
            continue;
        }
        let Ok(parsed) = ContainerOptions::parse(&options.value) else {
            continue;
        };
        let quoted = file
            .text
            .get(options.span.start..)
            .is_some_and(|t| t.starts_with(['"', '\'']));
        let at = |offset: usize, len: usize| options.span.sub(offset + usize::from(quoted), len);
        for (written, offset) in &parsed.flags {
            if !supported.contains(&written.as_str()) {
                found.push(
                    Diagnostic::error(
                        at(*offset, written.len()),
                        format!("container.options `{written}` is not supported by --executor {flag} yet"),
                    )
                    .with_help(format!(
                        "supported there: {}",
                        supported.join(", ")
                    )),
                );
            }
        }
        for gpu in &parsed.gpus {
            if !matches!(gpu.count, Some(n) if n > 0) {
                let (_, offset) = parsed.flag_offset(&["--gpus"]).unwrap_or_default();
                found.push(
                    Diagnostic::error(
                        at(offset, "--gpus".len()),
                        format!("--executor {flag} asks the cluster for GPUs by count"),
                    )
                    .with_help("write `--gpus N` (`all` and named devices are Docker's)"),
                );
            }
        }
    }
}
