//! The Docker backend: one container per job, services on a per-job bridge
//! network, steps run with `docker exec`.
//!
//! Set-up order in [`DockerBackend::start_job`]: check the options
//! (`--privileged`), the images (all local: nothing is pulled) and the GPU
//! runtime before anything is created; then the network, the job container
//! (started at once, so that an engine that cannot give GPUs fails before any
//! service is waited on), the workspace copy, the services, and finally the
//! services' health checks. Whatever fails or is cancelled on the way, all that
//! was created is removed again. Every object carries the labels
//! [`LABEL_RUN`] and [`LABEL_JOB`], so [`DockerBackend::remove_run`] finds the
//! leftovers of a run that was killed.
//!
//! Killing a command: every exec runs with `MLCI_EXEC_ID=<unique id>` in its
//! environment, which all of its descendants inherit. On timeout or cancel a
//! second exec, as root, walks `/proc` and sends SIGKILL to every process
//! whose environment holds that id (three passes, to catch processes forked
//! meanwhile). This needs `sh` and `grep` in the image, not `setsid` or a
//! process group, and also catches children that start their own session.

mod archive;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthStatusEnum, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use self::archive::{Owner, Source};
use super::options::split_volume_specs;
use super::{
    Backend, ContainerOptions, ExecError, ExecOutcome, ExecRequest, FileToWrite, JobEnv, JobSpec,
    LABEL_JOB, LABEL_RUN, RunningService, StepContainerSpec, StreamKind,
};

/// Label that says what an object is to mlci: `job`, `service`, `network`, `volume`.
pub const LABEL_ROLE: &str = "dev.mlci.role";
/// Label with the service key on service containers.
pub const LABEL_SERVICE: &str = "dev.mlci.service";

/// The program that keeps a job container alive between execs (as GitHub's
/// runner does); `--entrypoint` replaces `tail`, the arguments stay.
const KEEP_ALIVE_ENTRYPOINT: &str = "tail";
const KEEP_ALIVE_ARGS: [&str; 2] = ["-f", "/dev/null"];
/// The directory of step scripts and files (`/__w/_temp` on GitHub).
pub const TEMP_DIR: &str = "/__w/_temp";
/// Environment variable that marks every process of one exec.
pub const EXEC_ID_VAR: &str = "MLCI_EXEC_ID";

const HINT_BUILD: &str = "build it with `mlci images build` or `docker build`";

