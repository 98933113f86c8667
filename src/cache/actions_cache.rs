//! `actions/cache` on mlci's store: `key`, `restore-keys` and `path` with GitHub's
//! meaning, so that existing workflows get a local, offline cache.
//!
//! - A save never replaces an existing key (GitHub answers "Cache already exists").
//! - A restore tries the exact key first, then each restore key in order as a prefix,
//!   taking the newest entry whose key starts with it.
//! - As on GitHub, entries are scoped by a version derived from the paths, so a key
//!   saved with other paths is not restored.
//!
//! Paths are relative to `root` (the engine maps the job's paths to a host directory).

use super::key::CacheKey;
use super::store::{SaveMeta, SaveOptions, Store, StoreError};
use std::path::Path;

/// The store key of an `actions/cache` key: `gha/<version>/<key>`.
fn store_key(version: &str, key: &str) -> String {
    format!("gha/{version}/{key}")
}

/// GitHub's cache version: a hash of the paths (order matters, as on GitHub).
pub fn version(paths: &[String]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"mlci-actions-cache-v1");
    for path in paths {
        hasher.update(&(path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
    }
    hasher.finalize().to_hex()[..16].to_string()
}

/// The result of a restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The user's key that matched (the exact key or the one a restore key found).
    pub matched_key: String,
    /// Whether it was the exact key: the action's `cache-hit` output.
    pub exact: bool,
}

/// Saves `paths` under `root` as `key`. Returns false (and saves nothing) when the key
/// already exists, as GitHub does.
pub fn save(store: &Store, key: &str, paths: &[String], root: &Path) -> Result<bool, StoreError> {
    let full = CacheKey::from_string(store_key(&version(paths), key));
    let meta = SaveMeta {
        made_by: super::StepRef {
            workflow: String::new(),
            job: String::new(),
            step: format!("actions/cache {key}"),
        },
        ..SaveMeta::default()
    };
    let options = SaveOptions {
        move_files: false,
        overwrite: false,
    };
    match store.save(&full, root, paths, meta, options) {
        Ok(_) => Ok(true),
        Err(StoreError::Exists(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Restores into `root` the entry of `key`, else of the newest key starting with each of
/// `restore_keys` in turn. None when nothing matches.
pub fn restore(
    store: &Store,
    key: &str,
    restore_keys: &[String],
    paths: &[String],
    root: &Path,
) -> Result<Option<Restored>, StoreError> {
    let version = version(paths);
    let prefix = store_key(&version, "");
    if let Some(entry) = store.lookup(&CacheKey::from_string(store_key(&version, key))) {
        store.restore(&entry, root)?;
        return Ok(Some(Restored {
            matched_key: key.to_string(),
            exact: true,
        }));
    }
    for restore_key in restore_keys.iter().filter(|k| !k.is_empty()) {
        for candidate in store.keys_with_prefix(&store_key(&version, restore_key))? {
            // lookup verifies; a corrupt candidate is discarded and the next one tried.
            if let Some(entry) = store.lookup(&candidate.cache_key()) {
                store.restore(&entry, root)?;
                return Ok(Some(Restored {
                    matched_key: entry.key[prefix.len()..].to_string(),
                    exact: false,
                }));
            }
        }
    }
    Ok(None)
}
