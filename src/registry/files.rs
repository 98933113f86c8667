//! A version's files: found by what a person types, written to a
//! destination (`mlci models pull`), and stored from a path on disk
//! (`mlci models register`).

use super::shared;
use crate::cache::{self, CacheKey, MODEL_KEY_PREFIX, Remote, SaveMeta, SaveOptions, Tree};
use crate::record::{ModelVersion, Store};
use crate::workflow::{ModelRef, Pick};
use std::path::{Path, PathBuf};

/// Why a version's files could not be pulled or stored: `Unsafe` is bad
/// input (a record or a model whose paths lead outside where they belong),
/// which the command line answers with exit 2.
#[derive(Debug)]
pub enum FilesError {
    Unsafe(String),
    Failed(String),
}

impl From<String> for FilesError {
    fn from(message: String) -> FilesError {
        FilesError::Failed(message)
    }
}

impl std::fmt::Display for FilesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilesError::Unsafe(message) | FilesError::Failed(message) => f.write_str(message),
        }
    }
}

/// The version `reference` names, after reading the shared registry when there is one.
pub async fn resolve(
    store: &mut Store,
    reference: &ModelRef,
    remote: Option<&Remote>,
) -> Result<ModelVersion, String> {
    if let Some(remote) = remote {
        shared::sync(remote, store, &reference.name).await?;
    }
    let versions = store
        .model_versions(Some(&reference.name))
        .map_err(|e| e.to_string())?;
    if versions.is_empty() {
        return Err(format!(
            "no model `{}` in the registry{}",
            reference.name,
            if remote.is_none() {
                " (a model registered on another machine is found with --cache-remote)"
            } else {
                ""
            }
        ));
    }
    let number = match &reference.pick {
        Pick::Latest => versions.last().map(|v| v.version),
        Pick::Version(v) => Some(*v),
        Pick::Alias(alias) => Some(
            store
                .alias_version(&reference.name, alias)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no version of `{}` is `{alias}`", reference.name))?,
        ),
    };
    versions
        .into_iter()
        .find(|v| Some(v.version) == number)
        .ok_or_else(|| format!("no version {reference} in the registry"))
}

/// Writes a version's files to `dest` (into it, when it is a directory that
/// exists); the path written.
pub async fn pull(
    cache: &cache::Store,
    remote: Option<&Remote>,
    version: &ModelVersion,
    dest: Option<&Path>,
) -> Result<PathBuf, FilesError> {
    let key = CacheKey::from_string(version.entry_key.clone());
    let mut entry = cache.lookup(&key);
    if entry.is_none()
        && let Some(remote) = remote
    {
        entry = remote.pull(cache, &key).await.map_err(|e| e.to_string())?;
    }
    let entry = entry.ok_or_else(|| {
        format!(
            "the files of {} ({}) are not in the cache{}",
            version.label(),
            version.entry_key,
            if remote.is_none() {
                ": pull them from the shared registry with --cache-remote"
            } else {
                " nor on the remote"
            }
        )
    })?;
    // The entry is checked against its own key (the hash of its files); the
    // version must name that same tree, or it points at another model's files.
    if entry.outputs.hash() != version.tree_hash {
        return Err(format!(
            "the files of {} in the cache are not the ones it was registered with (tree {} instead of {}): refusing to pull them",
            version.label(),
            entry.outputs.hash(),
            version.tree_hash
        )
        .into());
    }
    let base = Path::new(&version.path)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(&version.name));
    let target = match dest {
        None => base,
        Some(dest) if dest.is_dir() => dest.join(base),
        Some(dest) => dest.to_path_buf(),
    };
    if target.exists() {
        return Err(format!(
            "{} exists already: remove it, or name another destination",
            target.display()
        )
        .into());
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    // Restored next to the target, then renamed: a pull cut short leaves no
    // half model, and one killed leaves a staging directory that carries its
    // pid, noted for the next run or pull to remove.
    let mut notes = cache.temp_notes();
    notes.note(parent);
    let prefix = format!(".mlci-pull.{}.", std::process::id());
    let staging = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(parent)
        .map_err(|e| format!("{}: {e}", parent.display()))?;
    cache
        .restore(&entry, staging.path())
        .map_err(|e| e.to_string())?;
    // The record's path comes from the run store or the shared registry: an
    // absolute path or `..` there would move a host file into DEST.
    let restored = crate::confine::resolve(staging.path(), &version.path, "the model's files")
        .map_err(|e| {
            FilesError::Unsafe(format!(
                "the registry record of {} is unsafe: {e}",
                version.label()
            ))
        })?;
    if restored == staging.path() || std::fs::symlink_metadata(&restored).is_err() {
        return Err(FilesError::Unsafe(format!(
            "the registry record of {} names `{}`, which is not among its files",
            version.label(),
            version.path
        )));
    }
    std::fs::rename(&restored, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(target)
}

/// Stores the files at `path` (a file or a directory) as a model entry;
/// the version to register (numbered by the store), without run.
pub fn store_path(
    cache: &cache::Store,
    name: &str,
    path: &Path,
) -> Result<ModelVersion, FilesError> {
    let path = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()).into());
    }
    let root = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let relative = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} names no file", path.display()))?;
    let patterns = vec![relative.clone()];
    let tree = Tree::from_dir(&root, &patterns, cache.index()).map_err(|e| e.to_string())?;
    if tree.files().next().is_none() {
        return Err(format!("{} holds no file", path.display()).into());
    }
    tree.check_links_within(&relative)
        .map_err(|e| FilesError::Unsafe(format!("cannot register {}: {e}", path.display())))?;
    let tree_hash = tree.hash();
    let key = CacheKey::from_string(format!("{MODEL_KEY_PREFIX}{tree_hash}"));
    cache
        .save(
            &key,
            &root,
            &patterns,
            SaveMeta::default(),
            SaveOptions {
                move_files: false,
                overwrite: true,
            },
        )
        .map_err(|e| e.to_string())?;
    Ok(ModelVersion {
        name: name.to_string(),
        tree_hash,
        entry_key: key.to_string(),
        path: relative,
        size: tree.total_size(),
        created_at: crate::record::now_ms(),
        origin: "command".to_string(),
        ..ModelVersion::default()
    })
}
