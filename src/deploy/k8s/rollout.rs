//! The conversation with the API server.
//!
//! `rollout`: read the Deployment; make the Service when it is missing;
//! create the Deployment, or replace its spec (a new template is a new
//! revision, made by the cluster's Deployment controller); watch the
//! Deployment until [`judge`] says the rollout is complete. When it is not
//! within the timeout, or the Deployment says `ProgressDeadlineExceeded`,
//! the Deployment goes back to the revision that served before: its
//! ReplicaSet's template, as `kubectl rollout undo` puts it back (the pods
//! of that revision never left: `maxUnavailable` is 0). A first version that
//! never gets ready is removed, since nothing served before it.
//!
//! `rollback`: the same switch, to the previous revision (or a given one).
//!
//! Every replace carries the `resourceVersion` it read: a change made
//! meanwhile (a 409 Conflict) is read again and the replace tried again.

use super::api::{
    OnEvent, POD_TEMPLATE_HASH, api_error, check_names, describe, is_conflict, is_not_found,
    labelled_ours, not_ours, replica_sets, template_of, uids,
};
use super::manifests::{self, ANNOTATION_CHANGE_CAUSE, selector_text};
use super::progress::{Judgement, judge, pod_trouble, revision_of};
use super::remove::remove;
use super::{KubeDeployError, KubeServing, Rollout, check};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use std::time::{Duration, Instant};

/// Creates the Deployment and the Service of `s`, or rolls the Deployment to
/// `s`'s template, and watches the rollout to its end. A revision that is
/// not ready within `timeout` is undone (see the module's doc) and the
/// answer is [`KubeDeployError::Refused`].
pub async fn rollout(
    client: &kube::Client,
    s: &KubeServing,
    timeout: Duration,
    on_event: OnEvent<'_>,
) -> Result<Rollout, KubeDeployError> {
    check(s)?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &s.namespace);
    let wanted = manifests::deployment(s);
    let what = format!("{}@{}", s.model, s.version);
    let existing = deployments
        .get_opt(&s.name)
        .await
        .map_err(|e| api_error(&format!("read Deployment {}", s.name), e))?;
    if let Some(d) = &existing
        && !labelled_ours(&d.metadata, &s.name)
    {
        return Err(not_ours("Deployment", &s.name, &s.namespace));
    }
    let made_service = ensure_service(client, s, on_event).await?;
    let started = Instant::now();
    let Some(current) = existing else {
        let created = match deployments.create(&PostParams::default(), &wanted).await {
            Ok(d) => d,
            Err(e) => {
                if made_service {
                    let services: Api<Service> = Api::namespaced(client.clone(), &s.namespace);
                    let _ = services.delete(&s.name, &DeleteParams::default()).await;
                }
                return Err(api_error(&format!("create Deployment {}", s.name), e));
            }
        };
        on_event(&format!(
            "created Deployment {} in namespace {}: {} of {what}",
            s.name,
            s.namespace,
            plural_replicas(s.replicas)
        ));
        return match watch_rollout(client, &deployments, created, started, timeout, on_event).await
        {
            Ok(done) => Ok(done),
            Err(Stop::NotReady(why) | Stop::Stalled(why)) => {
                on_event(&format!(
                    "{what} did not become ready: removing Deployment {}",
                    s.name
                ));
                remove(client, &s.namespace, &s.name).await?;
                Err(KubeDeployError::Refused(format!(
                    "{what} did not become ready on Kubernetes: {why}; nothing served before it, so Deployment and Service {} were removed",
                    s.name
                )))
            }
            Err(Stop::Failed(e)) => Err(e),
        };
    };
    let previous = revision_of(&current.metadata);
    let before = describe(&template_of(&current));
    let known = uids(&replica_sets(client, &current).await?);
    let generation = current.metadata.generation;
    let updated = replace(&deployments, &s.name, current, |d| {
        let labels = d.metadata.labels.get_or_insert_with(Default::default);
        labels.extend(manifests::labels(s));
        d.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(
                ANNOTATION_CHANGE_CAUSE.to_string(),
                manifests::change_cause(s),
            );
        d.spec = wanted.spec.clone();
    })
    .await?;
    if updated.metadata.generation == generation {
        on_event(&format!(
            "Deployment {} already has {what} (revision {previous})",
            s.name
        ));
    } else {
        on_event(&format!(
            "updated Deployment {}: {} of {what}, replacing {before} (revision {previous})",
            s.name,
            plural_replicas(s.replicas)
        ));
    }
    switch_or_undo(
        client,
        &deployments,
        Switch {
            changed: updated,
            previous,
            known,
            what,
            started,
        },
        timeout,
        on_event,
    )
    .await
}

fn plural_replicas(n: i32) -> String {
    if n == 1 {
        "1 replica".to_string()
    } else {
        format!("{n} replicas")
    }
}

