//! Content verification: an object's bytes are hashed against its name before
//! they are used (a hit, a restore, a materialised tree, a push).
//!
//! The file index vouches for a file by what `stat` says of it, which is right
//! for files mlci wrote and nobody touched since, but not for a byte flipped
//! on disk, or written behind mlci's back with its mtime kept. So an object is
//! read and hashed once per process before its first use, in the same pass
//! that copies it where a copy is made; objects this process wrote or
//! downloaded were hashed on the way in (an object written to since, with a
//! new mtime, is hashed again). An object that does not match its
//! name is removed (no entry may use it again) and the use fails: a lookup is
//! a miss, a restore an error.

use crate::cache::index::FileStamp;
use std::fs::{File, Metadata};
use std::path::Path;

use super::cache_dir::Store;
use super::error::{StoreError, io};
use super::files::{copy_hashing, make_writable_and_remove};

/// Why an object cannot be used.
#[derive(Debug)]
pub(crate) enum ObjectFault {
    Missing,
    /// Its content (or size) is not what its name says; it was removed.
    Corrupt,
    Io(StoreError),
}

impl Store {
    /// Remembers that the object `hash`, as `stat` says it is now, holds what
    /// its name says: this process wrote it from bytes it hashed, or read and
    /// hashed it.
    pub(super) fn mark_verified(&self, hash: &str, metadata: &Metadata) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash.to_string(), FileStamp::of(metadata));
    }

    /// Whether this process verified the object and it has not been written
    /// to since (a write changes its mtime).
    fn is_verified(&self, hash: &str, metadata: &Metadata) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .is_some_and(|stamp| *stamp == FileStamp::of(metadata))
    }

    /// Checks that the object `hash` is there, `size` bytes long, and that its
    /// content hashes to its name (read once per process); a corrupt object is
    /// removed.
    pub(crate) fn verify_object(&self, hash: &str, size: u64) -> Result<(), ObjectFault> {
        let object = self.object_path(hash);
        let metadata = match std::fs::symlink_metadata(&object) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ObjectFault::Missing);
            }
            Err(e) => return Err(ObjectFault::Io(io(&object)(e))),
        };
        if !metadata.is_file() || metadata.len() != size {
            self.remove_corrupt(hash);
            return Err(ObjectFault::Corrupt);
        }
        if self.is_verified(hash, &metadata) {
            return Ok(());
        }
        let file = File::open(&object).map_err(|e| ObjectFault::Io(io(&object)(e)))?;
        let (actual, read) =
            crate::cache::index::hash_reader(file).map_err(|e| ObjectFault::Io(io(&object)(e)))?;
        self.index.count_hashed(read);
        if actual.to_hex().as_str() != hash {
            self.remove_corrupt(hash);
            return Err(ObjectFault::Corrupt);
        }
        self.mark_verified(hash, &metadata);
        Ok(())
    }

    /// Copies the object `hash` to `dest` (a new file), verifying it in the same
    /// pass: a reflink or kernel copy when the object was verified already, else
    /// a read that hashes what it writes. On a mismatch `dest` and the object are
    /// removed and the copy fails.
    pub(crate) fn copy_object(&self, hash: &str, dest: &Path) -> Result<(), ObjectFault> {
        let object = self.object_path(hash);
        let mut input = match File::open(&object) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ObjectFault::Missing);
            }
            Err(e) => return Err(ObjectFault::Io(io(&object)(e))),
        };
        let metadata = input
            .metadata()
            .map_err(|e| ObjectFault::Io(io(&object)(e)))?;
        if self.is_verified(hash, &metadata) {
            return reflink_copy::reflink_or_copy(&object, dest)
                .map(|_| ())
                .map_err(|e| ObjectFault::Io(io(dest)(e)));
        }
        let copied = copy_hashing(&mut input, &object, dest).map(|(hash, total)| {
            self.index.count_hashed(total);
            hash
        });
        match copied {
            Ok(actual) if actual.to_hex().as_str() == hash => {
                self.mark_verified(hash, &metadata);
                Ok(())
            }
            Ok(_) => {
                let _ = std::fs::remove_file(dest);
                self.remove_corrupt(hash);
                Err(ObjectFault::Corrupt)
            }
            Err(error) => {
                let _ = std::fs::remove_file(dest);
                Err(ObjectFault::Io(error))
            }
        }
    }

    /// Removes an object whose content is not what its name says, so that no
    /// entry uses it again (an entry that names it is then discarded as a miss).
    fn remove_corrupt(&self, hash: &str) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
        make_writable_and_remove(&self.object_path(hash));
    }
}

impl ObjectFault {
    /// The store error for an entry's file `path` whose object has this fault.
    pub(crate) fn for_entry(self, key: &str, path: &str) -> StoreError {
        let reason = match self {
            ObjectFault::Missing => format!("the object of {path} is missing"),
            ObjectFault::Corrupt => {
                format!("the object of {path} does not match its hash (removed from the cache)")
            }
            ObjectFault::Io(error) => return error,
        };
        StoreError::Corrupt {
            key: key.to_string(),
            reason,
        }
    }
}
