//! The Docker engine's errors as [`ExecError`]s, each one sentence that says
//! what failed (and for GPUs, what to install).

use bollard::errors::Error as DockerError;

use crate::executor::ExecError;

pub(super) const HINT_BUILD: &str = "build it with `mlci images build` or `docker build`";

pub(super) fn status_of(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(super) fn is_removal_in_progress(e: &DockerError) -> bool {
    docker_message(e).contains("is already in progress")
}

pub(super) fn docker_message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

pub(super) fn engine_error(what: &str, e: DockerError) -> ExecError {
    ExecError::Engine(format!(
        "the Docker engine failed {what}: {}",
        docker_message(&e)
    ))
}

/// Errors of creating and starting containers, with the GPU ones recognised.
pub(super) fn start_error(job: &str, what: &str, e: DockerError) -> ExecError {
    let msg = docker_message(&e);
    if msg.contains("could not select device driver")
        || msg.contains("unknown or invalid runtime name: nvidia")
        || msg.contains("nvidia-container-cli")
    {
        return ExecError::NoGpuRuntime {
            job: job.to_string(),
        };
    }
    ExecError::Engine(format!(
        "the Docker engine failed {what} of job `{job}`: {msg}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_errors_are_recognised() {
        let e = DockerError::DockerResponseServerError {
            status_code: 500,
            message: "could not select device driver \"nvidia\" with capabilities: [[gpu]]".into(),
        };
        assert!(matches!(
            start_error("train", "starting", e),
            ExecError::NoGpuRuntime { .. }
        ));
    }
}
