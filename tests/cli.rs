//! The `mlci` binary as a user runs it: exit status, what it prints, and where.

use std::path::Path;
use std::process::{Command, Output};

fn mlci(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlci"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("mlci runs")
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const VALID: &str =
    "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n";

#[test]
fn validate_accepts_a_valid_workflow_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ci.yml", VALID);
    let output = mlci(dir.path(), &["validate", "ci.yml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "ok ci.yml (1 job)\n");
}

#[test]
fn validate_prints_every_error_with_position_line_and_caret_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.yml",
        "on: push\njobs:\n  build:\n    runs_on: ubuntu-latest\n    timeout-minutes: soon\n    steps:\n      - run: echo ${{ fromJsn('1') }}\n",
    );
    let output = mlci(dir.path(), &["validate", "bad.yml"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("bad.yml:4:5: error: unknown key `runs_on` in job `build`"),
        "{err}"
    );
    assert!(
        err.contains("4 |     runs_on: ubuntu-latest\n  |     ^^^^^^^ did you mean `runs-on`?"),
        "{err}"
    );
    assert!(
        err.contains("bad.yml:5:22: error: expected a number or an expression, found `soon`"),
        "{err}"
    );
    assert!(
        err.contains("bad.yml:7:23: error: unrecognized function `fromJsn`"),
        "{err}"
    );
    assert!(err.contains("did you mean `fromJSON`?"), "{err}");
    assert!(
        err.contains("invalid workflow: bad.yml (3 errors)"),
        "{err}"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn an_empty_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "empty.yml", "");
    write(dir.path(), "comments.yml", "# nothing here\n");
    for name in ["empty.yml", "comments.yml"] {
        let output = mlci(dir.path(), &["validate", name]);
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains(&format!("{name}:1:1: error: the workflow file is empty"))
        );
    }
}

#[test]
fn without_a_path_commands_read_github_workflows() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".github/workflows/ci.yml", VALID);
    write(dir.path(), ".github/workflows/release.yaml", VALID);
    write(dir.path(), ".github/workflows/notes.txt", "not a workflow");
    let output = mlci(dir.path(), &["validate"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("ok .github/workflows/ci.yml (1 job)"), "{out}");
    assert!(
        out.contains("ok .github/workflows/release.yaml (1 job)"),
        "{out}"
    );
    assert!(!out.contains("notes.txt"));
}

#[test]
fn a_missing_workflow_directory_or_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = mlci(dir.path(), &["list"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(".github/workflows/ does not exist"),
        "{}",
        stderr(&output)
    );
    let output = mlci(dir.path(), &["validate", "nope.yml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no such file or directory: nope.yml"));
}

#[test]
fn one_invalid_file_fails_the_whole_command_but_every_file_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "wf/a.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: x\n",
    );
    write(dir.path(), "wf/b.yml", VALID);
    write(
        dir.path(),
        "wf/c.yml",
        "on: push\njobs:\n  c:\n    runs-on: x\n    steps:\n      - uses: a@v1\n        run: b\n",
    );
    let output = mlci(dir.path(), &["validate", "wf"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("wf/a.yml:3:3: error: job `a` is missing `runs-on`"),
        "{err}"
    );
    assert!(
        err.contains("wf/c.yml:6:9: error: a step cannot have both `run` and `uses`"),
        "{err}"
    );
    assert!(
        err.contains("invalid workflow: wf/a.yml (1 error), wf/c.yml (1 error)"),
        "{err}"
    );
}

#[test]
fn cycles_in_needs_name_the_jobs_and_nothing_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cycle.yml",
        "on: push\njobs:\n  a:\n    needs: c\n    runs-on: x\n    steps: [{run: a}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: b}]\n  c:\n    needs: b\n    runs-on: x\n    steps: [{run: c}]\n",
    );
    let output = mlci(dir.path(), &["list", "cycle.yml"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("cycle.yml:4:12: error: cycle in `needs`: `a` → `c` → `b` → `a`"),
        "{err}"
    );
    assert!(stdout(&output).is_empty());
}

/// GitHub's documented example: exclude first, then include extends the
/// combinations it does not overwrite and adds the rest as new ones.
const MATRIX: &str = r#"
on: push
jobs:
  fit:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu, macos]
        model: [tree, linear]
        lr: [0.1, 0.01]
        exclude:
          - os: macos
            model: linear
        include:
          - model: tree
            depth: 8
          - os: windows
            model: tree
            lr: 0.1
    steps:
      - run: echo
