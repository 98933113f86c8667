//! The local store: content-addressed objects and one entry per cache key.
//!
//! ```text
//! <dir>/objects/ab/cdef…    file contents by BLAKE3, read-only, shared by all entries
//! <dir>/entries/<key>.json  key → outputs tree, step outputs, metrics, exit data, use
//! <dir>/trees/<tree hash>/  read-only materialised trees for read-only bind mounts
//! <dir>/tmp/                files being written (same file system: renames are atomic)
//! <dir>/index.bin           the file hash index (see `index`)
//! <dir>/lock                shared by saves, lookups and restores; exclusive for gc and rm
//! ```
//!
//! Writes are atomic: an object is written to `tmp/`, synced and renamed into place; the
//! entry is written last, the same way. A process killed at any point leaves at most
//! temporary files (removed by the next run or `gc`) and objects no entry names, never an entry
//! that looks valid. Lookups verify: the entry parses, names only safe paths and
//! well-formed hashes, and every object it names is there with its hash, checked by a
//! stat against the index (a file written to since it was stored has a new mtime and is
//! re-read and re-hashed).

use super::index::{FileIndex, hash_reader};
use super::key::CacheKey;
use super::tree::{EntryKind, Tree, TreeEntry, TreeError};
use super::{WarnFn, now_ms, stderr_warnings};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The entry format; entries of another format are not read.
pub const ENTRY_FORMAT: u32 = 1;

/// Which step made an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRef {
    pub workflow: String,
    pub job: String,
    pub step: String,
}

impl std::fmt::Display for StepRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} › {} › {}", self.workflow, self.job, self.step)
    }
}

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

/// A cache entry: what a key maps to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub format: u32,
    pub key: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: u64,
    pub last_used_ms: u64,
    pub hits: u64,
    pub made_by: StepRef,
    /// The output (and metrics) files, by content.
    pub outputs: Tree,
    pub step_outputs: BTreeMap<String, String>,
    pub metrics: Vec<String>,
    pub exit_code: i32,
    pub duration_ms: u64,
}

impl Entry {
    pub fn cache_key(&self) -> CacheKey {
        CacheKey::from_string(self.key.clone())
    }

    /// Bytes of the output files.
    pub fn size(&self) -> u64 {
        self.outputs.total_size()
    }
}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Files and symlinks written.
    pub written: usize,
    /// Files already there with the right content, left alone.
    pub unchanged: usize,
    pub bytes_written: u64,
}

/// What a gc removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub removed_entries: Vec<String>,
    pub removed_objects: usize,
    pub freed_bytes: u64,
    /// Bytes of the objects left.
    pub size_after: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cache: {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("the step did not produce its declared output{} {}", if .0.len() == 1 { "" } else { "s" }, .0.join(", "))]
    MissingOutput(Vec<String>),
    #[error("a cache entry with the key `{0}` already exists")]
    Exists(String),
    #[error("{path} changed while it was being saved to the cache")]
    Changed { path: PathBuf },
    #[error("the cache entry `{key}` is unsafe: {reason}")]
    Unsafe { key: String, reason: String },
    #[error("the cache entry `{key}` is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("cannot restore {path}: {reason}")]
    InTheWay { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A cache directory opened for use.
pub struct Store {
    dir: PathBuf,
    index: FileIndex,
    warn: WarnFn,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// A held lock on the cache; released when dropped.
struct LockGuard(File);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = fs4::FileExt::unlock(&self.0);
    }
}

impl Store {
    /// Opens (and creates) the cache at `dir`. Warnings go to stderr.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, StoreError> {
        // Absolute, since trees under it are bind-mounted by path (a relative
        // path would be taken by Docker for a volume name).
        let dir = dir.into();
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        for sub in ["objects", "entries", "trees", "tmp"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        let index = FileIndex::open(&dir);
        Ok(Store {
            dir,
            index,
            warn: stderr_warnings(),
        })
    }

    /// Sends warnings (a corrupt entry discarded, a remote down) to `warn` instead of stderr.
    pub fn with_warnings(mut self, warn: WarnFn) -> Store {
        self.warn = warn;
        self
    }

