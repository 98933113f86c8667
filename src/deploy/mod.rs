//! Continuous delivery of registered models (`mlci deploy`, `deploy:` steps).
//!
//! ```text
//! model version ──check──▶ MLflow model (MLmodel, requirements)   model::
//!               ──build──▶ serving image, cached by requirements  image::
//!               ──start──▶ green beside blue, health, smoke test  docker::, smoke::
//!               ──switch─▶ the front sends traffic to green       switch::, front::
//!               ──record─▶ run store (`deployments` table)        record::
//! ```
//!
//! The caller resolves what a person typed (`iris:champion`) into a
//! [`ModelVersion`]; this module reads the version's files from its cache
//! entry, so there is no arrow back to `registry` or `cli`.

pub mod docker;
pub mod front;
pub mod image;
pub mod k8s;
pub mod model;
mod request;
mod rollout;
pub mod switch;
mod to_k8s;

pub use request::{DeployError, DeployEvent, DeployRequest, Deployed, KubeOptions, TargetKind};
pub use rollout::DEFAULT_PORT;
pub use to_k8s::serving as kube_serving;

use crate::record::{DeployAction, DeploymentRecord, DeploymentState, Store};

/// Deploys `request.version`: builds its serving image, starts it beside
/// what serves now, health- and smoke-tests it, switches traffic to it (or
/// its canary share), and records what happened in `store`.
pub async fn deploy(
    store: &mut Store,
    cache: &crate::cache::Store,
    request: &DeployRequest,
    on_event: &mut (dyn FnMut(&DeployEvent) + Send),
) -> Result<Deployed, DeployError> {
    check_name(&request.name)?;
    if let Some(percent) = request.canary
        && !(1..=99).contains(&percent)
    {
        return Err(DeployError::Invalid(format!(
            "--canary {percent}: the canary's share is a percentage from 1 to 99"
        )));
    }
    match request.target {
        TargetKind::Docker => {
            rollout::deploy(store, cache, request, DeployAction::Deploy, on_event).await
        }
        TargetKind::K8s => to_k8s::deploy(store, cache, request, on_event).await,
    }
}

/// Back to the version that served before the live one (or `to`); during
/// a canary, the live version takes all traffic back.
pub async fn rollback(
    store: &mut Store,
    cache: &crate::cache::Store,
    name: &str,
    to: Option<i64>,
    on_event: &mut (dyn FnMut(&DeployEvent) + Send),
) -> Result<Deployed, DeployError> {
    check_name(name)?;
    let history = store
        .deployment_history(Some(name))
        .map_err(|e| DeployError::Failed(e.to_string()))?;
    let state = DeploymentState::replay(&history);
    if history.is_empty() || state.removed {
        return Err(DeployError::Invalid(format!(
            "no deployment `{name}` (see `mlci deployments ls`)"
        )));
    }
    if state.target == "k8s" {
        return to_k8s::rollback(store, &state, to, on_event).await;
    }
    if to.is_none()
        && let Some(row) = rollout::drop_canary(store, name, on_event).await?
    {
        return Ok(Deployed::Live(row));
    }
    let target = match to {
        Some(version) => version,
        None => earlier_live(&history, state.live).ok_or_else(|| {
            DeployError::Invalid(format!(
                "`{name}` has served no other version to roll back to"
            ))
        })?,
    };
    let version = store
        .model_version(&state.model, target)
        .map_err(|e| DeployError::Failed(e.to_string()))?
        .ok_or_else(|| {
            DeployError::Invalid(format!(
                "no version {}@{target} in the registry",
                state.model
            ))
        })?;
    let request = DeployRequest {
        name: name.to_string(),
        version,
        target: TargetKind::Docker,
        port: None,
        smoke: None,
        expect: None,
        canary: None,
        kube: Default::default(),
        run_id: None,
        sha: None,
    };
    rollout::deploy(store, cache, &request, DeployAction::Rollback, on_event).await
}

/// The version that served all traffic before `live`, walking back through the rows.
fn earlier_live(history: &[DeploymentRecord], live: Option<i64>) -> Option<i64> {
    let mut lives: Vec<i64> = Vec::new();
    for end in 1..=history.len() {
        if let Some(version) = DeploymentState::replay(&history[..end]).live
            && lives.last() != Some(&version)
        {
            lives.push(version);
        }
    }
    lives.into_iter().rev().find(|v| Some(*v) != live)
}

/// The canary takes all traffic.
pub async fn promote(
    store: &mut Store,
    name: &str,
    on_event: &mut (dyn FnMut(&DeployEvent) + Send),
) -> Result<DeploymentRecord, DeployError> {
    check_name(name)?;
    rollout::promote(store, name, on_event).await
}

/// Removes the deployment: its front, its servers and its network.
pub async fn remove(
    store: &mut Store,
    name: &str,
    on_event: &mut (dyn FnMut(&DeployEvent) + Send),
) -> Result<DeploymentRecord, DeployError> {
    check_name(name)?;
    let history = store
        .deployment_history(Some(name))
        .map_err(|e| DeployError::Failed(e.to_string()))?;
    let state = DeploymentState::replay(&history);
    if state.target == "k8s" && !state.removed {
        return to_k8s::remove(store, &state).await;
    }
    rollout::remove(store, name, on_event).await
}

/// A deployment's name becomes container and network names: letters,
/// digits, `.`, `-`, `_`, starting with a letter, as registry names.
pub fn check_name(name: &str) -> Result<(), DeployError> {
    if crate::workflow::is_registry_name(name) && name.len() <= 63 {
        Ok(())
    } else {
        Err(DeployError::Invalid(format!(
            "`{name}` is not a deployment name: use letters, digits, `.`, `-` and `_`, starting with a letter (at most 63)"
        )))
    }
}
