//! Where the cache lives and how big it may grow by default.

use std::path::PathBuf;

/// The default cap of the cache's size: 20 GB.
pub const DEFAULT_MAX_SIZE: u64 = 20_000_000_000;

/// The cache directory: `MLCI_CACHE_DIR`, else `$XDG_CACHE_HOME/mlci`, else `~/.cache/mlci`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MLCI_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("mlci");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("mlci")
}