    pub(crate) fn warn(&self, message: &str) {
        (self.warn)(message);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file hash index, for [`Tree::from_dir`] on the host's files.
    pub fn index(&self) -> &FileIndex {
        &self.index
    }

    /// Saves the file hash index (also done after each save and restore, and on drop).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.index.save().map_err(io(&self.dir.join("index.bin")))
    }

    fn lock(&self, exclusive: bool) -> Result<LockGuard, StoreError> {
        let path = self.dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        if exclusive {
            fs4::FileExt::lock(&file).map_err(io(&path))?;
        } else {
            fs4::FileExt::lock_shared(&file).map_err(io(&path))?;
        }
        Ok(LockGuard(file))
    }

    /// Where the object with this BLAKE3 (hex) lives.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        self.dir.join("objects").join(&hash[..2]).join(&hash[2..])
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join("entries").join(entry_file_name(key))
    }

    /// A fresh path under `tmp/`.
    pub(crate) fn temp_path(&self, what: &str) -> PathBuf {
        self.dir.join("tmp").join(unique_name(what))
    }

    /// Whether an object is present (not verified).
    pub fn has_object(&self, hash: &str) -> bool {
        valid_hash(hash)
            && std::fs::symlink_metadata(self.object_path(hash)).is_ok_and(|m| m.is_file())
    }

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
        let _ = self.index.save();
        Ok(entry)
    }

    /// Stores one file as an object, unless an object with its hash is already there.
    fn put_object(
        &self,
        source: &Path,
        entry: &TreeEntry,
        move_file: bool,
    ) -> Result<(), StoreError> {
        let dest = self.object_path(&entry.hash);
        if std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == entry.size) {
            return Ok(());
        }
        let temp = self.temp_path("object");
        let mut moved = false;
        if move_file {
            moved = std::fs::rename(source, &temp).is_ok();
        }
        if !moved {
            let hash = if reflink_copy::reflink(source, &temp).is_ok() {
                let (hash, read) =
                    hash_reader(File::open(&temp).map_err(io(&temp))?).map_err(io(&temp))?;
                self.index.count_hashed(read);
                hash
            } else {
                copy_hashing(source, &temp, &self.index)?
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

    /// Moves a verified temporary file into `objects/`: sync, read-only, rename, index.
    pub(crate) fn commit_object(&self, temp: &Path, hash: &str) -> Result<(), StoreError> {
        let file = File::open(temp).map_err(io(temp))?;
        file.sync_all().map_err(io(temp))?;
        drop(file);
        std::fs::set_permissions(temp, std::fs::Permissions::from_mode(0o444)).map_err(io(temp))?;
        let dest = self.object_path(hash);
        let parent = dest.parent().expect("objects have a parent");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        std::fs::rename(temp, &dest).map_err(io(&dest))?;
        if let Ok(metadata) = std::fs::symlink_metadata(&dest)
            && let Ok(parsed) = blake3::Hash::from_hex(hash)
        {
            self.index.record(&metadata, parsed);
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
            file.sync_all().map_err(io(&temp))?;
        }
        let dest = self.entry_path(&entry.key);
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
        if let Ok(dir) = File::open(self.dir.join("entries")) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Whether an entry file exists for the key (not verified, use not recorded).
    pub fn contains(&self, key: &CacheKey) -> bool {
        self.entry_path(key.as_str()).is_file()
    }

    /// The verified entry of `key`, recording the hit; None on a miss. An entry that does
    /// not verify (unreadable, unsafe, an object missing or corrupt) is discarded with a
    /// warning and is a miss.
    pub fn lookup(&self, key: &CacheKey) -> Option<Entry> {
        let _lock = match self.lock(false) {
            Ok(lock) => lock,
            Err(error) => {
                self.warn(&format!("{error}; running without the cache"));
                return None;
            }
        };
        let mut entry = self.verified_entry(key.as_str())?;
        entry.hits += 1;
        entry.last_used_ms = now_ms().max(entry.last_used_ms + 1);
        if let Err(error) = self.write_entry(&entry, true) {
            self.warn(&format!(
                "cannot record the use of cache entry {}: {error}",
                key.short()
            ));
        }
        let _ = self.index.save();
        Some(entry)
    }

    /// Reads and verifies an entry; discards it with a warning when it does not verify.
    fn verified_entry(&self, key: &str) -> Option<Entry> {
        let path = self.entry_path(key);
        let entry = match read_entry(&path, key) {
            Ok(Some(entry)) => entry,
            Ok(None) => return None,
            Err(reason) => {
                self.discard(key, &path, &reason);
                return None;
            }
        };
        if let Err(error) = check_safe(&entry) {
            self.discard(key, &path, &error.to_string());
            return None;
        }
        for file in entry
            .outputs
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::File)
        {
            let object = self.object_path(&file.hash);
            let ok = match std::fs::symlink_metadata(&object) {
                Ok(m) if m.is_file() && m.len() == file.size => {
                    self.index.verify(&object, &file.hash).unwrap_or(false)
                }
                _ => false,
            };
            if !ok {
                let reason = if object.exists() {
                    // A corrupt object is removed so that no other entry uses it.
                    make_writable_and_remove(&object);
                    format!("the object of {} does not match its hash", file.path)
                } else {
                    format!("the object of {} is missing", file.path)
                };
                self.discard(key, &path, &reason);
                return None;
            }
        }
        Some(entry)
    }

    fn discard(&self, key: &str, path: &Path, reason: &str) {
        let short: String = key.chars().take(15).collect();
        self.warn(&format!(
            "cache entry {short} is corrupt ({reason}); discarded, the step will run"
        ));
        let _ = std::fs::remove_file(path);
    }

    /// Restores an entry's outputs under `dest_root`. Files already there with the right
    /// content (a stat and an index lookup) are left alone; others are reflinked or
    /// copied from verified objects (never hard-linked) and renamed into place. Refuses
    /// the whole entry, before writing anything, when any path would leave `dest_root`.
    pub fn restore(&self, entry: &Entry, dest_root: &Path) -> Result<RestoreStats, StoreError> {
        let _lock = self.lock(false)?;
        check_safe(entry)?;
        std::fs::create_dir_all(dest_root).map_err(io(dest_root))?;
        let mut stats = RestoreStats::default();
        for item in entry.outputs.entries() {
            let dest = prepare_parents(dest_root, &item.path)?;
            let existing = std::fs::symlink_metadata(&dest).ok();
            match item.kind {
                EntryKind::File => {
                    let mode = if item.executable { 0o755 } else { 0o644 };
                    if let Some(metadata) = &existing
                        && metadata.is_file()
                        && metadata.len() == item.size
                        && self
                            .index
                            .get(metadata)
                            .is_some_and(|h| h.to_hex().as_str() == item.hash)
                    {
                        let current = metadata.permissions().mode();
                        if (current & 0o100 != 0) != item.executable {
                            let wanted = if item.executable {
                                current | 0o111
                            } else {
                                current & !0o111
                            };
                            std::fs::set_permissions(
                                &dest,
                                std::fs::Permissions::from_mode(wanted),
                            )
                            .map_err(io(&dest))?;
                        }
                        stats.unchanged += 1;
                        continue;
                    }
                    if existing.as_ref().is_some_and(|m| m.is_dir()) {
                        return Err(StoreError::InTheWay {
                            path: dest,
                            reason: "a directory is where the cached file goes".into(),
                        });
                    }
                    let object = self.object_path(&item.hash);
                    if !self.index.verify(&object, &item.hash).unwrap_or(false) {
                        return Err(StoreError::Corrupt {
                            key: entry.key.clone(),
                            reason: format!("the object of {} does not match its hash", item.path),
                        });
                    }
                    let temp = dest.with_file_name(unique_name(".mlci-restore"));
                    reflink_copy::reflink_or_copy(&object, &temp).map_err(io(&temp))?;
                    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))
                        .map_err(io(&temp))?;
                    if let Err(e) = std::fs::rename(&temp, &dest) {
                        let _ = std::fs::remove_file(&temp);
                        return Err(io(&dest)(e));
                    }
                    if let Ok(metadata) = std::fs::symlink_metadata(&dest)
                        && let Ok(hash) = blake3::Hash::from_hex(&item.hash)
                    {
                        self.index.record(&metadata, hash);
                    }
                    stats.written += 1;
                    stats.bytes_written += item.size;
                }
                EntryKind::Symlink => {
                    let target = item.target.as_deref().unwrap_or_default();
                    if let Some(metadata) = &existing
                        && metadata.is_symlink()
                        && std::fs::read_link(&dest).is_ok_and(|t| t == Path::new(target))
                    {
                        stats.unchanged += 1;
                        continue;
                    }
                    if existing.as_ref().is_some_and(|m| m.is_dir()) {
                        return Err(StoreError::InTheWay {
                            path: dest,
                            reason: "a directory is where the cached symlink goes".into(),
                        });
                    }
                    let temp = dest.with_file_name(unique_name(".mlci-restore"));
                    std::os::unix::fs::symlink(target, &temp).map_err(io(&temp))?;
                    std::fs::rename(&temp, &dest).map_err(io(&dest))?;
                    stats.written += 1;
                }
            }
        }
        let _ = self.index.save();
        Ok(stats)
    }

    /// A read-only directory holding the entry's outputs, for a read-only bind mount:
    /// `<dir>/trees/<tree hash>`, built once and reused. Files are hard links to the
    /// (read-only) objects, or reflinked copies for executables.
    pub fn materialize(&self, entry: &Entry) -> Result<PathBuf, StoreError> {
        check_safe(entry)?;
        let final_dir = self.dir.join("trees").join(entry.outputs.hash());
        if final_dir.is_dir() {
            return Ok(final_dir);
        }
        let _lock = self.lock(false)?;
        let build = self.temp_path("tree");
        std::fs::create_dir_all(&build).map_err(io(&build))?;
        let result = (|| {
            let mut dirs = vec![build.clone()];
            for item in entry.outputs.entries() {
                let dest = build.join(&item.path);
                let mut parent = dest.parent();
                while let Some(p) = parent {
                    if p == build || dirs.iter().any(|d| d == p) {
                        break;
                    }
                    dirs.push(p.to_path_buf());
                    parent = p.parent();
                }
                let parent = dest.parent().expect("under build");
                std::fs::create_dir_all(parent).map_err(io(parent))?;
                match item.kind {
                    EntryKind::File => {
                        let object = self.object_path(&item.hash);
                        if !self.index.verify(&object, &item.hash).unwrap_or(false) {
                            return Err(StoreError::Corrupt {
                                key: entry.key.clone(),
                                reason: format!(
                                    "the object of {} does not match its hash",
                                    item.path
                                ),
                            });
                        }
                        if item.executable || std::fs::hard_link(&object, &dest).is_err() {
                            reflink_copy::reflink_or_copy(&object, &dest).map_err(io(&dest))?;
                            let mode = if item.executable { 0o555 } else { 0o444 };
                            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))
                                .map_err(io(&dest))?;
                        }
                    }
                    EntryKind::Symlink => {
                        let target = item.target.as_deref().unwrap_or_default();
                        std::os::unix::fs::symlink(target, &dest).map_err(io(&dest))?;
                    }
                }
            }
            // Deepest first, so that a parent is made read-only after its children.
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for dir in &dirs {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))
                    .map_err(io(dir))?;
            }
            Ok(())
        })();
        if let Err(error) = result {
            make_writable_and_remove(&build);
            return Err(error);
        }
        if std::fs::rename(&build, &final_dir).is_err() {
            // Another run materialised it first.
            make_writable_and_remove(&build);
            if !final_dir.is_dir() {
                return Err(StoreError::Io {
                    path: final_dir,
                    source: std::io::Error::other("cannot move the materialised tree into place"),
                });
            }
        }
        Ok(final_dir)
    }

    /// Every entry that parses, without verifying objects or recording use, most
    /// recently used first.
    pub fn list(&self) -> Result<Vec<Entry>, StoreError> {
        let dir = self.dir.join("entries");
        let mut entries = Vec::new();
        for item in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let item = item.map_err(io(&dir))?;
            if let Ok(Some(entry)) = read_entry(&item.path(), "") {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| {
            b.last_used_ms
                .cmp(&a.last_used_ms)
                .then(b.created_ms.cmp(&a.created_ms))
        });
        Ok(entries)
    }

    /// The entry of `key`, unverified and without recording use (for `ls`, `push`).
    pub fn peek(&self, key: &CacheKey) -> Option<Entry> {
        read_entry(&self.entry_path(key.as_str()), key.as_str())
            .ok()
            .flatten()
    }

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
        // Oldest use first.
        entries.sort_by(|a, b| {
            a.last_used_ms
                .cmp(&b.last_used_ms)
                .then(a.created_ms.cmp(&b.created_ms))
        });
        let mut refs: HashMap<&str, usize> = HashMap::new();
        for entry in &entries {
            let unique: HashSet<&str> = entry
                .outputs
                .entries()
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .map(|e| e.hash.as_str())
                .collect();
            for hash in unique {
                *refs.entry(hash).or_default() += 1;
            }
        }
        let mut used: u64 = refs.keys().filter_map(|h| sizes.get(*h)).sum();
        let mut evicted = 0;
        while used > max_bytes && evicted < entries.len() {
            let entry = &entries[evicted];
            let unique: HashSet<&str> = entry
                .outputs
                .entries()
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .map(|e| e.hash.as_str())
                .collect();
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
    /// and the engine's scratch directories); what live processes write stays.
    pub fn remove_stale_temp(&self) {
        let Ok(items) = std::fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        for item in items.flatten() {
            let name = item.file_name();
            if !writer_alive(&name.to_string_lossy()) {
                make_writable_and_remove(&item.path());
            }
        }
    }

    /// Entries whose key starts with `prefix`, newest first (verified lazily by lookup).
    pub fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let mut entries: Vec<Entry> = self
            .list()?
            .into_iter()
            .filter(|e| e.key.starts_with(prefix))
            .collect();
        entries.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.key.cmp(&a.key)));
        Ok(entries)
    }

    /// Parses and checks an entry that came from elsewhere (a remote), then writes it.
    pub(crate) fn import_entry(&self, key: &str, bytes: &[u8]) -> Result<Entry, StoreError> {
        let entry = parse_entry(bytes, key).map_err(|reason| StoreError::Corrupt {
            key: key.to_string(),
            reason,
        })?;
        for file in entry
            .outputs
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::File)
        {
            if !self.has_object(&file.hash) {
                return Err(StoreError::Corrupt {
                    key: key.to_string(),
                    reason: format!("the object of {} is missing", file.path),
                });
            }
        }
        self.write_entry(&entry, true)?;
        Ok(entry)
    }

    /// Parses and checks entry bytes without writing them.
    pub(crate) fn parse_entry(&self, key: &str, bytes: &[u8]) -> Result<Entry, StoreError> {
        parse_entry(bytes, key).map_err(|reason| StoreError::Corrupt {
            key: key.to_string(),
            reason,
        })
    }

    /// The bytes of an entry file, as stored.
    pub(crate) fn entry_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.entry_path(key);
        std::fs::read(&path).map_err(io(&path))
    }
}

