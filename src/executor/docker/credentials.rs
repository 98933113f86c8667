//! The credentials of a pull, found as the docker CLI finds them: the
//! workflow's `credentials` first, then the Docker configuration file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): its
//! `credHelpers` for the registry, its `credsStore`, its `auths` (a base64
//! `user:password` in `auth`, or `username`/`password`, or `identitytoken`).
//! A helper is `docker-credential-<name> get` with the server on stdin and
//! `{"Username", "Secret"}` on stdout. Docker Hub's key is
//! `https://index.docker.io/v1/`.
//!
//! The file is read only when a pull needs it. Nothing here prints a
//! credential, and no error carries one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use bollard::auth::DockerCredentials;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::executor::{PullError, RegistryCredentials};

/// Docker Hub as the configuration file and credential helpers name it.
pub(super) const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// A configuration file larger than this is not one.
const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// An image reference, split for the engine's `POST /images/create`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Reference {
    /// `docker.io` for Docker Hub names, else the host (with its port).
    pub registry: String,
    /// What `fromImage` takes: the name without tag or digest.
    pub repository: String,
    /// A tag, or a digest (`sha256:…`); `latest` when the name has neither.
    pub tag: String,
}

impl Reference {
    pub fn parse(image: &str) -> Reference {
        let (name, tag) = match image.split_once('@') {
            Some((name, digest)) => (name, digest.to_string()),
            None => {
                let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
                match image[slash..].rfind(':') {
                    Some(i) => (&image[..slash + i], image[slash + i + 1..].to_string()),
                    None => (image, "latest".to_string()),
                }
            }
        };
        let registry = match name.split_once('/') {
            Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
                first.to_string()
            }
            _ => "docker.io".to_string(),
        };
        Reference {
            registry,
            repository: name.to_string(),
            tag,
        }
    }

    pub fn is_docker_hub(&self) -> bool {
        self.registry == "docker.io"
    }

    /// The registry as `docker login` takes it (empty for Docker Hub).
    pub fn login_name(&self) -> &str {
        if self.is_docker_hub() {
            ""
        } else {
            &self.registry
        }
    }

    /// The server address of credentials and helpers.
    fn server(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_KEY
        } else {
            &self.registry
        }
    }
}

/// The configuration file docker reads.
pub(super) fn config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|home| PathBuf::from(home).join(".docker").join("config.json")),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The credentials to pull `image` with: the workflow's, else those of the
/// configuration file; None pulls anonymously.
pub(super) async fn credentials_for(
    image: &str,
    reference: &Reference,
    explicit: Option<&RegistryCredentials>,
) -> Result<Option<DockerCredentials>, PullError> {
    if let Some(c) = explicit {
        return Ok(Some(DockerCredentials {
            username: Some(c.username.clone()),
            password: Some(c.password.clone()),
            serveraddress: Some(reference.server().to_string()),
            ..Default::default()
        }));
    }
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let config_error = |detail: String| PullError::Config {
        image: image.to_string(),
        file: shown.clone(),
        detail,
    };
    let config = match read_config(&path).await {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(None),
        Err(detail) => return Err(config_error(detail)),
    };
    let host = reference.registry.as_str();
    let helper = config
        .cred_helpers
        .iter()
        .find(|(key, _)| same_registry(key, host))
        .map(|(_, h)| (h.clone(), "credHelpers"))
        .or_else(|| {
            config
                .creds_store
                .clone()
                .filter(|s| !s.is_empty())
                .map(|s| (s, "credsStore"))
        });
    if let Some((helper, field)) = helper
        && let Some(found) = run_helper(image, &helper, field, &shown, reference).await?
    {
        return Ok(Some(found));
    }
    let Some(entry) = config
        .auths
        .iter()
        .find(|(key, _)| same_registry(key, host))
        .map(|(_, e)| e)
    else {
        return Ok(None);
    };
    let mut credentials = DockerCredentials {
        serveraddress: Some(reference.server().to_string()),
        ..Default::default()
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(config_error(format!(
                "the `auth` of `{host}` under `auths` is not base64 of `user:password`"
            )));
        };
        credentials.username = Some(user.to_string());
        credentials.password = Some(password.to_string());
    } else if entry.username.is_some() || entry.password.is_some() {
        credentials.username = entry.username.clone();
        credentials.password = entry.password.clone();
    }
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        credentials.identitytoken = Some(token.to_string());
    }
    if credentials.username.is_none() && credentials.identitytoken.is_none() {
        return Ok(None);
    }
    Ok(Some(credentials))
}

