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

/// What the engine holds of a run: containers, networks and volumes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunObjects {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl RunObjects {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }
}

/// Everything labelled with this run, now.
pub(super) async fn list_run(docker: &Docker, run_id: &str) -> Result<RunObjects, ExecError> {
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
    Ok(RunObjects {
        containers: containers.into_iter().filter_map(|c| c.id).collect(),
        networks: networks
            .into_iter()
            .filter_map(|n| n.id.or(n.name))
            .collect(),
        volumes: volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect(),
    })
}

/// Removes every container, network and volume labelled with this run.
pub(super) async fn remove_run(docker: &Docker, run_id: &str) -> Result<(), ExecError> {
    let objects = list_run(docker, run_id).await?;
    remove_listed(docker, &objects).await
}

/// Removes these containers, waits until the engine has them gone (a
/// removal already in progress is waited for, not repeated), then removes
/// the networks, which cannot go while a container is attached, and the
/// volumes.
pub(super) async fn remove_listed(docker: &Docker, objects: &RunObjects) -> Result<(), ExecError> {
    let mut first_err = remove_objects(docker, &objects.containers, None, &[])
        .await
        .err();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    for id in &objects.containers {
        while tokio::time::Instant::now() < deadline {
            match docker.inspect_container(id, None).await {
                Err(e) if status_of(&e) == Some(404) => break,
                Err(_) => break,
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }
    for n in &objects.networks {
        if let Err(e) = docker.remove_network(n).await
            && status_of(&e) != Some(404)
        {
            first_err.get_or_insert(engine_error("removing a network of the run", e));
        }
    }
    if let Err(e) = remove_objects(docker, &[], None, &objects.volumes).await {
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
