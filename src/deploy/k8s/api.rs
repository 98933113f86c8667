//! What every request of the Kubernetes target shares: a failed request
//! as one sentence that says what to do, which objects are mlci's (the label
//! `dev.mlci.deploy=<name>`), a Deployment's ReplicaSets with their
//! revisions, and a pod template told as `iris@3`.

use super::manifests::selector_text;
use super::progress::revision_of;
use super::{KubeDeployError, KubeServing, LABEL_DEPLOY, LABEL_MODEL, LABEL_VERSION, check};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{Api, ListParams};

/// The label the Deployment controller adds to each ReplicaSet's template.
pub(super) const POD_TEMPLATE_HASH: &str = "pod-template-hash";

pub(super) type OnEvent<'a> = &'a mut (dyn FnMut(&str) + Send);

/// A request that failed, as one sentence that says what to do.
pub(super) fn api_error(what: &str, e: kube::Error) -> KubeDeployError {
    match e {
        kube::Error::Api(status) => {
            let message = status.message.clone();
            match status.code {
                401 => KubeDeployError::Failed(format!(
                    "the Kubernetes API server did not accept the credentials of your kubeconfig when asked to {what} ({message}): log in to the cluster again"
                )),
                403 => KubeDeployError::Failed(format!(
                    "the Kubernetes API server forbids your account to {what} ({message}): ask for the right to manage Deployments, ReplicaSets, Services and pods in that namespace"
                )),
                400 | 422 => KubeDeployError::Invalid(format!(
                    "the Kubernetes API server refused to {what}: {message}"
                )),
                code => KubeDeployError::Failed(format!(
                    "the Kubernetes API server could not {what} ({code} {}: {message}); try again, or check the cluster",
                    status.reason
                )),
            }
        }
        kube::Error::SerdeError(e) => KubeDeployError::Failed(format!(
            "the Kubernetes API server's answer when asked to {what} is not what Kubernetes answers ({e}): check that your kubeconfig points at a Kubernetes API server"
        )),
        e => KubeDeployError::Failed(format!(
            "cannot reach the Kubernetes API server to {what} ({e}): check that the cluster is up and that your kubeconfig (KUBECONFIG or ~/.kube/config) points at it"
        )),
    }
}

pub(super) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

pub(super) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

pub(super) fn labelled_ours(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    name: &str,
) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(LABEL_DEPLOY))
        .is_some_and(|v| v == name)
}

pub(super) fn not_ours(kind: &str, name: &str, namespace: &str) -> KubeDeployError {
    KubeDeployError::Invalid(format!(
        "a {kind} named `{name}` exists in namespace `{namespace}` that mlci did not make (it has no label {LABEL_DEPLOY}={name}): choose another name, or remove it first"
    ))
}

/// `iris@3` from a template's labels, else its image.
pub(super) fn describe(template: &PodTemplateSpec) -> String {
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    match (labels.get(LABEL_MODEL), labels.get(LABEL_VERSION)) {
        (Some(model), Some(version)) => format!("{model}@{version}"),
        _ => template
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_else(|| "the previous version".to_string()),
    }
}

pub(super) fn template_of(d: &Deployment) -> PodTemplateSpec {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

pub(super) fn check_names(namespace: &str, name: &str) -> Result<(), KubeDeployError> {
    let probe = KubeServing {
        namespace: namespace.to_string(),
        ..KubeServing::new(name, "image", "model", 1)
    };
    check(&probe)
}

pub(super) fn uids(sets: &[(i64, ReplicaSet)]) -> Vec<String> {
    sets.iter()
        .filter_map(|(_, rs)| rs.metadata.uid.clone())
        .collect()
}

/// The ReplicaSets of Deployment `d` (by its selector and owner reference),
/// with their revisions.
pub(super) async fn replica_sets(
    client: &kube::Client,
    d: &Deployment,
) -> Result<Vec<(i64, ReplicaSet)>, KubeDeployError> {
    let namespace = d.metadata.namespace.clone().unwrap_or_default();
    let name = d.metadata.name.clone().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), &namespace);
    let list = api
        .list(&ListParams::default().labels(&selector_text(&name)))
        .await
        .map_err(|e| api_error(&format!("list the ReplicaSets of Deployment {name}"), e))?;
    let mut sets: Vec<(i64, ReplicaSet)> = list
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .map(|rs| (revision_of(&rs.metadata), rs))
        .collect();
    sets.sort_by_key(|(revision, _)| *revision);
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::super::manifests;
    use super::*;

    #[test]
    fn a_template_is_described_by_its_model_and_version() {
        let s = KubeServing::new("iris", "reg/iris:3", "iris", 3);
        assert_eq!(describe(&manifests::template(&s)), "iris@3");
        assert_eq!(
            describe(&PodTemplateSpec::default()),
            "the previous version"
        );
    }
}
