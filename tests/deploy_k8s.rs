//! The Kubernetes target of `mlci deploy` (src/deploy/k8s): its manifests
//! against the golden files (which `.ci/run` checks with
//! kubernetes-validate), and its conversation with the local API stand-in of
//! tests/kube_server, whose Deployment and ReplicaSet controllers roll real
//! containers: the test image's httpd answers `GET /ping` with its version,
//! and a version whose `/ping` is missing (404) never becomes ready, as a
//! corrupt model would not. The push of the serving image goes to the open
//! registry of `.ci/registry-up.sh` on 127.0.0.1:5000.
//!
//! `MLCI_UPDATE_GOLDEN=1` rewrites the golden files from what mlci builds.
//! These tests fail, never skip, when Docker or the registry is missing.

mod common;
mod kube_server;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_server::{KubeServer, KubeletOptions, NAMESPACE, Recorded};
use mlci::deploy::k8s::{self, KubeDeployError, KubeServing, Rollout};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const V1: &str = "mlci-test/deploy-k8s:v1";
const V2: &str = "mlci-test/deploy-k8s:v2";
/// Serves, but not `/ping`: never ready.
const DEAF: &str = "mlci-test/deploy-k8s:deaf";
/// Ends at once, as a server that cannot load its model.
const CRASH: &str = "mlci-test/deploy-k8s:crash";
const ROLL: Duration = Duration::from_secs(60);
/// How long a version that will never be ready is given.
const SHORT: Duration = Duration::from_secs(12);

fn images() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let serve = |version: &str| {
            format!(
                r#"["sh", "-c", "echo {version} > /www/ping && echo ok > /www/health && exec httpd -f -p 8080 -h /www"]"#
            )
        };
        common::registry::test_image_with_cmd(V1, &serve("v1"));
        common::registry::test_image_with_cmd(V2, &serve("v2"));
        common::registry::test_image_with_cmd(DEAF, r#"["httpd", "-f", "-p", "8080", "-h", "/www"]"#);
        common::registry::test_image_with_cmd(
            CRASH,
            r#"["sh", "-c", "echo cannot load the model >&2; exit 1"]"#,
        );
    });
}

async fn client_of(kubeconfig: PathBuf) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

struct Cluster {
    server: KubeServer,
    client: kube::Client,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let server = KubeServer::start(KubeletOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let client = client_of(server.kubeconfig(dir.path())).await;
    Cluster {
        server,
        client,
        _dir: dir,
    }
}

fn iris(version: i64, image: &str) -> KubeServing {
    KubeServing {
        namespace: NAMESPACE.to_string(),
        port: 80,
        ..KubeServing::new("iris", image, "iris", version)
    }
}

/// What a rollout, a rollback or a removal told, line by line.
#[derive(Default)]
struct Told(Vec<String>);

impl Told {
    fn sink(&mut self) -> impl FnMut(&str) + Send + '_ {
        |line: &str| self.0.push(line.to_string())
    }

    fn has(&self, text: &str) -> bool {
        self.0.iter().any(|l| l.contains(text))
    }
}

async fn rollout(
    c: &Cluster,
    s: &KubeServing,
    timeout: Duration,
) -> (Result<Rollout, KubeDeployError>, Told) {
    let mut told = Told::default();
    let result = k8s::rollout(&c.client, s, timeout, &mut told.sink()).await;
    (result, told)
}

async fn rollback(c: &Cluster, to: Option<i64>) -> (Result<Rollout, KubeDeployError>, Told) {
    let mut told = Told::default();
    let result = k8s::rollback(&c.client, NAMESPACE, "iris", to, ROLL, &mut told.sink()).await;
    (result, told)
}

fn label<'a>(v: &'a Value, key: &str) -> &'a str {
    v["metadata"]["labels"][key].as_str().unwrap_or("")
}

fn name(v: &Value) -> String {
    v["metadata"]["name"].as_str().unwrap_or("").to_string()
}

