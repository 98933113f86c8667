//! Finding entries: the verified lookup that records a hit (and discards an entry that
//! does not verify), and the unverified listings for `ls`, `push` and `restore-keys`.

use crate::cache::key::CacheKey;
use std::path::Path;

use super::cache_dir::Store;
use super::entry::{Entry, check_safe, now_ms, read_entry};
use super::error::{StoreError, io};

impl Store {
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
        for file in entry.outputs.files() {
            // A corrupt object is removed so that no other entry uses it.
            if let Err(fault) = self.verify_object(&file.hash, file.size) {
                let reason = match fault.for_entry(key, &file.path) {
                    StoreError::Corrupt { reason, .. } => reason,
                    other => other.to_string(),
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
}