/// The file name of a key's entry: the key itself when it is plain, else escaped, else
/// (when long) a hash of it. The key is inside the file too.
pub fn entry_file_name(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 150
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        return format!("{key}.json");
    }
    let mut escaped = String::new();
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            escaped.push(byte as char);
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    if escaped.len() > 180 {
        format!("h-{}.json", blake3::hash(key.as_bytes()).to_hex())
    } else {
        format!("{escaped}.json")
    }
}

fn read_entry(path: &Path, key: &str) -> Result<Option<Entry>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    parse_entry(&bytes, key).map(Some)
}

/// Parses an entry and checks that it is well-formed: the format, the key (when given),
/// hashes of 64 hex digits, safe relative paths.
fn parse_entry(bytes: &[u8], key: &str) -> Result<Entry, String> {
    let entry: Entry = serde_json::from_slice(bytes).map_err(|e| format!("unreadable: {e}"))?;
    if entry.format != ENTRY_FORMAT {
        return Err(format!("format {} is not {ENTRY_FORMAT}", entry.format));
    }
    if !key.is_empty() && entry.key != key {
        return Err("it holds another key".into());
    }
    for item in entry.outputs.entries() {
        if !valid_hash(&item.hash) {
            return Err(format!("{} has a malformed hash", item.path));
        }
        if item.kind == EntryKind::Symlink {
            let target = item
                .target
                .as_deref()
                .ok_or_else(|| format!("the symlink {} has no target", item.path))?;
            if blake3::hash(target.as_bytes()).to_hex().as_str() != item.hash {
                return Err(format!("the symlink {} does not match its hash", item.path));
            }
        }
    }
    Ok(entry)
}

