//! Reusable workflows (`jobs.<id>.uses`): every rule of a call checked at
//! load time with the file, line and column it must name
//! (tests/fixtures/reusable/), and calls run on real containers: a matrix of
//! three calls whose output a later job reads, secrets and typed inputs, the
//! step cache inside called jobs, and a remote workflow from the action cache.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reusable")
        .join(kind);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    cases
}

fn validate(case: &Path) -> (Output, String) {
    let state = tempfile::tempdir().unwrap();
    common::mlci_with(
        case,
        &[("MLCI_CACHE_DIR", state.path().as_os_str())],
        &["validate"],
    )
}

#[test]
fn valid_calls_are_accepted() {
    for case in fixtures("valid") {
        let (out, text) = validate(&case);
        assert_eq!(out.status.code(), Some(0), "{}:\n{text}", case.display());
        assert!(!text.contains("error"), "{}:\n{text}", case.display());
    }
}

#[test]
fn each_broken_rule_is_refused_at_the_line_and_column_of_the_file_where_it_is() {
    for case in fixtures("invalid") {
        let expected: Vec<String> = std::fs::read_to_string(case.join("expect.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!(".github/workflows/{l}"))
            .collect();
        let (out, text) = validate(&case);
        assert_eq!(out.status.code(), Some(2), "{}:\n{text}", case.display());
        let errors: Vec<String> = text
            .lines()
            .filter(|l| l.contains(": error: "))
            .map(|l| l.replacen(": error: ", ": ", 1))
            .collect();
        for wanted in &expected {
            assert!(
                errors.iter().any(|e| e.starts_with(wanted.as_str())),
                "{}: no error `{wanted}` in:\n{text}",
                case.display()
            );
        }
        for error in &errors {
            assert!(
                expected.iter().any(|w| error.starts_with(w.as_str())),
                "{}: an error no expectation names: `{error}`",
                case.display()
            );
        }
    }
}

const CALLER: &str = r#"name: ci
on: push
env:
  LEAK: from-the-caller
defaults:
  run:
    working-directory: sub
jobs:
  setup:
    runs-on: python-ml
    outputs:
      base: ${{ steps.s.outputs.base }}
    steps:
      - id: s
        run: echo "base=10" >> "$GITHUB_OUTPUT"
  train:
    needs: setup
    strategy:
      matrix:
        model: [forest, logistic, svm]
    uses: ./.github/workflows/train.yml
    with:
      model: ${{ matrix.model }}
      epochs: 3
      base: ${{ needs.setup.outputs.base }}
    secrets:
      token: ${{ secrets.API_TOKEN }}
  report:
    needs: train
    runs-on: python-ml
    steps:
      - run: |
          echo "best is one of the models: ${{ needs.train.outputs.best }}"
          echo "epochs ${{ needs.train.outputs.epochs }} result ${{ needs.train.result }}"
"#;

const CALLED: &str = r#"name: train
on:
  workflow_call:
    inputs:
      model: {type: string, required: true}
      epochs: {type: number, default: 1}
      base: {type: string}
      verbose: {type: boolean, default: false}
    secrets:
      token: {required: true}
    outputs:
      best:
        value: ${{ jobs.evaluate.outputs.score }}
      epochs:
        value: ${{ inputs.epochs }}
env:
  STAGE: called
jobs:
  fit:
    runs-on: python-ml
    outputs:
      model: ${{ steps.f.outputs.path }}
    steps:
      - id: f
        run: |
          echo "fit ${{ inputs.model }} epochs=${{ inputs.epochs }} base=${{ inputs.base }} verbose=${{ inputs.verbose }} stage=$STAGE token=${{ secrets.token }}"
          echo "epochs is a number: ${{ inputs.epochs > 2 }} ${{ inputs.epochs == 3 }}"
          echo "path=model-${{ inputs.model }}" >> "$GITHUB_OUTPUT"
          mkdir -p out && echo "${{ inputs.model }}" > out/${{ inputs.model }}.txt
          echo "fit ran for ${{ inputs.model }}"
          echo "caller env: ${LEAK:-none}, in sub: $([ "$(basename "$PWD")" = sub ] && echo yes || echo no)"
        inputs: [params.txt]
        outputs: ["out/${{ inputs.model }}.txt"]
  evaluate:
    needs: fit
    runs-on: python-ml
    outputs:
      score: ${{ steps.e.outputs.score }}
    steps:
      - id: e
        run: echo "score=${{ needs.fit.outputs.model }}-${{ inputs.epochs }}" >> "$GITHUB_OUTPUT"
"#;

fn run(dir: &Path, state: &Path, extra: &[(&str, &std::ffi::OsStr)]) -> (Output, String) {
    let cache = state.join("cache");
    let db = state.join("runs.db");
    let mut env = vec![
        ("MLCI_CACHE_DIR", cache.as_os_str()),
        ("MLCI_DB", db.as_os_str()),
    ];
    env.extend_from_slice(extra);
    common::mlci_with(dir, &env, &["run", "--secret", "API_TOKEN=s3cr3t-value"])
}

#[test]
fn a_matrix_of_three_calls_runs_with_its_inputs_and_secrets_and_a_later_job_reads_the_output() {
    common::ensure_runner_image();
    let repo = common::git_repo(&[
        (".github/workflows/ci.yml", CALLER),
        (".github/workflows/train.yml", CALLED),
        ("params.txt", "lr=0.1\n"),
        ("sub/.keep", ""),
    ]);
    let state = tempfile::tempdir().unwrap();
    let (out, text) = run(repo.path(), state.path(), &[]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("train.yml: not run: it is a reusable workflow"),
        "{text}"
    );
    for model in ["forest", "logistic", "svm"] {
        let line = format!(
            "[train ({model}) / fit] fit {model} epochs=3 base=10 verbose=false stage=called token=***"
        );
        assert!(text.contains(&line), "no `{line}` in:\n{text}");
        assert!(
            text.contains(&format!("[train ({model}) / evaluate] success")),
            "{text}"
        );
    }
    assert!(
        text.contains("[train (forest) / fit] epochs is a number: true true"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert!(
        text.contains("[train] success: 3 of 3 calls of ./.github/workflows/train.yml succeeded"),
        "{text}"
    );
    let best = text
        .lines()
        .find_map(|l| l.strip_prefix("[report] best is one of the models: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        ["model-forest-3", "model-logistic-3", "model-svm-3"].contains(&best),
        "{best}"
    );
    assert!(text.contains("[report] epochs 3 result success"), "{text}");

    // The run store and `mlci list` name called jobs as GitHub does.
    let db = state.path().join("runs.db");
    let (_, shown) = common::mlci_with(
        repo.path(),
        &[("MLCI_DB", db.as_os_str())],
        &["runs", "show"],
    );
    assert!(
        shown.contains("job train (logistic) / evaluate: success"),
        "{shown}"
    );
    let (_, listed) = common::mlci_with(repo.path(), &[], &["list", ".github/workflows/ci.yml"]);
    assert!(listed.contains("train (svm) / fit"), "{listed}");
    let (_, graph) = common::mlci_with(repo.path(), &[], &["graph", ".github/workflows/ci.yml"]);
    assert!(
        graph.contains("train (svm) / evaluate  (needs: train (svm) / fit, setup)"),
        "{graph}"
    );

    // The step cache works inside called workflows: nothing changed, nothing refits.
    let (out, again) = run(repo.path(), state.path(), &[]);
    assert!(out.status.success(), "{again}");
    assert!(!again.contains("fit ran for"), "{again}");
    assert_eq!(
        again.matches("/ fit] restored from cache").count(),
        3,
        "{again}"
    );
}

#[test]
fn a_failed_call_fails_the_calling_job_and_skips_what_needs_it() {
    common::ensure_runner_image();
    let failing = CALLED.replace(
        "        run: echo \"score=",
        "        run: test ${{ inputs.model }} != svm && echo \"score=",
    );
    let repo = common::git_repo(&[
        (".github/workflows/ci.yml", CALLER),
        (".github/workflows/train.yml", &failing),
        ("params.txt", "lr=0.1\n"),
        ("sub/.keep", ""),
    ]);
    let state = tempfile::tempdir().unwrap();
    let (out, text) = run(repo.path(), state.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[train (svm) / evaluate] failure"), "{text}");
    assert!(text.contains("[train] failure: 2 of 3 calls"), "{text}");
    assert!(text.contains("[report] skipped"), "{text}");
}

#[test]
fn a_remote_workflow_comes_from_the_action_cache() {
    common::ensure_runner_image();
    // A bare repository `octo/ml` with the reusable workflow on `main`, where MLCI_ACTIONS_URL points.
    let remotes = tempfile::tempdir().unwrap();
    let source = common::git_repo(&[
        (".github/workflows/train.yml", CALLED),
        ("params.txt", "x\n"),
    ]);
    common::git(source.path(), &["branch", "-M", "main"]);
    std::fs::create_dir_all(remotes.path().join("octo")).unwrap();
    let bare = remotes.path().join("octo/ml.git");
    common::git(
        source.path(),
        &["clone", "-q", "--bare", ".", bare.to_str().unwrap()],
    );
    let caller = CALLER.replace(
        "./.github/workflows/train.yml",
        "octo/ml/.github/workflows/train.yml@main",
    );
    let repo = common::git_repo(&[
        (".github/workflows/ci.yml", &caller),
        ("params.txt", "lr\n"),
        ("sub/.keep", ""),
    ]);
    let state = tempfile::tempdir().unwrap();
    let url = format!("file://{}", remotes.path().display());
    let (out, text) = run(
        repo.path(),
        state.path(),
        &[("MLCI_ACTIONS_URL", url.as_ref())],
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("[train (svm) / fit] fit svm epochs=3"),
        "{text}"
    );
    assert!(
        text.contains("calls of octo/ml/.github/workflows/train.yml@main succeeded"),
        "{text}"
    );
    // Offline afterwards: the clone is in the action cache.
    let (out, text) = run(
        repo.path(),
        state.path(),
        &[("MLCI_ACTIONS_URL", "file:///nonexistent".as_ref())],
    );
    assert!(out.status.success(), "{text}");
}

#[test]
fn nested_calls_pass_inputs_down_and_a_false_caller_if_skips_the_call() {
    common::ensure_runner_image();
    let stage = r#"name: stage
on:
  workflow_call:
    inputs:
      model: {type: string, default: forest}
    secrets:
      token: {required: true}
    outputs:
      best:
        value: ${{ jobs.call.outputs.best }}
jobs:
  call:
    uses: ./.github/workflows/train.yml
    with:
      model: ${{ inputs.model }}
    secrets:
      token: ${{ secrets.token }}
"#;
    let caller = r#"name: ci
on: push
jobs:
  stage:
    uses: ./.github/workflows/stage.yml
    secrets: inherit
  never:
    if: ${{ github.event_name == 'schedule' }}
    uses: ./.github/workflows/stage.yml
    secrets: inherit
  after:
    needs: [stage, never]
    if: always()
    runs-on: python-ml
    steps:
      - run: echo "nested best ${{ needs.stage.outputs.best }}, never ${{ needs.never.result }}"
"#;
    let caller = caller.replace(
        "secrets: inherit",
        "secrets:\n      token: ${{ secrets.API_TOKEN }}",
    );
    let repo = common::git_repo(&[
        (".github/workflows/ci.yml", &caller),
        (".github/workflows/stage.yml", stage),
        (".github/workflows/train.yml", CALLED),
        ("params.txt", "lr=0.1\n"),
    ]);
    let state = tempfile::tempdir().unwrap();
    let (out, text) = run(repo.path(), state.path(), &[]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "[stage / call / fit] fit forest epochs=1 base= verbose=false stage=called token=***"
        ),
        "{text}"
    );
    assert!(
        text.contains("[never / call / fit] skipped (the `if` of its caller"),
        "{text}"
    );
    assert!(
        text.contains("[after] nested best model-forest-1, never skipped"),
        "{text}"
    );
}

/// tests/fixtures/reusable/valid/matrix-from-inputs: transformers' model
/// jobs, whose matrix is `fromJson(inputs.folder_slices)[inputs.slice_id]`,
/// called with slices from the outputs of a setup job.
fn matrix_from_inputs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reusable/valid/matrix-from-inputs")
}

/// `mlci list --json` of one workflow: each instance's (job, matrix shown
/// as expanded at run time, runs-on).
fn listed(dir: &Path, args: &[&str]) -> Vec<(String, bool, serde_json::Value)> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let (out, text) = common::mlci_with(dir, &[], &all);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["instances"].as_array().unwrap().clone())
        .map(|i| {
            (
                i["job"].as_str().unwrap().to_string(),
                i["matrix_expanded_at_run_time"].as_bool().unwrap(),
                i["runs_on"].clone(),
            )
        })
        .collect()
}

#[test]
fn list_shows_a_matrix_read_from_inputs_as_expanded_when_the_job_starts() {
    // A copy: `mlci run` below may write its run store where it runs.
    let copy = tempfile::tempdir().unwrap();
    common::copy_dir(&matrix_from_inputs(), copy.path());
    let dir = copy.path().to_path_buf();
    // On its own, the caller fills in the inputs: they are known at run time.
    assert_eq!(
        listed(&dir, &[".github/workflows/model_jobs.yml"]),
        [(
            "run_models_gpu".to_string(),
            true,
            serde_json::json!(["${{ inputs.machine_type }}"])
        )]
    );
    // Called: the slices come from `needs`, the runner group from the
    // caller's matrix, known now.
    let called = listed(&dir, &[".github/workflows/ci.yml"]);
    for (job, machine) in [
        ("run_models_gpu.1/run_models_gpu", "single-gpu"),
        ("run_models_gpu.2/run_models_gpu", "single-gpu"),
    ] {
        assert!(
            called.contains(&(job.to_string(), true, serde_json::json!([machine]))),
            "{called:?}"
        );
    }
    // `-e` lists what `mlci run -e` runs: not the reusable workflow alone.
    let (out, text) = common::mlci_with(&dir, &[], &["list", "-e", "pull_request"]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("model_jobs.yml: not run: it is a reusable workflow"),
        "{text}"
    );
    assert!(!text.contains("model jobs (.github"), "{text}");
    // Run on its own, nothing can fill the required inputs in.
    let (out, text) = common::mlci_with(&dir, &[], &["run", ".github/workflows/model_jobs.yml"]);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "input `docker` of workflow_call is required: give it with --input docker=VALUE"
        ),
        "{text}"
    );
}

