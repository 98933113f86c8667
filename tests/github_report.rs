//! `mlci report --github` against the local GitHub API stand-in, inside a
//! simulated `pull_request` event: the event file and GitHub's environment
//! variables, as a runner sets them. Real HTTP, no mock of the client; the
//! assertions are on what the server received.

mod github_server;
mod report_fixtures;

use github_server::{GithubServer, OWNER, REPO};
use mlci::record::Store;
use report_fixtures::{mlci, pr_run, run, text};
use std::path::{Path, PathBuf};
use std::process::Output;

const TOKEN: &str = "ghs_T0kenThatMustNeverLeak1234567890";
const READ_ONLY: &str = "ghs_ReadOnlyForkToken0987654321";
const PR: u64 = 7;
const HEAD_SHA: &str = "1111111111111111111111111111111111111111";
const MERGE_SHA: &str = "9999999999999999999999999999999999999999";
const MARKER: &str = "<!-- mlci:report workflow=train-evaluate -->";

struct Setup {
    dir: tempfile::TempDir,
    server: GithubServer,
    event: PathBuf,
    summary: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let server = GithubServer::start(TOKEN);
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            serde_json::json!({
                "action": "synchronize",
                "number": PR,
                "pull_request": {
                    "number": PR,
                    "state": "open",
                    "head": {"ref": "feature", "sha": HEAD_SHA},
                    "base": {"ref": "main", "sha": "2222222222222222222222222222222222222222"},
                },
                "repository": {"full_name": format!("{OWNER}/{REPO}"), "name": REPO, "owner": {"login": OWNER}},
            })
            .to_string(),
        )
        .unwrap();
        let summary = dir.path().join("step_summary.md");
        let setup = Setup {
            dir,
            server,
            event,
            summary,
        };
        // The baseline: a successful run of main.
        setup.insert(run(
            "main",
            "3333333333333333333333333333333333333333",
            &[("accuracy", 0.91), ("loss", 0.30)],
        ));
        setup
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("runs.db")
    }

    fn insert(&self, record: mlci::record::RunRecord) -> i64 {
        Store::open(&self.db())
            .unwrap()
            .insert_run(&record)
            .unwrap()
    }

    fn report_with(&self, token: &str, extra: &[&str], event: Option<&Path>) -> Output {
        self.report_at(&self.server.url(), token, extra, event)
    }

    fn report_at(&self, api: &str, token: &str, extra: &[&str], event: Option<&Path>) -> Output {
        let mut command = self.command(api, token, extra, event);
        command.output().unwrap()
    }

    fn command(
        &self,
        api: &str,
        token: &str,
        extra: &[&str],
        event: Option<&Path>,
    ) -> std::process::Command {
        let mut command = mlci(self.dir.path());
        command
            .args(["report", "--github", "--db"])
            .arg(self.db())
            .args(extra)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", api)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
            .env("GITHUB_SHA", MERGE_SHA)
            .env("GITHUB_REF", format!("refs/pull/{PR}/merge"))
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_TOKEN", token)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("MLCI_GITHUB_MAX_WAIT", "0.05");
        match event {
            Some(path) => {
                command
                    .env("GITHUB_EVENT_NAME", "push")
                    .env("GITHUB_EVENT_PATH", path);
            }
            None => {
                command
                    .env("GITHUB_EVENT_NAME", "pull_request")
                    .env("GITHUB_EVENT_PATH", &self.event);
            }
        }
        command
    }

    fn report(&self) -> Output {
        self.report_with(TOKEN, &[], None)
    }

    /// The token may appear in the Authorization header and nowhere else:
    /// not in a URL, a body, another header, or the command's output.
    fn assert_token_only_in_authorization(&self, outputs: &[&Output]) {
        for token in [TOKEN, READ_ONLY] {
            for request in self.server.requests() {
                assert!(!request.uri.contains(token), "token in URL {}", request.uri);
                assert!(
                    !request.body.contains(token),
                    "token in body of {}",
                    request.uri
                );
                for (name, value) in &request.headers {
                    if !name.eq_ignore_ascii_case("authorization") {
                        assert!(!value.contains(token), "token in header {name}");
                    }
                }
            }
            for output in outputs {
                let (stdout, stderr) = text(output);
                assert!(
                    !stdout.contains(token) && !stderr.contains(token),
                    "token in output"
                );
            }
            let summary = std::fs::read_to_string(&self.summary).unwrap_or_default();
            assert!(!summary.contains(token));
        }
        assert!(
            self.server
                .requests()
                .iter()
                .all(|r| r.header("authorization").is_some()),
            "every request is authenticated"
        );
    }

    fn writes(&self) -> Vec<github_server::Recorded> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }
}