/// A change of a Deployment's template, to be watched.
struct Switch {
    /// The Deployment as the replace answered.
    changed: Deployment,
    /// The revision that served before.
    previous: i64,
    /// The uids of the ReplicaSets before the change.
    known: Vec<String>,
    /// What it switches to (`iris@3`).
    what: String,
    started: Instant,
}

/// Watches a switch to the end of its rollout; when it does not get there,
/// puts the Deployment back on the revision that served, deletes the
/// ReplicaSet the switch made (it never served, so that the next rollback
/// does not return to it), and answers Refused.
async fn switch_or_undo(
    client: &kube::Client,
    deployments: &Api<Deployment>,
    switch: Switch,
    timeout: Duration,
    on_event: OnEvent<'_>,
) -> Result<Rollout, KubeDeployError> {
    let Switch {
        changed,
        previous,
        known,
        what,
        started,
    } = switch;
    let name = changed.metadata.name.clone().unwrap_or_default();
    let why = match watch_rollout(client, deployments, changed, started, timeout, on_event).await {
        Ok(done) => return Ok(done),
        Err(Stop::Failed(e)) => return Err(e),
        Err(Stop::NotReady(why) | Stop::Stalled(why)) => why,
    };
    on_event(&format!(
        "{what} did not become ready ({why}): returning to revision {previous}"
    ));
    let (undo, back, _) = return_to(client, deployments, &name, Some(previous)).await?;
    let done = match watch_rollout(client, deployments, undo, Instant::now(), timeout, on_event)
        .await
    {
        Ok(done) => done,
        Err(Stop::Failed(e)) => return Err(e),
        Err(Stop::NotReady(again) | Stop::Stalled(again)) => {
            return Err(KubeDeployError::Failed(format!(
                "{what} did not become ready ({why}), and returning Deployment {name} to revision {previous} did not complete either ({again}): see `kubectl rollout status deployment/{name}`"
            )));
        }
    };
    let now = deployments
        .get(&name)
        .await
        .map_err(|e| api_error(&format!("read Deployment {name}"), e))?;
    let sets: Api<ReplicaSet> = Api::namespaced(
        client.clone(),
        &now.metadata.namespace.clone().unwrap_or_default(),
    );
    for (revision, rs) in replica_sets(client, &now).await? {
        let made = rs.metadata.uid.as_ref().is_some_and(|u| !known.contains(u));
        if made && revision != done.revision {
            let rs_name = rs.metadata.name.clone().unwrap_or_default();
            match sets.delete(&rs_name, &DeleteParams::background()).await {
                Err(e) if !is_not_found(&e) => {
                    return Err(api_error(&format!("delete ReplicaSet {rs_name}"), e));
                }
                _ => {}
            }
        }
    }
    Err(KubeDeployError::Refused(format!(
        "{what} did not become ready on Kubernetes: {why}; Deployment {name} serves {back} again (revision {})",
        done.revision
    )))
}

/// Returns Deployment `name` to the previous revision, or to `to_revision`,
/// and watches it there. When that revision does not become ready, the
/// Deployment goes back to the one that served, and the answer is Refused.
pub async fn rollback(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    to_revision: Option<i64>,
    timeout: Duration,
    on_event: OnEvent<'_>,
) -> Result<Rollout, KubeDeployError> {
    check_names(namespace, name)?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let current = deployments
        .get_opt(name)
        .await
        .map_err(|e| api_error(&format!("read Deployment {name}"), e))?
        .ok_or_else(|| {
            KubeDeployError::Invalid(format!(
                "there is no Deployment `{name}` in namespace `{namespace}`: nothing to roll back"
            ))
        })?;
    if !labelled_ours(&current.metadata, name) {
        return Err(not_ours("Deployment", name, namespace));
    }
    let serving = revision_of(&current.metadata);
    if to_revision == Some(serving) {
        let status = current.status.clone().unwrap_or_default();
        on_event(&format!(
            "Deployment {name} is already on revision {serving}"
        ));
        return Ok(Rollout {
            revision: serving,
            ready_replicas: status.ready_replicas.unwrap_or(0),
            seconds: 0.0,
        });
    }
    let started = Instant::now();
    let known = uids(&replica_sets(client, &current).await?);
    let (changed, target, revision) = return_to(client, &deployments, name, to_revision).await?;
    on_event(&format!(
        "rolling Deployment {name} back from {} (revision {serving}) to {target} (revision {revision})",
        describe(&template_of(&current))
    ));
    switch_or_undo(
        client,
        &deployments,
        Switch {
            changed,
            previous: serving,
            known,
            what: target,
            started,
        },
        timeout,
        on_event,
    )
    .await
}

