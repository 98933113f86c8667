//! `mlci run --executor k8s --dry-run`: the manifests of every example
//! workflow, compared with the golden files of `tests/golden/k8s/` (which
//! `.ci/run` also checks against the Kubernetes schema with
//! kubernetes-validate), and the plan-time errors of what the cluster
//! executors do not support. Nothing here needs a cluster or Docker.
//!
//! `MLCI_UPDATE_GOLDEN=1` rewrites the golden files from what mlci prints.

use std::path::{Path, PathBuf};

mod common;

const SECRET_VALUE: &str = "tok-3f9a-not-in-any-manifest";

fn dry_run(repo: &Path, extra: &[&str]) -> (std::process::Output, String, String) {
    let cache = repo.join(".cache");
    let mut args = vec![
        "run",
        "--executor",
        "k8s",
        "--dry-run",
        "--namespace",
        "ml-ci",
        "--cache-remote",
        "s3://mlci-cache/team",
        "--secret",
        "TOKEN=tok-3f9a-not-in-any-manifest",
    ];
    args.extend_from_slice(extra);
    let (output, text) = common::mlci_with(
        repo,
        &[
            ("MLCI_CACHE_DIR", cache.as_os_str()),
            ("MLCI_RUN_ID", "golden".as_ref()),
            ("MLCI_S3_ENDPOINT", "http://s3.storage.svc:9000".as_ref()),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE".as_ref()),
            ("AWS_SECRET_ACCESS_KEY", "s3-secret-key-example".as_ref()),
            ("AWS_REGION", "eu-west-1".as_ref()),
        ],
        &args,
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout, text)
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/k8s")
}

#[test]
fn every_example_workflow_has_the_manifests_of_its_golden_file() {
    let workflows = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut names: Vec<String> = std::fs::read_dir(&workflows)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    let update = std::env::var("MLCI_UPDATE_GOLDEN").as_deref() == Ok("1");
    for name in names {
        let repo = common::example_repo(&name);
        let (output, manifests, text) = dry_run(repo.path(), &[]);
        assert_eq!(output.status.code(), Some(0), "{name}: {text}");
        // Neither the run's secret nor the S3 credentials are in any manifest.
        for secret in [SECRET_VALUE, "AKIAEXAMPLE", "s3-secret-key-example"] {
            assert!(!manifests.contains(secret), "{name}: {secret} printed");
        }
        let golden = golden_dir().join(name.replace(".yml", ".yaml"));
        if update {
            std::fs::write(&golden, &manifests).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!("{}: {e} (MLCI_UPDATE_GOLDEN=1 writes it)", golden.display())
        });
        assert_eq!(
            manifests,
            expected,
            "{name}: the manifests differ from {} (MLCI_UPDATE_GOLDEN=1 rewrites it)",
            golden.display()
        );
    }
}

#[test]
fn a_job_s_requests_become_the_pod_s_limits_deadline_and_volumes() {
    let repo = common::example_repo("gpu-train.yml");
    let (output, manifests, text) = dry_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let docs: Vec<&str> = manifests.split("---\n").collect();
    let cuda = docs
        .iter()
        .find(|d| {
            d.contains("# workflows/gpu-train.yml: job `train (cuda)`\n")
                || d.starts_with("# .github/workflows/gpu-train.yml: job `train (cuda)`\n")
        })
        .unwrap_or_else(|| panic!("no Job of train (cuda): {manifests}"));
    // --gpus 1 --shm-size 8g, timeout-minutes: 30
    assert!(cuda.contains("nvidia.com/gpu: \"1\""), "{cuda}");
    assert!(cuda.contains("activeDeadlineSeconds: 1800"), "{cuda}");
    assert!(
        cuda.contains("medium: \"Memory\"\n          sizeLimit: \"8589934592\""),
        "{cuda}"
    );
    assert!(cuda.contains("mountPath: \"/dev/shm\""), "{cuda}");
    assert!(cuda.contains("image: \"mlci/cuda-train:latest\""), "{cuda}");
    assert!(
        cuda.contains("s3://mlci-cache/team/mailbox/golden/job1"),
        "{cuda}"
    );
    // The S3 access is read from the Secret by key, never written out.
    assert!(
        cuda.contains("name: \"MLCI_AGENT_AWS_SECRET_ACCESS_KEY\"\n          valueFrom:\n            secretKeyRef:\n              key: \"MLCI_AGENT_AWS_SECRET_ACCESS_KEY\""),
        "{cuda}"
    );
    let cpu = docs
        .iter()
        .find(|d| d.contains("job `train (cpu)`\n") && d.contains("kind: \"Job\""))
        .unwrap();
    assert!(!cpu.contains("nvidia.com/gpu"), "{cpu}");
}

