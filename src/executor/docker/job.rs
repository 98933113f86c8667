//! [`DockerJob`]: a running job's containers, network and volumes, and the
//! archive transport in and out of its container.

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::archive::{self, Owner, Source};
use super::errors::{docker_message, engine_error, status_of};
use super::host_dirs::HostMounts;
use crate::executor::{ExecError, RunningService};
use crate::timings::PhaseTimes;
use std::path::PathBuf;

/// A running job: its container, services and network.
#[derive(Debug)]
pub struct DockerJob {
    pub(super) docker: Docker,
    pub(super) run_id: String,
    pub(super) job_name: String,
    pub(super) container: String,
    pub(super) network: Option<String>,
    pub(super) service_ids: Vec<String>,
    pub(super) services: Vec<RunningService>,
    pub(super) volumes: Vec<String>,
    pub(super) image_digest: String,
    /// The run's pulls, for the images of `docker://` steps.
    pub(super) pulls: std::sync::Arc<super::pull::Pulls>,
    pub(super) workspace_path: String,
    /// Owner of the files mlci writes (the job's `--user` when numeric).
    pub(super) owner: Owner,
    /// What the set-up spent on the container, the workspace and services.
    pub(super) setup_phases: PhaseTimes,
    /// The job's directories on the host, when the workspace and temp
    /// directory are bind mounts (see `host_dirs`).
    pub(super) host: Option<HostMounts>,
}

impl DockerJob {
    /// The job container's id.
    pub fn container_id(&self) -> &str {
        &self.container
    }

    /// The job network's name.
    pub fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// Who should own the files mlci writes on the host for the container:
    /// the job's `--user` when it is not root.
    pub(super) fn host_owner(&self) -> Option<Owner> {
        Some(self.owner).filter(|o| *o != Owner::ROOT)
    }

    /// Where a container path is on the host, for writing; None when it is
    /// not in one of the job's host directories.
    pub(super) fn host_target(&self, path: &str) -> Result<Option<PathBuf>, ExecError> {
        let Some(host) = &self.host else {
            return Ok(None);
        };
        host.writable(&self.abs(path))
            .map_err(|e| ExecError::Engine(format!("cannot write in job `{}`: {e}", self.job_name)))
    }

    /// Where a container path is on the host, for reading.
    pub(super) fn host_source(&self, path: &str) -> Option<PathBuf> {
        self.host.as_ref()?.readable(&self.abs(path))
    }

    /// See [`crate::executor::JobEnv::hand_back_files`]: when mlci is not
    /// root, one `chown -Rh` as root in the container over the job's host
    /// directories. Best effort: an image without `chown` keeps root's files,
    /// and mlci copies them into the cache instead of moving them.
    pub(super) async fn hand_back_files(&self) {
        let Some(host) = &self.host else {
            return;
        };
        // SAFETY: geteuid and getegid cannot fail and touch no memory.
        let me = unsafe {
            Owner {
                uid: libc::geteuid().into(),
                gid: libc::getegid().into(),
            }
        };
        if me == Owner::ROOT {
            return;
        }
        let mut argv = vec![
            "chown".to_string(),
            "-Rh".to_string(),
            format!("{}:{}", me.uid, me.gid),
        ];
        argv.extend(host.writable_paths().into_iter().map(str::to_string));
        let request = crate::executor::ExecRequest {
            argv,
            env: Default::default(),
            workdir: "/".to_string(),
            user: Some("0".to_string()),
            timeout: Some(std::time::Duration::from_secs(60)),
        };
        // Its own token: a cancelled run hands its files back too.
        let cancel = tokio_util::sync::CancellationToken::new();
        let _ = self.exec_streaming(&request, &cancel, &mut |_, _| {}).await;
    }

    pub(super) fn abs(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{}", self.workspace_path.trim_end_matches('/'), path)
        }
    }

    pub(super) async fn upload(&self, sources: Vec<Source>) -> Result<(), String> {
        let (body, builder) = archive::upload_body(sources, self.owner);
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        let sent = self
            .docker
            .upload_to_container(&self.container, Some(opts), bollard::body_try_stream(body))
            .await;
        let built = builder.await.map_err(|e| e.to_string())?;
        // A host-side error (an unreadable file) explains a broken upload;
        // when the engine refused, the host side only saw the stream broken
        // off and the engine's reason is the one to give.
        match (sent, built) {
            (_, Err(h)) if h.kind() != std::io::ErrorKind::BrokenPipe => Err(h.to_string()),
            (Err(e), _) => Err(docker_message(&e)),
            (Ok(()), Err(h)) => Err(h.to_string()),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    pub(super) async fn download(
        &self,
        path: &str,
    ) -> Result<Option<archive::ChannelReader>, ExecError> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = Box::pin(
            self.docker
                .download_from_container(&self.container, Some(opts)),
        );
        // The first item tells whether the path exists.
        let first = match stream.next().await {
            None => bytes::Bytes::new(),
            Some(Ok(b)) => b,
            Some(Err(e)) if status_of(&e) == Some(404) => return Ok(None),
            Some(Err(e)) => {
                return Err(engine_error(
                    &format!("reading `{path}` from job `{}`", self.job_name),
                    e,
                ));
            }
        };
        let rest =
            futures_util::stream::once(async move { Ok::<_, DockerError>(first) }).chain(stream);
        let (reader, _pump) = archive::reader_for(rest);
        Ok(Some(reader))
    }
}
