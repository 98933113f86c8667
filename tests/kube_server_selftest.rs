//! The Kubernetes API stand-in of tests/kube_server, driven through kube-rs
//! as the Kubernetes executor drives it: a Secret and a Job of one pod that
//! runs for real in Docker, a watch to its end, its log followed, and
//! deletes by label. These tests fail, never skip, when the engine is missing.

mod common;
mod kube_server;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_server::{KubeServer, KubeletOptions, NAMESPACE};
use serde_json::json;
use std::time::{Duration, Instant};

async fn client(server: &KubeServer, dir: &std::path::Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig(dir)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    assert_eq!(config.default_namespace, NAMESPACE);
    kube::Client::try_from(config).unwrap()
}

fn secret(name: &str, run: &str) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"dev.mlci.run": run}},
        "type": "Opaque",
        "stringData": {
            "secrets.json": "{\"API_KEY\":\"k-42\"}",
            "TOKEN_FROM_SECRET": "tok-123",
        },
    }))
    .unwrap()
}

/// A Job shaped as the executor's: an init container (skipped), the agent's
/// emptyDir mounted read-only, the Secret as env and as a file.
fn job(name: &str, run: &str, image: &str, script: &str) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"dev.mlci.run": run}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"dev.mlci.run": run}},
                "spec": {
                    "restartPolicy": "Never",
                    "initContainers": [{"name": "mlci-agent", "image": "mlci/agent:0",
                                        "command": ["cp", "/mlci", "/mlci-agent/mlci"],
                                        "volumeMounts": [{"name": "mlci-agent", "mountPath": "/mlci-agent"}]}],
                    "containers": [{
                        "name": "job", "image": image,
                        "command": ["sh", "-c", script],
                        "env": [
                            {"name": "TOKEN_FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": name, "key": "TOKEN_FROM_SECRET"}}},
                            {"name": "GREETING", "value": "hi $(TOKEN_FROM_SECRET) $$(kept)"},
                        ],
                        "volumeMounts": [
                            {"name": "mlci-agent", "mountPath": "/mlci-agent", "readOnly": true},
                            {"name": "work", "mountPath": "/__w"},
                            {"name": "mlci-secrets", "mountPath": "/var/run/mlci/secrets", "readOnly": true},
                            {"name": "shm", "mountPath": "/dev/shm"},
                        ],
                        "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    }],
                    "volumes": [
                        {"name": "mlci-agent", "emptyDir": {}},
                        {"name": "work", "emptyDir": {}},
                        {"name": "mlci-secrets", "secret": {"secretName": name, "defaultMode": 256,
                            "items": [{"key": "secrets.json", "path": "secrets.json"}]}},
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "128Mi"}},
                    ],
                },
            },
        },
    }))
    .unwrap()
}

