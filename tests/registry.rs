//! The model registry through `mlci run` on real containers: `register:`
//! steps make versions when the run's gates pass, gated promotion moves an
//! alias only to a better model, the shared registry on moto's S3 gives a
//! second machine the same bytes, and lineage follows data → step → model.

use std::path::Path;
use std::process::Output;

mod common;
use common::git_repo;
use common::moto::{Moto, start_moto};

/// `mlci` in `dir` with its own cache directory, run store and (when given) the S3 remote.
fn mlci(
    dir: &Path,
    cache: &Path,
    db: &Path,
    moto: Option<&Moto>,
    args: &[&str],
) -> (Output, String) {
    let mut env: Vec<(&str, std::ffi::OsString)> =
        vec![("MLCI_CACHE_DIR", cache.into()), ("MLCI_DB", db.into())];
    if let Some(moto) = moto {
        env.push(("MLCI_CACHE_REMOTE", "s3://cache/team".into()));
        env.extend(moto.env().into_iter().map(|(k, v)| (k, v.into())));
    }
    let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    common::mlci_with(dir, &env, args)
}

const TRAIN_WORKFLOW: &str = r#"
name: train
on: push
jobs:
  train:
    runs-on: python-ml
    steps:
      - run: |
          mkdir -p model
          python3 train.py
        inputs: [train.py, params.yaml]
        outputs: [model/]
        metrics: [metrics.json]
        register:
          name: iris
          path: model/
          promote:
            alias: champion
            if: "accuracy >= champion + 0.005"
gates:
  accuracy: ">= 0.9"
"#;

/// A "model" whose bytes and accuracy follow the learning rate.
const TRAIN: &str = "import json, yaml\np = yaml.safe_load(open('params.yaml'))\nopen('model/weights.bin', 'wb').write(bytes(range(256)) * 64 + repr(p).encode())\njson.dump({'accuracy': 0.9 + p['lr']}, open('metrics.json', 'w'))\n";

fn train_repo() -> tempfile::TempDir {
    git_repo(&[
        (".github/workflows/train.yml", TRAIN_WORKFLOW),
        ("train.py", TRAIN),
        ("params.yaml", "lr: 0.05\n"),
    ])
}

fn set_lr(repo: &Path, lr: &str) {
    std::fs::write(repo.join("params.yaml"), format!("lr: {lr}\n")).unwrap();
}