fn assert_ok(output: &Output) {
    let (stdout, stderr) = text(output);
    assert!(
        output.status.success(),
        "mlci failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}

#[test]
fn two_runs_two_reports_leave_one_comment_edited_in_place() {
    let setup = Setup::new();
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.305)],
    ));
    let first = setup.report();
    assert_ok(&first);

    let comments = setup.server.comments_on(PR);
    assert_eq!(comments.len(), 1);
    let first_body = comments[0].body.clone();
    assert!(first_body.starts_with(MARKER), "{first_body}");
    assert!(
        first_body.contains("| accuracy | 0.93 | 0.91 |"),
        "{first_body}"
    );
    assert!(first_body.contains("all 2 gates passed"));
    assert!(first_body.contains("```mermaid\nxychart-beta"));
    assert!(first_body.contains("NVIDIA H100 80GB HBM3"));

    // The second run of the pull request: a new value, the same comment.
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.95), ("loss", 0.301)],
    ));
    let second = setup.report();
    assert_ok(&second);
    let comments = setup.server.comments_on(PR);
    assert_eq!(comments.len(), 1, "edited, not duplicated");
    assert_eq!(comments[0].id, setup.server.comments_on(PR)[0].id);
    assert!(comments[0].body.contains("| accuracy | 0.95 | 0.91 |"));
    let writes = setup.writes();
    let posts: Vec<_> = writes
        .iter()
        .filter(|r| r.method == "POST" && r.path().ends_with("/comments"))
        .collect();
    let patches: Vec<_> = writes
        .iter()
        .filter(|r| r.method == "PATCH" && r.path().contains("/issues/comments/"))
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(patches.len(), 1);
    assert_eq!(
        patches[0].path(),
        format!("/repos/{OWNER}/{REPO}/issues/comments/{}", comments[0].id)
    );

    // A check run per report, on the pull request's head commit, with the report as summary.
    let checks = setup.server.with(|s| s.check_runs.clone());
    assert_eq!(checks.len(), 2);
    for check in &checks {
        assert_eq!(check["head_sha"], HEAD_SHA);
        assert_eq!(check["conclusion"], "success");
        assert_eq!(check["name"], "mlci / train-evaluate");
    }
    let create = writes
        .iter()
        .find(|r| r.path().ends_with("/check-runs"))
        .unwrap()
        .json();
    assert_eq!(create["status"], "completed");
    assert!(
        create["output"]["summary"]
            .as_str()
            .unwrap()
            .contains("accuracy")
    );

    // The job summary has both reports, with the metric and its value.
    let summary = std::fs::read_to_string(&setup.summary).unwrap();
    assert!(summary.contains("| accuracy | 0.93 |") && summary.contains("| accuracy | 0.95 |"));

    // A third report of the same run changes nothing: no comment request but the listing.
    let before = setup.server.requests().len();
    let third = setup.report();
    assert_ok(&third);
    let comment_writes = setup.server.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET" && r.path().contains("comments"))
        .count();
    assert_eq!(comment_writes, 0, "no request when the body is unchanged");
    assert!(text(&third).1.contains("up to date"));

    // Requests carry GitHub's headers.
    let request = &setup.server.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert!(request.header("user-agent").is_some());
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
    setup.assert_token_only_in_authorization(&[&first, &second, &third]);
}

