//! Runner images: `mlci images build` and `mlci images ls`.
//!
//! No registry is assumed to be reachable, so every image is built locally:
//!
//! - `base` (`mlci/debian:bookworm`) is bootstrapped with `debootstrap` from
//!   Debian's mirror (`MLCI_DEBIAN_MIRROR`, default `http://deb.debian.org/debian`),
//!   packed with `tar` and imported through the engine's `POST /images/create?fromSrc=-`
//!   (bollard's `create_image` with a body: the API behind `docker import`);
//! - `python-ml` and `cuda-train` are `docker build`s of `runner-images/<name>/`
//!   on top of the base, through the engine's build API.
//!
//! Every image carries the label [`HASH_LABEL`]: a hash of its directory's
//! content (and of the image ids of the images it is built from). An image whose
//! label matches is reused; `force` rebuilds.
//!
//! The directories are compiled into the binary, so `mlci images build` works from
//! anywhere; `MLCI_RUNNER_IMAGES=<dir>` builds from a checkout's `runner-images/`
//! instead (to try changes without recompiling).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// Label holding an image's content hash.
pub const HASH_LABEL: &str = "dev.mlci.image.hash";
/// Label holding the name of the `runner-images/` entry an image was built from.
pub const NAME_LABEL: &str = "dev.mlci.image.name";

pub const BASE_TAG: &str = "mlci/debian:bookworm";
pub const PYTHON_ML_TAG: &str = "mlci/python-ml:latest";
pub const CUDA_TRAIN_TAG: &str = "mlci/cuda-train:latest";
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// Bumped when the way images are built changes in a way the files do not show
/// (for the base: what `build_debootstrap` and `prepare_rootfs` do).
const HASH_VERSION: &str = "mlci-image-hash-v2";
/// Tags of imports in progress: `<repo>:incomplete-<pid>-<nanos>`.
const INCOMPLETE_PREFIX: &str = "incomplete-";
/// How many lines of output a failed build quotes.
const TAIL_LINES: usize = 25;

/// The `runs-on` labels that map to runner images by default (`-P label=image` overrides).
pub fn default_label_images() -> Vec<(&'static str, &'static str)> {
    vec![
        ("python-ml", PYTHON_ML_TAG),
        ("ubuntu-latest", PYTHON_ML_TAG),
        ("ubuntu-22.04", PYTHON_ML_TAG),
        ("ubuntu-24.04", PYTHON_ML_TAG),
        ("cuda-train", CUDA_TRAIN_TAG),
        ("gpu", CUDA_TRAIN_TAG),
    ]
}

// ---------------------------------------------------------------------------
// Errors

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "cannot reach the Docker engine ({0}): start Docker, or set DOCKER_HOST to a running engine"
    )]
    Engine(String),
    #[error("unknown image `{name}`: the images are {known}")]
    UnknownImage { name: String, known: String },
    #[error(
        "debootstrap is not installed: install it with `apt-get install -y debootstrap` (it builds the base image mlci/debian:bookworm), then run `mlci images build` again"
    )]
    DebootstrapMissing,
    #[error(
        "building the base image mlci/debian:bookworm runs debootstrap, which needs root: run `sudo mlci images build`"
    )]
    NotRoot,
    #[error("{what} failed: {message}{}", quote_tail(.tail))]
    Failed {
        what: String,
        message: String,
        tail: Vec<String>,
    },
    #[error("{tag} is not built: {hint}")]
    Missing { tag: String, hint: String },
    #[error("Docker engine error while {doing}: {source}")]
    Docker {
        doing: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid image definition: {0}")]
    Definition(String),
}

fn quote_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nlast lines of output:");
    for l in tail {
        s.push_str("\n  | ");
        s.push_str(l);
    }
    s
}

fn io_err(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
    let doing = doing.into();
    move |source| ImageError::Io { doing, source }
}

fn docker_err(doing: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> ImageError {
    let doing = doing.into();
    move |source| ImageError::Docker { doing, source }
}

// ---------------------------------------------------------------------------
// Image definitions

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

    fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.data.as_slice())
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

