//! The engine's side of a Docker deployment: its network, its front and
//! its versions' containers, all labelled `dev.mlci.deploy=<name>`. mlci
//! reaches the model servers and the front's control port only through the
//! Engine API (`docker exec` of curl in the front), so it works the same on
//! Docker Desktop, a remote engine and from inside a container.

use super::front::Routes;
use super::image::MODEL_PORT;
use super::request::DeployError;
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, HostConfig, NetworkCreateRequest, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;

/// The label every object of a deployment carries: its name.
pub const DEPLOY_LABEL: &str = "dev.mlci.deploy";
const ROLE_LABEL: &str = "dev.mlci.deploy.role";
const VERSION_LABEL: &str = "dev.mlci.deploy.version";
const PORT_LABEL: &str = "dev.mlci.deploy.port";
/// The front's port inside its container, and its control port (loopback only).
const FRONT_PORT: u16 = 8080;
const CONTROL: &str = "127.0.0.1:9901";
const FRONT_STATE: &str = "/var/lib/mlci-front";

/// A deployment's container, as the engine lists it.
#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    /// `front` or `model`.
    pub role: String,
    pub version: Option<i64>,
    pub running: bool,
    /// The host port (the front's).
    pub port: Option<u16>,
}

/// The answer to one request made from the front's container.
#[derive(Clone, Debug)]
pub struct Probe {
    /// None when no answer came (refused, timed out).
    pub status: Option<u16>,
    pub body: String,
}

pub struct Engine {
    docker: Docker,
    pub backend: crate::executor::docker::DockerBackend,
}

pub fn network_name(name: &str) -> String {
    format!("mlci-deploy-{name}")
}

pub fn front_name(name: &str) -> String {
    format!("mlci-deploy-{name}-front")
}

/// Where a version's server answers on the deployment's network.
pub fn upstream(container: &str) -> String {
    format!("{container}:{MODEL_PORT}")
}

fn failed(what: &str, error: impl std::fmt::Display) -> DeployError {
    DeployError::Failed(format!("{what}: {error}"))
}

impl Engine {
    pub async fn connect() -> Result<Engine, DeployError> {
        let backend = crate::executor::docker::DockerBackend::connect()
            .await
            .map_err(|e| DeployError::Failed(e.to_string()))?;
        Ok(Engine {
            docker: backend.client().clone(),
            backend,
        })
    }

    pub fn backend_ref(&self) -> &crate::executor::docker::DockerBackend {
        &self.backend
    }

    /// Starts a container that exists but stopped (the front after a reboot without restart).
    pub async fn start_existing(&self, container: &str) -> Result<(), DeployError> {
        self.docker
            .start_container(container, None)
            .await
            .map_err(|e| failed(&format!("starting {container}"), e))
    }

