//! Where the base image (`mlci/debian:bookworm`) comes from: `FROM` an
//! official Debian image pulled from a registry (default `debian:bookworm`,
//! `--base IMAGE` or `MLCI_BASE_IMAGE` for a mirror), as a normal user on any
//! engine; or, offline (`--offline`, or no registry answers), `debootstrap`.
//!
//! The base from a registry is a `docker build` of a generated Dockerfile:
//! `runner-images/base/rootfs` laid over the image, the host's CA
//! certificates added, the packages of `base/packages` installed (apt runs
//! only when one is missing), and `base/image-config`'s instructions. Its
//! hash is the debootstrap base's inputs plus the base image's name and id,
//! and the image carries the name in [`FROM_LABEL`], so that `mlci images ls`
//! and a later build can tell whether it is up to date without a registry.
//!
//! With no `--base`, a base that is up to date for how it was made
//! (debootstrapped, or from the default image as it is here) is reused: a
//! machine that bootstrapped its base does not rebuild it because a registry
//! answers now.

use super::base_inputs::{HOST_CA_DIR, host_ca_certs, mirror};
use super::definition::{ContextFile, ImageDef, ImageKind};
use crate::executor::docker::DockerBackend;

/// The official image the base is built from by default.
pub const DEFAULT_BASE_IMAGE: &str = "debian:bookworm";
/// Label naming the image a base was built `FROM` (absent: debootstrap).
pub const FROM_LABEL: &str = "dev.mlci.image.from";

/// `mlci images build --base IMAGE` / `MLCI_BASE_IMAGE`, and `--offline`.
#[derive(Clone, Debug, Default)]
pub struct BaseSource {
    /// Named by the user: only a base from this image is up to date.
    pub explicit: Option<String>,
    /// Never ask a registry: debootstrap.
    pub offline: bool,
}

impl BaseSource {
    pub fn new(base: Option<String>, offline: bool) -> BaseSource {
        BaseSource {
            explicit: base.map(|b| b.trim().to_string()).filter(|b| !b.is_empty()),
            offline,
        }
    }

    /// The image to pull.
    pub fn image(&self) -> &str {
        self.explicit.as_deref().unwrap_or(DEFAULT_BASE_IMAGE)
    }
}

/// The hash inputs that a base from `image` (with this local id) adds.
pub(super) fn from_inputs(image: &str, id: &str) -> Vec<(String, String)> {
    vec![
        ("from".to_string(), image.to_string()),
        ("from-id".to_string(), id.to_string()),
    ]
}

/// The image's local id, when it is here (nothing is pulled).
pub(super) async fn local_id(docker: &bollard::Docker, image: &str) -> Option<String> {
    docker.inspect_image(image).await.ok().and_then(|i| i.id)
}

/// Pulls `image` when it is not here (progress as `mlci run` shows it);
/// its id, or why it cannot be had, in one sentence.
pub(super) async fn pull_base(docker: &bollard::Docker, image: &str) -> Result<String, String> {
    let backend = DockerBackend::with_client(docker.clone(), "");
    backend
        .ensure_image(image, None)
        .await
        .map_err(|e| e.to_string())?;
    local_id(docker, image)
        .await
        .ok_or_else(|| format!("`{image}` is not here after its pull"))
}

/// The build context of the base from `image`: the generated Dockerfile,
/// `rootfs/` and the host's CA certificates, as a `Dockerfile` image of the
/// same name and tag.
pub(super) fn from_image_def(d: &ImageDef, image: &str) -> ImageDef {
    let packages = d.packages();
    let config = d
        .file("image-config")
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let cas = host_ca_certs();
    let mut files: Vec<ContextFile> = d
        .files
        .iter()
        .filter(|f| f.path.starts_with("rootfs/"))
        .cloned()
        .collect();
    for (name, pem) in &cas {
        files.push(ContextFile {
            path: format!("ca/{name}"),
            mode: 0o644,
            data: pem.clone(),
        });
    }
    files.push(ContextFile {
        path: "Dockerfile".to_string(),
        mode: 0o644,
        data: dockerfile(image, &packages, !cas.is_empty(), &config).into_bytes(),
    });
    ImageDef {
        name: d.name.clone(),
        tag: d.tag.clone(),
        kind: ImageKind::Dockerfile,
        deps: vec![],
        default: d.default,
        files,
    }
}

fn dockerfile(image: &str, packages: &[String], cas: bool, config: &str) -> String {
    let mut s = format!(
        "# {DEFAULT_BASE_IMAGE}-like base made by `mlci images build` FROM a registry's image.\nFROM {image}\nCOPY rootfs/ /\n"
    );
    if cas {
        s.push_str(&format!("COPY ca/ {HOST_CA_DIR}/\n"));
    }
    let list = packages.join(" ");
    let mut run = vec!["set -e".to_string()];
    if std::env::var("MLCI_DEBIAN_MIRROR").is_ok_and(|m| !m.trim().is_empty()) {
        let m = mirror();
        run.push(format!(
            "rm -f /etc/apt/sources.list.d/debian.sources && . /etc/os-release && printf 'deb {m} %s main\\ndeb {m} %s-updates main\\n' \"$VERSION_CODENAME\" \"$VERSION_CODENAME\" > /etc/apt/sources.list"
        ));
    }
    // apt runs only when a package is missing: a base that has them all
    // (a mirror of mlci's own) builds without the network.
    run.push(format!(
        "missing=''; for p in {list}; do dpkg-query -W -f='${{Status}}' \"$p\" 2>/dev/null | grep -q 'ok installed' || missing=\"$missing $p\"; done; if [ -n \"$missing\" ]; then apt-get update && apt-get install -y --no-install-recommends $missing; else echo \"all of the base's packages are installed\"; fi"
    ));
    if cas {
        run.push("update-ca-certificates".to_string());
    }
    run.push(
        "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log"
            .to_string(),
    );
    s.push_str(&format!("RUN {}\n", run.join(" \\\n && ")));
    s.push_str(&format!("LABEL {FROM_LABEL}=\"{image}\"\n"));
    s.push_str(config);
    if !config.ends_with('\n') {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::Catalog;

    #[test]
    fn the_generated_build_installs_the_packages_and_keeps_the_config() {
        let c = Catalog::builtin();
        let d = from_image_def(
            c.get("base").unwrap(),
            "127.0.0.1:5000/library/debian:bookworm",
        );
        let text = String::from_utf8(d.file("Dockerfile").unwrap().to_vec()).unwrap();
        assert!(
            text.contains("FROM 127.0.0.1:5000/library/debian:bookworm\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "for p in bash coreutils tar gzip ca-certificates curl git procps xz-utils;"
            ),
            "{text}"
        );
        assert!(
            text.contains("ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"),
            "{text}"
        );
        assert!(d.file("rootfs/etc/apt/apt.conf.d/90mlci").is_some());
        assert_eq!(d.kind, ImageKind::Dockerfile);
    }

    #[test]
    fn the_named_base_wins() {
        assert_eq!(BaseSource::new(None, false).image(), DEFAULT_BASE_IMAGE);
        assert_eq!(
            BaseSource::new(Some(" m/debian:12 ".into()), false).image(),
            "m/debian:12"
        );
    }
}
