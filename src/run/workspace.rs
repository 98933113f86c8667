//! The snapshot of the repository that every job starts from: the committed
//! and working-tree state (tracked files and untracked files that git does
//! not ignore), plus `.git`. Taken once per run, so that edits made while a
//! run goes on do not reach half of its jobs.

use std::path::Path;
use std::process::Command;

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
