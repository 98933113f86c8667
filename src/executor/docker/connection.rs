//! The connection to a Docker engine: connecting, whether it can give GPUs,
//! looking up local images, and making a job's images present (`pull`).

use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use bollard::Docker;

use super::errors::{HINT_BUILD, engine_error, status_of};
use super::pull::Pulls;
use super::self_container::{self, FileAccess};
use crate::executor::{ExecError, JobSpec, RegistryCredentials};
use tokio_util::sync::CancellationToken;

/// Connection to a Docker engine.
#[derive(Clone, Debug)]
pub struct DockerBackend {
    pub(super) docker: Docker,
    pub(super) host: String,
    /// The run's pull policy and the pulls made so far (see `pull`).
    pub(super) pulls: Arc<Pulls>,
    /// How the engine reaches the job files mlci lays out here.
    pub(super) files: FileAccess,
}

/// Whether the engine can give containers NVIDIA GPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuSupport {
    Yes,
    No,
    /// A remote engine without an `nvidia` runtime: only starting a container tells.
    Unknown,
}

impl DockerBackend {
    /// Connects to `DOCKER_HOST` or the local socket and negotiates the API
    /// version (the engine may be older than bollard).
    pub async fn connect() -> Result<Self, ExecError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let unreachable = |detail: String| {
            ExecError::Engine(format!(
                "cannot reach the Docker engine at {host}: is Docker running? Start it (systemctl start docker) or set DOCKER_HOST ({detail})"
            ))
        };
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(e.to_string()))?;
        // Requests carry uploads of whole workspaces: allow them time; a dead
        // engine is caught by the bounded version check below.
        let docker = docker.with_timeout(Duration::from_secs(3600));
        let docker =
            match tokio::time::timeout(Duration::from_secs(15), docker.negotiate_version()).await {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Err(_) => return Err(unreachable("no answer within 15 s".to_string())),
            };
        let files = default_access(&host);
        Ok(DockerBackend {
            docker,
            host,
            pulls: Arc::default(),
            files,
        })
    }

    /// Finds out how the engine reaches job files kept under `dir` (the
    /// directory the job directories are made in), from inside a container
    /// too (see `self_container`), and keeps it for the jobs; returns the
    /// line that says what was chosen, when there is something to say.
    /// Decided once per process: later calls only take the first choice.
    pub async fn resolve_file_access(&mut self, dir: &Path) -> Result<Option<String>, ExecError> {
        static DECIDED: tokio::sync::OnceCell<FileAccess> = tokio::sync::OnceCell::const_new();
        let mut line = None;
        let access = DECIDED
            .get_or_try_init(|| async {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ExecError::Engine(format!(
                        "cannot create {}: {e}; set MLCI_CACHE_DIR to a writable directory",
                        dir.display()
                    ))
                })?;
                let decision = self_container::decide(&self.docker, &self.host, dir).await?;
                line = decision.line;
                Ok::<_, ExecError>(decision.access)
            })
            .await?;
        self.files = access.clone();
        Ok(line)
    }

    /// Whether job files can be bind mounts of host directories: the engine
    /// listens on a local socket (so it sees this machine's files), and
    /// `MLCI_WORKSPACE=copy` does not ask for copies (an engine in another
    /// machine or VM behind a local socket); from inside a container, as
    /// [`DockerBackend::resolve_file_access`] found.
    pub fn mounts_host_dirs(&self) -> bool {
        self.files != FileAccess::Copy
    }

    /// How the engine finds the job files mlci lays out here.
    pub fn file_access(&self) -> &FileAccess {
        &self.files
    }

    /// What the engine holds of a run now (containers, networks, volumes).
    pub async fn run_objects(&self, run_id: &str) -> Result<super::RunObjects, ExecError> {
        super::removal::list_run(&self.docker, run_id).await
    }

    /// Removes these objects, waiting until the engine has them gone.
    pub async fn remove_run_objects(&self, objects: &super::RunObjects) -> Result<(), ExecError> {
        super::removal::remove_listed(&self.docker, objects).await
    }

    /// Wraps an existing bollard client.
    pub fn with_client(docker: Docker, host: impl Into<String>) -> Self {
        let host = host.into();
        DockerBackend {
            docker,
            files: default_access(&host),
            host,
            pulls: Arc::default(),
        }
    }

    /// Pulls with this policy, and shares the pulls already made (one
    /// `mlci run` pulls each image once, across its workflows).
    pub fn with_pulls(mut self, pulls: Arc<Pulls>) -> Self {
        self.pulls = pulls;
        self
    }

    /// The bollard client, for callers that need more of the API.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// Where the engine is (`unix:///var/run/docker.sock`, `tcp://…`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the engine can run `--gpus` containers: an `nvidia` runtime in
    /// `docker info`, or, on an engine on this machine, the NVIDIA hook that
    /// dockerd looks for (`nvidia-container-runtime-hook`).
    pub async fn gpu_support(&self) -> Result<GpuSupport, ExecError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| engine_error("reading `docker info`", e))?;
        if info
            .runtimes
            .as_ref()
            .is_some_and(|r| r.contains_key("nvidia"))
        {
            return Ok(GpuSupport::Yes);
        }
        let local = self.host.starts_with("unix://")
            && info
                .name
                .as_deref()
                .is_some_and(|n| Some(n.trim()) == local_hostname().as_deref());
        if !local {
            return Ok(GpuSupport::Unknown);
        }
        let hook_found = [
            "nvidia-container-runtime-hook",
            "nvidia-container-toolkit",
            "nvidia-ctk",
        ]
        .iter()
        .any(|b| find_in_path(b));
        Ok(if hook_found {
            GpuSupport::Yes
        } else {
            GpuSupport::No
        })
    }

    /// The image's Id (`sha256:…`), or `ImageMissing`.
    pub async fn image_id(&self, image: &str) -> Result<String, ExecError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(i.id.unwrap_or_default()),
            Err(e) if status_of(&e) == Some(404) => Err(ExecError::ImageMissing {
                image: image.to_string(),
                detail: HINT_BUILD.to_string(),
            }),
            Err(e) => Err(engine_error(&format!("inspecting image `{image}`"), e)),
        }
    }
}

