//! What a deployment on Kubernetes is ([`KubeServing`]), what is checked
//! of it before anything is sent, how a rollout ends ([`Rollout`],
//! [`KubeDeployError`]), and the connection to the cluster.

/// The port MLflow's scoring server listens on in the serving image.
pub const CONTAINER_PORT: u16 = 8080;
/// The label every object of a deployment carries: its name.
pub const LABEL_DEPLOY: &str = "dev.mlci.deploy";
/// The registered model's name (as a label value).
pub const LABEL_MODEL: &str = "dev.mlci.deploy.model";
/// The model's version, on the pod template only (it changes every rollout).
pub const LABEL_VERSION: &str = "dev.mlci.deploy.version";
/// The annotation with which the Deployment controller numbers revisions.
pub const ANNOTATION_REVISION: &str = "deployment.kubernetes.io/revision";

/// One serving version on Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeServing {
    /// The Deployment's and the Service's name: a DNS-1035 label.
    pub name: String,
    /// Where they go; `default` unless told.
    pub namespace: String,
    /// A reference the cluster can pull (what [`push_image`] returns).
    pub image: String,
    /// The registered model's name, e.g. `iris`.
    pub model: String,
    /// Its version, e.g. 3.
    pub version: i64,
    /// The Service's port; the container serves MLflow's scoring server on 8080.
    pub port: u16,
    pub replicas: i32,
}

impl KubeServing {
    /// A serving of `model@version` from `image` as `name`, with the defaults:
    /// namespace `default`, port 8080, 2 replicas.
    pub fn new(name: &str, image: &str, model: &str, version: i64) -> KubeServing {
        KubeServing {
            name: name.to_string(),
            namespace: "default".to_string(),
            image: image.to_string(),
            model: model.to_string(),
            version,
            port: CONTAINER_PORT,
            replicas: 2,
        }
    }
}

/// How a rollout (or a rollback) ended that went live.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    /// The Deployment's revision that now serves.
    pub revision: i64,
    pub ready_replicas: i32,
    /// From the request that changed the Deployment to the last pod ready.
    pub seconds: f64,
}

/// One revision a Deployment keeps (one ReplicaSet), as `kubectl rollout
/// history` lists them: what `rollback`'s `to_revision` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub revision: i64,
    /// The model and version of its pod template's labels (None for a
    /// template mlci did not make).
    pub model: Option<String>,
    pub version: Option<i64>,
    pub image: String,
    /// Whether the Deployment is on this revision now.
    pub current: bool,
}

/// What stops a rollout. Each message is one sentence that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum KubeDeployError {
    /// A name, a namespace or a revision the cluster cannot take, or a
    /// Deployment of that name that mlci did not make (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// The new revision never became ready: the Deployment is back on the
    /// revision that served before (or, for a first version, removed), and
    /// that one still serves (exit 1).
    #[error("{0}")]
    Refused(String),
    /// The cluster cannot be reached, refused a request, or the undo itself
    /// did not complete.
    #[error("{0}")]
    Failed(String),
}

/// A DNS-1035 label, as Kubernetes requires of a Service's name: at most 63
/// of `a-z`, `0-9` and `-`, starting with a letter, ending with a letter or
/// digit.
pub fn dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
}

/// Checks what the cluster would refuse before anything is sent: the name,
/// the namespace, the image, the replicas and the port.
pub fn check(s: &KubeServing) -> Result<(), KubeDeployError> {
    let invalid = |m: String| Err(KubeDeployError::Invalid(m));
    if !dns_label(&s.name) {
        return invalid(format!(
            "`{}` cannot name a Kubernetes Deployment and Service: use at most 63 lower-case letters, digits and `-`, starting with a letter and not ending with `-`",
            s.name
        ));
    }
    let namespace_ok = !s.namespace.is_empty()
        && s.namespace.len() <= 63
        && s.namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.namespace.starts_with('-')
        && !s.namespace.ends_with('-');
    if !namespace_ok {
        return invalid(format!(
            "`{}` is not a Kubernetes namespace: use at most 63 lower-case letters, digits and `-`",
            s.namespace
        ));
    }
    if s.image.trim().is_empty() || s.image.contains(char::is_whitespace) {
        return invalid(format!(
            "`{}` is not an image reference the cluster can pull: push the serving image to a registry first",
            s.image
        ));
    }
    if s.replicas < 1 {
        return invalid(format!(
            "{} replicas cannot serve: ask for at least 1",
            s.replicas
        ));
    }
    if s.port == 0 {
        return invalid("port 0 cannot be a Service's port: give one from 1 to 65535".into());
    }
    if crate::executor::k8s::manifests::label_value(&s.model).is_empty() {
        return invalid(format!(
            "the model name `{}` has no letter or digit to label the deployment with",
            s.model
        ));
    }
    Ok(())
}

/// Connects as `kubectl` does: `KUBECONFIG`, else `~/.kube/config`, else the
/// pod's service account. Nothing is asked of the cluster yet: a cluster that
/// does not answer shows on the first request, as [`KubeDeployError::Failed`].
pub async fn connect() -> Result<kube::Client, KubeDeployError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    kube::Client::try_default().await.map_err(|e| {
        KubeDeployError::Failed(format!(
            "cannot find a Kubernetes cluster to deploy to ({e}): set KUBECONFIG or write ~/.kube/config, as for kubectl"
        ))
    })
}
