//! Deployments in workflows, and what records them: `deploy:` steps in real
//! runs on the engine (the MLflow-format fixture models of
//! tests/fixtures/deploy/ put live through `crate::deploy`; the first run
//! builds the serving environment, as tests/deploy.rs says), jobs with
//! `environment:` as GitHub Deployments against the local GitHub stand-in
//! (real HTTP; the assertions are on what it received), the report's
//! Deployments section and `mlci lineage` of a deployed version, read from
//! deployment rows written into a run store.

mod common;
mod github_server;
mod report_fixtures;

use github_server::{GithubServer, OWNER, REPO};
use mlci::record::{DeployAction, DeployOutcome, DeploymentRecord, Store};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Output};

const TOKEN: &str = "ghs_DeployToken0123456789abcdef";

/// A git repository with its own cache directory and run store beside it,
/// and a run id of its own, so that what its runs leave is found by label.
struct Project {
    repo: tempfile::TempDir,
    state: tempfile::TempDir,
    run_id: String,
}

impl Project {
    fn new(files: &[(&str, &str)]) -> Project {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        Project {
            repo: common::git_repo(files),
            state: tempfile::tempdir().unwrap(),
            run_id: format!(
                "deploy-wf-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ),
        }
    }

    fn db(&self) -> PathBuf {
        self.state.path().join("runs.db")
    }

    fn sha(&self) -> String {
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(self.repo.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `mlci ARGS` in the repository, with a clean environment: this
    /// project's cache and run store, and GitHub's variables when a server
    /// is given (as a runner sets them).
    fn mlci(&self, args: &[&str], github: Option<&GithubServer>) -> (Output, String) {
        let mut command = report_fixtures::mlci(self.repo.path());
        command
            .args(args)
            .env("CI", "true")
            .env("MLCI_CACHE_DIR", self.state.path().join("cache"))
            .env("MLCI_DB", self.db())
            .env("MLCI_RUN_ID", &self.run_id)
            .env("MLCI_GITHUB_MAX_WAIT", "0.05");
        if let Some(host) = std::env::var_os("DOCKER_HOST") {
            command.env("DOCKER_HOST", host);
        }
        if let Some(server) = github {
            command
                .env("GITHUB_API_URL", server.url())
                .env("GITHUB_SERVER_URL", "https://github.example")
                .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
                .env("GITHUB_RUN_ID", "4242")
                .env("GITHUB_TOKEN", TOKEN);
        }
        let output = command.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output, text)
    }
}

fn body(request: &github_server::Recorded) -> Value {
    serde_json::from_str(&request.body).unwrap_or(Value::Null)
}

/// The POSTs the server received about deployments, in order.
fn deployment_requests(server: &GithubServer) -> Vec<github_server::Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.uri.contains("/deployments"))
        .collect()
}

const ENVIRONMENTS: &str = r#"
name: ship
on: push
jobs:
  staging:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    environment:
      name: staging
      url: https://staging.example/${{ steps.site.outputs.path }}
    steps:
      - id: site
        run: echo "path=iris" >> "$GITHUB_OUTPUT"
  production:
    needs: staging
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    environment: production
    steps:
      - run: exit 3
  preview:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    environment:
      name: preview
      deployment: false
    steps:
      - run: echo "no deployment for me"
  plain:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - run: echo "no environment"
"#;

