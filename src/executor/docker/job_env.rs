//! [`DockerJob`] as a [`JobEnv`]: commands (see `exec`), files in and out
//! of the job container, step containers (see `step_container`), removal.

use std::collections::BTreeMap;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::archive::{self, Source};
use super::host_dirs;
use super::job::DockerJob;
use super::removal::remove_objects;
use crate::executor::{
    ExecError, ExecOutcome, ExecRequest, FileToWrite, JobEnv, RunningService, StepContainerSpec,
    StreamKind,
};
use crate::timings::PhaseTimes;

impl JobEnv for DockerJob {
    async fn exec(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        self.exec_streaming(request, cancel, on_output).await
    }

    async fn write_file(&self, path: &str, contents: &[u8], mode: u32) -> Result<(), ExecError> {
        if let Some(target) = self.host_target(path)? {
            return host_dirs::write_file(&target, contents, mode, self.host_owner())
                .map_err(|e| self.host_error("write", path, e));
        }
        let path = self.abs(path);
        let name = archive::relative_to_root(&path).map_err(ExecError::Engine)?;
        self.upload(vec![Source::Data {
            name,
            data: contents.to_vec(),
            mode,
        }])
        .await
        .map_err(|e| {
            ExecError::Engine(format!(
                "cannot write `{path}` in job `{}`: {e}",
                self.job_name
            ))
        })
    }

    async fn write_files(&self, files: Vec<FileToWrite>) -> Result<(), ExecError> {
        let mut sources = Vec::with_capacity(files.len());
        for file in files {
            if let Some(target) = self.host_target(&file.path)? {
                host_dirs::write_file(&target, &file.contents, file.mode, self.host_owner())
                    .map_err(|e| self.host_error("write", &file.path, e))?;
                continue;
            }
            let path = self.abs(&file.path);
            let name = archive::relative_to_root(&path).map_err(ExecError::Engine)?;
            sources.push(Source::Data {
                name,
                data: file.contents,
                mode: file.mode,
            });
        }
        if sources.is_empty() {
            return Ok(());
        }
        self.upload(sources).await.map_err(|e| {
            ExecError::Engine(format!(
                "cannot write files in job `{}`: {e}",
                self.job_name
            ))
        })
    }

    async fn read_dir_files(&self, path: &str) -> Result<BTreeMap<String, Vec<u8>>, ExecError> {
        if let Some(source) = self.host_source(path) {
            return host_dirs::read_dir_files(&source)
                .map_err(|e| self.host_error("read", path, e));
        }
        let path = self.abs(path);
        let Some(reader) = self.download(&path).await? else {
            return Ok(BTreeMap::new());
        };
        let job = self.job_name.clone();
        let p = path.clone();
        tokio::task::spawn_blocking(move || archive::top_level_files(reader))
            .await
            .map_err(|e| ExecError::Engine(e.to_string()))?
            .map_err(|e| ExecError::Engine(format!("cannot read `{p}` in job `{job}`: {e}")))
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecError> {
        if let Some(source) = self.host_source(path) {
            return match std::fs::read(&source) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
                Err(e) => Err(self.host_error("read", path, e)),
            };
        }
        let path = self.abs(path);
        let Some(reader) = self.download(&path).await? else {
            return Ok(None);
        };
        let job = self.job_name.clone();
        let p = path.clone();
        tokio::task::spawn_blocking(move || archive::first_file(reader))
            .await
            .map_err(|e| ExecError::Engine(e.to_string()))?
            .map_err(|e| ExecError::Engine(format!("cannot read `{p}` in job `{job}`: {e}")))
    }

    async fn copy_in(&self, host: &Path, path: &str) -> Result<(), ExecError> {
        if let Some(target) = self.host_target(path)? {
            let (from, owner) = (host.to_path_buf(), self.host_owner());
            return tokio::task::spawn_blocking(move || {
                host_dirs::copy_tree(&from, &target, owner)
            })
            .await
            .map_err(|e| ExecError::Engine(e.to_string()))?
            .map_err(|e| self.host_error("write", path, e));
        }
        let path = self.abs(path);
        let name = archive::relative_to_root(&path).map_err(ExecError::Engine)?;
        self.upload(vec![Source::Host {
            host: host.to_path_buf(),
            name,
        }])
        .await
        .map_err(|e| {
            ExecError::Engine(format!(
                "cannot copy {} to `{path}` in job `{}`: {e}",
                host.display(),
                self.job_name
            ))
        })
    }

    async fn copy_out(&self, path: &str, host: &Path) -> Result<(), ExecError> {
        if let Some(mounts) = self.host.clone() {
            let (from, to) = (self.abs(path), host.to_path_buf());
            if mounts.readable(&from).is_some() {
                return match tokio::task::spawn_blocking(move || mounts.copy_out(&from, &to))
                    .await
                    .map_err(|e| ExecError::Engine(e.to_string()))?
                {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(ExecError::Engine(format!(
                            "cannot copy `{}` out of job `{}`: it does not exist",
                            self.abs(path),
                            self.job_name
                        )))
                    }
                    Err(e) => Err(self.host_error("read", path, e)),
                };
            }
        }
        let path = self.abs(path);
        let Some(reader) = self.download(&path).await? else {
            return Err(ExecError::Engine(format!(
                "cannot copy `{path}` out of job `{}`: it does not exist",
                self.job_name
            )));
        };
        let host_owned = host.to_path_buf();
        tokio::task::spawn_blocking(move || archive::unpack_to(reader, &host_owned))
            .await
            .map_err(|e| ExecError::Engine(e.to_string()))?
            .map_err(|e| {
                ExecError::Engine(format!(
                    "cannot copy `{path}` out of job `{}` to {}: {e}",
                    self.job_name,
                    host.display()
                ))
            })
    }

    async fn run_step_container(
        &self,
        spec: &StepContainerSpec,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        self.run_step_container_streaming(spec, cancel, on_output)
            .await
    }

    fn image_digest(&self) -> &str {
        &self.image_digest
    }

    fn services(&self) -> &[RunningService] {
        &self.services
    }

    fn host_path(&self, path: &str) -> Option<std::path::PathBuf> {
        self.host.as_ref()?.whole_tree(&self.abs(path))
    }

    fn setup_phases(&self) -> PhaseTimes {
        self.setup_phases.clone()
    }

    async fn hand_back_files(&self) {
        DockerJob::hand_back_files(self).await
    }

    async fn remove(self) -> Result<(), ExecError> {
        let mut ids = self.service_ids.clone();
        ids.push(self.container.clone());
        remove_objects(&self.docker, &ids, self.network.as_deref(), &self.volumes).await
    }
}

impl DockerJob {
    fn host_error(&self, what: &str, path: &str, error: std::io::Error) -> ExecError {
        ExecError::Engine(format!(
            "cannot {what} `{}` in job `{}`: {error}",
            self.abs(path),
            self.job_name
        ))
    }
}
