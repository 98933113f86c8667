//! Pulling images, as far as every backend sees it: the policy of `mlci run
//! --pull`, the credentials a workflow gives for a registry, and what a failed
//! pull means, each one sentence that says what to do.
//!
//! The Docker backend pulls through the engine (`docker::pull`); the cluster
//! executors leave pulling to their nodes.

/// `mlci run --pull`: when a job's, a service's or a `docker://` step's image is pulled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pulled when it is not present locally (Docker's and act's default).
    #[default]
    Missing,
    /// Pulled once per run even when present, to get the tag's newest image.
    Always,
    /// Never pulled: a missing image fails the job.
    Never,
}

impl PullPolicy {
    pub fn parse(text: &str) -> Result<PullPolicy, String> {
        match text {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!(
                "unknown pull policy `{other}`: expected missing, always or never"
            )),
        }
    }
}

/// `container.credentials` / `services.<id>.credentials`: they win over the
/// Docker configuration file. Never printed: `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Why an image is not there to run: one sentence that names the image and
/// says what to do. No message carries a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    #[error(
        "image `{image}` is not present locally and `--pull never` forbids pulling it: pull or build it first, or run with `--pull missing`"
    )]
    Forbidden { image: String },
    #[error(
        "image `{image}` was not found in the registry {registry} (manifest unknown or no such repository): check its name and tag"
    )]
    NotFound { image: String, registry: String },
    #[error(
        "the registry {registry} denied the pull of `{image}` (authentication required or access refused): log in with `docker login {login}` or set container.credentials (services.<id>.credentials for a service)"
    )]
    Denied {
        image: String,
        registry: String,
        login: String,
    },
    #[error(
        "cannot pull `{image}`: the registry {registry} is unreachable ({detail}); check the network or the registry's address, or use an image present locally"
    )]
    Unreachable {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("cannot pull `{image}`: the Docker configuration {file} is not valid: {detail}")]
    Config {
        image: String,
        file: String,
        detail: String,
    },
    #[error(
        "cannot pull `{image}`: the credential helper docker-credential-{helper} failed for {registry}: {detail}"
    )]
    Helper {
        image: String,
        helper: String,
        registry: String,
        detail: String,
    },
    #[error("pulling `{image}` failed: {detail}")]
    Other { image: String, detail: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse() {
        assert_eq!(PullPolicy::parse("never"), Ok(PullPolicy::Never));
        assert!(
            PullPolicy::parse("sometimes")
                .unwrap_err()
                .contains("missing, always or never")
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let c = RegistryCredentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