#[test]
fn jobs_with_an_environment_become_github_deployments_that_end_as_their_jobs_did() {
    common::ensure_test_image();
    let server = GithubServer::start(TOKEN);
    let project = Project::new(&[("ship.yml", ENVIRONMENTS)]);
    let (out, text) = project.mlci(
        &["run", "ship.yml", "--github", "--to", "check"],
        Some(&server),
    );
    // The production job failed: the run fails, GitHub was only told.
    assert_eq!(out.status.code(), Some(1), "{text}");
    let sha = project.sha();
    let requests = deployment_requests(&server);
    let creations: Vec<&github_server::Recorded> = requests
        .iter()
        .filter(|r| r.uri.ends_with("/deployments"))
        .collect();
    // Two: `preview` says `deployment: false`, `plain` has no environment.
    assert_eq!(creations.len(), 2, "{text}\n{requests:#?}");
    let deployments = server.with(|s| s.deployments.clone());
    for (environment, production) in [("staging", false), ("production", true)] {
        let created = creations
            .iter()
            .find(|r| body(r)["environment"] == environment)
            .unwrap_or_else(|| panic!("no deployment to {environment}: {text}"));
        assert_eq!(
            created.uri,
            format!("/repos/{OWNER}/{REPO}/deployments"),
            "{text}"
        );
        let sent = body(created);
        assert_eq!(sent["ref"], sha.as_str());
        assert_eq!(sent["task"], "deploy");
        assert_eq!(sent["auto_merge"], false);
        assert_eq!(sent["required_contexts"], json!([]));
        assert_eq!(sent["transient_environment"], false);
        assert_eq!(sent["production_environment"], production);
        assert!(
            created.header("authorization").is_some(),
            "every request is authenticated"
        );
        let id = deployments
            .iter()
            .find(|d| d["environment"] == environment)
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        // Its statuses, in order, after it was created.
        let statuses: Vec<(usize, Value)> = requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.uri == format!("/repos/{OWNER}/{REPO}/deployments/{id}/statuses"))
            .map(|(i, r)| (i, body(r)))
            .collect();
        let created_at = requests
            .iter()
            .position(|r| std::ptr::eq(r, *created))
            .unwrap();
        assert_eq!(statuses.len(), 2, "{environment}: {statuses:#?}");
        assert!(statuses.iter().all(|(i, _)| *i > created_at));
        let states: Vec<&str> = statuses
            .iter()
            .map(|(_, s)| s["state"].as_str().unwrap())
            .collect();
        let last = if production { "failure" } else { "success" };
        assert_eq!(states, ["in_progress", last], "{environment}");
        for (_, status) in &statuses {
            assert_eq!(
                status["log_url"],
                format!("https://github.example/{OWNER}/{REPO}/actions/runs/4242")
            );
        }
        // The URL is known once the steps ran: evaluated with their outputs.
        assert_eq!(statuses[0].1.get("environment_url"), None);
        if production {
            assert_eq!(statuses[1].1.get("environment_url"), None);
            let description = statuses[1].1["description"].as_str().unwrap();
            assert!(description.contains("exited with code 3"), "{description}");
        } else {
            assert_eq!(
                statuses[1].1["environment_url"],
                "https://staging.example/iris"
            );
        }
    }
    assert!(
        text.contains("[staging] GitHub deployment")
            && text.contains("to `staging`: success (https://staging.example/iris)"),
        "{text}"
    );
    assert!(text.contains("to `production`: failure"), "{text}");
    // The report went out as well, as without environments.
    assert_eq!(server.with(|s| s.check_runs.len()), 1, "{text}");
    assert!(common::run_leftovers(&project.run_id).is_empty());
}

const TWO_ENVIRONMENTS: &str = r#"
name: ship
on: push
jobs:
  staging:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    environment: staging
    steps:
      - run: echo staged
  production:
    needs: staging
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    environment: production
    steps:
      - run: echo shipped
"#;

#[test]
fn a_token_that_cannot_create_deployments_is_one_warning_and_no_github_no_deployment() {
    common::ensure_test_image();
    let server = GithubServer::start(TOKEN);
    let project = Project::new(&[("ship.yml", TWO_ENVIRONMENTS)]);

    // Without --github, mlci tells GitHub nothing, GitHub's variables or not.
    let (out, text) = project.mlci(&["run", "ship.yml"], Some(&server));
    assert!(out.status.success(), "{text}");
    assert!(server.requests().is_empty(), "{text}");

    server.with(|s| s.refuse_deployments = true);
    let (out, text) = project.mlci(
        &["run", "ship.yml", "--github", "--to", "check"],
        Some(&server),
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches("cannot create deployments").count(),
        1,
        "one warning for the run: {text}"
    );
    assert!(
        text.contains("warning: the GitHub token cannot create deployments (GitHub answered 403"),
        "{text}"
    );
    // The first job asked and was refused; the second did not ask again.
    let requests = deployment_requests(&server);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].status, 403);
    assert!(!text.contains(TOKEN));
    assert_eq!(server.with(|s| s.check_runs.len()), 1, "{text}");
}

const DEPLOY_STEPS: &str = r#"
name: serve
on: push
env:
  BAD_MODEL: iris@newest
jobs:
  serve:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    environment: staging
    steps:
      - run: echo "before the deployments"
      - name: Not a model once evaluated
        continue-on-error: true
        deploy:
          model: ${{ env.BAD_MODEL }}
      - name: Not in the registry
        continue-on-error: true
        deploy: {model: "nothing:champion", name: nothing}
      - id: champion
        deploy:
          model: iris:champion
          port: ${{ format('{0}81', 180) }}
          smoke: smoke.json
      - run: echo "never after a failed deployment"
"#;

