//! The entry points of `mlci images build` and `mlci images ls`, and the
//! connection to the engine they use.

use std::time::Duration;

use bollard::Docker;

use super::base_source::BaseSource;
use super::catalog::Catalog;
use super::catalog_build::BuiltImage;
use super::error::ImageError;
use super::progress::Progress;
use super::status::ImageStatus;

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

/// `mlci images build [NAME…] [--force] [--base IMAGE] [--offline]`: builds the named images (the default
/// ones, `base` and `python-ml`, when none are named) and what they are built
/// from, reusing every image whose hash label is current.
pub async fn build(
    names: &[String],
    force: bool,
    source: &BaseSource,
    progress: &Progress,
) -> Result<Vec<BuiltImage>, ImageError> {
    let catalog = Catalog::load()?;
    catalog.plan(names)?; // unknown names fail before the engine is asked
    let docker = connect().await?;
    catalog.build(&docker, names, force, source, progress).await
}

/// `mlci images ls`: every known image, whether it is built and up to date.
pub async fn list() -> Result<Vec<ImageStatus>, ImageError> {
    let catalog = Catalog::load()?;
    let docker = connect().await?;
    catalog.status(&docker).await
}
