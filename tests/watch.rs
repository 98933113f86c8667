//! `mlci watch` end to end: a watcher process in a throwaway git repository
//! starts `mlci run` in real containers (the busybox test image) when a
//! trigger fires; the tests count the runs in the run store, read the
//! watcher's log, and look for what a run left on the engine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const WAIT: Duration = Duration::from_secs(90);

fn workflow(on: &str, script: &str) -> String {
    format!(
        "name: train\non:\n{on}\njobs:\n  train:\n    runs-on: ubuntu-latest\n    container: {}\n    steps:\n      - run: {script}\n",
        common::TEST_IMAGE
    )
}

const ON_DATA_PUSH: &str = "  push:\n    paths: ['data/**', '!data/**/*.md']";

/// A watcher on `train.yml`, its output (stdout and stderr) in a file. The
/// log, the run store and the cache live in `side`, outside the repository.
struct Watcher {
    child: Child,
    log: PathBuf,
    run_id: String,
    side: PathBuf,
}

fn run_prefix(test: &str) -> String {
    format!("watch-{test}-{}", std::process::id())
}

impl Watcher {
    fn start(dir: &Path, side: &Path, test: &str) -> Watcher {
        Watcher::start_as(dir, side, &run_prefix(test))
    }

    fn start_as(dir: &Path, side: &Path, run_id: &str) -> Watcher {
        common::ensure_test_image();
        let log = side.join(format!("{run_id}.log"));
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(common::mlci_bin())
            .args(["watch", "train.yml", "--interval", "100ms"])
            .arg("--db")
            .arg(side.join("runs.db"))
            .arg("--cache-dir")
            .arg(side.join("cache"))
            .current_dir(dir)
            .env("CI", "true")
            .env("MLCI_RUN_ID", run_id)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let watcher = Watcher {
            child,
            log,
            run_id: run_id.to_string(),
            side: side.to_path_buf(),
        };
        watcher.wait_for("[watch] ready");
        watcher
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `text` this many times.
    fn wait_for_n(&self, text: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self.log().matches(text).count() < n {
            assert!(
                Instant::now() < deadline,
                "waited for {n}× {text:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, text: &str) {
        self.wait_for_n(text, 1)
    }

    /// Ctrl-C; the exit status.
    fn interrupt(&mut self) -> Option<i32> {
        sigint(self.child.id());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "watch did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The runs in the run store: (event, result).
    fn runs(&self) -> Vec<(String, String)> {
        let path = self.side.join("runs.db");
        if !path.exists() {
            return Vec::new();
        }
        let store = mlci::record::Store::open(&path).unwrap();
        store
            .list_runs(&mlci::record::RunFilter::default())
            .unwrap()
            .into_iter()
            .map(|r| (r.event, format!("{:?}", r.result)))
            .collect()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            sigint(self.child.id());
            let deadline = Instant::now() + Duration::from_secs(30);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
    }
}

fn sigint(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Lets the watcher look a few more times (its interval is 100 ms).
fn a_few_polls() {
    std::thread::sleep(Duration::from_millis(800));
}

#[test]
fn a_changed_file_runs_the_pipeline_exactly_once() {
    let repo = common::git_repo(&[
        (
            "train.yml",
            &workflow(ON_DATA_PUSH, "echo trained on $(cat data/train.csv)"),
        ),
        ("data/train.csv", "v1\n"),
    ]);
    let dir = repo.path();
    let side = tempfile::tempdir().unwrap();
    let mut watch = Watcher::start(dir, side.path(), "once");
    write(
        dir,
        "data/notes.md",
        "a change that the paths filter leaves out\n",
    );
    write(dir, "src/other.py", "print()\n");
    a_few_polls();
    assert!(watch.runs().is_empty(), "{}", watch.log());
    write(dir, "data/train.csv", "v2\n");
    watch.wait_for("[watch] train.yml finished: success in ");
    a_few_polls();
    let log = watch.log();
    assert_eq!(
        log.matches("[watch] data/train.csv changed → train.yml (push)")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("[train] trained on v2"), "{log}");
    assert!(log.contains(&format!("(run {}-1)", watch.run_id)), "{log}");
    assert_eq!(log.matches("started (push)").count(), 1, "{log}");
    assert_eq!(
        watch.runs(),
        vec![("push".to_string(), "Success".to_string())]
    );
    assert_eq!(watch.interrupt(), Some(130));
    assert!(common::run_leftovers(&format!("{}-1", watch.run_id)).is_empty());
}

#[test]
fn changes_while_the_pipeline_runs_get_exactly_one_follow_up_run_that_sees_the_last() {
    let repo = common::git_repo(&[
        (
            "train.yml",
            &workflow(
                ON_DATA_PUSH,
                "echo step-started on $(cat data/train.csv); sleep 3",
            ),
        ),
        ("data/train.csv", "v1\n"),
    ]);
    let dir = repo.path();
    let side = tempfile::tempdir().unwrap();
    let mut watch = Watcher::start(dir, side.path(), "queue");
    write(dir, "data/train.csv", "v2\n");
    watch.wait_for("[train] step-started on v2");
    // Two changes during the run: one run after it, on the last content.
    write(dir, "data/train.csv", "v3\n");
    watch.wait_for("[watch] queued: train.yml is still running, it runs again when it ends (data/train.csv changed, push)");
    write(dir, "data/raw/more.csv", "v4\n");
    write(dir, "data/train.csv", "v5\n");
    watch.wait_for_n("[watch] train.yml finished: success in ", 2);
    a_few_polls();
    let log = watch.log();
    assert!(log.contains("[train] step-started on v5"), "{log}");
    assert!(!log.contains("step-started on v3"), "{log}");
    assert_eq!(log.matches("started (push)").count(), 2, "{log}");
    assert_eq!(
        log.matches("[watch] train.yml runs again for what changed while it ran")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(
        watch.runs(),
        vec![
            ("push".to_string(), "Success".to_string()),
            ("push".to_string(), "Success".to_string())
        ],
        "{log}"
    );
    assert_eq!(watch.interrupt(), Some(130));
}

#[test]
fn ctrl_c_while_the_pipeline_runs_stops_it_and_leaves_no_container() {
    let repo = common::git_repo(&[
        (
            "train.yml",
            &workflow(
                ON_DATA_PUSH,
                "echo step-started; sleep 120; echo not-reached",
            ),
        ),
        ("data/train.csv", "v1\n"),
    ]);
    let dir = repo.path();
    let side = tempfile::tempdir().unwrap();
    let mut watch = Watcher::start(dir, side.path(), "ctrlc");
    let run_id = format!("{}-1", watch.run_id);
    write(dir, "data/train.csv", "v2\n");
    watch.wait_for("[train] step-started");
    // The run's container exists while its step runs: the check below can fail.
    assert!(!common::run_objects(&run_id).is_empty());
    let interrupted_at = Instant::now();
    assert_eq!(watch.interrupt(), Some(130), "{}", watch.log());
    assert!(interrupted_at.elapsed() < Duration::from_secs(60));
    let log = watch.log();
    assert!(
        log.contains("[watch] interrupted: stopping train.yml"),
        "{log}"
    );
    assert!(
        log.contains("[watch] train.yml finished: interrupted in "),
        "{log}"
    );
    assert!(!log.contains("[train] not-reached"), "{log}");
    assert_eq!(
        common::run_leftovers(&run_id),
        Vec::<String>::new(),
        "{log}"
    );
}

#[test]
fn the_dataset_trigger_fires_on_content_not_on_touches_and_remembers_across_watchers() {
    let repo = common::git_repo(&[
        (
            "train.yml",
            &workflow(
                "  dataset:\n    paths: [data/train.csv]",
                "echo event=${{ github.event_name }} changed=${{ join(github.event.dataset.changed, ',') }}",
            ),
        ),
        ("data/train.csv", "a,b\n1,2\n"),
    ]);
    let dir = repo.path();
    let prefix = run_prefix("dataset");
    let side = tempfile::tempdir().unwrap();
    let mut watch = Watcher::start_as(dir, side.path(), &prefix);
    // A touch: new modification time, same bytes.
    let file = std::fs::File::options()
        .write(true)
        .open(dir.join("data/train.csv"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(10))
        .unwrap();
    a_few_polls();
    assert!(!watch.log().contains("→ train.yml"), "{}", watch.log());
    write(dir, "data/train.csv", "a,b\n1,2\n3,4\n");
    watch.wait_for("[watch] train.yml finished: success in ");
    let log = watch.log();
    assert!(
        log.contains("[watch] dataset data/train.csv changed → train.yml (dataset)"),
        "{log}"
    );
    assert!(
        log.contains("[train] event=dataset changed=data/train.csv"),
        "{log}"
    );
    assert_eq!(watch.interrupt(), Some(130));
    // Changed while nobody watches: the next watcher starts the run.
    write(dir, "data/train.csv", "a,b\n5,6\n");
    let again = Watcher::start_as(dir, side.path(), &format!("{prefix}-again"));
    again.wait_for("[watch] train.yml finished: success in ");
    let events: Vec<String> = again.runs().into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, vec!["dataset", "dataset"], "{}", again.log());
}

#[test]
fn a_held_lock_skips_the_trigger() {
    let repo = common::git_repo(&[
        ("train.yml", &workflow(ON_DATA_PUSH, "echo ran")),
        ("data/train.csv", "v1\n"),
    ]);
    let dir = repo.path();
    let side = tempfile::tempdir().unwrap();
    let mut watch = Watcher::start(dir, side.path(), "lock");
    // Another process holds the lock (as a second watcher would).
    let path = dir.join(".mlci/locks/train.yml.lock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(&path).unwrap();
    fs4::FileExt::lock(&lock).unwrap();
    write(dir, "data/train.csv", "v2\n");
    watch.wait_for("[watch] skipped: train.yml is still running elsewhere");
    a_few_polls();
    assert!(watch.runs().is_empty(), "{}", watch.log());
    fs4::FileExt::unlock(&lock).unwrap();
    write(dir, "data/train.csv", "v3\n");
    watch.wait_for("[watch] train.yml finished: success in ");
    assert_eq!(watch.runs().len(), 1, "{}", watch.log());
    assert_eq!(watch.interrupt(), Some(130));
}

#[test]
fn a_bad_cron_is_an_error_with_line_and_column_before_any_container() {
    let repo = common::git_repo(&[(
        "train.yml",
        &workflow(
            "  schedule:\n    - cron: '0 25 * * *'\n  push:",
            "echo never",
        ),
    )]);
    let dir = repo.path();
    let prefix = run_prefix("badcron");
    for args in [&["watch", "train.yml"][..], &["run", "train.yml"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_mlci"))
            .args(args)
            .current_dir(dir)
            .env("MLCI_RUN_ID", &prefix)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("train.yml:4:16: error: invalid cron expression `0 25 * * *`: the hour field `25` is not valid: expected `*`, a number from 0 to 23"),
            "{args:?}: {stderr}"
        );
        assert!(!String::from_utf8_lossy(&output.stdout).contains("ready"));
    }
    assert!(common::run_objects(&prefix).is_empty());
    assert!(common::run_objects(&format!("{prefix}-1")).is_empty());
}

#[test]
fn a_second_ctrl_c_leaves_no_container_either() {
    let repo = common::git_repo(&[
        (
            "train.yml",
            &workflow(ON_DATA_PUSH, "echo step-started; sleep 120"),
        ),
        ("data/train.csv", "v1\n"),
    ]);
    let dir = repo.path();
    let side = tempfile::tempdir().unwrap();
    let mut watch = Watcher::start(dir, side.path(), "twice");
    let run_id = format!("{}-1", watch.run_id);
    write(dir, "data/train.csv", "v2\n");
    watch.wait_for("[train] step-started");
    assert!(!common::run_objects(&run_id).is_empty());
    sigint(watch.child.id());
    watch.wait_for("[watch] interrupted: stopping train.yml");
    assert_eq!(watch.interrupt(), Some(130), "{}", watch.log());
    let log = watch.log();
    assert!(
        log.contains("[watch] interrupted again: train.yml removes its containers now"),
        "{log}"
    );
    assert!(
        log.contains("[watch] train.yml finished: interrupted in "),
        "{log}"
    );
    assert_eq!(
        common::run_leftovers(&run_id),
        Vec::<String>::new(),
        "{log}"
    );
}

#[test]
fn mlci_run_takes_the_schedule_and_dataset_events() {
    common::ensure_test_image();
    let repo = common::git_repo(&[(
        "train.yml",
        &workflow(
            "  schedule:\n    - cron: '0 3 * * MON'\n  dataset:\n    paths: [data/train.csv, 'data/raw/**']",
            "echo \"event=${{ github.event_name }} schedule=${{ github.event.schedule }} paths=${{ join(github.event.dataset.paths, ',') }}\"",
        ),
    )]);
    for (event, expected) in [
        (
            "schedule",
            "[train] event=schedule schedule=0 3 * * MON paths=",
        ),
        (
            "dataset",
            "[train] event=dataset schedule= paths=data/train.csv,data/raw/**",
        ),
    ] {
        let run_id = format!("{}-{event}", run_prefix("events"));
        let output = Command::new(env!("CARGO_BIN_EXE_mlci"))
            .args(["run", "train.yml", "-e", event, "--db"])
            .arg(repo.path().join("runs.db"))
            .current_dir(repo.path())
            .env("CI", "true")
            .env("MLCI_RUN_ID", &run_id)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{out}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(out.contains(expected), "{out}");
        assert!(common::run_leftovers(&run_id).is_empty());
    }
}
