//! `mlci run` end to end: real containers on the real engine, in a throwaway
//! git repository, checked by what a user sees (output, exit status) and by
//! what is left on the engine afterwards (nothing).

use std::path::Path;
use std::process::{Command, Output};

mod common;

fn repo_with(workflow: &str) -> tempfile::TempDir {
    common::git_repo(&[("wf.yml", workflow), ("data.txt", "committed\n")])
}

fn ensure_image() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(mlci::images::ensure_test_image())
        .expect("the python-ml image");
}

/// A run id of its own for every `mlci run` of the tests, so that what a
/// run leaves behind is found by its label even when tests run in parallel.
fn run_id() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

fn mlci(dir: &Path, args: &[&str]) -> Output {
    mlci_as(dir, args, &run_id())
}

fn mlci_as(dir: &Path, args: &[&str], run_id: &str) -> Output {
    Command::new(common::mlci_bin())
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .env("MLCI_RUN_ID", run_id)
        .output()
        .unwrap()
}

/// Containers, networks and volumes still labelled with this run.
fn leftovers(run_id: &str) -> usize {
    common::run_leftovers(run_id).len()
}

const PIPELINE: &str = r#"
name: pipeline
on: push
env:
  GREETING: hello
jobs:
  prepare:
    runs-on: python-ml
    outputs:
      rows: ${{ steps.make.outputs.rows }}
      token: ${{ steps.make.outputs.token }}
    steps:
      - uses: actions/checkout@v4
      - id: make
        run: |
          echo "rows=42" >> "$GITHUB_OUTPUT"
          echo "token=$TOKEN" >> "$GITHUB_OUTPUT"
          echo "FROM_STEP=yes" >> "$GITHUB_ENV"
          echo "the token is $TOKEN"
          echo "::add-mask::masked-later"
          echo "value masked-later here"
        env:
          TOKEN: ${{ secrets.TOKEN }}
      - run: echo "env=$FROM_STEP greeting=$GREETING file=$(cat data.txt) untracked=$(cat scratch.txt)"
  train:
    needs: prepare
    runs-on: python-ml
    strategy:
      matrix:
        lr: [0.1, 0.01]
    steps:
      - run: python3 -c "import sklearn; print('lr=${{ matrix.lr }} rows=${{ needs.prepare.outputs.rows }} token=[${{ needs.prepare.outputs.token }}]')"
      - run: exit 3
        if: matrix.lr == 0.01
        continue-on-error: true
      - run: echo "cleanup ${{ matrix.lr }}"
        if: always()
  report:
    needs: train
    if: failure()
    runs-on: python-ml
    steps:
      - run: echo never
"#;

