//! `mlci run --executor k8s` against the local Kubernetes API stand-in of
//! `tests/kube_server` (a real HTTP server answering as the API server does,
//! with a kubelet stand-in that runs the pod's job container on Docker) and
//! moto's S3 for the mailbox: the conversation mlci holds (create the
//! Secret and the Job, watch the pod, follow its log, delete by label),
//! that no secret value is in any request but the Secret's own, and that
//! Ctrl-C leaves no Job, pod, Secret or container behind.

mod common;
mod kube_server;

use kube_server::{KubeServer, KubeletOptions, NAMESPACE};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SECRET: &str = "k8s-s3cr3t-5b2c";

struct Cluster {
    server: KubeServer,
    moto: common::moto::Moto,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        common::ensure_runner_image();
        let server = KubeServer::start(KubeletOptions {
            // What the pod's init container copies from the agent image.
            binds: vec![(
                PathBuf::from(env!("CARGO_BIN_EXE_mlci")),
                "/mlci-agent/mlci".to_string(),
            )],
            ..KubeletOptions::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = server.kubeconfig(dir.path());
        Cluster {
            server,
            moto: common::moto::start_moto(),
            dir,
            kubeconfig,
        }
    }

    fn env(&self, run_id: &str) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = self
            .moto
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        env.push(("KUBECONFIG".into(), self.kubeconfig.clone().into()));
        env.push((
            "MLCI_CACHE_DIR".into(),
            self.dir.path().join("cache").into(),
        ));
        env.push(("MLCI_RUN_ID".into(), run_id.into()));
        env.push(("MLCI_CACHE_REMOTE".into(), "s3://cache/team".into()));
        env.push(("MLCI_K8S_NAMESPACE".into(), NAMESPACE.into()));
        env
    }

    fn command(&self, repo: &Path, run_id: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mlci"));
        // The pods reach S3 by another name than this machine does.
        let pod_endpoint = format!("http://localhost:{}", self.moto.port);
        command
            .args(["run", "--executor", "k8s"])
            .args(["--secret", &format!("TOKEN={SECRET}")])
            .args(["--pod-s3-endpoint", &pod_endpoint])
            .current_dir(repo)
            .env("CI", "true")
            .envs(self.env(run_id));
        command
    }

    /// How many objects of the run's mailboxes are on S3.
    fn mailbox_objects(&self, run_id: &str) -> usize {
        let url = format!(
            "http://127.0.0.1:{}/cache?list-type=2&prefix=team/mailbox/{run_id}/",
            self.moto.port
        );
        let script = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode().count('<Key>'))";
        let output = Command::new("python3")
            .args(["-c", script, &url])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap()
    }

    /// Every Job, pod and Secret still on the stand-in, and its containers.
    fn leftovers(&self) -> (usize, usize, usize, usize) {
        common::until_settled(|| {
            let left = (
                self.server.jobs().len(),
                self.server.pods().len(),
                self.server.secrets().len(),
                self.server.containers_existing(),
            );
            if left == (0, 0, 0, 0) {
                vec![]
            } else {
                vec![left]
            }
        })
        .first()
        .copied()
        .unwrap_or((0, 0, 0, 0))
    }
}

const WORKFLOW: &str = r#"on: push
jobs:
  train:
    runs-on: python-ml
    timeout-minutes: 5
    container:
      image: mlci/python-ml:latest
      options: --gpus 1 --shm-size 256m
    env:
      TOKEN: ${{ secrets.TOKEN }}
    outputs:
      accuracy: ${{ steps.fit.outputs.accuracy }}
    steps:
      - uses: actions/checkout@v4
      - id: fit
        run: |
          echo "token is $TOKEN"
          test "$TOKEN" = "k8s-s3cr3t-5b2c"
          df -k /dev/shm | tail -1
          python3 -c 'print("accuracy=0.97")' >> "$GITHUB_OUTPUT"
          mkdir -p model && echo weights > model/w.txt
        inputs: [train.py]
        outputs: [model/]
  report:
    needs: train
    runs-on: python-ml
    steps:
      - run: |
          echo "accuracy ${{ needs.train.outputs.accuracy }} with ${{ secrets.TOKEN }}"
          cat model/w.txt
        inputs: [model/]
"#;