impl DockerBackend {
    /// Makes `image` present as the run's policy says (see `pull`).
    pub async fn ensure_image(
        &self,
        image: &str,
        credentials: Option<&RegistryCredentials>,
    ) -> Result<(), ExecError> {
        super::pull::ensure(&self.docker, &self.pulls, image, credentials).await
    }

    /// The images of a job, its container's and its services', made
    /// present at once; cancelling stops the wait.
    pub(super) async fn ensure_job_images(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        let mut wanted = vec![(spec.image.as_str(), spec.credentials.as_ref())];
        for s in &spec.services {
            wanted.push((s.image.as_str(), s.credentials.as_ref()));
        }
        let all = futures_util::future::try_join_all(
            wanted
                .into_iter()
                .map(|(image, credentials)| self.ensure_image(image, credentials)),
        );
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(ExecError::Cancelled { job: spec.job_name.clone() }),
            done = all => done.map(|_| ()),
        }
    }
}

/// Before [`DockerBackend::resolve_file_access`]: by path on an engine on
/// a local socket, unless `MLCI_WORKSPACE=copy`.
fn default_access(host: &str) -> FileAccess {
    if host.starts_with("unix://") && std::env::var("MLCI_WORKSPACE").as_deref() != Ok("copy") {
        FileAccess::Direct
    } else {
        FileAccess::Copy
    }
}

fn local_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn find_in_path(binary: &str) -> bool {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"].map(std::path::PathBuf::from));
    dirs.iter().any(|d| d.join(binary).is_file())
}
