//! A cache entry (what a key maps to) and the checks an entry passes before it is
//! used: its format, its key, well-formed hashes, and paths that stay inside the
//! directory it is restored to.

use crate::cache::key::CacheKey;
use crate::cache::tree::{EntryKind, Tree};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path};

use super::error::StoreError;

/// The key prefix of the entries that hold the model registry's versions
/// (`model-<tree hash>`): gc never evicts them.
pub const MODEL_KEY_PREFIX: &str = "model-";

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

pub(super) fn read_entry(path: &Path, key: &str) -> Result<Option<Entry>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    parse_entry(&bytes, key).map(Some)
}

/// Parses an entry and checks that it is well-formed: the format, the key (when given),
/// a model entry's tree hash, hashes of 64 hex digits, safe relative paths.
pub(super) fn parse_entry(bytes: &[u8], key: &str) -> Result<Entry, String> {
    let entry: Entry = serde_json::from_slice(bytes).map_err(|e| format!("unreadable: {e}"))?;
    if entry.format != ENTRY_FORMAT {
        return Err(format!("format {} is not {ENTRY_FORMAT}", entry.format));
    }
    if !key.is_empty() && entry.key != key {
        return Err("it holds another key".into());
    }
    // A model entry is named by the hash of its files: another tree under that
    // name is a swapped entry.
    if let Some(tree_hash) = entry.key.strip_prefix(MODEL_KEY_PREFIX)
        && entry.outputs.hash() != tree_hash
    {
        return Err("its files are not the ones its key names (the hash of its files)".into());
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
            // Resolved through the entry's other links: `a -> .` and
            // `b -> a/../..` each look inside, together they are not.
            let target = item.target.as_deref().unwrap_or_default();
            match crate::confine::resolve_with(
                &entry.outputs,
                Path::new(&item.path),
                "the workspace",
            ) {
                Err(crate::confine::PathError::Link { link, target, .. }) => {
                    return Err(unsafe_entry(format!(
                        "the symlink `{link}` points outside the workspace (to `{target}`)"
                    )));
                }
                Err(error) if error.is_escape() => {
                    return Err(unsafe_entry(format!(
                        "the symlink `{}` points outside the workspace (to `{target}`): {error}",
                        item.path
                    )));
                }
                _ if target.is_empty() => {
                    return Err(unsafe_entry(format!(
                        "the symlink `{}` points outside the workspace (to `{target}`)",
                        item.path
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, as entries record their creation and use.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
