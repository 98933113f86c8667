//! The step cache: never redo unchanged work.
//!
//! The modules follow the flow of a cached step:
//!
//! ```text
//! inputs on disk ──index──▶ file hashes by (dev, inode, size, mtime): a stat, not a read
//!                ──tree───▶ Tree: sorted (path, kind, mode, blake3, size), overlaid with earlier outputs
//!                ──key────▶ CacheKey: command, shell, image digest, env, secret names, workdir, inputs
//!                ──store──▶ content-addressed objects + one entry per key (atomic, locked, LRU)
//!                ──remote─▶ the same layout on S3-compatible storage (pull on miss, push after save)
//! ```
//!
//! `actions_cache` gives `actions/cache` its semantics (key, restore-keys, paths) on the
//! same store. Everything here works from host state alone, so that the engine decides a
//! hit or a miss before it starts any container.

pub mod actions_cache;
pub mod index;
pub mod key;
pub mod remote;
pub mod store;
pub mod tree;

pub use index::FileIndex;
pub use key::{CacheKey, KeyInput};
pub use remote::{Remote, RemoteConfig};
pub use store::{Entry, SaveMeta, SaveOptions, StepRef, Store, StoreError};
pub use tree::{EntryKind, Tree, TreeEntry, TreeError};

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

/// Parses a size such as `20G`, `500M`, `1.5GB`, `4096` (bytes). Units are decimal
/// (K = 1000); `Ki`, `Mi`, `Gi`, `Ti` are binary.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("expected a size such as 20G or 500M, found `{text}`"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        "ki" => 1 << 10,
        "mi" => 1 << 20,
        "gi" => 1 << 30,
        "ti" => 1 << 40,
        _ => return Err(format!("unknown size unit in `{text}` (use K, M, G or T)")),
    };
    Ok((number * factor as f64).round() as u64)
}

/// A size for people: `512 B`, `3.4 MB`, `20.0 GB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An age for people: `45s`, `12m`, `3h`, `2d`.
pub fn format_age(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Emits a warning: where the store's warnings go.
pub type WarnFn = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The default sink: `warning: …` on stderr.
pub fn stderr_warnings() -> WarnFn {
    std::sync::Arc::new(|message: &str| eprintln!("warning: {message}"))
}
