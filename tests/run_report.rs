//! The whole flow through `mlci run`: real containers produce metrics, the
//! run store records them, gates compare them with the base branch's run,
//! and the report reaches the local GitHub API stand-in inside a simulated
//! `pull_request` event.

mod common;
mod github_server;

use github_server::{GithubServer, OWNER, REPO};
use std::path::Path;
use std::process::{Command, Output};

const TOKEN: &str = "ghs_RunReportTokenNeverPrinted42";
const PR: u64 = 12;

const WORKFLOW: &str = r#"
name: quality
on: [push, pull_request]
jobs:
  evaluate:
    runs-on: python-ml
    steps:
      - run: |
          python3 -c "import yaml, json; p = yaml.safe_load(open('params.yaml')); json.dump({'accuracy': p['accuracy'], 'loss': 1 - p['accuracy']}, open('metrics.json', 'w'))"
        inputs: [params.yaml]
        metrics: [metrics.json]
gates:
  accuracy: ">= base - 0.01"
  loss: "< 0.5"
"#;

fn mlci(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
    let cache = dir.join(".cache");
    let mut vars: Vec<(&str, &std::ffi::OsStr)> = vec![("MLCI_CACHE_DIR", cache.as_os_str())];
    vars.extend(env.iter().map(|(k, v)| (*k, std::ffi::OsStr::new(v))));
    common::mlci_with(dir, &vars, args)
}

#[test]
fn a_pull_request_run_is_compared_with_main_gated_and_reported_as_one_comment() {
    common::ensure_runner_image();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::write(repo.join("wf.yml"), WORKFLOW).unwrap();
    std::fs::write(repo.join("params.yaml"), "accuracy: 0.91\n").unwrap();
    std::fs::write(repo.join(".gitignore"), ".cache/\n.mlci/\nmetrics.json\n").unwrap();
    common::git(repo, &["init", "-q"]);
    common::git(repo, &["checkout", "-q", "-b", "main"]);
    common::git(repo, &["add", "-A"]);
    common::git(repo, &["commit", "-qm", "baseline"]);

    // On main: recorded; no baseline yet, so the relative gate has nothing to fail on.
    let (output, text) = mlci(repo, &["run", "wf.yml"], &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("pass accuracy >= base - 0.01"), "{text}");

    // A pull request that makes the model worse.
    common::git(repo, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(repo.join("params.yaml"), "accuracy: 0.85\n").unwrap();
    common::git(repo, &["commit", "-qam", "worse"]);
    let server = GithubServer::start(TOKEN);
    let event = repo.join(".mlci-event.json");
    let head = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(repo)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(
        &event,
        serde_json::json!({
            "number": PR,
            "pull_request": {
                "number": PR, "state": "open",
                "head": {"ref": "feature", "sha": head.trim()},
                "base": {"ref": "main", "sha": "2222222222222222222222222222222222222222"},
            },
            "repository": {"full_name": format!("{OWNER}/{REPO}"), "name": REPO, "owner": {"login": OWNER}},
        })
        .to_string(),
    )
    .unwrap();
    let summary = repo.join(".summary.md");
    let api = server.url();
    let repository = format!("{OWNER}/{REPO}");
    let event_text = event.display().to_string();
    let summary_text = summary.display().to_string();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_API_URL", api.as_str()),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", repository.as_str()),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event_text.as_str()),
        ("GITHUB_RUN_ID", "77"),
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_STEP_SUMMARY", summary_text.as_str()),
    ];
    let args = [
        "run",
        "wf.yml",
        "-e",
        "pull_request",
        "--eventpath",
        event_text.as_str(),
        "--github",
        "--report",
        "report.md",
    ];
    let (output, first) = mlci(repo, &args, &env);
    // A failed gate fails the run, with the reason.
    assert_eq!(output.status.code(), Some(1), "{first}");
    assert!(first.contains("FAIL accuracy >= base - 0.01"), "{first}");
    assert!(first.contains("0.85"), "{first}");
    let (output, second) = mlci(repo, &args, &env);
    assert_eq!(output.status.code(), Some(1), "{second}");

    // One comment for the two runs, with the metric, its baseline and the failed gate.
    let comments = server.comments_on(PR);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(
        body.contains("<!-- mlci:report workflow=quality -->"),
        "{body}"
    );
    assert!(body.contains("accuracy"), "{body}");
    assert!(body.contains("0.85") && body.contains("0.91"), "{body}");
    let report = std::fs::read_to_string(repo.join("report.md")).unwrap();
    assert!(report.contains("0.85"), "{report}");
    let job_summary = std::fs::read_to_string(&summary).unwrap();
    assert!(job_summary.contains("accuracy") && job_summary.contains("0.85"));
    // A check run or a commit status says how the gates went.
    let checks = server
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST"
                && (r.path().ends_with("/check-runs") || r.path().contains("/statuses/"))
        })
        .count();
    assert!(checks >= 1);
    // The token was sent only as the Authorization header.
    for request in server.requests() {
        assert!(!request.uri.contains(TOKEN) && !request.body.contains(TOKEN));
    }
    assert!(!first.contains(TOKEN) && !second.contains(TOKEN));

    // The same comparison from the command line.
    let (output, diff) = mlci(repo, &["metrics", "diff"], &[]);
    assert_eq!(output.status.code(), Some(0), "{diff}");
    let row = diff
        .lines()
        .find(|l| l.trim_start().starts_with("accuracy"))
        .unwrap_or_else(|| panic!("{diff}"));
    assert!(row.contains("0.85") && row.contains("0.91"), "{row}");
    assert!(row.contains("0.06") && row.contains("▼"), "{row}");
}

/// A checkout without .git (actions/checkout without git downloads a
/// tarball): the run is of GITHUB_SHA, and the report hands it on as that
/// commit's, not as another's (which it would refuse).
#[test]
fn a_run_without_git_is_of_github_sha_and_its_report_is_not_refused() {
    common::ensure_runner_image();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::write(repo.join("wf.yml"), WORKFLOW).unwrap();
    std::fs::write(repo.join("params.yaml"), "accuracy: 0.91\n").unwrap();
    let sha = "abcdef0123456789abcdef0123456789abcdef01";
    let server = GithubServer::start(TOKEN);
    let api = server.url();
    let repository = format!("{OWNER}/{REPO}");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_API_URL", api.as_str()),
        ("GITHUB_REPOSITORY", repository.as_str()),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_SHA", sha),
        ("GITHUB_TOKEN", TOKEN),
    ];
    let (output, text) = mlci(repo, &["run", "wf.yml", "--runs-file", "runs.json"], &env);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let (output, text) = mlci(
        repo,
        &[
            "report",
            "--github",
            "--runs-file",
            "runs.json",
            "--to",
            "check",
        ],
        &env,
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    let checks = server.with(|s| s.check_runs.clone());
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["head_sha"], sha);
    assert_eq!(checks[0]["conclusion"], "success");
}
