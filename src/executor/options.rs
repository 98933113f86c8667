//! `container.options` (and `services.<id>.options`): Docker's `docker
//! create` flags, parsed into [`ContainerOptions`] and turned into the Docker
//! API's container configuration.
//!
//! The text is split into words the way a POSIX shell does (single and
//! double quotes, backslashes, `#` comments), keeping the byte offset of
//! every word so that an error can point at `file:line:col`. Flags take
//! their value as `--flag value`, `--flag=value`, `-f value`, `-fvalue` or
//! `-f=value`, like Docker's own command line; flags that Docker lets you
//! repeat (`-e`, `-v`, `--cap-add`, …) may be repeated, and for the others
//! the last one wins. Anything that is not a supported flag is an error, never
//! silently ignored (`--rm` and `--pull`, which make no sense for a CI
//! container, are accepted and ignored).

use std::collections::HashMap;
use std::fmt;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, HealthConfig, HostConfig, Mount, MountType,
    ResourcesUlimits,
};

/// An error in `container.options`: which flag, where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OptionsError {
    /// The flag (or word) at fault, as written, e.g. `--gpu`.
    pub flag: String,
    /// Byte offset of the offending word (or value) in the options text.
    pub offset: usize,
    /// Byte length of the offending word (or value); at least 1 where the
    /// text is not empty.
    pub len: usize,
    /// One sentence, e.g. "unknown option `--gpu`; did you mean `--gpus`?".
    pub message: String,
}

impl OptionsError {
    fn new(flag: &str, offset: usize, len: usize, message: impl Into<String>) -> Self {
        OptionsError {
            flag: flag.to_string(),
            offset,
            len,
            message: message.into(),
        }
    }
}

/// One `--gpus` request, as Docker's `DeviceRequest`.
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
    pub devices: Vec<DeviceMapping>,
    pub read_only: bool,
    pub platform: Option<String>,
    pub stop_signal: Option<String>,
    /// Every flag as written and the byte offset of its word, in order, so
    /// that later checks (`--privileged` refused) can point at it.
    pub flags: Vec<(String, usize)>,
}

/// How a flag takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    /// A switch: `--init`, or `--init=true|false`.
    Bool,
    Value,
}

/// Supported flags: canonical long name, short name, arity.
const FLAGS: &[(&str, Option<char>, Arity)] = &[
    ("gpus", None, Arity::Value),
    ("runtime", None, Arity::Value),
    ("shm-size", None, Arity::Value),
    ("ipc", None, Arity::Value),
    ("pid", None, Arity::Value),
    ("memory", Some('m'), Arity::Value),
    ("memory-swap", None, Arity::Value),
    ("cpus", None, Arity::Value),
    ("cpu-shares", Some('c'), Arity::Value),
    ("cpuset-cpus", None, Arity::Value),
    ("user", Some('u'), Arity::Value),
    ("group-add", None, Arity::Value),
    ("volume", Some('v'), Arity::Value),
    ("mount", None, Arity::Value),
    ("env", Some('e'), Arity::Value),
    ("network", None, Arity::Value),
    ("net", None, Arity::Value),
    ("network-alias", None, Arity::Value),
    ("net-alias", None, Arity::Value),
    ("privileged", None, Arity::Bool),
    ("entrypoint", None, Arity::Value),
    ("workdir", Some('w'), Arity::Value),
    ("hostname", Some('h'), Arity::Value),
    ("add-host", None, Arity::Value),
    ("dns", None, Arity::Value),
    ("cap-add", None, Arity::Value),
    ("cap-drop", None, Arity::Value),
    ("security-opt", None, Arity::Value),
    ("sysctl", None, Arity::Value),
    ("ulimit", None, Arity::Value),
    ("init", None, Arity::Bool),
    ("tmpfs", None, Arity::Value),
    ("label", Some('l'), Arity::Value),
    ("health-cmd", None, Arity::Value),
    ("health-interval", None, Arity::Value),
    ("health-timeout", None, Arity::Value),
    ("health-retries", None, Arity::Value),
    ("health-start-period", None, Arity::Value),
    ("no-healthcheck", None, Arity::Bool),
    ("pids-limit", None, Arity::Value),
    ("device", None, Arity::Value),
    ("read-only", None, Arity::Bool),
    ("platform", None, Arity::Value),
    ("stop-signal", None, Arity::Value),
    ("pull", None, Arity::Value),
    ("rm", None, Arity::Bool),
];

/// Docker flags that are refused with a reason rather than as unknown.
const REFUSED: &[(&str, &str)] = &[
    ("name", "mlci names its containers itself"),
    ("publish", "use `ports:` instead"),
    ("p", "use `ports:` instead"),
    ("publish-all", "use `ports:` instead"),
    ("P", "use `ports:` instead"),
    ("detach", "mlci runs the container itself"),
    ("d", "mlci runs the container itself"),
    ("interactive", "a CI container has no terminal"),
    ("i", "a CI container has no terminal"),
    ("tty", "a CI container has no terminal"),
    ("t", "a CI container has no terminal"),
    ("it", "a CI container has no terminal"),
    ("env-file", "put the variables under `env:` instead"),
    ("restart", "a job container is never restarted"),
];