fn phase(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

/// Watches the pods of `selector` until `done` says so; the phases seen.
async fn watch_until(
    pods: &Api<Pod>,
    selector: &str,
    mut done: impl FnMut(&WatchEvent<Pod>) -> bool,
) -> Vec<String> {
    let params = WatchParams::default().labels(selector).timeout(60);
    let mut stream = pods.watch(&params, "0").await.unwrap().boxed();
    let mut seen = Vec::new();
    while let Some(event) = stream.try_next().await.unwrap() {
        match &event {
            WatchEvent::Added(p) => seen.push(format!("ADDED {}", phase(p))),
            WatchEvent::Modified(p) => seen.push(format!("MODIFIED {}", phase(p))),
            WatchEvent::Deleted(p) => seen.push(format!("DELETED {}", phase(p))),
            WatchEvent::Bookmark(_) => seen.push("BOOKMARK".into()),
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
        if done(&event) {
            return seen;
        }
    }
    panic!("the watch ended first: {seen:?}");
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_in_docker_with_its_secret_and_is_deleted_by_label() {
    let image = common::ensure_test_image();
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("agent");
    std::fs::write(&agent, "agent binary stand-in\n").unwrap();
    let server = KubeServer::start(KubeletOptions {
        binds: vec![(agent.clone(), "/mlci-agent/mlci".into())],
        ..KubeletOptions::default()
    });
    let client = client(&server, dir.path()).await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let selector = "dev.mlci.run=r1";

    let stored = secrets
        .create(&PostParams::default(), &secret("mlci-r1-job1", "r1"))
        .await
        .unwrap();
    assert!(stored.string_data.is_none());
    let data = stored.data.unwrap();
    assert_eq!(data["TOKEN_FROM_SECRET"].0, b"tok-123");
    assert!(stored.metadata.uid.is_some() && stored.metadata.resource_version.is_some());
    let again = secrets
        .create(&PostParams::default(), &secret("mlci-r1-job1", "r1"))
        .await
        .unwrap_err();
    match again {
        kube::Error::Api(status) => {
            assert_eq!(
                (status.code, status.reason.as_str()),
                (409, "AlreadyExists")
            )
        }
        e => panic!("{e}"),
    }

    let script = "echo hello $TOKEN_FROM_SECRET; cat /var/run/mlci/secrets/secrets.json; echo; \
                  cat /mlci-agent/mlci; echo \"$GREETING\"; touch /__w/written; df -k /dev/shm | tail -1; \
                  echo to-stderr >&2; sleep 1; printf bye";
    let created = jobs
        .create(
            &PostParams::default(),
            &job("mlci-r1-job1", "r1", image, script),
        )
        .await
        .unwrap();
    assert_eq!(created.spec.as_ref().unwrap().backoff_limit, Some(0));

    // Follow the log once the pod runs, while the watch goes on.
    let mut log_task = None;
    let seen = watch_until(&pods, selector, |event| {
        if let WatchEvent::Modified(p) | WatchEvent::Added(p) = event
            && phase(p) == "Running"
            && log_task.is_none()
        {
            let pods = pods.clone();
            let name = p.metadata.name.clone().unwrap();
            log_task = Some(tokio::spawn(async move {
                let params = LogParams {
                    container: Some("job".into()),
                    follow: true,
                    ..LogParams::default()
                };
                pods.logs(&name, &params).await.unwrap()
            }));
        }
        matches!(event, WatchEvent::Modified(p) if phase(p) == "Succeeded")
    })
    .await;
    assert_eq!(seen.first().map(String::as_str), Some("ADDED Pending"));
    assert!(seen.contains(&"MODIFIED Running".to_string()), "{seen:?}");
    let log = log_task.expect("the pod ran").await.unwrap();
    // stdout and stderr are two pipes: only the order within each is sure.
    let lines: Vec<&str> = log.lines().filter(|l| *l != "to-stderr").collect();
    assert_eq!(lines[0], "hello tok-123", "{log}");
    assert_eq!(lines[1], "{\"API_KEY\":\"k-42\"}", "{log}");
    assert_eq!(lines[2], "agent binary stand-in", "{log}");
    assert_eq!(lines[3], "hi tok-123 $(kept)", "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("shm") && l.contains(" 131072 ")),
        "a 128Mi /dev/shm: {log}"
    );
    assert!(log.lines().any(|l| l == "to-stderr"), "{log}");
    assert!(
        log.ends_with("\nbye"),
        "the unfinished last line comes at exit: {log}"
    );

    let pod = pods
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items;
    let name = pod[0].metadata.name.clone().unwrap();
    let params = LogParams {
        container: Some("job".into()),
        ..LogParams::default()
    };
    assert_eq!(pods.logs(&name, &params).await.unwrap(), log);
    let params = LogParams {
        container: Some("job".into()),
        tail_lines: Some(1),
        ..LogParams::default()
    };
    assert_eq!(pods.logs(&name, &params).await.unwrap(), "bye");
    assert_eq!(pod.len(), 1);
    let pod = &pod[0];
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["job-name"], "mlci-r1-job1");
    assert_eq!(labels["batch.kubernetes.io/job-name"], "mlci-r1-job1");
    assert!(
        pod.metadata
            .name
            .as_ref()
            .unwrap()
            .starts_with("mlci-r1-job1-")
    );
    let state = pod
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .clone()
        .unwrap();
    assert_eq!(state.terminated.unwrap().exit_code, 0);
    let status = jobs.get("mlci-r1-job1").await.unwrap().status.unwrap();
    assert_eq!(status.succeeded, Some(1));
    assert!(
        status
            .conditions
            .unwrap()
            .iter()
            .any(|c| c.type_ == "Complete")
    );

    let record = &server.kubelet_records()[0];
    assert_eq!(record.skipped_init_containers, ["mlci-agent"]);
    assert!(
        record
            .docker_args
            .contains(&"TOKEN_FROM_SECRET=<secret mlci-r1-job1/TOKEN_FROM_SECRET>".to_string()),
        "{:?}",
        record.docker_args
    );
    assert!(!record.docker_args.iter().any(|a| a.contains("tok-123")));
    assert!(record.ignored.iter().any(|i| i.contains("nvidia.com/gpu")));
    assert_eq!(record.exit_code, Some(0));

    // Deletes by label, as the executor cleans up.
    jobs.delete_collection(
        &DeleteParams::background(),
        &ListParams::default().labels(selector),
    )
    .await
    .unwrap();
    secrets
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels(selector),
        )
        .await
        .unwrap();
    let selector_owned = selector.to_string();
    let pods_left = || {
        let pods = pods.clone();
        let selector = selector_owned.clone();
        async move {
            pods.list(&ListParams::default().labels(&selector))
                .await
                .unwrap()
                .items
                .len()
        }
    };
    let start = Instant::now();
    while pods_left().await > 0 {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        jobs.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        secrets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(server.containers_existing(), 0);

    let requests = server.requests();
    let watch = requests
        .iter()
        .find(|r| r.param("watch").is_some())
        .unwrap();
    assert_eq!(watch.param("labelSelector").as_deref(), Some(selector));
    assert_eq!(watch.param("resourceVersion").as_deref(), Some("0"));
    let delete = requests
        .iter()
        .find(|r| r.method == "DELETE" && r.path().ends_with("/jobs"))
        .unwrap();
    assert_eq!(delete.json()["propagationPolicy"], "Background");
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {}", server.token())))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_waits_and_a_job_delete_orphans_its_pods_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = KubeServer::start(KubeletOptions::default());
    let client = client(&server, dir.path()).await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    secrets
        .create(&PostParams::default(), &secret("mlci-r2-job1", "r2"))
        .await
        .unwrap();
    jobs.create(
        &PostParams::default(),
        // A registry that refuses at once (nothing listens on port 9): a name
        // on Docker Hub hung on the engine under a loaded CI run, past the
        // watch's timeout.
        &job(
            "mlci-r2-job1",
            "r2",
            "127.0.0.1:9/mlci-test/no-such-image:1",
            "true",
        ),
    )
    .await
    .unwrap();
    let mut name = String::new();
    watch_until(&pods, "dev.mlci.run=r2", |event| {
        let WatchEvent::Modified(p) = event else {
            return false;
        };
        name = p.metadata.name.clone().unwrap();
        let waiting = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c[0].state.as_ref()?.waiting.as_ref()?.reason.clone());
        waiting.as_deref() == Some("ErrImagePull")
    })
    .await;
    let error = pods
        .logs(
            &name,
            &LogParams {
                container: Some("job".into()),
                ..LogParams::default()
            },
        )
        .await
        .unwrap_err();
    match error {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 400);
            assert!(
                status.message.contains("is waiting to start"),
                "{}",
                status.message
            );
        }
        e => panic!("{e}"),
    }
    assert!(
        server.kubelet_records()[0]
            .not_started
            .as_ref()
            .unwrap()
            .starts_with("ErrImagePull")
    );

    // No propagation policy: a Job's pods are kept (and lose their owner).
    jobs.delete("mlci-r2-job1", &DeleteParams::default())
        .await
        .unwrap();
    let left = pods
        .list(&ListParams::default().labels("dev.mlci.run=r2"))
        .await
        .unwrap()
        .items;
    assert_eq!(left.len(), 1);
    assert!(left[0].metadata.owner_references.is_none());
    pods.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("dev.mlci.run=r2"),
    )
    .await
    .unwrap();
    assert!(server.pods().is_empty());
    let missing = jobs
        .delete("mlci-r2-job1", &DeleteParams::default())
        .await
        .unwrap_err();
    assert!(matches!(missing, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_running_job_in_the_background_stops_its_container() {
    let image = common::ensure_test_image();
    let dir = tempfile::tempdir().unwrap();
    let server = KubeServer::start(KubeletOptions::default());
    let client = client(&server, dir.path()).await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    secrets
        .create(&PostParams::default(), &secret("mlci-r3-job1", "r3"))
        .await
        .unwrap();
    jobs.create(
        &PostParams::default(),
        &job("mlci-r3-job1", "r3", image, "echo started; exec sleep 60"),
    )
    .await
    .unwrap();
    watch_until(
        &pods,
        "dev.mlci.run=r3",
        |e| matches!(e, WatchEvent::Modified(p) if phase(p) == "Running"),
    )
    .await;
    eventually("the container runs", || server.containers_running() == 1).await;
    let version = pods
        .list(&ListParams::default().labels("dev.mlci.run=r3"))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let started = Instant::now();
    jobs.delete("mlci-r3-job1", &DeleteParams::background())
        .await
        .unwrap();
    // From the list's version: the events since, no ADDED.
    let params = WatchParams::default().labels("dev.mlci.run=r3").timeout(20);
    let mut stream = pods.watch(&params, &version).await.unwrap().boxed();
    let mut seen = Vec::new();
    while let Some(event) = stream.try_next().await.unwrap() {
        match event {
            WatchEvent::Modified(p) => {
                assert!(p.metadata.deletion_timestamp.is_some());
                seen.push("MODIFIED");
            }
            WatchEvent::Deleted(_) => {
                seen.push("DELETED");
                break;
            }
            e => panic!("{e:?}"),
        }
    }
    assert_eq!(seen, ["MODIFIED", "DELETED"]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    eventually("no container is left", || server.containers_existing() == 0).await;
    assert!(server.jobs().is_empty() && server.pods().is_empty());
}

#[tokio::test]
async fn raw_requests_get_the_api_servers_answers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = KubeServer::start(KubeletOptions::default());
    let http = reqwest::Client::new();
    let get = |path: &str, token: &str| {
        http.get(format!("{}{path}", server.url()))
            .bearer_auth(token)
            .send()
    };
    let unauthorized = get("/version", "wrong").await.unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    let version: serde_json::Value = serde_json::from_str(
        &get("/version", server.token())
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(version["gitVersion"], "v1.32.0");
    let missing = get("/apis/apps/v1/namespaces/x/statefulsets", server.token())
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let status: serde_json::Value = serde_json::from_str(&missing.text().await.unwrap()).unwrap();
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("NotFound"))
    );
    let bad = get(
        "/api/v1/namespaces/x/pods?labelSelector=a%20in%20(b",
        server.token(),
    )
    .await
    .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let invalid = http
        .post(format!("{}/apis/batch/v1/namespaces/x/jobs", server.url()))
        .bearer_auth(server.token())
        .body(json!({"metadata": {"name": "Not_Valid"}, "spec": {"template": {"spec": {"containers": []}}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status().as_u16(), 422);
    assert_eq!(server.requests().len(), 5);

    // A pod made directly; a watch without timeoutSeconds ends once it is gone.
    let pod = json!({"metadata": {"name": "p1", "labels": {"a": "b"}},
                     "spec": {"containers": [{"name": "job", "image": "mlci-test/no-such-image:1"}]}});
    let created = http
        .post(format!("{}/api/v1/namespaces/x/pods", server.url()))
        .bearer_auth(server.token())
        .body(pod.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let mut watch = get(
        "/api/v1/namespaces/x/pods?watch=true&labelSelector=a%3Db",
        server.token(),
    )
    .await
    .unwrap();
    let first = String::from_utf8_lossy(&watch.chunk().await.unwrap().unwrap()).into_owned();
    assert!(first.starts_with("{\"type\":\"ADDED\""), "{first}");
    let deleted = http
        .delete(format!("{}/api/v1/namespaces/x/pods/p1", server.url()))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    let start = Instant::now();
    let mut rest = String::new();
    while let Some(chunk) = watch.chunk().await.unwrap() {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        rest.lines()
            .last()
            .unwrap()
            .starts_with("{\"type\":\"DELETED\""),
        "{rest}"
    );
}

#[test]
fn expansion_and_selectors_follow_kubernetes() {
    let vars = |n: &str| (n == "A").then(|| "1".to_string());
    assert_eq!(
        kube_server::expand("$(A)-$(B)-$$(A)-$$-$x-$(", &vars),
        "1-$(B)-$(A)-$-$x-$("
    );
    assert_eq!(
        kube_server::query_pairs("&labelSelector=a%3Db%2Cc+in+%28d%29&watch=true"),
        vec![
            ("labelSelector".to_string(), "a=b,c in (d)".to_string()),
            ("watch".to_string(), "true".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pod_fails_its_job_and_a_deadline_stops_one() {
    let image = common::ensure_test_image();
    let dir = tempfile::tempdir().unwrap();
    let server = KubeServer::start(KubeletOptions::default());
    let client = client(&server, dir.path()).await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    for name in ["mlci-r4-fails", "mlci-r4-slow", "mlci-r4-noexec"] {
        secrets
            .create(&PostParams::default(), &secret(name, "r4"))
            .await
            .unwrap();
    }
    jobs.create(
        &PostParams::default(),
        &job("mlci-r4-fails", "r4", image, "echo failing; exit 3"),
    )
    .await
    .unwrap();
    let mut slow = job("mlci-r4-slow", "r4", image, "exec sleep 60");
    slow.spec.as_mut().unwrap().active_deadline_seconds = Some(1);
    jobs.create(&PostParams::default(), &slow).await.unwrap();
    let mut noexec = job("mlci-r4-noexec", "r4", image, "");
    noexec
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers[0]
        .command = Some(vec!["/no/such/program".into()]);
    jobs.create(&PostParams::default(), &noexec).await.unwrap();
    let failed = |name: &'static str| {
        let jobs = jobs.clone();
        async move {
            let start = Instant::now();
            loop {
                let status = jobs.get(name).await.unwrap().status.unwrap_or_default();
                if let Some(c) = status
                    .conditions
                    .unwrap_or_default()
                    .into_iter()
                    .find(|c| c.type_ == "Failed")
                {
                    return (c.reason.unwrap_or_default(), status.failed);
                }
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "{name} never failed"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(
        failed("mlci-r4-fails").await,
        ("BackoffLimitExceeded".to_string(), Some(1))
    );
    assert_eq!(
        failed("mlci-r4-slow").await,
        ("DeadlineExceeded".to_string(), Some(1))
    );
    assert_eq!(
        failed("mlci-r4-noexec").await,
        ("BackoffLimitExceeded".to_string(), Some(1))
    );
    let pods = server.pods();
    let pod_of = |job: &str| {
        pods.iter()
            .find(|p| p["metadata"]["labels"]["job-name"] == job)
    };
    let exit = |job: &str| {
        pod_of(job).map(|p| p["status"]["containerStatuses"][0]["state"]["terminated"].clone())
    };
    assert_eq!(exit("mlci-r4-fails").unwrap()["exitCode"], 3);
    let noexec = exit("mlci-r4-noexec").unwrap();
    assert_eq!(
        (noexec["exitCode"].as_i64(), noexec["reason"].as_str()),
        (Some(128), Some("StartError")),
        "{noexec}"
    );
    let noexec_pod = pod_of("mlci-r4-noexec").unwrap()["metadata"]["name"]
        .as_str()
        .unwrap();
    assert_eq!(server.pod_log(noexec_pod, "job").as_deref(), Some(""));
    eventually("the deadline deletes the pod", || {
        !server
            .pods()
            .iter()
            .any(|p| p["metadata"]["labels"]["job-name"] == "mlci-r4-slow")
    })
    .await;
    eventually("no container is left", || server.containers_existing() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_sidecars_run_beside_the_job_when_asked() {
    let image = common::ensure_test_image();
    let dir = tempfile::tempdir().unwrap();
    let server = KubeServer::start(KubeletOptions {
        run_sidecars: true,
        ..KubeletOptions::default()
    });
    let client = client(&server, dir.path()).await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    secrets
        .create(&PostParams::default(), &secret("mlci-r5-job1", "r5"))
        .await
        .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let script = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do wget -q -O - http://web:{port}/ && exit 0; sleep 0.2; done; exit 1"
    );
    let mut job = job("mlci-r5-job1", "r5", image, &script);
    let spec = job.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    spec.init_containers.as_mut().unwrap().push(
        serde_json::from_value(json!({
            "name": "web", "image": image, "restartPolicy": "Always",
            "command": ["httpd", "-f", "-p", port.to_string(), "-h", "/www"],
        }))
        .unwrap(),
    );
    spec.host_aliases = Some(vec![
        serde_json::from_value(json!({"ip": "127.0.0.1", "hostnames": ["web"]})).unwrap(),
    ]);
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let mut name = String::new();
    watch_until(&pods, "dev.mlci.run=r5", |e| match e {
        WatchEvent::Modified(p) if ["Succeeded", "Failed"].contains(&phase(p).as_str()) => {
            name = p.metadata.name.clone().unwrap();
            true
        }
        _ => false,
    })
    .await;
    let record = &server.kubelet_records()[0];
    assert_eq!(record.sidecars, ["web"]);
    assert_eq!(record.skipped_init_containers, ["mlci-agent"]);
    assert_eq!(
        server.pod_log(&name, "job").as_deref(),
        Some("hello from the web service\n")
    );
    assert_eq!(phase(&pods.get(&name).await.unwrap()), "Succeeded");
    eventually("the sidecar is stopped", || {
        server.containers_existing() == 0
    })
    .await;
}
