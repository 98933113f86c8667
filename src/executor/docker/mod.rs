//! The Docker backend: one container per job, services on a per-job bridge
//! network, steps run with `docker exec`.
//!
//! Set-up order in [`DockerBackend::start_job`]: check the options
//! (`--privileged`) and the GPU runtime, and make the images present
//! (pulled as `--pull` says, see `pull`) before anything is created; then the network, the job container
//! (started at once, so that an engine that cannot give GPUs fails before any
//! service is waited on), the workspace copy, the services, and finally the
//! services' health checks. Whatever fails or is cancelled on the way, all that
//! was created is removed again. Every object carries the labels
//! [`LABEL_RUN`](crate::executor::LABEL_RUN) and [`LABEL_JOB`](crate::executor::LABEL_JOB), so [`DockerBackend::remove_run`] finds the
//! leftovers of a run that was killed.
//!
//! Killing a command: every exec runs with `MLCI_EXEC_ID=<unique id>` in its
//! environment, which all of its descendants inherit. On timeout or cancel a
//! second exec, as root, walks `/proc` and sends SIGKILL to every process
//! whose environment holds that id (three passes, to catch processes forked
//! meanwhile). This needs `sh` and `grep` in the image, not `setsid` or a
//! process group, and also catches children that start their own session.
//!
//! Files: `connection` (the engine, its GPU support, image look-up),
//! `pull` (pulling images, once per run each) with `credentials` (docker's
//! configuration file and credential helpers),
//! `backend` (the [`Backend`](crate::executor::Backend) implementation),
//! `job_setup` (creating a job's network, containers, workspace and
//! services), `container_bodies` (the create bodies of job and service
//! containers), [`container_config`] (`container.options` translated into
//! Docker's configuration), `job`, `job_env` (the
//! [`JobEnv`](crate::executor::JobEnv) implementation), `exec` (running and
//! killing commands), `step_container` (containers of Docker actions),
//! `removal`, `errors`, `names`, `archive` (tar streams), `host_dirs` (the
//! job's workspace and temp directory as bind mounts of host directories,
//! when the engine runs on this machine) and [`self_container`] (how the
//! engine finds those directories when mlci itself runs in a container).

mod archive;
mod backend;
mod connection;
mod container_bodies;
pub mod container_config;
mod credentials;
mod errors;
mod exec;
mod host_dirs;
mod job;
mod job_env;
mod job_setup;
mod names;
mod orphans;
mod pull;
mod reclaim;
mod removal;
pub mod self_container;
mod step_container;

pub use connection::{DockerBackend, GpuSupport};
pub use container_bodies::{
    LABEL_ROLE, LABEL_SERVICE, job_container_body, port_bindings, service_container_body,
};
pub use container_config::{DockerConfig, DockerDeviceRequest};
pub use credentials::registry_credentials;
pub use exec::EXEC_ID_VAR;
pub use host_dirs::LARGE_FILE;
pub use job::DockerJob;
pub use job_setup::TEMP_DIR;
pub use pull::{PullProgress, Pulls};
pub use removal::RunObjects;
