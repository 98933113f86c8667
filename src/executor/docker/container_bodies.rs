//! The create bodies of job and service containers: image, keep-alive
//! command, labels, env, volumes, published ports and network, with the
//! job's `container.options` applied through [`DockerConfig`].

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
};

use super::container_config::DockerConfig;
use crate::executor::options::split_volume_specs;
use crate::executor::{ContainerOptions, JobSpec, LABEL_JOB, LABEL_OWNER, LABEL_RUN, ServiceSpec};

/// Label that says what an object is to mlci: `job`, `service`, `network`, `volume`.
pub const LABEL_ROLE: &str = "dev.mlci.role";
/// Label with the service key on service containers.
pub const LABEL_SERVICE: &str = "dev.mlci.service";

/// The program that keeps a job container alive between execs (as GitHub's
/// runner does); `--entrypoint` replaces `tail`, the arguments stay.
const KEEP_ALIVE_ENTRYPOINT: &str = "tail";
const KEEP_ALIVE_ARGS: [&str; 2] = ["-f", "/dev/null"];

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
    service: &ServiceSpec,
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

pub(super) fn labels(spec: &JobSpec, role: &str, service: Option<&str>) -> HashMap<String, String> {
    let mut l = HashMap::from([
        (LABEL_RUN.to_string(), spec.run_id.clone()),
        (LABEL_JOB.to_string(), spec.job_name.clone()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (
            LABEL_OWNER.to_string(),
            crate::owner::Owner::current_encoded().to_string(),
        ),
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
pub(super) fn published_ports(
    info: &bollard::models::ContainerInspectResponse,
) -> BTreeMap<String, String> {
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
}