impl ContainerOptions {
    /// Parses `container.options`. Offsets in errors are byte offsets in `text`.
    pub fn parse(text: &str) -> Result<ContainerOptions, OptionsError> {
        let words = split_words(text)?;
        let mut opts = ContainerOptions {
            source: text.to_string(),
            ..Default::default()
        };
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            i += 1;
            let w = word.text.as_str();
            if !w.starts_with('-') || w == "-" || w == "--" {
                let message = if w == "--" {
                    "`--` is not allowed in container.options: the image and command are set by mlci".to_string()
                } else {
                    format!(
                        "unexpected argument `{w}` in container.options: only flags are allowed here (the image goes in `image:`)"
                    )
                };
                return Err(OptionsError::new(w, word.start, word.len(), message));
            }
            // Split `--flag=value`, `-fvalue`, `-f=value`.
            let (name, inline, shown, inline_offset) = if let Some(long) = w.strip_prefix("--") {
                match long.split_once('=') {
                    Some((n, v)) => (
                        n.to_string(),
                        Some(v.to_string()),
                        format!("--{n}"),
                        3 + n.len(),
                    ),
                    None => (long.to_string(), None, w.to_string(), 0),
                }
            } else {
                let rest = &w[1..];
                let c = rest.chars().next().unwrap_or('-');
                let after = &rest[c.len_utf8()..];
                let short = FLAGS.iter().find(|f| f.1 == Some(c));
                match short {
                    Some(&(long, _, _)) if !after.is_empty() => {
                        let (v, off) = match after.strip_prefix('=') {
                            Some(v) => (v, 2 + c.len_utf8() + 1),
                            None => (after, 1 + c.len_utf8()),
                        };
                        (long.to_string(), Some(v.to_string()), format!("-{c}"), off)
                    }
                    Some(&(long, _, _)) => (long.to_string(), None, w.to_string(), 0),
                    None => (rest.to_string(), None, w.to_string(), 0),
                }
            };
            let Some(&(canonical, _, arity)) = FLAGS.iter().find(|f| f.0 == name) else {
                return Err(unknown_flag(w, &name, word.start, word.len()));
            };
            opts.flags.push((shown.clone(), word.start));
            let value: Value = match arity {
                Arity::Bool => match inline.as_deref() {
                    None | Some("true") | Some("1") => Value::Bool(true),
                    Some("false") | Some("0") => Value::Bool(false),
                    Some(other) => {
                        return Err(OptionsError::new(
                            &shown,
                            word.start + inline_offset,
                            other.len().max(1),
                            format!(
                                "`{shown}` is a switch: write `{shown}` or `{shown}=false`, not `{shown}={other}`"
                            ),
                        ));
                    }
                },
                Arity::Value => match inline {
                    Some(v) => Value::Text(v, word.start + inline_offset),
                    None => {
                        let Some(next) = words.get(i) else {
                            return Err(OptionsError::new(
                                &shown,
                                word.start,
                                word.len(),
                                format!("`{shown}` needs a value"),
                            ));
                        };
                        i += 1;
                        Value::Text(next.text.clone(), next.start)
                    }
                },
            };
            opts.apply_flag(canonical, &shown, value)?;
        }
        Ok(opts)
    }

    fn apply_flag(&mut self, name: &str, shown: &str, value: Value) -> Result<(), OptionsError> {
        let (v, at) = match value {
            Value::Bool(b) => {
                match name {
                    "privileged" => self.privileged = b,
                    "init" => self.init = b,
                    "read-only" => self.read_only = b,
                    "no-healthcheck" => self.no_healthcheck = b,
                    _ => {} // --rm: a CI container is always removed
                }
                return Ok(());
            }
            Value::Text(v, at) => (v, at),
        };
        let err = |msg: String| OptionsError::new(shown, at, v.len().max(1), msg);
        match name {
            "gpus" => self.gpus.push(
                parse_gpus(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "runtime" => self.runtime = Some(v),
            "shm-size" => {
                self.shm_size = Some(
                    parse_bytes(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "memory" => {
                self.memory = Some(
                    parse_bytes(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "memory-swap" => {
                self.memory_swap = Some(if v == "-1" {
                    -1
                } else {
                    parse_bytes(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?
                })
            }
            "cpus" => {
                let cpus: f64 = v
                    .parse()
                    .ok()
                    .filter(|c: &f64| c.is_finite() && *c >= 0.0)
                    .ok_or_else(|| {
                        err(format!(
                            "invalid `{shown}` value `{v}`: expected a number of CPUs such as `1.5`"
                        ))
                    })?;
                self.nano_cpus = Some((cpus * 1e9).round() as i64);
            }
            "cpu-shares" => {
                self.cpu_shares =
                    Some(parse_int(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?)
            }
            "cpuset-cpus" => self.cpuset_cpus = Some(v),
            "pids-limit" => {
                self.pids_limit =
                    Some(parse_int(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?)
            }
            "ipc" => {
                let ok = matches!(v.as_str(), "" | "none" | "private" | "shareable" | "host")
                    || v.strip_prefix("container:").is_some_and(|c| !c.is_empty());
                if !ok {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host, private, shareable, none or container:NAME"
                    )));
                }
                self.ipc = Some(v);
            }
            "pid" => {
                let ok = v == "host" || v.strip_prefix("container:").is_some_and(|c| !c.is_empty());
                if !ok {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host or container:NAME"
                    )));
                }
                self.pid = Some(v);
            }
            "user" => {
                if v.is_empty() {
                    return Err(err(format!("`{shown}` needs a user name or uid[:gid]")));
                }
                self.user = Some(v)
            }
            "group-add" => self.group_add.push(v),
            "volume" => {
                if v.is_empty() || v.split(':').count() > 3 {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host-path:container-path[:ro], name:container-path or container-path"
                    )));
                }
                self.volumes.push(v)
            }
            "mount" => self.mounts.push(
                parse_mount(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "env" => {
                let key = v.split('=').next().unwrap_or("");
                if key.is_empty() {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected KEY=value or KEY"
                    )));
                }
                self.env.push(v)
            }
            "network" | "net" => self.network = Some(v),
            "network-alias" | "net-alias" => self.network_aliases.push(v),
            "entrypoint" => self.entrypoint = Some(v),
            "workdir" => {
                if !v.starts_with('/') {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: the working directory must be an absolute path"
                    )));
                }
                self.workdir = Some(v)
            }
            "hostname" => self.hostname = Some(v),
            "add-host" => {
                let Some((host, ip)) = v.split_once(['=', ':']) else {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host:ip"
                    )));
                };
                if host.is_empty() || ip.is_empty() {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host:ip"
                    )));
                }
                self.add_hosts.push(format!("{host}:{ip}"))
            }
            "dns" => self.dns.push(v),
            "cap-add" => self.cap_add.push(v),
            "cap-drop" => self.cap_drop.push(v),
            "security-opt" => self.security_opt.push(v),
            "sysctl" => {
                let Some((k, val)) = v.split_once('=') else {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected name=value"
                    )));
                };
                self.sysctls.push((k.to_string(), val.to_string()))
            }
            "ulimit" => self.ulimits.push(
                parse_ulimit(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "tmpfs" => {
                let (path, o) = v.split_once(':').unwrap_or((&v, ""));
                if !path.starts_with('/') {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected an absolute path[:options]"
                    )));
                }
                self.tmpfs.push((path.to_string(), o.to_string()))
            }
            "label" => {
                let (k, val) = v.split_once('=').unwrap_or((&v, ""));
                if k.is_empty() {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected key=value"
                    )));
                }
                self.labels.push((k.to_string(), val.to_string()))
            }
            "health-cmd" => self.health_cmd = Some(v),
            "health-interval" => {
                self.health_interval = Some(
                    parse_duration(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "health-timeout" => {
                self.health_timeout = Some(
                    parse_duration(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "health-start-period" => {
                self.health_start_period = Some(
                    parse_duration(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "health-retries" => {
                self.health_retries =
                    Some(parse_int(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?)
            }
            "device" => self.devices.push(
                parse_device(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "platform" => self.platform = Some(v),
            "stop-signal" => self.stop_signal = Some(v),
            // --pull: nothing is ever pulled (images are built locally).
            _ => {}
        }
        Ok(())
    }

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

    /// The `HostConfig` that these options describe (resources, devices,
    /// mounts, security). The caller adds its own binds, network and ports.
    pub fn host_config(&self) -> HostConfig {
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
                Some(self.mounts.clone())
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
                Some(self.devices.clone())
            },
            readonly_rootfs: self.read_only.then_some(true),
            ..Default::default()
        }
    }

    /// The health check these options describe, if any.
    pub fn healthcheck(&self) -> Option<HealthConfig> {
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

    /// `-v` specs split into binds (`src:dst[:opts]`) and anonymous volumes (`/dst`).
    pub fn split_volumes(&self) -> (Vec<String>, Vec<String>) {
        split_volume_specs(&self.volumes)
    }

    /// Applies these options to a container configuration: the host config
    /// is merged (lists appended), and the container-level settings (user,
    /// entrypoint, working directory, host name, environment, labels, health
    /// check, anonymous volumes) replace or extend those in `body`.
    ///
    /// The entrypoint replaces the body's; mlci's caller decides what the
    /// command is.
    pub fn apply_to(&self, body: &mut ContainerCreateBody) {
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

impl GpuRequest {
    /// Docker's `DeviceRequest`: driver `nvidia` unless named, capabilities
    /// `[["gpu", …]]`.
    pub fn device_request(&self) -> DeviceRequest {
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

enum Value {
    Bool(bool),
    Text(String, usize),
}

fn unknown_flag(word: &str, name: &str, offset: usize, len: usize) -> OptionsError {
    let flag = word.split('=').next().unwrap_or(word);
    if let Some((_, why)) = REFUSED.iter().find(|(n, _)| *n == name) {
        return OptionsError::new(
            flag,
            offset,
            len,
            format!("`{flag}` is not supported in container.options: {why}"),
        );
    }
    let best = FLAGS
        .iter()
        .map(|f| (strsim::damerau_levenshtein(name, f.0), f.0))
        .filter(|(d, f)| *d <= 2.max(f.len() / 4) && *d < f.len())
        .min_by_key(|(d, _)| *d);
    let message = match best {
        Some((_, f)) => format!("unknown option `{flag}`; did you mean `--{f}`?"),
        None => format!("unknown option `{flag}` in container.options"),
    };
    OptionsError::new(flag, offset, len, message)
}

/// One shell word and its byte range in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Word {
    text: String,
    start: usize,
    end: usize,
}

impl Word {
    fn len(&self) -> usize {
        (self.end - self.start).max(1)
    }
}

/// POSIX-shell word splitting (as `shell-words` does), keeping offsets.
fn split_words(text: &str) -> Result<Vec<Word>, OptionsError> {
    let mut words = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut current: Option<(String, usize)> = None;
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some((w, s)) = current.take() {
                    words.push(Word {
                        text: w,
                        start: s,
                        end: i,
                    });
                }
            }
            '#' if current.is_none() => {
                // A comment runs to the end of the line.
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' => {
                let (w, _) = current.get_or_insert_with(|| (String::new(), i));
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        closed = true;
                        break;
                    }
                    w.push(c);
                }
                if !closed {
                    return Err(OptionsError::new(
                        "'",
                        i,
                        1,
                        "unterminated single quote in container.options",
                    ));
                }
            }
            '"' => {
                let (w, _) = current.get_or_insert_with(|| (String::new(), i));
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.peek().map(|p| p.1) {
                            Some(n @ ('$' | '`' | '"' | '\\')) => {
                                w.push(n);
                                chars.next();
                            }
                            Some('\n') => {
                                chars.next();
                            }
                            _ => w.push('\\'),
                        },
                        c => w.push(c),
                    }
                }
                if !closed {
                    return Err(OptionsError::new(
                        "\"",
                        i,
                        1,
                        "unterminated double quote in container.options",
                    ));
                }
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, n)) => current.get_or_insert_with(|| (String::new(), i)).0.push(n),
                None => {
                    return Err(OptionsError::new(
                        "\\",
                        i,
                        1,
                        "container.options ends with a lone backslash",
                    ));
                }
            },
            c => current.get_or_insert_with(|| (String::new(), i)).0.push(c),
        }
    }
    if let Some((w, s)) = current.take() {
        words.push(Word {
            text: w,
            start: s,
            end: text.len(),
        });
    }
    Ok(words)
}

/// `--gpus`: `all`, `N`, `device=0,1`, `"device=0,1"`, `count=2,capabilities=compute,utility`,
/// `driver=nvidia`, `options=k=v`. The value is a CSV record, as in Docker.
fn parse_gpus(value: &str) -> Result<GpuRequest, String> {
    // Docker reads the value as one CSV record, so `device=0,1` must be
    // quoted there (`'"device=0,1"'`). Here every comma-separated token is
    // read in order instead: a `key=value` token with a known key starts that
    // key, and a bare token continues the list before it (devices,
    // capabilities, driver options), or is the count. That accepts Docker's
    // forms and the unquoted ones that people write meaning the same.
    const KEYS: [&str; 5] = ["count", "device", "capabilities", "driver", "options"];
    let tokens: Vec<String> = parse_csv(value)?
        .iter()
        .flat_map(|f| f.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    if tokens.iter().all(|t| t.is_empty()) {
        return Err("expected all, a count, or device=IDS".to_string());
    }
    let mut req = GpuRequest {
        count: None,
        device_ids: Vec::new(),
        capabilities: Vec::new(),
        driver: String::new(),
        options: Vec::new(),
    };
    let mut caps: Vec<String> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut current = "";
    for token in &tokens {
        if token.is_empty() {
            continue;
        }
        let split = token.split_once('=');
        let key = split.map(|(k, _)| k).filter(|k| KEYS.contains(k));
        let Some(key) = key else {
            match (current, split) {
                ("device", None) => req.device_ids.push(token.clone()),
                ("capabilities", None) => caps.push(token.clone()),
                ("options", _) => {
                    let (k, v) = split.unwrap_or((token, ""));
                    req.options.push((k.to_string(), v.to_string()));
                }
                (_, Some((k, _))) => {
                    return Err(format!(
                        "unexpected key `{k}` (expected count, device, capabilities, driver or options)"
                    ));
                }
                (_, None) => {
                    if seen.contains(&"count") {
                        return Err("the GPU count is given twice".to_string());
                    }
                    seen.push("count");
                    req.count = Some(parse_gpu_count(token)?);
                    current = "count";
                }
            }
            continue;
        };
        if seen.contains(&key) {
            return Err(format!("`{key}` can be given only once"));
        }
        seen.push(key);
        current = key;
        let val = split.map(|(_, v)| v).unwrap_or("");
        match key {
            "driver" => req.driver = val.to_string(),
            "count" => req.count = Some(parse_gpu_count(val)?),
            "device" if !val.is_empty() => req.device_ids.push(val.to_string()),
            "capabilities" if !val.is_empty() => caps.push(val.to_string()),
            "options" if !val.is_empty() => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                req.options.push((k.to_string(), v.to_string()));
            }
            _ => {}
        }
    }
    if seen.contains(&"device") && req.device_ids.is_empty() {
        return Err("`device=` needs GPU indexes or UUIDs".to_string());
    }
    if req.count.is_some() && !req.device_ids.is_empty() {
        return Err("give either a count or devices, not both".to_string());
    }
    if req.count.is_none() && req.device_ids.is_empty() {
        req.count = Some(1);
    }
    if !caps.iter().any(|c| c == "gpu") {
        caps.push("gpu".to_string());
    }
    req.capabilities = vec![caps];
    Ok(req)
}

fn parse_gpu_count(s: &str) -> Result<i64, String> {
    if s == "all" {
        return Ok(-1);
    }
    // Docker takes any count, 0 included (Hugging Face's workflows use
    // `--gpus 0` and select devices through NVIDIA_VISIBLE_DEVICES).
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a GPU count (expected all or a number)"
        )),
    }
}