/// The deployment's pods that are not being deleted: (name, pod IP, ready).
fn live_pods(server: &KubeServer) -> Vec<(String, String, bool)> {
    let mut pods: Vec<(String, String, bool)> = server
        .pods()
        .iter()
        .filter(|p| label(p, "dev.mlci.deploy") == "iris")
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .map(|p| {
            let ready = p["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            (
                name(p),
                p["status"]["podIP"].as_str().unwrap_or("").to_string(),
                ready,
            )
        })
        .collect();
    pods.sort();
    pods
}

/// `GET /ping` on a pod: its body, or None when it does not answer 200.
fn ping(ip: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(
        &format!("{ip}:8080").parse().ok()?,
        Duration::from_secs(2),
    )
    .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /ping HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.trim().to_string())
}

/// Every live pod is ready and answers `/ping` with `version`; their names.
fn serving(server: &KubeServer, version: &str) -> Vec<String> {
    let pods = live_pods(server);
    assert_eq!(pods.len(), 2, "{pods:?}");
    for (pod, ip, ready) in &pods {
        assert!(ready, "{pod} is not ready");
        assert_eq!(ping(ip).as_deref(), Some(version), "{pod} at {ip}");
    }
    pods.into_iter().map(|(n, _, _)| n).collect()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Requests after the first `skip`, as `METHOD path`.
fn sent(requests: &[Recorded], skip: usize) -> Vec<String> {
    requests[skip..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path()))
        .collect()
}

fn find<'a>(requests: &'a [Recorded], method: &str, path_end: &str) -> Vec<&'a Recorded> {
    requests
        .iter()
        .filter(|r| r.method == method && r.path().ends_with(path_end))
        .collect()
}

fn template_image(d: &Value) -> &str {
    d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("")
}

// ---------------------------------------------------------------- golden

fn golden(path: &str, actual: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var("MLCI_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (MLCI_UPDATE_GOLDEN=1 writes it)", file.display()));
    assert_eq!(
        actual, expected,
        "the manifests differ from {path} (MLCI_UPDATE_GOLDEN=1 rewrites it)"
    );
}

#[test]
fn the_manifests_of_a_sample_serving_are_those_of_the_golden_files() {
    let s = KubeServing {
        namespace: "ml-serving".into(),
        port: 80,
        ..KubeServing::new(
            "iris",
            &format!("registry.example.com/ml/iris@sha256:{}", "3f".repeat(32)),
            "iris",
            3,
        )
    };
    let manifests = k8s::manifests(&s);
    // kubernetes-validate (.ci/run) checks tests/golden/k8s/*.yaml against the
    // API's schema; it has no schema for KServe's CRD, so that one lives apart.
    golden("tests/golden/k8s/deploy-iris.yaml", &manifests);
    golden(
        "tests/golden/k8s-kserve/deploy-iris.yaml",
        &k8s::inference_service(&s),
    );
    for expected in [
        "maxUnavailable: 0",
        "path: \"/ping\"",
        "dev.mlci.deploy.version: \"3\"",
        "progressDeadlineSeconds: 600",
        "targetPort: \"http\"",
    ] {
        assert!(manifests.contains(expected), "{expected}: {manifests}");
    }
}

// ------------------------------------------------------------ bad input

