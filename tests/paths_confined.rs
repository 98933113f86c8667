//! Nothing outside the workspace, the repository, the cache or a pull's
//! destination is read or written on the host, through `..`, absolute paths
//! or chains of symlinks: the real `mlci` binary on real files and links
//! (issue 20, items 2, 3, 4 and 17). Each test keeps a file outside, and
//! checks that its content never shows and that it is neither moved nor changed.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Output;

mod common;

/// What no output may ever show: the content of the file kept outside.
const SECRET: &str = "SECRET-OUTSIDE-7f3a";

/// A directory with a file outside the repository or model under test.
fn outside() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.txt");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    (dir, file)
}

/// `mlci` in `dir` with its own cache directory and run store under `state`.
fn mlci(dir: &Path, state: &Path, args: &[&str]) -> (Output, String) {
    let cache = state.join("cache");
    let db = state.join("runs.db");
    common::mlci_with(
        dir,
        &[
            ("MLCI_CACHE_DIR", cache.as_os_str()),
            ("MLCI_DB", db.as_os_str()),
        ],
        args,
    )
}

fn assert_untouched(secret: &Path, text: &str) {
    assert!(!text.contains(SECRET), "the outside file was read:\n{text}");
    assert_eq!(
        std::fs::read_to_string(secret).unwrap(),
        format!("{SECRET}\n"),
        "the outside file was moved or changed"
    );
}