/// One CSV record (Go's encoding/csv): commas separate, double quotes group.
fn parse_csv(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes => {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            }
            '"' if cur.is_empty() => in_quotes = true,
            ',' if !in_quotes => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated double quote".to_string());
    }
    fields.push(cur);
    Ok(fields)
}

/// Docker's RAMInBytes: `512`, `512b`, `64k`, `256m`, `1.5g`, `2gb`, `1GiB` (binary units).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{s}` is not a size (expected a number with an optional unit b, k, m, g, t, e.g. `256m`)"
        )
    };
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let mut body = lower.as_str();
    let mut mult: f64 = 1.0;
    if let Some(b) = body.strip_suffix('b') {
        body = b;
    }
    if let Some(b) = body.strip_suffix('i') {
        body = b;
    }
    for (suffix, m) in [
        ("k", 1024f64),
        ("m", 1024f64.powi(2)),
        ("g", 1024f64.powi(3)),
        ("t", 1024f64.powi(4)),
        ("p", 1024f64.powi(5)),
    ] {
        if let Some(b) = body.strip_suffix(suffix) {
            body = b;
            mult = m;
            break;
        }
    }
    let body = body.trim_end();
    if body.is_empty()
        || !body.chars().all(|c| c.is_ascii_digit() || c == '.')
        || body.starts_with('.')
    {
        return Err(bad());
    }
    let n: f64 = body.parse().map_err(|_| bad())?;
    let bytes = n * mult;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| format!("`{s}` is not a whole number"))
}

