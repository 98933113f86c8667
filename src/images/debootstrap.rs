//! The base image: `debootstrap --variant=minbase` of a Debian suite, the
//! tree prepared (overlay files, sources.list, caches removed, the host's CA
//! certificates), packed with `tar` and imported through the engine under a
//! temporary tag that is moved onto the real one only when complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bollard::Docker;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::base_inputs::{DEFAULT_MIRROR, HOST_CA_DIR, host_ca_certs, mirror};
use super::definition::{HASH_LABEL, ImageDef, NAME_LABEL};
use super::error::{ImageError, docker_err, io_err};
use super::progress::{Progress, Task};

/// Tags of imports in progress: `<repo>:incomplete-<pid>-<nanos>`.
const INCOMPLETE_PREFIX: &str = "incomplete-";

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `PATH` with the sbin directories added where missing.
fn sbin_path() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for d in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    std::env::join_paths(dirs).unwrap_or(path)
}

/// Reads a child's output lines into a channel.
fn pump_lines(
    reader: impl AsyncRead + Unpin + Send + 'static,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
}

fn split_repo_tag(tag: &str) -> (&str, &str) {
    match tag.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (tag, "latest"),
    }
}

pub(super) async fn build_debootstrap(
    docker: &Docker,
    d: &ImageDef,
    suite: &str,
    hash: &str,
    progress: &Progress,
) -> Result<(), ImageError> {
    let debootstrap = find_program("debootstrap").ok_or(ImageError::DebootstrapMissing)?;
    if effective_uid() != Some(0) {
        return Err(ImageError::NotRoot);
    }
    let what = format!("bootstrapping {}", d.tag);
    let packages = d.packages();
    let mirror = mirror();
    let (repo, final_tag) = split_repo_tag(&d.tag);
    remove_stale_incomplete(docker, repo).await;

    let tmp = tempfile::Builder::new()
        .prefix("mlci-rootfs-")
        .tempdir()
        .map_err(io_err("creating a temporary directory for the rootfs"))?;
    let rootfs = tmp.path().join("rootfs");
    let result = async {
        let mut task = progress.task(
            &d.name,
            &format!("{what}: debootstrap --variant=minbase {suite} from {mirror}"),
        );
        let mut cmd = Command::new(&debootstrap);
        // debootstrap runs chroot, arch-test and friends from the sbin directories,
        // which a non-login shell's PATH may lack.
        cmd.env("PATH", sbin_path());
        cmd.arg("--variant=minbase");
        if !packages.is_empty() {
            cmd.arg(format!("--include={}", packages.join(",")));
        }
        cmd.arg(suite)
            .arg(&rootfs)
            .arg(&mirror)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ImageError::DebootstrapMissing
            } else {
                io_err("starting debootstrap")(e)
            }
        })?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        pump_lines(child.stdout.take().expect("piped"), tx.clone());
        pump_lines(child.stderr.take().expect("piped"), tx);
        while let Some(l) = rx.recv().await {
            task.line(&l);
        }
        let status = child
            .wait()
            .await
            .map_err(io_err("waiting for debootstrap"))?;
        if !status.success() {
            let mut tail = task.tail();
            let log = rootfs.join("debootstrap/debootstrap.log");
            if let Ok(text) = std::fs::read_to_string(&log) {
                let lines: Vec<&str> = text.lines().collect();
                tail.push(format!("--- {}:", log.display()));
                tail.extend(
                    lines[lines.len().saturating_sub(10)..]
                        .iter()
                        .map(|s| s.to_string()),
                );
            }
            task.fail();
            return Err(ImageError::Failed {
                what: what.clone(),
                message: format!("debootstrap exited with {status}"),
                tail,
            });
        }
        task.line("laying rootfs/ over the tree, writing sources.list, removing caches");
        prepare_rootfs(d, &rootfs, suite, &mirror)?;
        let cas = host_ca_certs();
        if !cas.is_empty() {
            let dir = rootfs.join(HOST_CA_DIR.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
            for (name, pem) in &cas {
                task.line(&format!("adding the host's CA certificate {name}"));
                std::fs::write(dir.join(name), pem)
                    .map_err(io_err(format!("writing {}", dir.join(name).display())))?;
            }
            let out = Command::new("chroot")
                .env("PATH", sbin_path())
                .arg(&rootfs)
                .arg("update-ca-certificates")
                .stdin(Stdio::null())
                .output()
                .await
                .map_err(io_err("running update-ca-certificates in the rootfs"))?;
            task.output(&String::from_utf8_lossy(&out.stdout));
            task.output(&String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                let tail = task.tail();
                task.fail();
                return Err(ImageError::Failed {
                    what: what.clone(),
                    message: format!("update-ca-certificates exited with {}", out.status),
                    tail,
                });
            }
        }
        unmount_under(&rootfs).await;

        // Import under a temporary tag, then move the real tag onto it: a build
        // killed during the import never leaves a half-imported image tagged.
        let tmp_tag = format!(
            "{INCOMPLETE_PREFIX}{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let tmp_ref = format!("{repo}:{tmp_tag}");
        task.line(&format!("importing the rootfs as {tmp_ref}"));
        let imported = import_rootfs(docker, d, &rootfs, repo, &tmp_tag, hash, &mut task).await;
        if let Err(e) = imported {
            let _ = docker
                .remove_image(
                    &tmp_ref,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await;
            task.fail();
            return Err(e);
        }
        let tagged = docker
            .tag_image(
                &tmp_ref,
                Some(
                    TagImageOptionsBuilder::default()
                        .repo(repo)
                        .tag(final_tag)
                        .build(),
                ),
            )
            .await
            .map_err(docker_err(format!("tagging {tmp_ref} as {}", d.tag)));
        // Untag the temporary name (the image stays under its real tag).
        let _ = docker
            .remove_image(
                &tmp_ref,
                Some(RemoveImageOptionsBuilder::default().noprune(true).build()),
                None,
            )
            .await;
        if let Err(e) = tagged {
            task.fail();
            return Err(e);
        }
        task.finish(&format!("{} imported", d.tag));
        Ok(())
    }
    .await;
    unmount_under(&rootfs).await;
    drop(tmp);
    result
}

/// Lays `rootfs/` over the tree, writes `sources.list` and removes what a
/// container does not need (downloaded packages, package lists, logs).
fn prepare_rootfs(
    d: &ImageDef,
    rootfs: &Path,
    suite: &str,
    mirror: &str,
) -> Result<(), ImageError> {
    for f in &d.files {
        let Some(rel) = f.path.strip_prefix("rootfs/") else {
            continue;
        };
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(ImageError::Definition(format!("bad path {}", f.path)));
        }
        let dest = rootfs.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io_err(format!("creating {}", parent.display())))?;
        }
        std::fs::write(&dest, &f.data).map_err(io_err(format!("writing {}", dest.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(f.mode))
                .map_err(io_err(format!("setting the mode of {}", dest.display())))?;
        }
    }
    let mut sources = format!("deb {mirror} {suite} main\ndeb {mirror} {suite}-updates main\n");
    if mirror == DEFAULT_MIRROR {
        sources.push_str(&format!(
            "deb http://deb.debian.org/debian-security {suite}-security main\n"
        ));
    }
    let list = rootfs.join("etc/apt/sources.list");
    std::fs::write(&list, sources).map_err(io_err(format!("writing {}", list.display())))?;
    for dir in [
        "var/cache/apt/archives",
        "var/cache/apt/archives/partial",
        "var/lib/apt/lists",
        "var/lib/apt/lists/partial",
        "var/cache/apt",
        "var/log/apt",
    ] {
        let Ok(entries) = std::fs::read_dir(rootfs.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file()) && e.file_name() != "lock" {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    slimify(rootfs);
    for f in [
        "var/log/bootstrap.log",
        "var/log/dpkg.log",
        "var/log/alternatives.log",
        "etc/hostname",
        "etc/resolv.conf",
    ] {
        let _ = std::fs::remove_file(rootfs.join(f));
    }
    Ok(())
}

/// Removes what `rootfs/etc/dpkg/dpkg.cfg.d/90mlci-excludes` keeps out of later
/// packages from the packages debootstrap installed before it was in place
/// (documentation but copyright files, manual pages, translations).
fn slimify(rootfs: &Path) {
    fn remove(p: &Path) {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(p);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(p);
            }
            Err(_) => {}
        }
    }
    fn clear(dir: &Path, keep: &dyn Fn(&std::fs::DirEntry) -> bool) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if !keep(&e) {
                remove(&e.path());
            }
        }
    }
    let share = rootfs.join("usr/share");
    for d in ["man", "info", "lintian", "linda"] {
        clear(&share.join(d), &|_| false);
    }
    clear(&share.join("locale"), &|e| e.file_name() == "locale.alias");
    clear(&share.join("doc"), &|e| {
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            clear(&e.path(), &|f| f.file_name() == "copyright");
        }
        is_dir
    });
}