"#;

#[test]
fn list_expands_matrices_with_githubs_include_and_exclude_rules() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "matrix.yml", MATRIX);
    let output = mlci(dir.path(), &["list", "--json", "matrix.yml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let instances = json[0]["instances"].as_array().unwrap();
    let names: Vec<&str> = instances
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "fit (ubuntu, tree, 0.1)",
            "fit (ubuntu, tree, 0.01)",
            "fit (ubuntu, linear, 0.1)",
            "fit (ubuntu, linear, 0.01)",
            "fit (macos, tree, 0.1)",
            "fit (macos, tree, 0.01)",
            "fit (windows, tree, 0.1)",
        ]
    );
    // `depth` joined every tree combination, and only those.
    let depths: Vec<&serde_json::Value> = instances.iter().map(|i| &i["matrix"]["depth"]).collect();
    assert_eq!(
        depths
            .iter()
            .filter(|d| **d == &serde_json::json!(8))
            .count(),
        4
    );
    assert!(instances[2]["matrix"].get("depth").is_none());
    assert_eq!(instances[6]["runs_on"], serde_json::json!(["windows"]));

    let table = stdout(&mlci(dir.path(), &["list", "matrix.yml"]));
    let lines: Vec<String> = table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    assert_eq!(lines[0], "matrix.yml: 1 job, 7 instances");
    assert_eq!(lines[1], "JOB | INSTANCE | MATRIX | RUNS-ON | NEEDS");
    assert_eq!(
        lines[7],
        "fit | fit (macos, tree, 0.01) | os=macos model=tree lr=0.01 depth=8 | macos | -"
    );
    assert_eq!(lines.len(), 9);
}

#[test]
fn graph_prints_stages_and_dot() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ml.yml",
        "name: ml\non: push\njobs:\n  prepare:\n    runs-on: x\n    steps: [{run: a}]\n  train:\n    needs: prepare\n    runs-on: x\n    strategy:\n      matrix:\n        lr: [0.1, 0.2]\n    steps: [{run: b}]\n  report:\n    needs: [prepare, train]\n    runs-on: x\n    steps: [{run: c}]\n",
    );
    let output = mlci(dir.path(), &["graph", "ml.yml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "ml (ml.yml)\nstage 1\n  prepare\nstage 2\n  train  (needs: prepare)\n    train (0.1)\n    train (0.2)\nstage 3\n  report  (needs: prepare, train)\n"
    );
    let dot = stdout(&mlci(dir.path(), &["graph", "--dot", "ml.yml"]));
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("train (0.2)"), "{dot}");
    assert!(dot.contains("->"), "{dot}");
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        vec!["--help"],
        vec!["validate", "--help"],
        vec!["list", "--help"],
        vec!["graph", "--help"],
    ] {
        let output = mlci(dir.path(), &command);
        assert_eq!(output.status.code(), Some(0));
        assert!(
            stdout(&output).contains("Usage: mlci"),
            "{}",
            stdout(&output)
        );
    }
    let output = mlci(dir.path(), &["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_call_of_a_reusable_workflow_that_is_not_there_is_an_error_at_its_uses() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "call.yml",
        "on: push\njobs:\n  train:\n    uses: ./.github/workflows/train.yml\n    with:\n      epochs: 3\n    secrets: inherit\n",
    );
    let output = mlci(dir.path(), &["validate", "call.yml"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("call.yml:4:11: error: no workflow `./.github/workflows/train.yml`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_reads_default_arguments_from_mlcirc_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ci.yml",
        "on: push\njobs:\n  fit:\n    runs-on: trainer\n    steps:\n      - run: make\n",
    );
    write(
        dir.path(),
        ".mlcirc",
        "# defaults for this repository\n-P trainer=mlci-test/from-rc:missing\n--var 'GREETING=hello world'\n",
    );
    // No such image: the message names the image that the label mapped to.
    let output = mlci(dir.path(), &["run", "ci.yml"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    assert!(out.contains("mlci-test/from-rc:missing"), "{out}");

    let output = mlci(
        dir.path(),
        &["run", "ci.yml", "-P", "trainer=mlci-test/from-cli:missing"],
    );
    let out = stdout(&output);
    assert!(out.contains("mlci-test/from-cli:missing"), "{out}");
    assert!(!out.contains("from-rc"), "{out}");
}
