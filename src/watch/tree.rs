//! Polling the working tree: which files changed since the last look.
//!
//! Path triggers see the files that git would see (tracked, and untracked
//! but not ignored: `git ls-files -co --exclude-standard`), so that build
//! outputs and models in ignored directories do not start pipelines; outside
//! a git repository, every file but `.git/`. A file counts as changed when
//! its size or modification time changed, or when it appeared or went away.
//! mlci's own directory (`.mlci/`: run store, locks, watch state) never counts.
//!
//! Dataset files are found by walking the directories their patterns name
//! (ignored or not: datasets are often ignored by git), and compared by
//! content: blake3 of the bytes, computed again only for a file whose size
//! or modification time changed, so that a touch costs one hash and fires
//! nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Size and modification time (nanoseconds since the epoch) of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i64,
}

impl Stamp {
    pub fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Some(Stamp {
            size: meta.len(),
            mtime_ns,
        })
    }
}

/// Files of the working tree by path relative to the root (`/`-separated).
pub type Snapshot = BTreeMap<String, Stamp>;

/// Paths that never count as changes: mlci's own files, and those given here
/// (a cache or run store inside the repository).
pub struct Excluded {
    prefixes: Vec<String>,
}

impl Excluded {
    pub fn new(root: &Path, extra: &[PathBuf]) -> Excluded {
        let mut prefixes = vec![".mlci/".to_string(), ".git/".to_string()];
        let root_abs = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        for path in extra {
            let abs = if path.is_absolute() {
                path.clone()
            } else {
                root_abs.join(path)
            };
            // The file may not exist yet: canonicalize what does.
            let abs = match (abs.parent(), abs.file_name()) {
                (Some(parent), Some(name)) => std::fs::canonicalize(parent)
                    .map(|p| p.join(name))
                    .unwrap_or(abs.clone()),
                _ => abs,
            };
            if let Ok(rel) = abs.strip_prefix(&root_abs) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if !rel.is_empty() {
                    prefixes.push(rel.clone());
                    prefixes.push(format!("{rel}/"));
                }
            }
        }
        Excluded { prefixes }
    }

    pub fn contains(&self, rel: &str) -> bool {
        // A file that mlci writes and renames into place while a run restores
        // outputs (`.mlci-restore.*`) is the run's, not a change to run on.
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if name.starts_with(".mlci-restore.") {
            return true;
        }
        self.prefixes.iter().any(|p| {
            if p.ends_with('/') {
                rel.starts_with(p.as_str())
            } else {
                rel == p
            }
        })
    }
}

/// The files a path trigger can see, with their stamps.
pub fn scan(root: &Path, excluded: &Excluded) -> Snapshot {
    let files = git_files(root).unwrap_or_else(|| walk(root, ""));
    files
        .into_iter()
        .filter(|rel| !excluded.contains(rel))
        .filter_map(|rel| Stamp::of(&root.join(&rel)).map(|s| (rel, s)))
        .collect()
}

/// The paths that appeared, went away or changed between two snapshots.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(path, stamp)| before.get(*path) != Some(stamp))
        .map(|(path, _)| path.clone())
        .collect();
    changed.extend(
        before
            .keys()
            .filter(|path| !after.contains_key(*path))
            .cloned(),
    );
    changed.sort();
    changed
}

fn git_files(root: &Path) -> Option<Vec<String>> {
    let names = crate::run::workspace::visible_files(root)?;
    Some(
        names
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
    )
}

/// Every file under `root/dir`, relative to `root`, `.git` left out.
pub fn walk(root: &Path, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_string()];
    while let Some(rel) = stack.pop() {
        let full = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&rel)
        };
        let Ok(entries) = std::fs::read_dir(&full) else {
            // A pattern may name a single file.
            if full.is_file() {
                out.push(rel);
            }
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(child),
                Ok(t) if t.is_file() => out.push(child),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// The content hash of a file, hex.
pub fn hash_file(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let (hash, _) = crate::cache::index::hash_reader(file).ok()?;
    Some(hash.to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_new_removed_and_restamped_files() {
        let stamp = |size| Stamp { size, mtime_ns: 1 };
        let before = Snapshot::from([("a".into(), stamp(1)), ("b".into(), stamp(1))]);
        let after = Snapshot::from([("a".into(), stamp(2)), ("c".into(), stamp(1))]);
        assert_eq!(changes(&before, &after), vec!["a", "b", "c"]);
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn mlci_files_and_given_paths_are_excluded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        let excluded = Excluded::new(dir.path(), &[PathBuf::from("cache"), "db.sqlite".into()]);
        assert!(excluded.contains(".mlci/runs.db"));
        assert!(excluded.contains("cache/x/y"));
        assert!(excluded.contains("db.sqlite"));
        assert!(excluded.contains("model/.mlci-restore.1a2b"));
        assert!(!excluded.contains("cache.txt"));
        assert!(!excluded.contains("src/a.py"));
    }
}