pub(crate) fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Refuses an entry any of whose paths would leave the directory it is restored to.
pub(crate) fn check_safe(entry: &Entry) -> Result<(), StoreError> {
    let unsafe_entry = |reason: String| StoreError::Unsafe {
        key: entry.key.clone(),
        reason,
    };
    let symlinks: HashSet<&str> = entry
        .outputs
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::Symlink)
        .map(|e| e.path.as_str())
        .collect();
    for item in entry.outputs.entries() {
        let path = Path::new(&item.path);
        let normal = !item.path.is_empty()
            && !item.path.contains('\\')
            && path.components().all(|c| matches!(c, Component::Normal(_)))
            && !item.path.ends_with('/')
            && !item.path.contains("//");
        if !normal {
            return Err(unsafe_entry(format!(
                "the path `{}` leaves the workspace",
                item.path
            )));
        }
        let mut rest = item.path.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if symlinks.contains(parent) {
                return Err(unsafe_entry(format!(
                    "the path `{}` goes through a symlink",
                    item.path
                )));
            }
            rest = parent;
        }
        if item.kind == EntryKind::Symlink {
            let target = item.target.as_deref().unwrap_or_default();
            if !symlink_stays_inside(&item.path, target) {
                return Err(unsafe_entry(format!(
                    "the symlink `{}` points outside the workspace (to `{target}`)",
                    item.path
                )));
            }
        }
    }
    Ok(())
}

