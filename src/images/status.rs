//! The runner images as the engine has them: present or not, up to date or
//! stale; `mlci images ls` and its table.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use bollard::Docker;

use super::base_source::{FROM_LABEL, from_inputs, local_id};
use super::catalog::Catalog;
use super::definition::HASH_LABEL;
use super::error::{ImageError, docker_err};

/// An image as the engine has it.
#[derive(Clone, Debug)]
pub struct PresentImage {
    pub id: String,
    pub size: i64,
    /// RFC 3339, as the engine reports it.
    pub created: Option<String>,
    pub hash: Option<String>,
    /// For a base built `FROM` a registry's image: that image's name.
    pub from: Option<String>,
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

impl Catalog {
    /// The state of every image of the catalog in the engine.
    pub async fn status(&self, docker: &Docker) -> Result<Vec<ImageStatus>, ImageError> {
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        let all: Vec<String> = self.defs.iter().map(|d| d.name.clone()).collect();
        for d in self.plan(&all)? {
            let present = inspect(docker, &d.tag).await?;
            let mut inputs = self.hash_inputs(d, &ids);
            // A base built FROM a registry's image: up to date against that
            // image as it is here.
            if let (Some(i), Some(from)) =
                (&mut inputs, present.as_ref().and_then(|p| p.from.as_ref()))
            {
                match local_id(docker, from).await {
                    Some(id) => i.extend(from_inputs(from, &id)),
                    None => inputs = None,
                }
            }
            let expected = inputs.map(|i| d.content_hash(&i));
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

pub(super) async fn inspect(
    docker: &Docker,
    tag: &str,
) -> Result<Option<PresentImage>, ImageError> {
    match docker.inspect_image(tag).await {
        Ok(i) => Ok(Some(PresentImage {
            id: i.id.unwrap_or_default(),
            size: i.size.unwrap_or(0),
            created: i.created.map(|c| c.to_string()),
            hash: i
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(HASH_LABEL).cloned()),
            from: i
                .config
                .and_then(|c| c.labels)
                .and_then(|mut l| l.remove(FROM_LABEL)),
        })),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(docker_err(format!("inspecting {tag}"))(e)),
    }
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

pub(super) fn short_id(id: &str) -> &str {
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