#[test]
fn a_workflow_runs_as_kubernetes_jobs_and_no_secret_leaves_but_in_the_secret() {
    let cluster = Cluster::start();
    let repo = common::git_repo(&[
        (".github/workflows/k8s.yml", WORKFLOW),
        ("train.py", "print('train')\n"),
    ]);
    let run_id = common::run_id("k8s-run");
    let output = cluster.command(repo.path(), &run_id).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    // The steps ran in the pods, their output streamed from the pods' logs.
    assert!(text.contains("[train] token is ***"), "{text}");
    assert!(text.contains("[report] accuracy 0.97 with ***"), "{text}");
    assert!(text.contains("[report] weights"), "{text}");
    assert!(!text.contains(SECRET), "{text}");

    let requests = cluster.server.requests();
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path()))
        .collect();
    let base = format!("/namespaces/{NAMESPACE}");
    for expected in [
        format!("POST /api/v1{base}/secrets"),
        format!("POST /apis/batch/v1{base}/jobs"),
        format!("GET /api/v1{base}/pods"),
        format!("DELETE /apis/batch/v1{base}/jobs"),
        format!("DELETE /api/v1{base}/pods"),
        format!("DELETE /api/v1{base}/secrets"),
    ] {
        assert!(lines.contains(&expected), "no {expected}: {lines:#?}");
    }
    // Two jobs: two Secrets, two Jobs, each pod watched by its labels and its log followed.
    let posts = |path: &str| {
        requests
            .iter()
            .filter(|r| r.method == "POST" && r.path().ends_with(path))
            .count()
    };
    assert_eq!((posts("/secrets"), posts("/jobs")), (2, 2), "{lines:#?}");
    let watches: Vec<_> = requests
        .iter()
        .filter(|r| r.param("watch").as_deref() == Some("true"))
        .collect();
    assert!(!watches.is_empty());
    for watch in &watches {
        let selector = watch.param("labelSelector").unwrap();
        assert!(
            selector.contains(&format!("dev.mlci.run={run_id}")),
            "{selector}"
        );
    }
    let logs: Vec<_> = requests
        .iter()
        .filter(|r| r.path().ends_with("/log"))
        .collect();
    assert_eq!(logs.len(), 2, "{lines:#?}");
    for log in logs {
        assert_eq!(log.param("follow").as_deref(), Some("true"));
        assert_eq!(log.param("container").as_deref(), Some("job"));
    }
    // Deletion by label, with the pods going with their Job.
    let deletes: Vec<_> = requests.iter().filter(|r| r.method == "DELETE").collect();
    for delete in &deletes {
        let selector = delete.param("labelSelector").unwrap_or_default();
        assert!(
            selector.contains(&format!("dev.mlci.run={run_id}")),
            "{selector}"
        );
        if delete.path().ends_with("/jobs") {
            assert!(delete.body.contains("\"propagationPolicy\":\"Background\""));
        }
    }
    // The secret is in the Secrets' bodies and in no other request.
    for request in &requests {
        let carries = request.body.contains(SECRET) || request.uri.contains(SECRET);
        let is_secret = request.method == "POST" && request.path().ends_with("/secrets");
        assert_eq!(carries, is_secret, "{} {}", request.method, request.uri);
    }
    // The pods' way to S3 is in the Secret (for the agent), not this machine's.
    let secret = requests
        .iter()
        .find(|r| r.method == "POST" && r.path().ends_with("/secrets"))
        .unwrap()
        .json();
    assert_eq!(
        secret["stringData"]["MLCI_AGENT_S3_ENDPOINT"],
        format!("http://localhost:{}", cluster.moto.port)
    );
    // The first Job: GPUs by count, the deadline from timeout-minutes, shm.
    let job = requests
        .iter()
        .find(|r| r.method == "POST" && r.path().ends_with("/jobs"))
        .unwrap()
        .json();
    let pod = &job["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["resources"]["limits"]["nvidia.com/gpu"], "1");
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 300);
    assert!(pod["volumes"].as_array().unwrap().iter().any(|v| {
        v["name"] == "shm"
            && v["emptyDir"]["medium"] == "Memory"
            && v["emptyDir"]["sizeLimit"] == "268435456"
    }));
    // The workspace and the outputs of `train` went through S3, not the API server:
    // no request body holds the step's files.
    assert!(requests.iter().all(|r| !r.body.contains("weights")));
    assert_eq!(cluster.leftovers(), (0, 0, 0, 0));
    assert_eq!(cluster.mailbox_objects(&run_id), 0);
}

#[test]
fn ctrl_c_deletes_every_job_pod_and_secret_of_the_run() {
    let cluster = Cluster::start();
    let repo = common::git_repo(&[(
        ".github/workflows/long.yml",
        "on: push\njobs:\n  long:\n    runs-on: python-ml\n    steps:\n      - run: echo started; sleep 300\n",
    )]);
    let run_id = common::run_id("k8s-ctrl-c");
    let mut run = common::Background::spawn(cluster.command(repo.path(), &run_id), repo.path());
    run.wait_for("[long] started", Duration::from_secs(120));
    assert_eq!(cluster.server.containers_running(), 1);
    assert!(
        cluster.mailbox_objects(&run_id) > 0,
        "the mailbox is not where it is looked for"
    );
    let (code, text) = run.interrupt();
    assert_eq!(code, Some(130), "{text}");
    assert!(text.contains("[long] cancelled"), "{text}");
    // The run's label selector deleted what the run had created.
    let by_run = format!("dev.mlci.run={run_id}");
    let deleted: Vec<String> = cluster
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .filter(|r| r.param("labelSelector").is_some_and(|s| s == by_run))
        .map(|r| r.path().to_string())
        .collect();
    for kind in ["/jobs", "/pods", "/secrets"] {
        assert!(deleted.iter().any(|p| p.ends_with(kind)), "{deleted:?}");
    }
    assert_eq!(cluster.leftovers(), (0, 0, 0, 0));
    // Nor is anything of the run left in the mailbox on S3.
    assert_eq!(cluster.mailbox_objects(&run_id), 0);
}

#[test]
fn the_agent_image_holds_this_mlci_for_the_pods_init_container() {
    common::ensure_runner_image();
    let tag = format!("mlci/agent:test-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let (output, text) = common::mlci_with(dir.path(), &[], &["images", "agent", "--tag", &tag]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    // The init container's command, as the golden manifests give it.
    let shared = tempfile::tempdir().unwrap();
    let mount = format!("{}:/mlci-agent", shared.path().display());
    let copied = common::docker(&[
        "run",
        "--rm",
        "-v",
        &mount,
        &tag,
        "cp",
        "/mlci",
        "/mlci-agent/mlci",
    ]);
    let _ = common::docker(&["rmi", "-f", &tag]);
    copied.unwrap();
    let version = Command::new(shared.path().join("mlci"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("mlci {}", env!("CARGO_PKG_VERSION"))
    );
}
