//! Putting an entry's outputs back: restored into a workspace, or materialised once as
//! a read-only tree for a read-only bind mount.

use crate::cache::tree::EntryKind;
use std::os::unix::fs::PermissionsExt;
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
    /// copied from verified objects (never hard-linked) and renamed into place. Refuses
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
                    let object = self.object_path(&item.hash);
                    if !self.index.verify(&object, &item.hash).unwrap_or(false) {
                        return Err(StoreError::Corrupt {
                            key: entry.key.clone(),
                            reason: format!("the object of {} does not match its hash", item.path),
                        });
                    }
                    notes.note(dest.parent().unwrap_or(dest_root));
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
        if final_dir.is_dir() {
            return Ok(final_dir);
        }
        let _lock = self.lock(false)?;
        let build = self.temp_path("tree");
        std::fs::create_dir_all(&build).map_err(io(&build))?;
        let result = (|| {
            for item in entry.outputs.entries() {
                let dest = build.join(&item.path);
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
