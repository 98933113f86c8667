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
//! well-formed hashes (a model entry's files hash to the tree hash in its key), and every
//! object it names is there with its content's hash: read and hashed once per process,
//! not vouched for by a stat (`verify`); a corrupt object is removed and the entry is a
//! miss.
//!
//! One file per concern: `entry` (the entry and its checks), `cache_dir` (the opened
//! directory, its paths and lock), `save`, `lookup`, `restore`, `gc`, and `transfer`
//! (what the remote cache reads and writes), `outside` (temporary files beside a restore's or a
//! pull's destination, swept after a killed writer); `error`, `files` and `verify` are shared
//! below them.

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
mod verify;

pub use cache_dir::{Store, WarnFn, stderr_warnings};
pub use entry::{ENTRY_FORMAT, Entry, MODEL_KEY_PREFIX, StepRef, entry_file_name, now_ms};
pub(crate) use entry::{check_safe, valid_hash};
pub use error::StoreError;
pub use gc::{GcReport, remove_stale_temp_in};
pub use restore::RestoreStats;
pub use save::{SaveMeta, SaveOptions};
