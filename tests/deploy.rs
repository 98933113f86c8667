//! `mlci deploy` on the real engine, with MLflow-format models served by
//! MLflow's own scoring server (tests/fixtures/deploy/, written by
//! make_models.py there): a good version goes live and answers with its own
//! predictions, a corrupt one is refused while the live one keeps answering,
//! the next switches in under load with no failed request, a canary takes
//! its share, rollback brings the previous version back, and `deploy rm`
//! leaves nothing. The first run builds the serving environment (pip
//! installs MLflow and scikit-learn: minutes); later runs reuse it.

mod common;

use common::cli::{Out, mlci};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const EXAMPLE: &str = r#"{"dataframe_split": {"columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"], "data": [[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [4.7, 3.2, 1.3, 0.2]]}}"#;

/// A project directory with its own run store and cache, and the fixture models in it.
struct Project {
    dir: tempfile::TempDir,
    cache: String,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        for model in ["iris-v1", "iris-v2", "iris-v3"] {
            common::copy_dir(
                &common::repo_root()
                    .join("tests/fixtures/deploy")
                    .join(model),
                &dir.path().join(model),
            );
        }
        let cache = dir.path().join("cache").display().to_string();
        Project { dir, cache }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `mlci ARGS` in the project, with its own cache for `models` and `deploy`.
    fn mlci(&self, args: &[&str]) -> Out {
        let mut all = args.to_vec();
        if matches!(args.first(), Some(&"models") | Some(&"deploy")) {
            all.extend(["--cache-dir", self.cache.as_str()]);
        }
        mlci(self.path(), &all)
    }

    fn register(&self, path: &str) {
        let out = self.mlci(&["models", "register", "iris", path]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One POST /invocations on a new connection: status, the version that
/// answered (x-mlci-model-version), the body.
fn predict(port: u16, body: &str) -> std::io::Result<(u16, String, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let version = head
        .lines()
        .find_map(|l| l.strip_prefix("x-mlci-model-version: "))
        .unwrap_or("")
        .to_string();
    Ok((status, version, body.to_string()))
}

/// Requests sent one after another from two threads until stopped: how
/// many were answered 200, and the failures (status or error) seen.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads = (0..2)
            .map(|_| {
                let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match predict(port, EXAMPLE) {
                            Ok((200, _, _)) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok((status, _, body)) => {
                                failures.lock().unwrap().push(format!("{status}: {body}"))
                            }
                            Err(error) => failures.lock().unwrap().push(error.to_string()),
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failures,
            threads,
        }
    }

    /// Stops it; the requests answered. Fails the test on any failure.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().unwrap();
        }
        let failures = self.failures.lock().unwrap();
        assert!(
            failures.is_empty(),
            "requests failed: {:?}",
            &failures[..failures.len().min(5)]
        );
        self.ok.load(Ordering::Relaxed)
    }
}

fn deployment_containers(name: &str) -> Vec<String> {
    common::docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=dev.mlci.deploy={name}"),
        "--format",
        "{{.Names}}",
    ])
    .unwrap()
    .lines()
    .map(str::to_string)
    .collect()
}

/// Removes the deployment's containers even when the test failed halfway.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for container in deployment_containers(&self.0) {
            let _ = common::docker(&["rm", "-f", &container]);
        }
        let _ = common::docker(&["network", "rm", &format!("mlci-deploy-{}", self.0)]);
    }
}

