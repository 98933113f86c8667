//! `deploy`, `rollback` and `rm` on the Kubernetes target: the version's
//! image (the serving environment plus the model) pushed where the cluster
//! pulls, then `k8s::rollout` (watched, undone when it never gets ready),
//! each recorded as on the Docker target. The deployment's namespace is
//! kept in its URL (`http://NAME.NAMESPACE.svc.cluster.local:PORT`).

use super::k8s::{self, KubeDeployError, KubeServing};
use super::request::{DeployError, DeployEvent, DeployRequest, Deployed};
use super::rollout::{checkout, record};
use super::{docker::Engine, image};
use crate::record::{DeployAction, DeployOutcome, DeploymentRecord, DeploymentState, Store};
use std::time::Duration;

/// How long a rollout may take to get every replica ready.
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(600);

fn from_kube(error: KubeDeployError) -> DeployError {
    match error {
        KubeDeployError::Invalid(why) => DeployError::Invalid(why),
        other => DeployError::Failed(other.to_string()),
    }
}

fn url(s: &KubeServing) -> String {
    format!(
        "http://{}.{}.svc.cluster.local:{}",
        s.name, s.namespace, s.port
    )
}

/// The namespace a recorded deployment's URL names.
fn namespace_of(state: &DeploymentState) -> String {
    state
        .url
        .as_deref()
        .and_then(|u| u.strip_prefix("http://"))
        .and_then(|u| u.split('.').nth(1))
        .unwrap_or("default")
        .to_string()
}

/// The serving of `request` as the manifests name it; the image is the
/// version's tag in `--registry` (or the local tag, for a dry run without one).
pub fn serving(request: &DeployRequest) -> Result<KubeServing, DeployError> {
    let version = &request.version;
    let tag = image::version_tag(&version.name, version.version, &version.tree_hash);
    let image = match &request.kube.registry {
        Some(repository) => format!(
            "{repository}:{}",
            tag.rsplit(':').next().unwrap_or("latest")
        ),
        None => tag,
    };
    let mut s = KubeServing::new(&request.name, &image, &version.name, version.version);
    s.namespace.clone_from(&request.kube.namespace);
    s.replicas = request.kube.replicas;
    if let Some(port) = request.port {
        s.port = port;
    }
    k8s::check(&s).map_err(from_kube)?;
    Ok(s)
}

fn row(s: &KubeServing, action: DeployAction, previous: Option<i64>) -> DeploymentRecord {
    let mut row = DeploymentRecord::new(&s.name, "k8s", action, &s.model);
    row.version = Some(s.version);
    row.image = Some(s.image.clone());
    row.image_digest = s
        .image
        .split_once('@')
        .map(|(_, digest)| digest.to_string());
    row.url = Some(url(s));
    row.previous_version = previous;
    row
}

pub(super) async fn deploy(
    store: &mut Store,
    cache: &crate::cache::Store,
    request: &DeployRequest,
    on_event: &mut (dyn FnMut(&DeployEvent) + Send),
) -> Result<Deployed, DeployError> {
    if request.canary.is_some() {
        return Err(DeployError::Invalid(
            "--canary is for the Docker target: on Kubernetes a new version rolls out pod by pod"
                .into(),
        ));
    }
    let mut s = serving(request)?;
    let Some(repository) = request.kube.registry.clone() else {
        return Err(DeployError::Invalid(
            "--target k8s needs --registry REPOSITORY, where the cluster pulls the serving image from (or --dry-run to print the manifests)".into(),
        ));
    };
    let version = &request.version;
    let (_staging, model) = checkout(cache, version)?;
    let engine = Engine::connect().await?;
    let mut quiet = |_: &str| {};
    let environment = image::environment(engine.backend_ref(), &model, &mut quiet).await?;
    let built = image::version(
        engine.backend_ref(),
        &environment,
        &model,
        &version.name,
        version.version,
        &version.tree_hash,
        &mut quiet,
    )
    .await?;
    on_event(&DeployEvent::Progress(format!("image {}", built.tag)));
    s.image = k8s::push_image(engine.backend_ref(), &built.tag, &repository)
        .await
        .map_err(from_kube)?;
    on_event(&DeployEvent::Progress(format!("pushed {}", s.image)));
    let previous = store
        .deployment_history(Some(&s.name))
        .map(|h| DeploymentState::replay(&h).live)
        .unwrap_or(None);
    let client = k8s::connect().await.map_err(from_kube)?;
    let mut forward = |line: &str| on_event(&DeployEvent::Progress(line.to_string()));
    let result = k8s::rollout(&client, &s, ROLLOUT_TIMEOUT, &mut forward).await;
    let mut row = row(&s, DeployAction::Deploy, previous);
    row.tree_hash = Some(version.tree_hash.clone());
    row.run_id = request.run_id;
    row.sha = request.sha.clone();
    record_rollout(store, row, result, |rollout| {
        format!(
            "revision {}: {} replicas ready after {:.1} s{}",
            rollout.revision,
            rollout.ready_replicas,
            rollout.seconds,
            previous
                .map(|v| format!(", replacing v{v}"))
                .unwrap_or_default()
        )
    })
}

