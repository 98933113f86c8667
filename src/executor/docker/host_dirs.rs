//! The job's files on the host, when the engine runs on this machine: the
//! workspace, `RUNNER_TEMP` and `/github/workflow` are bind mounts of
//! directories in the job's own host directory (as GitHub's runner mounts
//! its work folder), not copies inside the container. What a step writes is
//! then already on the host: step files are read and written without a
//! round trip through the engine's archive API (which costs a process in the
//! engine per call), and outputs go into the cache without a copy out.
//!
//! The workspace is a copy of the run's snapshot, so that jobs never see each
//! other's files and a job cannot change the repository. Files of at least
//! [`LARGE_FILE`] are not copied: they are hard links to the snapshot,
//! bind-mounted read-only over themselves, so a 10 GB dataset in the
//! repository costs nothing per job and cannot be changed by one. The
//! exception is a file where a step of the job declares an output (such as a
//! large output of an earlier run left in the working tree): the step
//! rewrites it, so the job gets a copy of its own (reflinked where the file
//! system can). A job that runs is one with a step to run, so that copy is
//! made only when the job may write the file.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::archive::Owner;

/// Files from this size on are mounted read-only from the snapshot instead
/// of copied into the job's workspace.
pub const LARGE_FILE: u64 = 16 * 1024 * 1024;

/// Where the event payload's directory is mounted.
pub const WORKFLOW_DIR: &str = "/github/workflow";

/// A container directory that is a host directory.
#[derive(Clone, Debug)]
pub struct HostMount {
    pub container: String,
    pub host: PathBuf,
    pub writable: bool,
}

/// The bind mounts of a job whose files live on the host, longest path first.
#[derive(Clone, Debug, Default)]
pub struct HostMounts {
    mounts: Vec<HostMount>,
}

impl HostMounts {
    pub fn new(mut mounts: Vec<HostMount>) -> HostMounts {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.container.len()));
        HostMounts { mounts }
    }

    /// The mount a container path is in, and the path's host form, resolved
    /// on the host under the mount's directory (through the last component
    /// too when `follow_last`). A path that `..` or a symlink a step made
    /// takes out of the mount is not on the host: the engine's archive API
    /// then reads or writes it inside the container, never the host's files.
    fn resolve(&self, path: &str, follow_last: bool) -> Option<(&HostMount, PathBuf)> {
        let path = path.trim_end_matches('/');
        self.mounts.iter().find_map(|m| {
            let rest = if path == m.container {
                ""
            } else {
                path.strip_prefix(&format!("{}/", m.container))?
            };
            let (walked, last) = match rest.rsplit_once('/') {
                _ if follow_last => (rest, None),
                Some((parent, name)) if name != ".." && name != "." => (parent, Some(name)),
                None if rest != ".." && rest != "." && !rest.is_empty() => ("", Some(rest)),
                _ => (rest, None),
            };
            let mut host = crate::confine::resolve(&m.host, walked, "the mount").ok()?;
            if let Some(last) = last {
                host.push(last);
            }
            Some((m, host))
        })
    }

    /// The host form of a container path, for reading.
    pub fn readable(&self, path: &str) -> Option<PathBuf> {
        self.resolve(path, true).map(|(_, host)| host)
    }

    /// The host form of a container path, for writing; None when the path is
    /// not on the host, an error when it is in a read-only mount. A symlink
    /// at the path itself is replaced by what is written, not followed.
    pub fn writable(&self, path: &str) -> Result<Option<PathBuf>, String> {
        match self.resolve(path, false) {
            None => Ok(None),
            Some((m, host)) if m.writable => Ok(Some(host)),
            Some(_) => Err(format!("`{path}` is on a read-only mount")),
        }
    }

    /// The host directory of a container directory when everything under it
    /// is in one writable mount: no read-only mount lies beneath it.
    pub fn whole_tree(&self, path: &str) -> Option<PathBuf> {
        let (mount, host) = self.resolve(path, true)?;
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let nested = self
            .mounts
            .iter()
            .any(|m| !m.writable && m.container.starts_with(&prefix) && m.host.is_dir());
        (mount.writable && !nested).then_some(host)
    }

    /// The container paths of the writable mounts.
    pub fn writable_paths(&self) -> Vec<&str> {
        self.mounts
            .iter()
            .filter(|m| m.writable)
            .map(|m| m.container.as_str())
            .collect()
    }

    /// Copies a container path (a file or a directory, through every mount
    /// beneath it) to `dest` on the host.
    pub fn copy_out(&self, path: &str, dest: &Path) -> io::Result<()> {
        let Some(host) = self.readable(path) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not on the host"));
        };
        let meta = std::fs::symlink_metadata(&host)?;
        if meta.is_dir() {
            std::fs::create_dir_all(dest)?;
            for child in std::fs::read_dir(&host)? {
                let name = child?.file_name();
                let name = name.to_string_lossy();
                self.copy_out(
                    &format!("{}/{name}", path.trim_end_matches('/')),
                    &dest.join(&*name),
                )?;
            }
            std::fs::set_permissions(dest, meta.permissions())?;
            Ok(())
        } else {
            copy_entry(&host, dest, &meta, None)
        }
    }
}

