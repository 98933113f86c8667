//! Building a catalogue's images in order: each one reused when its hash
//! label is current, otherwise built by its kind (the base `FROM` a
//! registry's Debian or by debootstrap, see `base_source`; the others by
//! docker build), and the image it replaced removed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::RemoveImageOptionsBuilder;

use super::base_source::{BaseSource, from_image_def, from_inputs, local_id, pull_base};
use super::catalog::Catalog;
use super::debootstrap::build_debootstrap;
use super::definition::{ImageDef, ImageKind};
use super::dockerfile::build_dockerfile;
use super::error::ImageError;
use super::progress::Progress;
use super::status::{PresentImage, human_duration, human_size, inspect, short_id};

impl Catalog {
    /// Builds `names` (the default images when empty) and what they need.
    /// `force` rebuilds the named images (all of the default ones when no names
    /// are given) even when up to date; dependencies are reused when up to date.
    pub async fn build(
        &self,
        docker: &Docker,
        names: &[String],
        force: bool,
        source: &BaseSource,
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
            let force_this = forced.contains(&d.name.as_str());
            let built = match &d.kind {
                ImageKind::Debootstrap { suite } => {
                    match base_plan(docker, d, &inputs, force_this, source, progress).await? {
                        BasePlan::Reuse(built) => built,
                        BasePlan::FromImage { image, hash } => {
                            let def = from_image_def(d, &image);
                            let how = How::FromImage { image };
                            build_one(docker, &def, &hash, force_this, &how, progress).await?
                        }
                        BasePlan::Debootstrap { pull_failed } => {
                            let hash = d.content_hash(&inputs);
                            let how = How::Debootstrap {
                                suite: suite.clone(),
                                pull_failed,
                                image: source.image().to_string(),
                            };
                            build_one(docker, d, &hash, force_this, &how, progress).await?
                        }
                    }
                }
                ImageKind::Dockerfile => {
                    let hash = d.content_hash(&inputs);
                    build_one(docker, d, &hash, force_this, &How::Dockerfile, progress).await?
                }
            };
            ids.insert(d.name.clone(), built.id.clone());
            out.push(built);
        }
        Ok(out)
    }
}

static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    /// For the base: the registry image it was built `FROM` (None: debootstrap).
    pub from: Option<String>,
    pub elapsed: Duration,
}

/// How an image that is not up to date is made.
enum How {
    Dockerfile,
    /// The base, by debootstrap; `pull_failed` says why `image` could not
    /// be pulled instead (None: `--offline`).
    Debootstrap {
        suite: String,
        pull_failed: Option<String>,
        image: String,
    },
    /// The base, `FROM` a registry's image.
    FromImage {
        image: String,
    },
}

impl How {
    fn from(&self) -> Option<String> {
        match self {
            How::FromImage { image } => Some(image.clone()),
            _ => None,
        }
    }
}

/// What the base needs: nothing (up to date), a build `FROM` the registry's
/// image, or debootstrap.
enum BasePlan {
    Reuse(BuiltImage),
    FromImage { image: String, hash: String },
    Debootstrap { pull_failed: Option<String> },
}

/// Decides how the base is made (see `base_source`): reused when up to date
/// for how it was made (with no `--base`) or for the named image; else pulled
/// and built `FROM` it; else, offline or with no registry, debootstrapped.
async fn base_plan(
    docker: &Docker,
    d: &ImageDef,
    inputs: &[(String, String)],
    force: bool,
    source: &BaseSource,
    progress: &Progress,
) -> Result<BasePlan, ImageError> {
    let start = Instant::now();
    let previous = inspect(docker, &d.tag).await?;
    let reuse = |p: &PresentImage, hash: String, from: Option<String>| {
        progress.note(&format!("{} is up to date", d.tag));
        BasePlan::Reuse(BuiltImage {
            name: d.name.clone(),
            tag: d.tag.clone(),
            id: p.id.clone(),
            hash,
            size: p.size,
            reused: true,
            from,
            elapsed: start.elapsed(),
        })
    };
    if !force && let Some(p) = &previous {
        let debootstrapped = d.content_hash(inputs);
        if (source.explicit.is_none() || source.offline)
            && p.hash.as_deref() == Some(debootstrapped.as_str())
        {
            return Ok(reuse(p, debootstrapped, None));
        }
        if !source.offline
            && let Some(from) = &p.from
            && source.explicit.as_ref().is_none_or(|e| e == from)
            && let Some(id) = local_id(docker, from).await
        {
            let hash = d.content_hash(&[inputs, &from_inputs(from, &id)].concat());
            if p.hash.as_deref() == Some(hash.as_str()) {
                return Ok(reuse(p, hash, Some(from.clone())));
            }
        }
    }
    if source.offline {
        return Ok(BasePlan::Debootstrap { pull_failed: None });
    }
    let image = source.image().to_string();
    match pull_base(docker, &image).await {
        Ok(id) => {
            let hash = d.content_hash(&[inputs, &from_inputs(&image, &id)].concat());
            if !force
                && let Some(p) = &previous
                && p.hash.as_deref() == Some(hash.as_str())
            {
                return Ok(reuse(p, hash, Some(image)));
            }
            Ok(BasePlan::FromImage { image, hash })
        }
        Err(reason) => {
            progress.note(&format!(
                "cannot pull the base image: {reason}; bootstrapping {} with debootstrap instead",
                d.tag
            ));
            Ok(BasePlan::Debootstrap {
                pull_failed: Some(reason),
            })
        }
    }
}

async fn build_one(
    docker: &Docker,
    d: &ImageDef,
    hash: &str,
    force: bool,
    how: &How,
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
            from: how.from(),
            elapsed: start.elapsed(),
        });
    }
    match how {
        How::Debootstrap {
            suite,
            pull_failed,
            image,
        } => match build_debootstrap(docker, d, suite, hash, progress).await {
            Err(e @ (ImageError::DebootstrapMissing | ImageError::NotRoot)) => {
                return Err(match pull_failed {
                    Some(reason) => ImageError::NoBase {
                        tag: d.tag.clone(),
                        image: image.clone(),
                        reason: reason.clone(),
                        debootstrap: e.to_string(),
                    },
                    None => e,
                });
            }
            other => other?,
        },
        How::Dockerfile | How::FromImage { .. } => {
            build_dockerfile(docker, d, hash, force, progress).await?
        }
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
        from: how.from(),
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