/// The credentials docker would use for `image`'s registry, from the
/// configuration file or its credential helper (for a push, which has no
/// workflow credentials); None goes anonymously.
pub async fn registry_credentials(image: &str) -> Result<Option<DockerCredentials>, PullError> {
    credentials_for(image, &Reference::parse(image), None).await
}

/// The file, parsed; None when there is none. The error names what is wrong
/// (serde's position, never the content).
async fn read_config(path: &std::path::Path) -> Result<Option<ConfigFile>, String> {
    use tokio::io::AsyncReadExt;
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut text = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut text)
        .await
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("it is larger than {} MiB", MAX_CONFIG_BYTES >> 20));
    }
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(ConfigFile::default()));
    }
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| json_error(&e))
}

/// Whether a key of `auths` or `credHelpers` names this registry host, as
/// docker compares them: without scheme and path; Docker Hub by any of its names.
fn same_registry(key: &str, host: &str) -> bool {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let key = key.split('/').next().unwrap_or(key);
    let hub = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    key == host || (hub(key) && hub(host))
}

/// `docker-credential-<helper> get`: the credentials, or None when it has
/// none for this server.
async fn run_helper(
    image: &str,
    helper: &str,
    field: &str,
    config: &str,
    reference: &Reference,
) -> Result<Option<DockerCredentials>, PullError> {
    let fail = |detail: String| PullError::Helper {
        image: image.to_string(),
        helper: helper.to_string(),
        registry: reference.registry.clone(),
        detail,
    };
    let program = format!("docker-credential-{helper}");
    let mut child = match tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!(
                "{program} is not on PATH ({field} in {config} names it): install it or remove it from the file"
            )));
        }
        Err(e) => return Err(fail(format!("cannot start {program}: {e}"))),
    };
    let server = reference.server().to_string();
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that does not read its input is judged by its exit.
        let _ = stdin.write_all(server.as_bytes()).await;
    }
    let output = match tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(fail(e.to_string())),
        Err(_) => {
            return Err(fail(format!(
                "no answer within {} s",
                HELPER_TIMEOUT.as_secs()
            )));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let said = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        if said.contains("credentials not found") {
            return Ok(None);
        }
        let first = said
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        let first: String = first.chars().take(200).collect();
        return Err(fail(format!("it exited with {} ({first})", output.status)));
    }
    let reply: HelperReply = serde_json::from_str(stdout.trim()).map_err(|e| {
        fail(format!(
            "its answer is not the JSON of a credential ({})",
            json_error(&e)
        ))
    })?;
    let mut credentials = DockerCredentials {
        serveraddress: Some(server),
        ..Default::default()
    };
    if reply.username == "<token>" {
        credentials.identitytoken = Some(reply.secret);
    } else {
        credentials.username = Some(reply.username);
        credentials.password = Some(reply.secret);
    }
    Ok(Some(credentials))
}

/// A JSON error in words that never quote the input (a value's error could
/// quote a password): syntax errors as serde_json says them, others by kind
/// and position.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => e.to_string(),
        Category::Data => format!(
            "a value of the wrong type at line {} column {}",
            e.line(),
            e.column()
        ),
        Category::Io => "it cannot be read".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split() {
        let r = Reference::parse("python:3.12-slim");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("docker.io", "python", "3.12-slim")
        );
        let r = Reference::parse("127.0.0.1:5001/private/img");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("127.0.0.1:5001", "127.0.0.1:5001/private/img", "latest")
        );
        let r = Reference::parse("ghcr.io/o/i@sha256:abc");
        assert_eq!(
            (r.registry.as_str(), r.tag.as_str()),
            ("ghcr.io", "sha256:abc")
        );
        let r = Reference::parse("localhost/x:1");
        assert_eq!(r.registry, "localhost");
        assert!(Reference::parse("mlci/debian:bookworm").is_docker_hub());
    }

    #[test]
    fn registry_keys_match_as_docker_compares_them() {
        assert!(same_registry(DOCKER_HUB_KEY, "docker.io"));
        assert!(same_registry(
            "https://127.0.0.1:5001/v2/",
            "127.0.0.1:5001"
        ));
        assert!(same_registry("127.0.0.1:5001", "127.0.0.1:5001"));
        assert!(!same_registry("127.0.0.1:5000", "127.0.0.1:5001"));
    }
}
