//! The tar blobs of the mailbox. Every blob holds one tree whose root entry
//! is named [`ROOT`] and stands for the path it is unpacked at, so a file
//! and a directory travel the same way.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

pub const ROOT: &str = "x";

/// A file or a directory tree, packed under [`ROOT`] into `out`; false
/// when it does not exist.
pub fn pack_path(path: &Path, out: &mut File) -> std::io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    if meta.is_dir() {
        builder.append_dir_all(ROOT, path)?;
    } else {
        builder.append_path_with_name(path, ROOT)?;
    }
    builder.finish()?;
    Ok(true)
}

/// The regular files directly inside `dir`, packed as `ROOT/<name>`.
pub fn pack_dir_files(dir: &Path, out: &mut File) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return builder.finish(),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let name = format!("{ROOT}/{}", entry.file_name().to_string_lossy());
            builder.append_path_with_name(entry.path(), name)?;
        }
    }
    builder.finish()
}

/// Files given by absolute path and contents, packed so that unpacking at
/// `/` writes each one where it belongs.
pub fn pack_files(files: &[(String, Vec<u8>, u32)], out: &mut File) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    for (path, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        let name = format!("{ROOT}/{}", path.trim_start_matches('/'));
        builder.append_data(&mut header, name, contents.as_slice())?;
    }
    builder.finish()
}

/// A new blob file to pack into, removed when dropped.
pub fn blob_file() -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::NamedTempFile::new()
}

/// Unpacks a blob at `target`: the root entry becomes `target` itself.
/// Files come out as they stream from the blob; a file no larger than
/// [`TRANSFORM_LIMIT`] first passes through `transform` (the agent puts
/// secret values back into the step files the controller wrote).
pub fn unpack_at(
    blob: &Path,
    target: &Path,
    transform: &dyn Fn(Vec<u8>) -> Vec<u8>,
) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(File::open(blob)?);
    archive.set_preserve_permissions(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let relative = relative_to_root(&name)?;
        let dest = if relative.as_os_str().is_empty() {
            target.to_path_buf()
        } else {
            target.join(&relative)
        };
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&dest)?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(&dest);
        if kind.is_file() && entry.size() <= TRANSFORM_LIMIT {
            let mode = entry.header().mode().unwrap_or(0o644);
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents)?;
            std::fs::write(&dest, transform(contents))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode & 0o7777))?;
        } else {
            entry.unpack(&dest)?;
        }
    }
    Ok(())
}

/// Files larger than this are not passed through `unpack_at`'s transform:
/// step files are small; datasets stream straight to disk.
const TRANSFORM_LIMIT: u64 = 1 << 20;

/// The regular files of a blob's root directory, by name.
pub fn files_of(blob: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(File::open(blob)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let relative = relative_to_root(&entry.path()?)?;
        let name = relative.to_string_lossy().to_string();
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents)?;
        files.insert(name, contents);
    }
    Ok(files)
}

/// The contents of a blob that holds one regular file; None for a directory.
pub fn single_file(blob: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut archive = tar::Archive::new(File::open(blob)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.as_os_str() == ROOT && entry.header().entry_type().is_file() {
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents)?;
            return Ok(Some(contents));
        }
    }
    Ok(None)
}

/// `x/a/b` → `a/b`; refuses names outside the root (`..`, absolute).
fn relative_to_root(name: &Path) -> std::io::Result<PathBuf> {
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("tar entry `{}` is outside the blob's root", name.display()),
        )
    };
    let rest = name.strip_prefix(ROOT).map_err(|_| bad())?;
    if rest
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad());
    }
    Ok(rest.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(path: &Path) -> Option<tempfile::NamedTempFile> {
        let mut blob = blob_file().unwrap();
        pack_path(path, blob.as_file_mut()).unwrap().then_some(blob)
    }

    #[test]
    fn a_directory_and_a_file_unpack_at_their_target() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        std::fs::create_dir_all(source.join("sub")).unwrap();
        std::fs::write(source.join("sub/a.txt"), "a").unwrap();
        std::fs::write(source.join("top.txt"), "top").unwrap();
        let blob = packed(&source).unwrap();
        let target = dir.path().join("copy");
        unpack_at(blob.path(), &target, &|c| c).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("sub/a.txt")).unwrap(),
            "a"
        );
        let file = packed(&source.join("top.txt")).unwrap();
        assert_eq!(single_file(file.path()).unwrap(), Some(b"top".to_vec()));
        unpack_at(file.path(), &dir.path().join("one.txt"), &|c| c).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("one.txt")).unwrap(),
            "top"
        );
        assert!(packed(&dir.path().join("missing")).is_none());
        let mut listing = blob_file().unwrap();
        pack_dir_files(&source, listing.as_file_mut()).unwrap();
        let listed = files_of(listing.path()).unwrap();
        assert_eq!(listed.keys().collect::<Vec<_>>(), ["top.txt"]);
    }
}