#[test]
fn a_model_goes_live_survives_a_corrupt_version_switches_under_load_and_rolls_back() {
    common::ensure_runner_image();
    let project = Project::new();
    let name = format!("iris-{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    // v1, v2 corrupt (its model file cut short), v3.
    project.register("iris-v1");
    let corrupt = project.path().join("iris-corrupt");
    common::copy_dir(&project.path().join("iris-v2"), &corrupt);
    let model = corrupt.join("model.skops");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 3]).unwrap();
    project.register("iris-corrupt");
    project.register("iris-v2");
    let port = free_port().to_string();

    // A good version goes live and answers with its own predictions.
    let out = project.mlci(&["deploy", "iris@1", "--name", &name, "--port", &port]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("smoke test passed"), "{}", out.stderr);
    let port: u16 = port.parse().unwrap();
    let (status, version, body) = predict(port, EXAMPLE).unwrap();
    assert_eq!((status, version.as_str()), (200, "1"), "{body}");
    assert_eq!(body.replace(' ', ""), r#"{"predictions":[0,0,0]}"#);

    // The corrupt version is refused, saying why; v1 answers throughout.
    let load = Load::start(port);
    let out = project.mlci(&["deploy", "iris@2", "--name", &name]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("iris@2 was refused"), "{}", out.stderr);
    assert!(out.stderr.contains("exited with code"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("v1 still serves {name}")),
        "{}",
        out.stderr
    );
    // The next good version switches in under the same load.
    let out = project.mlci(&["deploy", "iris@3", "--name", &name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("replaced v1"), "{}", out.stdout);
    std::thread::sleep(Duration::from_millis(500));
    let answered = load.finish();
    assert!(answered > 20, "only {answered} requests answered");
    let (_, version, body) = predict(port, EXAMPLE).unwrap();
    assert_eq!(version, "3");
    assert_eq!(body.replace(' ', ""), r#"{"predictions":[1,1,1]}"#);
    // The two versions' containers: only v3's and the front are left.
    let containers = deployment_containers(&name);
    assert_eq!(containers.len(), 2, "{containers:?}");

    // A smoke payload the model rejects is bad input: exit 2, v3 still serves.
    std::fs::write(
        project.path().join("bad.json"),
        r#"{"dataframe_split": {"columns": ["x"], "data": [[1]]}}"#,
    )
    .unwrap();
    let out = project.mlci(&["deploy", "iris@1", "--name", &name, "--smoke", "bad.json"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("rejected the smoke payload bad.json"),
        "{}",
        out.stderr
    );
    assert_eq!(predict(port, EXAMPLE).unwrap().1, "3");

    // A canary of 25 % takes exactly one request in four; rollback ends it.
    let out = project.mlci(&["deploy", "iris@1", "--name", &name, "--canary", "25"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let versions: Vec<String> = (0..20).map(|_| predict(port, EXAMPLE).unwrap().1).collect();
    assert_eq!(
        versions.iter().filter(|v| *v == "1").count(),
        5,
        "{versions:?}"
    );
    let out = project.mlci(&["deploy", "rollback", &name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!((0..8).all(|_| predict(port, EXAMPLE).unwrap().1 == "3"));

    // Rollback brings back the version that served before v3.
    let out = project.mlci(&["deploy", "rollback", &name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let (_, version, body) = predict(port, EXAMPLE).unwrap();
    assert_eq!(version, "1");
    assert_eq!(body.replace(' ', ""), r#"{"predictions":[0,0,0]}"#);

    // `deployments ls --json` has it all: what is live, and every row.
    let out = project.mlci(&["deployments", "ls", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ours = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name.as_str())
        .unwrap();
    assert_eq!(ours["live"], 1);
    assert_eq!(ours["url"], format!("http://127.0.0.1:{port}"));
    let outcomes: Vec<(String, String, i64)> = ours["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
                r["version"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("deploy", "live", 1),
        ("deploy", "refused", 2),
        ("deploy", "live", 3),
        ("deploy", "refused", 1),
        ("canary", "live", 1),
        ("rollback", "live", 3),
        ("rollback", "live", 1),
    ];
    let expected: Vec<(String, String, i64)> = expected
        .iter()
        .map(|(a, o, v)| (a.to_string(), o.to_string(), *v))
        .collect();
    assert_eq!(outcomes, expected);
    assert!(
        ours["history"][1]["message"]
            .as_str()
            .unwrap()
            .contains("exited with code")
    );

    // `deploy rm` leaves no container, and the port is free again.
    let out = project.mlci(&["deploy", "rm", &name]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(deployment_containers(&name), Vec::<String>::new());
    assert!(predict(port, EXAMPLE).is_err());
}

#[test]
fn bad_input_is_refused_with_exit_2_before_anything_starts() {
    let project = Project::new();
    // Not an MLflow model: a directory without MLmodel.
    std::fs::create_dir(project.path().join("plain")).unwrap();
    std::fs::write(project.path().join("plain/model.pkl"), "not a model").unwrap();
    let out = project.mlci(&["models", "register", "plain", "plain"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let port = free_port().to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["deploy", "nosuch", "--port", &port],
            "no model `nosuch` in the registry",
        ),
        (&["deploy", "iris@x"], "is not a model"),
        (
            &["deploy", "plain", "--port", &port],
            "is not an MLflow model: no MLmodel file",
        ),
        (
            &["deploy", "plain", "--name", "no such", "--port", &port],
            "is not a deployment name",
        ),
        (
            &["deploy", "plain", "--canary", "0", "--port", &port],
            "from 1 to 99",
        ),
        (
            &["deploy", "rollback", "nothing-here"],
            "no deployment `nothing-here`",
        ),
        (
            &["deploy", "rm", "nothing-here"],
            "no deployment `nothing-here`",
        ),
        (
            &["deploy", "promote", "nothing-here"],
            "no canary to promote",
        ),
        (
            &["deployments", "show", "nothing-here"],
            "no deployment `nothing-here`",
        ),
    ];
    for (args, expected) in cases {
        let out = project.mlci(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
    // A port another program holds.
    project.register("iris-v1");
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let held = holder.local_addr().unwrap().port().to_string();
    let out = project.mlci(&["deploy", "iris", "--name", "held", "--port", &held]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("port {held} is in use")),
        "{}",
        out.stderr
    );
    assert!(deployment_containers("held").is_empty());
    // A smoke file that is not JSON.
    std::fs::write(project.path().join("smoke.txt"), "a,b\n1,2\n").unwrap();
    let out = project.mlci(&[
        "deploy",
        "iris",
        "--name",
        "held",
        "--port",
        &port,
        "--smoke",
        "smoke.txt",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("smoke.txt is not JSON"),
        "{}",
        out.stderr
    );
}

#[test]
fn dry_run_prints_the_kubernetes_manifests_and_the_kserve_service() {
    let project = Project::new();
    project.register("iris-v1");
    let out = project.mlci(&[
        "deploy",
        "iris@1",
        "--target",
        "k8s",
        "--dry-run",
        "--registry",
        "registry.example.com/ml/iris",
        "--namespace",
        "ml",
        "--replicas",
        "3",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for expected in [
        "kind: \"Deployment\"",
        "kind: \"Service\"",
        "namespace: \"ml\"",
        "replicas: 3",
        "maxUnavailable: 0",
        "path: \"/ping\"",
        "image: \"registry.example.com/ml/iris:1-",
        "dev.mlci.deploy.version: \"1\"",
    ] {
        assert!(out.stdout.contains(expected), "{expected}:\n{}", out.stdout);
    }
    let out = project.mlci(&[
        "deploy",
        "iris@1",
        "--target",
        "k8s",
        "--dry-run",
        "--kserve",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("kind: \"InferenceService\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("serving.kserve.io/v1beta1"),
        "{}",
        out.stdout
    );
    // No registry to push to, a canary on Kubernetes, a name Kubernetes refuses: exit 2.
    for (args, expected) in [
        (
            &["deploy", "iris@1", "--target", "k8s"][..],
            "needs --registry",
        ),
        (
            &[
                "deploy",
                "iris@1",
                "--target",
                "k8s",
                "--registry",
                "r.example/iris",
                "--canary",
                "10",
            ][..],
            "--canary is for the Docker target",
        ),
        (
            &[
                "deploy",
                "iris@1",
                "--target",
                "k8s",
                "--dry-run",
                "--name",
                "Iris_1",
            ][..],
            "Iris_1",
        ),
        (&["deploy", "iris@1", "--dry-run"][..], "add --target k8s"),
    ] {
        let out = project.mlci(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
}