#[test]
fn deploy_steps_run_in_place_and_a_deployment_that_does_not_go_live_fails_its_step() {
    common::ensure_test_image();
    let server = GithubServer::start(TOKEN);
    let project = Project::new(&[
        ("serve.yml", DEPLOY_STEPS),
        ("smoke.json", "{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}\n"),
    ]);
    // A registered version for `iris:champion` (not an MLflow model: the
    // deployment cannot go live, whichever way it is refused).
    std::fs::create_dir_all(project.repo.path().join("model")).unwrap();
    std::fs::write(project.repo.path().join("model/weights.bin"), b"0123").unwrap();
    let (out, text) = project.mlci(
        &["models", "register", "iris", "model", "--alias", "champion"],
        None,
    );
    assert!(out.status.success(), "{text}");

    let (out, text) = project.mlci(
        &["run", "serve.yml", "--github", "--to", "check"],
        Some(&server),
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    let before = text.find("before the deployments").expect(&text);
    // Evaluated, then checked as the parser checks written values.
    let bad = text
        .find("error: `iris@newest` is not a model: write NAME, NAME@VERSION (iris@3) or NAME:ALIAS (iris:champion)")
        .expect(&text);
    let missing = text
        .find("error: no model `nothing` in the registry")
        .expect(&text);
    // Resolved in the run store, on the host, with the evaluated port.
    let resolved = text
        .find("deploying iris@1 (iris:champion) as `iris` on docker")
        .expect(&text);
    assert!(
        before < bad && bad < missing && missing < resolved,
        "{text}"
    );
    assert!(
        text.contains("error: cannot deploy iris@1 as `iris`"),
        "{text}"
    );
    assert!(
        text.contains("○ Run echo \"never after a failed deployment\" (skipped)")
            && !text.contains("[serve] never after"),
        "{text}"
    );
    // The job failed on the deploy step; its environment says so.
    let statuses = server.with(|s| s.deployment_statuses.clone());
    let states: Vec<&str> = statuses
        .iter()
        .map(|(_, s)| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["in_progress", "failure"], "{text}");
    let description = statuses[1].1["description"].as_str().unwrap();
    assert!(
        description.starts_with("step `Deploy iris:champion` failed: cannot deploy iris@1"),
        "{description}"
    );
}

const SMOKE: &str = r#"{"dataframe_split": {"columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"], "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}"#;

/// One `POST /invocations` through the front: its status and the version
/// that answered (`x-mlci-model-version`).
fn invoke(port: u16) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{SMOKE}",
        SMOKE.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let version = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-mlci-model-version: "))
        .unwrap_or("")
        .to_string();
    (status, version)
}

/// Removes a deployment's containers and network, however the test ends.
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        let label = format!("label=dev.mlci.deploy={}", self.0);
        let names = common::docker(&["ps", "-aq", "--filter", &label]).unwrap_or_default();
        for id in names.lines() {
            let _ = common::docker(&["rm", "-f", id]);
        }
        let _ = common::docker(&["network", "rm", &format!("mlci-deploy-{}", self.0)]);
    }
}

