//! The local registries of `.ci/registry-up.sh`, and the images the tests
//! push into them: the open one on 127.0.0.1:5000 (the engine's Docker Hub
//! mirror, so `python:3.12-slim` pulls `127.0.0.1:5000/library/python:3.12-slim`)
//! and the one with htpasswd auth on 127.0.0.1:5001.
//!
//! Tests push what they need themselves (`docker tag` + `docker push`), from
//! the busybox test image, so the suite needs nothing but the two registries.
//! They fail, never skip, when a registry is down.

use base64::Engine;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use super::{docker, ensure_test_image};

pub const OPEN: &str = "127.0.0.1:5000";
pub const AUTH: &str = "127.0.0.1:5001";
pub const USER: &str = "mlci";
pub const PASSWORD: &str = "mlci-test-password";

/// Panics with what to run when a registry does not answer `/v2/`.
pub fn require_registries() {
    for registry in [OPEN, AUTH] {
        let status = v2_status(registry);
        assert!(
            matches!(status.as_deref(), Some("200" | "401")),
            "the test registry {registry} does not answer ({status:?}): run `.ci/registry-up.sh` (as root) first"
        );
    }
    let mirrors =
        docker(&["info", "--format", "{{json .RegistryConfig.Mirrors}}"]).unwrap_or_default();
    assert!(
        mirrors.contains(OPEN),
        "the Docker engine does not pull Docker Hub names through http://{OPEN} (registry-mirrors: {mirrors}): run `.ci/registry-up.sh` (as root) first"
    );
}

/// The status code of `GET /v2/`, or None when nothing answers.
fn v2_status(registry: &str) -> Option<String> {
    let mut stream = TcpStream::connect(registry).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(stream, "GET /v2/ HTTP/1.0\r\nHost: {registry}\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head[..n]).into_owned();
    line.split_whitespace().nth(1).map(str::to_string)
}

/// A docker CLI configuration directory logged in to the auth registry (the
/// tests never log the engine's default configuration in).
pub fn logged_in_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"auths": {{"{AUTH}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    dir
}

/// Pushes the local image `from` as `to`; with `config`, a docker
/// configuration directory for the CLI (the auth registry's login).
pub fn push(from: &str, to: &str, config: Option<&Path>) {
    docker(&["tag", from, to]).unwrap_or_else(|e| panic!("docker tag {from} {to}: {e}"));
    let mut args = Vec::new();
    let shown;
    if let Some(config) = config {
        shown = config.display().to_string();
        args.extend(["--config", shown.as_str()]);
    }
    args.extend(["push", to]);
    docker(&args).unwrap_or_else(|e| panic!("docker push {to}: {e}"));
    docker(&["rmi", to]).ok();
}

/// The busybox test image with another default command, e.g. a stand-in for
/// postgres listening on 5432: tagged `tag` locally.
pub fn test_image_with_cmd(tag: &str, cmd: &str) {
    let base = ensure_test_image();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {base}\nCMD {cmd}\n"),
    )
    .unwrap();
    docker(&["build", "-q", "-t", tag, &dir.path().display().to_string()])
        .unwrap_or_else(|e| panic!("docker build {tag}: {e}"));
}

/// Removes local tags (the tests' own), so that the next use must pull.
pub fn forget(images: &[&str]) {
    for image in images {
        docker(&["rmi", "-f", image]).ok();
    }
}

pub fn present(image: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_ok()
}
