//! Removing what mlci created: a job's containers, network and volumes, or
//! everything labelled with a run.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder,
};

use super::errors::{engine_error, is_removal_in_progress, status_of};
use super::names::short;
use crate::executor::{ExecError, LABEL_RUN};

/// Removes every container, network and volume labelled with this run.
pub(super) async fn remove_run(docker: &Docker, run_id: &str) -> Result<(), ExecError> {
    let filter = HashMap::from([("label".to_string(), vec![format!("{LABEL_RUN}={run_id}")])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(|e| engine_error("listing the run's containers", e))?;
    let ids: Vec<String> = containers.into_iter().filter_map(|c| c.id).collect();
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(|e| engine_error("listing the run's networks", e))?;
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(|e| engine_error("listing the run's volumes", e))?;
    let volume_names: Vec<String> = volumes
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    let mut first_err = remove_objects(docker, &ids, None, &[]).await.err();
    for n in networks {
        if let Some(id) = n.id.or(n.name)
            && let Err(e) = docker.remove_network(&id).await
            && status_of(&e) != Some(404)
        {
            first_err.get_or_insert(engine_error("removing a network of the run", e));
        }
    }
    if let Err(e) = remove_objects(docker, &[], None, &volume_names).await {
        first_err.get_or_insert(e);
    }
    first_err.map_or(Ok(()), Err)
}

/// Force-removes containers (with their anonymous volumes), then the network,
/// then volumes; missing objects are fine. Reports the first failure.
pub(super) async fn remove_objects(
    docker: &Docker,
    containers: &[String],
    network: Option<&str>,
    volumes: &[String],
) -> Result<(), ExecError> {
    let mut first: Option<ExecError> = None;
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let removals = containers.iter().map(|id| {
        let opts = opts.clone();
        async move { (id, docker.remove_container(id, Some(opts)).await) }
    });
    for (id, r) in futures_util::future::join_all(removals).await {
        if let Err(e) = r
            && !matches!(status_of(&e), Some(404))
            && !is_removal_in_progress(&e)
        {
            first.get_or_insert(engine_error(
                &format!("removing container {}", short(id)),
                e,
            ));
        }
    }
    if let Some(n) = network
        && let Err(e) = docker.remove_network(n).await
        && status_of(&e) != Some(404)
    {
        first.get_or_insert(engine_error(&format!("removing network {n}"), e));
    }
    for v in volumes {
        if let Err(e) = docker
            .remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
            && status_of(&e) != Some(404)
        {
            first.get_or_insert(engine_error(&format!("removing volume {v}"), e));
        }
    }
    first.map_or(Ok(()), Err)
}
