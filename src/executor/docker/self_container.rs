//! Where the engine finds the files mlci lays out for jobs, when mlci itself
//! may run in a container on that engine (act, ARC runners, `container:`
//! jobs with the Docker socket mounted).
//!
//!     this process ──mountinfo, cgroup──▶ in a container? candidate ids
//!                  ──inspect (ids, hostname)──▶ our container: its mounts
//!                  ──the job directory under a bind mount or local volume?──▶
//!                        yes: bind-mount through it (paths translated), probed once
//!                        no, or not found: copy the files into each job's container
//!
//! A bind mount names a path on the engine's host. Job directories live on
//! mlci's file system (beside the cache); from inside a container that path
//! means nothing to the engine, which would create empty root-owned
//! directories on its host and mount those. So in a container a directory
//! is bind-mounted only by its path on the engine's host, through one of the
//! container's own mounts, and only once a probe has shown that the engine
//! finds it there. `MLCI_WORKSPACE=copy` or `=mount` overrides the choice.
//!
//! "In a container" is what Docker, Podman and Kubernetes all do: they bind
//! `/etc/hostname`, `/etc/hosts` or `/etc/resolv.conf` into the container
//! from their own directories. `/.dockerenv` alone is not enough (virtual
//! machines made from container images keep it, with the engine beside them).

use std::path::{Component, Path, PathBuf};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};

use super::container_bodies::LABEL_ROLE;
use super::errors::docker_message;
use super::names::{nonce, short};
use crate::executor::ExecError;

/// How the engine reaches the files mlci lays out for jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAccess {
    /// By their paths here: the engine sees this file system.
    Direct,
    /// By their paths on the engine's host, through these mounts of the
    /// container mlci runs in.
    Through(Vec<PathMap>),
    /// Not at all: job files are copied into each job's container.
    Copy,
}

/// One mount of the container mlci runs in: `inside` (its destination) is
/// `outside` on the engine's host; none for a mount that has no such path
/// (tmpfs, a volume of another driver), which hides what lies under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathMap {
    pub inside: PathBuf,
    pub outside: Option<PathBuf>,
}

impl FileAccess {
    /// The path under which the engine finds `local`, a path of this file
    /// system; None when it cannot be bind-mounted.
    pub fn engine_path(&self, local: &Path) -> Option<PathBuf> {
        match self {
            FileAccess::Direct => Some(local.to_path_buf()),
            FileAccess::Copy => None,
            FileAccess::Through(maps) => {
                let local = resolve(local);
                let map = covering(maps, &local)?;
                let outside = map.outside.as_ref()?;
                let rest = local.strip_prefix(&map.inside).ok()?;
                Some(if rest.as_os_str().is_empty() {
                    outside.clone()
                } else {
                    outside.join(rest)
                })
            }
        }
    }
}

/// A `volumes:`/`-v` entry as the engine must get it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineVolume {
    /// This spec (rewritten or as written).
    Bind(String),
    /// Job files are copied: this host path goes into the container at this
    /// path instead (a copy, not shared with the workspace).
    Copy(PathBuf, String),
}

/// A `volumes:`/`-v` spec as the engine must get it:
/// - a source in the workspace (`.`, `./data`, or the workspace's container
///   path and below, as `${{ github.workspace }}/data` gives) is that part
///   of the job's own workspace: `workspace_outside` (its path for the
///   engine) when job files are bind-mounted, else a copy of the
///   repository's `snapshot` at the target;
/// - an absolute source under a mount of the container mlci runs in is
///   that directory's path on the engine's host;
/// - any other path, and a volume name, is the engine's, as written.
pub fn engine_volume(
    spec: &str,
    workspace_path: &str,
    snapshot: &Path,
    workspace_outside: Option<&Path>,
    access: &FileAccess,
) -> EngineVolume {
    let keep = || EngineVolume::Bind(spec.to_string());
    let Some((source, rest)) = spec.split_once(':') else {
        return keep();
    };
    let (target, options) = match rest.split_once(':') {
        Some((t, o)) => (t, Some(o)),
        None => (rest, None),
    };
    let with_source = |source: &Path| {
        let mut out = format!("{}:{target}", source.display());
        if let Some(o) = options {
            out.push(':');
            out.push_str(o);
        }
        EngineVolume::Bind(out)
    };
    let ws = workspace_path.trim_end_matches('/');
    let in_workspace = if source == "." || source == ws {
        Some("")
    } else {
        source
            .strip_prefix("./")
            .or_else(|| source.strip_prefix(&format!("{ws}/")))
    };
    if let Some(inner) = in_workspace {
        let inner = Path::new(inner.trim_matches('/'));
        if inner
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return keep();
        }
        return match workspace_outside {
            Some(outside) => with_source(&outside.join(inner)),
            None => EngineVolume::Copy(snapshot.join(inner), target.to_string()),
        };
    }
    if source.starts_with('/')
        && let FileAccess::Through(maps) = access
        && covering(maps, Path::new(source)).is_some()
        && let Some(outside) = access.engine_path(Path::new(source))
    {
        return with_source(&outside);
    }
    keep()
}

