//! The image the project's integration tests run jobs in, built when
//! missing or stale.

use super::base_source::BaseSource;
use super::catalog::{Catalog, PYTHON_ML_TAG};
use super::commands::connect;
use super::error::ImageError;
use super::progress::Progress;
use super::status::inspect;

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
            &BaseSource::default(),
            &Progress::plain(),
        )
        .await?;
    Ok(PYTHON_ML_TAG.to_string())
}
