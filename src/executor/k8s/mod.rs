//! The Kubernetes executor (`mlci run --executor k8s`): one Job of one pod
//! per job ([`manifests`]), created through the API server with kube-rs.
//!
//! The conversation of one job: create its Secret, create its Job, watch its
//! pod (by label) until the job's container runs, follow that container's
//! log (the agent's frames: the steps' output, shown with the job's prefix),
//! and at the end delete the Job, its pod and its Secret by label selector.
//! Everything else (the steps, the workspace, the outputs of needed jobs)
//! goes through the S3 mailbox, not through the API server. Ctrl-C deletes
//! every object that carries the run's label.

pub mod manifests;
pub mod yaml_out;

use crate::executor::docker::DockerBackend;
use crate::executor::remote::client::{finish_start, local_image_id};
use crate::executor::remote::{
    FrameRouter, Mailbox, RemoteEnd, RemoteEnv, S3Access, SecretPlaceholders,
};
use crate::executor::{Backend, ExecError, JobSpec};
use futures_util::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, WatchEvent, WatchParams};
use manifests::{JOB_CONTAINER, KubeSettings};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub struct KubeBackend {
    client: kube::Client,
    settings: KubeSettings,
    /// This machine's engine, when there is one: an image it has is known
    /// by the same id as on a laptop, so cache keys agree.
    docker: Option<DockerBackend>,
    jobs: AtomicU64,
}

impl KubeBackend {
    /// Connects with the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or
    /// the pod's service account.
    pub async fn connect(settings: KubeSettings) -> Result<KubeBackend, ExecError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = kube::Client::try_default().await.map_err(|e| {
            ExecError::Engine(format!(
                "cannot reach Kubernetes: {e}; set KUBECONFIG or ~/.kube/config"
            ))
        })?;
        Ok(KubeBackend {
            client,
            settings,
            docker: DockerBackend::connect().await.ok(),
            jobs: AtomicU64::new(0),
        })
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.settings.namespace)
    }
}

/// Deletes the Jobs (with their pods), pods and Secrets that match the
/// label selector: one job's (`release`) or a whole run's (`remove_run`).
async fn delete_labelled(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> Result<(), ExecError> {
    let list = ListParams::default().labels(selector);
    let background = DeleteParams::background();
    let jobs = Api::<Job>::namespaced(client.clone(), namespace)
        .delete_collection(&background, &list)
        .await
        .err()
        .map(|e| format!("Jobs: {e}"));
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .delete_collection(&background, &list)
        .await
        .err()
        .map(|e| format!("pods: {e}"));
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace)
        .delete_collection(&background, &list)
        .await
        .err()
        .map(|e| format!("Secrets: {e}"));
    let failures: Vec<String> = [jobs, pods, secrets].into_iter().flatten().collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(ExecError::Engine(format!(
        "cannot delete the objects labelled {selector}: {}",
        failures.join("; ")
    )))
}

/// A job's objects on the cluster, and the tasks that follow its pod.
pub struct KubeJob {
    client: kube::Client,
    namespace: String,
    selector: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RemoteEnd for KubeJob {
    async fn release(&self) -> Result<(), ExecError> {
        for task in &self.tasks {
            task.abort();
        }
        delete_labelled(&self.client, &self.namespace, &self.selector).await
    }
}

/// What the pod watch has seen of the job's pod.
#[derive(Clone, Debug, Default)]
struct PodView {
    name: Option<String>,
    running: bool,
    /// Set when the pod can no longer serve: it ended, or cannot start.
    ended: Option<String>,
}

impl Backend for KubeBackend {
    type Env = RemoteEnv<KubeJob>;