#[test]
fn the_comment_is_found_on_the_second_page() {
    let setup = Setup::new();
    for i in 0..130 {
        setup
            .server
            .add_comment(PR, &format!("review comment {i}"), "reviewer");
        if i == 115 {
            // Ours, from an earlier report, now on page 2 (100 per page).
            setup.server.add_comment(
                PR,
                &format!("{MARKER}\n## old report"),
                "github-actions[bot]",
            );
        }
    }
    let ours = setup
        .server
        .comments_on(PR)
        .into_iter()
        .find(|c| c.body.starts_with(MARKER))
        .unwrap();
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let output = setup.report();
    assert_ok(&output);

    let comments = setup.server.comments_on(PR);
    assert_eq!(comments.len(), 131, "no new comment");
    let edited = comments.iter().find(|c| c.id == ours.id).unwrap();
    assert!(edited.body.contains("| accuracy | 0.93 |"));
    let lists: Vec<_> = setup
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path().ends_with("/comments"))
        .collect();
    assert_eq!(lists.len(), 2, "both pages read");
    assert!(lists[0].uri.contains("per_page=100"));
    assert!(lists[1].uri.contains("page=2"), "{}", lists[1].uri);
    assert!(
        setup
            .writes()
            .iter()
            .all(|r| !(r.method == "POST" && r.path().ends_with("/comments")))
    );
    setup.assert_token_only_in_authorization(&[&output]);
}

#[test]
fn statuses_replace_check_runs_the_token_cannot_create() {
    let setup = Setup::new();
    setup.server.with(|s| s.refuse_check_runs = true);
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.80), ("loss", 0.3)],
    ));
    let output = setup.report();
    assert_eq!(output.status.code(), Some(1), "a failed gate exits 1");
    let statuses = setup.server.with(|s| s.statuses.clone());
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|(sha, _)| sha == HEAD_SHA));
    let workflow = statuses
        .iter()
        .find(|(_, s)| s["context"] == "mlci/train-evaluate")
        .unwrap();
    assert_eq!(workflow.1["state"], "failure");
    assert!(workflow.1["description"].as_str().unwrap().chars().count() <= 140);
    assert!(
        statuses
            .iter()
            .any(|(_, s)| s["context"] == "mlci/train-evaluate/train" && s["state"] == "success")
    );
    let (_, stderr) = text(&output);
    assert!(stderr.contains("cannot create check runs"), "{stderr}");
    let body = &setup.server.comments_on(PR)[0].body;
    assert!(body.contains("1 of 2 gates failed"));
    assert!(body.contains("0.8 is not >= 0.9"));
    setup.assert_token_only_in_authorization(&[&output]);
}

#[test]
fn server_errors_are_retried() {
    let setup = Setup::new();
    setup.server.with(|s| {
        s.faults.push_back(("GET".into(), "/comments".into(), 502));
        s.faults.push_back(("GET".into(), "/comments".into(), 503));
        s.faults
            .push_back(("POST".into(), "/check-runs".into(), 500));
    });
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let output = setup.report();
    assert_ok(&output);
    let requests = setup.server.requests();
    let statuses: Vec<u16> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path().ends_with("/comments"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [502, 503, 200]);
    let checks: Vec<u16> = requests
        .iter()
        .filter(|r| r.path().ends_with("/check-runs"))
        .map(|r| r.status)
        .collect();
    assert_eq!(checks, [500, 201]);
    assert_eq!(setup.server.comments_on(PR).len(), 1);
    assert_eq!(setup.server.with(|s| s.check_runs.len()), 1);
    setup.assert_token_only_in_authorization(&[&output]);
}

#[test]
fn a_rate_limit_is_waited_out() {
    let setup = Setup::new();
    setup.server.with(|s| {
        s.rate_limited = 2;
        s.rate_limit_reset_in = 30;
    });
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let started = std::time::Instant::now();
    let output = setup.report();
    assert_ok(&output);
    // The wait is capped by MLCI_GITHUB_MAX_WAIT, not the 30 s until the reset.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let requests = setup.server.requests();
    assert_eq!(requests[0].status, 403);
    assert_eq!(requests[1].status, 403);
    assert_eq!(requests[2].status, 200);
    assert_eq!(requests[0].uri, requests[2].uri, "the same request again");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("rate limit"), "{stderr}");
    assert_eq!(setup.server.comments_on(PR).len(), 1);
    setup.assert_token_only_in_authorization(&[&output]);
}