fn read_tree(dir: &Path, rel: &str, out: &mut Vec<ContextFile>) -> Result<(), ImageError> {
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

macro_rules! embed {
    ($($p:literal),* $(,)?) => {
        &[$(($p, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/runner-images/", $p)) as &[u8])),*]
    };
}

/// `runner-images/` as compiled into the binary (a test checks that this list
/// matches the directory).
pub const EMBEDDED_FILES: &[(&str, &[u8])] = embed!(
    "base/packages",
    "base/image-config",
    "base/rootfs/etc/apt/apt.conf.d/90mlci",
    "base/rootfs/etc/dpkg/dpkg.cfg.d/90mlci-excludes",
    "python-ml/Dockerfile",
    "cuda-train/Dockerfile",
);

/// The built-in images: (name, tag, kind, deps, default).
fn builtin_table() -> Vec<(
    &'static str,
    &'static str,
    ImageKind,
    Vec<&'static str>,
    bool,
)> {
    vec![
        (
            "base",
            BASE_TAG,
            ImageKind::Debootstrap {
                suite: "bookworm".into(),
            },
            vec![],
            true,
        ),
        (
            "python-ml",
            PYTHON_ML_TAG,
            ImageKind::Dockerfile,
            vec!["base"],
            true,
        ),
        (
            "cuda-train",
            CUDA_TRAIN_TAG,
            ImageKind::Dockerfile,
            vec!["base"],
            false,
        ),
    ]
}

/// A set of images that can be built together.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    defs: Vec<ImageDef>,
}

impl Catalog {
    /// The images of `runner-images/` as compiled into the binary.
    pub fn builtin() -> Catalog {
        let defs = builtin_table()
            .into_iter()
            .map(|(name, tag, kind, deps, default)| {
                let prefix = format!("{name}/");
                let files = EMBEDDED_FILES
                    .iter()
                    .filter_map(|(p, data)| {
                        p.strip_prefix(&prefix).map(|rel| ContextFile {
                            path: rel.to_string(),
                            mode: if rel.ends_with(".sh") { 0o755 } else { 0o644 },
                            data: data.to_vec(),
                        })
                    })
                    .collect();
                ImageDef {
                    name: name.into(),
                    tag: tag.into(),
                    kind,
                    deps: deps.into_iter().map(String::from).collect(),
                    default,
                    files,
                }
            })
            .collect();
        Catalog { defs }
    }

    /// The built-in images, with their files read from `root/<name>/`.
    pub fn from_dir(root: &Path) -> Result<Catalog, ImageError> {
        let mut defs = Vec::new();
        for (name, tag, kind, deps, default) in builtin_table() {
            defs.push(ImageDef::from_dir(
                name,
                tag,
                kind,
                &deps,
                default,
                &root.join(name),
            )?);
        }
        Ok(Catalog { defs })
    }

    /// `MLCI_RUNNER_IMAGES=<dir>` when set, the compiled-in images otherwise.
    pub fn load() -> Result<Catalog, ImageError> {
        match std::env::var_os("MLCI_RUNNER_IMAGES") {
            Some(dir) if !dir.is_empty() => Catalog::from_dir(Path::new(&dir)),
            _ => Ok(Catalog::builtin()),
        }
    }

    /// Adds (or replaces, by name) an image.
    pub fn add(&mut self, def: ImageDef) {
        self.defs.retain(|d| d.name != def.name);
        self.defs.push(def);
    }

    pub fn images(&self) -> &[ImageDef] {
        &self.defs
    }

    pub fn get(&self, name_or_tag: &str) -> Option<&ImageDef> {
        self.defs
            .iter()
            .find(|d| d.name == name_or_tag || d.tag == name_or_tag)
    }

    /// The images to build for `names` (the default images when empty), each
    /// after the images it is built from.
    fn plan(&self, names: &[String]) -> Result<Vec<&ImageDef>, ImageError> {
        let wanted: Vec<&ImageDef> = if names.is_empty() {
            self.defs.iter().filter(|d| d.default).collect()
        } else {
            names
                .iter()
                .map(|n| {
                    self.get(n).ok_or_else(|| ImageError::UnknownImage {
                        name: n.clone(),
                        known: self
                            .defs
                            .iter()
                            .map(|d| format!("`{}`", d.name))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let mut order: Vec<&ImageDef> = Vec::new();
        for d in wanted {
            self.visit(d, &mut order, &mut Vec::new())?;
        }
        Ok(order)
    }

    fn visit<'a>(
        &'a self,
        d: &'a ImageDef,
        order: &mut Vec<&'a ImageDef>,
        stack: &mut Vec<String>,
    ) -> Result<(), ImageError> {
        if order.iter().any(|o| o.name == d.name) {
            return Ok(());
        }
        if stack.contains(&d.name) {
            return Err(ImageError::Definition(format!(
                "images depend on each other in a cycle: {} -> {}",
                stack.join(" -> "),
                d.name
            )));
        }
        stack.push(d.name.clone());
        for dep in &d.deps {
            let dd = self.get(dep).ok_or_else(|| {
                ImageError::Definition(format!("`{}` needs unknown image `{dep}`", d.name))
            })?;
            self.visit(dd, order, stack)?;
        }
        stack.pop();
        order.push(d);
        Ok(())
    }

    /// The hash inputs besides the files: the ids of the dependencies, and for
    /// the base the mirror (it ends up in `sources.list`).
    fn hash_inputs(
        &self,
        d: &ImageDef,
        dep_ids: &HashMap<String, String>,
    ) -> Option<Vec<(String, String)>> {
        let mut inputs = Vec::new();
        if let ImageKind::Debootstrap { .. } = d.kind {
            inputs.push(("mirror".to_string(), mirror()));
            for (name, pem) in host_ca_certs() {
                inputs.push((
                    format!("host-ca:{name}"),
                    blake3::hash(&pem).to_hex().to_string(),
                ));
            }
        }
        for dep in &d.deps {
            inputs.push((format!("dep:{dep}"), dep_ids.get(dep)?.clone()));
        }
        Some(inputs)
    }

    /// Builds `names` (the default images when empty) and what they need.
    /// `force` rebuilds the named images (all of the default ones when no names
    /// are given) even when up to date; dependencies are reused when up to date.
    pub async fn build(
        &self,
        docker: &Docker,
        names: &[String],
        force: bool,
        progress: &Progress,
    ) -> Result<Vec<BuiltImage>, ImageError> {
        let plan = self.plan(names)?;
        let forced: Vec<&str> = if !force {
            vec![]
        } else if names.is_empty() {
            plan.iter().map(|d| d.name.as_str()).collect()
        } else {
            names
                .iter()
                .filter_map(|n| self.get(n))
                .map(|d| d.name.as_str())
                .collect()
        };
        // One build at a time in this process: tests and callers share the engine's tags.
        let _guard = BUILD_LOCK.lock().await;
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for d in plan {
            let inputs = self
                .hash_inputs(d, &ids)
                .expect("dependencies are built first");
            let hash = d.content_hash(&inputs);
            let force_this = forced.contains(&d.name.as_str());
            let built = build_one(docker, d, &hash, force_this, progress).await?;
            ids.insert(d.name.clone(), built.id.clone());
            out.push(built);
        }
        Ok(out)
    }

    /// The state of every image of the catalog in the engine.
    pub async fn status(&self, docker: &Docker) -> Result<Vec<ImageStatus>, ImageError> {
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        let all: Vec<String> = self.defs.iter().map(|d| d.name.clone()).collect();
        for d in self.plan(&all)? {
            let present = inspect(docker, &d.tag).await?;
            let expected = self.hash_inputs(d, &ids).map(|i| d.content_hash(&i));
            let up_to_date = match (&present, &expected) {
                (Some(p), Some(e)) => p.hash.as_deref() == Some(e.as_str()),
                _ => false,
            };
            if let Some(p) = &present {
                ids.insert(d.name.clone(), p.id.clone());
            }
            out.push(ImageStatus {
                name: d.name.clone(),
                tag: d.tag.clone(),
                default: d.default,
                present,
                up_to_date,
            });
        }
        // Keep the catalog's order for display.
        out.sort_by_key(|s| self.defs.iter().position(|d| d.name == s.name));
        Ok(out)
    }
}

static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where the host's administrator adds certificate authorities (Debian's
/// `update-ca-certificates`).
const HOST_CA_DIR: &str = "/usr/local/share/ca-certificates";

/// The host's locally added CA certificates (`*.crt` under
/// `/usr/local/share/ca-certificates`), sorted by name: the base image trusts
/// them too, so that jobs reach PyPI and the like through the same TLS-inspecting
/// proxy the host uses. `MLCI_HOST_CA_CERTS=0` leaves them out.
pub fn host_ca_certs() -> Vec<(String, Vec<u8>)> {
    if std::env::var("MLCI_HOST_CA_CERTS").is_ok_and(|v| v == "0" || v == "false") {
        return vec![];
    }
    let mut files = Vec::new();
    let _ = read_tree(Path::new(HOST_CA_DIR), "", &mut files);
    let mut out: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|f| f.path.ends_with(".crt"))
        .map(|f| (f.path.replace('/', "_"), f.data))
        .collect();
    out.sort();
    out
}

fn mirror() -> String {
    match std::env::var("MLCI_DEBIAN_MIRROR") {
        Ok(m) if !m.trim().is_empty() => m.trim().trim_end_matches('/').to_string(),
        _ => DEFAULT_MIRROR.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Results

/// An image that `build` made or found up to date.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub name: String,
    pub tag: String,
    /// `sha256:…`
    pub id: String,
    /// The content hash ([`HASH_LABEL`]).
    pub hash: String,
    /// Size in bytes, as the engine reports it.
    pub size: i64,
    /// True when the existing image was up to date and nothing was built.
    pub reused: bool,
    pub elapsed: Duration,
}

/// An image as the engine has it.
#[derive(Clone, Debug)]
pub struct PresentImage {
    pub id: String,
    pub size: i64,
    /// RFC 3339, as the engine reports it.
    pub created: Option<String>,
    pub hash: Option<String>,
}

/// One line of `mlci images ls`.
#[derive(Clone, Debug)]
pub struct ImageStatus {
    pub name: String,
    pub tag: String,
    pub default: bool,
    pub present: Option<PresentImage>,
    /// Present, and its hash label matches the current files (and base).
    pub up_to_date: bool,
}

/// Renders `mlci images ls` as a table.
pub fn render_list(list: &[ImageStatus]) -> String {
    let mut s = format!(
        "{:<12} {:<26} {:<10} {:<14} {:>9}  {}\n",
        "NAME", "TAG", "STATE", "ID", "SIZE", "BUILT BY DEFAULT"
    );
    for i in list {
        let (state, id, size) = match &i.present {
            None => ("missing", "-".to_string(), "-".to_string()),
            Some(p) => (
                if i.up_to_date { "up to date" } else { "stale" },
                short_id(&p.id).to_string(),
                human_size(p.size),
            ),
        };
        let _ = writeln!(
            s,
            "{:<12} {:<26} {:<10} {:<14} {:>9}  {}",
            i.name,
            i.tag,
            state,
            id,
            size,
            if i.default {
                "yes"
            } else {
                "no (mlci images build NAME)"
            }
        );
    }
    s
}

fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// `1.2 GB`, `412 MB`.
pub fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// `2m05s`, `3.4s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s as u64) % 60)
    } else {
        format!("{s:.1}s")
    }
}

// ---------------------------------------------------------------------------
// Entry points for the CLI and the tests

/// Connects to the engine (`DOCKER_HOST` or the local socket) and negotiates the
/// API version (the engine may be older than bollard's default).
pub async fn connect() -> Result<Docker, ImageError> {
    let docker = Docker::connect_with_defaults()
        .map_err(|e| ImageError::Engine(e.to_string()))?
        // Builds stream for minutes; the client's timeout covers whole requests.
        .with_timeout(Duration::from_secs(6 * 3600));
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| ImageError::Engine(e.to_string()))?;
    Ok(docker)
}

/// `mlci images build [NAME…] [--force]`: builds the named images (the default
/// ones, `base` and `python-ml`, when none are named) and what they are built
/// from, reusing every image whose hash label is current.
pub async fn build(
    names: &[String],
    force: bool,
    progress: &Progress,
) -> Result<Vec<BuiltImage>, ImageError> {
    let catalog = Catalog::load()?;
    catalog.plan(names)?; // unknown names fail before the engine is asked
    let docker = connect().await?;
    catalog.build(&docker, names, force, progress).await
}

/// `mlci images ls`: every known image, whether it is built and up to date.
pub async fn list() -> Result<Vec<ImageStatus>, ImageError> {
    let catalog = Catalog::load()?;
    let docker = connect().await?;
    catalog.status(&docker).await
}

/// The image the project's integration tests run jobs in: `mlci/python-ml:latest`,
/// built (with the base) when missing or stale, reused otherwise (well under a
/// second). The first build on a new machine takes a few minutes and needs
/// debootstrap and root; `MLCI_TEST_NO_BUILD=1` turns the build into an error
/// that says how to build the image.
pub async fn ensure_test_image() -> Result<String, ImageError> {
    let docker = connect().await?;
    if std::env::var("MLCI_TEST_NO_BUILD").is_ok_and(|v| !v.is_empty() && v != "0") {
        return match inspect(&docker, PYTHON_ML_TAG).await? {
            Some(_) => Ok(PYTHON_ML_TAG.to_string()),
            None => Err(ImageError::Missing {
                tag: PYTHON_ML_TAG.to_string(),
                hint: "build it once with `mlci images build` (or unset MLCI_TEST_NO_BUILD)"
                    .to_string(),
            }),
        };
    }
    let catalog = Catalog::load()?;
    catalog
        .build(
            &docker,
            &["python-ml".to_string()],
            false,
            &Progress::plain(),
        )
        .await?;
    Ok(PYTHON_ML_TAG.to_string())
}

// ---------------------------------------------------------------------------
// Progress

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Bar,
    Plain,
    Quiet,
}

/// Where build output goes: a spinner on a terminal, plain prefixed lines in
/// logs (not a terminal, or `CI` set), or nowhere.
#[derive(Clone, Debug)]
pub struct Progress {
    mode: Mode,
}

impl Progress {
    /// A spinner when stderr is a terminal and `CI` is not set; plain lines otherwise.
    pub fn auto() -> Progress {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        if std::io::stderr().is_terminal() && !ci {
            Progress { mode: Mode::Bar }
        } else {
            Progress::plain()
        }
    }
    /// Every line of output on stderr, prefixed with the image's name.
    pub fn plain() -> Progress {
        Progress { mode: Mode::Plain }
    }
    /// Nothing shown (failed builds still quote their last lines in the error).
    pub fn quiet() -> Progress {
        Progress { mode: Mode::Quiet }
    }

    fn task(&self, name: &str, what: &str) -> Task {
        let bar = (self.mode == Mode::Bar).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed}")
                    .expect("valid template"),
            );
            bar.set_prefix(name.to_string());
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if self.mode == Mode::Plain {
            eprintln!("[{name}] {what}");
        }
        Task {
            name: name.to_string(),
            mode: self.mode,
            bar,
            tail: VecDeque::new(),
            step: None,
        }
    }

    /// A one-line message (not a build's output).
    fn note(&self, msg: &str) {
        if self.mode != Mode::Quiet {
            eprintln!("{msg}");
        }
    }
}

/// Drops ANSI escape sequences (`ESC [ … letter`), e.g. the colour the classic
/// builder puts around a step's stderr.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

struct Task {
    name: String,
    mode: Mode,
    bar: Option<ProgressBar>,
    tail: VecDeque<String>,
    step: Option<String>,
}

impl Task {
    /// Output text, possibly several lines, possibly with `\r` progress redraws.
    fn output(&mut self, text: &str) {
        for line in text.split(['\n', '\r']) {
            let line = line.trim_end();
            if line.trim().is_empty() {
                continue;
            }
            self.line(line);
        }
    }

    fn line(&mut self, line: &str) {
        let stripped = strip_ansi(line);
        let line = stripped.as_str();
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
        // The classic builder announces `Step 2/4 : RUN …`.
        if let Some(rest) = line.strip_prefix("Step ")
            && let Some((n, _)) = rest.split_once(" : ")
        {
            self.step = Some(format!("step {n}"));
        }
        match self.mode {
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    let msg = match &self.step {
                        Some(s) => format!("{s} · {line}"),
                        None => line.to_string(),
                    };
                    bar.set_message(msg);
                }
            }
            Mode::Plain => eprintln!("[{}] {line}", self.name),
            Mode::Quiet => {}
        }
    }

    fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    fn finish(self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode != Mode::Quiet {
            eprintln!("{msg}");
        }
    }

    fn fail(self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

// ---------------------------------------------------------------------------
// Building

async fn inspect(docker: &Docker, tag: &str) -> Result<Option<PresentImage>, ImageError> {
    match docker.inspect_image(tag).await {
        Ok(i) => Ok(Some(PresentImage {
            id: i.id.unwrap_or_default(),
            size: i.size.unwrap_or(0),
            created: i.created.map(|c| c.to_string()),
            hash: i
                .config
                .and_then(|c| c.labels)
                .and_then(|mut l| l.remove(HASH_LABEL)),
        })),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(docker_err(format!("inspecting {tag}"))(e)),
    }
}

async fn build_one(
    docker: &Docker,
    d: &ImageDef,
    hash: &str,
    force: bool,
    progress: &Progress,
) -> Result<BuiltImage, ImageError> {
    let start = Instant::now();
    let previous = inspect(docker, &d.tag).await?;
    if !force
        && let Some(p) = previous.clone()
        && p.hash.as_deref() == Some(hash)
    {
        progress.note(&format!("{} is up to date", d.tag));
        return Ok(BuiltImage {
            name: d.name.clone(),
            tag: d.tag.clone(),
            id: p.id,
            hash: hash.to_string(),
            size: p.size,
            reused: true,
            elapsed: start.elapsed(),
        });
    }
    match &d.kind {
        ImageKind::Debootstrap { suite } => {
            build_debootstrap(docker, d, suite, hash, progress).await?
        }
        ImageKind::Dockerfile => build_dockerfile(docker, d, hash, force, progress).await?,
    }
    let p = inspect(docker, &d.tag)
        .await?
        .ok_or_else(|| ImageError::Failed {
            what: format!("building {}", d.tag),
            message: "the engine reported success but the image is not there".into(),
            tail: vec![],
        })?;
    let elapsed = start.elapsed();
    if let Some(old) = previous
        && old.id != p.id
    {
        remove_replaced(docker, &old.id).await;
    }
    progress.note(&format!(
        "built {} ({}, {}) in {}",
        d.tag,
        short_id(&p.id),
        human_size(p.size),
        human_duration(elapsed)
    ));
    Ok(BuiltImage {
        name: d.name.clone(),
        tag: d.tag.clone(),
        id: p.id,
        hash: hash.to_string(),
        size: p.size,
        reused: false,
        elapsed,
    })
}

/// Removes the image a rebuild replaced, with its untagged parents (the
/// previous build's layers), so that rebuilds do not pile up `<none>` images.
/// Best effort: an image still tagged elsewhere, or used by a container or as
/// the parent of another image, stays.
async fn remove_replaced(docker: &Docker, id: &str) {
    let _ = docker
        .remove_image(
            id,
            Some(RemoveImageOptionsBuilder::default().force(false).build()),
            None,
        )
        .await;
}

/// The build context: the image's files as a tar archive.
fn context_tar(d: &ImageDef) -> Result<Vec<u8>, ImageError> {
    let mut b = tar::Builder::new(Vec::new());
    for f in &d.files {
        let mut h = tar::Header::new_gnu();
        h.set_size(f.data.len() as u64);
        h.set_mode(f.mode);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, &f.path, f.data.as_slice())
            .map_err(io_err(format!("packing the build context of {}", d.name)))?;
    }
    b.into_inner()
        .map_err(io_err(format!("packing the build context of {}", d.name)))
}

