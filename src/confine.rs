//! Paths resolved under a root, against the real file system.
//!
//! Every host path that mlci reads or writes on behalf of a workflow, a
//! registry record or a cache entry is relative to a root it trusts (the
//! workspace, the repository, a model's directory, a pull's staging
//! directory). A lexical check of `..` is not enough: `data -> /etc`, or a
//! chain such as `a -> .` then `b -> a/../..`, leaves the root with no `..`
//! in the path itself. So paths are resolved here one component at a time,
//! each symlink met is followed by reading it (at most [`MAX_LINK_HOPS`] of
//! them, as Linux's MAXSYMLINKS), and the path is refused as soon as an
//! absolute link or a `..` would take it above the root. What comes back
//! has no symlink left in it below the root.
//!
//! The walk asks a [`Lookup`] what each prefix is, so the same rules check a
//! cache entry's own symlinks before it is restored ([`Lookup`] over its
//! tree) and files on disk ([`RealFs`]). Files are then opened with
//! `O_NOFOLLOW`, so that a last component swapped for a link after the walk
//! is refused rather than followed.
//!
//! std alone: `cap-std` would do the opening, but not the walk over a cache
//! entry's tree that has to give the same answers, nor name the link at fault.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed in one resolution, at most (Linux's MAXSYMLINKS).
pub const MAX_LINK_HOPS: usize = 40;

/// What a path under the root is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Nothing there (or a file where a directory should be).
    Missing,
    Dir,
    /// A file, or anything else that is not a directory or a symlink.
    File,
    /// A symlink, with its target as written.
    Link(PathBuf),
}

/// Answers what a relative path (normal components only) is under a root.
pub trait Lookup {
    fn lookup(&self, relative: &Path) -> io::Result<Node>;
}

/// The real file system under `root`.
pub struct RealFs<'a> {
    pub root: &'a Path,
}

impl Lookup for RealFs<'_> {
    fn lookup(&self, relative: &Path) -> io::Result<Node> {
        let path = self.root.join(relative);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => Ok(Node::Link(std::fs::read_link(&path)?)),
            Ok(meta) if meta.is_dir() => Ok(Node::Dir),
            Ok(_) => Ok(Node::File),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(Node::Missing)
            }
            Err(e) => Err(e),
        }
    }
}

/// Why a path was refused: each names the path as the user wrote it, and
/// the root by what it is to them ("the workspace", "the repository").
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("`{path}` is an absolute path: it must be relative to {root}")]
    Absolute { path: String, root: &'static str },
    #[error("`{path}` leaves {root} through `..`")]
    Parent { path: String, root: &'static str },
    #[error("`{path}` leads outside {root}: the symlink `{link}` points to `{target}`")]
    Link {
        path: String,
        root: &'static str,
        link: String,
        target: String,
    },
    #[error("`{path}` goes through more than {MAX_LINK_HOPS} symlinks")]
    TooManyLinks { path: String },
    #[error("cannot read `{path}`: {source}")]
    Io { path: String, source: io::Error },
}

impl PathError {
    /// Whether the path was refused for leaving the root (not a read error).
    pub fn is_escape(&self) -> bool {
        !matches!(self, PathError::Io { .. })
    }
}

/// Resolves `path` (relative) under the root that `lookup` sees: a relative
/// path of normal components, with every symlink followed. `root` names the
/// root in errors.
pub fn resolve_with(
    lookup: &impl Lookup,
    path: &Path,
    root: &'static str,
) -> Result<PathBuf, PathError> {
    let shown = || path.to_string_lossy().into_owned();
    // The links followed, and the components still to walk (the next one
    // last), each with the link whose target it came from: an escape names
    // the link at fault, not the last one followed.
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut pending: Vec<(OsString, Option<usize>)> = Vec::new();
    let escape = |links: &[(PathBuf, PathBuf)], from: Option<usize>| match from {
        Some(index) => PathError::Link {
            path: shown(),
            root,
            link: links[index].0.to_string_lossy().into_owned(),
            target: links[index].1.to_string_lossy().into_owned(),
        },
        None => PathError::Parent {
            path: shown(),
            root,
        },
    };
    if path.has_root() {
        return Err(PathError::Absolute {
            path: shown(),
            root,
        });
    }
    push_components(&mut pending, path, None);
    let mut resolved = PathBuf::new();
    // Below a missing component nothing can be a link: the rest is lexical.
    let mut missing = false;
    while let Some((part, from)) = pending.pop() {
        if part == ".." {
            if !resolved.pop() {
                return Err(escape(&links, from));
            }
            continue;
        }
        resolved.push(&part);
        if missing {
            continue;
        }
        let node = lookup.lookup(&resolved).map_err(|source| PathError::Io {
            path: shown(),
            source,
        })?;
        match node {
            Node::Missing => missing = true,
            Node::Dir | Node::File => {}
            Node::Link(target) => {
                if links.len() == MAX_LINK_HOPS {
                    return Err(PathError::TooManyLinks { path: shown() });
                }
                let link = resolved.clone();
                resolved.pop();
                links.push((link, target.clone()));
                if target.has_root() {
                    return Err(escape(&links, Some(links.len() - 1)));
                }
                push_components(&mut pending, &target, Some(links.len() - 1));
            }
        }
    }
    Ok(resolved)
}

/// Queues the components of a relative path, the first to walk last.
fn push_components(pending: &mut Vec<(OsString, Option<usize>)>, path: &Path, from: Option<usize>) {
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => pending.push((name.to_os_string(), from)),
            Component::ParentDir => pending.push(("..".into(), from)),
            // A root or prefix is refused before; `.` changes nothing.
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
}

/// Refuses `path` when its text alone leaves the root (absolute, or more
/// `..` than names), before any file is there to look at.
pub fn check_relative(path: &str, root_name: &'static str) -> Result<(), PathError> {
    struct Nothing;
    impl Lookup for Nothing {
        fn lookup(&self, _: &Path) -> io::Result<Node> {
            Ok(Node::Missing)
        }
    }
    resolve_with(&Nothing, Path::new(path), root_name).map(|_| ())
}

/// Resolves `path` (relative) under `root` on disk: the real path, inside `root`.
pub fn resolve(root: &Path, path: &str, root_name: &'static str) -> Result<PathBuf, PathError> {
    let relative = resolve_with(&RealFs { root }, Path::new(path), root_name)?;
    if relative.as_os_str().is_empty() {
        // `join("")` would add a trailing `/`.
        return Ok(root.to_path_buf());
    }
    Ok(root.join(relative))
}

/// Opens the file at `path` under `root` for reading, refusing any path
/// that leads outside `root`.
pub fn open(root: &Path, path: &str, root_name: &'static str) -> Result<std::fs::File, PathError> {
    let real = resolve(root, path, root_name)?;
    std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|source| PathError::Io {
            path: path.to_string(),
            source,
        })
}