#[test]
fn a_pipeline_runs_with_outputs_env_matrix_and_masks() {
    ensure_image();
    let dir = repo_with(PIPELINE);
    // Untracked files that git does not ignore are part of the workspace too.
    std::fs::write(dir.path().join("scratch.txt"), "uncommitted").unwrap();
    let id = run_id();
    let output = mlci_as(
        dir.path(),
        &["run", "wf.yml", "--secret", "TOKEN=s3cr3t-value"],
        &id,
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("[prepare] the token is ***"), "{out}");
    assert!(!out.contains("s3cr3t-value"), "{out}");
    assert!(out.contains("[prepare] value *** here"), "{out}");
    assert!(
        out.contains("env=yes greeting=hello file=committed untracked=uncommitted"),
        "{out}"
    );
    // A job output that carries a secret is not passed on, as on GitHub.
    assert!(
        out.contains("[prepare] warning: Skip output 'token' since it may contain secret."),
        "{out}"
    );
    assert!(
        out.contains("[train (0.1)] lr=0.1 rows=42 token=[]"),
        "{out}"
    );
    assert!(
        out.contains("[train (0.01)] lr=0.01 rows=42 token=[]"),
        "{out}"
    );
    assert!(
        out.contains("[train (0.01)] error: the step exited with code 3"),
        "{out}"
    );
    assert!(out.contains("[train (0.01)] cleanup 0.01"), "{out}");
    assert!(out.contains("[report] skipped"), "{out}");
    assert!(!out.contains("never"), "{out}");
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn a_failing_step_fails_the_run_with_exit_1_and_skips_dependents() {
    ensure_image();
    let dir = repo_with(
        "on: push\njobs:\n  fails:\n    runs-on: python-ml\n    steps:\n      - run: echo before; exit 7\n      - run: echo not-reached\n  after:\n    needs: fails\n    runs-on: python-ml\n    steps:\n      - run: echo b-ran\n",
    );
    let id = run_id();
    let output = mlci_as(dir.path(), &["run", "wf.yml", "--json"], &id);
    // With --json, stdout is the JSON document alone; the log is on stderr.
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("[fails] error: the step exited with code 7"),
        "{log}"
    );
    assert!(log.contains("○ Run echo not-reached (skipped)"), "{log}");
    assert!(!log.contains("b-ran"), "{log}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let results: Vec<(&str, &str)> = json[0]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["job"].as_str().unwrap(), j["result"].as_str().unwrap()))
        .collect();
    assert_eq!(results, [("fails", "failure"), ("after", "skipped")]);
    // The failed job says why: its step's exit code.
    assert_eq!(
        json[0]["jobs"][0]["error"],
        "step `Run echo before; exit 7` exited with code 7"
    );
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn a_gpu_job_on_an_engine_without_gpus_fails_at_once_with_one_sentence() {
    ensure_image();
    let dir = repo_with(
        "on: push\njobs:\n  gpu-train:\n    runs-on: python-ml\n    container:\n      image: mlci/python-ml:latest\n      options: --gpus all\n    steps:\n      - run: nvidia-smi\n",
    );
    let started = std::time::Instant::now();
    let id = run_id();
    let output = mlci_as(dir.path(), &["run", "wf.yml"], &id);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(started.elapsed().as_secs() < 60);
    assert!(
        out.contains(
            "job `gpu-train` asks for GPUs, but the Docker engine has no NVIDIA GPU runtime"
        ),
        "{out}"
    );
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn an_unknown_runs_on_label_says_how_to_map_it() {
    let dir = repo_with(
        "on: push\njobs:\n  a:\n    runs-on: my-gpu-box\n    steps:\n      - run: echo\n",
    );
    let output = mlci(dir.path(), &["run", "wf.yml"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("no image for runs-on `my-gpu-box`: map the label with -P my-gpu-box=IMAGE"),
        "{out}"
    );
}

#[test]
fn an_invalid_workflow_exits_2_before_any_container_starts() {
    let dir =
        repo_with("on: push\njobs:\n  a:\n    runs_on: python-ml\n    steps:\n      - run: echo\n");
    let output = mlci(dir.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("wf.yml:4:5: error: unknown key `runs_on`")
    );
    assert!(String::from_utf8_lossy(&output.stdout).is_empty());
}

#[test]
fn ctrl_c_stops_the_step_runs_always_cleanup_removes_containers_and_exits_130() {
    ensure_image();
    let dir = repo_with(
        "on: push\njobs:\n  interrupted:\n    runs-on: python-ml\n    steps:\n      - run: echo step-started; sleep 120; echo not-reached\n      - run: echo cleanup-ran\n        if: always()\n      - run: echo plain-step\n",
    );
    let log = dir.path().join("out.log");
    let id = run_id();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlci"))
        .args(["run", "wf.yml"])
        .current_dir(dir.path())
        .env("CI", "true")
        .env("MLCI_RUN_ID", &id)
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("[interrupted] step-started")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the step never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let interrupted_at = std::time::Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(interrupted_at.elapsed().as_secs() < 60, "{out}");
    assert!(out.contains("[interrupted] cleanup-ran"), "{out}");
    assert!(!out.contains("[interrupted] not-reached"), "{out}");
    assert!(
        out.contains("[interrupted] ○ Run echo plain-step (skipped)"),
        "{out}"
    );
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn a_matrix_read_from_needs_is_expanded_when_its_job_starts() {
    ensure_image();
    let dir = repo_with(
        r#"
on: push
jobs:
  setup:
    runs-on: python-ml
    outputs:
      matrix: ${{ steps.m.outputs.matrix }}
    steps:
      - id: m
        run: echo 'matrix={"model":["tree","forest"],"include":[{"model":"forest","depth":7}]}' >> "$GITHUB_OUTPUT"
  fit:
    needs: setup
    runs-on: python-ml
    strategy:
      matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}
    steps:
      - run: echo "fitting ${{ matrix.model }} depth=${{ matrix.depth }} of ${{ strategy.job-total }}"
"#,
    );
    let output = mlci(dir.path(), &["run", "wf.yml", "--json"]);
    let out = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("[fit (tree)] fitting tree depth= of 2"),
        "{out}"
    );
    // As on GitHub, values an include entry adds to a combination are not in its name.
    assert!(
        out.contains("[fit (forest)] fitting forest depth=7 of 2"),
        "{out}"
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = result[0]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"fit (tree)") && names.contains(&"fit (forest)"),
        "{names:?}"
    );
}

#[test]
fn a_concurrency_group_runs_one_at_a_time_and_a_newer_arrival_replaces_the_waiting_one() {
    ensure_image();
    let dir = repo_with(
        r#"
on: push
jobs:
  deploy:
    runs-on: python-ml
    concurrency:
      group: deploy-${{ github.ref }}
    strategy:
      matrix:
        n: [1, 2, 3]
    steps:
      - run: |
          echo "begin ${{ matrix.n }}"
          sleep 2
          echo "end ${{ matrix.n }}"
"#,
    );
    let output = mlci(dir.path(), &["run", "wf.yml", "--jobs", "3"]);
    let out = String::from_utf8_lossy(&output.stdout);
    // GitHub keeps one running and one pending job per group: of three
    // arrivals, the middle one is replaced by the last.
    let replaced = out
        .matches("cancelled: a newer job of concurrency group `deploy-refs/heads/")
        .count();
    assert_eq!(replaced, 1, "{out}");
    // The two that ran did not overlap.
    let events: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split("] ").nth(1))
        .filter(|l| l.starts_with("begin ") || l.starts_with("end "))
        .collect();
    assert_eq!(events.len(), 4, "{out}");
    assert!(
        events[0].starts_with("begin ") && events[1].starts_with("end "),
        "{events:?}"
    );
    assert_eq!(events[0][6..], events[1][4..], "{events:?}");
    assert!(
        events[2].starts_with("begin ") && events[3].starts_with("end "),
        "{events:?}"
    );
}

#[test]
fn env_file_groups_and_step_summaries_reach_the_user() {
    ensure_image();
    let dir = repo_with(
        r###"
on: push
env:
  OVERRIDDEN: by-workflow
jobs:
  report:
    runs-on: python-ml
    steps:
      - run: |
          echo "from file: $FROM_FILE, $OVERRIDDEN, multi=[$MULTI]"
          echo "::group::Install things"
          echo "inside the group"
          echo "::endgroup::"
          echo "after the group"
          echo "## Accuracy: 0.93" >> "$GITHUB_STEP_SUMMARY"
      - run: echo "| table | row |" >> "$GITHUB_STEP_SUMMARY"
"###,
    );
    std::fs::write(
        dir.path().join("ci.env"),
        "# settings\nexport FROM_FILE=hello\nOVERRIDDEN=by-file\nMULTI=\"a\nb\"\n",
    )
    .unwrap();
    let output = mlci(dir.path(), &["run", "wf.yml", "--env-file", "ci.env"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("[report] from file: hello, by-workflow, multi=[a"),
        "{out}"
    );
    // Not a terminal: the group is kept, its lines indented under the title.
    assert!(
        out.contains(
            "[report] ▸ Install things\n[report]   inside the group\n[report] after the group"
        ),
        "{out}"
    );
    assert!(
        out.contains("── summary of report ──\n## Accuracy: 0.93\n| table | row |"),
        "{out}"
    );

    std::fs::write(dir.path().join("bad.env"), "A=1\nnot a pair\n").unwrap();
    let output = mlci(dir.path(), &["run", "wf.yml", "--env-file", "bad.env"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read the env file bad.env: line 2: expected KEY=VALUE"),
        "{err}"
    );
}

#[test]
fn on_a_terminal_groups_fold_and_the_group_a_step_failed_in_is_shown() {
    ensure_image();
    let dir = repo_with(
        r#"
on: push
jobs:
  tty:
    runs-on: python-ml
    steps:
      - run: |
          echo "::group::Quiet part"
          for i in 1 2 3; do echo "noise $i"; done
          echo "::endgroup::"
          echo visible
      - run: |
          echo "::group::Failing part"
          echo "the reason"
          exit 4
"#,
    );
    let output = run_on_a_terminal(dir.path(), Some("xterm-256color"));
    let raw = String::from_utf8_lossy(&output.stdout);
    // Keep the log lines: drop escape sequences and the spinner lines.
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if c == '\r' {
            text.push('\n');
        } else {
            text.push(c);
        }
    }
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split("   ").next().unwrap_or("").trim_end())
        .filter(|l| l.starts_with("[tty] "))
        .collect();
    let log = lines.join("\n");
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("[tty] ▸ Quiet part (3 lines)"), "{log}");
    assert!(
        !log.contains("[tty] noise 2"),
        "folded lines were printed:\n{log}"
    );
    assert!(log.contains("[tty] visible"), "{log}");
    assert!(log.contains("[tty] ▾ Failing part (1 lines)"), "{log}");
    assert!(raw.contains("[tty]   the reason"), "{log}");
}