async fn build_dockerfile(
    docker: &Docker,
    d: &ImageDef,
    hash: &str,
    nocache: bool,
    progress: &Progress,
) -> Result<(), ImageError> {
    if d.file("Dockerfile").is_none() {
        return Err(ImageError::Definition(format!(
            "`{}` has no Dockerfile",
            d.name
        )));
    }
    let context = context_tar(d)?;
    let labels = HashMap::from([
        (HASH_LABEL.to_string(), hash.to_string()),
        (NAME_LABEL.to_string(), d.name.clone()),
    ]);
    // The classic builder tags only once the whole build succeeded, so a
    // killed or failed build leaves the previous image under the tag.
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&d.tag)
        .rm(true)
        .forcerm(true)
        .nocache(nocache)
        .labels(&labels)
        .build();
    let what = format!("building {}", d.tag);
    let mut task = progress.task(&d.name, &format!("{what} (docker build)"));
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = &info.stream {
                    task.output(s);
                }
                if let Some(s) = &info.status {
                    let line = match &info.id {
                        Some(id) => format!("{id}: {s}"),
                        None => s.clone(),
                    };
                    task.output(&line);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                let tail = task.tail();
                task.fail();
                return Err(ImageError::Failed {
                    what,
                    message: error.trim().to_string(),
                    tail,
                });
            }
            Err(e) => {
                let tail = task.tail();
                task.fail();
                return Err(ImageError::Failed {
                    what,
                    message: format!("Docker engine error: {e}"),
                    tail,
                });
            }
        }
    }
    task.finish(&format!("{} built", d.tag));
    Ok(())
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `PATH` with the sbin directories added where missing.
fn sbin_path() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for d in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    std::env::join_paths(dirs).unwrap_or(path)
}