#[tokio::test]
async fn what_kubernetes_would_refuse_is_refused_before_anything_is_sent() {
    let c = cluster().await;
    for (s, expected) in [
        (
            KubeServing {
                name: "Iris_2".into(),
                ..iris(1, V1)
            },
            "`Iris_2` cannot name a Kubernetes Deployment and Service",
        ),
        (
            KubeServing {
                name: "2iris".into(),
                ..iris(1, V1)
            },
            "starting with a letter",
        ),
        (
            KubeServing {
                namespace: "ML".into(),
                ..iris(1, V1)
            },
            "`ML` is not a Kubernetes namespace",
        ),
        (
            KubeServing {
                replicas: 0,
                ..iris(1, V1)
            },
            "0 replicas cannot serve",
        ),
        (
            KubeServing {
                port: 0,
                ..iris(1, V1)
            },
            "port 0",
        ),
        (iris(1, ""), "is not an image reference"),
    ] {
        let (result, told) = rollout(&c, &s, ROLL).await;
        match result {
            Err(KubeDeployError::Invalid(message)) => {
                assert!(message.contains(expected), "{message}")
            }
            other => panic!("{expected}: {other:?}"),
        }
        assert!(told.0.is_empty(), "{:?}", told.0);
    }
    let (result, _) = rollback(&c, None).await;
    assert!(
        matches!(&result, Err(KubeDeployError::Invalid(m)) if m == "there is no Deployment `iris` in namespace `mlci-test`: nothing to roll back"),
        "{result:?}"
    );
    // Only the rollback's read reached the server.
    assert_eq!(
        sent(&c.server.requests(), 0),
        vec![format!(
            "GET /apis/apps/v1/namespaces/{NAMESPACE}/deployments/iris"
        )]
    );
    // A Deployment of that name that mlci did not make is not touched.
    let theirs: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "iris"},
        "spec": {"selector": {"matchLabels": {"app": "iris"}},
                 "template": {"metadata": {"labels": {"app": "iris"}},
                              "spec": {"containers": [{"name": "x", "image": "missing:1"}]}}},
    }))
    .unwrap();
    Api::<Deployment>::namespaced(c.client.clone(), NAMESPACE)
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    let (result, _) = rollout(&c, &iris(1, V1), ROLL).await;
    assert!(
        matches!(&result, Err(KubeDeployError::Invalid(m)) if m.contains("a Deployment named `iris` exists in namespace `mlci-test` that mlci did not make")),
        "{result:?}"
    );
    let result = k8s::remove(&c.client, NAMESPACE, "iris").await;
    assert!(
        matches!(&result, Err(KubeDeployError::Invalid(m)) if m.contains("that mlci did not make")),
        "{result:?}"
    );
    assert_eq!(c.server.deployments().len(), 1);
    assert!(find(&c.server.requests(), "PUT", "").is_empty());
    assert!(find(&c.server.requests(), "DELETE", "").is_empty());
}

#[tokio::test]
async fn connect_finds_the_cluster_as_kubectl_does() {
    let c = cluster().await;
    // SAFETY: no other test of this binary reads KUBECONFIG (each builds its
    // client from its own kubeconfig file), and nextest runs each test in a
    // process of its own.
    unsafe { std::env::set_var("KUBECONFIG", c.server.kubeconfig(c._dir.path())) };
    let client = k8s::connect().await.unwrap();
    // Nothing to remove is fine, and what was asked went with the token.
    k8s::remove(&client, NAMESPACE, "iris").await.unwrap();
    let requests = c.server.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {}", c.server.token()).as_str())
    );
    assert_eq!(
        sent(&requests, 0)[..2],
        [
            format!("GET /apis/apps/v1/namespaces/{NAMESPACE}/deployments/iris"),
            format!("GET /api/v1/namespaces/{NAMESPACE}/services/iris"),
        ]
    );
}

