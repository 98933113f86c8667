//! The objects of one deployment, built from a [`KubeServing`]:
//!
//! ```text
//! Deployment  replicas, RollingUpdate (maxSurge 25 %, maxUnavailable 0),
//!             progressDeadlineSeconds; its pod template: one container `serve`
//!             on :8080 (`http`), readiness GET /ping, startup and liveness
//!             GET /health, CPU and memory requests, a preStop pause
//! Service     ClusterIP, port → `http`, selecting dev.mlci.deploy=<name>
//! InferenceService (KServe, for --dry-run only): the same container, shaped
//!             as Knative accepts it (one unnamed port, no startup probe)
//! ```
//!
//! Printed as YAML by `mlci deploy --target k8s --dry-run` (the golden files
//! tests/golden/k8s/deploy-*.yaml and tests/golden/k8s-kserve/).

use super::{CONTAINER_PORT, KubeServing, LABEL_DEPLOY, LABEL_MODEL, LABEL_VERSION};
use crate::executor::k8s::yaml_out::to_yaml;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, HTTPGetAction, Lifecycle, LifecycleHandler, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, Service, ServicePort, ServiceSpec, SleepAction,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The name of the serving container (KServe's custom predictors want theirs
/// named `kserve-container`).
pub const CONTAINER: &str = "serve";
const PORT_NAME: &str = "http";
/// How long a rollout may make no progress before the Deployment says
/// `ProgressDeadlineExceeded` (Kubernetes' default).
pub const PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// Kubernetes records why a revision was made here; `kubectl rollout
/// history` shows it.
pub const ANNOTATION_CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// A label value Kubernetes accepts (at most 63 of `[A-Za-z0-9._-]`, starting
/// and ending with a letter or digit).
pub fn label_value(text: &str) -> String {
    crate::executor::k8s::manifests::label_value(text)
}

/// The labels of the Deployment and the Service.
pub fn labels(s: &KubeServing) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_DEPLOY.to_string(), s.name.clone()),
        (LABEL_MODEL.to_string(), label_value(&s.model)),
    ])
}

/// The labels of the pods: the version too.
pub fn pod_labels(s: &KubeServing) -> BTreeMap<String, String> {
    let mut labels = labels(s);
    labels.insert(LABEL_VERSION.to_string(), s.version.to_string());
    labels
}

/// What selects a deployment's pods, whatever their version.
pub fn selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_DEPLOY.to_string(), name.to_string())])
}

/// `dev.mlci.deploy=<name>`, for lists and watches.
pub fn selector_text(name: &str) -> String {
    format!("{LABEL_DEPLOY}={name}")
}

fn http_get(path: &str, port: IntOrString) -> Option<HTTPGetAction> {
    Some(HTTPGetAction {
        path: Some(path.to_string()),
        port,
        ..HTTPGetAction::default()
    })
}

/// The serving container. For KServe (`knative`), as Knative Serving takes
/// it: one unnamed port, probes on that port number, no startup probe and
/// no lifecycle hook.
fn container(s: &KubeServing, name: &str, knative: bool) -> Container {
    let port = if knative {
        IntOrString::Int(i32::from(CONTAINER_PORT))
    } else {
        IntOrString::String(PORT_NAME.to_string())
    };
    Container {
        name: name.to_string(),
        image: Some(s.image.clone()),
        ports: Some(vec![ContainerPort {
            name: (!knative).then(|| PORT_NAME.to_string()),
            container_port: i32::from(CONTAINER_PORT),
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        // Traffic only once the model answers.
        readiness_probe: Some(Probe {
            http_get: http_get("/ping", port.clone()),
            period_seconds: Some(2),
            timeout_seconds: Some(2),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        // Loading a large model may take minutes: the liveness probe waits
        // for the startup probe (up to 5 minutes) before it may restart it.
        startup_probe: (!knative).then(|| Probe {
            http_get: http_get("/health", port.clone()),
            period_seconds: Some(5),
            timeout_seconds: Some(2),
            failure_threshold: Some(60),
            ..Probe::default()
        }),
        liveness_probe: Some(Probe {
            http_get: http_get("/health", port),
            period_seconds: Some(10),
            timeout_seconds: Some(5),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity("250m".to_string())),
                ("memory".to_string(), Quantity("512Mi".to_string())),
            ])),
            ..ResourceRequirements::default()
        }),
        // A pod leaving a rolling update keeps answering while the Service's
        // endpoints forget it, so that no request goes to a closed port.
        lifecycle: (!knative).then(|| Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction { seconds: 5 }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        ..Container::default()
    }
}

fn metadata(s: &KubeServing, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(s.name.clone()),
        namespace: Some(s.namespace.clone()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// `mlci deploy iris@3`: why this revision was made.
pub fn change_cause(s: &KubeServing) -> String {
    format!("mlci deploy {}@{}", s.model, s.version)
}

/// The pod template: what makes a revision.
pub fn template(s: &KubeServing) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels(s)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container(s, CONTAINER, false)],
            // A model server has no business with the cluster's API.
            automount_service_account_token: Some(false),
            ..PodSpec::default()
        }),
    }
}

