//! One runner image's definition: its build context (the files of its
//! directory), how it is made, and its content hash.

use std::path::Path;

use super::error::{ImageError, io_err};

/// Label holding an image's content hash.
pub const HASH_LABEL: &str = "dev.mlci.image.hash";
/// Label holding the name of the `runner-images/` entry an image was built from.
pub const NAME_LABEL: &str = "dev.mlci.image.name";

/// Bumped when the way images are built changes in a way the files do not show
/// (for the base: what `build_debootstrap` and `prepare_rootfs` do).
const HASH_VERSION: &str = "mlci-image-hash-v2";

/// One file of an image's directory (its build context).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextFile {
    /// Path relative to the image's directory, with `/` separators.
    pub path: String,
    /// Unix permission bits (0o644 or 0o755).
    pub mode: u32,
    pub data: Vec<u8>,
}

/// How an image is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// `debootstrap --variant=minbase` of a Debian suite, imported as an image.
    /// The directory holds `packages` (the `--include` list), `image-config`
    /// (Dockerfile instructions for the import) and `rootfs/` (files laid over
    /// the bootstrapped tree).
    Debootstrap { suite: String },
    /// `docker build` of the directory (its `Dockerfile`).
    Dockerfile,
}

/// One runner image.
#[derive(Clone, Debug)]
pub struct ImageDef {
    /// Short name, as on the command line: `base`, `python-ml`, `cuda-train`.
    pub name: String,
    /// Tag of the built image, e.g. `mlci/python-ml:latest`.
    pub tag: String,
    pub kind: ImageKind,
    /// Names of the images this one is built from; built first.
    pub deps: Vec<String>,
    /// Built by `mlci images build` with no names.
    pub default: bool,
    pub files: Vec<ContextFile>,
}

impl ImageDef {
    /// An image whose files are read from `dir` (recursively; symlinks are skipped).
    pub fn from_dir(
        name: &str,
        tag: &str,
        kind: ImageKind,
        deps: &[&str],
        default: bool,
        dir: &Path,
    ) -> Result<ImageDef, ImageError> {
        let mut files = Vec::new();
        read_tree(dir, "", &mut files)?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(ImageDef {
            name: name.to_string(),
            tag: tag.to_string(),
            kind,
            deps: deps.iter().map(|s| s.to_string()).collect(),
            default,
            files,
        })
    }

    pub(super) fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.data.as_slice())
    }

    /// The Debian packages its `packages` file lists (one a line, `#` comments).
    pub(super) fn packages(&self) -> Vec<String> {
        self.file("packages")
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The content hash: the files (path, mode, content) and the `inputs`
    /// (for a dependent image, the ids of the images it is built from).
    pub fn content_hash(&self, inputs: &[(String, String)]) -> String {
        let mut h = blake3::Hasher::new();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(HASH_VERSION.as_bytes());
        field(format!("{:?}", self.kind).as_bytes());
        let mut files: Vec<&ContextFile> = self.files.iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for f in files {
            field(f.path.as_bytes());
            field(&f.mode.to_le_bytes());
            field(&f.data);
        }
        for (k, v) in inputs {
            field(k.as_bytes());
            field(v.as_bytes());
        }
        h.finalize().to_hex().to_string()
    }
}

pub(super) fn read_tree(
    dir: &Path,
    rel: &str,
    out: &mut Vec<ContextFile>,
) -> Result<(), ImageError> {
    let entries = std::fs::read_dir(dir).map_err(io_err(format!("reading {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_err(format!("reading {}", dir.display())))?;
        let ty = entry
            .file_type()
            .map_err(io_err(format!("reading {}", entry.path().display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if ty.is_dir() {
            read_tree(&entry.path(), &path, out)?;
        } else if ty.is_file() {
            let data = std::fs::read(entry.path())
                .map_err(io_err(format!("reading {}", entry.path().display())))?;
            out.push(ContextFile {
                path,
                mode: file_mode(&entry.path()),
                data,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn file_mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(p) {
        Ok(m) if m.permissions().mode() & 0o111 != 0 => 0o755,
        _ => 0o644,
    }
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> u32 {
    0o644
}