/// Reads the file at `path` under `root`; None when there is no file there.
pub fn read(
    root: &Path,
    path: &str,
    root_name: &'static str,
) -> Result<Option<Vec<u8>>, PathError> {
    use std::io::Read;
    let mut file = match open(root, path, root_name) {
        Ok(file) => file,
        Err(PathError::Io { source, .. })
            if matches!(
                source.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::NotADirectory
                    | io::ErrorKind::IsADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    match file.read_to_end(&mut bytes) {
        Ok(_) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::IsADirectory => Ok(None),
        Err(source) => Err(PathError::Io {
            path: path.to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn refused(root: &Path, path: &str) -> String {
        resolve(root, path, "the workspace")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn links_inside_the_root_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("data/v2")).unwrap();
        symlink("v2", root.join("data/current")).unwrap();
        symlink("data/current/../v2", root.join("latest")).unwrap();
        assert_eq!(
            resolve(root, "latest/x.csv", "the workspace").unwrap(),
            root.join("data/v2/x.csv")
        );
        assert_eq!(
            resolve(root, "./data/../data/current", "the workspace").unwrap(),
            root.join("data/v2")
        );
    }

    #[test]
    fn escapes_are_refused_and_the_link_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        // Each link alone looks inside; together they reach the root's parent.
        symlink(".", root.join("d/a")).unwrap();
        symlink("a/../..", root.join("d/b")).unwrap();
        symlink("/etc", root.join("etc")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            refused(root, "d/b/x"),
            "`d/b/x` leads outside the workspace: the symlink `d/b` points to `a/../..`"
        );
        assert_eq!(
            refused(root, "etc/passwd"),
            "`etc/passwd` leads outside the workspace: the symlink `etc` points to `/etc`"
        );
        assert!(refused(root, "../x").contains("through `..`"));
        assert!(refused(root, "/etc/passwd").contains("absolute"));
        assert!(refused(root, "loop").contains("more than 40 symlinks"));
    }

    #[test]
    fn a_missing_path_resolves_lexically() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(
            resolve(root, "new/dir/../file", "the workspace").unwrap(),
            root.join("new/file")
        );
        assert!(resolve(root, "new/../../x", "the workspace").is_err());
        assert_eq!(read(root, "nothing.txt", "the workspace").unwrap(), None);
    }
}
