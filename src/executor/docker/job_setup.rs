//! Setting up a job's environment: its network, the job container, the
//! workspace copy, the services and their health checks (see the module
//! documentation of `executor::docker` for the order). Whatever fails or is
//! cancelled on the way is recorded in [`Created`] and removed again.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::{
    HealthStatusEnum, Mount, MountType, NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::archive::{self, Owner, Source};
use super::connection::{DockerBackend, GpuSupport};
use super::container_bodies::{
    job_container_body, labels, published_ports, service_container_body,
};
use super::errors::{engine_error, start_error, status_of};
use super::host_dirs::{self, HostMount, HostMounts, WORKFLOW_DIR};
use super::job::DockerJob;
use super::names::{nonce, slug};
use super::removal::remove_objects;
use super::self_container::{EngineVolume, engine_volume};
use crate::executor::options::MountKind;
use crate::executor::{ExecError, JobEnv, JobSpec, RunningService};
use crate::timings::{Phase, PhaseTimes};

/// The directory of step scripts and files (`/__w/_temp` on GitHub).
pub const TEMP_DIR: &str = "/__w/_temp";

impl DockerBackend {
    pub(super) async fn start_job_inner(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
        created: &mut Created,
    ) -> Result<DockerJob, ExecError> {
        let job = &spec.job_name;
        let mut phases = PhaseTimes::default();
        let container_started = std::time::Instant::now();
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
        self.ensure_job_images(spec, cancel).await?;
        let digest = self.image_id(&spec.image).await?;
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

        // 3. The job's files on the host (when the engine can mount them),
        // then the job container, started at once.
        for v in &spec.volumes {
            self.ensure_volume(spec, v, created).await?;
        }
        let owner = owner_for(spec.options.user.as_deref());
        // Bind-mounted by their path on the engine's host (another one when
        // mlci runs in a container); copied in when the engine cannot find them.
        let host_dir = spec
            .host_dir
            .as_ref()
            .filter(|_| self.mounts_host_dirs())
            .and_then(|dir| Some((dir.clone(), self.files.engine_path(dir)?)));
        let workspace_outside = host_dir
            .as_ref()
            .map(|(_, outside)| outside.join("workspace"));
        let host = match host_dir {
            Some((dir, outside)) => {
                let spec_for_host = spec.clone();
                let prepared = tokio::task::spawn_blocking(move || {
                    host_dirs_for(&spec_for_host, &dir, &outside, owner)
                })
                .await
                .map_err(|e| ExecError::Engine(e.to_string()))?
                .map_err(|e| {
                    ExecError::Engine(format!(
                        "cannot lay out the files of job `{job}` on the host: {e}"
                    ))
                })?;
                Some(prepared)
            }
            None => None,
        };
        // Volumes with sources in the workspace or in mlci's own mounts, as
        // the engine finds them (or copies, when job files are copied).
        let (for_engine, volume_copies) =
            self.volumes_for_engine(spec, workspace_outside.as_deref());
        let mut body = job_container_body(&for_engine, job_network.as_deref());
        if let Some((_, binds)) = &host {
            body.host_config
                .get_or_insert_with(Default::default)
                .mounts
                .get_or_insert_with(Vec::new)
                .extend(binds.iter().cloned());
        }
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
            pulls: self.pulls.clone(),
            workspace_path: spec.workspace_path.clone(),
            owner: owner.unwrap_or(Owner::ROOT),
            setup_phases: PhaseTimes::default(),
            host: host.as_ref().map(|(mounts, _)| mounts.clone()),
        };
        phases.add_since(Phase::Container, container_started);

