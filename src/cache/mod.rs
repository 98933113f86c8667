//! The step cache: never redo unchanged work.
//!
//! The modules follow the flow of a cached step:
//!
//! ```text
//! inputs on disk ──index──▶ file hashes by (dev, inode, size, mtime): a stat, not a read
//!                ──tree───▶ Tree: sorted (path, kind, mode, blake3, size), overlaid with earlier outputs
//!                ──key────▶ CacheKey: command, shell, image digest, env, workdir, inputs
//!                           (a part that carries a secret value enters sealed: `secret_key`)
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
mod location;
pub mod remote;
mod secret_key;
pub mod store;
pub mod tree;
mod units;

pub use index::FileIndex;
pub use key::{CacheKey, KeyInput};
pub use location::{DEFAULT_MAX_SIZE, default_cache_dir};
pub use remote::{Remote, RemoteConfig};
pub use secret_key::SecretKey;
pub use store::{
    Entry, MODEL_KEY_PREFIX, SaveMeta, SaveOptions, StepRef, Store, StoreError, WarnFn, now_ms,
    stderr_warnings,
};
pub use tree::{EntryKind, Tree, TreeEntry, TreeError};
pub use units::{format_age, format_size, parse_size};
