//! Where a rollout stands, read from the objects alone (no I/O): the
//! Deployment's status judged as `kubectl rollout status` judges it, and
//! its pods read for why they are not ready.
//!
//! The order of the checks (kubectl's `DeploymentStatusViewer`): the
//! controller must have seen the latest spec (`observedGeneration`); a
//! `Progressing` condition with reason `ProgressDeadlineExceeded` stops the
//! wait; then every replica must run the new template (`updatedReplicas`),
//! the old ones must be gone (`replicas`), and the new ones available
//! (`availableReplicas`).

use super::ANNOTATION_REVISION;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition};
use k8s_openapi::api::core::v1::Pod;

/// What the Deployment says of its rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Every replica runs the new template and is available; the old ones are gone.
    Complete { revision: i64, ready: i32 },
    /// Still rolling: a line of progress.
    Waiting(String),
    /// The Deployment will not get there by itself (its progress deadline
    /// passed, or it cannot make pods): why.
    Stalled(String),
}

/// The revision the Deployment controller gave the Deployment (0 before it has).
pub fn revision_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn condition<'a>(d: &'a Deployment, type_: &str) -> Option<&'a DeploymentCondition> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn plural(n: i32, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Judges the rollout of `d` from its status.
pub fn judge(d: &Deployment) -> Judgement {
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    if status.observed_generation.unwrap_or(0) < generation {
        return Judgement::Waiting(
            "waiting for the Deployment controller to see the change".into(),
        );
    }
    if let Some(c) = condition(d, "Progressing")
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Judgement::Stalled(format!(
            "the Deployment made no progress within its progressDeadlineSeconds ({})",
            c.message.clone().unwrap_or_default()
        ));
    }
    if let Some(c) = condition(d, "ReplicaFailure")
        && c.status == "True"
    {
        return Judgement::Stalled(format!(
            "the cluster cannot make its pods ({}: {})",
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default()
        ));
    }
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted {
        return Judgement::Waiting(format!(
            "{updated} of {} updated",
            plural(wanted, "new replica")
        ));
    }
    if replicas > updated {
        return Judgement::Waiting(format!(
            "{} pending termination",
            plural(replicas - updated, "old replica")
        ));
    }
    if available < updated {
        return Judgement::Waiting(format!(
            "{available} of {} available",
            plural(updated, "updated replica")
        ));
    }
    Judgement::Complete {
        revision: revision_of(&d.metadata),
        ready: status.ready_replicas.unwrap_or(0),
    }
}

/// Why pods of a revision are not ready, in words, when their status says:
/// an image that cannot be pulled, a container that keeps ending or cannot
/// be made, a pod that cannot be scheduled, or a server that does not answer
/// its readiness probe. None when every pod is ready (or there is none).
pub fn pod_trouble(pods: &[Pod]) -> Option<String> {
    let mut found: Vec<(u8, String)> = Vec::new();
    for pod in pods {
        let Some(status) = &pod.status else {
            continue;
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        if let Some(c) = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        {
            found.push((
                3,
                format!(
                    "pod {name} cannot be scheduled ({})",
                    c.message.clone().unwrap_or_default()
                ),
            ));
        }
        for c in status.container_statuses.iter().flatten() {
            if c.ready {
                continue;
            }
            let state = c.state.clone().unwrap_or_default();
            if let Some(waiting) = &state.waiting {
                let reason = waiting.reason.clone().unwrap_or_default();
                let message = waiting.message.clone().unwrap_or_default();
                let line = match reason.as_str() {
                    "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" => Some((
                        5,
                        format!("the image cannot be pulled ({reason}: {message})"),
                    )),
                    "CrashLoopBackOff" => {
                        let code = c
                            .last_state
                            .as_ref()
                            .and_then(|s| s.terminated.as_ref())
                            .map(|t| format!(", last exit code {}", t.exit_code))
                            .unwrap_or_default();
                        Some((
                            4,
                            format!(
                                "its container keeps ending (CrashLoopBackOff, {}{code})",
                                if c.restart_count == 1 {
                                    "1 restart".to_string()
                                } else {
                                    format!("{} restarts", c.restart_count)
                                }
                            ),
                        ))
                    }
                    "CreateContainerConfigError" | "CreateContainerError" => Some((
                        4,
                        format!("its container cannot be created ({reason}: {message})"),
                    )),
                    _ => None,
                };
                found.extend(line);
            } else if let Some(t) = &state.terminated {
                found.push((
                    4,
                    format!(
                        "its container ended with exit code {}{}",
                        t.exit_code,
                        t.reason
                            .as_ref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                ));
            } else if state.running.is_some() {
                found.push((
                    1,
                    "its pods run but do not answer the readiness probe (GET /ping on port 8080)"
                        .to_string(),
                ));
            }
        }
    }
    // The most telling reason: the one that will not pass by itself.
    found.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    found.into_iter().next().map(|(_, line)| line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(generation: i64, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "iris", "generation": generation,
                         "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_rollout_is_complete_once_every_replica_is_new_and_available_and_the_old_are_gone() {
        let steps = [
            (
                json!({"observedGeneration": 1}),
                "waiting for the Deployment controller to see the change",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1}),
                "1 of 2 new replicas updated",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2}),
                "1 old replica pending termination",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
                "1 of 2 updated replicas available",
            ),
        ];
        for (status, line) in steps {
            assert_eq!(
                judge(&deployment(2, status)),
                Judgement::Waiting(line.into())
            );
        }
        let done = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                          "availableReplicas": 2, "readyReplicas": 2});
        assert_eq!(
            judge(&deployment(2, done)),
            Judgement::Complete {
                revision: 3,
                ready: 2
            }
        );
    }

    #[test]
    fn a_passed_progress_deadline_stops_the_wait() {
        let status = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet \"iris-5d4f\" has timed out progressing."}]});
        let Judgement::Stalled(why) = judge(&deployment(2, status)) else {
            panic!("not stalled");
        };
        assert!(why.contains("has timed out progressing"), "{why}");
    }

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "iris-1"}, "status": status})).unwrap()
    }

    #[test]
    fn the_reason_that_will_not_pass_by_itself_is_told_first() {
        let probing = pod(
            json!({"containerStatuses": [{"name": "serve", "image": "x", "imageID": "",
            "ready": false, "restartCount": 0, "state": {"running": {}}}]}),
        );
        let pulling = pod(
            json!({"containerStatuses": [{"name": "serve", "image": "x", "imageID": "",
            "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}]}),
        );
        let crashing = pod(
            json!({"containerStatuses": [{"name": "serve", "image": "x", "imageID": "",
            "ready": false, "restartCount": 2,
            "lastState": {"terminated": {"exitCode": 1}},
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        );
        assert_eq!(
            pod_trouble(std::slice::from_ref(&probing)).unwrap(),
            "its pods run but do not answer the readiness probe (GET /ping on port 8080)"
        );
        assert_eq!(
            pod_trouble(&[probing.clone(), pulling]).unwrap(),
            "the image cannot be pulled (ErrImagePull: not found)"
        );
        assert_eq!(
            pod_trouble(&[probing, crashing]).unwrap(),
            "its container keeps ending (CrashLoopBackOff, 2 restarts, last exit code 1)"
        );
        assert_eq!(pod_trouble(&[]), None);
    }
}