/// Reads a child's output lines into a channel.
fn pump_lines(
    reader: impl AsyncRead + Unpin + Send + 'static,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
}

fn split_repo_tag(tag: &str) -> (&str, &str) {
    match tag.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (tag, "latest"),
    }
}

async fn build_debootstrap(
    docker: &Docker,
    d: &ImageDef,
    suite: &str,
    hash: &str,
    progress: &Progress,
) -> Result<(), ImageError> {
    let debootstrap = find_program("debootstrap").ok_or(ImageError::DebootstrapMissing)?;
    if effective_uid() != Some(0) {
        return Err(ImageError::NotRoot);
    }
    let what = format!("bootstrapping {}", d.tag);
    let packages: Vec<String> = d
        .file("packages")
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let mirror = mirror();
    let (repo, final_tag) = split_repo_tag(&d.tag);
    remove_stale_incomplete(docker, repo).await;

    let tmp = tempfile::Builder::new()
        .prefix("mlci-rootfs-")
        .tempdir()
        .map_err(io_err("creating a temporary directory for the rootfs"))?;
    let rootfs = tmp.path().join("rootfs");
    let result = async {
        let mut task = progress.task(
            &d.name,
            &format!("{what}: debootstrap --variant=minbase {suite} from {mirror}"),
        );
        let mut cmd = Command::new(&debootstrap);
        // debootstrap runs chroot, arch-test and friends from the sbin directories,
        // which a non-login shell's PATH may lack.
        cmd.env("PATH", sbin_path());
        cmd.arg("--variant=minbase");
        if !packages.is_empty() {
            cmd.arg(format!("--include={}", packages.join(",")));
        }
        cmd.arg(suite)
            .arg(&rootfs)
            .arg(&mirror)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ImageError::DebootstrapMissing
            } else {
                io_err("starting debootstrap")(e)
            }
        })?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        pump_lines(child.stdout.take().expect("piped"), tx.clone());
        pump_lines(child.stderr.take().expect("piped"), tx);
        while let Some(l) = rx.recv().await {
            task.line(&l);
        }
        let status = child
            .wait()
            .await
            .map_err(io_err("waiting for debootstrap"))?;
        if !status.success() {
            let mut tail = task.tail();
            let log = rootfs.join("debootstrap/debootstrap.log");
            if let Ok(text) = std::fs::read_to_string(&log) {
                let lines: Vec<&str> = text.lines().collect();
                tail.push(format!("--- {}:", log.display()));
                tail.extend(
                    lines[lines.len().saturating_sub(10)..]
                        .iter()
                        .map(|s| s.to_string()),
                );
            }
            task.fail();
            return Err(ImageError::Failed {
                what: what.clone(),
                message: format!("debootstrap exited with {status}"),
                tail,
            });
        }
        task.line("laying rootfs/ over the tree, writing sources.list, removing caches");
        prepare_rootfs(d, &rootfs, suite, &mirror)?;
        let cas = host_ca_certs();
        if !cas.is_empty() {
            let dir = rootfs.join(HOST_CA_DIR.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
            for (name, pem) in &cas {
                task.line(&format!("adding the host's CA certificate {name}"));
                std::fs::write(dir.join(name), pem)
                    .map_err(io_err(format!("writing {}", dir.join(name).display())))?;
            }
            let out = Command::new("chroot")
                .env("PATH", sbin_path())
                .arg(&rootfs)
                .arg("update-ca-certificates")
                .stdin(Stdio::null())
                .output()
                .await
                .map_err(io_err("running update-ca-certificates in the rootfs"))?;
            task.output(&String::from_utf8_lossy(&out.stdout));
            task.output(&String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                let tail = task.tail();
                task.fail();
                return Err(ImageError::Failed {
                    what: what.clone(),
                    message: format!("update-ca-certificates exited with {}", out.status),
                    tail,
                });
            }
        }
        unmount_under(&rootfs).await;

        // Import under a temporary tag, then move the real tag onto it: a build
        // killed during the import never leaves a half-imported image tagged.
        let tmp_tag = format!(
            "{INCOMPLETE_PREFIX}{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let tmp_ref = format!("{repo}:{tmp_tag}");
        task.line(&format!("importing the rootfs as {tmp_ref}"));
        let imported = import_rootfs(docker, d, &rootfs, repo, &tmp_tag, hash, &mut task).await;
        if let Err(e) = imported {
            let _ = docker
                .remove_image(
                    &tmp_ref,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await;
            task.fail();
            return Err(e);
        }
        let tagged = docker
            .tag_image(
                &tmp_ref,
                Some(
                    TagImageOptionsBuilder::default()
                        .repo(repo)
                        .tag(final_tag)
                        .build(),
                ),
            )
            .await
            .map_err(docker_err(format!("tagging {tmp_ref} as {}", d.tag)));
        // Untag the temporary name (the image stays under its real tag).
        let _ = docker
            .remove_image(
                &tmp_ref,
                Some(RemoveImageOptionsBuilder::default().noprune(true).build()),
                None,
            )
            .await;
        if let Err(e) = tagged {
            task.fail();
            return Err(e);
        }
        task.finish(&format!("{} imported", d.tag));
        Ok(())
    }
    .await;
    unmount_under(&rootfs).await;
    drop(tmp);
    result
}

/// Lays `rootfs/` over the tree, writes `sources.list` and removes what a
/// container does not need (downloaded packages, package lists, logs).
fn prepare_rootfs(
    d: &ImageDef,
    rootfs: &Path,
    suite: &str,
    mirror: &str,
) -> Result<(), ImageError> {
    for f in &d.files {
        let Some(rel) = f.path.strip_prefix("rootfs/") else {
            continue;
        };
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(ImageError::Definition(format!("bad path {}", f.path)));
        }
        let dest = rootfs.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io_err(format!("creating {}", parent.display())))?;
        }
        std::fs::write(&dest, &f.data).map_err(io_err(format!("writing {}", dest.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(f.mode))
                .map_err(io_err(format!("setting the mode of {}", dest.display())))?;
        }
    }
    let mut sources = format!("deb {mirror} {suite} main\ndeb {mirror} {suite}-updates main\n");
    if mirror == DEFAULT_MIRROR {
        sources.push_str(&format!(
            "deb http://deb.debian.org/debian-security {suite}-security main\n"
        ));
    }
    let list = rootfs.join("etc/apt/sources.list");
    std::fs::write(&list, sources).map_err(io_err(format!("writing {}", list.display())))?;
    for dir in [
        "var/cache/apt/archives",
        "var/cache/apt/archives/partial",
        "var/lib/apt/lists",
        "var/lib/apt/lists/partial",
        "var/cache/apt",
        "var/log/apt",
    ] {
        let Ok(entries) = std::fs::read_dir(rootfs.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file()) && e.file_name() != "lock" {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    slimify(rootfs);
    for f in [
        "var/log/bootstrap.log",
        "var/log/dpkg.log",
        "var/log/alternatives.log",
        "etc/hostname",
        "etc/resolv.conf",
    ] {
        let _ = std::fs::remove_file(rootfs.join(f));
    }
    Ok(())
}

/// Removes what `rootfs/etc/dpkg/dpkg.cfg.d/90mlci-excludes` keeps out of later
/// packages from the packages debootstrap installed before it was in place
/// (documentation but copyright files, manual pages, translations).
fn slimify(rootfs: &Path) {
    fn remove(p: &Path) {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(p);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(p);
            }
            Err(_) => {}
        }
    }
    fn clear(dir: &Path, keep: &dyn Fn(&std::fs::DirEntry) -> bool) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if !keep(&e) {
                remove(&e.path());
            }
        }
    }
    let share = rootfs.join("usr/share");
    for d in ["man", "info", "lintian", "linda"] {
        clear(&share.join(d), &|_| false);
    }
    clear(&share.join("locale"), &|e| e.file_name() == "locale.alias");
    clear(&share.join("doc"), &|e| {
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            clear(&e.path(), &|f| f.file_name() == "copyright");
        }
        is_dir
    });
}

