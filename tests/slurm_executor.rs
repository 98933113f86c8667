//! `mlci run --executor slurm` on a real one-node Slurm cluster (Debian's
//! slurm-wlm; `.ci/run` starts slurmctld and slurmd with
//! `.ci/slurm-up.sh`): the examples run for real, a job's timeout is
//! Slurm's limit, Ctrl-C leaves no job in squeue, secrets stay out of the
//! files Slurm sees, and a step cached by the Docker executor is a hit on
//! the cluster through the shared S3 cache.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

fn require_slurm() {
    let answered = Command::new("sinfo")
        .args(["--noheader", "--format=%T"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match answered {
        Some(state)
            if ["idle", "mixed", "allocated", "completing"]
                .iter()
                .any(|s| state.starts_with(s)) => {}
        other => {
            panic!("no Slurm node is up (sinfo: {other:?}): run .ci/slurm-up.sh (as .ci/run does)")
        }
    }
}

fn squeue(run_id: &str, format: &str) -> String {
    let out = Command::new("squeue")
        .args([
            "--noheader",
            &format!("--name=mlci-{run_id}"),
            &format!("--format={format}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Cluster {
    cache: tempfile::TempDir,
    shared: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        require_slurm();
        common::ensure_runner_image();
        Cluster {
            cache: tempfile::tempdir().unwrap(),
            shared: tempfile::tempdir().unwrap(),
        }
    }

    fn env(&self, run_id: &str, extra: &[(&str, String)]) -> Vec<(String, OsString)> {
        let mut env = vec![
            ("MLCI_CACHE_DIR".to_string(), self.cache.path().into()),
            ("MLCI_SLURM_DIR".to_string(), self.shared.path().into()),
            ("MLCI_RUN_ID".to_string(), run_id.into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.into())));
        env
    }

    fn run(&self, repo: &Path, run_id: &str, args: &[&str]) -> (std::process::Output, String) {
        let env = self.env(run_id, &[]);
        let env: Vec<(&str, &std::ffi::OsStr)> = env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_os_str()))
            .collect();
        let mut all = vec!["run", "--executor", "slurm"];
        all.extend_from_slice(args);
        common::mlci_with(repo, &env, &all)
    }
}

#[test]
fn the_example_workflows_run_on_slurm() {
    let cluster = Cluster::new();
    let repo = common::example_repo("hello-ml.yml");
    let run_id = common::run_id("slurm-hello");
    let (output, text) = cluster.run(repo.path(), &run_id, &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("[train (forest)] forest: accuracy="),
        "{text}"
    );
    assert!(text.contains("[report] last accuracy 0.9"), "{text}");
    assert_eq!(squeue(&run_id, "%i"), "", "jobs left in squeue");

    let repo = common::example_repo("train-evaluate.yml");
    let run_id = common::run_id("slurm-train-evaluate");
    let (output, text) = cluster.run(repo.path(), &run_id, &["--report", "report.md"]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("gates: 2 of 2 passed"), "{text}");
    // The outputs came back from the nodes into the working tree, as on Docker.
    assert!(repo.path().join("metrics/eval.json").is_file(), "{text}");
    assert!(repo.path().join("model/forest").is_dir(), "{text}");
    assert_eq!(squeue(&run_id, "%i"), "");

    // `--gpus 1` and `timeout-minutes: 30` are what the job asks Slurm for;
    // this node's Docker has no GPU runtime, which the job says, and the CPU
    // instance carries the run.
    let repo = common::example_repo("gpu-train.yml");
    let run_id = common::run_id("slurm-gpu-train");
    let (output, text) = cluster.run(repo.path(), &run_id, &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let submitted = line_starting(&text, "[train (cuda)] submitted as Slurm job ");
    assert!(submitted.ends_with("(--time=30 --gres=gpu:1)"), "{text}");
    assert!(
        text.contains(
            "[train (cuda)] error: Slurm gave this job GPUs 0, but the Docker engine of node"
        ),
        "{text}"
    );
    assert!(text.contains("[train (cpu)] trained on cpu"), "{text}");
    assert!(text.contains("pass accuracy >= 0.8"), "{text}");

    let repo = common::example_repo("registry.yml");
    let run_id = common::run_id("slurm-registry");
    let (output, text) = cluster.run(repo.path(), &run_id, &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("model iris@1 registered; champion: promoted"),
        "{text}"
    );
    assert_eq!(squeue(&run_id, "%i"), "");
}

/// The first line that starts with `start`.
fn line_starting<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line `{start}…`: {text}"))
}

#[test]
fn a_job_s_timeout_is_its_slurm_time_limit_and_ctrl_c_leaves_no_job_and_no_secret() {
    let cluster = Cluster::new();
    let secret = "s3cr3t-slurm-7d1e";
    let repo = common::git_repo(&[(
        ".github/workflows/long.yml",
        "on: push\njobs:\n  long:\n    runs-on: python-ml\n    timeout-minutes: 7\n    steps:\n      - run: echo \"started with ${{ secrets.TOKEN }}\"; sleep 300\n",
    )]);
    let run_id = common::run_id("slurm-ctrl-c");
    let env = cluster.env(&run_id, &[]);
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlci"));
    command
        .args([
            "run",
            "--executor",
            "slurm",
            "--secret",
            &format!("TOKEN={secret}"),
        ])
        .current_dir(repo.path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())))
        .env("CI", "true");
    let mut run = common::Background::spawn(command, repo.path());
    run.wait_for("[long] started with ***", Duration::from_secs(120));
    // timeout-minutes: 7 is the job's time limit in Slurm.
    assert_eq!(squeue(&run_id, "%l %T"), "7:00 RUNNING");
    // Nothing that Slurm or the node sees holds the secret, but the file
    // only the user can read that hands it to the agent.
    let mut files = Vec::new();
    collect_files(cluster.shared.path(), &mut files);
    assert!(!files.is_empty());
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_default();
        let holds = String::from_utf8_lossy(&bytes).contains(secret);
        if file.ends_with("secrets.json") {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
            assert!(holds);
        } else {
            assert!(!holds, "{} holds the secret", file.display());
        }
    }
    let (code, text) = run.interrupt();
    assert_eq!(code, Some(130), "{text}");
    assert_eq!(squeue(&run_id, "%i"), "", "a job is left in squeue");
    assert!(common::run_leftovers(&run_id).is_empty());
    assert!(text.contains("[long] cancelled"), "{text}");
    assert!(!text.contains(secret));
}