        // 4. The workspace, and the temp directory: on the host they are in
        // place already, and what else goes in is put there on the host too.
        let workspace_started = std::time::Instant::now();
        let mut sources = Vec::new();
        if host.is_none() {
            let ws = archive::relative_to_root(&spec.workspace_path).map_err(ExecError::Engine)?;
            let temp = archive::relative_to_root(TEMP_DIR).map_err(ExecError::Engine)?;
            sources.push(Source::Host {
                host: spec.workspace.clone(),
                name: ws,
            });
            sources.push(Source::Dir {
                name: temp,
                mode: 0o777,
            });
        }
        // On the host, each goes in place at once; into a container, they go
        // with the workspace in one archive (each costs the engine a process).
        for (host_path, path) in spec.copies.iter().chain(&volume_copies) {
            if env.host_target(path)?.is_some() {
                env.copy_in(host_path, path).await?;
                continue;
            }
            sources.push(Source::Host {
                host: host_path.clone(),
                name: archive::relative_to_root(path).map_err(ExecError::Engine)?,
            });
        }
        for file in &spec.files {
            if env.host_target(&file.path)?.is_some() {
                env.write_file(&file.path, &file.contents, file.mode)
                    .await?;
                continue;
            }
            sources.push(Source::Data {
                name: archive::relative_to_root(&file.path).map_err(ExecError::Engine)?,
                data: file.contents.clone(),
                mode: file.mode,
            });
        }
        if !sources.is_empty() {
            cancellable(cancel, job, env.upload(sources))
                .await?
                .map_err(|e| {
                    ExecError::Engine(format!(
                        "cannot copy the workspace {} into job `{job}`: {e}",
                        spec.workspace.display()
                    ))
                })?;
        }
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
        phases.add_since(Phase::Workspace, workspace_started);

        // 5. Services, then their health checks.
        let services_started = std::time::Instant::now();
        for s in &spec.services {
            for v in &s.volumes {
                self.ensure_volume(spec, v, created).await?;
            }
            let name = format!("{base}-{}", slug(&s.name, 32));
            let mut for_engine = s.clone();
            for_engine.volumes.clear();
            for v in &s.volumes {
                match self.engine_volume(spec, v, workspace_outside.as_deref()) {
                    EngineVolume::Bind(v) => for_engine.volumes.push(v),
                    EngineVolume::Copy(..) => {
                        return Err(ExecError::Engine(format!(
                            "service `{}` of job `{job}` mounts `{v}` from the workspace, but the engine cannot find the job's files (they are copied into the job's container): mount a host directory that the engine sees, or give the service what it needs in its image",
                            s.name
                        )));
                    }
                }
            }
            let body = service_container_body(spec, &for_engine, &network);
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
        if !spec.services.is_empty() {
            phases.add_since(Phase::Services, services_started);
        }
        env.setup_phases = phases;
        Ok(env)
    }

    /// One `volumes:`/`-v` entry as the engine must get it (see
    /// [`engine_volume`]).
    fn engine_volume(
        &self,
        spec: &JobSpec,
        volume: &str,
        workspace_outside: Option<&Path>,
    ) -> EngineVolume {
        engine_volume(
            volume,
            &spec.workspace_path,
            &spec.workspace,
            workspace_outside,
            &self.files,
        )
    }

    /// The job's request with its `volumes:`, `-v` and `--mount type=bind`
    /// sources as the engine finds them, and what goes into the container as
    /// copies instead (sources in the workspace, when job files are copied).
    fn volumes_for_engine(
        &self,
        spec: &JobSpec,
        workspace_outside: Option<&Path>,
    ) -> (JobSpec, Vec<(PathBuf, String)>) {
        let mut for_engine = spec.clone();
        let mut copies = Vec::new();
        for volumes in [&mut for_engine.volumes, &mut for_engine.options.volumes] {
            let mut kept = Vec::new();
            for v in volumes.iter() {
                match self.engine_volume(spec, v, workspace_outside) {
                    EngineVolume::Bind(v) => kept.push(v),
                    EngineVolume::Copy(from, to) => copies.push((from, to)),
                }
            }
            *volumes = kept;
        }
        let mut kept = Vec::new();
        for m in &for_engine.options.mounts {
            let source = match (&m.kind, &m.source) {
                (MountKind::Bind, Some(source)) => source,
                _ => {
                    kept.push(m.clone());
                    continue;
                }
            };
            let as_volume = format!("{source}:{}", m.target);
            match self.engine_volume(spec, &as_volume, workspace_outside) {
                EngineVolume::Bind(v) => {
                    let mut m = m.clone();
                    m.source = v
                        .strip_suffix(&format!(":{}", m.target))
                        .map(str::to_string);
                    kept.push(m);
                }
                EngineVolume::Copy(from, to) => copies.push((from, to)),
            }
        }
        for_engine.options.mounts = kept;
        (for_engine, copies)
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
                let logs = self.log_tail(&id, 20, 16 * 1024).await;
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

    /// The last `lines` lines of a container's output (stdout and stderr),
    /// read until `max_bytes`: what a failure quotes of a process that died.
    pub async fn log_tail(&self, id: &str, lines: usize, max_bytes: usize) -> String {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(id, Some(opts));
        let mut out = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            out.extend_from_slice(&chunk.into_bytes());
            if out.len() > max_bytes {
                break;
            }
        }
        String::from_utf8_lossy(&out).trim().to_string()
    }