/// Unmounts whatever an interrupted debootstrap left mounted under `dir`
/// (`/proc`, `/sys` in the chroot), so that removing the tree stays inside it.
async fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| *p == prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(p)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
}

async fn import_rootfs(
    docker: &Docker,
    d: &ImageDef,
    rootfs: &Path,
    repo: &str,
    tmp_tag: &str,
    hash: &str,
    task: &mut Task,
) -> Result<(), ImageError> {
    let what = format!("importing {}", d.tag);
    let mut changes: Vec<String> = d
        .file("image-config")
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    changes.push(format!("LABEL {HASH_LABEL}={hash}"));
    changes.push(format!("LABEL {NAME_LABEL}={}", d.name));

    let mut tar = Command::new("tar")
        .arg("--numeric-owner")
        .arg("--one-file-system")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg("-")
        .arg(".")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io_err("starting tar to pack the rootfs"))?;
    let stdout = tar.stdout.take().expect("piped");
    let (tx, mut tar_err) = tokio::sync::mpsc::unbounded_channel();
    pump_lines(tar.stderr.take().expect("piped"), tx);
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(stdout));
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tmp_tag)
        .message(&format!("mlci images build {}", d.name))
        .changes(changes)
        .build();
    let mut stream = docker.create_image(Some(options), Some(body), None);
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.status {
                    task.output(&s);
                }
            }
            Err(e) => {
                failure = Some(match e {
                    bollard::errors::Error::DockerStreamError { error } => error,
                    e => format!("Docker engine error: {e}"),
                });
                break;
            }
        }
    }
    let status = tar.wait().await.map_err(io_err("waiting for tar"))?;
    while let Ok(l) = tar_err.try_recv() {
        task.line(&format!("tar: {l}"));
    }
    if let Some(message) = failure {
        return Err(ImageError::Failed {
            what,
            message,
            tail: task.tail(),
        });
    }
    if !status.success() {
        return Err(ImageError::Failed {
            what,
            message: format!("tar exited with {status}"),
            tail: task.tail(),
        });
    }
    Ok(())
}

