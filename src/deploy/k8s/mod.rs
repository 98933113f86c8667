//! The Kubernetes target of `mlci deploy`: a Deployment and a Service per
//! deployment, rolled with the cluster's own rolling update and watched to
//! the end.
//!
//! ```text
//! KubeServing ──check──▶ names, image, replicas, port (before any request)     serving::
//!             ──build──▶ Deployment + Service (or a KServe InferenceService)   manifests::
//!             ──apply──▶ create, or replace the template: a new revision       rollout::
//!             ──watch──▶ Deployment status, judged like `kubectl rollout status` progress::
//!             ──undo───▶ the previous ReplicaSet's template, when it never gets ready
//!             ──remove─▶ Deployment (background), Service; until no pod is left remove::
//! local image ──push───▶ repository:tag, its digest                            push::
//! ```
//!
//! `api` holds what the requests share: errors as sentences, which objects
//! are mlci's, a Deployment's ReplicaSets by revision.
//!
//! A rollout never takes a request away from what serves: the strategy is a
//! RollingUpdate with `maxUnavailable: 0`, so the old pods leave only once
//! new ones answer `GET /ping`. A version that does not get there within the
//! timeout (or the Deployment's `progressDeadlineSeconds`) is undone as
//! `kubectl rollout undo` does, and [`KubeDeployError::Refused`] says why:
//! pods that do not answer, an image that cannot be pulled, a container that
//! keeps ending.

mod api;
pub mod manifests;
mod progress;
mod push;
mod remove;
mod rollout;
mod serving;

pub use manifests::{inference_service, manifests};
pub use progress::{Judgement, judge, pod_trouble};
pub use push::push_image;
pub use remove::{history, remove};
pub use rollout::{rollback, rollout};
pub use serving::{
    ANNOTATION_REVISION, CONTAINER_PORT, KubeDeployError, KubeServing, LABEL_DEPLOY, LABEL_MODEL,
    LABEL_VERSION, Revision, Rollout, check, connect, dns_label,
};