/// The choice, and the line that tells it (none when mlci is not in a
/// container: nothing changed, nothing to say).
#[derive(Clone, Debug)]
pub struct Decision {
    pub access: FileAccess,
    pub line: Option<String>,
}

/// `MLCI_WORKSPACE`: a mode the user forces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forced {
    Copy,
    Mount,
}

impl Forced {
    pub fn from_env() -> Result<Option<Forced>, ExecError> {
        match std::env::var("MLCI_WORKSPACE")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => Ok(None),
            Some("copy") => Ok(Some(Forced::Copy)),
            Some("mount") => Ok(Some(Forced::Mount)),
            Some(other) => Err(ExecError::Engine(format!(
                "MLCI_WORKSPACE is `{other}`: set it to `copy` (copy job files into each job's container) or `mount` (bind-mount them), or unset it to let mlci choose"
            ))),
        }
    }
}

/// What this process can tell about the container it may run in.
#[derive(Clone, Debug, Default)]
pub struct SelfProbe {
    /// Container ids that the engine may know us by, most telling first
    /// (from mountinfo and cgroups, then the host name).
    pub candidates: Vec<String>,
    /// Whether `/etc/hostname`, `/etc/hosts` or `/etc/resolv.conf` is
    /// mounted in from elsewhere, as container engines do.
    pub in_container: bool,
    pub hostname: Option<String>,
}

impl SelfProbe {
    pub fn read() -> SelfProbe {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        SelfProbe::from_texts(&mountinfo, &cgroup, hostname)
    }

    pub fn from_texts(mountinfo: &str, cgroup: &str, hostname: Option<String>) -> SelfProbe {
        let mut candidates = Vec::new();
        let mut in_container = false;
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (Some(root), Some(point)) = (fields.get(3), fields.get(4)) else {
                continue;
            };
            if ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"].contains(point) {
                in_container = true;
                if let Some(id) = id_after(root, "containers/") {
                    push_unique(&mut candidates, id);
                }
            }
        }
        for line in cgroup.lines() {
            let path = line.splitn(3, ':').nth(2).unwrap_or("");
            for marker in ["/docker/", "docker-", "/libpod-", "libpod-"] {
                if let Some(id) = id_after(path, marker) {
                    in_container = true;
                    push_unique(&mut candidates, id);
                }
            }
        }
        if in_container && let Some(h) = &hostname {
            push_unique(&mut candidates, h.clone());
        }
        SelfProbe {
            candidates,
            in_container,
            hostname,
        }
    }
}

