//! The catalogue of runner images: the built-in ones (compiled into the
//! binary, or read from `MLCI_RUNNER_IMAGES`), the `runs-on` labels they
//! serve, and the order to build them in.

use std::collections::HashMap;
use std::path::Path;

use super::base_inputs::{host_ca_certs, mirror};
use super::definition::{ContextFile, ImageDef, ImageKind};
use super::error::ImageError;

pub const BASE_TAG: &str = "mlci/debian:bookworm";
pub const PYTHON_ML_TAG: &str = "mlci/python-ml:latest";
pub const CUDA_TRAIN_TAG: &str = "mlci/cuda-train:latest";

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
pub(super) fn builtin_table() -> Vec<(
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
    pub(super) defs: Vec<ImageDef>,
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
    pub(super) fn plan(&self, names: &[String]) -> Result<Vec<&ImageDef>, ImageError> {
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
    pub(super) fn hash_inputs(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::definition::read_tree;

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
    fn labels_map_to_images() {
        let m: HashMap<_, _> = default_label_images().into_iter().collect();
        assert_eq!(m["ubuntu-latest"], PYTHON_ML_TAG);
        assert_eq!(m["gpu"], CUDA_TRAIN_TAG);
    }
}
