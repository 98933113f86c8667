//! `container.options` translated into Docker's container configuration:
//! the backend-neutral [`ContainerOptions`] (and its [`GpuRequest`]s, mounts
//! and devices) as bollard's `HostConfig`, `HealthConfig`, `DeviceRequest`,
//! `Mount` and `DeviceMapping`, and applied to a `ContainerCreateBody`.
//!
//! This is the only place that knows both; another backend translates the
//! same model into its own configuration without touching this file.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, HealthConfig, HostConfig,
    Mount as DockerMount, MountType, ResourcesUlimits,
};

use crate::executor::options::{ContainerOptions, Device, GpuRequest, Mount, MountKind};

/// The Docker configuration that [`ContainerOptions`] describe.
pub trait DockerConfig {
    /// The `HostConfig` that these options describe (resources, devices,
    /// mounts, security). The caller adds its own binds, network and ports.
    fn host_config(&self) -> HostConfig;

    /// The health check these options describe, if any.
    fn healthcheck(&self) -> Option<HealthConfig>;

    /// Applies these options to a container configuration: the host config
    /// is merged (lists appended), and the container-level settings (user,
    /// entrypoint, working directory, host name, environment, labels, health
    /// check, anonymous volumes) replace or extend those in `body`.
    ///
    /// The entrypoint replaces the body's; mlci's caller decides what the
    /// command is.
    fn apply_to(&self, body: &mut ContainerCreateBody);
}

impl DockerConfig for ContainerOptions {
    fn host_config(&self) -> HostConfig {
        let none_if_empty = |v: Vec<String>| if v.is_empty() { None } else { Some(v) };
        let (binds, _anonymous) = self.split_volumes();
        HostConfig {
            device_requests: if self.gpus.is_empty() {
                None
            } else {
                Some(self.gpus.iter().map(GpuRequest::device_request).collect())
            },
            runtime: self.runtime.clone(),
            shm_size: self.shm_size,
            ipc_mode: self.ipc.clone(),
            pid_mode: self.pid.clone(),
            memory: self.memory,
            memory_swap: self.memory_swap,
            nano_cpus: self.nano_cpus,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            group_add: none_if_empty(self.group_add.clone()),
            binds: none_if_empty(binds),
            mounts: if self.mounts.is_empty() {
                None
            } else {
                Some(self.mounts.iter().map(docker_mount).collect())
            },
            network_mode: self.network.clone(),
            privileged: self.privileged.then_some(true),
            extra_hosts: none_if_empty(self.add_hosts.clone()),
            dns: none_if_empty(self.dns.clone()),
            cap_add: none_if_empty(self.cap_add.clone()),
            cap_drop: none_if_empty(self.cap_drop.clone()),
            security_opt: none_if_empty(self.security_opt.clone()),
            sysctls: if self.sysctls.is_empty() {
                None
            } else {
                Some(self.sysctls.iter().cloned().collect())
            },
            ulimits: if self.ulimits.is_empty() {
                None
            } else {
                Some(
                    self.ulimits
                        .iter()
                        .map(|u| ResourcesUlimits {
                            name: Some(u.name.clone()),
                            soft: Some(u.soft),
                            hard: Some(u.hard),
                        })
                        .collect(),
                )
            },
            init: self.init.then_some(true),
            tmpfs: if self.tmpfs.is_empty() {
                None
            } else {
                Some(self.tmpfs.iter().cloned().collect::<HashMap<_, _>>())
            },
            pids_limit: self.pids_limit,
            devices: if self.devices.is_empty() {
                None
            } else {
                Some(self.devices.iter().map(docker_device).collect())
            },
            readonly_rootfs: self.read_only.then_some(true),
            ..Default::default()
        }
    }

    fn healthcheck(&self) -> Option<HealthConfig> {
        if self.no_healthcheck {
            return Some(HealthConfig {
                test: Some(vec!["NONE".to_string()]),
                ..Default::default()
            });
        }
        let any = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some();
        any.then(|| HealthConfig {
            test: self
                .health_cmd
                .as_ref()
                .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
            interval: self.health_interval,
            timeout: self.health_timeout,
            retries: self.health_retries,
            start_period: self.health_start_period,
            ..Default::default()
        })
    }

