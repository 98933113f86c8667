//! The sweep at the start of a run: containers, networks and volumes left
//! by runs whose process is gone (killed with SIGKILL, or a machine that
//! went down), found by their owner label
//! ([`LABEL_OWNER`](crate::executor::LABEL_OWNER)) and removed. Three list
//! calls, run at once; only objects of owners on this host that certainly
//! no longer run are touched (see [`crate::owner::Owner::is_gone`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};

use super::connection::DockerBackend;
use super::errors::engine_error;
use super::removal::{RunObjects, remove_listed};
use crate::executor::{ExecError, LABEL_OWNER, LABEL_RUN};
use crate::owner::Owner;

impl DockerBackend {
    /// Removes what runs whose process is gone left on the engine; returns
    /// the ids of those runs.
    pub async fn remove_orphans(&self) -> Result<BTreeSet<String>, ExecError> {
        let filter = HashMap::from([("label".to_string(), vec![LABEL_OWNER.to_string()])]);
        let (containers, networks, volumes) = tokio::join!(
            self.docker.list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filter)
                    .build(),
            )),
            self.docker.list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filter)
                    .build(),
            )),
            self.docker.list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filter)
                    .build(),
            )),
        );
        let listing = |e| engine_error("listing what earlier runs left", e);
        let mut verdicts: BTreeMap<String, bool> = BTreeMap::new();
        let mut gone = |labels: Option<&HashMap<String, String>>| {
            let Some(owner) = labels.and_then(|l| l.get(LABEL_OWNER)) else {
                return false;
            };
            *verdicts
                .entry(owner.clone())
                .or_insert_with(|| Owner::parse(owner).is_some_and(|o| o.is_gone()))
        };
        let mut runs = BTreeSet::new();
        let mut note_run = |labels: Option<&HashMap<String, String>>| {
            if let Some(run) = labels.and_then(|l| l.get(LABEL_RUN)) {
                runs.insert(run.clone());
            }
        };
        let mut orphans = RunObjects::default();
        for container in containers.map_err(listing)? {
            if gone(container.labels.as_ref()) {
                note_run(container.labels.as_ref());
                orphans.containers.extend(container.id);
            }
        }
        for network in networks.map_err(listing)? {
            if gone(network.labels.as_ref()) {
                note_run(network.labels.as_ref());
                orphans.networks.extend(network.id.or(network.name));
            }
        }
        for volume in volumes.map_err(listing)?.volumes.unwrap_or_default() {
            if gone(Some(&volume.labels)) {
                note_run(Some(&volume.labels));
                orphans.volumes.push(volume.name);
            }
        }
        if !orphans.is_empty() {
            remove_listed(&self.docker, &orphans).await?;
        }
        Ok(runs)
    }
}
