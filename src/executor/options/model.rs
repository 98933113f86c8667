//! The backend-neutral request that `container.options` describe: what a
//! job or service container asks for, in plain types of our own (no
//! engine's API types), with the checks every backend makes alike.

use std::fmt;

use super::error::OptionsError;

/// One `--gpus` request (Docker's `DeviceRequest` carries the same fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuRequest {
    /// `Some(-1)` for `all`, `Some(n)` for a count, `None` when devices are named.
    pub count: Option<i64>,
    /// `device=0,1` → `["0", "1"]` (indexes or UUIDs).
    pub device_ids: Vec<String>,
    /// Always contains `gpu`; `capabilities=compute,utility` adds those.
    pub capabilities: Vec<Vec<String>>,
    /// `driver=`; empty means `nvidia`.
    pub driver: String,
    /// `options=` key/value pairs passed to the driver.
    pub options: Vec<(String, String)>,
}

/// A `--ulimit name=soft[:hard]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// A `--device host[:container[:permissions]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The device on the host, e.g. `/dev/fuse`.
    pub host_path: String,
    /// Where it appears in the container (the host path unless given).
    pub container_path: String,
    /// cgroup permissions, `rwm` unless given.
    pub permissions: String,
}

/// What a `--mount` mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// A `--mount type=…,source=…,target=…[,readonly][,consistency=…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// `type=`; a volume when not given.
    pub kind: MountKind,
    /// `source=`/`src=`: a host path or a volume name; none for tmpfs or an
    /// anonymous volume.
    pub source: Option<String>,
    /// `target=`/`destination=`/`dst=`: the path in the container.
    pub target: String,
    /// `readonly`/`ro`, when written (`readonly=false` is kept as written).
    pub read_only: Option<bool>,
    /// `consistency=`.
    pub consistency: Option<String>,
}

/// `container.options`, parsed. Values are already validated and converted
/// (sizes in bytes, durations in nanoseconds, CPUs in nano-CPUs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerOptions {
    /// The text they were parsed from.
    pub source: String,
    pub gpus: Vec<GpuRequest>,
    /// `--runtime` (e.g. `nvidia`, the pre-`--gpus` way of asking for GPUs).
    pub runtime: Option<String>,
    pub shm_size: Option<i64>,
    pub ipc: Option<String>,
    pub pid: Option<String>,
    pub memory: Option<i64>,
    /// `-1` for unlimited swap.
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub user: Option<String>,
    pub group_add: Vec<String>,
    /// `-v` specs as written: `host:container[:opts]`, `name:container`, or
    /// `/container` (an anonymous volume).
    pub volumes: Vec<String>,
    pub mounts: Vec<Mount>,
    /// `-e` entries: `KEY=value`, or `KEY` (taken from mlci's own environment
    /// when set there, as Docker does).
    pub env: Vec<String>,
    pub network: Option<String>,
    pub network_aliases: Vec<String>,
    pub privileged: bool,
    pub entrypoint: Option<String>,
    pub workdir: Option<String>,
    pub hostname: Option<String>,
    /// `host:ip`.
    pub add_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub sysctls: Vec<(String, String)>,
    pub ulimits: Vec<Ulimit>,
    pub init: bool,
    /// `path[:options]`.
    pub tmpfs: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub health_cmd: Option<String>,
    pub health_interval: Option<i64>,
    pub health_timeout: Option<i64>,
    pub health_retries: Option<i64>,
    pub health_start_period: Option<i64>,
    pub no_healthcheck: bool,
    pub pids_limit: Option<i64>,
    pub devices: Vec<Device>,
    pub read_only: bool,
    pub platform: Option<String>,
    pub stop_signal: Option<String>,
    /// Every flag as written and the byte offset of its word, in order, so
    /// that later checks (`--privileged` refused) can point at it.
    pub flags: Vec<(String, usize)>,
}

impl ContainerOptions {
    /// Whether these options ask for GPUs (`--gpus`, or `--runtime nvidia`).
    pub fn wants_gpus(&self) -> bool {
        !self.gpus.is_empty() || self.runtime.as_deref() == Some("nvidia")
    }

    /// The byte offset of the first occurrence of a flag (any spelling).
    pub fn flag_offset(&self, names: &[&str]) -> Option<(String, usize)> {
        self.flags
            .iter()
            .find(|(f, _)| names.contains(&f.as_str()))
            .cloned()
    }

    /// Refuses `--privileged` unless the user allowed it.
    pub fn check_privileged(&self, allow_privileged: bool) -> Result<(), OptionsError> {
        if !self.privileged || allow_privileged {
            return Ok(());
        }
        let (flag, offset) = self
            .flag_offset(&["--privileged"])
            .unwrap_or_else(|| ("--privileged".to_string(), 0));
        Err(OptionsError::new(
            &flag,
            offset,
            flag.len(),
            "`--privileged` gives the container full control of the host, so mlci refuses it unless you run with `--allow-privileged`",
        ))
    }

    /// `-v` specs split into binds (`src:dst[:opts]`) and anonymous volumes (`/dst`).
    pub fn split_volumes(&self) -> (Vec<String>, Vec<String>) {
        split_volume_specs(&self.volumes)
    }
}

/// Splits `volumes:`/`-v` specs into binds and anonymous volumes.
pub fn split_volume_specs(specs: &[String]) -> (Vec<String>, Vec<String>) {
    let mut binds = Vec::new();
    let mut anonymous = Vec::new();
    for v in specs {
        if v.contains(':') {
            binds.push(v.clone());
        } else {
            anonymous.push(v.clone());
        }
    }
    (binds, anonymous)
}

impl fmt::Display for GpuRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.count, self.device_ids.is_empty()) {
            (Some(-1), _) => write!(f, "all GPUs"),
            (Some(n), _) => write!(f, "{n} GPU(s)"),
            (None, false) => write!(f, "GPU device(s) {}", self.device_ids.join(",")),
            (None, true) => write!(f, "GPUs"),
        }
    }
}
