//! [`AnyBackend`]: the executor `mlci run --executor` chose, as one type,
//! so that the command line drives every backend through the same code.

use super::docker::{DockerBackend, DockerJob};
use super::k8s::{KubeBackend, KubeJob};
use super::remote::RemoteEnv;
use super::slurm::{SlurmBackend, SlurmJob};
use super::{
    Backend, ExecError, ExecOutcome, ExecRequest, FileToWrite, JobEnv, JobSpec, RunningService,
    StepContainerSpec, StreamKind,
};
use crate::timings::PhaseTimes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

pub enum AnyBackend {
    Docker(DockerBackend),
    Slurm(SlurmBackend),
    Kube(KubeBackend),
}

pub enum AnyEnv {
    Docker(DockerJob),
    Slurm(RemoteEnv<SlurmJob>),
    Kube(RemoteEnv<KubeJob>),
}

impl AnyBackend {
    /// The Docker engine, when this is the Docker executor.
    pub fn docker(&self) -> Option<&DockerBackend> {
        match self {
            AnyBackend::Docker(docker) => Some(docker),
            _ => None,
        }
    }
}

/// The same call on whichever backend (or environment) this is.
macro_rules! each {
    ($value:expr, $enum:ident, $inner:ident => $body:expr) => {
        match $value {
            $enum::Docker($inner) => $body,
            $enum::Slurm($inner) => $body,
            $enum::Kube($inner) => $body,
        }
    };
}

impl Backend for AnyBackend {
    type Env = AnyEnv;

    async fn start_job(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> Result<AnyEnv, ExecError> {
        Ok(match self {
            AnyBackend::Docker(b) => AnyEnv::Docker(b.start_job(spec, cancel).await?),
            AnyBackend::Slurm(b) => AnyEnv::Slurm(b.start_job(spec, cancel).await?),
            AnyBackend::Kube(b) => AnyEnv::Kube(b.start_job(spec, cancel).await?),
        })
    }

    async fn pull_images(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        each!(self, AnyBackend, b => b.pull_images(spec, cancel).await)
    }

    async fn image_id(&self, image: &str) -> Result<String, ExecError> {
        each!(self, AnyBackend, b => b.image_id(image).await)
    }

    async fn has_image(&self, image: &str) -> Result<bool, ExecError> {
        each!(self, AnyBackend, b => b.has_image(image).await)
    }

    async fn build_image(
        &self,
        context: &Path,
        dockerfile: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), ExecError> {
        each!(self, AnyBackend, b => b.build_image(context, dockerfile, tag, labels, on_output).await)
    }

    async fn remove_run(&self, run_id: &str) -> Result<(), ExecError> {
        each!(self, AnyBackend, b => b.remove_run(run_id).await)
    }

    async fn remove_as_root(&self, run_id: &str, paths: &[PathBuf]) -> Result<(), ExecError> {
        each!(self, AnyBackend, b => b.remove_as_root(run_id, paths).await)
    }

    fn mounts_local_dirs(&self) -> bool {
        each!(self, AnyBackend, b => b.mounts_local_dirs())
    }
}

impl JobEnv for AnyEnv {
    async fn exec(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        each!(self, AnyEnv, e => e.exec(request, cancel, on_output).await)
    }

    async fn write_file(&self, path: &str, contents: &[u8], mode: u32) -> Result<(), ExecError> {
        each!(self, AnyEnv, e => e.write_file(path, contents, mode).await)
    }

    async fn write_files(&self, files: Vec<FileToWrite>) -> Result<(), ExecError> {
        each!(self, AnyEnv, e => e.write_files(files).await)
    }

    async fn read_dir_files(&self, path: &str) -> Result<BTreeMap<String, Vec<u8>>, ExecError> {
        each!(self, AnyEnv, e => e.read_dir_files(path).await)
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecError> {
        each!(self, AnyEnv, e => e.read_file(path).await)
    }

    async fn copy_in(&self, host: &Path, path: &str) -> Result<(), ExecError> {
        each!(self, AnyEnv, e => e.copy_in(host, path).await)
    }

    async fn copy_out(&self, path: &str, host: &Path) -> Result<(), ExecError> {
        each!(self, AnyEnv, e => e.copy_out(path, host).await)
    }

    async fn run_step_container(
        &self,
        spec: &StepContainerSpec,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        each!(self, AnyEnv, e => e.run_step_container(spec, cancel, on_output).await)
    }

    fn image_digest(&self) -> &str {
        each!(self, AnyEnv, e => e.image_digest())
    }

    fn services(&self) -> &[RunningService] {
        each!(self, AnyEnv, e => e.services())
    }

    fn host_path(&self, path: &str) -> Option<PathBuf> {
        each!(self, AnyEnv, e => e.host_path(path))
    }

    fn setup_phases(&self) -> PhaseTimes {
        each!(self, AnyEnv, e => e.setup_phases())
    }

    async fn hand_back_files(&self) {
        each!(self, AnyEnv, e => e.hand_back_files().await)
    }

    async fn remove(self) -> Result<(), ExecError> {
        each!(self, AnyEnv, e => e.remove().await)
    }
}