/// Puts the template of revision `to` (else the revision before the current
/// one) back into Deployment `name`, as `kubectl rollout undo` does: the
/// ReplicaSet's template without its `pod-template-hash` label, and its
/// change-cause. The Deployment as replaced, what it now serves (`iris@2`)
/// and the revision that had it.
async fn return_to(
    client: &kube::Client,
    deployments: &Api<Deployment>,
    name: &str,
    to: Option<i64>,
) -> Result<(Deployment, String, i64), KubeDeployError> {
    let current = deployments
        .get(name)
        .await
        .map_err(|e| api_error(&format!("read Deployment {name}"), e))?;
    let serving = revision_of(&current.metadata);
    let sets = replica_sets(client, &current).await?;
    let revisions: Vec<String> = sets.iter().map(|(r, _)| r.to_string()).collect();
    let target = match to {
        Some(to) => sets.iter().find(|(r, _)| *r == to).ok_or_else(|| {
            KubeDeployError::Invalid(format!(
                "Deployment `{name}` has no revision {to}: it keeps revisions {} (see `kubectl rollout history deployment/{name}`)",
                revisions.join(", ")
            ))
        })?,
        None => sets.iter().rev().find(|(r, _)| *r < serving).ok_or_else(|| {
            KubeDeployError::Invalid(format!(
                "Deployment `{name}` has no revision before {serving} to return to"
            ))
        })?,
    };
    let (revision, set) = target;
    let mut template = set
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    let cause = set
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_CHANGE_CAUSE))
        .cloned();
    let shown = describe(&template);
    let revision = *revision;
    let replaced = replace(deployments, name, current, |d| {
        if let Some(spec) = d.spec.as_mut() {
            spec.template = template.clone();
        }
        if let Some(cause) = &cause {
            d.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(ANNOTATION_CHANGE_CAUSE.to_string(), cause.clone());
        }
    })
    .await?;
    Ok((replaced, shown, revision))
}

/// Replaces Deployment `name` with `change` applied to `current`, reading it
/// again and retrying when someone changed it meanwhile.
async fn replace(
    deployments: &Api<Deployment>,
    name: &str,
    mut current: Deployment,
    change: impl Fn(&mut Deployment),
) -> Result<Deployment, KubeDeployError> {
    let what = format!("replace Deployment {name}");
    for _ in 0..5 {
        let mut next = current.clone();
        change(&mut next);
        next.status = None;
        match deployments
            .replace(name, &PostParams::default(), &next)
            .await
        {
            Ok(d) => return Ok(d),
            Err(e) if is_conflict(&e) => {
                current = deployments
                    .get(name)
                    .await
                    .map_err(|e| api_error(&format!("read Deployment {name}"), e))?;
            }
            Err(e) => return Err(api_error(&what, e)),
        }
    }
    Err(KubeDeployError::Failed(format!(
        "Deployment {name} kept changing while mlci replaced it (five conflicts in a row): is another tool rolling it? Try again"
    )))
}

/// Makes the Service when it is missing, or points an existing one of ours
/// at the deployment's port. True when it made it.
async fn ensure_service(
    client: &kube::Client,
    s: &KubeServing,
    on_event: OnEvent<'_>,
) -> Result<bool, KubeDeployError> {
    let services: Api<Service> = Api::namespaced(client.clone(), &s.namespace);
    let wanted = manifests::service(s);
    let existing = services
        .get_opt(&s.name)
        .await
        .map_err(|e| api_error(&format!("read Service {}", s.name), e))?;
    let Some(mut current) = existing else {
        services
            .create(&PostParams::default(), &wanted)
            .await
            .map_err(|e| api_error(&format!("create Service {}", s.name), e))?;
        on_event(&format!(
            "created Service {} (port {} to the pods' 8080)",
            s.name, s.port
        ));
        return Ok(true);
    };
    if !labelled_ours(&current.metadata, &s.name) {
        return Err(not_ours("Service", &s.name, &s.namespace));
    }
    let wanted_spec = wanted.spec.unwrap_or_default();
    let spec = current.spec.get_or_insert_with(Default::default);
    let ports_differ = spec.ports.as_ref().map(|p| p.len()) != Some(1)
        || spec.ports.as_ref().and_then(|p| p.first()).map(|p| p.port) != Some(i32::from(s.port));
    if ports_differ || spec.selector != wanted_spec.selector {
        spec.ports = wanted_spec.ports;
        spec.selector = wanted_spec.selector;
        current.status = None;
        services
            .replace(&s.name, &PostParams::default(), &current)
            .await
            .map_err(|e| api_error(&format!("replace Service {}", s.name), e))?;
        on_event(&format!("Service {} now serves port {}", s.name, s.port));
    }
    Ok(false)
}

/// Why a watch stopped short of a complete rollout.
enum Stop {
    /// The new revision is not ready in time, or the Deployment gave up: why.
    NotReady(String),
    /// The Deployment gave up (a judgement, before its pods are read).
    Stalled(String),
    Failed(KubeDeployError),
}

