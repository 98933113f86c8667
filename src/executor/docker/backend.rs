//! [`DockerBackend`] as a [`Backend`]: setting up jobs, images, and removing
//! the leftovers of a run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::errors::Error as DockerError;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::connection::DockerBackend;
use super::errors::engine_error;
use super::job::DockerJob;
use super::job_setup::Created;
use super::removal;
use crate::executor::{Backend, ExecError, JobSpec};

impl Backend for DockerBackend {
    type Env = DockerJob;

    async fn start_job(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> Result<DockerJob, ExecError> {
        let mut created = Created::default();
        match self.start_job_inner(spec, cancel, &mut created).await {
            Ok(env) => Ok(env),
            Err(e) => {
                self.cleanup(&created).await;
                Err(e)
            }
        }
    }

    async fn pull_images(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        self.ensure_job_images(spec, cancel).await
    }

    async fn image_id(&self, image: &str) -> Result<String, ExecError> {
        DockerBackend::image_id(self, image).await
    }

    async fn has_image(&self, image: &str) -> Result<bool, ExecError> {
        match self.image_id(image).await {
            Ok(_) => Ok(true),
            Err(ExecError::ImageMissing { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn build_image(
        &self,
        context: &Path,
        dockerfile: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), ExecError> {
        let dir = context.to_path_buf();
        let tar = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut builder = tar::Builder::new(Vec::new());
            builder.follow_symlinks(false);
            builder.append_dir_all(".", &dir)?;
            builder.into_inner()
        })
        .await
        .map_err(|e| ExecError::Engine(e.to_string()))?
        .map_err(|e| {
            ExecError::Engine(format!(
                "cannot pack the build context {}: {e}",
                context.display()
            ))
        })?;
        let labels: HashMap<String, String> =
            labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let options = bollard::query_parameters::BuildImageOptionsBuilder::default()
            .dockerfile(dockerfile)
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(tar.into())));
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = &info.stream {
                        for line in text.lines().filter(|l| !l.trim().is_empty()) {
                            on_output(line);
                        }
                    }
                }
                Err(DockerError::DockerStreamError { error }) => {
                    return Err(ExecError::Engine(format!(
                        "building the image {tag} failed: {}",
                        error.trim()
                    )));
                }
                Err(e) => return Err(engine_error(&format!("building the image {tag}"), e)),
            }
        }
        Ok(())
    }

    async fn remove_run(&self, run_id: &str) -> Result<(), ExecError> {
        removal::remove_run(&self.docker, run_id).await
    }

    async fn remove_as_root(&self, run_id: &str, paths: &[PathBuf]) -> Result<(), ExecError> {
        DockerBackend::remove_as_root(self, run_id, paths).await
    }

    fn mounts_local_dirs(&self) -> bool {
        self.mounts_host_dirs()
    }
}