#[test]
fn services_become_sidecars_reached_by_their_name() {
    let repo = common::git_repo(&[(
        ".github/workflows/db.yml",
        "on: push\njobs:\n  test:\n    runs-on: python-ml\n    services:\n      redis:\n        image: redis:7\n        ports: ['6379:6379']\n    steps:\n      - run: echo hi\n",
    )]);
    let (output, manifests, text) = dry_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        manifests.contains("- image: \"redis:7\"\n        name: \"redis\"\n        ports:\n        - containerPort: 6379\n        restartPolicy: \"Always\""),
        "{manifests}"
    );
    assert!(
        manifests.contains(
            "hostAliases:\n      - hostnames:\n        - \"redis\"\n        ip: \"127.0.0.1\""
        ),
        "{manifests}"
    );
}

fn run_invalid(files: &[(&str, &str)], extra: &[&str]) -> String {
    let repo = common::git_repo(files);
    let cache = repo.path().join(".cache");
    let (output, text) =
        common::mlci_with(repo.path(), &[("MLCI_CACHE_DIR", cache.as_os_str())], extra);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(!text.contains("starting"), "{text}");
    text
}

#[test]
fn what_a_cluster_executor_cannot_do_is_an_error_at_its_place_before_anything_starts() {
    let workflow = "on: push\njobs:\n  train:\n    runs-on: python-ml\n    container:\n      image: mlci/python-ml:latest\n      options: --gpus all --privileged\n      volumes: [/data:/data]\n    services:\n      db:\n        image: postgres:16\n    steps:\n      - uses: docker://alpine:3\n";
    let files = [(".github/workflows/w.yml", workflow)];
    let text = run_invalid(
        &files,
        &["run", "--executor", "k8s", "--cache-remote", "s3://b/p"],
    );
    assert!(
        text.contains(".github/workflows/w.yml:7:27: error: container.options `--privileged` is not supported by --executor k8s yet"),
        "{text}"
    );
    assert!(
        text.contains("7:16: error: --executor k8s asks the cluster for GPUs by count"),
        "{text}"
    );
    assert!(
        text.contains("8:17: error: volumes of this machine do not reach a Kubernetes pod"),
        "{text}"
    );
    assert!(
        text.contains("13:15: error: Docker actions (`docker://`) do not run on Kubernetes yet"),
        "{text}"
    );
    let text = run_invalid(&files, &["run", "--executor", "slurm"]);
    assert!(
        text.contains("10:7: error: services do not run on Slurm yet"),
        "{text}"
    );
    assert!(!text.contains("volumes of this machine"), "{text}");
    // Kubernetes moves the workspace through S3: without a remote it cannot start.
    let plain = [(
        ".github/workflows/w.yml",
        "on: push\njobs:\n  a:\n    runs-on: python-ml\n    steps:\n      - run: echo hi\n",
    )];
    let text = run_invalid(&plain, &["run", "--executor", "k8s"]);
    assert!(
        text.contains("give --cache-remote s3://BUCKET/PREFIX"),
        "{text}"
    );
    let text = run_invalid(&plain, &["run", "--dry-run"]);
    assert!(
        text.contains("--dry-run prints Kubernetes manifests"),
        "{text}"
    );
}
