//! The executor interface that every backend implements: where a job's
//! steps run.
//!
//! The runner (`crate::run`) drives jobs through [`Backend`] and [`JobEnv`]
//! and knows nothing of Docker; [`docker`] is the first backend (Kubernetes
//! and Slurm are meant to follow behind the same interface).
//!
//! A job environment is one container (plus its service containers and their
//! network) in which the runner executes commands one after another, and into
//! and out of which it copies files.
//!
//! What a job asks of its container arrives in [`JobSpec`], with
//! `container.options` already parsed into the backend-neutral
//! [`ContainerOptions`] ([`options`]); each backend translates that model
//! into its own configuration (Docker's is `docker::container_config`).

pub mod any;
pub mod docker;
pub mod dry_run;
pub mod k8s;
pub mod options;
pub mod pull;
pub mod remote;
pub mod slurm;

pub use options::{ContainerOptions, GpuRequest, OptionsError};
pub use pull::{PullError, PullPolicy, RegistryCredentials};

use crate::timings::PhaseTimes;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Labels that every container, network and volume of a run carries, so that
/// a run's leftovers can always be found and removed.
pub const LABEL_RUN: &str = "dev.mlci.run";
pub const LABEL_JOB: &str = "dev.mlci.job";
/// The process that made the object (`host/pid/start`, see
/// [`crate::owner::Owner`]): what the next run removes once it is gone.
pub const LABEL_OWNER: &str = "dev.mlci.owner";

/// Everything a backend needs to set up one job instance.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// Identifies the run (labels, names); unique per `mlci run`.
    pub run_id: String,
    /// The job instance, e.g. `train (forest, 0.1)`; for labels and logs.
    pub job_name: String,
    pub image: String,
    /// `container.credentials`, for pulling `image`.
    pub credentials: Option<RegistryCredentials>,
    /// `container.options` of the job, parsed.
    pub options: ContainerOptions,
    /// `container.env`.
    pub env: BTreeMap<String, String>,
    /// `container.volumes` (`host:container[:ro]`, or `name:container`). A
    /// host path in the workspace (`./data`, or under `workspace_path`) is
    /// that part of the job's own workspace; the Docker backend gives other
    /// paths to the engine as its own, translated when they lie in a mount of
    /// the container mlci runs in (`docker::self_container`).
    pub volumes: Vec<String>,
    /// `container.ports`.
    pub ports: Vec<String>,
    pub services: Vec<ServiceSpec>,
    /// Host directory copied into the container at `workspace_path`.
    pub workspace: PathBuf,
    /// Where the job's steps write their declared outputs: paths relative to
    /// the workspace, each a file or a directory. A file there is the job's
    /// to rewrite, so a backend never shares it read-only with `workspace`.
    pub outputs: Vec<String>,
    /// Where the workspace lives inside the container.
    pub workspace_path: String,
    /// Host paths copied in after the workspace, in the same upload (one
    /// archive costs the engine one extraction): (host path, container path).
    pub copies: Vec<(PathBuf, String)>,
    /// Files written with the workspace, such as the event payload.
    pub files: Vec<FileToWrite>,
    /// Whether `--privileged` may be honoured (`mlci run --allow-privileged`).
    pub allow_privileged: bool,
    /// An empty host directory for the job's files, on the cache's file
    /// system: a backend whose engine sees this machine's files keeps the
    /// workspace and temp directory there as bind mounts instead of copies,
    /// and [`JobEnv::host_path`] tells where. The caller removes it.
    pub host_dir: Option<PathBuf>,
    /// The job's `timeout-minutes`: a cluster executor makes it the limit of
    /// the cluster's job (Slurm's `--time`, Kubernetes' `activeDeadlineSeconds`).
    pub timeout: Option<Duration>,
    /// The run's secrets by name, for a backend that must hand them to the
    /// far end through its own secret store rather than in requests.
    pub secrets: BTreeMap<String, String>,
}

/// A `services:` entry.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// The key under `services:`; also the service's host name on the job network.
    pub name: String,
    pub image: String,
    /// `services.<id>.credentials`, for pulling `image`.
    pub credentials: Option<RegistryCredentials>,
    pub options: ContainerOptions,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
}

