//! Runs `mlci` and measures what bounds the hostile-input tests hold it to:
//! its exit, its CPU time and its peak memory, from wait4(2), so that the
//! memory is this process's alone and the time does not depend on how busy
//! the machine running the tests is. A watchdog kills it after 20 s, so that
//! a regression fails a test instead of hanging it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one bounded command did.
pub struct Measured {
    /// None when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// CPU time, user and system.
    pub cpu: Duration,
    /// Peak resident memory, in KiB (getrusage's ru_maxrss).
    pub max_rss_kib: i64,
}

/// Runs `mlci ARGS` in `dir` (with `CI=true`, no stdin) and measures it.
#[allow(clippy::zombie_processes)] // reaped by wait4, not by Child::wait
pub fn mlci(dir: &Path, args: &[&str]) -> Measured {
    let started = Instant::now();
    let mut child = Command::new(super::mlci_bin())
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mlci starts");
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
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
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        elapsed: started.elapsed(),
        cpu: Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime)),
        max_rss_kib: usage.ru_maxrss,
    }
}
