//! Putting an entry's outputs back: restored into a workspace, or materialised once as
//! a read-only tree for a read-only bind mount.

use crate::cache::tree::EntryKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::cache_dir::Store;
use super::entry::{Entry, check_safe};
use super::error::{StoreError, io};
use super::files::{make_writable_and_remove, unique_name};

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Files and symlinks written.
    pub written: usize,
    /// Files already there with the right content, left alone.
    pub unchanged: usize,
    pub bytes_written: u64,
}

impl Store {
    /// Restores an entry's outputs under `dest_root`. Files already there with the right
    /// content (a stat and an index lookup) are left alone; others are reflinked or
    /// copied from objects verified by content (never hard-linked) and renamed into
    /// place; a corrupt object fails the restore and is removed. Refuses
    /// the whole entry, before writing anything, when any path would leave `dest_root`.
    pub fn restore(&self, entry: &Entry, dest_root: &Path) -> Result<RestoreStats, StoreError> {
        let _lock = self.lock(false)?;
        check_safe(entry)?;
        std::fs::create_dir_all(dest_root).map_err(io(dest_root))?;
        let mut stats = RestoreStats::default();
        let mut notes = self.temp_notes();
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
                    notes.note(dest.parent().unwrap_or(dest_root));
                    let temp = dest.with_file_name(unique_name(".mlci-restore"));
                    // Verified as it is copied: a corrupt object is never restored.
                    self.copy_object(&item.hash, &temp)
                        .map_err(|fault| fault.for_entry(&entry.key, &item.path))?;
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
                    notes.note(dest.parent().unwrap_or(dest_root));
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

    /// A directory holding the entry's outputs, for a read-only bind mount:
    /// `<dir>/trees/<tree hash>`, built once and reused. Files are hard links to the
    /// (read-only) objects, or read-only reflinked copies for executables. The
    /// directories stay writable by their owner: the mount is what keeps jobs
    /// out, and a user's `rm -rf` of the cache must work.
    pub fn materialize(&self, entry: &Entry) -> Result<PathBuf, StoreError> {
        check_safe(entry)?;
        let final_dir = self.dir.join("trees").join(entry.outputs.hash());
        let _lock = self.lock(false)?;
        if final_dir.is_dir() {
            if self.tree_intact(entry, &final_dir) {
                return Ok(final_dir);
            }
            // A file of it was changed: built again from verified objects.
            make_writable_and_remove(&final_dir);
        }
        let build = self.temp_path("tree");
        std::fs::create_dir_all(&build).map_err(io(&build))?;
        let result = (|| {
            for item in entry.outputs.entries() {
                let dest = build.join(&item.path);
                let parent = dest.parent().expect("under build");
                std::fs::create_dir_all(parent).map_err(io(parent))?;
                match item.kind {
                    EntryKind::File => {
                        self.verify_object(&item.hash, item.size)
                            .map_err(|fault| fault.for_entry(&entry.key, &item.path))?;
                        let object = self.object_path(&item.hash);
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
            Ok(())
        })();
        if let Err(error) = result {
            make_writable_and_remove(&build);
            return Err(error);
        }
        if let Err(error) = std::fs::rename(&build, &final_dir) {
            // Another run materialised it first.
            make_writable_and_remove(&build);
            if !final_dir.is_dir() {
                return Err(StoreError::Io {
                    path: final_dir,
                    source: std::io::Error::new(
                        error.kind(),
                        format!("cannot move the materialised tree into place: {error}"),
                    ),
                });
            }
        }
        Ok(final_dir)
    }

    /// Whether a materialised tree still holds the entry's files: each one a
    /// hard link to its verified object, or a copy whose content is hashed
    /// again; symlinks with their targets.
    fn tree_intact(&self, entry: &Entry, dir: &Path) -> bool {
        entry.outputs.entries().iter().all(|item| {
            let path = dir.join(&item.path);
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                return false;
            };
            match item.kind {
                EntryKind::Symlink => std::fs::read_link(&path)
                    .is_ok_and(|t| Some(t.as_path()) == item.target.as_deref().map(Path::new)),
                EntryKind::File if !metadata.is_file() || metadata.len() != item.size => false,
                EntryKind::File => {
                    let object = std::fs::symlink_metadata(self.object_path(&item.hash));
                    let linked = object
                        .is_ok_and(|o| (o.dev(), o.ino()) == (metadata.dev(), metadata.ino()));
                    if linked {
                        self.verify_object(&item.hash, item.size).is_ok()
                    } else {
                        std::fs::File::open(&path)
                            .and_then(crate::cache::index::hash_reader)
                            .is_ok_and(|(hash, _)| hash.to_hex().as_str() == item.hash)
                    }
                }
            }
        })
    }
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
