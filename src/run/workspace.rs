//! The snapshot of the repository that every job starts from: the committed
//! and working-tree state (tracked files and untracked files that git does
//! not ignore), plus `.git`. Taken once per run, so that edits made while a
//! run goes on do not reach half of its jobs.

use crate::owner::Owner;
use std::path::Path;
use std::process::Command;

/// Snapshots are `mlci-workspace.<pid>.<start time>.<random>` in the
/// system's temporary directory: the owner's pid and start time tell the
/// snapshot of a run killed with SIGKILL, which the next run removes.
const SNAPSHOT_PREFIX: &str = "mlci-workspace.";

/// A fresh directory for this run's snapshot, named with its owner.
pub fn snapshot_dir() -> std::io::Result<tempfile::TempDir> {
    let me = Owner::current();
    tempfile::Builder::new()
        .prefix(&format!("{SNAPSHOT_PREFIX}{}.{}.", me.pid, me.start))
        .tempdir()
}

/// Removes the snapshots of runs whose process is gone.
pub fn remove_stale_snapshots() {
    let Ok(items) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let host = Owner::current().host;
    for item in items.flatten() {
        let name = item.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(SNAPSHOT_PREFIX)) else {
            continue;
        };
        let mut parts = rest.split('.');
        let (Some(Ok(pid)), Some(Ok(start))) = (
            parts.next().map(str::parse::<u32>),
            parts.next().map(str::parse::<u64>),
        ) else {
            continue;
        };
        let owner = Owner {
            host: host.clone(),
            pid,
            start,
        };
        if owner.is_gone() {
            let _ = std::fs::remove_dir_all(item.path());
        }
    }
}

/// The files git sees in `repo` (tracked, and untracked but not ignored),
/// as the bytes of their relative paths; None outside a git repository.
pub fn visible_files(repo: &Path) -> Option<Vec<Vec<u8>>> {
    let output = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(repo)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(
        output
            .stdout
            .split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// Fills `dest` with the snapshot of `repo`. Files are hard-linked where the
/// file system allows (the backend copies them into containers, so nothing
/// ever writes to them) and copied otherwise. Returns the number of files.
pub fn snapshot(repo: &Path, dest: &Path) -> std::io::Result<usize> {
    let mut count = 0;
    match visible_files(repo) {
        Some(names) => {
            for name in &names {
                let relative = Path::new(std::str::from_utf8(name).map_err(std::io::Error::other)?);
                // mlci's own run store is not part of the workspace.
                if relative.starts_with(".mlci") {
                    continue;
                }
                let source = repo.join(relative);
                // A tracked file deleted in the working tree is not in the snapshot.
                if source.symlink_metadata().is_ok() {
                    place(&source, &dest.join(relative))?;
                    count += 1;
                }
            }
            if repo.join(".git").is_dir() {
                count += copy_tree(&repo.join(".git"), &dest.join(".git"))?;
            }
        }
        // Not a git repository: everything.
        None => count += copy_tree(repo, dest)?,
    }
    Ok(count)
}

fn copy_tree(source: &Path, dest: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dest)?;
    let mut count = 0;
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = dest.join(entry.file_name());
        if kind.is_dir() {
            count += copy_tree(&entry.path(), &target)?;
        } else {
            place(&entry.path(), &target)?;
            count += 1;
        }
    }
    Ok(count)
}

fn place(source: &Path, target: &Path) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let metadata = source.symlink_metadata()?;
    if metadata.file_type().is_symlink() {
        let link = std::fs::read_link(source)?;
        return std::os::unix::fs::symlink(link, target);
    }
    if metadata.is_dir() {
        // A submodule or nested repository listed as a directory.
        return copy_tree(source, target).map(|_| ());
    }
    std::fs::hard_link(source, target).or_else(|_| std::fs::copy(source, target).map(|_| ()))
}
