//! Trees: what a set of paths holds, by content.
//!
//! A [`Tree`] is the sorted list of the files and symlinks that `inputs:` or `outputs:`
//! patterns name under a root, each with its mode and BLAKE3. Trees are compared, hashed
//! into cache keys and overlaid: the outputs of earlier steps laid over the repository's
//! snapshot give the inputs a later step will see, without materialising anything.
//!
//! Patterns are relative to the root: a file (`params.yaml`), a directory taken
//! recursively (`data/` or `data`), or a glob where `*` stops at `/` and `**` crosses
//! directories (`data/*.csv`, `src/**/*.py`). A glob that names a directory takes it
//! recursively. `.git` directories met while recursing are left out, and so are empty
//! directories (as git does). Absolute patterns and `..` are refused.

use super::index::FileIndex;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a tree entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Symlink,
}

/// One file or symlink of a tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// Relative path with `/` separators, no `.` or `..` components.
    pub path: String,
    pub kind: EntryKind,
    /// The owner's execute bit (files only).
    #[serde(default)]
    pub executable: bool,
    /// BLAKE3, hex: of the content for a file, of the target for a symlink.
    pub hash: String,
    /// Bytes: of the content for a file, of the target for a symlink.
    pub size: u64,
    /// The target of a symlink, as written in the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A sorted set of entries, unique by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tree {
    entries: Vec<TreeEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(
        "the pattern `{0}` leaves the working directory (absolute paths and `..` are not allowed)"
    )]
    Escaping(String),
    #[error("the pattern `{pattern}` is not a valid glob: {message}")]
    BadGlob { pattern: String, message: String },
    #[error(
        "the symlink `{link}` points outside the model (to `{target}`): a model is pulled on its own, so its links must stay inside it"
    )]
    LinkOut { link: String, target: String },
    #[error("cannot read `{pattern}`: {reason}")]
    LeadsOut { pattern: String, reason: String },
    #[error("the path {0} is not valid UTF-8")]
    NotUtf8(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TreeError + '_ {
    move |source| TreeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Tree {
    /// A tree of these entries (sorted; a later entry with the same path wins).
    pub fn from_entries(entries: impl IntoIterator<Item = TreeEntry>) -> Tree {
        let mut map = std::collections::BTreeMap::new();
        for entry in entries {
            map.insert(entry.path.clone(), entry);
        }
        Tree {
            entries: map.into_values().collect(),
        }
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at this path.
    pub fn get(&self, path: &str) -> Option<&TreeEntry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The regular files (not directories or symlinks): what has an object in the store.
    pub fn files(&self) -> impl Iterator<Item = &TreeEntry> {
        self.entries.iter().filter(|e| e.kind == EntryKind::File)
    }

    /// Bytes of all files.
    pub fn total_size(&self) -> u64 {
        self.files().map(|e| e.size).sum()
    }

    /// The tree's own hash (BLAKE3 hex of its canonical form): equal trees, equal hashes.
    pub fn hash(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"mlci-tree-v1\0");
        for entry in &self.entries {
            hasher.update(entry.path.as_bytes());
            hasher.update(b"\0");
            hasher.update(match (entry.kind, entry.executable) {
                (EntryKind::File, false) => b"f",
                (EntryKind::File, true) => b"x",
                (EntryKind::Symlink, _) => b"l",
            });
            hasher.update(entry.hash.as_bytes());
            hasher.update(&entry.size.to_le_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }

    /// Scans the paths that `patterns` name under `root`. Hashes come from `index` (a
    /// stat for a known file). A literal path that does not exist contributes nothing:
    /// see [`Tree::unmatched`] to find such patterns.
    pub fn from_dir(
        root: &Path,
        patterns: &[String],
        index: &FileIndex,
    ) -> Result<Tree, TreeError> {
        let mut entries = Vec::new();
        for raw in patterns {
            let pattern = Pattern::parse(raw)?;
            // The pattern's own last component is recorded as a link, never
            // followed; the directories above it must stay under the root.
            if let Some((parent, _)) = pattern.base.rsplit_once('/') {
                match crate::confine::resolve(root, parent, "the workspace") {
                    Err(error) if error.is_escape() => {
                        return Err(TreeError::LeadsOut {
                            pattern: raw.clone(),
                            reason: error.to_string(),
                        });
                    }
                    _ => {}
                }
            }
            let start = root.join(&pattern.base);
            let metadata = match std::fs::symlink_metadata(&start) {
                Ok(metadata) => metadata,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
                Err(e) => return Err(io_error(&start)(e)),
            };
            scan(
                root,
                &pattern.base,
                &metadata,
                &pattern,
                index,
                &mut entries,
            )?;
        }
        Ok(Tree::from_entries(entries))
    }

    /// The patterns that match no entry of this tree (a missing input or output).
    pub fn unmatched(&self, patterns: &[String]) -> Result<Vec<String>, TreeError> {
        let mut missing = Vec::new();
        for raw in patterns {
            let pattern = Pattern::parse(raw)?;
            if !self.entries.iter().any(|e| pattern.matches(&e.path)) {
                missing.push(raw.clone());
            }
        }
        Ok(missing)
    }

    /// The entries that `patterns` name, with the meaning [`Tree::from_dir`] gives them.
    pub fn select(&self, patterns: &[String]) -> Result<Tree, TreeError> {
        let patterns = patterns
            .iter()
            .map(|p| Pattern::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tree {
            entries: self
                .entries
                .iter()
                .filter(|e| patterns.iter().any(|p| p.matches(&e.path)))
                .cloned()
                .collect(),
        })
    }

    /// This tree with `upper` laid over it, as restoring `upper` into a directory that
    /// holds this tree leaves it: an entry of `upper` replaces the one at its path, a
    /// file of `upper` replaces a directory of this tree at its path, and a path of
    /// `upper` under `a/` replaces a file or symlink of this tree at `a`.
    pub fn overlay(&self, upper: &Tree) -> Tree {
        if upper.is_empty() {
            return self.clone();
        }
        let upper_paths: std::collections::HashSet<&str> =
            upper.entries.iter().map(|e| e.path.as_str()).collect();
        let mut upper_dirs = std::collections::HashSet::new();
        for entry in &upper.entries {
            let mut path = entry.path.as_str();
            while let Some((parent, _)) = path.rsplit_once('/') {
                if !upper_dirs.insert(parent) {
                    break;
                }
                path = parent;
            }
        }
        let kept = self.entries.iter().filter(|entry| {
            let path = entry.path.as_str();
            if upper_paths.contains(path) || upper_dirs.contains(path) {
                return false;
            }
            // Under a path that upper makes a file or symlink?
            let mut rest = path;
            while let Some((parent, _)) = rest.rsplit_once('/') {
                if upper_paths.contains(parent) {
                    return false;
                }
                rest = parent;
            }
            true
        });
        Tree::from_entries(kept.cloned().chain(upper.entries.iter().cloned()))
    }
}

/// A tree seen as a file system, so that its own symlinks resolve by the
/// same rules as files on disk (a cache entry is checked before it is
/// restored). A path with entries under it is a directory.
impl crate::confine::Lookup for Tree {
    fn lookup(&self, relative: &Path) -> std::io::Result<crate::confine::Node> {
        use crate::confine::Node;
        let Some(path) = relative.to_str() else {
            return Ok(Node::Missing);
        };
        if let Some(entry) = self.get(path) {
            return Ok(match (&entry.kind, &entry.target) {
                (EntryKind::Symlink, Some(target)) => Node::Link(PathBuf::from(target)),
                _ => Node::File,
            });
        }
        let dir = format!("{path}/");
        let first_under = self
            .entries
            .partition_point(|e| e.path.as_str() < dir.as_str());
        Ok(match self.entries.get(first_under) {
            Some(entry) if entry.path.starts_with(&dir) => Node::Dir,
            _ => Node::Missing,
        })
    }
}

impl Tree {
    /// Refuses a tree holding a symlink under `base` (a model's path) that
    /// leads outside `base`: its files are pulled on their own, so a link
    /// out of them would point at whatever lies beside the destination.
    pub fn check_links_within(&self, base: &str) -> Result<(), TreeError> {
        let base = base.trim_matches('/');
        let prefix = if base.is_empty() {
            String::new()
        } else {
            format!("{base}/")
        };
        let within = Subtree {
            tree: self,
            base: Path::new(base),
        };
        for entry in &self.entries {
            let Some(inside) = entry.path.strip_prefix(&prefix) else {
                continue;
            };
            if entry.kind != EntryKind::Symlink {
                continue;
            }
            match crate::confine::resolve_with(&within, Path::new(inside), "the model") {
                // The link at fault may be another one that this one goes through.
                Err(crate::confine::PathError::Link { link, target, .. }) => {
                    return Err(TreeError::LinkOut {
                        link: format!("{prefix}{link}"),
                        target,
                    });
                }
                Err(error) if error.is_escape() => {
                    return Err(TreeError::LinkOut {
                        link: entry.path.clone(),
                        target: entry.target.clone().unwrap_or_default(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The part of a tree under a directory, as a root of its own.
struct Subtree<'a> {
    tree: &'a Tree,
    base: &'a Path,
}

impl crate::confine::Lookup for Subtree<'_> {
    fn lookup(&self, relative: &Path) -> std::io::Result<crate::confine::Node> {
        self.tree.lookup(&self.base.join(relative))
    }
}

/// A parsed pattern: the literal directory to start from and an optional glob.
/// The literal directory or file a pattern starts from (`data` for
/// `data/*.csv`, `model/weights.pt` for itself): what must be copied out of a
/// container for [`Tree::from_dir`] to see everything the pattern can match.
pub fn pattern_base(raw: &str) -> Result<String, TreeError> {
    Pattern::parse(raw).map(|p| p.base)
}

struct Pattern {
    base: String,
    glob: Option<globset::GlobMatcher>,
}

impl Pattern {
    fn parse(raw: &str) -> Result<Pattern, TreeError> {
        let trimmed = raw.trim();
        if trimmed.starts_with('/') || trimmed.starts_with('~') {
            return Err(TreeError::Escaping(raw.to_string()));
        }
        let mut parts = Vec::new();
        for part in trimmed.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(TreeError::Escaping(raw.to_string())),
                other => parts.push(other),
            }
        }
        let is_glob = |p: &&str| p.contains(['*', '?', '[', '{']);
        let literal = parts.iter().take_while(|p| !is_glob(p)).count();
        let base = parts[..literal].join("/");
        let glob = if literal < parts.len() {
            let text = parts.join("/");
            let glob = globset::GlobBuilder::new(&text)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| TreeError::BadGlob {
                    pattern: raw.to_string(),
                    message: e.kind().to_string(),
                })?;
            Some(glob.compile_matcher())
        } else {
            None
        };
        Ok(Pattern { base, glob })
    }

    /// Whether a relative path is named by this pattern (itself or an ancestor matches).
    fn matches(&self, path: &str) -> bool {
        match &self.glob {
            None => {
                self.base.is_empty()
                    || path == self.base
                    || path
                        .strip_prefix(&self.base)
                        .is_some_and(|r| r.starts_with('/'))
            }
            Some(glob) => {
                let mut candidate = path;
                loop {
                    if glob.is_match(candidate) {
                        return true;
                    }
                    match candidate.rsplit_once('/') {
                        Some((parent, _)) => candidate = parent,
                        None => return false,
                    }
                }
            }
        }
    }
}

fn scan(
    root: &Path,
    relative: &str,
    metadata: &std::fs::Metadata,
    pattern: &Pattern,
    index: &FileIndex,
    entries: &mut Vec<TreeEntry>,
) -> Result<(), TreeError> {
    let path = if relative.is_empty() {
        root.to_path_buf()
    } else {
        root.join(relative)
    };
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        // A glob that names this directory takes all of it.
        let whole = pattern.glob.is_none() || (!relative.is_empty() && pattern.matches(relative));
        let mut children: Vec<_> = std::fs::read_dir(&path)
            .map_err(io_error(&path))?
            .collect::<Result<_, _>>()
            .map_err(io_error(&path))?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let name = child.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| TreeError::NotUtf8(child.path()))?;
            if name == ".git" {
                continue;
            }
            let child_relative = if relative.is_empty() {
                name.to_string()
            } else {
                format!("{relative}/{name}")
            };
            let child_metadata = child.metadata().map_err(io_error(&child.path()))?;
            if !whole && !child_metadata.is_dir() && !pattern.matches(&child_relative) {
                continue;
            }
            let pass = if whole {
                &Pattern {
                    base: String::new(),
                    glob: None,
                }
            } else {
                pattern
            };
            scan(root, &child_relative, &child_metadata, pass, index, entries)?;
        }
        return Ok(());
    }
    if relative.is_empty() || !pattern.matches(relative) {
        return Ok(());
    }
    if file_type.is_symlink() {
        let target = std::fs::read_link(&path).map_err(io_error(&path))?;
        let target = target
            .to_str()
            .ok_or_else(|| TreeError::NotUtf8(path.clone()))?
            .to_string();
        entries.push(TreeEntry {
            path: relative.to_string(),
            kind: EntryKind::Symlink,
            executable: false,
            hash: blake3::hash(target.as_bytes()).to_hex().to_string(),
            size: target.len() as u64,
            target: Some(target),
        });
    } else if file_type.is_file() {
        let hash = index.hash_file(&path, metadata).map_err(io_error(&path))?;
        entries.push(TreeEntry {
            path: relative.to_string(),
            kind: EntryKind::File,
            executable: metadata.permissions().mode() & 0o100 != 0,
            hash: hash.to_hex().to_string(),
            size: metadata.len(),
            target: None,
        });
    }
    // Sockets, FIFOs and devices are not content: left out.
    Ok(())
}
