//! Saving a step's outputs: each file as an object (copied, reflinked or moved into
//! `tmp/`, checked against its hash, synced and renamed into place), the entry last.

use crate::cache::index::hash_reader;
use crate::cache::key::CacheKey;
use crate::cache::tree::{EntryKind, Tree, TreeEntry};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use super::cache_dir::Store;
use super::entry::{ENTRY_FORMAT, Entry, MODEL_KEY_PREFIX, StepRef, now_ms};
use super::error::{StoreError, io};
use super::files::copy_hashing;
use super::verify::ObjectFault;

/// What a step leaves besides its output files.
#[derive(Clone, Debug, Default)]
pub struct SaveMeta {
    pub made_by: StepRef,
    /// The step's `GITHUB_OUTPUT` values.
    pub step_outputs: BTreeMap<String, String>,
    /// Metrics files (relative paths); they are stored with the outputs.
    pub metrics: Vec<String>,
    pub exit_code: i32,
    pub duration: Duration,
}

/// How [`Store::save`] takes the files.
#[derive(Clone, Copy, Debug)]
pub struct SaveOptions {
    /// Move the output files into the store instead of copying them (when on the same
    /// file system; a copy otherwise). For outputs in a scratch directory of mlci's own:
    /// their hashes from the scan are trusted.
    pub move_files: bool,
    /// Replace an entry already saved under the key (`actions/cache` does not).
    pub overwrite: bool,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            move_files: false,
            overwrite: true,
        }
    }
}

impl Store {
    /// Saves the files that `output_patterns` (and `meta.metrics`) name under `src_root`
    /// as the entry of `key`. Objects first, the entry last; each one atomically.
    pub fn save(
        &self,
        key: &CacheKey,
        src_root: &Path,
        output_patterns: &[String],
        meta: SaveMeta,
        options: SaveOptions,
    ) -> Result<Entry, StoreError> {
        let _lock = self.lock(false)?;
        let mut patterns = output_patterns.to_vec();
        patterns.extend(meta.metrics.iter().cloned());
        let tree = Tree::from_dir(src_root, &patterns, &self.index)?;
        let missing = tree.unmatched(output_patterns)?;
        if !missing.is_empty() {
            return Err(StoreError::MissingOutput(missing));
        }
        // A model entry is named by the hash of its files (see `parse_entry`).
        if let Some(tree_hash) = key.as_str().strip_prefix(MODEL_KEY_PREFIX)
            && tree.hash() != tree_hash
        {
            return Err(StoreError::Changed {
                path: src_root.to_path_buf(),
            });
        }
        if !options.overwrite && self.entry_path(key.as_str()).exists() {
            return Err(StoreError::Exists(key.to_string()));
        }
        for entry in tree.entries() {
            if entry.kind == EntryKind::File {
                self.put_object(&src_root.join(&entry.path), entry, options.move_files)?;
            }
        }
        let now = now_ms();
        let entry = Entry {
            format: ENTRY_FORMAT,
            key: key.to_string(),
            created_ms: now,
            last_used_ms: now,
            hits: 0,
            made_by: meta.made_by,
            outputs: tree,
            step_outputs: meta.step_outputs,
            metrics: meta.metrics,
            exit_code: meta.exit_code,
            duration_ms: meta.duration.as_millis() as u64,
        };
        self.write_entry(&entry, options.overwrite)?;
        // With syncs deferred, the index is saved after them (`sync_deferred`).
        if self.deferred_syncs.is_none() {
            let _ = self.index.save();
        }
        Ok(entry)
    }

    /// Stores one file as an object, unless an object with its hash is already
    /// there (and verifies; a corrupt one is replaced).
    fn put_object(
        &self,
        source: &Path,
        entry: &TreeEntry,
        move_file: bool,
    ) -> Result<(), StoreError> {
        match self.verify_object(&entry.hash, entry.size) {
            Ok(()) => return Ok(()),
            Err(ObjectFault::Io(error)) => return Err(error),
            Err(ObjectFault::Missing | ObjectFault::Corrupt) => {}
        }
        let temp = self.temp_path("object");
        let mut moved = false;
        // Only a file of this user's: another's (root's, written in a job's
        // container) could not be made read-only once moved.
        if move_file && owned_by_me(source) {
            moved = std::fs::rename(source, &temp).is_ok();
        }
        if !moved {
            let hash = if reflink_copy::reflink(source, &temp).is_ok() {
                let (hash, read) =
                    hash_reader(File::open(&temp).map_err(io(&temp))?).map_err(io(&temp))?;
                self.index.count_hashed(read);
                hash
            } else {
                let mut input = File::open(source).map_err(io(source))?;
                let (hash, read) = copy_hashing(&mut input, source, &temp)?;
                self.index.count_hashed(read);
                hash
            };
            if hash.to_hex().as_str() != entry.hash {
                let _ = std::fs::remove_file(&temp);
                return Err(StoreError::Changed {
                    path: source.to_path_buf(),
                });
            }
        }
        self.commit_object(&temp, &entry.hash)
    }

    /// Moves a verified temporary file (one whose bytes were hashed to `hash`
    /// as they were written) into `objects/`: sync, read-only, rename, index.
    pub(crate) fn commit_object(&self, temp: &Path, hash: &str) -> Result<(), StoreError> {
        let dest = self.object_path(hash);
        self.sync_or_defer(temp, &dest).map_err(io(temp))?;
        std::fs::set_permissions(temp, std::fs::Permissions::from_mode(0o444)).map_err(io(temp))?;
        let parent = dest.parent().expect("objects have a parent");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        std::fs::rename(temp, &dest).map_err(io(&dest))?;
        if let Ok(metadata) = std::fs::symlink_metadata(&dest) {
            self.mark_verified(hash, &metadata);
            if let Ok(parsed) = blake3::Hash::from_hex(hash) {
                self.index.record(&metadata, parsed);
            }
        }
        Ok(())
    }

    /// Writes an entry: temporary file, sync, then rename (or link, which fails rather
    /// than replace an existing entry, when `overwrite` is false).
    pub(crate) fn write_entry(&self, entry: &Entry, overwrite: bool) -> Result<(), StoreError> {
        let text = serde_json::to_vec_pretty(entry).expect("entries serialize");
        let temp = self.temp_path("entry");
        {
            let mut file = File::create(&temp).map_err(io(&temp))?;
            file.write_all(&text).map_err(io(&temp))?;
        }
        let dest = self.entry_path(&entry.key);
        self.sync_or_defer(&temp, &dest).map_err(io(&temp))?;
        let result = if overwrite {
            std::fs::rename(&temp, &dest)
        } else {
            let linked = std::fs::hard_link(&temp, &dest);
            let _ = std::fs::remove_file(&temp);
            linked
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists(entry.key.clone()));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                return Err(io(&dest)(e));
            }
        }
        let entries = self.dir.join("entries");
        let _ = self.sync_or_defer(&entries, &entries);
        Ok(())
    }
}

fn owned_by_me(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    std::fs::symlink_metadata(path).is_ok_and(|m| m.uid() == me)
}
