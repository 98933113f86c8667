//! Making room: least-recently-used eviction down to a size, removing entries, and
//! clearing the objects, trees and temporary files nothing uses any more.

use crate::cache::key::CacheKey;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::cache_dir::Store;
use super::entry::{Entry, MODEL_KEY_PREFIX};
use super::error::{StoreError, io};
use super::files::{make_writable_and_remove, writer_alive};

/// What a gc removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub removed_entries: Vec<String>,
    pub removed_objects: usize,
    pub freed_bytes: u64,
    /// Bytes of the objects left.
    pub size_after: u64,
}

impl Store {
    /// Removes the entries of these keys (and the objects no other entry uses); returns
    /// the keys that had an entry.
    pub fn remove(&self, keys: &[CacheKey]) -> Result<Vec<String>, StoreError> {
        let _lock = self.lock(true)?;
        let mut removed = Vec::new();
        for key in keys {
            let path = self.entry_path(key.as_str());
            if std::fs::remove_file(&path).is_ok() {
                removed.push(key.to_string());
            }
        }
        self.collect(u64::MAX)?;
        Ok(removed)
    }

    /// Removes every entry and object.
    pub fn remove_all(&self) -> Result<usize, StoreError> {
        let _lock = self.lock(true)?;
        let count = self.list()?.len();
        for sub in ["entries", "objects", "trees", "tmp"] {
            let path = self.dir.join(sub);
            make_writable_and_remove(&path);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        Ok(count)
    }

    /// Evicts least-recently-used entries until the objects the others use fit in
    /// `max_bytes`; removes unused objects, unused materialised trees and temporary files.
    pub fn gc(&self, max_bytes: u64) -> Result<GcReport, StoreError> {
        let _lock = self.lock(true)?;
        self.collect(max_bytes)
    }

    /// Bytes of the objects in the store.
    pub fn size(&self) -> Result<u64, StoreError> {
        Ok(self.object_sizes()?.values().sum())
    }

    fn object_sizes(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut sizes = HashMap::new();
        let objects = self.dir.join("objects");
        for shard in std::fs::read_dir(&objects).map_err(io(&objects))? {
            let shard = shard.map_err(io(&objects))?;
            let prefix = shard.file_name().to_string_lossy().into_owned();
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                if let Ok(metadata) = file.metadata() {
                    let hash = format!("{prefix}{}", file.file_name().to_string_lossy());
                    sizes.insert(hash, metadata.len());
                }
            }
        }
        Ok(sizes)
    }

    /// gc's work; the caller holds the exclusive lock.
    fn collect(&self, max_bytes: u64) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        let sizes = self.object_sizes()?;
        let mut entries = self.list()?;
        // Oldest use first; the registry's models last, and never evicted:
        // a registered version must stay pullable.
        let pinned = |entry: &Entry| entry.key.starts_with(MODEL_KEY_PREFIX);
        entries.sort_by(|a, b| {
            pinned(a)
                .cmp(&pinned(b))
                .then(a.last_used_ms.cmp(&b.last_used_ms))
                .then(a.created_ms.cmp(&b.created_ms))
        });
        let mut refs: HashMap<&str, usize> = HashMap::new();
        for entry in &entries {
            let unique: HashSet<&str> = entry.outputs.files().map(|e| e.hash.as_str()).collect();
            for hash in unique {
                *refs.entry(hash).or_default() += 1;
            }
        }
        let mut used: u64 = refs.keys().filter_map(|h| sizes.get(*h)).sum();
        let mut evicted = 0;
        while used > max_bytes && evicted < entries.len() && !pinned(&entries[evicted]) {
            let entry = &entries[evicted];
            let unique: HashSet<&str> = entry.outputs.files().map(|e| e.hash.as_str()).collect();
            for hash in unique {
                let count = refs.get_mut(hash).expect("counted");
                *count -= 1;
                if *count == 0 {
                    used -= sizes.get(hash).copied().unwrap_or(0);
                }
            }
            let _ = std::fs::remove_file(self.entry_path(&entry.key));
            report.removed_entries.push(entry.key.clone());
            evicted += 1;
        }
        refs.retain(|_, count| *count > 0);
        for (hash, size) in &sizes {
            if !refs.contains_key(hash.as_str()) {
                make_writable_and_remove(&self.object_path(hash));
                report.removed_objects += 1;
                report.freed_bytes += size;
            }
        }
        report.size_after = used;
        let kept_trees: HashSet<String> = entries[evicted..]
            .iter()
            .map(|e| e.outputs.hash())
            .collect();
        let trees = self.dir.join("trees");
        if let Ok(items) = std::fs::read_dir(&trees) {
            for item in items.flatten() {
                if !kept_trees.contains(item.file_name().to_string_lossy().as_ref()) {
                    make_writable_and_remove(&item.path());
                }
            }
        }
        self.remove_stale_temp();
        Ok(report)
    }

    /// Removes what dead processes left in `tmp/`, such as the half-copied outputs of a
    /// killed run. Every name there carries its writer's process id (see [`unique_name`]
    /// and the engine's scratch directories); what live processes write stays. Returns
    /// what could not be removed: files a killed job's container wrote as root, which a
    /// normal user may not remove.
    pub fn remove_stale_temp(&self) -> Vec<PathBuf> {
        remove_stale_temp_in(&self.dir)
    }
}

/// [`Store::remove_stale_temp`] for the cache at `cache_dir`, without opening
/// it: opening creates the cache's directories, and a cache being removed
/// meanwhile (a user's `rm -rf`, a test's clean-up) must not get them back.
pub fn remove_stale_temp_in(cache_dir: &Path) -> Vec<PathBuf> {
    let Ok(items) = std::fs::read_dir(cache_dir.join("tmp")) else {
        return Vec::new();
    };
    let mut left = Vec::new();
    for item in items.flatten() {
        let name = item.file_name();
        if !writer_alive(&name.to_string_lossy()) {
            let path = item.path();
            super::outside::clean_noted(&path);
            make_writable_and_remove(&path);
            if std::fs::symlink_metadata(&path).is_ok() {
                left.push(path);
            }
        }
    }
    left
}