#[test]
fn a_registry_record_with_an_absolute_or_parent_path_never_moves_a_host_file() {
    let (_outside, secret) = outside();
    let work = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("model")).unwrap();
    std::fs::write(work.path().join("model/weights.bin"), "weights").unwrap();
    let (out, text) = mlci(
        work.path(),
        state.path(),
        &["models", "register", "iris", "model"],
    );
    assert!(out.status.success(), "{text}");

    // A poisoned record: as an edited run store or a shared registry's
    // `versions/N.json` would give it.
    // More `..` than there are directories above: the root's parent is itself.
    let relative_secret = format!(
        "{}{}",
        "../".repeat(64),
        secret.display().to_string().trim_start_matches('/')
    );
    for poisoned in [secret.display().to_string(), relative_secret] {
        let db = rusqlite::Connection::open(state.path().join("runs.db")).unwrap();
        db.execute("UPDATE model_versions SET path = ?1", [&poisoned])
            .unwrap();
        drop(db);
        let dest = work.path().join("dest");
        std::fs::create_dir_all(&dest).unwrap();
        let (out, text) = mlci(
            work.path(),
            state.path(),
            &["models", "pull", "iris", dest.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{poisoned}: {text}");
        assert!(text.contains("unsafe"), "{poisoned}: {text}");
        assert_untouched(&secret, &text);
        assert_eq!(
            std::fs::read_dir(&dest).unwrap().count(),
            0,
            "{poisoned}: something was written into DEST"
        );
    }
}

#[test]
fn a_model_with_a_symlink_out_of_it_is_refused_when_registered_naming_the_link() {
    let (_outside, secret) = outside();
    let work = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let model = work.path().join("model");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("weights.bin"), "weights").unwrap();
    // Each link alone stays in the model; through `a`, `b` leaves it.
    symlink(".", model.join("a")).unwrap();
    symlink("a/..", model.join("b")).unwrap();
    let (out, text) = mlci(
        work.path(),
        state.path(),
        &["models", "register", "iris", "model"],
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("the symlink `model/b` points outside the model (to `a/..`)"),
        "{text}"
    );
    std::fs::remove_file(model.join("b")).unwrap();
    symlink(&secret, model.join("key")).unwrap();
    let (out, text) = mlci(
        work.path(),
        state.path(),
        &["models", "register", "iris", "model"],
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "the symlink `model/key` points outside the model (to `{}`)",
            secret.display()
        )),
        "{text}"
    );
    assert_untouched(&secret, &text);
    let (out, text) = mlci(work.path(), state.path(), &["models", "ls", "--json"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

#[test]
fn metrics_params_and_other_path_keys_that_leave_the_workspace_are_refused_with_their_position() {
    let workflow = "\
on: push
jobs:
  train:
    runs-on: python-ml
    steps:
      - run: echo hi
        metrics: [../../secret.json]
        params: [/etc/params.yaml:lr]
        outputs: [model/, ../model]
      - validate: {data: data/../../x.csv, schema: schema.yml}
";
    let repo = common::git_repo(&[(".github/workflows/ci.yml", workflow)]);
    let state = tempfile::tempdir().unwrap();
    for command in ["validate", "run"] {
        let (out, text) = mlci(repo.path(), state.path(), &[command]);
        assert_eq!(out.status.code(), Some(2), "{command}: {text}");
        for expected in [
            "ci.yml:7:19",
            "`metrics`: `../../secret.json` leaves the workspace through `..`",
            "ci.yml:8:18",
            "`params`: `/etc/params.yaml` is an absolute path: it must be relative to the workspace",
            "ci.yml:9:27",
            "`outputs`: `../model` leaves the workspace",
            "ci.yml:10:26",
            "`validate: data`: `data/../../x.csv` leaves the workspace",
        ] {
            assert!(
                text.contains(expected),
                "{command}: no `{expected}` in:\n{text}"
            );
        }
    }
}

#[test]
fn a_workflow_file_that_is_a_symlink_out_of_the_repository_is_refused_unread() {
    let (outside, secret) = outside();
    let repo = common::git_repo(&[(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  a:\n    runs-on: python-ml\n    steps:\n      - run: echo hi\n",
    )]);
    symlink(&secret, repo.path().join(".github/workflows/evil.yml")).unwrap();
    let state = tempfile::tempdir().unwrap();
    for command in ["validate", "list", "run"] {
        let (out, text) = mlci(repo.path(), state.path(), &[command]);
        assert_eq!(out.status.code(), Some(2), "{command}: {text}");
        assert!(
            text.contains(&format!(
                "the symlink `.github/workflows/evil.yml` points to `{}`",
                secret.display()
            )),
            "{command}: {text}"
        );
        assert_untouched(&secret, &text);
    }
    // The same through a symlinked directory: `.github` itself.
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("workflows")).unwrap();
    std::fs::write(
        outside.path().join("workflows/x.yml"),
        format!("{SECRET}: [\n"),
    )
    .unwrap();
    symlink(outside.path(), repo.path().join(".github")).unwrap();
    let (out, text) = mlci(repo.path(), state.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("the symlink `.github` points to"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

/// A git repository with these files and a workflow `wf.yml`.
fn repo(workflow: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all = vec![(".github/workflows/wf.yml", workflow)];
    all.extend_from_slice(files);
    common::git_repo(&all)
}

#[test]
fn symlinks_a_step_makes_are_not_followed_out_of_the_workspace_for_metrics_and_validate() {
    common::ensure_runner_image();
    let outside = tempfile::tempdir().unwrap();
    // Both would parse: metrics as JSON, the dataset as a CSV whose header
    // `validate:` would print as unexpected columns.
    let metrics = outside.path().join("metrics.json");
    std::fs::write(&metrics, format!("{{\"{SECRET}\": 1}}\n")).unwrap();
    let data = outside.path().join("data.csv");
    std::fs::write(&data, format!("{SECRET}\n1\n")).unwrap();
    let workflow = format!(
        "on: push
jobs:
  a:
    runs-on: python-ml
    steps:
      - run: ln -s {} metrics.json && ln -s {} data.csv
        metrics: [metrics.json]
      - validate: {{data: data.csv, schema: schema.yml}}
",
        metrics.display(),
        data.display()
    );
    let repo = repo(
        &workflow,
        &[("schema.yml", "columns:\n  x: {type: integer}\n")],
    );
    let state = tempfile::tempdir().unwrap();
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "cannot validate data.csv: `data.csv` leads outside the workspace: the symlink `data.csv` points to `{}`",
            data.display()
        )),
        "{text}"
    );
    assert!(!text.contains(SECRET), "an outside file was read:\n{text}");
    let (_, shown) = mlci(repo.path(), state.path(), &["metrics", "show"]);
    assert!(!shown.contains(SECRET), "{shown}");
    let store = std::fs::read(state.path().join("runs.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&store).contains(SECRET),
        "the run store holds the outside file's content"
    );
}

#[test]
fn a_local_action_or_hashed_file_that_is_a_symlink_out_of_the_repository_is_not_read() {
    common::ensure_runner_image();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("action.yml"),
        format!(
            "name: x\nruns:\n  using: composite\n  steps:\n    - run: echo {SECRET}\n      shell: sh\n"
        ),
    )
    .unwrap();
    // hashFiles() does not read a file outside either: the link counts as no file.
    let workflow = "on: push\njobs:\n  a:\n    runs-on: python-ml\n    steps:\n      - run: echo \"hash=[${{ hashFiles('key') }}]\"\n      - uses: ./act\n";
    let repo = repo(workflow, &[]);
    symlink(outside.path(), repo.path().join("act")).unwrap();
    symlink(outside.path().join("action.yml"), repo.path().join("key")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "the action ./act cannot be used: `act` leads outside the repository: the symlink `act` points to `{}`",
            outside.path().display()
        )),
        "{text}"
    );
    assert!(!text.contains(SECRET), "code from outside ran:\n{text}");
    assert!(text.contains("hash=[]"), "{text}");
}