/// Connection to a Docker engine.
#[derive(Clone, Debug)]
pub struct DockerBackend {
    docker: Docker,
    host: String,
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
        Ok(DockerBackend { docker, host })
    }

    /// Wraps an existing bollard client.
    pub fn with_client(docker: Docker, host: impl Into<String>) -> Self {
        DockerBackend {
            docker,
            host: host.into(),
        }
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

    async fn start_job_inner(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
        created: &mut Created,
    ) -> Result<DockerJob, ExecError> {
        let job = &spec.job_name;
        // 1. Everything that can be refused is refused before anything exists.
        spec.options.check_privileged(spec.allow_privileged)?;
        for s in &spec.services {
            s.options.check_privileged(spec.allow_privileged)?;
        }
        // No GPU runtime is the sentence a GPU job needs first, before a
        // missing (GPU) image.
        let wants_gpus =
            spec.options.wants_gpus() || spec.services.iter().any(|s| s.options.wants_gpus());
        if wants_gpus && self.gpu_support().await? == GpuSupport::No {
            return Err(ExecError::NoGpuRuntime { job: job.clone() });
        }
        let digest = self.image_id(&spec.image).await?;
        for s in &spec.services {
            self.image_id(&s.image).await?;
        }
        check_cancel(cancel, job)?;

        // 2. The job's network, where services (or aliases) must be found by
        // name. Other jobs use the engine's default bridge, which saves the
        // creation and removal of a network on every job.
        let nonce = nonce();
        let base = format!(
            "mlci-{}-{}-{}",
            slug(&spec.run_id, 24),
            slug(job, 32),
            nonce
        );
        let network = base.clone();
        let job_network = if spec.services.is_empty() && spec.options.network_aliases.is_empty() {
            None
        } else {
            cancellable(
                cancel,
                job,
                self.docker.create_network(NetworkCreateRequest {
                    name: network.clone(),
                    driver: Some("bridge".to_string()),
                    labels: Some(labels(spec, "network", None)),
                    ..Default::default()
                }),
            )
            .await?
            .map_err(|e| engine_error(&format!("creating the network of job `{job}`"), e))?;
            created.network = Some(network.clone());
            Some(network.clone())
        };

        // 3. The job container, started at once.
        for v in &spec.volumes {
            self.ensure_volume(spec, v, created).await?;
        }
        let body = job_container_body(spec, job_network.as_deref());
        let mut create_opts = CreateContainerOptionsBuilder::default().name(&base);
        if let Some(p) = &spec.options.platform {
            create_opts = create_opts.platform(p);
        }
        let id = cancellable(
            cancel,
            job,
            self.docker
                .create_container(Some(create_opts.build()), body),
        )
        .await?
        .map_err(|e| start_error(job, "creating the job container", e))?
        .id;
        created.containers.push(id.clone());
        cancellable(cancel, job, self.docker.start_container(&id, None))
            .await?
            .map_err(|e| start_error(job, "starting the job container", e))?;

        let owner = owner_for(spec.options.user.as_deref());
        let mut env = DockerJob {
            docker: self.docker.clone(),
            run_id: spec.run_id.clone(),
            job_name: job.clone(),
            container: id.clone(),
            network: job_network,
            service_ids: Vec::new(),
            services: Vec::new(),
            volumes: Vec::new(),
            image_digest: digest,
            workspace_path: spec.workspace_path.clone(),
            owner: owner.unwrap_or(Owner::ROOT),
        };

        // 4. The workspace, and the temp directory.
        let ws = archive::relative_to_root(&spec.workspace_path).map_err(ExecError::Engine)?;
        let temp = archive::relative_to_root(TEMP_DIR).map_err(ExecError::Engine)?;
        let mut sources = vec![
            Source::Host {
                host: spec.workspace.clone(),
                name: ws,
            },
            Source::Dir {
                name: temp,
                mode: 0o777,
            },
        ];
        for (host, path) in &spec.copies {
            sources.push(Source::Host {
                host: host.clone(),
                name: archive::relative_to_root(path).map_err(ExecError::Engine)?,
            });
        }
        for file in &spec.files {
            sources.push(Source::Data {
                name: archive::relative_to_root(&file.path).map_err(ExecError::Engine)?,
                data: file.contents.clone(),
                mode: file.mode,
            });
        }
        cancellable(cancel, job, env.upload(sources))
            .await?
            .map_err(|e| {
                ExecError::Engine(format!(
                    "cannot copy the workspace {} into job `{job}`: {e}",
                    spec.workspace.display()
                ))
            })?;
        if owner.is_none()
            && let Some(user) = &spec.options.user
        {
            // A named user: let the container resolve it.
            let argv = vec![
                "chown".to_string(),
                "-R".to_string(),
                user.clone(),
                spec.workspace_path.clone(),
                TEMP_DIR.to_string(),
            ];
            env.run_quiet(&argv, "0", cancel).await?;
        }

        // 5. Services, then their health checks.
        for s in &spec.services {
            for v in &s.volumes {
                self.ensure_volume(spec, v, created).await?;
            }
            let name = format!("{base}-{}", slug(&s.name, 32));
            let body = service_container_body(spec, s, &network);
            let mut opts = CreateContainerOptionsBuilder::default().name(&name);
            if let Some(p) = &s.options.platform {
                opts = opts.platform(p);
            }
            let sid = cancellable(
                cancel,
                job,
                self.docker.create_container(Some(opts.build()), body),
            )
            .await?
            .map_err(|e| start_error(job, &format!("creating service `{}`", s.name), e))?
            .id;
            created.containers.push(sid.clone());
            cancellable(cancel, job, self.docker.start_container(&sid, None))
                .await?
                .map_err(|e| start_error(job, &format!("starting service `{}`", s.name), e))?;
            env.service_ids.push(sid.clone());
            env.services.push(RunningService {
                name: s.name.clone(),
                id: sid,
                ports: BTreeMap::new(),
                network: network.clone(),
            });
        }
        let waits = spec
            .services
            .iter()
            .zip(env.service_ids.clone())
            .map(|(s, id)| self.wait_healthy(job, &s.name, id, cancel));
        let ports = futures_util::future::try_join_all(waits).await?;
        for (svc, p) in env.services.iter_mut().zip(ports) {
            svc.ports = p;
        }
        env.volumes = created.volumes.clone();
        Ok(env)
    }

    /// Creates a named volume of `volumes:` that does not exist yet, labelled
    /// with the run so that it is removed with the job.
    async fn ensure_volume(
        &self,
        spec: &JobSpec,
        volume: &str,
        created: &mut Created,
    ) -> Result<(), ExecError> {
        let Some((name, _)) = volume.split_once(':') else {
            return Ok(());
        };
        if name.starts_with('/')
            || name.starts_with('.')
            || name.starts_with('~')
            || created.volumes.iter().any(|v| v == name)
        {
            return Ok(());
        }
        match self.docker.inspect_volume(name).await {
            Ok(_) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => {
                self.docker
                    .create_volume(VolumeCreateRequest {
                        name: Some(name.to_string()),
                        labels: Some(labels(spec, "volume", None)),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| engine_error(&format!("creating volume `{name}`"), e))?;
                created.volumes.push(name.to_string());
                Ok(())
            }
            Err(e) => Err(engine_error(&format!("inspecting volume `{name}`"), e)),
        }
    }

    /// Waits until a service is running and, when it has a health check,
    /// healthy; returns its published ports.
    async fn wait_healthy(
        &self,
        job: &str,
        service: &str,
        id: String,
        cancel: &CancellationToken,
    ) -> Result<BTreeMap<String, String>, ExecError> {
        let mut delay = Duration::from_millis(100);
        let mut seen_running = false;
        loop {
            let info = cancellable(cancel, job, self.docker.inspect_container(&id, None))
                .await?
                .map_err(|e| engine_error(&format!("inspecting service `{service}`"), e))?;
            let state = info.state.clone().unwrap_or_default();
            let running = state.running.unwrap_or(false);
            if !running {
                let code = state.exit_code.unwrap_or(-1);
                let logs = self.tail_logs(&id).await;
                return Err(ExecError::Engine(format!(
                    "service `{service}` of job `{job}` exited with code {code} before it was ready{}",
                    logs_suffix(&logs)
                )));
            }
            let health = state.health.as_ref().and_then(|h| h.status);
            match health {
                Some(HealthStatusEnum::HEALTHY) => return Ok(published_ports(&info)),
                None | Some(HealthStatusEnum::NONE) | Some(HealthStatusEnum::EMPTY) => {
                    // No health check: ready when it is still running a
                    // moment later (a service that exits at once is an error).
                    if seen_running {
                        return Ok(published_ports(&info));
                    }
                    seen_running = true;
                    delay = Duration::from_millis(500);
                }
                Some(HealthStatusEnum::UNHEALTHY) => {
                    let last = state
                        .health
                        .as_ref()
                        .and_then(|h| h.log.as_ref())
                        .and_then(|l| l.last())
                        .map(|r| {
                            format!(
                                "exit code {}: {}",
                                r.exit_code.unwrap_or(-1),
                                r.output.clone().unwrap_or_default().trim()
                            )
                        })
                        .unwrap_or_default();
                    return Err(ExecError::Engine(format!(
                        "service `{service}` of job `{job}` is unhealthy: its health check failed ({last}); check `--health-cmd` in its options"
                    )));
                }
                Some(HealthStatusEnum::STARTING) => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(ExecError::Cancelled { job: job.to_string() }),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_millis(1000));
        }
    }

    async fn tail_logs(&self, id: &str) -> String {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail("20")
            .build();
        let mut stream = self.docker.logs(id, Some(opts));
        let mut out = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            out.extend_from_slice(&chunk.into_bytes());
            if out.len() > 16 * 1024 {
                break;
            }
        }
        String::from_utf8_lossy(&out).trim().to_string()
    }

    /// Removes what a failed or cancelled set-up had created.
    async fn cleanup(&self, created: &Created) {
        remove_objects(
            &self.docker,
            &created.containers,
            created.network.as_deref(),
            &created.volumes,
        )
        .await
        .ok();
    }
}