    /// Removes what a failed or cancelled set-up had created.
    pub(super) async fn cleanup(&self, created: &Created) {
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
pub(super) struct Created {
    containers: Vec<String>,
    network: Option<String>,
    volumes: Vec<String>,
}

/// Lays out the job's directory on the host (see `host_dirs`): the
/// workspace copy, `RUNNER_TEMP` and `/github/workflow`; returns their mounts
/// (with the read-only ones of `spec.volumes` that lie in the workspace) and
/// the bind mounts that make them, by their path on the engine's host
/// (`outside`: `dir` as the engine finds it). Binds in the `Mounts` form: an
/// engine that does not find a source refuses it rather than creating an
/// empty directory on its host.
fn host_dirs_for(
    spec: &JobSpec,
    dir: &Path,
    outside: &Path,
    owner: Option<Owner>,
) -> std::io::Result<(HostMounts, Vec<Mount>)> {
    // Files for the container's user, when that is not the user mlci runs as.
    let owner = owner.filter(|o| Some(*o) != host_dirs::owner_of(dir));
    let workspace = dir.join("workspace");
    let temp = dir.join("temp");
    let workflow = dir.join("workflow");
    let large = host_dirs::copy_workspace(&spec.workspace, &workspace, owner, &spec.outputs)?;
    for d in [&temp, &workflow] {
        std::fs::create_dir_all(d)?;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777))?;
    }
    let ws = spec.workspace_path.trim_end_matches('/');
    let bind = |relative: &Path, target: &str, read_only: bool| Mount {
        typ: Some(MountType::BIND),
        source: Some(outside.join(relative).display().to_string()),
        target: Some(target.to_string()),
        read_only: read_only.then_some(true),
        ..Default::default()
    };
    let mut binds = vec![
        bind(Path::new("workspace"), ws, false),
        bind(Path::new("temp"), TEMP_DIR, false),
        bind(Path::new("workflow"), WORKFLOW_DIR, false),
    ];
    let mut mounts = vec![
        HostMount {
            container: ws.to_string(),
            host: workspace.clone(),
            writable: true,
        },
        HostMount {
            container: TEMP_DIR.to_string(),
            host: temp,
            writable: true,
        },
        HostMount {
            container: WORKFLOW_DIR.to_string(),
            host: workflow,
            writable: true,
        },
    ];
    for relative in large {
        let host = workspace.join(&relative);
        let container = format!("{ws}/{}", relative.display());
        binds.push(bind(
            &Path::new("workspace").join(&relative),
            &container,
            true,
        ));
        mounts.push(HostMount {
            container,
            host,
            writable: false,
        });
    }
    // Host directories the runner mounts into the workspace (the outputs of
    // needed jobs), so that host-side reads see what the container sees.
    for volume in &spec.volumes {
        let parts: Vec<&str> = volume.split(':').collect();
        if let [host, container, rest @ ..] = parts.as_slice()
            && host.starts_with('/')
            && container.starts_with(&format!("{ws}/"))
        {
            mounts.push(HostMount {
                container: container.trim_end_matches('/').to_string(),
                host: PathBuf::from(host),
                writable: !rest.iter().any(|o| o.split(',').any(|o| o == "ro")),
            });
        }
    }
    Ok((HostMounts::new(mounts), binds))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