#[test]
fn a_read_only_token_says_so_and_still_writes_the_summary() {
    let setup = Setup::new();
    setup
        .server
        .with(|s| s.read_only_tokens.insert(READ_ONLY.to_string()));
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let output = setup.report_with(READ_ONLY, &[], None);
    assert_ok(&output);
    let (_, stderr) = text(&output);
    assert!(stderr.contains("read-only"), "{stderr}");
    assert!(stderr.contains("Resource not accessible by integration"));
    assert_eq!(
        stderr.matches("read-only").count(),
        1,
        "one sentence: {stderr}"
    );
    assert!(setup.server.comments_on(PR).is_empty());
    let summary = std::fs::read_to_string(&setup.summary).unwrap();
    assert!(summary.contains(MARKER));
    assert!(summary.contains("| accuracy | 0.93 |"));
    setup.assert_token_only_in_authorization(&[&output]);
}

#[test]
fn the_pull_request_is_found_from_the_commit_outside_a_pull_request_event() {
    let setup = Setup::new();
    let push = setup.dir.path().join("push.json");
    std::fs::write(
        &push,
        serde_json::json!({"ref": "refs/heads/feature", "after": MERGE_SHA}).to_string(),
    )
    .unwrap();
    setup
        .server
        .with(|s| s.pulls_of_commit.insert(MERGE_SHA.to_string(), vec![12]));
    setup.insert(run(
        "feature",
        MERGE_SHA,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let output = setup.report_with(TOKEN, &["--baseline", "main"], Some(&push));
    assert_ok(&output);
    assert!(
        setup
            .server
            .requests()
            .iter()
            .any(|r| r.path() == format!("/repos/{OWNER}/{REPO}/commits/{MERGE_SHA}/pulls"))
    );
    assert_eq!(setup.server.comments_on(12).len(), 1);
    let checks = setup.server.with(|s| s.check_runs.clone());
    assert_eq!(checks[0]["head_sha"], MERGE_SHA);
    setup.assert_token_only_in_authorization(&[&output]);
}

#[test]
fn annotations_go_in_batches_of_fifty() {
    let setup = Setup::new();
    let mut record = pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    );
    record.jobs[0].annotations = report_fixtures::annotations(120);
    setup.insert(record);
    let output = setup.report_with(TOKEN, &["--to", "check"], None);
    assert_ok(&output);
    let writes = setup.writes();
    let sizes: Vec<usize> = writes
        .iter()
        .map(|r| {
            r.json()["output"]["annotations"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(writes[0].method, "POST");
    assert!(writes[1..].iter().all(|r| r.method == "PATCH"));
    let id = setup
        .server
        .with(|s| s.check_runs[0]["id"].as_u64().unwrap());
    let stored = setup.server.with(|s| s.annotations[&id].clone());
    assert_eq!(stored.len(), 120);
    assert_eq!(stored[0]["annotation_level"], "failure");
    assert_eq!(stored[0]["path"], "train.py");
    assert!(
        setup.server.comments_on(PR).is_empty(),
        "--to check posts no comment"
    );
    setup.assert_token_only_in_authorization(&[&output]);
}

#[test]
fn a_wrong_token_is_one_sentence_without_the_token() {
    let setup = Setup::new();
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let wrong = "ghp_WrongTokenValue000000000000";
    let output = setup.report_with(wrong, &[], None);
    assert_eq!(output.status.code(), Some(1));
    let (stdout, stderr) = text(&output);
    assert!(
        stderr.contains("401") && stderr.contains("Bad credentials"),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong) && !stdout.contains(wrong));
    // The job summary was still written.
    assert!(
        std::fs::read_to_string(&setup.summary)
            .unwrap()
            .contains(MARKER)
    );
}

#[test]
fn enterprise_server_urls_keep_their_api_path() {
    let setup = Setup::new();
    for i in 0..105 {
        setup
            .server
            .add_comment(PR, &format!("comment {i}"), "reviewer");
    }
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let api = format!("{}/api/v3", setup.server.url());
    let first = setup.report_at(&api, TOKEN, &[], None);
    assert_ok(&first);
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.94), ("loss", 0.3)],
    ));
    let second = setup.report_at(&format!("{api}/"), TOKEN, &[], None);
    assert_ok(&second);
    let requests = setup.server.requests();
    assert!(
        requests.iter().all(|r| r.uri.starts_with("/api/v3/")),
        "every request under /api/v3"
    );
    // Page 2 came from the Link header, which carries /api/v3 too; it was not doubled.
    assert!(
        requests
            .iter()
            .any(|r| r.uri.starts_with("/api/v3/repositories/") && r.uri.contains("page=2"))
    );
    let ours: Vec<_> = setup
        .server
        .comments_on(PR)
        .into_iter()
        .filter(|c| c.body.starts_with(MARKER))
        .collect();
    assert_eq!(ours.len(), 1);
    assert!(ours[0].body.contains("| accuracy | 0.94 |"));
    setup.assert_token_only_in_authorization(&[&first, &second]);
}