/// Objects created during a set-up, for removal when it fails.
#[derive(Default)]
struct Created {
    containers: Vec<String>,
    network: Option<String>,
    volumes: Vec<String>,
}

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
        let filter = HashMap::from([("label".to_string(), vec![format!("{LABEL_RUN}={run_id}")])]);
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filter)
                    .build(),
            ))
            .await
            .map_err(|e| engine_error("listing the run's containers", e))?;
        let ids: Vec<String> = containers.into_iter().filter_map(|c| c.id).collect();
        let networks = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filter)
                    .build(),
            ))
            .await
            .map_err(|e| engine_error("listing the run's networks", e))?;
        let volumes = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filter)
                    .build(),
            ))
            .await
            .map_err(|e| engine_error("listing the run's volumes", e))?;
        let volume_names: Vec<String> = volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        let mut first_err = remove_objects(&self.docker, &ids, None, &[]).await.err();
        for n in networks {
            if let Some(id) = n.id.or(n.name)
                && let Err(e) = self.docker.remove_network(&id).await
                && status_of(&e) != Some(404)
            {
                first_err.get_or_insert(engine_error("removing a network of the run", e));
            }
        }
        if let Err(e) = remove_objects(&self.docker, &[], None, &volume_names).await {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Force-removes containers (with their anonymous volumes), then the network,
/// then volumes; missing objects are fine. Reports the first failure.
async fn remove_objects(
    docker: &Docker,
    containers: &[String],
    network: Option<&str>,
    volumes: &[String],
) -> Result<(), ExecError> {
    let mut first: Option<ExecError> = None;
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let removals = containers.iter().map(|id| {
        let opts = opts.clone();
        async move { (id, docker.remove_container(id, Some(opts)).await) }
    });
    for (id, r) in futures_util::future::join_all(removals).await {
        if let Err(e) = r
            && !matches!(status_of(&e), Some(404))
            && !is_removal_in_progress(&e)
        {
            first.get_or_insert(engine_error(
                &format!("removing container {}", short(id)),
                e,
            ));
        }
    }
    if let Some(n) = network
        && let Err(e) = docker.remove_network(n).await
        && status_of(&e) != Some(404)
    {
        first.get_or_insert(engine_error(&format!("removing network {n}"), e));
    }
    for v in volumes {
        if let Err(e) = docker
            .remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
            && status_of(&e) != Some(404)
        {
            first.get_or_insert(engine_error(&format!("removing volume {v}"), e));
        }
    }
    first.map_or(Ok(()), Err)
}

/// A running job: its container, services and network.
#[derive(Debug)]
pub struct DockerJob {
    docker: Docker,
    run_id: String,
    job_name: String,
    container: String,
    network: Option<String>,
    service_ids: Vec<String>,
    services: Vec<RunningService>,
    volumes: Vec<String>,
    image_digest: String,
    workspace_path: String,
    /// Owner of the files mlci writes (the job's `--user` when numeric).
    owner: Owner,
}

impl DockerJob {
    /// Copies `path` (a directory) from one container to another, streamed.
    async fn copy_between(&self, from: &str, to: &str, path: &str) -> Result<(), ExecError> {
        let job = &self.job_name;
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let stream = self
            .docker
            .download_from_container(from, Some(opts))
            .map(|item| item.map_err(|e| std::io::Error::other(docker_message(&e))));
        let parent = Path::new(path)
            .parent()
            .map(|p| p.to_string_lossy().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_string());
        let opts = UploadToContainerOptionsBuilder::default()
            .path(&parent)
            .build();
        self.docker
            .upload_to_container(to, Some(opts), bollard::body_try_stream(stream))
            .await
            .map_err(|e| {
                ExecError::Engine(format!(
                    "cannot copy `{path}` between the containers of job `{job}`: {}",
                    docker_message(&e)
                ))
            })
    }

    async fn run_step_container_inner(
        &self,
        id: &str,
        spec: &StepContainerSpec,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        let job = &self.job_name;
        for path in &spec.shared_paths {
            self.copy_between(&self.container, id, path).await?;
        }
        // Attached before the start, so that no output of a short-lived
        // container is missed (following its logs can miss the last lines).
        let attached = self
            .docker
            .attach_container(
                id,
                Some(bollard::query_parameters::AttachContainerOptions {
                    stream: true,
                    stdout: true,
                    stderr: true,
                    logs: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| {
                engine_error(&format!("attaching to a step container of job `{job}`"), e)
            })?;
        let mut logs = attached.output;
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| start_error(job, "starting a step container", e))?;
        let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timer);
        let stopped = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Some(ExecOutcome::Cancelled),
                _ = &mut timer => break Some(ExecOutcome::TimedOut),
                item = logs.next() => match item {
                    None => break None,
                    Some(Ok(LogOutput::StdErr { message })) => on_output(StreamKind::Stderr, &message),
                    Some(Ok(out)) => on_output(StreamKind::Stdout, &out.into_bytes()),
                    Some(Err(e)) => return Err(engine_error(&format!("reading the output of a step container of job `{job}`"), e)),
                },
            }
        };
        if let Some(outcome) = stopped {
            return Ok(outcome);
        }
        let mut wait = self
            .docker
            .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => {
                return Err(engine_error(
                    &format!("waiting for a step container of job `{job}`"),
                    e,
                ));
            }
            None => -1,
        };
        for path in &spec.shared_paths {
            self.copy_between(id, &self.container, path).await?;
        }
        Ok(ExecOutcome::Exited(code))
    }

    /// The job container's id.
    pub fn container_id(&self) -> &str {
        &self.container
    }

    /// The job network's name.
    pub fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    fn abs(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{}", self.workspace_path.trim_end_matches('/'), path)
        }
    }

    async fn upload(&self, sources: Vec<Source>) -> Result<(), String> {
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

    /// Runs a command to completion, output discarded; fails unless it exits 0.
    async fn run_quiet(
        &self,
        argv: &[String],
        user: &str,
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        let req = ExecRequest {
            argv: argv.to_vec(),
            user: Some(user.to_string()),
            timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        let mut output = Vec::new();
        let mut sink = |_: StreamKind, b: &[u8]| {
            if output.len() < 4096 {
                output.extend_from_slice(b);
            }
        };
        match self.exec(&req, cancel, &mut sink).await? {
            ExecOutcome::Exited(0) => Ok(()),
            ExecOutcome::Cancelled => Err(ExecError::Cancelled {
                job: self.job_name.clone(),
            }),
            other => Err(ExecError::Engine(format!(
                "`{}` in job `{}` failed ({other:?}): {}",
                argv.join(" "),
                self.job_name,
                String::from_utf8_lossy(&output).trim()
            ))),
        }
    }

    /// Kills every process of one exec (see the module documentation).
    async fn kill_exec(&self, exec_id: &str) {
        let script = format!(
            r#"for pass in 1 2 3; do found=; for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] && continue; if grep -q "{EXEC_ID_VAR}=$1" "$p/environ" 2>/dev/null; then kill -9 "${{p#/proc/}}" 2>/dev/null; found=1; fi; done; [ -z "$found" ] && break; done; exit 0"#
        );
        let config = CreateExecOptions::<String> {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(vec![
                "sh".into(),
                "-c".into(),
                script,
                "mlci-kill".into(),
                exec_id.to_string(),
            ]),
            user: Some("0".into()),
            ..Default::default()
        };
        let run = async {
            let created = self
                .docker
                .create_exec(&self.container, config)
                .await
                .ok()?;
            if let Ok(StartExecResults::Attached { mut output, .. }) =
                self.docker.start_exec(&created.id, None).await
            {
                while output.next().await.is_some() {}
            }
            Some(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
    }

    async fn download(&self, path: &str) -> Result<Option<archive::ChannelReader>, ExecError> {
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

static EXEC_COUNTER: AtomicU64 = AtomicU64::new(0);

impl JobEnv for DockerJob {
    async fn exec(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        if request.argv.is_empty() {
            return Err(ExecError::Engine("an exec needs a command".to_string()));
        }
        if cancel.is_cancelled() {
            return Ok(ExecOutcome::Cancelled);
        }
        let exec_tag = format!(
            "{:016x}{:08x}",
            nonce_u64(),
            EXEC_COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff
        );
        let mut env: Vec<String> = request
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("{EXEC_ID_VAR}={exec_tag}"));
        let config = CreateExecOptions::<String> {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            env: Some(env),
            cmd: Some(request.argv.clone()),
            user: request.user.clone().filter(|u| !u.is_empty()),
            working_dir: Some(request.workdir.clone()).filter(|w| !w.is_empty()),
            ..Default::default()
        };
        let job = &self.job_name;
        let exec = self
            .docker
            .create_exec(&self.container, config)
            .await
            .map_err(|e| engine_error(&format!("starting a command in job `{job}`"), e))?;
        let started = self
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: Some(64 * 1024),
                }),
            )
            .await
            .map_err(|e| engine_error(&format!("starting a command in job `{job}`"), e))?;
        let StartExecResults::Attached { mut output, .. } = started else {
            return Err(ExecError::Engine(format!(
                "the Docker engine did not attach to a command in job `{job}`"
            )));
        };
        let deadline = request.timeout.map(|t| tokio::time::Instant::now() + t);
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timer);
        let stopped = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Some(ExecOutcome::Cancelled),
                _ = &mut timer => break Some(ExecOutcome::TimedOut),
                item = output.next() => match item {
                    None => break None,
                    Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => on_output(StreamKind::Stdout, &message),
                    Some(Ok(LogOutput::StdErr { message })) => on_output(StreamKind::Stderr, &message),
                    Some(Ok(LogOutput::StdIn { .. })) => {}
                    Some(Err(e)) => {
                        drop(output);
                        self.kill_exec(&exec_tag).await;
                        return Err(engine_error(&format!("reading the output of a command in job `{job}`"), e));
                    }
                },
            }
        };
        if let Some(outcome) = stopped {
            drop(output);
            self.kill_exec(&exec_tag).await;
            return Ok(outcome);
        }
        // The stream has ended; the exit code may take a moment to be recorded.
        for _ in 0..100 {
            let info = self.docker.inspect_exec(&exec.id).await.map_err(|e| {
                engine_error(
                    &format!("reading the exit code of a command in job `{job}`"),
                    e,
                )
            })?;
            if info.running != Some(true) {
                return match info.exit_code {
                    Some(code) => Ok(ExecOutcome::Exited(code)),
                    None => Err(ExecError::Engine(format!(
                        "the Docker engine reported no exit code for a command in job `{job}`"
                    ))),
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ExecError::Engine(format!(
            "a command in job `{job}` closed its output but did not exit"
        )))
    }

    async fn write_file(&self, path: &str, contents: &[u8], mode: u32) -> Result<(), ExecError> {
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
            let path = self.abs(&file.path);
            let name = archive::relative_to_root(&path).map_err(ExecError::Engine)?;
            sources.push(Source::Data {
                name,
                data: file.contents,
                mode: file.mode,
            });
        }
        self.upload(sources).await.map_err(|e| {
            ExecError::Engine(format!(
                "cannot write files in job `{}`: {e}",
                self.job_name
            ))
        })
    }

    async fn read_dir_files(&self, path: &str) -> Result<BTreeMap<String, Vec<u8>>, ExecError> {
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
        let job = &self.job_name;
        self.docker
            .inspect_image(&spec.image)
            .await
            .map_err(|e| match status_of(&e) {
                Some(404) => ExecError::ImageMissing {
                    image: spec.image.clone(),
                    detail: HINT_BUILD.to_string(),
                },
                _ => engine_error(&format!("inspecting image `{}`", spec.image), e),
            })?;
        let labels = HashMap::from([
            (LABEL_RUN.to_string(), self.run_id.clone()),
            (LABEL_JOB.to_string(), self.job_name.clone()),
            (LABEL_ROLE.to_string(), "step".to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.args.clone(),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: Some(spec.workdir.clone()).filter(|w| !w.is_empty()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: self.network.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = self
            .docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .map_err(|e| start_error(job, "creating a step container", e))?
            .id;
        let result = self
            .run_step_container_inner(&id, spec, cancel, on_output)
            .await;
        remove_objects(&self.docker, std::slice::from_ref(&id), None, &[])
            .await
            .ok();
        result
    }

    fn image_digest(&self) -> &str {
        &self.image_digest
    }

    fn services(&self) -> &[RunningService] {
        &self.services
    }

    async fn remove(self) -> Result<(), ExecError> {
        let mut ids = self.service_ids.clone();
        ids.push(self.container.clone());
        remove_objects(&self.docker, &ids, self.network.as_deref(), &self.volumes).await
    }
}

/// The create body of a job container: keep-alive entrypoint, workspace as
/// working directory, labels, env, volumes, ports, options, on `network`.
pub fn job_container_body(spec: &JobSpec, network: Option<&str>) -> ContainerCreateBody {
    let (binds, anonymous) = split_volume_specs(&spec.volumes);
    let (exposed, bindings) = port_bindings(&spec.ports);
    let mut body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: Some(vec![KEEP_ALIVE_ENTRYPOINT.to_string()]),
        cmd: Some(KEEP_ALIVE_ARGS.iter().map(|s| s.to_string()).collect()),
        working_dir: Some(spec.workspace_path.clone()),
        labels: Some(labels(spec, "job", None)),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        volumes: (!anonymous.is_empty()).then_some(anonymous),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            network_mode: network.map(str::to_string),
            binds: (!binds.is_empty()).then_some(binds),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            ..Default::default()
        }),
        networking_config: network.map(|network| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.to_string(),
                EndpointSettings::default(),
            )])),
        }),
        ..Default::default()
    };
    apply_options(&spec.options, &mut body, network);
    // GitHub's runner keeps the container alive with `tail -f /dev/null`; a
    // user `--entrypoint` replaces the program, the arguments stay.
    body
}

