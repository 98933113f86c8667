//! Removing host files that a job's container wrote as root and that mlci's
//! user cannot remove: what a run killed with SIGKILL left in the cache's
//! `tmp/` before it handed its files back (see `DockerJob::hand_back_files`).
//! The engine runs as root, so a short container that mounts their directory
//! removes them: `rm -rf` in the first local image that has it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, ListImagesOptionsBuilder};
use futures_util::StreamExt;

use super::connection::DockerBackend;
use super::errors::engine_error;
use super::removal::remove_objects;
use crate::executor::{ExecError, LABEL_OWNER, LABEL_RUN};

/// Where the directory is mounted in the container.
const MOUNT: &str = "/mlci-reclaim";

/// The label of the images mlci builds (`crate::images::HASH_LABEL`; images
/// uses the executor, not the other way round).
const MLCI_IMAGE_LABEL: &str = "dev.mlci.image.hash";

impl DockerBackend {
    /// Removes `paths` (entries of one directory) as root, in a container
    /// labelled with `run_id`. Images mlci built are tried first (they have
    /// `rm`), then the others, until one container succeeds.
    pub async fn remove_as_root(&self, run_id: &str, paths: &[PathBuf]) -> Result<(), ExecError> {
        let Some(dir) = paths.first().and_then(|p| p.parent()) else {
            return Ok(());
        };
        let names: Vec<String> = paths
            .iter()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name())
            .map(|n| format!("{MOUNT}/{}", n.to_string_lossy()))
            .collect();
        let mut last = ExecError::Engine("the engine has no image to run `rm` in".to_string());
        for image in self.candidate_images().await?.iter().take(3) {
            match self.rm_in(run_id, image, dir, &names).await {
                Ok(()) => return Ok(()),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// Local images, mlci's runner images first.
    async fn candidate_images(&self) -> Result<Vec<String>, ExecError> {
        let images = self
            .docker
            .list_images(Some(ListImagesOptionsBuilder::default().build()))
            .await
            .map_err(|e| engine_error("listing the local images", e))?;
        let mut tagged: Vec<(bool, String)> = images
            .into_iter()
            .filter_map(|i| {
                let ours = i.labels.contains_key(MLCI_IMAGE_LABEL);
                let tag = i.repo_tags.into_iter().find(|t| t != "<none>:<none>")?;
                Some((!ours, tag))
            })
            .collect();
        tagged.sort();
        Ok(tagged.into_iter().map(|(_, tag)| tag).collect())
    }

    async fn rm_in(
        &self,
        run_id: &str,
        image: &str,
        dir: &Path,
        names: &[String],
    ) -> Result<(), ExecError> {
        // The directory as the engine finds it (mlci may run in a container);
        // job files that are copied, not mounted, are mlci's own.
        let Some(dir) = self.files.engine_path(dir) else {
            return Ok(());
        };
        let mut cmd = vec!["rm".to_string(), "-rf".to_string()];
        cmd.extend(names.iter().cloned());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(cmd),
            cmd: Some(vec![]),
            user: Some("0".to_string()),
            network_disabled: Some(true),
            labels: Some(HashMap::from([
                (LABEL_RUN.to_string(), run_id.to_string()),
                (
                    LABEL_OWNER.to_string(),
                    crate::owner::Owner::current_encoded().to_string(),
                ),
            ])),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:{MOUNT}", dir.display())]),
                network_mode: Some("none".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| engine_error(&format!("creating a container of {image}"), e))?
            .id;
        let result = async {
            self.docker
                .start_container(&id, None)
                .await
                .map_err(|e| engine_error(&format!("starting a container of {image}"), e))?;
            let mut wait = self
                .docker
                .wait_container(&id, None::<bollard::query_parameters::WaitContainerOptions>);
            match wait.next().await {
                Some(Ok(r)) if r.status_code == 0 => Ok(()),
                _ => Err(ExecError::Engine(format!("`rm -rf` in {image} failed"))),
            }
        }
        .await;
        let _ = remove_objects(&self.docker, std::slice::from_ref(&id), None, &[]).await;
        result
    }
}