    async fn start_job(
        &self,
        spec: &JobSpec,
        cancel: &CancellationToken,
    ) -> Result<Self::Env, ExecError> {
        let key = format!("job{}", self.jobs.fetch_add(1, Ordering::SeqCst) + 1);
        let built = manifests::build(spec, &key, &self.settings).map_err(ExecError::Engine)?;
        let selector = manifests::selector(&spec.run_id, Some(&key));
        let mailbox = Mailbox::open(
            &manifests::mailbox_url(&self.settings, &spec.run_id, &key),
            &S3Access::default(),
        )
        .map_err(ExecError::Engine)?;
        let refused = |what: &str, e: kube::Error| {
            ExecError::Engine(format!(
                "Kubernetes refused the {what} of job `{}`: {e}",
                spec.job_name
            ))
        };
        let post = PostParams::default();
        self.api::<Secret>()
            .create(&post, &built.secret)
            .await
            .map_err(|e| refused("Secret", e))?;
        let mut end = KubeJob {
            client: self.client.clone(),
            namespace: self.settings.namespace.clone(),
            selector: selector.clone(),
            tasks: Vec::new(),
        };
        if let Err(e) = self.api::<Job>().create(&post, &built.job).await {
            let _ = end.release().await;
            return Err(refused("Job", e));
        }
        let (view_tx, mut view) = watch::channel(PodView::default());
        let (gone_tx, liveness) = watch::channel(None);
        end.tasks.push(tokio::spawn(watch_pod(
            self.api::<Pod>(),
            selector.clone(),
            view_tx,
            gone_tx,
        )));
        // The pod's container must run before its log can be followed.
        let waited = async {
            loop {
                {
                    let seen = view.borrow_and_update();
                    if let Some(reason) = &seen.ended {
                        return Err(ExecError::Engine(format!(
                            "the pod of job `{}` did not start: {reason}",
                            spec.job_name
                        )));
                    }
                    if let (true, Some(name)) = (seen.running, &seen.name) {
                        return Ok(name.clone());
                    }
                }
                if view.changed().await.is_err() {
                    return Err(ExecError::Engine("the pod watch ended".into()));
                }
            }
        };
        let pod = tokio::select! {
            pod = waited => pod,
            _ = cancel.cancelled() => Err(ExecError::Cancelled { job: spec.job_name.clone() }),
        };
        let pod = match pod {
            Ok(pod) => pod,
            Err(error) => {
                let _ = end.release().await;
                return Err(error);
            }
        };
        let prefix = spec.job_name.clone();
        let frames = FrameRouter::new(move |line| eprintln!("[{prefix}] {line}"));
        end.tasks.push(tokio::spawn(follow_log(
            self.api::<Pod>(),
            pod,
            frames.clone(),
        )));
        let digest = local_image_id(self.docker.as_ref(), &spec.image).await;
        let env = RemoteEnv::new(
            spec.job_name.clone(),
            crate::executor::ExecutorKind::Kubernetes.name(),
            mailbox,
            SecretPlaceholders::new(&spec.secrets),
            frames,
            liveness,
            digest,
            end,
        );
        finish_start(env, spec, cancel).await
    }

    async fn image_id(&self, image: &str) -> Result<String, ExecError> {
        Ok(local_image_id(self.docker.as_ref(), image).await)
    }

    async fn has_image(&self, _image: &str) -> Result<bool, ExecError> {
        // The cluster pulls images from its registries; a missing one shows
        // as the pod's ErrImagePull.
        Ok(true)
    }

    async fn build_image(
        &self,
        _context: &Path,
        _dockerfile: &str,
        tag: &str,
        _labels: &BTreeMap<String, String>,
        _on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), ExecError> {
        Err(ExecError::Engine(format!(
            "cannot build `{tag}` for Kubernetes: build it, push it to a registry the cluster pulls from, and name it in `container.image`"
        )))
    }