#[test]
fn a_cached_output_whose_symlinks_leave_the_workspace_together_is_never_restored() {
    common::ensure_runner_image();
    // `d/a -> .` and `d/b -> a/../..` each look inside; `d/b` is the root's parent.
    let workflow = "on: push
jobs:
  a:
    runs-on: python-ml
    steps:
      - run: mkdir d && echo x > d/f && ln -s . d/a && ln -s a/../.. d/b
        inputs: [.github/workflows/wf.yml]
        outputs: [d/]
";
    let repo = repo(workflow, &[]);
    let state = tempfile::tempdir().unwrap();
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert!(out.status.success(), "{text}");
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("the symlink `d/b` points outside the workspace (to `a/../..`)"),
        "{text}"
    );
    assert!(!text.contains("restored from cache"), "{text}");
}

#[test]
fn a_file_that_is_not_the_dataset_shows_only_a_clipped_bit_of_its_header() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("schema.yml"),
        "columns:\n  x: {type: integer, required: false}\n",
    )
    .unwrap();
    // A header of 1 000 long names: what `validate` reads of a file that is
    // not a dataset (a key, a config) comes back as column names.
    let header: Vec<String> = (0..1000)
        .map(|i| format!("{SECRET}{i:04}{}", "k".repeat(200)))
        .collect();
    std::fs::write(
        dir.path().join("x.csv"),
        format!("{}\n{}\n", header.join(","), vec!["1"; 1000].join(",")),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let (out, text) = mlci(
        dir.path(),
        state.path(),
        &["data", "validate", "x.csv", "--schema", "schema.yml"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("… and 995 more columns"), "{text}");
    assert!(text.len() < 2_000, "{} bytes:\n{text}", text.len());
}

/// Every file under `dir`, read, as one text (to look for a content).
fn all_bytes(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                text.push_str(&String::from_utf8_lossy(
                    &std::fs::read(entry.path()).unwrap_or_default(),
                ));
            }
        }
    }
    text
}

#[test]
fn an_output_under_a_symlinked_directory_out_of_the_workspace_is_not_cached() {
    common::ensure_runner_image();
    let (outside, secret) = outside();
    let workflow = format!(
        "on: push
jobs:
  a:
    runs-on: python-ml
    steps:
      - run: ln -s {} link
        inputs: [.github/workflows/wf.yml]
        outputs: [link/secret.txt]
",
        outside.path().display()
    );
    let repo = repo(&workflow, &[]);
    let state = tempfile::tempdir().unwrap();
    let (_, text) = mlci(repo.path(), state.path(), &["run"]);
    assert!(
        text.contains(&format!(
            "`link` leads outside the workspace: the symlink `link` points to `{}`",
            outside.path().display()
        )),
        "{text}"
    );
    assert_untouched(&secret, &text);
    assert!(
        !all_bytes(&state.path().join("cache")).contains(SECRET),
        "the outside file was stored in the cache"
    );
}