/// Go's time.ParseDuration: `30s`, `1m30s`, `500ms`, `1.5h`, `0`; in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a duration (expected e.g. `10s`, `1m30s`, `500ms`)");
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += n * unit;
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(total as i64)
}

fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, limits) = s.split_once('=').ok_or("expected name=soft[:hard]")?;
    if name.is_empty() {
        return Err("expected name=soft[:hard]".to_string());
    }
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let soft = soft
        .parse::<i64>()
        .map_err(|_| format!("`{soft}` is not a number"))?;
    let hard = hard
        .parse::<i64>()
        .map_err(|_| format!("`{hard}` is not a number"))?;
    if soft > hard && hard >= 0 {
        return Err("the soft limit is above the hard limit".to_string());
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

fn parse_device(s: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c]
            if c.chars().all(|ch| "rwm".contains(ch)) && !c.is_empty() && !c.starts_with('/') =>
        {
            (*h, *h, *c)
        }
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err("expected host-device[:container-device[:permissions]]".to_string()),
    };
    if !host.starts_with('/') {
        return Err("the device must be an absolute path such as /dev/fuse".to_string());
    }
    Ok(DeviceMapping {
        path_on_host: Some(host.to_string()),
        path_in_container: Some(container.to_string()),
        cgroup_permissions: Some(perms.to_string()),
    })
}