    fn apply_to(&self, body: &mut ContainerCreateBody) {
        let mine = self.host_config();
        let hc = body.host_config.get_or_insert_with(HostConfig::default);
        merge_host_config(hc, mine);
        if let Some(u) = &self.user {
            body.user = Some(u.clone());
        }
        if let Some(e) = &self.entrypoint {
            body.entrypoint = Some(if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            });
        }
        if let Some(w) = &self.workdir {
            body.working_dir = Some(w.clone());
        }
        if let Some(h) = &self.hostname {
            body.hostname = Some(h.clone());
        }
        if let Some(s) = &self.stop_signal {
            body.stop_signal = Some(s.clone());
        }
        if !self.env.is_empty() {
            let env = body.env.get_or_insert_with(Vec::new);
            for e in &self.env {
                if e.contains('=') {
                    env.push(e.clone());
                } else if let Ok(v) = std::env::var(e) {
                    env.push(format!("{e}={v}"));
                }
            }
        }
        if !self.labels.is_empty() {
            let labels = body.labels.get_or_insert_with(HashMap::new);
            for (k, v) in &self.labels {
                // mlci's own labels (the run and job) are never overridden.
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        if let Some(h) = self.healthcheck() {
            body.healthcheck = Some(h);
        }
        let (_, anonymous) = self.split_volumes();
        if !anonymous.is_empty() {
            body.volumes.get_or_insert_with(Vec::new).extend(anonymous);
        }
    }
}

fn merge_host_config(into: &mut HostConfig, from: HostConfig) {
    fn set<T>(a: &mut Option<T>, b: Option<T>) {
        if b.is_some() {
            *a = b;
        }
    }
    fn extend<T>(a: &mut Option<Vec<T>>, b: Option<Vec<T>>) {
        if let Some(b) = b {
            a.get_or_insert_with(Vec::new).extend(b);
        }
    }
    extend(&mut into.device_requests, from.device_requests);
    set(&mut into.runtime, from.runtime);
    set(&mut into.shm_size, from.shm_size);
    set(&mut into.ipc_mode, from.ipc_mode);
    set(&mut into.pid_mode, from.pid_mode);
    set(&mut into.memory, from.memory);
    set(&mut into.memory_swap, from.memory_swap);
    set(&mut into.nano_cpus, from.nano_cpus);
    set(&mut into.cpu_shares, from.cpu_shares);
    set(&mut into.cpuset_cpus, from.cpuset_cpus);
    extend(&mut into.group_add, from.group_add);
    extend(&mut into.binds, from.binds);
    extend(&mut into.mounts, from.mounts);
    set(&mut into.network_mode, from.network_mode);
    set(&mut into.privileged, from.privileged);
    extend(&mut into.extra_hosts, from.extra_hosts);
    extend(&mut into.dns, from.dns);
    extend(&mut into.cap_add, from.cap_add);
    extend(&mut into.cap_drop, from.cap_drop);
    extend(&mut into.security_opt, from.security_opt);
    if let Some(s) = from.sysctls {
        into.sysctls.get_or_insert_with(HashMap::new).extend(s);
    }
    extend(&mut into.ulimits, from.ulimits);
    set(&mut into.init, from.init);
    if let Some(t) = from.tmpfs {
        into.tmpfs.get_or_insert_with(HashMap::new).extend(t);
    }
    set(&mut into.pids_limit, from.pids_limit);
    extend(&mut into.devices, from.devices);
    set(&mut into.readonly_rootfs, from.readonly_rootfs);
}

/// A [`GpuRequest`] as Docker's `DeviceRequest`.
pub trait DockerDeviceRequest {
    /// Docker's `DeviceRequest`: driver `nvidia` unless named, capabilities
    /// `[["gpu", …]]`.
    fn device_request(&self) -> DeviceRequest;
}

impl DockerDeviceRequest for GpuRequest {
    fn device_request(&self) -> DeviceRequest {
        DeviceRequest {
            driver: Some(if self.driver.is_empty() {
                "nvidia".to_string()
            } else {
                self.driver.clone()
            }),
            count: self.count,
            device_ids: if self.device_ids.is_empty() {
                None
            } else {
                Some(self.device_ids.clone())
            },
            capabilities: Some(self.capabilities.clone()),
            options: Some(self.options.iter().cloned().collect()),
        }
    }
}

/// A `--mount` as Docker's `Mount`.
fn docker_mount(mount: &Mount) -> DockerMount {
    DockerMount {
        typ: Some(match mount.kind {
            MountKind::Bind => MountType::BIND,
            MountKind::Volume => MountType::VOLUME,
            MountKind::Tmpfs => MountType::TMPFS,
        }),
        source: mount.source.clone(),
        target: Some(mount.target.clone()),
        read_only: mount.read_only,
        consistency: mount.consistency.clone(),
        ..Default::default()
    }
}

/// A `--device` as Docker's `DeviceMapping`.
fn docker_device(device: &Device) -> DeviceMapping {
    DeviceMapping {
        path_on_host: Some(device.host_path.clone()),
        path_in_container: Some(device.container_path.clone()),
        cgroup_permissions: Some(device.permissions.clone()),
    }
}

#[cfg(test)]
mod tests;