fn collect_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, found);
        } else {
            found.push(path);
        }
    }
}

#[test]
fn a_step_cached_by_the_docker_executor_is_a_hit_on_slurm_through_the_shared_cache() {
    let cluster = Cluster::new();
    let moto = common::moto::start_moto();
    let remote = "s3://cache/team".to_string();
    let repo = common::example_repo("train-evaluate.yml");
    let moto_env: Vec<(String, OsString)> = moto
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    // The laptop: the Docker executor, its own cache directory.
    let laptop_cache = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, &std::ffi::OsStr)> = moto_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_os_str()))
        .collect();
    env.push(("MLCI_CACHE_DIR", laptop_cache.path().as_os_str()));
    let (output, text) = common::mlci_with(repo.path(), &env, &["run", "--cache-remote", &remote]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains("restored from cache"), "{text}");
    // The cluster: another cache directory, the same remote.
    std::fs::remove_dir_all(repo.path().join("data")).unwrap();
    let run_id = common::run_id("slurm-shared-cache");
    let env = cluster.env(&run_id, &[]);
    let mut env: Vec<(&str, &std::ffi::OsStr)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_os_str()))
        .collect();
    env.extend(moto_env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())));
    let (output, text) = common::mlci_with(
        repo.path(),
        &env,
        &["run", "--executor", "slurm", "--cache-remote", &remote],
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("restored from cache").count(), 4, "{text}");
    // Every step was a hit: no job was submitted at all.
    assert!(!text.contains("starting in"), "{text}");
    assert!(repo.path().join("data").is_dir(), "{text}");
}
