//! What the remote cache needs of the local store: an entry's bytes as stored, and
//! entries that came from elsewhere, parsed and checked before they are written.

use super::cache_dir::Store;
use super::entry::{Entry, parse_entry};
use super::error::{StoreError, io};

impl Store {
    /// Parses and checks an entry that came from elsewhere (a remote), then writes it.
    pub(crate) fn import_entry(&self, key: &str, bytes: &[u8]) -> Result<Entry, StoreError> {
        let entry = parse_entry(bytes, key).map_err(|reason| StoreError::Corrupt {
            key: key.to_string(),
            reason,
        })?;
        for file in entry.outputs.files() {
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
