//! The step cache under faults, through `mlci run` on the real engine: mlci
//! killed with SIGKILL while it saves a 1 GB output, two runs of one pipeline
//! at once on one cache, and a store file tampered with between runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{git_repo as repo_with, run_leftovers as leftovers};

fn ensure_image() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(mlci::images::ensure_test_image())
        .expect("the python-ml image");
}

fn mlci_command(dir: &Path, cache: &Path, run_id: &str, args: &[&str]) -> Command {
    let mut command = Command::new(common::mlci_bin());
    command
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .env("MLCI_CACHE_DIR", cache)
        .env("MLCI_RUN_ID", run_id);
    command
}

fn mlci(dir: &Path, cache: &Path, run_id: &str, args: &[&str]) -> (Output, String) {
    let output = mlci_command(dir, cache, run_id, args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// Removes what a killed mlci could not, with mlci's own clean-up of a run.
fn remove_leftovers(run_id: &str) {
    use mlci::executor::Backend;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(async { common::backend().await.remove_run(run_id).await })
        .unwrap();
}

fn bytes_under(dir: &Path) -> u64 {
    let Ok(items) = std::fs::read_dir(dir) else {
        return 0;
    };
    items
        .flatten()
        .map(|item| match item.file_type() {
            Ok(kind) if kind.is_dir() => bytes_under(&item.path()),
            _ => item.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn entry_count(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("entries")).map_or(0, |items| items.count())
}

const GIB: u64 = 1 << 30;

const BIG_OUTPUT: &str = r#"
on: push
jobs:
  make:
    runs-on: python-ml
    steps:
      - id: big
        run: |
          mkdir -p big
          head -c 1073741824 /dev/zero > big/blob.bin
          cat seed.txt >> big/blob.bin
          echo "made big/blob.bin"
        inputs: [seed.txt]
        outputs: [big/]
"#;

#[test]
fn sigkill_while_saving_a_1_gb_output_leaves_the_cache_consistent_and_the_next_run_reruns() {
    ensure_image();
    let repo = repo_with(&[
        ("wf.yml", BIG_OUTPUT),
        ("seed.txt", "seed 1\n"),
        (".gitignore", "big/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let run_id = format!("faults-kill-{}", std::process::id());

    let mut child = mlci_command(repo.path(), cache.path(), &run_id, &["run", "wf.yml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("mlci ended before the step did:\n{log}"))
            .unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("made big/blob.bin") {
            break;
        }
    }
    // The step is done: its 1 GB output is in the job's workspace, which
    // lives in the cache's tmp/, and mlci now hashes it and moves it into the
    // store. Kill it at once, in the middle of that, before the entry exists.
    child.kill().unwrap();
    child.wait().unwrap();
    let tmp = cache.path().join("tmp");
    let left = bytes_under(&tmp);
    assert!(
        left >= GIB,
        "the output was made in the job's directory under tmp/ ({left} bytes)"
    );
    assert_eq!(entry_count(cache.path()), 0, "a killed save left an entry");
    assert!(
        !repo.path().join("big").exists(),
        "nothing reached the working tree"
    );
    remove_leftovers(&run_id);

    // The next run finds no entry, runs the step, saves and leaves the output.
    let (output, second) = mlci(repo.path(), cache.path(), &run_id, &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(
        second.contains("made big/blob.bin"),
        "the step re-ran: {second}"
    );
    assert!(!second.contains("restored from cache"), "{second}");
    let blob = repo.path().join("big/blob.bin");
    assert_eq!(std::fs::metadata(&blob).unwrap().len(), GIB + 7);
    assert_eq!(entry_count(cache.path()), 1);
    // What the killed run left half-written in tmp/ is gone.
    assert!(
        bytes_under(&tmp) < 1 << 20,
        "{} bytes left in tmp/",
        bytes_under(&tmp)
    );
    assert!(leftovers(&run_id).is_empty(), "{:?}", leftovers(&run_id));
    std::fs::remove_file(&blob).unwrap();

    // And a third run restores it from that entry.
    let (output, third) = mlci(repo.path(), cache.path(), &run_id, &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{third}");
    assert!(third.contains("restored from cache"), "{third}");
    assert!(!third.contains("made big/blob.bin"), "{third}");
    assert_eq!(std::fs::metadata(&blob).unwrap().len(), GIB + 7);
}

/// Prepare a 20 MB dataset (bind-mounted into the next job), then train on it.
const PIPELINE: &str = r#"
on: push
jobs:
  prepare:
    runs-on: python-ml
    steps:
      - run: |
          mkdir -p data
          python3 -c "import random; random.seed(3); open('data/set.bin','wb').write(random.randbytes(20 << 20))"
          echo "prepare ran"
        inputs: [params.yaml]
        outputs: [data/]
  train:
    needs: prepare
    runs-on: python-ml
    steps:
      - run: |
          mkdir -p model
          python3 -c "import hashlib; open('model/sum.txt','w').write(hashlib.sha256(open('data/set.bin','rb').read()).hexdigest())"
          echo "train ran"
        inputs: [data/, params.yaml]
        outputs: [model/]
"#;

fn pipeline_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("wf.yml", PIPELINE),
        ("params.yaml", "lr: 0.1\n"),
        (".gitignore", "data/\nmodel/\n"),
    ]
}

#[test]
fn two_runs_of_one_pipeline_at_once_on_one_cache_both_succeed() {
    ensure_image();
    let cache = tempfile::tempdir().unwrap();
    let repos = [repo_with(&pipeline_files()), repo_with(&pipeline_files())];
    let run_ids: Vec<String> = (0..2)
        .map(|i| format!("faults-concurrent-{}-{i}", std::process::id()))
        .collect();
    let children: Vec<_> = repos
        .iter()
        .zip(&run_ids)
        .map(|(repo, run_id)| {
            mlci_command(repo.path(), cache.path(), run_id, &["run", "wf.yml"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(0), "{text}");
    }
    let sums: Vec<Vec<u8>> = repos
        .iter()
        .map(|repo| std::fs::read(repo.path().join("model/sum.txt")).unwrap())
        .collect();
    assert_eq!(sums[0], sums[1]);
    assert_eq!(sums[0].len(), 64);
    for run_id in &run_ids {
        assert!(leftovers(run_id).is_empty(), "{:?}", leftovers(run_id));
    }

    // The cache they shared is whole: a third run restores both stages.
    std::fs::remove_dir_all(repos[0].path().join("model")).unwrap();
    let (output, third) = mlci(
        repos[0].path(),
        cache.path(),
        &run_ids[0],
        &["run", "wf.yml"],
    );
    assert_eq!(output.status.code(), Some(0), "{third}");
    assert!(!third.contains("prepare ran"), "{third}");
    assert!(!third.contains("train ran"), "{third}");
    assert!(!third.contains("warning"), "{third}");
    assert_eq!(
        std::fs::read(repos[0].path().join("model/sum.txt")).unwrap(),
        sums[0]
    );
}

fn object_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for item in std::fs::read_dir(dir).unwrap().flatten() {
        if item.file_type().unwrap().is_dir() {
            found.extend(object_files(&item.path()));
        } else {
            found.push(item.path());
        }
    }
    found
}

#[test]
fn a_tampered_store_file_is_detected_and_the_step_runs_again() {
    ensure_image();
    let repo = repo_with(&pipeline_files());
    let cache = tempfile::tempdir().unwrap();
    let run_id = format!("faults-tamper-{}", std::process::id());
    let (output, first) = mlci(repo.path(), cache.path(), &run_id, &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    let original = std::fs::read(repo.path().join("data/set.bin")).unwrap();

    // Flip one byte of the 20 MB object in the store (read-only there: as a
    // user or a faulty disk might, not through mlci).
    let objects = object_files(&cache.path().join("objects"));
    let dataset = objects
        .iter()
        .find(|p| std::fs::metadata(p).unwrap().len() == 20 << 20)
        .expect("the dataset's object");
    let mut bytes = std::fs::read(dataset).unwrap();
    bytes[12345] ^= 0xff;
    let mut permissions = std::fs::metadata(dataset).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(dataset, permissions).unwrap();
    std::fs::write(dataset, &bytes).unwrap();
    std::fs::remove_dir_all(repo.path().join("data")).unwrap();

    let (output, second) = mlci(repo.path(), cache.path(), &run_id, &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(
        second.contains("is corrupt"),
        "the tampering is reported: {second}"
    );
    assert!(
        second.contains("prepare ran"),
        "the step ran again: {second}"
    );
    // The dataset in the working tree is the real one, not the tampered bytes.
    assert_eq!(
        std::fs::read(repo.path().join("data/set.bin")).unwrap(),
        original
    );
    assert!(leftovers(&run_id).is_empty(), "{:?}", leftovers(&run_id));
}

/// The results `mlci runs ls --json` lists, by workflow file.
fn recorded_results(repo: &Path) -> Vec<(String, String)> {
    let output = Command::new(common::mlci_bin())
        .args(["runs", "ls", "--json"])
        .current_dir(repo)
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "runs ls --json ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let mut results: Vec<(String, String)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["workflow"].as_str().unwrap().to_string(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    results.sort();
    results
}

/// The `.mlci-*` temporary files in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|items| {
            items
                .flatten()
                .map(|i| i.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".mlci-"))
                .collect()
        })
        .unwrap_or_default()
}

const SLEEPING: &str = r#"
on: push
jobs:
  sleeper:
    runs-on: python-ml
    steps:
      - run: echo step-started; sleep 300
"#;

const QUICK: &str = r#"
on: push
jobs:
  quick:
    runs-on: python-ml
    steps:
      - run: echo quick-ran
"#;

/// Reads `child`'s stdout until a line holds `needle`.
fn wait_for_line(child: &mut std::process::Child, needle: &str) {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("mlci ended before `{needle}`:\n{log}"))
            .unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains(needle) {
            // The rest of its output goes nowhere; the reader is dropped.
            return;
        }
    }
}

#[test]
fn sigkill_during_a_step_leaves_nothing_after_the_next_run_which_records_it_as_interrupted() {
    ensure_image();
    let repo = repo_with(&[
        ("sleep.yml", SLEEPING),
        ("quick.yml", QUICK),
        (".gitignore", ".mlci/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let killed = format!("faults-sigkill-step-{}", std::process::id());
    let mut child = mlci_command(repo.path(), cache.path(), &killed, &["run", "sleep.yml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_line(&mut child, "step-started");
    let killed_pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !common::run_objects(&killed).is_empty(),
        "the killed run's container outlives it until the next run"
    );

    let next = format!("{killed}-next");
    let (output, text) = mlci(repo.path(), cache.path(), &next, &["run", "quick.yml"]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    // The next run removes what the killed one left (and says so: "removed
    // the containers of runs whose process was killed"), unless the run of
    // a test beside this one started in between and swept it first, since
    // every `mlci run` sweeps the runs whose process is dead. Either way,
    // nothing of the killed run is left.
    assert!(leftovers(&killed).is_empty(), "{:?}", leftovers(&killed));
    assert!(leftovers(&next).is_empty(), "{:?}", leftovers(&next));
    assert_eq!(
        recorded_results(repo.path()),
        [
            ("quick.yml".to_string(), "success".to_string()),
            ("sleep.yml".to_string(), "interrupted".to_string()),
        ]
    );
    // Its job directory (in the cache's tmp/) and its workspace snapshot
    // (in the system's), named with its pid, are gone.
    let mark = format!(".{killed_pid}.");
    let left: Vec<String> = std::fs::read_dir(cache.path().join("tmp"))
        .unwrap()
        .chain(std::fs::read_dir(std::env::temp_dir()).unwrap())
        .flatten()
        .map(|i| i.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(&mark) && (n.starts_with("job.") || n.starts_with("mlci-")))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

const BIG_RESTORE: &str = r#"
on: push
jobs:
  make:
    runs-on: python-ml
    steps:
      - run: |
          mkdir -p big
          head -c 268435456 /dev/zero > big/blob.bin
        inputs: [seed.txt]
        outputs: [big/]
"#;

#[test]
fn sigkill_while_restoring_an_output_leaves_no_temp_file_after_the_next_run() {
    ensure_image();
    let repo = repo_with(&[
        ("big.yml", BIG_RESTORE),
        ("quick.yml", QUICK),
        ("seed.txt", "seed\n"),
        (".gitignore", "big/\n.mlci/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let id = format!("faults-sigkill-restore-{}", std::process::id());
    let (output, text) = mlci(repo.path(), cache.path(), &id, &["run", "big.yml"]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let big = repo.path().join("big");
    std::fs::remove_file(big.join("blob.bin")).unwrap();

    // All hits: the run restores the 256 MB output into the working tree,
    // through a temporary file beside it. Killed the moment that file appears.
    let mut child = mlci_command(repo.path(), cache.path(), &id, &["run", "big.yml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while temp_files(&big).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore was missed"
        );
        assert!(std::time::Instant::now() < deadline, "no restore began");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !temp_files(&big).is_empty(),
        "the killed restore left its file"
    );

    let (output, text) = mlci(repo.path(), cache.path(), &id, &["run", "quick.yml"]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(temp_files(&big), Vec::<String>::new());
    assert!(leftovers(&id).is_empty(), "{:?}", leftovers(&id));
    assert_eq!(
        recorded_results(repo.path()),
        [
            ("big.yml".to_string(), "interrupted".to_string()),
            ("big.yml".to_string(), "success".to_string()),
            ("quick.yml".to_string(), "success".to_string()),
        ]
    );
}

/// Flips one byte of a file in place and puts its mtime back, so that what
/// `stat` says of it (device, inode, size, mtime) does not change.
fn flip_byte_keeping_stat(path: &Path, at: usize) {
    let metadata = std::fs::metadata(path).unwrap();
    let modified = metadata.modified().unwrap();
    let read_only = metadata.permissions();
    let mut writable = read_only.clone();
    #[allow(clippy::permissions_set_readonly_false)]
    writable.set_readonly(false);
    std::fs::set_permissions(path, writable).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    let file = std::fs::File::options().write(true).open(path).unwrap();
    std::io::Write::write_all(&mut &file, &bytes).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    std::fs::set_permissions(path, read_only).unwrap();
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(after.len(), metadata.len());
    assert_eq!(after.modified().unwrap(), modified);
}

#[test]
fn a_flipped_byte_with_size_and_mtime_kept_is_detected_and_never_restored() {
    ensure_image();
    let repo = repo_with(&pipeline_files());
    let cache = tempfile::tempdir().unwrap();
    let run_id = format!("faults-flip-{}", std::process::id());
    let (output, first) = mlci(repo.path(), cache.path(), &run_id, &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    let original = std::fs::read(repo.path().join("data/set.bin")).unwrap();
    let sum = std::fs::read(repo.path().join("model/sum.txt")).unwrap();

    // One bit of the 20 MB object, with its size and mtime kept: a stat
    // cannot tell, only the content can.
    let objects = object_files(&cache.path().join("objects"));
    let dataset = objects
        .iter()
        .find(|p| std::fs::metadata(p).unwrap().len() == 20 << 20)
        .expect("the dataset's object");
    flip_byte_keeping_stat(dataset, 7 << 20);
    std::fs::remove_dir_all(repo.path().join("data")).unwrap();
    std::fs::remove_dir_all(repo.path().join("model")).unwrap();

    let (output, second) = mlci(repo.path(), cache.path(), &run_id, &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(
        second.contains("does not match its hash"),
        "the corruption is reported: {second}"
    );
    assert!(
        second.contains("prepare ran"),
        "the step ran again: {second}"
    );
    assert_eq!(
        std::fs::read(repo.path().join("data/set.bin")).unwrap(),
        original,
        "the working tree has the real dataset, not the flipped one"
    );
    assert_eq!(
        std::fs::read(repo.path().join("model/sum.txt")).unwrap(),
        sum
    );
    assert!(leftovers(&run_id).is_empty(), "{:?}", leftovers(&run_id));
}
