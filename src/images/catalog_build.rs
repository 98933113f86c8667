//! Building a catalogue's images in order: each one reused when its hash
//! label is current, otherwise built by its kind (debootstrap or docker
//! build), and the image it replaced removed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::RemoveImageOptionsBuilder;

use super::catalog::Catalog;
use super::debootstrap::build_debootstrap;
use super::definition::{ImageDef, ImageKind};
use super::dockerfile::build_dockerfile;
use super::error::ImageError;
use super::progress::Progress;
use super::status::{human_duration, human_size, inspect, short_id};

impl Catalog {
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
    pub elapsed: Duration,
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
