//! Hostile workflow and schema files (issue 20): each one is answered by the
//! real `mlci` binary within 2 s and 256 MB, with exit 2 and a diagnostic
//! that says where, never a panic; `validate` refuses what `run` refuses.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one bounded command did.
struct Answer {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
    /// CPU time (user and system): the bound that does not depend on how
    /// busy the machine running the tests is.
    cpu: Duration,
    /// Peak resident memory of the process, in KiB (getrusage's ru_maxrss).
    max_rss_kib: i64,
}

/// Runs `mlci ARGS` in `dir` and waits for it with wait4(2), so that the
/// peak memory measured is this process's alone.
fn mlci(dir: &Path, args: &[&str]) -> Answer {
    let started = Instant::now();
    let err_path = dir.join(".mlci-test-stderr");
    let child = Command::new(common::mlci_bin())
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // A watchdog, so that a regression fails the test instead of hanging it.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        let pid = child.id() as i32;
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(20);
            while Instant::now() < until {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: our own child, not reaped before `done` is set.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })
    };
    // Wait without reaping first, so that the watchdog can never signal a
    // process id that has been reused.
    // SAFETY: siginfo is plain data that waitid fills in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, by its id, leaving it waitable.
    unsafe {
        libc::waitid(
            libc::P_PID,
            child.id(),
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, by its id.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Answer {
        code,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed: started.elapsed(),
        cpu: cpu_time(&usage),
        max_rss_kib: usage.ru_maxrss,
    }
}

fn cpu_time(usage: &libc::rusage) -> Duration {
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Asserts the bound: exit 2, no panic, 2 s of CPU, 256 MB.
fn assert_refused(answer: &Answer, what: &str) {
    assert_eq!(
        answer.code,
        Some(2),
        "{what}: expected exit 2, got {:?}\n{}",
        answer.code,
        answer.stderr
    );
    assert!(
        !answer.stderr.contains("panicked"),
        "{what}: panicked\n{}",
        answer.stderr
    );
    assert!(
        answer.cpu < Duration::from_secs(2) && answer.elapsed < Duration::from_secs(10),
        "{what}: took {:?} of CPU, {:?} in all",
        answer.cpu,
        answer.elapsed
    );
    assert!(
        answer.max_rss_kib < 256 * 1024,
        "{what}: used {} MiB",
        answer.max_rss_kib / 1024
    );
}

const JOB: &str = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

/// Nine aliases of nine aliases, nine levels deep: 9^9 nodes from 600 bytes.
fn alias_bomb(indent: &str) -> String {
    let mut text = format!("{indent}a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let aliases = vec![format!("*a{}", level - 1); 9].join(", ");
        text.push_str(&format!("{indent}a{level}: &a{level} [{aliases}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_in_a_workflow_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("on: push\nx-bomb:\n{}{JOB}", alias_bomb("  "));
    std::fs::write(dir.path().join("bomb.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "bomb.yml"]);
    assert_refused(&answer, "alias bomb");
    assert!(
        answer
            .stderr
            .contains("bomb.yml:7:7: error: invalid YAML: anchors and aliases copy more than"),
        "{}",
        answer.stderr
    );
}

#[test]
fn one_large_value_aliased_many_times_is_refused_at_the_alias() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("on: push\nx-big: &big \"{}\"\nx-list:\n", "v".repeat(65536));
    for _ in 0..20_000 {
        text.push_str("  - *big\n");
    }
    text.push_str(JOB);
    std::fs::write(dir.path().join("linear.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "linear.yml"]);
    assert_refused(&answer, "linear alias");
    // 10 MB of text is 160 copies of 64 KB: the 161st alias, on line 163.
    assert!(
        answer
            .stderr
            .contains("linear.yml:163:5: error: invalid YAML: anchors and aliases copy"),
        "{}",
        answer.stderr
    );
}

#[test]
fn an_alias_bomb_in_a_data_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("columns:\n  a:\n    type: int\nx:\n{}", alias_bomb("  "));
    std::fs::write(dir.path().join("schema.yml"), schema).unwrap();
    std::fs::write(dir.path().join("data.csv"), "a\n1\n").unwrap();
    let answer = mlci(
        dir.path(),
        &["data", "validate", "data.csv", "--schema", "schema.yml"],
    );
    assert_refused(&answer, "schema alias bomb");
    assert!(
        answer
            .stderr
            .contains("schema.yml:9:7: error: invalid YAML: anchors and aliases copy more than"),
        "{}",
        answer.stderr
    );
}

#[test]
fn many_keys_are_checked_for_duplicates_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    // 40 000 keys took 35 s when each was compared with every earlier one.
    let mut text = String::from("on: push\nenv:\n");
    for i in 0..40_000 {
        text.push_str(&format!("  K{i}: v\n"));
    }
    text.push_str("  k7: again\n");
    text.push_str(JOB);
    std::fs::write(dir.path().join("keys.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "keys.yml"]);
    assert_refused(&answer, "40 000 keys");
    assert!(
        answer.stderr.contains(
            "keys.yml:40003:3: error: duplicate key `k7` (first defined on line 10; keys are compared ignoring case)"
        ),
        "{}",
        answer.stderr
    );
}