#[test]
fn a_secondary_rate_limit_is_waited_out_and_the_token_can_come_from_the_command_line() {
    let setup = Setup::new();
    setup.server.with(|s| s.too_many_requests = 1);
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.3)],
    ));
    let mut command = setup.command(&setup.server.url(), TOKEN, &["--token", TOKEN], None);
    command.env_remove("GITHUB_TOKEN");
    let output = command.output().unwrap();
    assert_ok(&output);
    let requests = setup.server.requests();
    assert_eq!(requests[0].status, 429);
    assert_eq!(requests[1].status, 200);
    assert_eq!(requests[0].uri, requests[1].uri);
    assert_eq!(setup.server.comments_on(PR).len(), 1);
    setup.assert_token_only_in_authorization(&[&output]);
}

/// The check runs posted on `sha`.
fn checks_on(setup: &Setup, sha: &str) -> Vec<serde_json::Value> {
    setup.server.with(|s| {
        s.check_runs
            .iter()
            .filter(|r| r["head_sha"] == sha)
            .cloned()
            .collect()
    })
}

#[test]
fn the_newest_run_of_another_commit_gets_a_failing_check_not_its_results() {
    // The store holds main's green run only (restored from the base branch's cache).
    let setup = Setup::new();
    let output = setup.report();
    assert!(!output.status.success(), "{:?}", text(&output));
    let (_, stderr) = text(&output);
    assert!(
        stderr.contains(&format!(
            "mlci did not record a run for {HEAD_SHA}: the run to report, #1, is of commit 3333333 on main, not of this one."
        )),
        "{stderr}"
    );
    assert!(checks_on(&setup, "3333333333333333333333333333333333333333").is_empty());
    let checks = checks_on(&setup, HEAD_SHA);
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["conclusion"], "failure");
    assert_eq!(
        checks[0]["output"]["title"],
        "mlci did not record a run for 1111111"
    );
    let comments = setup.server.comments_on(PR);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.starts_with(MARKER));
    assert!(
        !comments[0].body.contains("| accuracy |") && !comments[0].body.contains("0.91"),
        "{}",
        comments[0].body
    );
    // An explicit --run of another commit is refused the same way.
    let output = setup.report_with(TOKEN, &["--run", "1"], None);
    assert!(!output.status.success());
    assert!(
        checks_on(&setup, HEAD_SHA)
            .iter()
            .all(|c| c["conclusion"] == "failure")
    );
}

