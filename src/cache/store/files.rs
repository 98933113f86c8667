//! File-system chores of the store: temporary names that carry their writer's process
//! id, telling whether that writer still runs, and removing read-only trees.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::error::{StoreError, io};

/// Removes a file or a directory tree, making read-only directories writable first.
pub(crate) fn make_writable_and_remove(path: &Path) {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return;
    };
    if metadata.is_dir() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
        if let Ok(items) = std::fs::read_dir(path) {
            for item in items.flatten() {
                make_writable_and_remove(&item.path());
            }
        }
        let _ = std::fs::remove_dir(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether the process that named a temporary file `what.<pid>.…` still runs. Names
/// without a process id come from no writer of this version: stale. Where `/proc` is
/// missing nothing can be told, and every writer counts as alive. A cache shared by
/// processes of several pid namespaces (containers) should be trimmed by `gc` only
/// while none of them runs.
pub(super) fn writer_alive(name: &str) -> bool {
    let Some(pid) = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    pid == std::process::id()
        || !Path::new("/proc/self").exists()
        || Path::new(&format!("/proc/{pid}")).exists()
}

/// A name no other process or thread picks: `what.pid.nanos.counter`.
pub(super) fn unique_name(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{what}.{}.{nanos}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Copies `source` (open) to a new file `dest`, hashing what it reads in the
/// same pass: what a restore and a save both need, so that an object is read
/// once. Returns the hash and how many bytes it took.
pub(super) fn copy_hashing(
    input: &mut std::fs::File,
    source: &Path,
    dest: &Path,
) -> Result<(blake3::Hash, u64), StoreError> {
    use std::io::{Read, Write};
    let mut output = std::fs::File::create(dest).map_err(io(dest))?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(source)(e)),
        };
        hasher.update(&buffer[..n]);
        output.write_all(&buffer[..n]).map_err(io(dest))?;
        total += n as u64;
    }
    Ok((hasher.finalize(), total))
}