/// Follows Deployment `d` until its rollout is complete, `timeout` after
/// `started` at the latest.
async fn watch_rollout(
    client: &kube::Client,
    deployments: &Api<Deployment>,
    d: Deployment,
    started: Instant,
    timeout: Duration,
    on_event: OnEvent<'_>,
) -> Result<Rollout, Stop> {
    let name = d.metadata.name.clone().unwrap_or_default();
    let deadline = started + timeout;
    let mut current = d;
    let mut last_line = String::new();
    let followed = async {
        loop {
            match judge(&current) {
                Judgement::Complete { revision, ready } => {
                    let seconds = started.elapsed().as_secs_f64();
                    on_event(&format!(
                        "Deployment {name} serves revision {revision}: {ready} ready after {seconds:.1} s"
                    ));
                    return Ok(Rollout {
                        revision,
                        ready_replicas: ready,
                        seconds,
                    });
                }
                Judgement::Stalled(why) => return Err(Stop::Stalled(why)),
                Judgement::Waiting(line) => {
                    if line != last_line {
                        on_event(&format!("Deployment {name}: {line}"));
                        last_line = line;
                    }
                }
            }
            current = next_version(deployments, &name, &current, deadline).await?;
        }
    };
    let stalled = match tokio::time::timeout_at(deadline.into(), followed).await {
        Ok(Err(Stop::Stalled(why))) => Some(why),
        Ok(result) => return result,
        Err(_) => None,
    };
    // Why, in the pods' words.
    let trouble = match new_pods(client, deployments, &name).await {
        Ok(pods) => pod_trouble(&pods),
        Err(e) => Some(e.to_string()),
    };
    Err(Stop::NotReady(match (stalled, trouble) {
        (Some(stalled), Some(trouble)) => format!("{stalled}: {trouble}"),
        (Some(stalled), None) => stalled,
        (None, trouble) => format!(
            "{} after {} s",
            trouble.unwrap_or_else(|| "not all of its pods were ready".to_string()),
            timeout.as_secs()
        ),
    }))
}

/// The next state of the Deployment after `current`: from a watch that
/// starts at `current`'s resourceVersion, read again when the watch breaks.
async fn next_version(
    deployments: &Api<Deployment>,
    name: &str,
    current: &Deployment,
    deadline: Instant,
) -> Result<Deployment, Stop> {
    let version = current
        .metadata
        .resource_version
        .clone()
        .unwrap_or_else(|| "0".to_string());
    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(left.clamp(1, 290) as u32);
    let gone = || {
        Stop::Failed(KubeDeployError::Failed(format!(
            "Deployment {name} was deleted while it rolled out"
        )))
    };
    match deployments.watch(&params, &version).await {
        Ok(stream) => {
            let mut stream = stream.boxed();
            loop {
                match stream.try_next().await {
                    Ok(Some(WatchEvent::Added(d) | WatchEvent::Modified(d))) => return Ok(d),
                    Ok(Some(WatchEvent::Deleted(_))) => return Err(gone()),
                    Ok(Some(WatchEvent::Bookmark(_))) => continue,
                    // 410 Gone (too old a version), a broken or ended stream: read it again.
                    Ok(Some(WatchEvent::Error(_))) | Ok(None) | Err(_) => break,
                }
            }
        }
        Err(e) if !matches!(e, kube::Error::Api(_)) => {
            // The server may be restarting: the deadline bounds the waiting.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(e) => {
            return Err(Stop::Failed(api_error(
                &format!("watch Deployment {name}"),
                e,
            )));
        }
    }
    match deployments.get_opt(name).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(gone()),
        Err(e) if is_not_found(&e) => Err(gone()),
        Err(_) => Ok(current.clone()),
    }
}

/// The pods of the Deployment's newest ReplicaSet.
async fn new_pods(
    client: &kube::Client,
    deployments: &Api<Deployment>,
    name: &str,
) -> Result<Vec<Pod>, KubeDeployError> {
    let d = deployments
        .get(name)
        .await
        .map_err(|e| api_error(&format!("read Deployment {name}"), e))?;
    let sets = replica_sets(client, &d).await?;
    let Some((_, newest)) = sets.last() else {
        return Ok(Vec::new());
    };
    let Some(hash) = newest
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(POD_TEMPLATE_HASH))
    else {
        return Ok(Vec::new());
    };
    let namespace = d.metadata.namespace.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let selector = format!("{},{POD_TEMPLATE_HASH}={hash}", selector_text(name));
    pods.list(&ListParams::default().labels(&selector))
        .await
        .map(|l| l.items)
        .map_err(|e| api_error(&format!("list the pods of Deployment {name}"), e))
}