#[test]
fn a_deploy_step_puts_registered_versions_live_and_the_run_records_them() {
    common::ensure_test_image();
    common::ensure_runner_image();
    let server = GithubServer::start(TOKEN);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = format!("wf-iris-{}", std::process::id());
    let _removed = Removed(name.clone());
    let workflow = format!(
        r#"
name: serve
on: push
jobs:
  serve:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    environment: staging
    steps:
      - id: first
        deploy: {{model: "iris:champion", name: {name}, port: {port}}}
      - id: next
        deploy:
          model: iris@2
          name: {name}
          smoke: smoke.json
      - run: echo "next url=${{{{ steps.next.outputs.url }}}} version=${{{{ steps.next.outputs.version }}}} image=${{{{ steps.next.outputs.image }}}}"
"#
    );
    let project = Project::new(&[("serve.yml", &workflow), ("smoke.json", SMOKE)]);
    for (version, alias) in [("iris-v1", Some("champion")), ("iris-v2", None)] {
        common::copy_dir(
            &common::repo_root()
                .join("tests/fixtures/deploy")
                .join(version),
            &project.repo.path().join(version),
        );
        let mut args = vec!["models", "register", "iris", version];
        args.extend(alias.iter().flat_map(|a| ["--alias", *a]));
        let (out, text) = project.mlci(&args, None);
        assert!(out.status.success(), "{text}");
    }

    let (out, text) = project.mlci(
        &["run", "serve.yml", "--github", "--to", "check"],
        Some(&server),
    );
    assert!(out.status.success(), "{text}");
    // Each deployment's events are lines of its step's log.
    assert!(text.contains("[serve] smoke test passed"), "{text}");
    assert!(
        text.contains(&format!(
            "iris@1 is live as `{name}` at http://127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "iris@2 is live as `{name}` at http://127.0.0.1:{port} (it replaced iris@1)"
        )),
        "{text}"
    );
    // The step's outputs, for the steps after it.
    assert!(
        text.contains(&format!(
            "next url=http://127.0.0.1:{port} version=2 image=mlci/"
        )),
        "{text}"
    );
    assert_eq!(invoke(port), (200, "2".to_string()), "{text}");

    // Recorded under the run and its commit, and in the run's report.
    let rows = Store::open(&project.db())
        .unwrap()
        .deployment_history(Some(&name))
        .unwrap();
    assert_eq!(rows.len(), 2);
    let run = rows[0].run_id.expect("the run's id");
    for row in &rows {
        assert_eq!(row.run_id, Some(run));
        assert_eq!(row.sha.as_deref(), Some(project.sha().as_str()));
        assert_eq!(row.outcome, DeployOutcome::Live);
    }
    let report = project.state.path().join("report.md");
    let (out, text) = project.mlci(
        &[
            "report",
            "--run",
            &run.to_string(),
            "--output",
            report.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{text}");
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(
        markdown.contains(&format!("| `{name}` | docker | `iris@2` · `sha256:"))
            && markdown.contains(&format!("| http://127.0.0.1:{port} | `iris@1` | ✅ live |")),
        "{markdown}"
    );

    // The environment's URL is the deploy step's, the job having none.
    let statuses = server.with(|s| s.deployment_statuses.clone());
    let states: Vec<(&str, &str)> = statuses
        .iter()
        .map(|(_, s)| {
            (
                s["state"].as_str().unwrap(),
                s["environment_url"].as_str().unwrap(),
            )
        })
        .collect();
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(states, [("in_progress", ""), ("success", url.as_str())]);

    let (out, text) = project.mlci(&["lineage", "iris@2"], None);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("  {name} (docker)  {url}  all requests since")),
        "{text}"
    );
    let (out, text) = project.mlci(&["deploy", "rm", &name], None);
    assert!(out.status.success(), "{text}");
}

/// A deployment row as `crate::deploy` writes one.
fn row(
    name: &str,
    action: DeployAction,
    outcome: DeployOutcome,
    version: i64,
    previous: Option<i64>,
) -> DeploymentRecord {
    DeploymentRecord {
        id: 0,
        name: name.to_string(),
        target: "docker".to_string(),
        action,
        outcome,
        model: "iris".to_string(),
        version: Some(version),
        tree_hash: Some(format!("tree{version}")),
        image: Some(format!("mlci/serve-iris:{version}")),
        image_digest: Some(format!("sha256:{version}{}", "0123456789abcdef".repeat(4))),
        url: Some("http://127.0.0.1:8080".to_string()),
        previous_version: previous,
        canary_percent: (action == DeployAction::Canary).then_some(10),
        run_id: None,
        sha: Some("1234567890abcdef1234567890abcdef12345678".to_string()),
        message: match outcome {
            DeployOutcome::Refused => "the smoke test got 400 from /invocations: bad input".into(),
            _ => String::new(),
        },
        started_at: 1_714_566_600_000 + version * 60_000,
        finished_at: 1_714_566_610_000 + version * 60_000,
    }
}

