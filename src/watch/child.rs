//! One pipeline run started by the watcher: `mlci run <workflow> -e <event>`
//! as a child process, holding the workflow's lock for as long as it runs.
//!
//! The lock is an exclusive `flock` on `.mlci/locks/<workflow file>.lock`,
//! taken without waiting: when another watcher (or anything else that takes
//! it, such as `flock .mlci/locks/train.yml.lock mlci run …`) holds it, the
//! trigger is skipped, not queued. The kernel drops the lock when the file
//! closes, so a killed watcher never leaves a stale one.
//!
//! The child runs in a process group of its own, so that Ctrl-C in the
//! terminal reaches the watcher only, which forwards exactly one SIGINT per
//! Ctrl-C: the first makes `mlci run` stop its steps and remove its
//! containers, a second makes it remove them at once.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

/// How the watcher starts `mlci run`.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// The mlci binary (the watcher's own).
    pub exe: PathBuf,
    /// Options passed to every `mlci run` (`--cache-dir`, `--db`, `-P`, …).
    pub run_args: Vec<OsString>,
    /// `MLCI_RUN_ID` of the watcher: its runs are `<id>-1`, `<id>-2`, …
    pub run_id_prefix: Option<String>,
}

pub struct Running {
    pub name: String,
    pub event: String,
    pub run_id: Option<String>,
    child: Child,
    started: Instant,
    /// Held until the child has exited.
    _lock: File,
}

pub enum Start {
    Started(Box<Running>),
    /// Someone else holds the workflow's lock.
    Locked(PathBuf),
    Failed(String),
}

pub fn lock_path(root: &Path, name: &str) -> PathBuf {
    root.join(".mlci")
        .join("locks")
        .join(format!("{name}.lock"))
}

impl Launcher {
    /// Takes the lock and starts the run, with the event's payload in a file
    /// that `--eventpath` names.
    pub fn start(
        &self,
        root: &Path,
        name: &str,
        workflow: &Path,
        event: &str,
        payload: &serde_json::Value,
        number: u64,
    ) -> Start {
        let path = lock_path(root, name);
        let lock = match open_lock(&path) {
            Ok(file) => file,
            Err(e) => return Start::Failed(format!("cannot open {}: {e}", path.display())),
        };
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => return Start::Locked(path),
            Err(fs4::TryLockError::Error(e)) => {
                return Start::Failed(format!("cannot lock {}: {e}", path.display()));
            }
        }
        let event_file = root
            .join(".mlci")
            .join("watch")
            .join(format!("{name}.event.json"));
        let written = event_file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::write(
                    &event_file,
                    serde_json::to_vec_pretty(payload).unwrap_or_default(),
                )
            });
        if let Err(e) = written {
            return Start::Failed(format!("cannot write {}: {e}", event_file.display()));
        }
        let mut command = Command::new(&self.exe);
        command
            .arg("run")
            .arg(workflow)
            .args(["-e", event])
            .arg("--eventpath")
            .arg(&event_file)
            .args(&self.run_args)
            .current_dir(root)
            .stdin(Stdio::null())
            .process_group(0);
        let run_id = self
            .run_id_prefix
            .as_ref()
            .map(|prefix| format!("{prefix}-{number}"));
        match &run_id {
            Some(id) => command.env("MLCI_RUN_ID", id),
            None => command.env_remove("MLCI_RUN_ID"),
        };
        match command.spawn() {
            Ok(child) => Start::Started(Box::new(Running {
                name: name.to_string(),
                event: event.to_string(),
                run_id,
                child,
                started: Instant::now(),
                _lock: lock,
            })),
            Err(e) => Start::Failed(format!("cannot start {}: {e}", self.exe.display())),
        }
    }
}

fn open_lock(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

impl Running {
    /// The exit, once there is one: a line for the log.
    pub fn finished(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        Some(format!(
            "{} finished: {} in {:.1} s",
            self.name,
            outcome(status),
            self.started.elapsed().as_secs_f64()
        ))
    }

    /// Sends SIGINT to the run (as Ctrl-C would).
    pub fn interrupt(&self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
    }
}

fn outcome(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(0), _) => "success".to_string(),
        (Some(1), _) => "failure".to_string(),
        (Some(2), _) => "invalid workflow or options (exit 2)".to_string(),
        (Some(130), _) => "interrupted".to_string(),
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended".to_string(),
    }
}