#[test]
fn jobs_work_in_copies_of_the_repository_where_large_files_are_read_only() {
    ensure_image();
    let repo = repo_with(
        r#"
on: push
jobs:
  edit:
    runs-on: python-ml
    steps:
      - run: |
          echo changed > data.txt
          if echo x >> big.bin; then echo "big.bin was writable"; else echo "big.bin is read-only"; fi
          cmp -s big.bin /dev/null || echo "big.bin has $(wc -c < big.bin) bytes"
  look:
    runs-on: python-ml
    steps:
      - run: echo "look sees $(cat data.txt)"
"#,
    );
    let big = vec![7u8; 20 << 20];
    std::fs::write(repo.path().join("big.bin"), &big).unwrap();
    let id = run_id();
    let output = mlci_as(repo.path(), &["run", "wf.yml"], &id);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    // A 20 MB file of the repository is mounted read-only: readable, not writable.
    assert!(text.contains("[edit] big.bin is read-only"), "{text}");
    assert!(
        text.contains(&format!("[edit] big.bin has {} bytes", 20 << 20)),
        "{text}"
    );
    // Each job has its own copy: the other job and the repository are untouched.
    assert!(text.contains("[look] look sees committed"), "{text}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("data.txt")).unwrap(),
        "committed\n"
    );
    assert_eq!(std::fs::read(repo.path().join("big.bin")).unwrap(), big);
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn on_a_terminal_that_does_not_say_what_it_is_the_log_is_printed_plain() {
    ensure_image();
    let dir = repo_with(
        r#"
on: push
jobs:
  tty:
    runs-on: python-ml
    steps:
      - run: echo "the step's line"
"#,
    );
    // A pseudo-terminal without TERM (cron, `env -i`, some runners): the
    // progress display cannot draw there, and the lines must not go with it.
    let output = run_on_a_terminal(dir.path(), None);
    let raw = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{raw}");
    assert!(raw.contains("[tty] the step's line"), "{raw}");
}

/// `mlci run wf.yml` in `dir` on a pseudo-terminal (`script`), as a person's
/// shell runs it, outside CI, with this `TERM` (none: unset).
fn run_on_a_terminal(dir: &std::path::Path, term: Option<&str>) -> std::process::Output {
    let command = format!("{} run wf.yml", env!("CARGO_BIN_EXE_mlci"));
    let mut script = Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CI")
        .current_dir(dir);
    match term {
        Some(term) => script.env("TERM", term),
        None => script.env_remove("TERM"),
    };
    script.output().expect("script(1) from util-linux")
}

/// Parses stdout of `mlci run --json`: one JSON document, nothing else.
fn json_of(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// (job name, result, error) of each job of the first workflow.
fn job_results(json: &serde_json::Value) -> Vec<(String, String, Option<String>)> {
    let mut jobs: Vec<_> = json[0]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap().to_string(),
                j["result"].as_str().unwrap().to_string(),
                j["error"].as_str().map(str::to_string),
            )
        })
        .collect();
    jobs.sort();
    jobs
}