#[test]
fn the_report_of_a_run_that_deployed_has_a_deployments_section() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut store = Store::open(&db).unwrap();
    let run = store
        .insert_run(&report_fixtures::run(
            "main",
            "1234567890abcdef1234567890abcdef12345678",
            &[("accuracy", 0.95), ("loss", 0.2)],
        ))
        .unwrap();
    let other = store
        .insert_run(&report_fixtures::run(
            "main",
            "abcdefabcdefabcdefabcdefabcdefabcdefabcd",
            &[("accuracy", 0.95), ("loss", 0.2)],
        ))
        .unwrap();
    use DeployAction::*;
    use DeployOutcome::*;
    for (mut record, run_id) in [
        (row("iris", Deploy, Live, 3, Some(2)), Some(run)),
        (row("iris-canary", Canary, Live, 3, Some(2)), Some(run)),
        (row("iris-eu", Deploy, Refused, 4, Some(3)), Some(run)),
        // Another run's, and one of the command line: not this report's.
        (row("iris", Deploy, Live, 5, Some(3)), Some(other)),
        (row("iris", Rollback, Live, 2, Some(3)), None),
    ] {
        record.run_id = run_id;
        store.record_deployment(&record).unwrap();
    }
    drop(store);
    let report = dir.path().join("report.md");
    let out = report_fixtures::mlci(dir.path())
        .args(["report", "--run", &run.to_string(), "--db"])
        .arg(&db)
        .arg("--output")
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", report_fixtures::text(&out).1);
    let markdown = std::fs::read_to_string(&report).unwrap();
    let section = markdown
        .split("### Deployments")
        .nth(1)
        .unwrap_or_else(|| panic!("no Deployments section:\n{markdown}"));
    let table: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(
        table,
        [
            "| Deployment | Target | Version | URL | Replaced | Outcome |",
            "| --- | --- | --- | --- | --- | --- |",
            "| `iris` | docker | `iris@3` · `sha256:30123456789a` | http://127.0.0.1:8080 | `iris@2` | ✅ live |",
            "| `iris-canary` | docker | `iris@3` · `sha256:30123456789a` | http://127.0.0.1:8080 | none yet: `iris@2` keeps 90 % | ✅ canary 10 % |",
            "| `iris-eu` | docker | `iris@4` · `sha256:40123456789a` | http://127.0.0.1:8080 | none: `iris@3` still serves | ❌ refused: the smoke test got 400 from /invocations: bad input |",
        ],
        "{markdown}"
    );
    // It sits with the run's other ML sections, before the metrics.
    assert!(markdown.find("### Deployments") < markdown.find("### Metrics"));
}

#[test]
fn lineage_of_a_version_says_where_it_serves_and_its_deployments() {
    let project = Project::new(&[("README", "models\n")]);
    let model = project.repo.path().join("model.bin");
    for version in 1..=3 {
        std::fs::write(&model, format!("weights {version}")).unwrap();
        let (out, text) = project.mlci(&["models", "register", "iris", "model.bin"], None);
        assert!(out.status.success(), "{text}");
    }
    let mut store = Store::open(&project.db()).unwrap();
    use DeployAction::*;
    use DeployOutcome::*;
    for record in [
        row("iris", Deploy, Live, 1, None),
        row("iris", Deploy, Refused, 2, Some(1)),
        row("iris", Canary, Live, 2, Some(1)),
        // Another model's deployment of a version 1 is not iris@1's.
        DeploymentRecord {
            model: "wine".into(),
            name: "wine".into(),
            ..row("wine", Deploy, Live, 1, None)
        },
    ] {
        store.record_deployment(&record).unwrap();
    }
    drop(store);

    let (out, text) = project.mlci(&["lineage", "iris@1"], None);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "iris@1 serves:\n  iris (docker)  http://127.0.0.1:8080  90 % of the requests (beside a canary) since 2024-05-01 12:31:10 UTC\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "deployments of iris@1:\n  2024-05-01 12:31:10 UTC  iris (docker)  deploy → live\n"
        ),
        "{text}"
    );

    let (out, text) = project.mlci(&["lineage", "iris@2"], None);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("  iris (docker)  http://127.0.0.1:8080  10 % of the requests (canary) since 2024-05-01 12:32:10 UTC"),
        "{text}"
    );
    assert!(
        text.contains(
            "deploy → refused, iris@1 kept: the smoke test got 400 from /invocations: bad input\n"
        ),
        "{text}"
    );
    assert!(text.contains("canary → live 10 % beside iris@1"), "{text}");

    let (out, _) = project.mlci(&["lineage", "iris@2", "--json"], None);
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let deployments = &json["deployments"];
    assert_eq!(
        deployments["serving"],
        json!([{
            "name": "iris", "target": "docker", "url": "http://127.0.0.1:8080",
            "percent": 10, "canary": true, "since": 1_714_566_730_000i64,
        }])
    );
    let history = deployments["history"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = history
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(actions, [("deploy", "refused"), ("canary", "live")]);
    assert_eq!(history[0]["previous_version"], 1);

    // A version never deployed says so; one whose deployment was removed, too.
    let (out, text) = project.mlci(&["lineage", "iris@3"], None);
    assert!(out.status.success());
    assert!(text.contains("iris@3 has never been deployed."), "{text}");
    let mut store = Store::open(&project.db()).unwrap();
    store
        .record_deployment(&row("iris", Remove, Removed, 1, None))
        .unwrap();
    drop(store);
    let (_, text) = project.mlci(&["lineage", "iris@1"], None);
    assert!(text.contains("iris@1 serves nowhere now."), "{text}");
}