/// The create body of a service container: the image's own command, the
/// service key as network alias.
pub fn service_container_body(
    spec: &JobSpec,
    service: &super::ServiceSpec,
    network: &str,
) -> ContainerCreateBody {
    let (binds, anonymous) = split_volume_specs(&service.volumes);
    let (exposed, bindings) = port_bindings(&service.ports);
    let mut aliases = vec![service.name.clone()];
    aliases.extend(service.options.network_aliases.iter().cloned());
    let mut body = ContainerCreateBody {
        image: Some(service.image.clone()),
        labels: Some(labels(spec, "service", Some(&service.name))),
        env: Some(
            service
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        volumes: (!anonymous.is_empty()).then_some(anonymous),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            network_mode: Some(network.to_string()),
            binds: (!binds.is_empty()).then_some(binds),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.to_string(),
                EndpointSettings {
                    aliases: Some(aliases),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    };
    apply_options(&service.options, &mut body, Some(network));
    body
}

fn apply_options(
    options: &ContainerOptions,
    body: &mut ContainerCreateBody,
    network: Option<&str>,
) {
    options.apply_to(body);
    // `--network NAME` replaces the job network (services then cannot be
    // reached by name); the aliases apply to the job network.
    if let Some(n) = &options.network {
        body.networking_config = None;
        if let Some(hc) = body.host_config.as_mut() {
            hc.network_mode = Some(n.clone());
        }
    } else if !options.network_aliases.is_empty()
        && let Some(ep) = body
            .networking_config
            .as_mut()
            .and_then(|c| c.endpoints_config.as_mut())
            .and_then(|m| m.get_mut(network?))
    {
        let aliases = ep.aliases.get_or_insert_with(Vec::new);
        for a in &options.network_aliases {
            if !aliases.contains(a) {
                aliases.push(a.clone());
            }
        }
    }
}

fn labels(spec: &JobSpec, role: &str, service: Option<&str>) -> HashMap<String, String> {
    let mut l = HashMap::from([
        (LABEL_RUN.to_string(), spec.run_id.clone()),
        (LABEL_JOB.to_string(), spec.job_name.clone()),
        (LABEL_ROLE.to_string(), role.to_string()),
    ]);
    if let Some(s) = service {
        l.insert(LABEL_SERVICE.to_string(), s.to_string());
    }
    l
}

/// `ports:` entries (`8080`, `8080:80`, `127.0.0.1:8080:80`, `53/udp`) as
/// exposed ports and bindings; without an address they are published on
/// 127.0.0.1, without a host port on a random one.
pub fn port_bindings(ports: &[String]) -> (Vec<String>, HashMap<String, Option<Vec<PortBinding>>>) {
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in ports {
        let (spec, proto) = p.rsplit_once('/').unwrap_or((p.as_str(), "tcp"));
        let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
        let (container, host_port, host_ip) = match parts.as_slice() {
            [c] => (*c, "", "127.0.0.1"),
            [c, h] => (*c, *h, "127.0.0.1"),
            [c, h, ip] => (*c, *h, *ip),
            _ => continue,
        };
        let key = format!("{container}/{proto}");
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(host_ip.to_string()),
                host_port: Some(host_port.to_string()),
            });
    }
    (exposed, bindings)
}