#[test]
fn a_matrix_read_from_inputs_passed_from_needs_is_expanded_when_the_called_job_starts() {
    common::ensure_test_image();
    let repo = tempfile::tempdir().unwrap();
    common::copy_dir(&matrix_from_inputs(), repo.path());
    common::git(repo.path(), &["init", "-q"]);
    common::git(repo.path(), &["add", "-A"]);
    common::git(repo.path(), &["commit", "-qm", "init"]);
    let state = tempfile::tempdir().unwrap();
    let (out, text) = run(repo.path(), state.path(), &[]);
    assert!(out.status.success(), "{text}");
    for (folder, slice) in [("models/bert", 0), ("models/gpt2", 0), ("models/t5", 1)] {
        let line = format!("tested {folder} on single-gpu in slice {slice}");
        assert_eq!(
            text.lines().filter(|l| l.ends_with(&line)).count(),
            1,
            "no single `{line}` in:\n{text}"
        );
    }
    // When the job they come from fails, the calls are skipped, unexpanded.
    let ci = repo.path().join(".github/workflows/ci.yml");
    let failing = std::fs::read_to_string(&ci)
        .unwrap()
        .replace("run: echo 'folder_slices=", "run: exit 1; echo '");
    std::fs::write(&ci, failing).unwrap();
    let (out, text) = run(repo.path(), state.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        text.matches("] skipped (the `if` of its caller `run_models_gpu (single-gpu, ")
            .count(),
        2,
        "{text}"
    );
    assert!(!text.contains("cannot evaluate"), "{text}");
}

const INPUTS_BY_EVENT: &str = r#"name: inputs
on:
  pull_request:
  workflow_dispatch:
    inputs:
      n: {type: number, default: 100}
jobs:
  show:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - run: echo "n is ${{ inputs.n || 3 }}"
"#;

#[test]
fn the_inputs_context_holds_dispatch_inputs_only_on_workflow_dispatch() {
    common::ensure_test_image();
    let repo = common::git_repo(&[("inputs.yml", INPUTS_BY_EVENT)]);
    let state = tempfile::tempdir().unwrap();
    let cache = state.path().join("cache");
    let db = state.path().join("runs.db");
    let env = [
        ("MLCI_CACHE_DIR", cache.as_os_str()),
        ("MLCI_DB", db.as_os_str()),
    ];
    for (event, expected) in [
        ("pull_request", "n is 3"),
        ("workflow_dispatch", "n is 100"),
    ] {
        let (out, text) = common::mlci_with(repo.path(), &env, &["run", "inputs.yml", "-e", event]);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains(&format!("[show] {expected}")),
            "{event}:\n{text}"
        );
    }
}