/// Records how a rollout ended: live, saying `live_message`, or refused
/// with the cluster's reason (the Deployment is back where it was).
fn record_rollout(
    store: &mut Store,
    mut row: DeploymentRecord,
    result: Result<k8s::Rollout, KubeDeployError>,
    live_message: impl FnOnce(&k8s::Rollout) -> String,
) -> Result<Deployed, DeployError> {
    match result {
        Ok(rollout) => {
            row.message = live_message(&rollout);
            record(store, row).map(Deployed::Live)
        }
        Err(KubeDeployError::Refused(why)) => {
            row.outcome = DeployOutcome::Refused;
            row.message = why;
            record(store, row).map(Deployed::Refused)
        }
        Err(error) => Err(from_kube(error)),
    }
}

/// Back to the revision before (or the one that served version `to`).
pub(super) async fn rollback(
    store: &mut Store,
    state: &DeploymentState,
    to: Option<i64>,
    on_event: &mut (dyn FnMut(&DeployEvent) + Send),
) -> Result<Deployed, DeployError> {
    let namespace = namespace_of(state);
    let client = k8s::connect().await.map_err(from_kube)?;
    let revisions = k8s::history(&client, &namespace, &state.name)
        .await
        .map_err(from_kube)?;
    let revision = match to {
        None => None,
        Some(version) => Some(
            revisions
                .iter()
                .rev()
                .find(|r| r.version == Some(version))
                .map(|r| r.revision)
                .ok_or_else(|| {
                    DeployError::Invalid(format!(
                        "Deployment {} keeps no revision of v{version}",
                        state.name
                    ))
                })?,
        ),
    };
    let mut forward = |line: &str| on_event(&DeployEvent::Progress(line.to_string()));
    let rollout = k8s::rollback(
        &client,
        &namespace,
        &state.name,
        revision,
        ROLLOUT_TIMEOUT,
        &mut forward,
    )
    .await;
    let now_serving = k8s::history(&client, &namespace, &state.name)
        .await
        .ok()
        .and_then(|h| h.into_iter().find(|r| r.current));
    let mut s = KubeServing::new(&state.name, "", &state.model, 0);
    s.namespace = namespace;
    let mut row = row(&s, DeployAction::Rollback, state.live);
    row.url.clone_from(&state.url);
    row.version = now_serving.as_ref().and_then(|r| r.version);
    row.image = now_serving.map(|r| r.image);
    record_rollout(store, row, rollout, |rollout| {
        format!("back to revision {}", rollout.revision)
    })
}

pub(super) async fn remove(
    store: &mut Store,
    state: &DeploymentState,
) -> Result<DeploymentRecord, DeployError> {
    let namespace = namespace_of(state);
    let client = k8s::connect().await.map_err(from_kube)?;
    k8s::remove(&client, &namespace, &state.name)
        .await
        .map_err(from_kube)?;
    let mut s = KubeServing::new(&state.name, "", &state.model, 0);
    s.namespace = namespace;
    let mut row = row(&s, DeployAction::Remove, state.live);
    row.outcome = DeployOutcome::Removed;
    row.version = state.live;
    row.image = None;
    row.url.clone_from(&state.url);
    row.message = "Deployment and Service deleted".into();
    record(store, row)
}