/// `5432/tcp` → host port, keyed as GitHub's `job.services.<id>.ports` (`5432`, `53/udp`).
fn published_ports(info: &bollard::models::ContainerInspectResponse) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let ports = info
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref());
    for (key, bindings) in ports.into_iter().flatten() {
        let Some(host) = bindings
            .as_ref()
            .and_then(|b| b.iter().find_map(|b| b.host_port.clone()))
        else {
            continue;
        };
        let name = key.strip_suffix("/tcp").unwrap_or(key).to_string();
        out.insert(name, host);
    }
    out
}

fn owner_for(user: Option<&str>) -> Option<Owner> {
    let Some(user) = user else {
        return Some(Owner::ROOT);
    };
    let (u, g) = user.split_once(':').unwrap_or((user, "0"));
    Some(Owner {
        uid: u.parse().ok()?,
        gid: g.parse().ok()?,
    })
}

fn logs_suffix(logs: &str) -> String {
    if logs.is_empty() {
        String::new()
    } else {
        format!("; its last output:\n{logs}")
    }
}

async fn cancellable<F: std::future::Future>(
    cancel: &CancellationToken,
    job: &str,
    fut: F,
) -> Result<F::Output, ExecError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(ExecError::Cancelled { job: job.to_string() }),
        out = fut => Ok(out),
    }
}

