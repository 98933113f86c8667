//! Runner images: `mlci images build` and `mlci images ls`.
//!
//! Every image is built locally:
//!
//! - `base` (`mlci/debian:bookworm`) is a `docker build` `FROM` an official
//!   Debian image pulled from a registry (`debian:bookworm`, or `--base` /
//!   `MLCI_BASE_IMAGE`; see `base_source`), as a normal user on any engine;
//!   offline (`--offline`, or when no registry answers) it is bootstrapped with `debootstrap` from
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
//!
//! Files: `catalog` (the built-in images and the build order),
//! `base_source` (the base from a registry's image),
//! `definition` (one image's files and content hash), `base_inputs` (what
//! of the host goes into the base: mirror, CA certificates),
//! `catalog_build` (building a catalog, reusing what is up to date),
//! `debootstrap` (the base), `dockerfile` (the others), `status` (images as
//! the engine has them, `mlci images ls`), `progress` (build output),
//! `commands` (the entry points of the CLI), `test_image` (the image the
//! integration tests run in) and `error`.

mod agent;
mod base_inputs;
mod base_source;
mod catalog;
mod catalog_build;
mod commands;
mod debootstrap;
mod definition;
mod dockerfile;
mod error;
mod progress;
mod status;
mod test_image;

pub use agent::{build_agent, default_agent_tag};
pub use base_inputs::{DEFAULT_MIRROR, host_ca_certs};
pub use base_source::{BaseSource, DEFAULT_BASE_IMAGE, FROM_LABEL};
pub use catalog::{
    BASE_TAG, CUDA_TRAIN_TAG, Catalog, EMBEDDED_FILES, PYTHON_ML_TAG, default_label_images,
};
pub use catalog_build::BuiltImage;
pub use commands::{build, connect, list};
pub use definition::{ContextFile, HASH_LABEL, ImageDef, ImageKind, NAME_LABEL};
pub use error::ImageError;
pub use progress::Progress;
pub use status::{ImageStatus, PresentImage, human_duration, human_size, render_list};
pub use test_image::ensure_test_image;