    async fn remove_run(&self, run_id: &str) -> Result<(), ExecError> {
        let selector = manifests::selector(run_id, None);
        let deleted = delete_labelled(&self.client, &self.settings.namespace, &selector).await;
        // The mailboxes of jobs cut short (a second Ctrl-C) go too.
        let mailboxes = manifests::run_mailboxes(&self.settings, run_id);
        if let Ok(mailbox) = Mailbox::open(&mailboxes, &S3Access::default()) {
            let _ = mailbox.clear().await;
        }
        deleted
    }
}

/// Follows the pod by label: its name, whether the job's container runs,
/// and why it ended or cannot start, which also goes to `gone` (the job
/// environment's liveness) as the watch's last word.
async fn watch_pod(
    pods: Api<Pod>,
    selector: String,
    view: watch::Sender<PodView>,
    gone: watch::Sender<Option<String>>,
) {
    let params = WatchParams::default().labels(&selector).timeout(290);
    let mut version = "0".to_string();
    loop {
        let stream = match pods.watch(&params, &version).await {
            Ok(stream) => stream,
            // The API server may be restarting: the watch is tried again
            // (the job's own deadline bounds the wait).
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if gone.is_closed() {
                    return;
                }
                continue;
            }
        };
        let mut stream = stream.boxed();
        while let Ok(Some(event)) = stream.try_next().await {
            let pod = match event {
                WatchEvent::Added(pod) | WatchEvent::Modified(pod) => pod,
                WatchEvent::Deleted(_) => {
                    let mut seen = view.borrow().clone();
                    seen.ended
                        .get_or_insert_with(|| "the pod was deleted".into());
                    let _ = gone.send(seen.ended.clone());
                    view.send_replace(seen);
                    return;
                }
                WatchEvent::Bookmark(bookmark) => {
                    version = bookmark.metadata.resource_version;
                    continue;
                }
                WatchEvent::Error(_) => break,
            };
            if let Some(v) = pod.metadata.resource_version.clone() {
                version = v;
            }
            let seen = read_pod(&pod);
            let ended = seen.ended.clone();
            view.send_replace(seen);
            if ended.is_some() {
                let _ = gone.send(ended);
                return;
            }
        }
        if gone.is_closed() {
            return;
        }
    }
}

/// What a pod object says of the job's container.
fn read_pod(pod: &Pod) -> PodView {
    let mut seen = PodView {
        name: pod.metadata.name.clone(),
        ..PodView::default()
    };
    let Some(status) = &pod.status else {
        return seen;
    };
    let container = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == JOB_CONTAINER);
    if let Some(state) = container.and_then(|c| c.state.as_ref()) {
        seen.running = state.running.is_some();
        if let Some(waiting) = &state.waiting {
            let reason = waiting.reason.clone().unwrap_or_default();
            // Waiting states that do not pass by themselves.
            if [
                "ErrImagePull",
                "ImagePullBackOff",
                "InvalidImageName",
                "CreateContainerConfigError",
                "CreateContainerError",
            ]
            .contains(&reason.as_str())
            {
                seen.ended = Some(format!(
                    "{reason}: {}",
                    waiting.message.clone().unwrap_or_default()
                ));
            }
        }
        if let Some(terminated) = &state.terminated {
            seen.ended = Some(format!(
                "its container ended with exit code {}{}",
                terminated.exit_code,
                terminated
                    .reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
    }
    match status.phase.as_deref() {
        Some("Failed") => {
            seen.ended.get_or_insert_with(|| {
                format!(
                    "the pod failed{}",
                    status
                        .reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                )
            });
        }
        Some("Succeeded") => {
            seen.ended.get_or_insert_with(|| "the pod has ended".into());
        }
        _ => {}
    }
    seen
}

/// Feeds the job container's log, line by line, to the frame router.
async fn follow_log(pods: Api<Pod>, pod: String, frames: FrameRouter) {
    let params = LogParams {
        container: Some(JOB_CONTAINER.to_string()),
        follow: true,
        ..LogParams::default()
    };
    let Ok(stream) = pods.log_stream(&pod, &params).await else {
        return;
    };
    let mut lines = stream.lines();
    while let Some(Ok(line)) = lines.next().await {
        frames.feed_line(&line);
    }
}
