//! `mlci images agent`: the image whose `/mlci` the pods of `--executor
//! k8s` copy in as their agent (`--agent-image`, default
//! `mlci/agent:<version>`), built from this very binary on a base that has
//! `cp`. Push it where the cluster pulls images from.

use super::error::ImageError;
use crate::executor::Backend;
use crate::executor::docker::DockerBackend;
use std::collections::BTreeMap;

/// The agent image's default tag: this version of mlci.
pub fn default_agent_tag() -> String {
    format!("mlci/agent:{}", env!("CARGO_PKG_VERSION"))
}

/// Builds `tag` from `base` and the running mlci binary.
pub async fn build_agent(tag: &str, base: &str) -> Result<(), ImageError> {
    let docker = DockerBackend::connect()
        .await
        .map_err(|e| ImageError::Engine(e.to_string()))?;
    let failed = |message: String| ImageError::Failed {
        what: format!("building {tag}"),
        message,
        tail: Vec::new(),
    };
    if !docker.has_image(base).await.unwrap_or(false) {
        return Err(failed(format!(
            "the base image `{base}` is not here: build it with `mlci images build base`, or name another with --from"
        )));
    }
    let context = tempfile::tempdir().map_err(|e| failed(e.to_string()))?;
    let exe = std::env::current_exe().map_err(|e| failed(e.to_string()))?;
    std::fs::copy(&exe, context.path().join("mlci")).map_err(|e| failed(e.to_string()))?;
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {base}\nCOPY mlci /mlci\n"),
    )
    .map_err(|e| failed(e.to_string()))?;
    let labels = BTreeMap::from([(super::NAME_LABEL.to_string(), "agent".to_string())]);
    let mut tail = Vec::new();
    docker
        .build_image(context.path(), "Dockerfile", tag, &labels, &mut |line| {
            tail.push(line.to_string());
        })
        .await
        .map_err(|e| ImageError::Failed {
            what: format!("building {tag}"),
            message: e.to_string(),
            tail: tail.iter().rev().take(10).rev().cloned().collect(),
        })
}