/// The 64-hex-digit id right after `marker` in `text`.
fn id_after(text: &str, marker: &str) -> Option<String> {
    text.match_indices(marker).find_map(|(at, _)| {
        let rest = &text[at + marker.len()..];
        let id: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        (id.len() == 64).then_some(id)
    })
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The container the engine runs us in, as the engine describes it.
#[derive(Clone, Debug)]
pub struct Found {
    pub id: String,
    pub image: Option<String>,
    pub maps: Vec<PathMap>,
}

/// The mounts of `container.Mounts`, with the path on the engine's host of
/// those that the engine can mount again by path: bind mounts, and volumes
/// of the `local` driver (their data directory). tmpfs and other drivers'
/// volumes have no such path.
pub fn path_maps(mounts: &[bollard::models::MountPoint]) -> Vec<PathMap> {
    mounts
        .iter()
        .filter_map(|m| {
            let kind = m.typ.as_ref().map(|t| t.to_string()).unwrap_or_default();
            let usable = match kind.as_str() {
                "bind" => true,
                "volume" => m.driver.as_deref().unwrap_or("local") == "local",
                _ => false,
            };
            let dest = m.destination.as_deref().filter(|d| d.starts_with('/'))?;
            let source = m.source.as_deref().filter(|s| usable && s.starts_with('/'));
            Some(PathMap {
                inside: PathBuf::from(dest),
                outside: source.map(PathBuf::from),
            })
        })
        .collect()
}

/// The deepest mount whose destination holds `path`.
fn covering<'a>(maps: &'a [PathMap], path: &Path) -> Option<&'a PathMap> {
    maps.iter()
        .filter(|m| path.starts_with(&m.inside))
        .max_by_key(|m| m.inside.components().count())
}

/// `path` with symbolic links resolved as far as it exists, made absolute
/// and with `.`/`..` taken out: the path the container's mounts see.
fn resolve(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Looks the candidates up on the engine; the first running container that
/// is us (by id, or by a name or id prefix with our host name) wins.
pub async fn find_self(docker: &Docker, probe: &SelfProbe) -> Option<Found> {
    for candidate in &probe.candidates {
        let Ok(info) = docker.inspect_container(candidate, None).await else {
            continue;
        };
        let running = info.state.as_ref().and_then(|s| s.running) == Some(true);
        let by_id = candidate.len() == 64 && info.id.as_deref() == Some(candidate);
        let by_hostname =
            info.config.as_ref().and_then(|c| c.hostname.as_deref()) == probe.hostname.as_deref();
        if !running || !(by_id || by_hostname) {
            continue;
        }
        return Some(Found {
            id: info.id.unwrap_or_default(),
            image: info.image,
            maps: path_maps(info.mounts.as_deref().unwrap_or_default()),
        });
    }
    None
}

/// What the facts decide, before the probe: a pure function (tested as such).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to say: not in a container (or forced to copy outside one).
    Quiet(FileAccess),
    /// Say `line`; no probe needed.
    Say(FileAccess, String),
    /// Bind-mount through `map` once a probe confirms it; else copy (or,
    /// when forced, fail).
    Probe {
        maps: Vec<PathMap>,
        map: PathMap,
        container: String,
        forced: bool,
    },
    /// MLCI_WORKSPACE=mount cannot be honoured.
    Refuse(String),
}