fn show_json(repo: &Path, cache: &Path, db: &Path, model: &str) -> serde_json::Value {
    let (out, text) = mlci(repo, cache, db, None, &["models", "show", model, "--json"]);
    assert!(out.status.success(), "{text}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn gated_promotion_moves_champion_only_to_a_better_version_and_a_second_machine_pulls_the_same_bytes()
 {
    common::ensure_runner_image();
    let moto = start_moto();
    let repo = train_repo();
    let state = tempfile::tempdir().unwrap();
    let (cache, db) = (state.path().join("cache"), state.path().join("runs.db"));

    // First training: the first version, and nothing holds `champion` yet.
    let (out, text) = mlci(repo.path(), &cache, &db, Some(&moto), &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("model iris@1 registered"), "{text}");
    assert!(
        text.contains("promoted: no version is `champion` yet"),
        "{text}"
    );
    let first_bytes = std::fs::read(repo.path().join("model/weights.bin")).unwrap();

    // Other params, a worse model: a second version, champion stays on @1.
    set_lr(repo.path(), "0.01");
    let (out, text) = mlci(repo.path(), &cache, &db, Some(&moto), &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("model iris@2 registered"), "{text}");
    assert!(
        text.contains("not promoted: accuracy 0.91 is not >= 0.955 (champion iris@1: 0.95)"),
        "{text}"
    );
    assert_eq!(
        show_json(repo.path(), &cache, &db, "iris:champion")["version"],
        1
    );

    // A better one: champion moves to @3, and the history keeps both moves.
    set_lr(repo.path(), "0.08");
    let (out, text) = mlci(repo.path(), &cache, &db, Some(&moto), &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("model iris@3 registered"), "{text}");
    assert!(text.contains("promoted: accuracy 0.98 >= 0.955"), "{text}");
    let champion = show_json(repo.path(), &cache, &db, "iris:champion");
    assert_eq!(champion["version"], 3);
    assert_eq!(champion["params"]["lr"], "0.08");
    assert_eq!(champion["metrics"]["accuracy"], 0.98);
    assert_eq!(
        champion["alias_history"].as_array().unwrap().len(),
        2,
        "{champion}"
    );
    let champion_bytes = std::fs::read(repo.path().join("model/weights.bin")).unwrap();
    assert_ne!(first_bytes, champion_bytes);

    let (_, shown) = mlci(repo.path(), &cache, &db, None, &["runs", "show"]);
    assert!(
        shown.contains("iris@3 registered (from model): promoted"),
        "{shown}"
    );
    let (out, text) = mlci(repo.path(), &cache, &db, None, &["models", "ls", "iris"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("iris "))
            .count(),
        3,
        "{text}"
    );

    // A second machine: a fresh cache and run store, the same remote.
    let other = tempfile::tempdir().unwrap();
    let (cache2, db2) = (other.path().join("cache"), other.path().join("runs.db"));
    let (out, text) = mlci(
        other.path(),
        &cache2,
        &db2,
        Some(&moto),
        &["models", "pull", "iris:champion", "champion"],
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        std::fs::read(other.path().join("champion/weights.bin")).unwrap(),
        champion_bytes
    );
    let (out, text) = mlci(
        other.path(),
        &cache2,
        &db2,
        Some(&moto),
        &["models", "pull", "iris@1"],
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        std::fs::read(other.path().join("model/weights.bin")).unwrap(),
        first_bytes
    );
    // Without the remote, the second machine knows nothing of `iris`.
    let empty = tempfile::tempdir().unwrap();
    let (out, text) = mlci(
        empty.path(),
        &empty.path().join("c"),
        &empty.path().join("db"),
        None,
        &["models", "pull", "iris"],
    );
    assert!(!out.status.success());
    assert!(text.contains("no model `iris` in the registry"), "{text}");
}

#[test]
fn a_failed_gate_registers_nothing_and_the_report_says_which_version_it_would_replace() {
    common::ensure_runner_image();
    let repo = train_repo();
    let state = tempfile::tempdir().unwrap();
    let (cache, db) = (state.path().join("cache"), state.path().join("runs.db"));
    let (out, text) = mlci(repo.path(), &cache, &db, None, &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("model iris@1 registered"), "{text}");

    // accuracy 0.89 fails the gate `>= 0.9`.
    set_lr(repo.path(), "-0.01");
    let report = state.path().join("report.md");
    let (out, text) = mlci(
        repo.path(),
        &cache,
        &db,
        None,
        &["run", "--report", report.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("model iris not registered (it would have replaced iris@1)"),
        "{text}"
    );
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(markdown.contains("### Models"), "{markdown}");
    assert!(markdown.contains("| `iris` | not registered | `champion` stays | would replace @1 | ❌ gate `accuracy >= 0.9` failed"), "{markdown}");
    let (out, text) = mlci(repo.path(), &cache, &db, None, &["models", "ls", "--json"]);
    assert!(out.status.success(), "{text}");
    let versions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
}

const PIPELINE: &str = r#"
name: pipeline
on: push
jobs:
  prepare:
    runs-on: python-ml
    steps:
      - name: Clean
        run: mkdir -p data && grep -v '^#' raw.csv > data/clean.csv
        inputs: [raw.csv]
        outputs: [data/clean.csv]
  train:
    needs: prepare
    runs-on: python-ml
    steps:
      - name: Fit
        run: |
          mkdir -p model
          wc -l < data/clean.csv > model/model.txt
          echo '{"accuracy": 0.97}' > metrics.json
        inputs: [data/clean.csv]
        outputs: [model/]
        metrics: [metrics.json]
        register: {name: lines, path: model/}
"#;

#[test]
fn lineage_follows_data_through_steps_to_the_registered_version_and_back() {
    common::ensure_runner_image();
    let repo = git_repo(&[
        (".github/workflows/pipeline.yml", PIPELINE),
        ("raw.csv", "# header\n1\n2\n3\n"),
    ]);
    let state = tempfile::tempdir().unwrap();
    let (cache, db) = (state.path().join("cache"), state.path().join("runs.db"));
    let (out, text) = mlci(repo.path(), &cache, &db, None, &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("model lines@1 registered"), "{text}");

    let (out, text) = mlci(repo.path(), &cache, &db, None, &["lineage", "lines@1"]);
    assert!(out.status.success(), "{text}");
    let order: Vec<usize> = [
        "model lines@1",
        "step train › Fit",
        "data/clean.csv",
        "step prepare › Clean",
        "raw.csv",
    ]
    .iter()
    .map(|needle| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");

    let (out, text) = mlci(
        repo.path(),
        &cache,
        &db,
        None,
        &["lineage", "lines@1", "--json"],
    );
    assert!(out.status.success(), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let model = &json["upstream"][0];
    assert_eq!(model["kind"], "model");
    let fit = &model["children"][0];
    assert_eq!(
        (fit["kind"].as_str(), fit["job"].as_str()),
        (Some("step"), Some("train"))
    );
    let clean = &fit["children"][0];
    assert_eq!(clean["path"], "data/clean.csv");
    assert_eq!(clean["children"][0]["step"], "Clean");

    // From the data forward: the step that read it, and the version it registered.
    let (out, text) = mlci(repo.path(), &cache, &db, None, &["lineage", "raw.csv"]);
    assert!(out.status.success(), "{text}");
    let made_from = text
        .split("made from")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(made_from.contains("step prepare › Clean"), "{text}");
    assert!(made_from.contains("model lines@1"), "{text}");

    let (out, text) = mlci(
        repo.path(),
        &cache,
        &db,
        None,
        &["lineage", "nothing/here.csv"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no recorded run read or wrote `nothing/here.csv`"),
        "{text}"
    );
}

#[test]
fn models_register_alias_show_and_pull_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, db) = (dir.path().join("cache"), dir.path().join("runs.db"));
    std::fs::write(dir.path().join("model.onnx"), b"onnx bytes v1").unwrap();
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &[
            "models",
            "register",
            "clf",
            "model.onnx",
            "--metric",
            "f1=0.8",
            "--param",
            "depth=4",
        ],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("registered clf@1"), "{text}");
    // The same content again is the same version.
    let (_, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "register", "clf", "model.onnx"],
    );
    assert!(text.contains("clf@1 has this content already"), "{text}");
    std::fs::write(dir.path().join("model.onnx"), b"onnx bytes v2").unwrap();
    let (_, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &[
            "models",
            "register",
            "clf",
            "model.onnx",
            "--alias",
            "staging",
        ],
    );
    assert!(text.contains("registered clf@2"), "{text}");
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "alias", "clf@1", "staging"],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("clf:staging → clf@1 (was @2)"), "{text}");
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "show", "clf:staging"],
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("clf@1  staging") && text.contains("f1=0.8") && text.contains("depth=4"),
        "{text}"
    );
    assert!(
        text.contains("staging → @2") && text.contains("staging → @1 (was @2)"),
        "{text}"
    );
    std::fs::remove_file(dir.path().join("model.onnx")).unwrap();
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "pull", "clf:staging"],
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        std::fs::read(dir.path().join("model.onnx")).unwrap(),
        b"onnx bytes v1"
    );
    // A pull never overwrites.
    let (out, text) = mlci(dir.path(), &cache, &db, None, &["models", "pull", "clf@2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("model.onnx exists already"), "{text}");
    // Bad names are command-line errors.
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "show", "clf@zero"],
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "show", "clf:prod"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no version of `clf` is `prod`"), "{text}");
    // gc keeps registered models, however small the cap.
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["cache", "gc", "--max-size", "0"],
    );
    assert!(out.status.success(), "{text}");
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "pull", "clf@2", "v2.onnx"],
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        std::fs::read(dir.path().join("v2.onnx")).unwrap(),
        b"onnx bytes v2"
    );
}

#[test]
fn a_pull_killed_midway_leaves_nothing_once_the_next_pull_ran() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, db) = (dir.path().join("cache"), dir.path().join("runs.db"));
    std::fs::create_dir_all(dir.path().join("model")).unwrap();
    let weights: Vec<u8> = (0..256u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("model/weights.bin"), &weights).unwrap();
    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "register", "net", "model"],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");

    let staging = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|i| i.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".mlci-pull."))
            .collect()
    };
    let mut child = std::process::Command::new(common::mlci_bin())
        .args(["models", "pull", "net@1", "first"])
        .current_dir(dir.path())
        .env("MLCI_CACHE_DIR", &cache)
        .env("MLCI_DB", &db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while staging(dir.path()).is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "the pull was missed");
        assert!(std::time::Instant::now() < deadline, "no pull began");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !staging(dir.path()).is_empty(),
        "the killed pull left its staging"
    );

    let (out, text) = mlci(
        dir.path(),
        &cache,
        &db,
        None,
        &["models", "pull", "net@1", "second"],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(staging(dir.path()), Vec::<String>::new());
    assert_eq!(
        std::fs::read(dir.path().join("second/weights.bin")).unwrap(),
        weights
    );
}
