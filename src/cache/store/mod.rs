//! The local store: content-addressed objects and one entry per cache key.
//!
//! ```text
//! <dir>/objects/ab/cdef…    file contents by BLAKE3, read-only, shared by all entries
//! <dir>/entries/<key>.json  key → outputs tree, step outputs, metrics, exit data, use
//! <dir>/trees/<tree hash>/  read-only materialised trees for read-only bind mounts
//! <dir>/tmp/                files being written (same file system: renames are atomic)
//! <dir>/index.bin           the file hash index (see `index`)
//! <dir>/lock                shared by saves, lookups and restores; exclusive for gc and rm
//! ```
//!
//! Writes are atomic: an object is written to `tmp/`, synced and renamed into place; the
//! entry is written last, the same way. A process killed at any point leaves at most
//! temporary files (removed by the next run or `gc`) and objects no entry names, never an entry
//! that looks valid. Lookups verify: the entry parses, names only safe paths and
//! well-formed hashes, and every object it names is there with its hash, checked by a
//! stat against the index (a file written to since it was stored has a new mtime and is
//! re-read and re-hashed).
//!
//! One file per concern: `entry` (the entry and its checks), `cache_dir` (the opened
//! directory, its paths and lock), `save`, `lookup`, `restore`, `gc`, and `transfer`
//! (what the remote cache reads and writes), `outside` (temporary files beside a restore's or a
//! pull's destination, swept after a killed writer); `error` and `files` are shared below them.

mod cache_dir;
mod entry;
mod error;
mod files;
mod gc;
mod lookup;
mod outside;
mod restore;
mod save;
mod transfer;

pub use cache_dir::{Store, WarnFn, stderr_warnings};
pub use entry::{ENTRY_FORMAT, Entry, MODEL_KEY_PREFIX, StepRef, entry_file_name, now_ms};
pub(crate) use entry::{check_safe, valid_hash};
pub use error::StoreError;
pub use gc::GcReport;
pub use restore::RestoreStats;
pub use save::{SaveMeta, SaveOptions};
