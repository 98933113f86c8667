//! The registry shared through the S3 remote, beside the cache's objects:
//!
//! ```text
//! <prefix>/registry/<name>/versions/<version>.json   a version (as `mlci models show --json`)
//! <prefix>/registry/<name>/aliases/<alias>.json      the version an alias names, and when it moved
//! <prefix>/registry/<name>/history/<alias>/<ms>.json each move of the alias
//! <prefix>/entries/model-<tree hash>.json            the version's files, as a cache entry
//! ```
//!
//! A machine reads a model's versions and aliases before it registers or
//! pulls one, so that numbers continue where any machine left them. Two
//! machines registering the same name in the same second can still pick one
//! number: the second finds the version file taken and keeps its version
//! locally only, with a warning.

use crate::cache::Remote;
use crate::record::{ModelVersion, Store};
use futures_util::StreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct AliasFile {
    version: i64,
    set_at: i64,
    #[serde(default)]
    previous: Option<i64>,
    #[serde(default)]
    reason: String,
}

fn versions_dir(name: &str) -> String {
    format!("{name}/versions")
}

/// Reads `name`'s versions and aliases from the remote into the local store.
pub async fn sync(remote: &Remote, store: &mut Store, name: &str) -> Result<(), String> {
    let objects = remote.object_store();
    let unavailable = |e: object_store::Error| {
        format!(
            "the shared registry on {} cannot be read: {e}",
            remote.url()
        )
    };
    let known: std::collections::BTreeSet<i64> = store
        .model_versions(Some(name))
        .map_err(|e| e.to_string())?
        .iter()
        .map(|v| v.version)
        .collect();
    let prefix = remote.registry_location(&versions_dir(name));
    let mut listing = objects.list(Some(&prefix));
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(unavailable)?;
        let number = meta
            .location
            .filename()
            .and_then(|f| f.strip_suffix(".json"))
            .and_then(|n| n.parse::<i64>().ok());
        if number.is_none_or(|n| known.contains(&n)) {
            continue;
        }
        let bytes = read(objects.as_ref(), &meta.location)
            .await
            .map_err(unavailable)?;
        let Ok(mut version) = serde_json::from_slice::<ModelVersion>(&bytes) else {
            continue;
        };
        if version.name != name || Some(version.version) != number {
            continue;
        }
        // Run ids and step rows belong to the store of the machine that made it.
        version.run_id = None;
        version.step_row = None;
        version.origin = "remote".to_string();
        store.import_version(&version).map_err(|e| e.to_string())?;
    }
    let prefix = remote.registry_location(&format!("{name}/aliases"));
    let mut listing = objects.list(Some(&prefix));
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(unavailable)?;
        let Some(alias) = meta
            .location
            .filename()
            .and_then(|f| f.strip_suffix(".json"))
        else {
            continue;
        };
        let alias = alias.to_string();
        let bytes = read(objects.as_ref(), &meta.location)
            .await
            .map_err(unavailable)?;
        if let Ok(file) = serde_json::from_slice::<AliasFile>(&bytes) {
            store
                .import_alias(name, &alias, file.version, file.set_at)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

async fn read(
    objects: &dyn object_store::ObjectStore,
    location: &object_store::path::Path,
) -> Result<bytes::Bytes, object_store::Error> {
    objects.get(location).await?.bytes().await
}

/// Writes a version to the remote, unless its number is taken there; a
/// number taken by other content is an error that says so.
pub async fn publish_version(remote: &Remote, version: &ModelVersion) -> Result<(), String> {
    let objects = remote.object_store();
    let location = remote.registry_location(&format!(
        "{}/{}.json",
        versions_dir(&version.name),
        version.version
    ));
    let failed = |e: object_store::Error| {
        format!(
            "cannot write {} to the shared registry: {e}",
            version.label()
        )
    };
    match objects.get(&location).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(failed)?;
            return match serde_json::from_slice::<ModelVersion>(&bytes) {
                Ok(there) if there.tree_hash == version.tree_hash => Ok(()),
                _ => Err(format!(
                    "{} was registered by another machine meanwhile, with other content; this one is kept in the local registry only",
                    version.label()
                )),
            };
        }
        Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => return Err(failed(error)),
    }
    let body = serde_json::to_vec_pretty(version).map_err(|e| e.to_string())?;
    objects
        .put(&location, PutPayload::from(body))
        .await
        .map_err(failed)?;
    Ok(())
}

/// Moves an alias on the remote, and keeps the move in its history there.
pub async fn publish_alias(
    remote: &Remote,
    name: &str,
    alias: &str,
    version: i64,
    previous: Option<i64>,
    set_at: i64,
    reason: &str,
) -> Result<(), String> {
    let objects = remote.object_store();
    let file = AliasFile {
        version,
        set_at,
        previous,
        reason: reason.to_string(),
    };
    let body = serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?;
    let failed =
        |e: object_store::Error| format!("cannot move {name}:{alias} in the shared registry: {e}");
    objects
        .put(
            &remote.registry_location(&format!("{name}/history/{alias}/{set_at}-{version}.json")),
            PutPayload::from(body.clone()),
        )
        .await
        .map_err(failed)?;
    objects
        .put(
            &remote.registry_location(&format!("{name}/aliases/{alias}.json")),
            PutPayload::from(body),
        )
        .await
        .map_err(failed)?;
    Ok(())
}