/// Copies a host file, symlink or directory tree to `dest`, keeping modes
/// and modification times (reflinked where the file system can), owned by
/// `owner` when given. Sockets, fifos and devices are skipped.
pub fn copy_tree(src: &Path, dest: &Path, owner: Option<Owner>) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.is_dir() {
        // A symlink where the directory goes is replaced, never written through.
        if std::fs::symlink_metadata(dest).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(dest)?;
        }
        std::fs::create_dir_all(dest)?;
        for child in std::fs::read_dir(src)? {
            let child = child?;
            copy_tree(&child.path(), &dest.join(child.file_name()), owner)?;
        }
        std::fs::set_permissions(dest, meta.permissions())?;
        chown(dest, owner);
        Ok(())
    } else {
        copy_entry(src, dest, &meta, owner)
    }
}

fn copy_entry(
    src: &Path,
    dest: &Path,
    meta: &std::fs::Metadata,
    owner: Option<Owner>,
) -> io::Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        let _ = std::fs::remove_file(dest);
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dest)?;
    } else if meta.is_file() {
        if std::fs::symlink_metadata(dest).is_ok() {
            std::fs::remove_file(dest)?;
        }
        reflink_copy::reflink_or_copy(src, dest)?;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        if let Ok(modified) = meta.modified() {
            let _ = std::fs::File::options()
                .write(true)
                .open(dest)
                .and_then(|f| f.set_modified(modified));
        }
    } else {
        return Ok(());
    }
    chown(dest, owner);
    Ok(())
}

/// The job's workspace: the snapshot copied into `dest`, except files of at
/// least [`LARGE_FILE`] that are not at or under one of `outputs` (paths
/// the job's steps write), which are hard-linked; returns those (relative
/// paths), to be mounted read-only.
pub fn copy_workspace(
    snapshot: &Path,
    dest: &Path,
    owner: Option<Owner>,
    outputs: &[String],
) -> io::Result<Vec<PathBuf>> {
    let mut large = Vec::new();
    let mut place = Placing {
        owner,
        outputs,
        large: &mut large,
    };
    copy_workspace_dir(snapshot, dest, Path::new(""), &mut place)?;
    Ok(large)
}

/// What [`copy_workspace`] carries down the tree.
struct Placing<'a> {
    owner: Option<Owner>,
    outputs: &'a [String],
    large: &'a mut Vec<PathBuf>,
}

impl Placing<'_> {
    /// Whether a step of the job writes `relative` (the path itself or a
    /// directory above it is a declared output).
    fn written(&self, relative: &Path) -> bool {
        self.outputs
            .iter()
            .any(|base| base.is_empty() || relative.starts_with(base))
    }
}

fn copy_workspace_dir(
    src: &Path,
    dest: &Path,
    relative: &Path,
    place: &mut Placing<'_>,
) -> io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for child in std::fs::read_dir(src)? {
        let child = child?;
        let meta = std::fs::symlink_metadata(child.path())?;
        let target = dest.join(child.file_name());
        let child_relative = relative.join(child.file_name());
        if meta.is_dir() {
            copy_workspace_dir(&child.path(), &target, &child_relative, place)?;
        } else if meta.is_file()
            && meta.len() >= LARGE_FILE
            && !place.written(&child_relative)
            && std::fs::hard_link(child.path(), &target).is_ok()
        {
            place.large.push(child_relative);
        } else {
            copy_entry(&child.path(), &target, &meta, place.owner)?;
        }
    }
    let meta = std::fs::metadata(src)?;
    std::fs::set_permissions(dest, meta.permissions())?;
    chown(dest, place.owner);
    Ok(())
}

/// Writes a file (parents created), with `mode`, owned by `owner` when given.
pub fn write_file(path: &Path, contents: &[u8], mode: u32, owner: Option<Owner>) -> io::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.exists()
    {
        std::fs::create_dir_all(parent)?;
        chown(parent, owner);
    }
    // A symlink at the path is replaced, never written through.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(path)?;
    }
    std::fs::write(path, contents)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    chown(path, owner);
    Ok(())
}

/// The regular files directly in a directory, by name; empty when it does not exist.
pub fn read_dir_files(dir: &Path) -> io::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let mut files = std::collections::BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.insert(
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path())?,
            );
        }
    }
    Ok(files)
}

/// The owner of what mlci puts on the host for a container user other
/// than the user mlci runs as; only root can give files away, and others
/// leave them as they are (the container's root can still write them).
fn chown(path: &Path, owner: Option<Owner>) {
    if let Some(owner) = owner {
        let _ = std::os::unix::fs::lchown(path, Some(owner.uid as u32), Some(owner.gid as u32));
    }
}