#[test]
fn a_job_over_its_timeout_minutes_is_cancelled_and_fails_saying_so() {
    ensure_image();
    let dir = repo_with(
        "on: push\njobs:\n  slow:\n    runs-on: python-ml\n    timeout-minutes: 0.05\n    steps:\n      - run: echo slow-started; sleep 30; echo not-reached\n",
    );
    let id = run_id();
    let started = std::time::Instant::now();
    let output = mlci_as(dir.path(), &["run", "wf.yml", "--json"], &id);
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "the job ran its whole step: {:?}",
        started.elapsed()
    );
    assert!(log.contains("[slow] slow-started"), "{log}");
    assert!(!log.contains("[slow] not-reached"), "{log}");
    assert!(log.contains("[slow] failure in"), "{log}");
    let message = "the job exceeded its timeout of 0.05 minutes and was cancelled";
    assert!(log.contains(message), "{log}");
    assert_eq!(
        job_results(&json_of(&output)),
        [(
            "slow".to_string(),
            "failure".to_string(),
            Some(message.to_string())
        )]
    );
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn a_matrix_leg_cancelled_by_fail_fast_is_shown_and_recorded_as_cancelled() {
    ensure_image();
    common::ensure_test_image();
    // One leg fails on its step while the other is still starting: its
    // service never becomes healthy.
    let dir = repo_with(
        r#"
on: push
jobs:
  legs:
    runs-on: python-ml
    strategy:
      fail-fast: true
      matrix:
        leg: [fails, starting]
        include:
          - leg: fails
            health: --health-cmd 'exit 0' --health-interval 1s --health-retries 5
          - leg: starting
            health: --health-cmd 'exit 1' --health-interval 1m --health-retries 5
    services:
      slow:
        image: mlci-test/busybox:latest
        options: ${{ matrix.health }}
    steps:
      - run: echo leg-failing; exit 3
"#,
    );
    let id = run_id();
    let output = mlci_as(dir.path(), &["run", "wf.yml", "--json"], &id);
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("[legs (fails)] leg-failing"), "{log}");
    let results: Vec<(String, String)> = job_results(&json_of(&output))
        .into_iter()
        .map(|(name, result, _)| (name, result))
        .collect();
    assert_eq!(
        results,
        [
            ("legs (fails)".to_string(), "failure".to_string()),
            ("legs (starting)".to_string(), "cancelled".to_string()),
        ],
        "{log}"
    );
    // The run store and what `runs show` prints say the same.
    let shown = Command::new(common::mlci_bin())
        .args(["runs", "show"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("job legs (fails): failure"), "{shown}");
    assert!(shown.contains("job legs (starting): cancelled"), "{shown}");
    assert_eq!(leftovers(&id), 0);
}

#[test]
fn a_closed_output_pipe_then_sigterm_stops_the_run_quickly_and_removes_its_container() {
    ensure_image();
    let dir = repo_with(
        "on: push\njobs:\n  chatty:\n    runs-on: python-ml\n    steps:\n      - run: echo chatty-started; while true; do echo tick; sleep 0.1; done\n",
    );
    let id = run_id();
    // `mlci run … 2>&1 | head`: one pipe for both, whose reader goes away.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = Command::new(common::mlci_bin())
        .args(["run", "wf.yml"])
        .current_dir(dir.path())
        .env("CI", "true")
        .env("MLCI_RUN_ID", &id)
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(reader).lines();
        let mut seen = String::new();
        while !seen.contains("chatty-started") {
            let line = lines.next().expect("mlci ended early").unwrap();
            seen.push_str(&line);
            seen.push('\n');
        }
    }
    // The reader is closed: every write now fails with EPIPE.
    std::thread::sleep(std::time::Duration::from_secs(1));
    // SAFETY: kill(2) on the child's own pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let status = status.expect("mlci ignored SIGTERM for 20 s after its output pipe closed");
    assert_eq!(status.code(), Some(130));
    assert_eq!(leftovers(&id), 0);
}
