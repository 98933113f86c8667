//! The file hash index: BLAKE3 of a file remembered by what `stat` says of it, so that
//! a large unchanged input costs a stat and a hash-map lookup, never a re-read (as DVC's
//! state database does).
//!
//! A file's identity is (device, inode, size, mtime ns), as in DVC's state database.
//! Writing to a file changes its mtime. The ctime is left out on purpose: a hard link
//! changes it without changing a byte, and mlci hard-links the repository into each
//! run's snapshot and store objects into read-only trees, so a ctime in the stamp would
//! re-read every large input on every run. The price: a file rewritten and then
//! back-dated with `touch -d` to the same nanosecond keeps its old hash.
//!
//! On disk the index is one binary file, `<cache>/index.bin`: a header and fixed-size
//! records, read in one go. It is saved by writing a temporary file and renaming it,
//! under an exclusive lock on `<cache>/index.lock`, merging what another process saved
//! meanwhile, so two runs on one cache each keep what the other learnt.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const MAGIC: &[u8; 8] = b"MLCIIDX1";
const RECORD: usize = 8 * 5 + 32;
/// Past this many records the oldest half (by insertion into the file) is dropped.
const MAX_RECORDS: usize = 2_000_000;

/// What `stat` says of a file, the key of the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

impl FileStamp {
    pub fn of(metadata: &Metadata) -> FileStamp {
        FileStamp {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
        }
    }
}

/// File hashes by [`FileStamp`]; shared by every thread of a run.
#[derive(Debug)]
pub struct FileIndex {
    path: Option<PathBuf>,
    entries: Mutex<HashMap<FileStamp, [u8; 32]>>,
    dirty: AtomicBool,
    bytes_hashed: AtomicU64,
}

impl FileIndex {
    /// An index that lives only in memory (nothing is saved).
    pub fn in_memory() -> FileIndex {
        FileIndex {
            path: None,
            entries: Mutex::new(HashMap::new()),
            dirty: AtomicBool::new(false),
            bytes_hashed: AtomicU64::new(0),
        }
    }

    /// Loads `<cache_dir>/index.bin`; a missing or unreadable index starts empty (it is
    /// only a memo: losing it costs re-reading files once, never a wrong hash).
    pub fn open(cache_dir: &Path) -> FileIndex {
        let path = cache_dir.join("index.bin");
        let entries = read_index(&path).unwrap_or_default();
        FileIndex {
            path: Some(path),
            entries: Mutex::new(entries),
            dirty: AtomicBool::new(false),
            bytes_hashed: AtomicU64::new(0),
        }
    }

    /// How many bytes this index has read to hash files since it was opened.
    pub fn bytes_hashed(&self) -> u64 {
        self.bytes_hashed.load(Ordering::Relaxed)
    }

    /// Number of remembered files.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileStamp, [u8; 32]>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered hash of a file with this metadata, if any.
    pub fn get(&self, metadata: &Metadata) -> Option<blake3::Hash> {
        self.lock()
            .get(&FileStamp::of(metadata))
            .map(|h| blake3::Hash::from_bytes(*h))
    }

    /// Remembers the hash of a file (one that mlci just wrote and hashed itself).
    pub fn record(&self, metadata: &Metadata, hash: blake3::Hash) {
        self.lock()
            .insert(FileStamp::of(metadata), *hash.as_bytes());
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The BLAKE3 of the regular file at `path` whose metadata is `metadata`: from the
    /// index when its stamp is known, else read, hashed and remembered.
    pub fn hash_file(&self, path: &Path, metadata: &Metadata) -> std::io::Result<blake3::Hash> {
        if let Some(hash) = self.get(metadata) {
            return Ok(hash);
        }
        let (hash, read) = hash_reader(File::open(path)?)?;
        self.bytes_hashed.fetch_add(read, Ordering::Relaxed);
        // The file may have changed while it was read: remember the hash only when the
        // stamp is still the one that was looked up.
        if let Ok(after) = std::fs::symlink_metadata(path)
            && FileStamp::of(&after) == FileStamp::of(metadata)
        {
            self.record(metadata, hash);
        }
        Ok(hash)
    }

    /// Whether the file at `path` has the BLAKE3 `expected`: a stat when the index knows
    /// the file, else a read (counted in [`FileIndex::bytes_hashed`]).
    pub fn verify(&self, path: &Path, expected: &str) -> std::io::Result<bool> {
        let metadata = std::fs::symlink_metadata(path)?;
        if !metadata.is_file() {
            return Ok(false);
        }
        Ok(self.hash_file(path, &metadata)?.to_hex().as_str() == expected)
    }

    /// Adds bytes read elsewhere (a copy that hashed as it went) to the counter.
    pub(crate) fn count_hashed(&self, bytes: u64) {
        self.bytes_hashed.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Saves the index if it learnt anything: merges with the file on disk under an
    /// exclusive lock, writes a temporary file and renames it into place.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let lock = File::create(dir.join("index.lock"))?;
        fs4::FileExt::lock(&lock)?;
        let mut merged = read_index(path).unwrap_or_default();
        merged.extend(self.lock().iter().map(|(k, v)| (*k, *v)));
        if merged.len() > MAX_RECORDS {
            let excess = merged.len() - MAX_RECORDS / 2;
            let drop: Vec<FileStamp> = merged.keys().take(excess).copied().collect();
            for key in drop {
                merged.remove(&key);
            }
        }
        let mut bytes = Vec::with_capacity(MAGIC.len() + 8 + merged.len() * RECORD);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(merged.len() as u64).to_le_bytes());
        for (stamp, hash) in &merged {
            bytes.extend_from_slice(&stamp.dev.to_le_bytes());
            bytes.extend_from_slice(&stamp.ino.to_le_bytes());
            bytes.extend_from_slice(&stamp.size.to_le_bytes());
            bytes.extend_from_slice(&stamp.mtime_ns.to_le_bytes());
            // Formerly the ctime; kept so that the record size stays.
            bytes.extend_from_slice(&0u64.to_le_bytes());
            bytes.extend_from_slice(hash);
        }
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(&bytes)?;
        temp.persist(path).map_err(|e| e.error)?;
        *self.lock() = merged;
        fs4::FileExt::unlock(&lock)?;
        Ok(())
    }
}

impl Drop for FileIndex {
    fn drop(&mut self) {
        let _ = self.save();
    }
}

fn read_index(path: &Path) -> Option<HashMap<FileStamp, [u8; 32]>> {
    let mut bytes = Vec::new();
    File::open(path).ok()?.read_to_end(&mut bytes).ok()?;
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return None;
    }
    let count = u64::from_le_bytes(bytes[8..16].try_into().ok()?) as usize;
    let body = &bytes[16..];
    if body.len() != count.checked_mul(RECORD)? {
        return None;
    }
    let mut map = HashMap::with_capacity(count);
    for record in body.chunks_exact(RECORD) {
        let word = |i: usize| u64::from_le_bytes(record[i * 8..i * 8 + 8].try_into().unwrap());
        let stamp = FileStamp {
            dev: word(0),
            ino: word(1),
            size: word(2),
            mtime_ns: word(3) as i64,
        };
        map.insert(stamp, record[40..72].try_into().unwrap());
    }
    Some(map)
}

/// BLAKE3 of everything a reader yields, and how many bytes that was.
pub(crate) fn hash_reader(mut reader: impl Read) -> std::io::Result<(blake3::Hash, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize(), total))
}