#[test]
fn a_runs_file_reports_its_run_and_says_why_there_is_none() {
    let setup = Setup::new();
    let first = setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.93), ("loss", 0.305)],
    ));
    // A newer run of the same commit that this invocation did not make.
    setup.insert(pr_run(
        "feature",
        HEAD_SHA,
        PR,
        &[("accuracy", 0.99), ("loss", 0.2)],
    ));
    let runs_file = setup.dir.path().join("runs.json");
    std::fs::write(
        &runs_file,
        serde_json::json!({
            "workflows": [{"name": "train-evaluate", "path": ".github/workflows/train-evaluate.yml", "run": first}],
            "error": null,
        })
        .to_string(),
    )
    .unwrap();
    let runs_arg = runs_file.to_str().unwrap();
    let output = setup.report_with(TOKEN, &["--runs-file", runs_arg], None);
    assert_ok(&output);
    let body = setup.server.comments_on(PR)[0].body.clone();
    assert!(body.contains("| accuracy | 0.93 | 0.91 |"), "{body}");

    // The next commit's run never started: a failing check that says why,
    // and the comment no longer shows the earlier commit's results.
    std::fs::write(
        &runs_file,
        serde_json::json!({
            "workflows": [{"name": "train-evaluate", "path": ".github/workflows/train-evaluate.yml", "run": null}],
            "error": "cannot reach the Docker engine at unix:///nonexistent: is Docker running?",
        })
        .to_string(),
    )
    .unwrap();
    let output = setup.report_with(TOKEN, &["--runs-file", runs_arg], None);
    assert!(!output.status.success());
    let checks = checks_on(&setup, HEAD_SHA);
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[1]["conclusion"], "failure");
    assert_eq!(checks[1]["name"], "mlci / train-evaluate");
    let sentence = format!(
        "mlci did not record a run for {HEAD_SHA}: cannot reach the Docker engine at unix:///nonexistent: is Docker running?"
    );
    assert!(
        checks[1]["output"]["summary"]
            .as_str()
            .unwrap()
            .contains(&sentence)
    );
    let comments = setup.server.comments_on(PR);
    assert_eq!(comments.len(), 1, "the same comment, edited");
    assert!(comments[0].body.contains(&sentence), "{}", comments[0].body);
    assert!(!comments[0].body.contains("| accuracy |"));
    assert!(
        std::fs::read_to_string(&setup.summary)
            .unwrap()
            .contains(&sentence)
    );
}

#[test]
fn without_check_runs_a_missing_run_is_a_failing_status() {
    let setup = Setup::new();
    setup.server.with(|s| s.refuse_check_runs = true);
    let missing = setup.dir.path().join("never-written.json");
    let output = setup.report_with(TOKEN, &["--runs-file", missing.to_str().unwrap()], None);
    assert!(!output.status.success());
    let statuses = setup.server.with(|s| s.statuses.clone());
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].0, HEAD_SHA);
    assert_eq!(statuses[0].1["state"], "failure");
    assert!(
        statuses[0].1["description"]
            .as_str()
            .unwrap()
            .starts_with("mlci did not record a run for 1111111")
    );
}

#[test]
fn a_run_that_cannot_reach_docker_hands_the_reason_to_the_report() {
    let setup = Setup::new();
    std::fs::write(
        setup.dir.path().join("ci.yml"),
        "name: train-evaluate\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
    )
    .unwrap();
    let runs_file = setup.dir.path().join("runs.json");
    let run = mlci(setup.dir.path())
        .args(["run", "ci.yml", "--db"])
        .arg(setup.db())
        .arg("--runs-file")
        .arg(&runs_file)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&runs_file).unwrap()).unwrap();
    assert_eq!(written["workflows"][0]["name"], "train-evaluate");
    assert_eq!(written["workflows"][0]["run"], serde_json::Value::Null);
    let error = written["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot reach the Docker engine at unix:///nonexistent/docker.sock"),
        "{error}"
    );
    let output = setup.report_with(TOKEN, &["--runs-file", runs_file.to_str().unwrap()], None);
    assert!(!output.status.success());
    let checks = checks_on(&setup, HEAD_SHA);
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["conclusion"], "failure");
    assert!(
        checks[0]["output"]["summary"]
            .as_str()
            .unwrap()
            .contains("cannot reach the Docker engine at unix:///nonexistent/docker.sock")
    );
}