/// `--mount type=bind,source=/a,target=/b,readonly` (bind, volume, tmpfs).
fn parse_mount(s: &str) -> Result<Mount, String> {
    let mut m = Mount::default();
    for field in parse_csv(s)? {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        match (k.as_str(), v) {
            ("type", Some(t)) => {
                m.typ = Some(match t.as_str() {
                    "bind" => MountType::BIND,
                    "volume" => MountType::VOLUME,
                    "tmpfs" => MountType::TMPFS,
                    other => {
                        return Err(format!(
                            "mount type `{other}` is not supported (bind, volume or tmpfs)"
                        ));
                    }
                })
            }
            ("source" | "src", Some(v)) => m.source = Some(v),
            ("target" | "destination" | "dst", Some(v)) => m.target = Some(v),
            ("readonly" | "ro", None) => m.read_only = Some(true),
            ("readonly" | "ro", Some(v)) => m.read_only = Some(matches!(v.as_str(), "true" | "1")),
            ("consistency", Some(v)) => m.consistency = Some(v),
            (other, _) => return Err(format!("unexpected key `{other}`")),
        }
    }
    if m.target.is_none() {
        return Err("a mount needs target=PATH".to_string());
    }
    if m.typ.is_none() {
        m.typ = Some(MountType::VOLUME);
    }
    Ok(m)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ContainerOptions {
        ContainerOptions::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn fail(s: &str) -> OptionsError {
        ContainerOptions::parse(s).expect_err(s)
    }

    #[test]
    fn empty_and_whitespace() {
        assert_eq!(parse("").gpus, vec![]);
        assert!(parse("  \n\t ").flags.is_empty());
    }

    #[test]
    fn gpus_all() {
        let o = parse("--gpus all");
        assert_eq!(o.gpus.len(), 1);
        assert_eq!(o.gpus[0].count, Some(-1));
        assert_eq!(o.gpus[0].capabilities, vec![vec!["gpu".to_string()]]);
        assert!(o.wants_gpus());
        let dr = &o.host_config().device_requests.unwrap()[0];
        assert_eq!(dr.driver.as_deref(), Some("nvidia"));
        assert_eq!(dr.count, Some(-1));
        assert_eq!(dr.capabilities, Some(vec![vec!["gpu".to_string()]]));
    }

    #[test]
    fn gpus_count_and_equals_form() {
        assert_eq!(parse("--gpus 2").gpus[0].count, Some(2));
        assert_eq!(parse("--gpus=2").gpus[0].count, Some(2));
        assert_eq!(parse("--gpus count=3").gpus[0].count, Some(3));
        // Docker accepts a count of 0; real workflows (Hugging Face) use it.
        assert_eq!(parse("--gpus 0").gpus[0].count, Some(0));
        assert!(fail("--gpus -1").message.contains("GPU count"));
        assert!(fail("--gpus many").message.contains("GPU count"));
    }

    #[test]
    fn gpus_devices() {
        for s in [
            r#"--gpus '"device=0,1"'"#,
            r#"--gpus "\"device=0,1\"""#,
            "--gpus device=0,1",
            r#"--gpus='"device=0,1"'"#,
        ] {
            let g = &parse(s).gpus[0];
            assert_eq!(g.device_ids, vec!["0", "1"], "{s}");
            assert_eq!(g.count, None, "{s}");
            let dr = g.device_request();
            assert_eq!(dr.device_ids, Some(vec!["0".to_string(), "1".to_string()]));
            assert_eq!(dr.count, None);
        }
        let g = &parse("--gpus device=0").gpus[0];
        assert_eq!(g.device_ids, vec!["0"]);
        let g = &parse("--gpus device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a").gpus[0];
        assert_eq!(g.device_ids.len(), 1);
    }

    #[test]
    fn gpus_capabilities_driver_options() {
        let g = &parse(r#"--gpus '"count=2,capabilities=compute,utility"'"#).gpus[0];
        assert_eq!(g.count, Some(2));
        assert_eq!(g.capabilities, vec![vec!["compute", "utility", "gpu"]]);
        // Docker's own quoting of the same request, and the unquoted form.
        for s in [
            r#"--gpus '"capabilities=compute,utility",count=2'"#,
            "--gpus count=2,capabilities=compute,utility",
        ] {
            let g = &parse(s).gpus[0];
            assert_eq!(g.count, Some(2), "{s}");
            assert_eq!(
                g.capabilities,
                vec![vec!["compute", "utility", "gpu"]],
                "{s}"
            );
        }
        let g = &parse(r#"--gpus '"device=0,1",capabilities=utility'"#).gpus[0];
        assert_eq!(g.device_ids, vec!["0", "1"]);
        assert_eq!(g.capabilities, vec![vec!["utility", "gpu"]]);
        let g = &parse("--gpus all,options=k=v").gpus[0];
        assert_eq!(g.count, Some(-1));
        assert_eq!(g.options, vec![("k".to_string(), "v".to_string())]);
        assert!(fail("--gpus 1,2").message.contains("count is given twice"));
        assert!(fail("--gpus device=").message.contains("needs GPU"));
        let g = &parse("--gpus count=1,driver=cdi").gpus[0];
        assert_eq!(g.driver, "cdi");
        assert_eq!(g.device_request().driver.as_deref(), Some("cdi"));
        let e = fail("--gpus colour=red");
        assert!(
            e.message.contains("unexpected key `colour`"),
            "{}",
            e.message
        );
        assert!(fail("--gpus device=0,count=2").message.contains("not both"));
        assert!(fail("--gpus").message.contains("needs a value"));
    }

    #[test]
    fn gpus_repeated() {
        assert_eq!(parse("--gpus 1 --gpus device=3").gpus.len(), 2);
    }

    #[test]
    fn shm_size_units() {
        assert_eq!(parse("--shm-size 256m").shm_size, Some(256 << 20));
        assert_eq!(parse("--shm-size=8g").shm_size, Some(8 << 30));
        assert_eq!(parse("--shm-size 64k").shm_size, Some(64 << 10));
        assert_eq!(parse("--shm-size 100b").shm_size, Some(100));
        assert_eq!(parse("--shm-size 1024").shm_size, Some(1024));
        assert_eq!(parse("--shm-size 2GB").shm_size, Some(2 << 30));
        assert_eq!(parse("--shm-size 1.5g").shm_size, Some(3 << 29));
        assert_eq!(parse("--shm-size 1GiB").shm_size, Some(1 << 30));
        assert!(fail("--shm-size lots").message.contains("not a size"));
        assert!(fail("--shm-size 5x").message.contains("not a size"));
        assert_eq!(
            parse("--shm-size 256m").host_config().shm_size,
            Some(256 << 20)
        );
    }

    #[test]
    fn ipc_and_pid() {
        assert_eq!(parse("--ipc host").ipc.as_deref(), Some("host"));
        assert_eq!(
            parse("--ipc=container:db").ipc.as_deref(),
            Some("container:db")
        );
        assert_eq!(
            parse("--ipc host").host_config().ipc_mode.as_deref(),
            Some("host")
        );
        assert!(fail("--ipc everywhere").message.contains("--ipc"));
        assert_eq!(
            parse("--pid host").host_config().pid_mode.as_deref(),
            Some("host")
        );
    }

    #[test]
    fn memory_and_swap() {
        assert_eq!(parse("--memory 512m").memory, Some(512 << 20));
        assert_eq!(parse("-m 1g").memory, Some(1 << 30));
        assert_eq!(parse("-m1g").memory, Some(1 << 30));
        assert_eq!(parse("-m=1g").memory, Some(1 << 30));
        assert_eq!(parse("--memory-swap -1").memory_swap, Some(-1));
        assert_eq!(parse("--memory-swap 2g").memory_swap, Some(2 << 30));
        let hc = parse("--memory 512m --memory-swap 1g").host_config();
        assert_eq!(hc.memory, Some(512 << 20));
        assert_eq!(hc.memory_swap, Some(1 << 30));
    }

    #[test]
    fn cpus_and_shares() {
        assert_eq!(parse("--cpus 1.5").nano_cpus, Some(1_500_000_000));
        assert_eq!(
            parse("--cpus=2").host_config().nano_cpus,
            Some(2_000_000_000)
        );
        assert!(fail("--cpus two").message.contains("--cpus"));
        assert_eq!(
            parse("--cpu-shares 512").host_config().cpu_shares,
            Some(512)
        );
        assert_eq!(parse("-c 256").cpu_shares, Some(256));
        assert_eq!(
            parse("--cpuset-cpus 0-3")
                .host_config()
                .cpuset_cpus
                .as_deref(),
            Some("0-3")
        );
    }

    #[test]
    fn user() {
        let o = parse("--user 1000");
        assert_eq!(o.user.as_deref(), Some("1000"));
        let mut body = ContainerCreateBody::default();
        o.apply_to(&mut body);
        assert_eq!(body.user.as_deref(), Some("1000"));
        assert_eq!(parse("-u 1000:1000").user.as_deref(), Some("1000:1000"));
        assert_eq!(parse("-u=runner").user.as_deref(), Some("runner"));
        assert!(fail("--user=").message.contains("needs a user"));
    }

    #[test]
    fn volumes() {
        let o = parse("-v /data:/data:ro --volume cache:/cache -v /anon");
        assert_eq!(o.volumes.len(), 3);
        let hc = o.host_config();
        assert_eq!(
            hc.binds,
            Some(vec![
                "/data:/data:ro".to_string(),
                "cache:/cache".to_string()
            ])
        );
        let mut body = ContainerCreateBody::default();
        o.apply_to(&mut body);
        assert_eq!(body.volumes, Some(vec!["/anon".to_string()]));
        assert!(
            fail("-v a:b:c:d").message.contains("--volume")
                || fail("-v a:b:c:d").message.contains("-v")
        );
    }

    #[test]
    fn mounts() {
        let o = parse("--mount type=bind,source=/src,target=/dst,readonly");
        let m = &o.mounts[0];
        assert_eq!(m.typ, Some(MountType::BIND));
        assert_eq!(m.source.as_deref(), Some("/src"));
        assert_eq!(m.target.as_deref(), Some("/dst"));
        assert_eq!(m.read_only, Some(true));
        assert_eq!(
            parse("--mount type=tmpfs,dst=/t").mounts[0].typ,
            Some(MountType::TMPFS)
        );
        assert!(
            fail("--mount type=bind,source=/a")
                .message
                .contains("target")
        );
    }

    #[test]
    fn env() {
        let o = parse("-e A=1 --env B=two -e=C=3 --env 'D=with space'");
        assert_eq!(o.env, vec!["A=1", "B=two", "C=3", "D=with space"]);
        let mut body = ContainerCreateBody::default();
        o.apply_to(&mut body);
        assert_eq!(body.env.unwrap().len(), 4);
        // A bare name is taken from mlci's environment, and dropped when unset.
        let o = parse("-e MLCI_SURELY_UNSET_VARIABLE_XYZ");
        let mut body = ContainerCreateBody::default();
        o.apply_to(&mut body);
        assert_eq!(body.env.unwrap_or_default().len(), 0);
        assert!(fail("-e =x").message.contains("KEY=value"));
    }

    #[test]
    fn network_and_aliases() {
        assert_eq!(parse("--network host").network.as_deref(), Some("host"));
        assert_eq!(
            parse("--net=none").host_config().network_mode.as_deref(),
            Some("none")
        );
        assert_eq!(
            parse("--network-alias db --net-alias pg").network_aliases,
            vec!["db", "pg"]
        );
    }

    #[test]
    fn privileged_flag_and_check() {
        let o = parse("--shm-size 1g --privileged");
        assert!(o.privileged);
        assert_eq!(o.host_config().privileged, Some(true));
        let e = o.check_privileged(false).unwrap_err();
        assert_eq!(e.flag, "--privileged");
        assert_eq!(e.offset, 14);
        assert!(e.message.contains("--allow-privileged"));
        assert!(o.check_privileged(true).is_ok());
        assert!(!parse("--privileged=false").privileged);
        assert!(parse("--privileged=false").check_privileged(false).is_ok());
        assert!(fail("--privileged=maybe").message.contains("switch"));
    }

    #[test]
    fn entrypoint_workdir_hostname() {
        let o = parse("--entrypoint /bin/sh -w /src -h box");
        let mut body = ContainerCreateBody::default();
        o.apply_to(&mut body);
        assert_eq!(body.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(body.working_dir.as_deref(), Some("/src"));
        assert_eq!(body.hostname.as_deref(), Some("box"));
        assert_eq!(
            parse("--workdir=/x --hostname=h").workdir.as_deref(),
            Some("/x")
        );
        assert!(fail("--workdir rel").message.contains("absolute"));
        let mut body = ContainerCreateBody::default();
        parse("--entrypoint ''").apply_to(&mut body);
        assert_eq!(body.entrypoint, Some(vec![]));
    }

    #[test]
    fn add_host_dns() {
        let o = parse("--add-host db:10.0.0.2 --add-host=cache=10.0.0.3 --dns 1.1.1.1");
        assert_eq!(
            o.host_config().extra_hosts,
            Some(vec![
                "db:10.0.0.2".to_string(),
                "cache:10.0.0.3".to_string()
            ])
        );
        assert_eq!(o.host_config().dns, Some(vec!["1.1.1.1".to_string()]));
        assert!(fail("--add-host nohost").message.contains("host:ip"));
    }

    #[test]
    fn capabilities_security() {
        let hc = parse("--cap-add SYS_PTRACE --cap-add=NET_ADMIN --cap-drop ALL --security-opt seccomp=unconfined").host_config();
        assert_eq!(
            hc.cap_add,
            Some(vec!["SYS_PTRACE".to_string(), "NET_ADMIN".to_string()])
        );
        assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            hc.security_opt,
            Some(vec!["seccomp=unconfined".to_string()])
        );
    }

    #[test]
    fn sysctl_and_group_add() {
        let hc = parse("--sysctl net.core.somaxconn=1024 --group-add video").host_config();
        assert_eq!(
            hc.sysctls
                .unwrap()
                .get("net.core.somaxconn")
                .map(String::as_str),
            Some("1024")
        );
        assert_eq!(hc.group_add, Some(vec!["video".to_string()]));
    }

    #[test]
    fn ulimit() {
        let o = parse("--ulimit nofile=1024:2048 --ulimit memlock=-1 --ulimit stack=67108864");
        assert_eq!(
            o.ulimits[0],
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(
            o.ulimits[1],
            Ulimit {
                name: "memlock".into(),
                soft: -1,
                hard: -1
            }
        );
        assert_eq!(o.host_config().ulimits.unwrap().len(), 3);
        assert!(fail("--ulimit nofile").message.contains("name=soft"));
        assert!(fail("--ulimit nofile=10:5").message.contains("above"));
    }

    #[test]
    fn init_tmpfs_readonly() {
        let hc = parse("--init --tmpfs /run --tmpfs /tmp:rw,size=64m --read-only").host_config();
        assert_eq!(hc.init, Some(true));
        let t = hc.tmpfs.unwrap();
        assert_eq!(t.get("/run").map(String::as_str), Some(""));
        assert_eq!(t.get("/tmp").map(String::as_str), Some("rw,size=64m"));
        assert_eq!(hc.readonly_rootfs, Some(true));
        assert!(fail("--tmpfs run").message.contains("absolute"));
    }

    #[test]
    fn labels() {
        let o = parse("--label team=ml -l tier=gpu -l bare");
        assert_eq!(
            o.labels,
            vec![
                ("team".into(), "ml".into()),
                ("tier".into(), "gpu".into()),
                ("bare".into(), "".into())
            ]
        );
        let mut body = ContainerCreateBody {
            labels: Some(HashMap::from([("team".to_string(), "mlci".to_string())])),
            ..Default::default()
        };
        o.apply_to(&mut body);
        assert_eq!(body.labels.as_ref().unwrap()["team"], "mlci");
        assert_eq!(body.labels.as_ref().unwrap()["tier"], "gpu");
    }

    #[test]
    fn health_flags() {
        let o = parse(
            r#"--health-cmd "pg_isready -U postgres" --health-interval 10s --health-timeout 5s --health-retries 5 --health-start-period 1m30s"#,
        );
        let h = o.healthcheck().unwrap();
        assert_eq!(
            h.test,
            Some(vec![
                "CMD-SHELL".to_string(),
                "pg_isready -U postgres".to_string()
            ])
        );
        assert_eq!(h.interval, Some(10_000_000_000));
        assert_eq!(h.timeout, Some(5_000_000_000));
        assert_eq!(h.retries, Some(5));
        assert_eq!(h.start_period, Some(90_000_000_000));
        assert_eq!(
            parse("--health-interval 500ms").health_interval,
            Some(500_000_000)
        );
        assert!(
            fail("--health-interval 10")
                .message
                .contains("not a duration")
        );
        assert!(fail("--health-retries x").message.contains("whole number"));
        assert_eq!(
            parse("--no-healthcheck").healthcheck().unwrap().test,
            Some(vec!["NONE".to_string()])
        );
        assert_eq!(parse("--cpus 1").healthcheck(), None);
    }

    #[test]
    fn pids_limit_and_devices() {
        assert_eq!(
            parse("--pids-limit 100").host_config().pids_limit,
            Some(100)
        );
        let d = parse("--device /dev/fuse --device /dev/sda:/dev/xvda:r").devices;
        assert_eq!(d[0].path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(d[0].cgroup_permissions.as_deref(), Some("rwm"));
        assert_eq!(d[1].path_in_container.as_deref(), Some("/dev/xvda"));
        assert_eq!(d[1].cgroup_permissions.as_deref(), Some("r"));
        assert!(fail("--device fuse").message.contains("absolute"));
    }

    #[test]
    fn platform_pull_rm_stop_signal_runtime() {
        let o =
            parse("--platform linux/amd64 --pull never --rm --stop-signal SIGINT --runtime nvidia");
        assert_eq!(o.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(o.runtime.as_deref(), Some("nvidia"));
        assert!(o.wants_gpus());
        let mut body = ContainerCreateBody::default();
        o.apply_to(&mut body);
        assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
    }

    #[test]
    fn unknown_flag_suggests() {
        let e = fail("--shm-size 1g --gpu all");
        assert_eq!(e.flag, "--gpu");
        assert_eq!(e.offset, 14);
        assert_eq!(e.len, 5);
        assert_eq!(e.message, "unknown option `--gpu`; did you mean `--gpus`?");
        assert!(
            fail("--shmsize 1g")
                .message
                .contains("did you mean `--shm-size`")
        );
        assert_eq!(
            fail("--frobnicate").message,
            "unknown option `--frobnicate` in container.options"
        );
        let e = fail("-x");
        assert_eq!(e.flag, "-x");
        assert!(e.message.contains("unknown option"));
        assert!(fail("--gpu=all").flag == "--gpu");
    }

    #[test]
    fn refused_flags_say_why() {
        assert!(fail("-p 80:80").message.contains("ports:"));
        assert!(fail("--name x").message.contains("names its containers"));
        assert!(fail("-it").message.contains("terminal"));
        assert!(fail("--env-file f").message.contains("env:"));
    }

    #[test]
    fn positional_argument_is_an_error() {
        let e = fail("--cpus 2 ubuntu");
        assert_eq!(e.offset, 9);
        assert!(e.message.contains("unexpected argument `ubuntu`"));
    }

    #[test]
    fn value_error_points_at_the_value() {
        let e = fail("--memory  lots");
        assert_eq!(e.flag, "--memory");
        assert_eq!(e.offset, 10);
        assert_eq!(e.len, 4);
        let e = fail("--memory=lots");
        assert_eq!(e.offset, 9);
        let e = fail("-mlots");
        assert_eq!(e.offset, 2);
        assert_eq!(e.flag, "-m");
    }

    #[test]
    fn shell_quoting_and_comments() {
        let o = parse("-e 'A=x y' -e \"B=\\\"q\\\"\" -e C=a\\ b # a comment --bogus\n --cpus 1");
        assert_eq!(o.env, vec!["A=x y", "B=\"q\"", "C=a b"]);
        assert_eq!(o.nano_cpus, Some(1_000_000_000));
        assert!(
            fail("-e 'oops")
                .message
                .contains("unterminated single quote")
        );
        assert!(
            fail("-e \"oops")
                .message
                .contains("unterminated double quote")
        );
        let e = fail("--cpus 1 \\");
        assert_eq!(e.offset, 9);
    }

    #[test]
    fn multiline_options_offsets() {
        let text = "--gpus all\n  --shm-size 8g\n  --memroy 4g";
        let e = fail(text);
        assert_eq!(&text[e.offset..e.offset + e.len], "--memroy");
        assert!(e.message.contains("did you mean `--memory`"));
    }

    #[test]
    fn last_value_wins_for_single_flags() {
        assert_eq!(parse("--shm-size 1g --shm-size 2g").shm_size, Some(2 << 30));
    }

    #[test]
    fn apply_to_merges_host_config() {
        let mut body = ContainerCreateBody {
            host_config: Some(HostConfig {
                binds: Some(vec!["/a:/a".to_string()]),
                network_mode: Some("mlci-net".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        parse("-v /b:/b --shm-size 1g").apply_to(&mut body);
        let hc = body.host_config.unwrap();
        assert_eq!(
            hc.binds,
            Some(vec!["/a:/a".to_string(), "/b:/b".to_string()])
        );
        assert_eq!(hc.network_mode.as_deref(), Some("mlci-net"));
        assert_eq!(hc.shm_size, Some(1 << 30));
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("1h2m3s").unwrap(), 3_723_000_000_000);
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5 s").is_err());
        assert_eq!(parse_bytes("1t").unwrap(), 1 << 40);
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("-5m").is_err());
    }
}
