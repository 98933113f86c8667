//! [`NoEngine`]: the backend of `mlci run --dry-run`, which plans jobs and
//! builds their container requests but starts nothing.

use super::docker::DockerJob;
use super::{Backend, ExecError, JobSpec};
use std::collections::BTreeMap;
use std::path::Path;
use tokio_util::sync::CancellationToken;

pub struct NoEngine;

fn refused() -> ExecError {
    ExecError::Engine("a dry run starts nothing".to_string())
}

impl Backend for NoEngine {
    type Env = DockerJob;

    async fn start_job(&self, _: &JobSpec, _: &CancellationToken) -> Result<DockerJob, ExecError> {
        Err(refused())
    }

    async fn image_id(&self, image: &str) -> Result<String, ExecError> {
        Ok(image.to_string())
    }

    async fn has_image(&self, _: &str) -> Result<bool, ExecError> {
        Ok(true)
    }

    async fn build_image(
        &self,
        _: &Path,
        _: &str,
        _: &str,
        _: &BTreeMap<String, String>,
        _: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), ExecError> {
        Err(refused())
    }

    async fn remove_run(&self, _: &str) -> Result<(), ExecError> {
        Ok(())
    }
}