pub fn deployment(s: &KubeServing) -> Deployment {
    let mut meta = metadata(s, labels(s));
    meta.annotations = Some(BTreeMap::from([(
        ANNOTATION_CHANGE_CAUSE.to_string(),
        change_cause(s),
    )]));
    Deployment {
        metadata: meta,
        spec: Some(DeploymentSpec {
            replicas: Some(s.replicas),
            revision_history_limit: Some(10),
            progress_deadline_seconds: Some(PROGRESS_DEADLINE_SECONDS),
            selector: LabelSelector {
                match_labels: Some(selector(&s.name)),
                ..LabelSelector::default()
            },
            // No pod leaves before its replacement answers: no request lost.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".to_string())),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: template(s),
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

pub fn service(s: &KubeServing) -> Service {
    Service {
        metadata: metadata(s, labels(s)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            selector: Some(selector(&s.name)),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_string()),
                port: i32::from(s.port),
                target_port: Some(IntOrString::String(PORT_NAME.to_string())),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// An API object as JSON (`apiVersion` and `kind` first, as k8s-openapi
/// writes them).
fn document<K: serde::Serialize>(object: &K) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// The Deployment and the Service as YAML, two documents.
pub fn manifests(s: &KubeServing) -> String {
    format!(
        "{}---\n{}",
        to_yaml(&document(&deployment(s))),
        to_yaml(&document(&service(s)))
    )
}

/// The same serving container as a KServe `InferenceService`
/// (`serving.kserve.io/v1beta1`, a custom predictor), for teams that run
/// KServe: `kubectl apply` it instead of the Deployment and the Service.
pub fn inference_service(s: &KubeServing) -> String {
    let container =
        serde_json::to_value(container(s, "kserve-container", true)).unwrap_or(Value::Null);
    let value = json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": s.name,
            "namespace": s.namespace,
            "labels": pod_labels(s),
            "annotations": {ANNOTATION_CHANGE_CAUSE: change_cause(s)},
        },
        "spec": {
            "predictor": {
                "minReplicas": s.replicas,
                "containers": [container],
            },
        },
    });
    to_yaml(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iris() -> KubeServing {
        KubeServing::new("iris", "registry.example/iris@sha256:ab", "iris", 3)
    }

    #[test]
    fn the_selector_stays_while_the_template_carries_the_version() {
        let d = deployment(&iris());
        let spec = d.spec.unwrap();
        assert_eq!(spec.selector.match_labels, Some(selector("iris")));
        let labels = spec.template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels[LABEL_VERSION], "3");
        assert_eq!(labels[LABEL_DEPLOY], "iris");
        assert!(!d.metadata.labels.unwrap().contains_key(LABEL_VERSION));
    }

    #[test]
    fn the_documents_start_with_api_version_and_kind() {
        let text = manifests(&iris());
        let docs: Vec<&str> = text.split("---\n").collect();
        assert_eq!(docs.len(), 2);
        assert!(docs[0].starts_with("apiVersion: \"apps/v1\"\nkind: \"Deployment\"\n"));
        assert!(docs[1].starts_with("apiVersion: \"v1\"\nkind: \"Service\"\n"));
        let kserve = inference_service(&iris());
        assert!(kserve.contains("name: \"kserve-container\""), "{kserve}");
        assert!(!kserve.contains("startupProbe"), "{kserve}");
    }
}
