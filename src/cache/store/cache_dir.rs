//! A cache directory opened for use: where its objects, entries and temporary files
//! live, and the lock that saves, lookups and restores share and gc takes alone.

use crate::cache::index::FileIndex;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::entry::{entry_file_name, valid_hash};
use super::error::{StoreError, io};
use super::files::unique_name;

/// Emits a warning: where the store's warnings go.
pub type WarnFn = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The default sink: `warning: …` on stderr.
pub fn stderr_warnings() -> WarnFn {
    std::sync::Arc::new(|message: &str| eprintln!("warning: {message}"))
}

/// A cache directory opened for use.
pub struct Store {
    pub(super) dir: PathBuf,
    pub(super) index: FileIndex,
    warn: WarnFn,
    /// Files and directories written but not yet synced, when syncs wait
    /// for [`Store::sync_deferred`] (see [`Store::deferring_syncs`]).
    pub(super) deferred_syncs: Option<std::sync::Mutex<Vec<PathBuf>>>,
    /// Objects whose content this process hashed (or wrote from hashed
    /// bytes), with what `stat` said of them then: see `verify`.
    pub(super) verified:
        std::sync::Mutex<std::collections::HashMap<String, crate::cache::index::FileStamp>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// A held lock on the cache; released when dropped.
pub(super) struct LockGuard(File);

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
            deferred_syncs: None,
            verified: Default::default(),
        })
    }

    /// Syncs objects and entries to disk in [`Store::sync_deferred`] rather
    /// than each as it is written: a run saves its outputs without waiting
    /// for the disk, and syncs them all at its end, before the file index
    /// that vouches for them is saved. A process killed in between loses
    /// nothing (the page cache survives it); after a power loss the index
    /// does not vouch for unsynced objects, so they are hashed again and a
    /// damaged one is found.
    pub fn deferring_syncs(mut self) -> Store {
        self.deferred_syncs = Some(std::sync::Mutex::new(Vec::new()));
        self
    }

    /// Syncs `temp` now, before it is renamed to `dest`; or, when syncs
    /// are deferred, notes `dest` to sync later.
    pub(super) fn sync_or_defer(&self, temp: &Path, dest: &Path) -> std::io::Result<()> {
        match &self.deferred_syncs {
            Some(list) => {
                list.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(dest.to_path_buf());
                Ok(())
            }
            None => File::open(temp)?.sync_all(),
        }
    }

    /// Syncs what was written since the last call (each path once).
    pub fn sync_deferred(&self) {
        let Some(list) = &self.deferred_syncs else {
            return;
        };
        let mut paths = std::mem::take(&mut *list.lock().unwrap_or_else(|e| e.into_inner()));
        paths.sort();
        paths.dedup();
        for path in paths {
            if let Ok(file) = File::open(&path) {
                let _ = file.sync_all();
            }
        }
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

    pub(super) fn lock(&self, exclusive: bool) -> Result<LockGuard, StoreError> {
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

    pub(super) fn entry_path(&self, key: &str) -> PathBuf {
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
}