pub fn plan(
    forced: Option<Forced>,
    local_engine: bool,
    in_container: bool,
    found: Option<&Found>,
    dir: &Path,
) -> Plan {
    const COPIED: &str = "job files are copied into each job's container";
    let who = match found {
        Some(f) => format!("mlci runs in container {}", short(&f.id)),
        None => "mlci runs in a container".to_string(),
    };
    if forced == Some(Forced::Copy) {
        return if in_container {
            Plan::Say(
                FileAccess::Copy,
                format!("{who}: {COPIED} (MLCI_WORKSPACE=copy)"),
            )
        } else {
            Plan::Quiet(FileAccess::Copy)
        };
    }
    if !in_container {
        return Plan::Quiet(if local_engine || forced == Some(Forced::Mount) {
            FileAccess::Direct
        } else {
            FileAccess::Copy
        });
    }
    if !local_engine && forced.is_none() {
        return Plan::Say(
            FileAccess::Copy,
            format!("{who}, and the engine is not on a local socket: {COPIED}"),
        );
    }
    let Some(found) = found else {
        return match forced {
            Some(_) => Plan::Say(
                FileAccess::Direct,
                format!(
                    "{who} that the engine does not know: job files are bind-mounted by their paths here (MLCI_WORKSPACE=mount)"
                ),
            ),
            None => Plan::Say(
                FileAccess::Copy,
                format!(
                    "{who} that the engine does not know (a Docker-in-Docker engine, or one on another machine?): {COPIED}"
                ),
            ),
        };
    };
    let local = resolve(dir);
    match covering(&found.maps, &local) {
        Some(map) if map.outside.is_none() && forced.is_some() => Plan::Refuse(format!(
            "MLCI_WORKSPACE=mount, but {} is in the mount {} of the container mlci runs in ({}), which the engine cannot mount by path (a tmpfs, or a volume of another driver than `local`): set MLCI_CACHE_DIR to a directory in a bind mount or a local volume, or unset MLCI_WORKSPACE",
            dir.display(),
            map.inside.display(),
            short(&found.id)
        )),
        Some(map) if map.outside.is_none() => Plan::Say(
            FileAccess::Copy,
            format!(
                "{who}: {COPIED} ({} is in its mount {}, which the engine cannot mount by path: a tmpfs, or a volume of another driver than `local`)",
                dir.display(),
                map.inside.display()
            ),
        ),
        Some(map) => Plan::Probe {
            maps: found.maps.clone(),
            map: map.clone(),
            container: found.id.clone(),
            forced: forced.is_some(),
        },
        None if forced.is_some() => Plan::Refuse(format!(
            "MLCI_WORKSPACE=mount, but {} is in the own file system of the container mlci runs in ({}), where the engine cannot find it: mount a host directory there (-v /host/dir:{0}), set MLCI_CACHE_DIR to a directory in a mount, or unset MLCI_WORKSPACE",
            dir.display(),
            short(&found.id)
        )),
        None => Plan::Say(
            FileAccess::Copy,
            format!(
                "{who}: {COPIED} ({} is in the container's own file system, not in a mount of the engine's host; mount a host directory there, or set MLCI_CACHE_DIR to one, to bind-mount them)",
                dir.display()
            ),
        ),
    }
}

/// Decides how the engine reaches job files kept under `dir` (the parent
/// of the job directories), probing a bind mount through our container's
/// mounts before relying on it.
pub async fn decide(docker: &Docker, host: &str, dir: &Path) -> Result<Decision, ExecError> {
    let forced = Forced::from_env()?;
    let local_engine = host.starts_with("unix://");
    let probe = SelfProbe::read();
    let found = if probe.in_container && (local_engine || forced.is_some()) {
        find_self(docker, &probe).await
    } else {
        None
    };
    match plan(
        forced,
        local_engine,
        probe.in_container,
        found.as_ref(),
        dir,
    ) {
        Plan::Quiet(access) => Ok(Decision { access, line: None }),
        Plan::Say(access, line) => Ok(Decision {
            access,
            line: Some(line),
        }),
        Plan::Refuse(message) => Err(ExecError::Engine(message)),
        Plan::Probe {
            maps,
            map,
            container,
            forced,
        } => {
            let access = FileAccess::Through(maps);
            let image = found.and_then(|f| f.image).unwrap_or_default();
            let through = format!(
                "its mount {} → {}",
                map.inside.display(),
                map.outside.as_deref().unwrap_or(Path::new("?")).display()
            );
            match probe_mount(docker, &access, &image, dir).await {
                Ok(()) => Ok(Decision {
                    access,
                    line: Some(format!(
                        "mlci runs in container {}: job files are bind-mounted through {through}",
                        short(&container)
                    )),
                }),
                Err(why) if forced => Err(ExecError::Engine(format!(
                    "MLCI_WORKSPACE=mount, but the engine does not find {} through {through} of container {}: {why}",
                    dir.display(),
                    short(&container)
                ))),
                Err(why) => Ok(Decision {
                    access: FileAccess::Copy,
                    line: Some(format!(
                        "mlci runs in container {}: job files are copied into each job's container (the engine does not find {} through {through}: {why})",
                        short(&container),
                        dir.display()
                    )),
                }),
            }
        }
    }
}

