//! Pushing the serving image to a registry the cluster pulls from: tag the
//! local image as `<repository>:<tag>`, push it through the engine (with the
//! credentials docker itself would use: its configuration file or
//! credential helper), and answer the pushed reference by digest
//! (`repository@sha256:…`), which names exactly what was pushed whatever
//! the tag becomes later.

use super::KubeDeployError;
use crate::executor::docker::{DockerBackend, registry_credentials};
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{PushImageOptions, TagImageOptions};
use futures_util::StreamExt;

/// The tag of `image` (`mlci/serve-iris:3` → `3`), `latest` when it has none.
fn tag_of(image: &str) -> &str {
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => &image[slash + i + 1..],
        None => "latest",
    }
}

/// The registry host of a repository (`127.0.0.1:5000/x` → `127.0.0.1:5000`).
fn registry_of(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// `sha256:…` from the engine's last status line of a push
/// (`3: digest: sha256:… size: 527`).
fn digest_in(status: &str) -> Option<String> {
    let rest = &status[status.find("digest: ")? + "digest: ".len()..];
    let digest = rest.split_whitespace().next()?;
    (digest.starts_with("sha256:") && digest.len() == 71).then(|| digest.to_string())
}

fn docker_message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        DockerError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// Tags `local_tag` as `<repository>:<its tag>` and pushes it; the pushed
/// reference with its digest.
pub async fn push_image(
    docker: &DockerBackend,
    local_tag: &str,
    repository: &str,
) -> Result<String, KubeDeployError> {
    let last = repository.rsplit('/').next().unwrap_or(repository);
    if repository.is_empty()
        || repository.contains(['@', ' '])
        || last.contains(':')
        || repository.ends_with('/')
    {
        return Err(KubeDeployError::Invalid(format!(
            "`{repository}` is not a repository to push to: give a name without tag or digest, such as registry.example.com/team/iris"
        )));
    }
    if local_tag.contains('@') {
        return Err(KubeDeployError::Invalid(format!(
            "`{local_tag}` names an image by digest: give its local tag, such as mlci/serve-iris:3"
        )));
    }
    let tag = tag_of(local_tag);
    let target = format!("{repository}:{tag}");
    let client = docker.client();
    let tagged = client
        .tag_image(
            local_tag,
            Some(TagImageOptions {
                repo: Some(repository.to_string()),
                tag: Some(tag.to_string()),
            }),
        )
        .await;
    match tagged {
        Ok(()) => {}
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            return Err(KubeDeployError::Invalid(format!(
                "there is no local image `{local_tag}` to push: build the serving image first"
            )));
        }
        Err(e) => {
            return Err(KubeDeployError::Failed(format!(
                "the Docker engine could not tag `{local_tag}` as `{target}`: {}",
                docker_message(&e)
            )));
        }
    }
    let registry = registry_of(repository);
    let credentials = registry_credentials(&target).await.map_err(|e| {
        KubeDeployError::Failed(format!(
            "cannot read the credentials to push to {registry}: {e}"
        ))
    })?;
    let options = PushImageOptions {
        tag: Some(tag.to_string()),
        platform: None,
    };
    let mut stream = client.push_image(repository, Some(options), credentials);
    let mut digest = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(found) = info.status.as_deref().and_then(digest_in) {
                    digest = Some(found);
                }
            }
            Err(e) => {
                let message = docker_message(&e);
                let lower = message.to_ascii_lowercase();
                let hint = if lower.contains("denied")
                    || lower.contains("unauthorized")
                    || lower.contains("authentication required")
                {
                    format!("log in with `docker login {registry}`")
                } else if lower.contains("connection refused")
                    || lower.contains("no such host")
                    || lower.contains("timeout")
                {
                    format!(
                        "check that the registry {registry} is up and reachable from the Docker engine"
                    )
                } else {
                    "check the repository's name and the registry".to_string()
                };
                return Err(KubeDeployError::Failed(format!(
                    "the push of `{target}` failed ({message}): {hint}"
                )));
            }
        }
    }
    // An engine that did not say it: the digest it recorded for the repository.
    if digest.is_none()
        && let Ok(image) = client.inspect_image(&target).await
    {
        let prefix = format!("{repository}@");
        digest = image
            .repo_digests
            .iter()
            .flatten()
            .find_map(|d| d.strip_prefix(&prefix).map(str::to_string));
    }
    match digest {
        Some(digest) => Ok(format!("{repository}@{digest}")),
        None => Err(KubeDeployError::Failed(format!(
            "the Docker engine pushed `{target}` but did not say its digest: push it with `docker push {target}` and deploy it by digest"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_registries_and_digests_are_read_as_docker_writes_them() {
        assert_eq!(tag_of("mlci/serve-iris:3"), "3");
        assert_eq!(tag_of("127.0.0.1:5000/serve"), "latest");
        assert_eq!(registry_of("127.0.0.1:5000/team/iris"), "127.0.0.1:5000");
        assert_eq!(registry_of("team/iris"), "docker.io");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            digest_in(&format!("3: digest: {digest} size: 527")),
            Some(digest)
        );
        assert_eq!(digest_in("Pushed"), None);
    }
}
