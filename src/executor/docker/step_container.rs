//! Containers that run one step (a Docker action) beside the job container:
//! the shared directories copied in and back, output attached before the
//! start, removed when they end.

use std::collections::HashMap;
use std::path::Path;

use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::container_bodies::LABEL_ROLE;
use super::errors::{docker_message, engine_error, start_error};
use super::job::DockerJob;
use super::removal::remove_objects;
use crate::executor::{
    ExecError, ExecOutcome, LABEL_JOB, LABEL_OWNER, LABEL_RUN, StepContainerSpec, StreamKind,
};

impl DockerJob {
    /// [`JobEnv::run_step_container`](crate::executor::JobEnv::run_step_container):
    /// creates the step container, runs it and removes it.
    pub(super) async fn run_step_container_streaming(
        &self,
        spec: &StepContainerSpec,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        let job = &self.job_name;
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(ExecOutcome::Cancelled),
            present = super::pull::ensure(&self.docker, &self.pulls, &spec.image, None) => present?,
        }
        let labels = HashMap::from([
            (LABEL_RUN.to_string(), self.run_id.clone()),
            (LABEL_JOB.to_string(), self.job_name.clone()),
            (LABEL_ROLE.to_string(), "step".to_string()),
            (
                LABEL_OWNER.to_string(),
                crate::owner::Owner::current_encoded().to_string(),
            ),
        ]);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.args.clone(),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: Some(spec.workdir.clone()).filter(|w| !w.is_empty()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: self.network.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = self
            .docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .map_err(|e| start_error(job, "creating a step container", e))?
            .id;
        let result = self
            .run_step_container_inner(&id, spec, cancel, on_output)
            .await;
        remove_objects(&self.docker, std::slice::from_ref(&id), None, &[])
            .await
            .ok();
        result
    }

    /// Copies `path` (a directory) from one container to another, streamed.
    async fn copy_between(&self, from: &str, to: &str, path: &str) -> Result<(), ExecError> {
        let job = &self.job_name;
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let stream = self
            .docker
            .download_from_container(from, Some(opts))
            .map(|item| item.map_err(|e| std::io::Error::other(docker_message(&e))));
        let parent = Path::new(path)
            .parent()
            .map(|p| p.to_string_lossy().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_string());
        let opts = UploadToContainerOptionsBuilder::default()
            .path(&parent)
            .build();
        self.docker
            .upload_to_container(to, Some(opts), bollard::body_try_stream(stream))
            .await
            .map_err(|e| {
                ExecError::Engine(format!(
                    "cannot copy `{path}` between the containers of job `{job}`: {}",
                    docker_message(&e)
                ))
            })
    }

    async fn run_step_container_inner(
        &self,
        id: &str,
        spec: &StepContainerSpec,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        let job = &self.job_name;
        for path in &spec.shared_paths {
            self.copy_between(&self.container, id, path).await?;
        }
        // Attached before the start, so that no output of a short-lived
        // container is missed (following its logs can miss the last lines).
        let attached = self
            .docker
            .attach_container(
                id,
                Some(bollard::query_parameters::AttachContainerOptions {
                    stream: true,
                    stdout: true,
                    stderr: true,
                    logs: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| {
                engine_error(&format!("attaching to a step container of job `{job}`"), e)
            })?;
        let mut logs = attached.output;
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| start_error(job, "starting a step container", e))?;
        let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timer);
        let stopped = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Some(ExecOutcome::Cancelled),
                _ = &mut timer => break Some(ExecOutcome::TimedOut),
                item = logs.next() => match item {
                    None => break None,
                    Some(Ok(LogOutput::StdErr { message })) => on_output(StreamKind::Stderr, &message),
                    Some(Ok(out)) => on_output(StreamKind::Stdout, &out.into_bytes()),
                    Some(Err(e)) => return Err(engine_error(&format!("reading the output of a step container of job `{job}`"), e)),
                },
            }
        };
        if let Some(outcome) = stopped {
            return Ok(outcome);
        }
        let mut wait = self
            .docker
            .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => {
                return Err(engine_error(
                    &format!("waiting for a step container of job `{job}`"),
                    e,
                ));
            }
            None => -1,
        };
        for path in &spec.shared_paths {
            self.copy_between(id, &self.container, path).await?;
        }
        Ok(ExecOutcome::Exited(code))
    }
}