fn check_cancel(cancel: &CancellationToken, job: &str) -> Result<(), ExecError> {
    if cancel.is_cancelled() {
        Err(ExecError::Cancelled {
            job: job.to_string(),
        })
    } else {
        Ok(())
    }
}

fn status_of(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn is_removal_in_progress(e: &DockerError) -> bool {
    docker_message(e).contains("is already in progress")
}

fn docker_message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn engine_error(what: &str, e: DockerError) -> ExecError {
    ExecError::Engine(format!(
        "the Docker engine failed {what}: {}",
        docker_message(&e)
    ))
}

/// Errors of creating and starting containers, with the GPU ones recognised.
fn start_error(job: &str, what: &str, e: DockerError) -> ExecError {
    let msg = docker_message(&e);
    if msg.contains("could not select device driver")
        || msg.contains("unknown or invalid runtime name: nvidia")
        || msg.contains("nvidia-container-cli")
    {
        return ExecError::NoGpuRuntime {
            job: job.to_string(),
        };
    }
    ExecError::Engine(format!(
        "the Docker engine failed {what} of job `{job}`: {msg}"
    ))
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// A name part Docker accepts: `[a-zA-Z0-9_.-]`, at most `max` characters.
fn slug(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-');
    let out: String = out.chars().take(max).collect();
    if out.is_empty() { "x".to_string() } else { out }
}

fn nonce_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    // splitmix64 of time, pid and a counter.
    let mut z = t ^ ((std::process::id() as u64) << 32) ^ c.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn nonce() -> String {
    format!("{:08x}", nonce_u64() & 0xffff_ffff)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let (exposed, b) = port_bindings(&[
            "8080".into(),
            "5433:5432".into(),
            "0.0.0.0:9000:9000".into(),
            "53/udp".into(),
        ]);
        assert_eq!(exposed, vec!["8080/tcp", "5432/tcp", "9000/tcp", "53/udp"]);
        let one = |k: &str| b[k].as_ref().unwrap()[0].clone();
        assert_eq!(one("8080/tcp").host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(one("8080/tcp").host_port.as_deref(), Some(""));
        assert_eq!(one("5432/tcp").host_port.as_deref(), Some("5433"));
        assert_eq!(one("9000/tcp").host_ip.as_deref(), Some("0.0.0.0"));
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("train (forest, 0.1)", 32), "train-forest-0.1");
        assert_eq!(slug("", 5), "x");
        assert_eq!(slug("abcdefgh", 3), "abc");
    }

    #[test]
    fn owners() {
        assert_eq!(owner_for(None), Some(Owner::ROOT));
        assert_eq!(owner_for(Some("1000")), Some(Owner { uid: 1000, gid: 0 }));
        assert_eq!(
            owner_for(Some("1000:1001")),
            Some(Owner {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(owner_for(Some("runner")), None);
    }

    #[test]
    fn gpu_errors_are_recognised() {
        let e = DockerError::DockerResponseServerError {
            status_code: 500,
            message: "could not select device driver \"nvidia\" with capabilities: [[gpu]]".into(),
        };
        assert!(matches!(
            start_error("train", "starting", e),
            ExecError::NoGpuRuntime { .. }
        ));
    }
}