    /// The deployment's containers, running or not.
    pub async fn containers(&self, name: &str) -> Result<Vec<Container>, DeployError> {
        let filters =
            HashMap::from([("label".to_string(), vec![format!("{DEPLOY_LABEL}={name}")])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| failed("listing the deployment's containers", e))?;
        Ok(listed
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                Container {
                    name: c
                        .names
                        .and_then(|n| n.first().cloned())
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                    role: labels.get(ROLE_LABEL).cloned().unwrap_or_default(),
                    version: labels.get(VERSION_LABEL).and_then(|v| v.parse().ok()),
                    running: c.state.is_some_and(|s| s.to_string() == "running"),
                    port: labels.get(PORT_LABEL).and_then(|p| p.parse().ok()),
                }
            })
            .collect())
    }

    fn labels(name: &str, role: &str, extra: &[(&str, String)]) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (DEPLOY_LABEL.to_string(), name.to_string()),
            (ROLE_LABEL.to_string(), role.to_string()),
        ]);
        for (key, value) in extra {
            labels.insert(key.to_string(), value.clone());
        }
        labels
    }

    async fn ensure_network(&self, name: &str) -> Result<(), DeployError> {
        let network = network_name(name);
        if self.docker.inspect_network(&network, None).await.is_ok() {
            return Ok(());
        }
        let created = self
            .docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".into()),
                labels: Some(Self::labels(name, "network", &[])),
                ..Default::default()
            })
            .await;
        match created {
            Ok(_) => Ok(()),
            // Made by a deploy beside this one.
            Err(_) if self.docker.inspect_network(&network, None).await.is_ok() => Ok(()),
            Err(e) => Err(failed(&format!("creating the network {network}"), e)),
        }
    }

    /// Starts the front on `port` of the host, serving `initial` (nothing
    /// yet, on a first deployment). A port another program holds is bad input.
    pub async fn start_front(
        &self,
        name: &str,
        port: u16,
        image: &str,
        initial: &Routes,
    ) -> Result<String, DeployError> {
        self.ensure_network(name).await?;
        let container = front_name(name);
        let routes = serde_json::to_string(initial).map_err(|e| failed("routes", e))?;
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec![
                "--listen".into(),
                format!("0.0.0.0:{FRONT_PORT}"),
                "--control".into(),
                CONTROL.into(),
                "--state".into(),
                FRONT_STATE.into(),
                "--routes".into(),
                routes,
            ]),
            labels: Some(Self::labels(
                name,
                "front",
                &[(PORT_LABEL, port.to_string())],
            )),
            exposed_ports: Some(vec![format!("{FRONT_PORT}/tcp")]),
            host_config: Some(HostConfig {
                network_mode: Some(network_name(name)),
                port_bindings: Some(HashMap::from([(
                    format!("{FRONT_PORT}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: None,
                        host_port: Some(port.to_string()),
                    }]),
                )])),
                restart_policy: Some(unless_stopped()),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.create(&container, body).await?;
        if let Err(error) = self.docker.start_container(&container, None).await {
            self.remove(&container).await;
            let text = error.to_string();
            if text.contains("port is already allocated")
                || text.contains("address already in use")
                || text.contains("bind")
            {
                return Err(DeployError::Invalid(format!(
                    "port {port} is in use by another program: pick a free one with --port"
                )));
            }
            return Err(failed(&format!("starting the front {container}"), error));
        }
        Ok(container)
    }

    /// Starts a version's server on the deployment's network from the
    /// serving environment, with the model's files copied in first; not yet
    /// restarted by the engine (a model that cannot load must stay down).
    pub async fn start_version(
        &self,
        name: &str,
        image: &str,
        version: i64,
        model_dir: &std::path::Path,
    ) -> Result<String, DeployError> {
        self.ensure_network(name).await?;
        let container = format!(
            "mlci-deploy-{name}-v{version}-{:08x}",
            rand_u32() // two deploys of one version never collide
        );
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            labels: Some(Self::labels(
                name,
                "model",
                &[(VERSION_LABEL, version.to_string())],
            )),
            host_config: Some(HostConfig {
                network_mode: Some(network_name(name)),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.create(&container, body).await?;
        if let Err(error) = self.copy_model(&container, model_dir).await {
            self.remove(&container).await;
            return Err(error);
        }
        if let Err(error) = self.docker.start_container(&container, None).await {
            self.remove(&container).await;
            return Err(failed(&format!("starting {container}"), error));
        }
        Ok(container)
    }

    async fn create(&self, container: &str, body: ContainerCreateBody) -> Result<(), DeployError> {
        let options = CreateContainerOptionsBuilder::default()
            .name(container)
            .build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map(|_| ())
            .map_err(|e| failed(&format!("creating {container}"), e))
    }

    /// From now on the engine restarts it with the machine.
    pub async fn keep_running(&self, container: &str) {
        let update = ContainerUpdateBody {
            restart_policy: Some(unless_stopped()),
            ..Default::default()
        };
        let _ = self.docker.update_container(container, update).await;
    }

    /// When the container has stopped: its exit code and its last lines of log.
    pub async fn exited(&self, container: &str) -> Option<(i64, String)> {
        let info = self.docker.inspect_container(container, None).await.ok()?;
        let state = info.state?;
        if state.running == Some(true) {
            return None;
        }
        Some((
            state.exit_code.unwrap_or(-1),
            self.log_tail(container, 30).await,
        ))
    }

    pub async fn log_tail(&self, container: &str, lines: usize) -> String {
        self.backend.log_tail(container, lines, 64 * 1024).await
    }

    /// Runs `cmd` in `container`; its exit code and output (at most 4 MiB).
    async fn exec(&self, container: &str, cmd: Vec<String>) -> Result<(i64, String), DeployError> {
        let what = || format!("running {} in {container}", cmd[0]);
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.clone()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed(&what(), e))?;
        let mut out = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| failed(&what(), e))?
        {
            while let Some(Ok(chunk)) = output.next().await {
                if out.len() < 4 << 20 {
                    out.extend_from_slice(&chunk.into_bytes());
                }
            }
        }
        let code = self
            .docker
            .inspect_exec(&created.id)
            .await
            .ok()
            .and_then(|i| i.exit_code)
            .unwrap_or(-1);
        Ok((code, String::from_utf8_lossy(&out).into_owned()))
    }

    /// A request made with curl from inside the front's container.
    /// `body` is a file already uploaded there.
    pub async fn probe(
        &self,
        front: &str,
        url: &str,
        body: Option<&str>,
        timeout_s: u32,
    ) -> Result<Probe, DeployError> {
        let mut cmd: Vec<String> = [
            "curl",
            "-sS",
            "-m",
            &timeout_s.to_string(),
            "-w",
            "\n%{http_code}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(file) = body {
            cmd.extend([
                "-X".into(),
                "POST".into(),
                "-H".into(),
                "Content-Type: application/json".into(),
                "--data-binary".into(),
                format!("@{file}"),
            ]);
        }
        cmd.push(url.to_string());
        let (_, output) = self.exec(front, cmd).await?;
        let (body, code) = output.rsplit_once('\n').unwrap_or(("", output.as_str()));
        let status = code.trim().parse::<u16>().ok().filter(|s| *s > 0);
        Ok(Probe {
            status,
            body: body.to_string(),
        })
    }

    async fn copy_model(&self, container: &str, dir: &std::path::Path) -> Result<(), DeployError> {
        let (parent, name) = super::image::MODEL_DIR
            .rsplit_once('/')
            .unwrap_or(("/", "model"));
        let mut archive = tar::Builder::new(Vec::new());
        archive.follow_symlinks(false);
        let packed = archive
            .append_dir_all(name, dir)
            .and_then(|()| archive.into_inner())
            .map_err(|e| failed(&format!("packing {}", dir.display()), e))?;
        self.upload_archive(container, parent, packed, "the model")
            .await
    }

    /// Puts `bytes` at `path` in the container.
    pub async fn upload(
        &self,
        container: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<(), DeployError> {
        let (dir, file) = path.rsplit_once('/').unwrap_or(("/", path));
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let mut archive = tar::Builder::new(Vec::new());
        let packed = archive
            .append_data(&mut header, file, bytes)
            .and_then(|()| archive.into_inner())
            .map_err(|e| failed(&format!("packing {path}"), e))?;
        let dir = if dir.is_empty() { "/" } else { dir };
        self.upload_archive(container, dir, packed, path).await
    }

    /// Unpacks a tar archive into `dir` of the container.
    async fn upload_archive(
        &self,
        container: &str,
        dir: &str,
        archive: Vec<u8>,
        what: &str,
    ) -> Result<(), DeployError> {
        let options = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|e| failed(&format!("copying {what} into {container}"), e))
    }

    /// Replaces the front's routing table; the front's state after it.
    pub async fn set_routes(
        &self,
        front: &str,
        routes: &Routes,
    ) -> Result<serde_json::Value, DeployError> {
        let json = serde_json::to_vec(routes).map_err(|e| failed("routes", e))?;
        self.upload(front, "/tmp/mlci-routes.json", &json).await?;
        let cmd = [
            "curl",
            "-sS",
            "-f",
            "-m",
            "10",
            "-X",
            "PUT",
            "--data-binary",
            "@/tmp/mlci-routes.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("http://{CONTROL}/routes")])
        .collect();
        let (code, output) = self.exec(front, cmd).await?;
        if code != 0 {
            return Err(DeployError::Failed(format!(
                "the front {front} did not take the new routes: {}",
                output.trim()
            )));
        }
        serde_json::from_str(&output).map_err(|e| failed(&format!("the front {front}'s answer"), e))
    }

    /// The front's routes and its counts per model server.
    pub async fn front_state(&self, front: &str) -> Result<serde_json::Value, DeployError> {
        let probe = self
            .probe(front, &format!("http://{CONTROL}/state"), None, 5)
            .await?;
        if probe.status != Some(200) {
            return Err(DeployError::Failed(format!(
                "the front {front} does not answer on its control port: {}",
                probe.body.trim()
            )));
        }
        serde_json::from_str(&probe.body)
            .map_err(|e| failed(&format!("the front {front}'s state"), e))
    }

    /// Stops (SIGTERM, then 10 s) and removes a container; gone already is fine.
    pub async fn remove(&self, container: &str) {
        let stop = StopContainerOptionsBuilder::default().t(10).build();
        let _ = self.docker.stop_container(container, Some(stop)).await;
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = self.docker.remove_container(container, Some(options)).await;
    }

    pub async fn remove_network(&self, name: &str) {
        let _ = self.docker.remove_network(&network_name(name)).await;
    }

    /// The front's request log, as it is now (empty when none was written).
    pub async fn request_log(&self, front: &str) -> Result<Vec<u8>, DeployError> {
        let path = format!("{FRONT_STATE}/{}", super::front::REQUEST_LOG);
        let (code, output) = self.exec(front, vec!["cat".into(), path]).await?;
        Ok(if code == 0 {
            output.into_bytes()
        } else {
            Vec::new()
        })
    }
}

/// Restarted by the engine with the machine, until someone stops it.
fn unless_stopped() -> RestartPolicy {
    RestartPolicy {
        name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
        maximum_retry_count: None,
    }
}

fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}
