//! [`ImageError`]: why building or listing the runner images failed, each
//! with what to do about it.

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "cannot reach the Docker engine ({0}): start Docker, or set DOCKER_HOST to a running engine"
    )]
    Engine(String),
    #[error("unknown image `{name}`: the images are {known}")]
    UnknownImage { name: String, known: String },
    #[error(
        "debootstrap is not installed: install it with `apt-get install -y debootstrap` (it builds the base image mlci/debian:bookworm), then run `mlci images build` again"
    )]
    DebootstrapMissing,
    #[error(
        "building the base image mlci/debian:bookworm runs debootstrap, which needs root: run `sudo mlci images build`"
    )]
    NotRoot,
    #[error(
        "cannot build the base image {tag}: its base `{image}` cannot be pulled ({reason}), and the offline way cannot run either ({debootstrap}); make a registry serve it (--base IMAGE or MLCI_BASE_IMAGE names a mirror), or bootstrap it as root with debootstrap installed (`sudo mlci images build --offline`)"
    )]
    NoBase {
        tag: String,
        image: String,
        reason: String,
        debootstrap: String,
    },
    #[error("{what} failed: {message}{}", quote_tail(.tail))]
    Failed {
        what: String,
        message: String,
        tail: Vec<String>,
    },
    #[error("{tag} is not built: {hint}")]
    Missing { tag: String, hint: String },
    #[error("Docker engine error while {doing}: {source}")]
    Docker {
        doing: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid image definition: {0}")]
    Definition(String),
}

fn quote_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nlast lines of output:");
    for l in tail {
        s.push_str("\n  | ");
        s.push_str(l);
    }
    s
}

pub(super) fn io_err(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
    let doing = doing.into();
    move |source| ImageError::Io { doing, source }
}

pub(super) fn docker_err(
    doing: impl Into<String>,
) -> impl FnOnce(bollard::errors::Error) -> ImageError {
    let doing = doing.into();
    move |source| ImageError::Docker { doing, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_error_quotes_the_tail() {
        let e = ImageError::Failed {
            what: "building x".into(),
            message: "returned a non-zero code: 100".into(),
            tail: vec!["E: Unable to locate package nope".into()],
        };
        let s = e.to_string();
        assert!(s.starts_with("building x failed: returned a non-zero code: 100"));
        assert!(s.contains("  | E: Unable to locate package nope"));
    }
}