/// The user and group that own `dir` (the user mlci runs as, for its own directories).
pub fn owner_of(dir: &Path) -> Option<Owner> {
    let meta = std::fs::metadata(dir).ok()?;
    Some(Owner {
        uid: meta.uid() as u64,
        gid: meta.gid() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(root: &Path) -> HostMounts {
        HostMounts::new(vec![
            HostMount {
                container: "/__w/repo/repo".into(),
                host: root.join("workspace"),
                writable: true,
            },
            HostMount {
                container: "/__w/repo/repo/data".into(),
                host: root.join("upstream"),
                writable: false,
            },
        ])
    }

    #[test]
    fn paths_resolve_to_the_deepest_mount() {
        let root = tempfile::tempdir().unwrap();
        let m = mounts(root.path());
        assert_eq!(
            m.readable("/__w/repo/repo/model/w.bin").unwrap(),
            root.path().join("workspace/model/w.bin")
        );
        assert_eq!(
            m.readable("/__w/repo/repo/data/x.csv").unwrap(),
            root.path().join("upstream/x.csv")
        );
        assert!(m.writable("/__w/repo/repo/data/x.csv").is_err());
        assert_eq!(m.writable("/etc/passwd").unwrap(), None);
        assert_eq!(m.readable("/__w/repo/repository"), None);
    }

    #[test]
    fn links_and_parents_out_of_a_mount_are_not_on_the_host() {
        let root = tempfile::tempdir().unwrap();
        let ws = root.path().join("workspace");
        std::fs::create_dir_all(ws.join("data")).unwrap();
        std::os::unix::fs::symlink(root.path(), ws.join("up")).unwrap();
        std::os::unix::fs::symlink("data", ws.join("here")).unwrap();
        let m = mounts(root.path());
        // The engine reads these inside the container instead.
        assert_eq!(m.readable("/__w/repo/repo/up/secret"), None);
        assert_eq!(m.readable("/__w/repo/repo/../../secret"), None);
        assert_eq!(m.writable("/__w/repo/repo/up/secret").unwrap(), None);
        assert_eq!(
            m.readable("/__w/repo/repo/here/x.csv").unwrap(),
            ws.join("data/x.csv")
        );
        // A link at the written path itself is replaced, not followed.
        assert_eq!(
            m.writable("/__w/repo/repo/up").unwrap(),
            Some(ws.join("up"))
        );
        write_file(&ws.join("up"), b"new", 0o644, None).unwrap();
        assert!(std::fs::symlink_metadata(ws.join("up")).unwrap().is_file());
    }

    #[test]
    fn copies_out_go_through_nested_mounts() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("workspace/data")).unwrap();
        std::fs::write(root.path().join("workspace/a.txt"), "a").unwrap();
        std::fs::create_dir_all(root.path().join("upstream")).unwrap();
        std::fs::write(root.path().join("upstream/x.csv"), "1,2").unwrap();
        let m = mounts(root.path());
        // The upstream mount is a directory under the workspace: not one tree.
        assert_eq!(m.whole_tree("/__w/repo/repo"), None);
        assert!(m.whole_tree("/__w/repo/repo/model").is_some());
        let out = root.path().join("out");
        m.copy_out("/__w/repo/repo", &out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "a");
        assert_eq!(
            std::fs::read_to_string(out.join("data/x.csv")).unwrap(),
            "1,2"
        );
    }

    #[test]
    fn large_files_are_linked_not_copied() {
        let root = tempfile::tempdir().unwrap();
        let snapshot = root.path().join("snapshot");
        std::fs::create_dir_all(snapshot.join("sub")).unwrap();
        std::fs::write(snapshot.join("sub/small.txt"), "small").unwrap();
        let big = std::fs::File::create(snapshot.join("big.bin")).unwrap();
        big.set_len(LARGE_FILE).unwrap();
        let dest = root.path().join("workspace");
        let large = copy_workspace(&snapshot, &dest, None, &[]).unwrap();
        assert_eq!(large, vec![PathBuf::from("big.bin")]);
        let linked = std::fs::metadata(dest.join("big.bin")).unwrap();
        assert_eq!(
            linked.ino(),
            std::fs::metadata(snapshot.join("big.bin")).unwrap().ino()
        );
        let copied = std::fs::metadata(dest.join("sub/small.txt")).unwrap();
        assert_ne!(
            copied.ino(),
            std::fs::metadata(snapshot.join("sub/small.txt"))
                .unwrap()
                .ino()
        );
    }

    #[test]
    fn large_files_where_the_job_writes_outputs_are_copies_of_its_own() {
        let root = tempfile::tempdir().unwrap();
        let snapshot = root.path().join("snapshot");
        std::fs::create_dir_all(snapshot.join("model")).unwrap();
        for name in ["model/weights.bin", "data.bin", "model.bin"] {
            let big = std::fs::File::create(snapshot.join(name)).unwrap();
            big.set_len(LARGE_FILE).unwrap();
        }
        let dest = root.path().join("workspace");
        let outputs = ["model".to_string(), "model.bin".to_string()];
        let large = copy_workspace(&snapshot, &dest, None, &outputs).unwrap();
        assert_eq!(large, vec![PathBuf::from("data.bin")]);
        for name in ["model/weights.bin", "model.bin"] {
            let own = std::fs::metadata(dest.join(name)).unwrap();
            assert_ne!(
                own.ino(),
                std::fs::metadata(snapshot.join(name)).unwrap().ino()
            );
            assert_eq!(own.len(), LARGE_FILE);
        }
    }
}