/// Unmounts whatever an interrupted debootstrap left mounted under `dir`
/// (`/proc`, `/sys` in the chroot), so that removing the tree stays inside it.
async fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| *p == prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(p)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
}

async fn import_rootfs(
    docker: &Docker,
    d: &ImageDef,
    rootfs: &Path,
    repo: &str,
    tmp_tag: &str,
    hash: &str,
    task: &mut Task,
) -> Result<(), ImageError> {
    let what = format!("importing {}", d.tag);
    let mut changes: Vec<String> = d
        .file("image-config")
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    changes.push(format!("LABEL {HASH_LABEL}={hash}"));
    changes.push(format!("LABEL {NAME_LABEL}={}", d.name));

    let mut tar = Command::new("tar")
        .arg("--numeric-owner")
        .arg("--one-file-system")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg("-")
        .arg(".")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io_err("starting tar to pack the rootfs"))?;
    let stdout = tar.stdout.take().expect("piped");
    let (tx, mut tar_err) = tokio::sync::mpsc::unbounded_channel();
    pump_lines(tar.stderr.take().expect("piped"), tx);
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(stdout));
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tmp_tag)
        .message(&format!("mlci images build {}", d.name))
        .changes(changes)
        .build();
    let mut stream = docker.create_image(Some(options), Some(body), None);
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.status {
                    task.output(&s);
                }
            }
            Err(e) => {
                failure = Some(match e {
                    bollard::errors::Error::DockerStreamError { error } => error,
                    e => format!("Docker engine error: {e}"),
                });
                break;
            }
        }
    }
    let status = tar.wait().await.map_err(io_err("waiting for tar"))?;
    while let Ok(l) = tar_err.try_recv() {
        task.line(&format!("tar: {l}"));
    }
    if let Some(message) = failure {
        return Err(ImageError::Failed {
            what,
            message,
            tail: task.tail(),
        });
    }
    if !status.success() {
        return Err(ImageError::Failed {
            what,
            message: format!("tar exited with {status}"),
            tail: task.tail(),
        });
    }
    Ok(())
}

/// Removes `<repo>:incomplete-<pid>-…` tags left by imports whose process is gone.
async fn remove_stale_incomplete(docker: &Docker, repo: &str) {
    let filters = HashMap::from([("reference", vec![format!("{repo}:{INCOMPLETE_PREFIX}*")])]);
    let Ok(images) = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
    else {
        return;
    };
    for img in images {
        for t in img.repo_tags {
            let Some(rest) = t
                .strip_prefix(repo)
                .and_then(|r| r.strip_prefix(':'))
                .and_then(|r| r.strip_prefix(INCOMPLETE_PREFIX))
            else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or("");
            let alive = !pid.is_empty() && Path::new("/proc").join(pid).exists();
            if !alive {
                let _ = docker
                    .remove_image(
                        &t,
                        None::<bollard::query_parameters::RemoveImageOptions>,
                        None,
                    )
                    .await;
            }
        }
    }
}