/// Whether a symlink at `link` (relative) with `target` resolves, lexically, inside the root.
fn symlink_stays_inside(link: &str, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') {
        return false;
    }
    let mut depth: Vec<&str> = link.split('/').collect();
    depth.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            other => depth.push(other),
        }
    }
    true
}

/// Creates the directories above `relative` under `root`, refusing to go through a
/// symlink; a file where a directory must be is replaced (the cached tree says so).
fn prepare_parents(root: &Path, relative: &str) -> Result<PathBuf, StoreError> {
    let mut current = root.to_path_buf();
    let parts: Vec<&str> = relative.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        current.push(part);
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.is_symlink() => {
                return Err(StoreError::InTheWay {
                    path: current,
                    reason: "it is a symlink, and restoring through it could write outside the workspace".into(),
                });
            }
            Ok(_) => {
                std::fs::remove_file(&current).map_err(io(&current))?;
                std::fs::create_dir(&current).map_err(io(&current))?;
            }
            Err(_) => std::fs::create_dir(&current).map_err(io(&current))?,
        }
    }
    current.push(parts[parts.len() - 1]);
    Ok(current)
}

/// Copies `source` to `dest`, hashing what it reads; records nothing.
fn copy_hashing(source: &Path, dest: &Path, index: &FileIndex) -> Result<blake3::Hash, StoreError> {
    use std::io::Read;
    let mut input = File::open(source).map_err(io(source))?;
    let mut output = File::create(dest).map_err(io(dest))?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(source)(e)),
        };
        hasher.update(&buffer[..n]);
        output.write_all(&buffer[..n]).map_err(io(dest))?;
        total += n as u64;
    }
    index.count_hashed(total);
    Ok(hasher.finalize())
}

/// Removes a file or a directory tree, making read-only directories writable first.
pub(crate) fn make_writable_and_remove(path: &Path) {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return;
    };
    if metadata.is_dir() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
        if let Ok(items) = std::fs::read_dir(path) {
            for item in items.flatten() {
                make_writable_and_remove(&item.path());
            }
        }
        let _ = std::fs::remove_dir(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

/// A name no other process or thread picks: `what.pid.nanos.counter`.
/// Whether the process that named a temporary file `what.<pid>.…` still runs. Names
/// without a process id come from no writer of this version: stale. Where `/proc` is
/// missing nothing can be told, and every writer counts as alive. A cache shared by
/// processes of several pid namespaces (containers) should be trimmed by `gc` only
/// while none of them runs.
fn writer_alive(name: &str) -> bool {
    let Some(pid) = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    pid == std::process::id()
        || !Path::new("/proc/self").exists()
        || Path::new(&format!("/proc/{pid}")).exists()
}

fn unique_name(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{what}.{}.{nanos}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
