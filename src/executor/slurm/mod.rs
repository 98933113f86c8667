//! The Slurm executor (`mlci run --executor slurm`): one `sbatch` per job.
//!
//! The batch script ([`batch`]) asks Slurm for what the job asks for
//! (`--gres=gpu:N`, `--time` from `timeout-minutes`, `--cpus-per-task`,
//! `--mem`) and runs the job's image on the node it is given, with
//! `mlci agent` as the container's process. mlci keeps the scheduling (no
//! `--dependency`): a job is submitted when the jobs it needs are done. The
//! agent's mailbox and the job's output file are on the shared file system
//! (`--slurm-dir`), which the login node and the compute nodes both see;
//! the output is followed as it grows ([`follow`]). Ending a job, a run or
//! an interrupted run is `scancel` ([`queue`]), and the script's trap
//! removes the container.

pub mod batch;
mod follow;
mod queue;

use crate::executor::docker::DockerBackend;
use crate::executor::remote::client::{finish_start, local_image_id};
use crate::executor::remote::{FrameRouter, Mailbox, RemoteEnd, RemoteEnv, SecretPlaceholders};
use crate::executor::{Backend, ExecError, JobSpec};
use batch::JobDirs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

/// How long a job whose agent was told to shut down may take to leave the
/// queue before it is cancelled.
const QUIT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Where and how jobs are submitted.
#[derive(Clone, Debug)]
pub struct SlurmConfig {
    /// A directory of the shared file system (mailboxes, output files).
    pub shared_dir: PathBuf,
    /// `--partition`, else the cluster's default.
    pub partition: Option<String>,
    /// The mlci binary the nodes run as the agent (this one, by default; it
    /// must be on the shared file system too).
    pub agent: PathBuf,
}

pub struct SlurmBackend {
    config: SlurmConfig,
    /// Images are looked up and built on this machine's engine, which a
    /// one-node cluster (or a cluster with a shared registry) shares.
    docker: Option<DockerBackend>,
    jobs: AtomicU64,
}

impl SlurmBackend {
    /// Checks that Slurm answers (`squeue`), and connects to the local
    /// Docker engine when there is one.
    pub async fn connect(config: SlurmConfig) -> Result<SlurmBackend, ExecError> {
        queue::check_available().await?;
        std::fs::create_dir_all(&config.shared_dir).map_err(|e| {
            ExecError::Engine(format!(
                "cannot create the Slurm directory {}: {e}",
                config.shared_dir.display()
            ))
        })?;
        Ok(SlurmBackend {
            config,
            docker: DockerBackend::connect().await.ok(),
            jobs: AtomicU64::new(0),
        })
    }

    fn run_dir(&self, run_id: &str) -> PathBuf {
        self.config.shared_dir.join(run_id)
    }
}

/// A submitted job: what `remove` cancels.
pub struct SlurmJob {
    job_id: String,
    follower: tokio::task::JoinHandle<()>,
}

impl RemoteEnd for SlurmJob {
    async fn release(&self) -> Result<(), ExecError> {
        // The agent was told to shut down: the job ends by itself unless it
        // is stuck, and only then is it cancelled.
        if !queue::left_queue_within(&self.job_id, QUIT_GRACE).await {
            self.follower.abort();
            return queue::cancel_and_wait(std::slice::from_ref(&self.job_id)).await;
        }
        self.follower.abort();
        Ok(())
    }
}

impl Backend for SlurmBackend {
    type Env = RemoteEnv<SlurmJob>;

    async fn start_job(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> Result<Self::Env, ExecError> {
        if !spec.services.is_empty() {
            return Err(ExecError::Engine(format!(
                "job `{}`: services do not run on Slurm yet",
                spec.job_name
            )));
        }
        let key = format!("job{}", self.jobs.fetch_add(1, Ordering::SeqCst) + 1);
        let dirs = JobDirs {
            root: self.run_dir(&spec.run_id).join(&key),
        };
        let placeholders = SecretPlaceholders::new(&spec.secrets);
        let mut hidden = spec.clone();
        for value in hidden.env.values_mut() {
            *value = placeholders.hide(value);
        }
        write_private(&dirs, &spec.secrets)?;
        let mailbox = Mailbox::open(
            &format!("file://{}", dirs.mailbox().display()),
            &Default::default(),
        )
        .map_err(ExecError::Engine)?;
        let resources = batch::resources(&hidden, self.config.partition.as_deref())
            .map_err(ExecError::Engine)?;
        let script = batch::script(&hidden, &key, &dirs, &self.config.agent, &resources);
        std::fs::write(dirs.script(), &script)
            .map_err(|e| ExecError::Engine(format!("cannot write the batch script: {e}")))?;
        let job_id = queue::submit(&dirs.script()).await?;
        let job_name = spec.job_name.clone();
        eprintln!(
            "[{job_name}] submitted as Slurm job {job_id} ({})",
            match resources.is_empty() {
                true => "the partition's defaults".to_string(),
                false => resources.join(" "),
            }
        );
        let prefix = job_name.clone();
        let frames = FrameRouter::new(move |line| eprintln!("[{prefix}] {line}"));
        let (liveness_tx, liveness) = tokio::sync::watch::channel(None);
        let follower = tokio::spawn(follow::follow(
            dirs.output(),
            job_id.clone(),
            frames.clone(),
            liveness_tx,
        ));
        let digest = local_image_id(self.docker.as_ref(), &spec.image).await;
        let env = RemoteEnv::new(
            job_name,
            crate::executor::ExecutorKind::Slurm.name(),
            mailbox,
            placeholders,
            frames,
            liveness,
            digest,
            SlurmJob { job_id, follower },
        );
        finish_start(env, spec, cancel).await
    }

    async fn image_id(&self, image: &str) -> Result<String, ExecError> {
        match &self.docker {
            Some(docker) => docker.image_id(image).await,
            None => Ok(image.to_string()),
        }
    }

    async fn has_image(&self, image: &str) -> Result<bool, ExecError> {
        match &self.docker {
            Some(docker) => docker.has_image(image).await,
            None => Ok(true),
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
        match &self.docker {
            Some(docker) => {
                docker
                    .build_image(context, dockerfile, tag, labels, on_output)
                    .await
            }
            None => Err(ExecError::Engine(format!(
                "cannot build `{tag}`: no Docker engine on this machine to build it for the Slurm nodes"
            ))),
        }
    }

    async fn remove_run(&self, run_id: &str) -> Result<(), ExecError> {
        let result = queue::cancel_run(run_id).await;
        if let Some(docker) = &self.docker {
            let _ = docker.remove_run(run_id).await;
        }
        let _ = std::fs::remove_dir_all(self.run_dir(run_id));
        result
    }
}

/// The job's directory, and its secrets in a file only the user can read.
fn write_private(dirs: &JobDirs, secrets: &BTreeMap<String, String>) -> Result<(), ExecError> {
    use std::os::unix::fs::OpenOptionsExt;
    let error = |e: std::io::Error| {
        ExecError::Engine(format!(
            "cannot prepare the job directory {}: {e}",
            dirs.root.display()
        ))
    };
    std::fs::create_dir_all(dirs.mailbox()).map_err(error)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dirs.secrets())
        .map_err(error)?;
    use std::io::Write;
    file.write_all(&serde_json::to_vec(secrets).unwrap_or_default())
        .map_err(error)
}