/// Removes `<repo>:incomplete-<pid>-…` tags left by imports whose process is gone.
async fn remove_stale_incomplete(docker: &Docker, repo: &str) {
    let filters = HashMap::from([("reference", vec![format!("{repo}:{INCOMPLETE_PREFIX}*")])]);
    let Ok(images) = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
    else {
        return;
    };
    for img in images {
        for t in img.repo_tags {
            let Some(rest) = t
                .strip_prefix(repo)
                .and_then(|r| r.strip_prefix(':'))
                .and_then(|r| r.strip_prefix(INCOMPLETE_PREFIX))
            else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or("");
            let alive = !pid.is_empty() && Path::new("/proc").join(pid).exists();
            if !alive {
                let _ = docker
                    .remove_image(
                        &t,
                        None::<bollard::query_parameters::RemoveImageOptions>,
                        None,
                    )
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_match_the_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runner-images");
        let mut on_disk = Vec::new();
        for (name, ..) in builtin_table() {
            let mut files = Vec::new();
            read_tree(&root.join(name), "", &mut files).unwrap();
            on_disk.extend(files.into_iter().map(|f| format!("{name}/{}", f.path)));
        }
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED_FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "every file under runner-images/<image>/ must be listed in EMBEDDED_FILES"
        );
    }

    #[test]
    fn builtin_and_directory_catalogs_hash_alike() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runner-images");
        let a = Catalog::builtin();
        let b = Catalog::from_dir(&root).unwrap();
        for d in a.images() {
            let e = b.get(&d.name).unwrap();
            assert_eq!(d.content_hash(&[]), e.content_hash(&[]), "{}", d.name);
        }
    }

    #[test]
    fn plan_orders_dependencies_first_and_defaults() {
        let c = Catalog::builtin();
        let names = |v: Vec<&ImageDef>| v.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(c.plan(&[]).unwrap()), ["base", "python-ml"]);
        assert_eq!(
            names(c.plan(&["cuda-train".into()]).unwrap()),
            ["base", "cuda-train"]
        );
        assert_eq!(
            names(c.plan(&[PYTHON_ML_TAG.into(), "base".into()]).unwrap()),
            ["base", "python-ml"]
        );
        let err = c.plan(&["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown image `nope`"), "{err}");
    }

    #[test]
    fn hash_depends_on_files_and_inputs() {
        let c = Catalog::builtin();
        let d = c.get("python-ml").unwrap().clone();
        let h1 = d.content_hash(&[("dep:base".into(), "sha256:a".into())]);
        let h2 = d.content_hash(&[("dep:base".into(), "sha256:b".into())]);
        assert_ne!(h1, h2);
        let mut d2 = d.clone();
        d2.files[0].data.push(b'\n');
        assert_ne!(d2.content_hash(&[]), d.content_hash(&[]));
        assert_eq!(h1.len(), 64);
    }

    #[test]
    fn ansi_colours_are_stripped() {
        assert_eq!(strip_ansi("\x1b[91mWARNING: x\x1b[0m"), "WARNING: x");
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn labels_map_to_images() {
        let m: HashMap<_, _> = default_label_images().into_iter().collect();
        assert_eq!(m["ubuntu-latest"], PYTHON_ML_TAG);
        assert_eq!(m["gpu"], CUDA_TRAIN_TAG);
    }

    #[test]
    fn context_tar_holds_the_files() {
        let c = Catalog::builtin();
        let d = c.get("python-ml").unwrap();
        let tar = context_tar(d).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["Dockerfile"]);
    }

    #[test]
    fn failed_error_quotes_the_tail() {
        let e = ImageError::Failed {
            what: "building x".into(),
            message: "returned a non-zero code: 100".into(),
            tail: vec!["E: Unable to locate package nope".into()],
        };
        let s = e.to_string();
        assert!(s.starts_with("building x failed: returned a non-zero code: 100"));
        assert!(s.contains("  | E: Unable to locate package nope"));
    }
}