/// Shows that the engine finds a new directory under `dir` at its
/// translated path: a container (created, never started, from the image of
/// our own container) with a bind mount of it. The engine refuses a bind
/// source it does not have, and a directory named with a fresh nonce exists
/// on its host only if it is ours. Nothing is left behind either way: the
/// `Mounts` form of a bind never creates its source.
async fn probe_mount(
    docker: &Docker,
    access: &FileAccess,
    image: &str,
    dir: &Path,
) -> Result<(), String> {
    let marker = dir.join(format!("mlci-probe-{}-{}", std::process::id(), nonce()));
    std::fs::create_dir_all(&marker)
        .map_err(|e| format!("cannot create {}: {e}", marker.display()))?;
    let outcome = probe_marker(docker, access, image, &marker).await;
    let _ = std::fs::remove_dir(&marker);
    outcome
}

async fn probe_marker(
    docker: &Docker,
    access: &FileAccess,
    image: &str,
    marker: &Path,
) -> Result<(), String> {
    let Some(outside) = access.engine_path(marker) else {
        return Err(format!("{} is in no mount", marker.display()));
    };
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["true".to_string()]),
        labels: Some(
            [
                (LABEL_ROLE.to_string(), "probe".to_string()),
                (
                    crate::executor::LABEL_OWNER.to_string(),
                    crate::owner::Owner::current_encoded().to_string(),
                ),
            ]
            .into(),
        ),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            mounts: Some(vec![Mount {
                typ: Some(MountType::BIND),
                source: Some(outside.display().to_string()),
                target: Some("/mlci-probe".to_string()),
                read_only: Some(true),
                ..Default::default()
            }]),
            network_mode: Some("none".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("mlci-probe-{}", nonce());
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker.create_container(Some(options), body).await;
    match created {
        Ok(c) => {
            let _ = docker
                .remove_container(
                    &c.id,
                    Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                )
                .await;
            Ok(())
        }
        Err(e) => Err(format!(
            "{} on the engine's host: {}",
            outside.display(),
            docker_message(&e)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c0d1e2b3a4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7";

    fn found(maps: &[(&str, &str)]) -> Found {
        Found {
            id: ID.to_string(),
            image: Some("sha256:img".to_string()),
            maps: maps
                .iter()
                .map(|(i, o)| PathMap {
                    inside: PathBuf::from(i),
                    outside: (!o.is_empty()).then(|| PathBuf::from(o)),
                })
                .collect(),
        }
    }

    #[test]
    fn docker_s_etc_files_name_the_container() {
        let mountinfo = format!(
            "600 590 0:52 / / rw,relatime - overlay overlay rw\n\
             611 600 254:1 /var/lib/docker/containers/{ID}/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda1 rw\n\
             612 600 254:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n"
        );
        let p = SelfProbe::from_texts(&mountinfo, "0::/\n", Some("3f2a9c0d1e2b".into()));
        assert!(p.in_container);
        assert_eq!(
            p.candidates,
            vec![ID.to_string(), "3f2a9c0d1e2b".to_string()]
        );
    }

    #[test]
    fn a_machine_with_dockerenv_but_its_own_etc_is_not_a_container() {
        let mountinfo = "22 27 0:21 / /proc rw,relatime - proc proc rw\n";
        let p = SelfProbe::from_texts(
            mountinfo,
            "4:memory:/process_api/6968\n0::/\n",
            Some("vm".into()),
        );
        assert!(!p.in_container);
        assert!(p.candidates.is_empty());
    }

    #[test]
    fn cgroup_v1_and_podman_ids() {
        let cgroup =
            format!("12:memory:/docker/{ID}\n1:name=systemd:/machine.slice/libpod-{ID}.scope\n");
        let p = SelfProbe::from_texts("", &cgroup, None);
        assert!(p.in_container);
        assert_eq!(p.candidates, vec![ID.to_string()]);
    }

    #[test]
    fn paths_translate_through_the_deepest_mount() {
        let access = FileAccess::Through(
            found(&[
                ("/", "/nope"),
                ("/src", "/home/me/repo"),
                ("/src/.cache", "/var/lib/docker/volumes/c/_data"),
            ])
            .maps,
        );
        assert_eq!(
            access.engine_path(Path::new("/src/.cache/mlci/tmp/job.1")),
            Some(PathBuf::from(
                "/var/lib/docker/volumes/c/_data/mlci/tmp/job.1"
            ))
        );
        assert_eq!(
            access.engine_path(Path::new("/src/a")),
            Some(PathBuf::from("/home/me/repo/a"))
        );
        assert_eq!(
            access.engine_path(Path::new("/srcx/a")),
            Some(PathBuf::from("/nope/srcx/a"))
        );
        assert_eq!(FileAccess::Copy.engine_path(Path::new("/src")), None);
    }

    #[test]
    fn volumes_in_the_workspace_and_in_our_mounts() {
        let through = FileAccess::Through(found(&[("/src", "/home/me/repo")]).maps);
        let ws = "/__w/repo/repo";
        let snap = Path::new("/tmp/snap");
        let out = Some(Path::new("/home/me/repo/.cache/tmp/job.1/workspace"));
        let v = |spec: &str, out: Option<&Path>, access: &FileAccess| {
            engine_volume(spec, ws, snap, out, access)
        };
        let bind = |s: &str| EngineVolume::Bind(s.to_string());
        assert_eq!(
            v("./data:/data:ro", out, &through),
            bind("/home/me/repo/.cache/tmp/job.1/workspace/data:/data:ro")
        );
        assert_eq!(
            v("/__w/repo/repo/data:/data", out, &through),
            bind("/home/me/repo/.cache/tmp/job.1/workspace/data:/data")
        );
        assert_eq!(
            v(".:/w", None, &FileAccess::Copy),
            EngineVolume::Copy(PathBuf::from("/tmp/snap"), "/w".into())
        );
        assert_eq!(v("/src/x:/x", out, &through), bind("/home/me/repo/x:/x"));
        // The engine's own paths and volume names stay as written.
        for spec in [
            "/var/run/docker.sock:/var/run/docker.sock",
            "cache:/cache",
            "/anon",
            "./../x:/x",
        ] {
            assert_eq!(v(spec, out, &through), bind(spec));
        }
    }

    #[test]
    fn the_choice() {
        let dir = Path::new("/src/.cache/mlci/tmp");
        let mounted = found(&[("/src", "/home/me/repo")]);
        let bare = found(&[("/var/run/docker.sock", "/var/run/docker.sock")]);
        // Not in a container: as before, silently.
        assert_eq!(
            plan(None, true, false, None, dir),
            Plan::Quiet(FileAccess::Direct)
        );
        assert_eq!(
            plan(None, false, false, None, dir),
            Plan::Quiet(FileAccess::Copy)
        );
        // In one, through a mount that holds the directory: probed.
        assert!(matches!(
            plan(None, true, true, Some(&mounted), dir),
            Plan::Probe { map, forced: false, .. } if map.outside.as_deref() == Some(Path::new("/home/me/repo"))
        ));
        // In its own file system: copied, and said why.
        let Plan::Say(FileAccess::Copy, line) = plan(None, true, true, Some(&bare), dir) else {
            panic!()
        };
        assert!(
            line.starts_with("mlci runs in container 3f2a9c0d1e2b: job files are copied"),
            "{line}"
        );
        // Under a tmpfs inside the bind mount: copied (its path would name
        // the bind's directory, not the tmpfs).
        let tmpfs = found(&[("/src", "/home/me/repo"), ("/src/.cache", "")]);
        let Plan::Say(FileAccess::Copy, line) = plan(None, true, true, Some(&tmpfs), dir) else {
            panic!()
        };
        assert!(
            line.contains("is in its mount /src/.cache, which the engine cannot mount by path"),
            "{line}"
        );
        assert_eq!(
            FileAccess::Through(tmpfs.maps).engine_path(Path::new("/src/.cache/x")),
            None
        );
        // Not found: copied. Forced: as asked.
        assert!(matches!(
            plan(None, true, true, None, dir),
            Plan::Say(FileAccess::Copy, _)
        ));
        assert!(matches!(
            plan(Some(Forced::Copy), true, true, Some(&mounted), dir),
            Plan::Say(FileAccess::Copy, _)
        ));
        assert!(matches!(
            plan(Some(Forced::Mount), true, true, Some(&bare), dir),
            Plan::Refuse(_)
        ));
        assert!(matches!(
            plan(Some(Forced::Mount), true, true, None, dir),
            Plan::Say(FileAccess::Direct, _)
        ));
    }
}
