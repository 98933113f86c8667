//! The example workflows of `workflows/` run offline, as a user copies them:
//! in a fresh repository holding the workflow and the example scripts.

use std::path::Path;
use std::process::Output;

mod common;

/// `mlci run` with no path: it reads `.github/workflows/`.
fn mlci_run(dir: &Path, extra: &[&str]) -> (Output, String) {
    let args: Vec<&str> = std::iter::once("run")
        .chain(extra.iter().copied())
        .collect();
    mlci(dir, &args)
}

fn ensure_image() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(mlci::images::ensure_test_image())
        .expect("the python-ml image");
}

#[test]
fn train_evaluate_passes_its_gates_writes_a_report_and_is_restored_the_second_time() {
    ensure_image();
    let repo = common::example_repo("train-evaluate.yml");
    let (output, first) = mlci_run(repo.path(), &["--report", "report.md"]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    assert!(first.contains("gates: 2 of 2 passed"), "{first}");
    let report = std::fs::read_to_string(repo.path().join("report.md")).unwrap();
    assert!(report.contains("| accuracy |"), "{report}");
    assert!(repo.path().join("metrics/eval.json").is_file());
    let (output, second) = mlci_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(!second.contains("starting in"), "{second}");
    assert_eq!(second.matches("restored from cache").count(), 4, "{second}");
    // Whoever ran it can remove all it left, in the working tree and the cache:
    // the steps ran as root in their containers (.ci/run runs this test as a
    // normal user in the docker group too).
    let others = common::not_owned_by_me(repo.path());
    assert!(others.is_empty(), "owned by another user: {others:?}");
    std::fs::remove_dir_all(repo.path()).expect("remove everything the runs left");
}

#[test]
fn gpu_train_falls_back_to_the_cpu_where_the_engine_has_no_gpu() {
    ensure_image();
    let repo = common::example_repo("gpu-train.yml");
    let (output, text) = mlci_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("[train (cuda)] error: job `train (cuda)` asks for GPUs, but the Docker engine has no NVIDIA GPU runtime"),
        "{text}"
    );
    assert!(
        text.contains("[train (cuda)] failed, but `continue-on-error` lets the run go on"),
        "{text}"
    );
    assert!(text.contains("[train (cpu)] trained on cpu"), "{text}");
    assert!(text.contains("pass accuracy >= 0.8"), "{text}");
    assert!(repo.path().join("model/cpu/weights.json").is_file());
}

#[test]
fn hello_ml_trains_two_models_in_parallel() {
    ensure_image();
    let repo = common::example_repo("hello-ml.yml");
    let (output, text) = mlci_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("[report] last accuracy 0.9"), "{text}");
}

/// mlci waits for its removals rather than handing them to a process of its
/// own, so that nothing of a run is still going when a test removes the
/// repository it ran in.
fn mlci(dir: &Path, args: &[&str]) -> (Output, String) {
    let cache = dir.join(".cache");
    common::mlci_with(
        dir,
        &[
            ("MLCI_CACHE_DIR", cache.as_os_str()),
            ("MLCI_WAIT_FOR_REMOVAL", "1".as_ref()),
        ],
        args,
    )
}

#[test]
fn registry_validates_the_data_and_promotes_only_a_better_model_to_champion() {
    ensure_image();
    let repo = common::example_repo("registry.yml");
    let params = repo.path().join("examples/registry/params.yaml");
    std::fs::write(&params, "train:\n  C: 0.1\n").unwrap();
    let (output, first) = mlci_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    assert!(
        first.contains("✓ data/iris.csv matches examples/registry/iris.schema.yml (150 rows)"),
        "{first}"
    );
    assert!(first.contains("model iris@1 registered"), "{first}");

    // Weaker regularisation of the wrong kind: a worse model stays a plain version.
    std::fs::write(&params, "train:\n  C: 0.05\n").unwrap();
    let (output, second) = mlci_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(
        second.contains("Export the dataset (restored from cache")
            || second.contains("restored from cache"),
        "{second}"
    );
    assert!(
        second.contains("model iris@2 registered; champion: not promoted"),
        "{second}"
    );

    std::fs::write(&params, "train:\n  C: 1.0\n").unwrap();
    let (output, third) = mlci_run(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{third}");
    assert!(
        third.contains("model iris@3 registered; champion: promoted"),
        "{third}"
    );

    let (output, text) = mlci(
        repo.path(),
        &["models", "pull", "iris:champion", "champion"],
    );
    assert!(output.status.success(), "{text}");
    assert_eq!(
        std::fs::read(repo.path().join("champion/model.pkl")).unwrap(),
        std::fs::read(repo.path().join("model/model.pkl")).unwrap()
    );
    let (output, text) = mlci(repo.path(), &["lineage", "iris:champion"]);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("model iris@3 (champion)"), "{text}");
    assert!(text.contains("data/iris.csv"), "{text}");
    // The export ran in the first run; the later ones restored it.
    assert!(
        text.contains("step prepare › Export the dataset  (run #1 of registry"),
        "{text}"
    );
}
