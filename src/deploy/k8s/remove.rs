//! Removing a deployment: delete the Deployment (background propagation:
//! the cluster removes its ReplicaSets and pods) and the Service, and wait
//! until no pod or ReplicaSet of it is left. And reading which revisions it
//! keeps, for `rollback`.

use super::api::{api_error, check_names, is_not_found, labelled_ours, not_ours, replica_sets};
use super::manifests::selector_text;
use super::progress::revision_of;
use super::{KubeDeployError, LABEL_DEPLOY, LABEL_MODEL, LABEL_VERSION, Revision};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, ListParams};
use std::time::{Duration, Instant};

/// How long `remove` waits for the pods to go.
const REMOVE_WAIT: Duration = Duration::from_secs(90);

/// Deletes Deployment `name` (the cluster removes its ReplicaSets and pods)
/// and its Service, and waits until no pod or ReplicaSet of it is left.
/// What is already gone is fine; objects of that name that mlci did not make
/// are left alone (Invalid).
pub async fn remove(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), KubeDeployError> {
    check_names(namespace, name)?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let deployment = deployments
        .get_opt(name)
        .await
        .map_err(|e| api_error(&format!("read Deployment {name}"), e))?;
    let service = services
        .get_opt(name)
        .await
        .map_err(|e| api_error(&format!("read Service {name}"), e))?;
    if let Some(d) = &deployment
        && !labelled_ours(&d.metadata, name)
    {
        return Err(not_ours("Deployment", name, namespace));
    }
    if let Some(s) = &service
        && !labelled_ours(&s.metadata, name)
    {
        return Err(not_ours("Service", name, namespace));
    }
    if deployment.is_some() {
        match deployments.delete(name, &DeleteParams::background()).await {
            Err(e) if !is_not_found(&e) => {
                return Err(api_error(&format!("delete Deployment {name}"), e));
            }
            _ => {}
        }
    }
    if service.is_some() {
        match services.delete(name, &DeleteParams::default()).await {
            Err(e) if !is_not_found(&e) => {
                return Err(api_error(&format!("delete Service {name}"), e));
            }
            _ => {}
        }
    }
    // The pods go when the cluster's garbage collector and kubelets are done.
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels(&selector_text(name));
    let started = Instant::now();
    loop {
        let left_pods = pods
            .list(&params)
            .await
            .map_err(|e| api_error(&format!("list the pods of {name}"), e))?
            .items
            .len();
        let left_sets = sets
            .list(&params)
            .await
            .map_err(|e| api_error(&format!("list the ReplicaSets of {name}"), e))?
            .items
            .len();
        if left_pods == 0 && left_sets == 0 {
            return Ok(());
        }
        if started.elapsed() > REMOVE_WAIT {
            return Err(KubeDeployError::Failed(format!(
                "Deployment {name} is deleted, but {left_pods} of its pods and {left_sets} of its ReplicaSets were still there after {} s: see `kubectl get pods -l {LABEL_DEPLOY}={name}`",
                REMOVE_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The revisions Deployment `name` keeps, oldest first: what `rollback`
/// can return to (`to_revision`), with the model version each one serves.
pub async fn history(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Vec<Revision>, KubeDeployError> {
    check_names(namespace, name)?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d = deployments
        .get_opt(name)
        .await
        .map_err(|e| api_error(&format!("read Deployment {name}"), e))?
        .ok_or_else(|| {
            KubeDeployError::Invalid(format!(
                "there is no Deployment `{name}` in namespace `{namespace}`"
            ))
        })?;
    let current = revision_of(&d.metadata);
    Ok(replica_sets(client, &d)
        .await?
        .into_iter()
        .map(|(revision, rs)| {
            let template = rs.spec.and_then(|s| s.template).unwrap_or_default();
            let labels = template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            Revision {
                revision,
                model: labels.get(LABEL_MODEL).cloned(),
                version: labels.get(LABEL_VERSION).and_then(|v| v.parse().ok()),
                image: template
                    .spec
                    .as_ref()
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.image.clone())
                    .unwrap_or_default(),
                current: revision == current,
            }
        })
        .collect())
}