/// One command to run inside the job environment.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    /// argv, e.g. `["bash", "--noprofile", "--norc", "-eo", "pipefail", "/__w/_temp/x.sh"]`.
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Working directory inside the container.
    pub workdir: String,
    /// `--user` for this exec, when the job asks for one.
    pub user: Option<String>,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

/// How an exec ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecOutcome {
    Exited(i64),
    TimedOut,
    Cancelled,
}

/// A problem of the engine, not of the user's command (which is an
/// `ExecOutcome::Exited` with a non-zero code). Messages are one sentence
/// that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0}")]
    Engine(String),
    #[error(
        "job `{job}` asks for GPUs, but the Docker engine has no NVIDIA GPU runtime: install the NVIDIA driver and the NVIDIA Container Toolkit (nvidia-ctk runtime configure --runtime=docker), restart Docker, or remove `--gpus` from container.options"
    )]
    NoGpuRuntime { job: String },
    #[error("image `{image}` is not available locally and cannot be pulled: {detail}")]
    ImageMissing { image: String, detail: String },
    /// An image that is not there and could not be pulled.
    #[error("{0}")]
    Pull(#[from] PullError),
    #[error("{0}")]
    Options(#[from] OptionsError),
    /// The set-up was cancelled (Ctrl-C, fail-fast); what it created is removed.
    #[error("job `{job}` was cancelled while its containers were being set up")]
    Cancelled { job: String },
}

/// A container that runs one step (a Docker action) beside the job container:
/// on the job's network, with the job's labels, removed when it ends.
#[derive(Clone, Debug, Default)]
pub struct StepContainerSpec {
    pub image: String,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command; None keeps it.
    pub args: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub workdir: String,
    /// Directories of the job container copied into the step container
    /// before it starts and back into the job container after it ends (files
    /// it deletes are not deleted in the job container).
    pub shared_paths: Vec<String>,
    pub timeout: Option<Duration>,
}

/// A place that can run jobs.
pub trait Backend: Send + Sync {
    type Env: JobEnv + 'static;

    /// Creates and starts the job's container, its network and services
    /// (waiting for their health checks), and copies the workspace in.
    /// `cancel` aborts the set-up; whatever was created is removed.
    fn start_job(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> impl std::future::Future<Output = Result<Self::Env, ExecError>> + Send;

    /// Makes the images of a job (its container's and its services') present
    /// as the run's pull policy says, each pulled at most once per run however
    /// many jobs ask at once. A backend whose nodes pull for themselves does nothing.
    fn pull_images(
        &self,
        _spec: &JobSpec,
        _cancel: &CancellationToken,
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send {
        async { Ok(()) }
    }

    /// The local image's Id (`sha256:…`), or `ExecError::ImageMissing`.
    fn image_id(
        &self,
        image: &str,
    ) -> impl std::future::Future<Output = Result<String, ExecError>> + Send;

    /// Whether an image exists locally.
    fn has_image(
        &self,
        image: &str,
    ) -> impl std::future::Future<Output = Result<bool, ExecError>> + Send;

    /// Builds `context` (a host directory) with its `dockerfile` (a path
    /// inside it) into `tag`, with `labels`; build output goes to `on_output`
    /// line by line.
    fn build_image(
        &self,
        context: &std::path::Path,
        dockerfile: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;

    /// Removes every container, network and volume labelled with this run.
    fn remove_run(
        &self,
        run_id: &str,
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;

    /// Removes host paths that mlci's user may not remove (a killed job's
    /// container wrote them as root), with the engine's rights. Backends whose
    /// jobs do not write on this machine have nothing to do.
    fn remove_as_root(
        &self,
        _run_id: &str,
        _paths: &[PathBuf],
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send {
        async { Ok(()) }
    }

    /// Whether a directory of this machine, named by its path in
    /// `JobSpec::volumes`, reaches the job as a bind mount; where it does
    /// not (a Docker engine that cannot find mlci's files, mlci in a
    /// container), the runner copies such directories in instead.
    fn mounts_local_dirs(&self) -> bool {
        true
    }
}

/// A running job environment.
pub trait JobEnv: Send + Sync {
    /// Runs a command, streaming its output to `on_output` as it comes.
    /// Cancelling `cancel` or passing `request.timeout` stops the command
    /// (the process is killed) and reports `Cancelled` or `TimedOut`.
    fn exec(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> impl std::future::Future<Output = Result<ExecOutcome, ExecError>> + Send;

    /// Writes a file inside the container (parents created).
    fn write_file(
        &self,
        path: &str,
        contents: &[u8],
        mode: u32,
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;

    /// Writes several files in one round trip (parents created).
    fn write_files(
        &self,
        files: Vec<FileToWrite>,
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;

    /// The regular files directly inside a directory of the container, by
    /// name, in one round trip; empty when the directory does not exist.
    fn read_dir_files(
        &self,
        path: &str,
    ) -> impl std::future::Future<Output = Result<BTreeMap<String, Vec<u8>>, ExecError>> + Send;

    /// Reads a file from inside the container; None when it does not exist.
    fn read_file(
        &self,
        path: &str,
    ) -> impl std::future::Future<Output = Result<Option<Vec<u8>>, ExecError>> + Send;

    /// Copies a host file or directory into the container at `path`.
    fn copy_in(
        &self,
        host: &std::path::Path,
        path: &str,
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;

    /// Copies a file or directory out of the container to `host`.
    fn copy_out(
        &self,
        path: &str,
        host: &std::path::Path,
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;

    /// Runs a container beside the job container (see [`StepContainerSpec`]),
    /// streaming its output; cancel and timeout stop and remove it.
    fn run_step_container(
        &self,
        spec: &StepContainerSpec,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> impl std::future::Future<Output = Result<ExecOutcome, ExecError>> + Send;

    /// The digest of the image the job runs in (`sha256:…`).
    fn image_digest(&self) -> &str;

    /// Host names and mapped ports of the services, for `job.services`.
    fn services(&self) -> &[RunningService];

    /// The host directory that holds everything under a container directory
    /// (the workspace, for one), when the backend keeps it on the host: what
    /// a step wrote there can be read in place.
    fn host_path(&self, _path: &str) -> Option<PathBuf> {
        None
    }

    /// What the set-up of `Backend::start_job` spent, by phase (container,
    /// workspace, services).
    fn setup_phases(&self) -> PhaseTimes {
        PhaseTimes::default()
    }

    /// Gives what the job's steps wrote on the host to the user mlci runs as,
    /// once they are done. Steps run as root in most images; a normal user
    /// could then neither move their files into the cache nor remove them.
    fn hand_back_files(&self) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }

    /// Stops and removes the container, its services, network and volumes.
    fn remove(self) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;
}

/// One file for [`JobEnv::write_files`].
#[derive(Clone, Debug)]
pub struct FileToWrite {
    pub path: String,
    pub contents: Vec<u8>,
    pub mode: u32,
}

#[derive(Clone, Debug)]
pub struct RunningService {
    pub name: String,
    pub id: String,
    /// container port → host port
    pub ports: BTreeMap<String, String>,
    pub network: String,
}

/// Where `mlci run --executor` runs jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorKind {
    Docker,
    Kubernetes,
    Slurm,
}

impl ExecutorKind {
    pub fn parse(text: &str) -> Result<ExecutorKind, String> {
        match text {
            "docker" => Ok(ExecutorKind::Docker),
            "k8s" | "kubernetes" => Ok(ExecutorKind::Kubernetes),
            "slurm" => Ok(ExecutorKind::Slurm),
            other => Err(format!(
                "unknown executor `{other}`: expected docker, k8s or slurm"
            )),
        }
    }

    /// The engine's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            ExecutorKind::Docker => "Docker",
            ExecutorKind::Kubernetes => "Kubernetes",
            ExecutorKind::Slurm => "Slurm",
        }
    }

    /// The name `--executor` takes.
    pub fn flag(self) -> &'static str {
        match self {
            ExecutorKind::Docker => "docker",
            ExecutorKind::Kubernetes => "k8s",
            ExecutorKind::Slurm => "slurm",
        }
    }
}