#[tokio::test]
async fn an_api_server_that_does_not_answer_is_one_sentence_that_says_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:9\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: u\ncurrent-context: gone\n",
    )
    .unwrap();
    let client = client_of(kubeconfig).await;
    let mut told = Told::default();
    let result = k8s::rollout(&client, &iris(1, V1), ROLL, &mut told.sink()).await;
    let Err(KubeDeployError::Failed(message)) = result else {
        panic!("{result:?}");
    };
    assert!(
        message.starts_with("cannot reach the Kubernetes API server to read Deployment iris (")
            && message.ends_with(
                "): check that the cluster is up and that your kubeconfig (KUBECONFIG or ~/.kube/config) points at it"
            ),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

// ----------------------------------------------------------- the rollouts

#[tokio::test]
async fn versions_roll_without_a_gap_a_deaf_one_is_undone_and_rollback_returns() {
    images();
    let c = cluster().await;
    let deployments = format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments");
    let services = format!("/api/v1/namespaces/{NAMESPACE}/services");

    // A first version: Service and Deployment made, watched until both pods answer.
    let (first, told) = rollout(&c, &iris(1, V1), ROLL).await;
    let first = first.unwrap();
    assert_eq!((first.revision, first.ready_replicas), (1, 2));
    assert!(
        told.has("created Service iris (port 80 to the pods' 8080)"),
        "{:?}",
        told.0
    );
    assert!(
        told.has("created Deployment iris in namespace mlci-test: 2 replicas of iris@1"),
        "{:?}",
        told.0
    );
    assert!(
        told.has("Deployment iris serves revision 1: 2 ready after"),
        "{:?}",
        told.0
    );
    let requests = c.server.requests();
    let conversation = sent(&requests, 0);
    assert_eq!(
        conversation[..4],
        [
            format!("GET {deployments}/iris"),
            format!("GET {services}/iris"),
            format!("POST {services}"),
            format!("POST {deployments}"),
        ],
        "{conversation:?}"
    );
    assert!(
        conversation[4..]
            .iter()
            .all(|r| r == &format!("GET {deployments}")),
        "only watches of the Deployment follow: {conversation:?}"
    );
    let watch = requests
        .iter()
        .rev()
        .find(|r| r.param("watch").is_some())
        .unwrap();
    assert_eq!(
        watch.param("fieldSelector").as_deref(),
        Some("metadata.name=iris")
    );
    let created = find(&requests, "POST", "/deployments")[0].json();
    assert_eq!(
        created["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    let container = &created["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ping");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(
        created["spec"]["template"]["metadata"]["labels"]["dev.mlci.deploy.version"],
        "1"
    );
    let service = &c.server.services()[0];
    assert_eq!(
        service["spec"]["selector"],
        json!({"dev.mlci.deploy": "iris"})
    );
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    let v1_pods = serving(&c.server, "v1");
    // The same version again changes nothing.
    let before = c.server.requests().len();
    let (same, told) = rollout(&c, &iris(1, V1), ROLL).await;
    assert_eq!(same.unwrap().revision, 1);
    assert!(
        told.has("Deployment iris already has iris@1 (revision 1)"),
        "{:?}",
        told.0
    );
    assert_eq!(c.server.replica_sets().len(), 1);
    assert_eq!(serving(&c.server, "v1"), v1_pods);
    assert_eq!(find(&c.server.requests()[before..], "PUT", "").len(), 1);
    // Each pod has a network of its own, as on a cluster.
    for record in c.server.kubelet_records() {
        assert!(
            !record.docker_args.contains(&"host".to_string()),
            "{record:?}"
        );
    }

    // A second version: a new revision, and the old pods gone.
    let before = c.server.requests().len();
    let (second, told) = rollout(&c, &iris(2, V2), ROLL).await;
    let second = second.unwrap();
    assert_eq!((second.revision, second.ready_replicas), (2, 2));
    assert!(
        told.has("updated Deployment iris: 2 replicas of iris@2, replacing iris@1 (revision 1)"),
        "{:?}",
        told.0
    );
    let requests = c.server.requests();
    let replaced = find(&requests[before..], "PUT", "/deployments/iris");
    assert_eq!(replaced.len(), 1, "{:?}", sent(&requests, before));
    let body = replaced[0].json();
    assert!(
        body["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(template_image(&body), V2);
    // Not one request went to the Service: it already points at the pods.
    assert!(
        !sent(&requests, before)
            .iter()
            .any(|r| r.contains("services") && !r.starts_with("GET"))
    );
    eventually("the pods of iris@1 are gone", || {
        live_pods(&c.server)
            .iter()
            .all(|(n, _, _)| !v1_pods.contains(n))
    })
    .await;
    let v2_pods = serving(&c.server, "v2");

    // A version that never answers /ping: undone, and the pods of iris@2 never left.
    let before = c.server.requests().len();
    let (deaf, told) = rollout(&c, &iris(3, DEAF), SHORT).await;
    let Err(KubeDeployError::Refused(message)) = deaf else {
        panic!("{deaf:?}");
    };
    assert_eq!(
        message,
        "iris@3 did not become ready on Kubernetes: its pods run but do not answer the readiness probe (GET /ping on port 8080) after 12 s; Deployment iris serves iris@2 again (revision 4)"
    );
    assert!(told.has("iris@3 did not become ready"), "{:?}", told.0);
    let requests = c.server.requests();
    let puts = find(&requests[before..], "PUT", "/deployments/iris");
    assert_eq!(puts.len(), 2, "{:?}", sent(&requests, before));
    assert_eq!(template_image(&puts[0].json()), DEAF);
    // The undo puts back the ReplicaSet's template, without its hash label.
    let undo = puts[1].json();
    assert_eq!(template_image(&undo), V2);
    assert!(
        undo["spec"]["template"]["metadata"]["labels"]
            .get(kube_server::apps::POD_TEMPLATE_HASH)
            .is_none()
    );
    // The ReplicaSet of the deaf version never served: deleted, with its pods.
    assert_eq!(find(&requests[before..], "DELETE", "").len(), 1);
    eventually("iris@3's ReplicaSet is gone", || {
        c.server.replica_sets().len() == 2
    })
    .await;
    eventually("iris@3's pods are gone", || live_pods(&c.server).len() == 2).await;
    assert_eq!(serving(&c.server, "v2"), v2_pods);
    let d = &c.server.deployments()[0];
    assert_eq!(
        d["metadata"]["annotations"][kube_server::apps::ANNOTATION_REVISION],
        "4"
    );
    assert_eq!(template_image(d), V2);

    // Rollback: to the revision before, iris@1.
    let (back, told) = rollback(&c, None).await;
    let back = back.unwrap();
    assert_eq!((back.revision, back.ready_replicas), (5, 2));
    assert!(
        told.has("rolling Deployment iris back from iris@2 (revision 4) to iris@1 (revision 1)"),
        "{:?}",
        told.0
    );
    eventually("the pods of iris@2 are gone", || {
        live_pods(&c.server)
            .iter()
            .all(|(n, _, _)| !v2_pods.contains(n))
    })
    .await;
    serving(&c.server, "v1");
    // And to a revision by its number.
    let (again, _) = rollback(&c, Some(4)).await;
    assert_eq!(again.unwrap().revision, 6);
    eventually("only iris@2 serves", || live_pods(&c.server).len() == 2).await;
    serving(&c.server, "v2");
    let history = k8s::history(&c.client, NAMESPACE, "iris").await.unwrap();
    let kept: Vec<(i64, Option<i64>, &str, bool)> = history
        .iter()
        .map(|r| (r.revision, r.version, r.image.as_str(), r.current))
        .collect();
    assert_eq!(kept, [(5, Some(1), V1, false), (6, Some(2), V2, true)]);
    let (missing, _) = rollback(&c, Some(3)).await;
    assert!(
        matches!(&missing, Err(KubeDeployError::Invalid(m)) if m == "Deployment `iris` has no revision 3: it keeps revisions 5, 6 (see `kubectl rollout history deployment/iris`)"),
        "{missing:?}"
    );

    // Removal leaves no object and no container.
    k8s::remove(&c.client, NAMESPACE, "iris").await.unwrap();
    let requests = c.server.requests();
    let deleted = find(&requests, "DELETE", "/deployments/iris");
    assert_eq!(deleted[0].json()["propagationPolicy"], "Background");
    assert_eq!(find(&requests, "DELETE", "/services/iris").len(), 1);
    assert!(c.server.deployments().is_empty());
    assert!(c.server.replica_sets().is_empty());
    assert!(c.server.services().is_empty());
    assert!(c.server.pods().is_empty());
    eventually("no container is left", || {
        c.server.containers_existing() == 0
    })
    .await;
    // Removing what is gone is fine.
    k8s::remove(&c.client, NAMESPACE, "iris").await.unwrap();
}

#[tokio::test]
async fn a_first_version_that_never_gets_ready_is_removed() {
    images();
    let c = cluster().await;
    let (result, told) = rollout(&c, &iris(1, CRASH), SHORT).await;
    let Err(KubeDeployError::Refused(message)) = result else {
        panic!("{result:?}");
    };
    assert!(
        message
            == "iris@1 did not become ready on Kubernetes: its container keeps ending (CrashLoopBackOff, 1 restart, last exit code 1) after 12 s; nothing served before it, so Deployment and Service iris were removed",
        "{message}"
    );
    assert!(told.has("removing Deployment iris"), "{:?}", told.0);
    assert!(c.server.deployments().is_empty());
    assert!(c.server.services().is_empty());
    assert!(c.server.pods().is_empty());
}

#[tokio::test]
async fn an_image_the_cluster_cannot_pull_is_refused_while_the_live_version_serves() {
    images();
    let c = cluster().await;
    rollout(&c, &iris(1, V1), ROLL).await.0.unwrap();
    let live = serving(&c.server, "v1");
    let (result, _) = rollout(&c, &iris(2, "127.0.0.1:9/nowhere/iris:2"), SHORT).await;
    let Err(KubeDeployError::Refused(message)) = result else {
        panic!("{result:?}");
    };
    assert!(
        message.contains("the image cannot be pulled (ErrImagePull: Failed to pull image \"127.0.0.1:9/nowhere/iris:2\""),
        "{message}"
    );
    assert!(
        message.ends_with(" after 12 s; Deployment iris serves iris@1 again (revision 3)"),
        "{message}"
    );
    eventually("the failed pod is gone", || live_pods(&c.server).len() == 2).await;
    assert_eq!(serving(&c.server, "v1"), live);
}

#[tokio::test]
async fn the_stand_in_says_progress_deadline_exceeded_as_a_cluster_does() {
    images();
    let c = cluster().await;
    let mut d: Deployment = serde_json::from_str(
        &serde_json::to_string(&k8s::manifests::deployment(&iris(1, DEAF))).unwrap(),
    )
    .unwrap();
    d.metadata.namespace = None;
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(2);
    let api = Api::<Deployment>::namespaced(c.client.clone(), NAMESPACE);
    api.create(&PostParams::default(), &d).await.unwrap();
    let start = Instant::now();
    let stalled = loop {
        let now = api.get("iris").await.unwrap();
        if let k8s::Judgement::Stalled(why) = k8s::judge(&now) {
            break why;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            now.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(stalled.contains("has timed out progressing."), "{stalled}");
    let progressing = c.server.deployments()[0]["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .unwrap();
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
}

// --------------------------------------------------------------- the push

/// The digest the registry gives `repository:tag`'s manifest.
fn registry_digest(repository: &str, tag: &str) -> String {
    use std::io::{Read, Write};
    let (host, name) = repository.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "HEAD /v2/{name}/manifests/{tag} HTTP/1.0\r\nHost: {host}\r\nAccept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut head = String::new();
    stream.read_to_string(&mut head).unwrap();
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no digest for {repository}:{tag}: {head}"))
}

#[tokio::test]
async fn the_serving_image_is_pushed_and_deployed_by_its_digest() {
    images();
    common::registry::require_registries();
    let docker = common::backend().await;
    let repository = format!(
        "{}/mlci-test/deploy-k8s-{}",
        common::registry::OPEN,
        std::process::id()
    );
    let pushed = k8s::push_image(&docker, V1, &repository).await.unwrap();
    let digest = registry_digest(&repository, "v1");
    assert_eq!(pushed, format!("{repository}@{digest}"));
    // A local name that does not exist, and a repository with a tag in it.
    let missing = k8s::push_image(&docker, "mlci-test/no-such-image:1", &repository).await;
    assert!(
        matches!(&missing, Err(KubeDeployError::Invalid(m)) if m == "there is no local image `mlci-test/no-such-image:1` to push: build the serving image first"),
        "{missing:?}"
    );
    let tagged = k8s::push_image(&docker, V1, &format!("{repository}:v1")).await;
    assert!(
        matches!(tagged, Err(KubeDeployError::Invalid(_))),
        "{tagged:?}"
    );
    // What the cluster is told to run is that digest.
    let c = cluster().await;
    let done = rollout(&c, &iris(1, &pushed), ROLL).await.0.unwrap();
    assert_eq!(done.ready_replicas, 2);
    assert_eq!(template_image(&c.server.deployments()[0]), pushed);
    serving(&c.server, "v1");
    drop(c);
    let _ = common::docker(&["rmi", &format!("{repository}:v1"), &pushed]);
}
