//! What a deployment is asked and how it ends: the types the command line,
//! the `deploy:` step and the targets share.

use crate::record::{DeploymentRecord, ModelVersion, RunId};
use std::path::PathBuf;

/// Where a deployment runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// The local engine: blue/green containers behind a stable front.
    #[default]
    Docker,
    /// A Deployment and a Service on a Kubernetes cluster.
    K8s,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Docker => "docker",
            TargetKind::K8s => "k8s",
        }
    }
}

/// What to deploy and how, as `mlci deploy` and a `deploy:` step say it.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    /// The deployment's name (`--name`).
    pub name: String,
    /// The version to serve, resolved by the caller.
    pub version: ModelVersion,
    pub target: TargetKind,
    /// The front's port on the host [default: the deployment's port, else 8080].
    pub port: Option<u16>,
    /// The smoke test's request body [default: the model's serving_input_example.json].
    pub smoke: Option<PathBuf>,
    /// The predictions the smoke test must get back.
    pub expect: Option<PathBuf>,
    /// Send this share of requests (1–99 %) to the new version until promote or rollback.
    pub canary: Option<u8>,
    /// Where and how on Kubernetes (`target: k8s`).
    pub kube: KubeOptions,
    /// The run that deploys (a `deploy:` step), for the record.
    pub run_id: Option<RunId>,
    pub sha: Option<String>,
}

/// How a deployment ended that did not stop on bad input.
#[derive(Clone, Debug)]
pub enum Deployed {
    /// The version serves (all traffic, or its canary share).
    Live(DeploymentRecord),
    /// It failed its health check or smoke test: removed, and what served
    /// before still serves. The command exits 1.
    Refused(DeploymentRecord),
}

/// What stops a deployment before anything switches: bad input or an
/// unusable engine. The command exits 2; nothing that served has changed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// An argument, a model directory or a payload that cannot be served.
    #[error("{0}")]
    Invalid(String),
    /// The engine, the image build, the run store.
    #[error("{0}")]
    Failed(String),
}

/// What a deployment reports as it goes, for the terminal and step logs.
#[derive(Clone, Debug)]
pub enum DeployEvent {
    /// A line of progress ("building mlci/serve-env:…", "iris@3 is healthy after 4.1 s").
    Progress(String),
}

impl std::fmt::Display for DeployEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployEvent::Progress(line) => f.write_str(line),
        }
    }
}

/// The Kubernetes target's settings.
#[derive(Clone, Debug)]
pub struct KubeOptions {
    pub namespace: String,
    pub replicas: i32,
    /// The repository the cluster pulls the serving image from; it is pushed there.
    pub registry: Option<String>,
}

impl Default for KubeOptions {
    fn default() -> KubeOptions {
        KubeOptions {
            namespace: "default".into(),
            replicas: 2,
            registry: None,
        }
    }
}
