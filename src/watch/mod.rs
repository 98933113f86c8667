//! `mlci watch`: a long-running local mode that starts a workflow when one of
//! its triggers fires.
//!
//! - `push` / `pull_request` (with their `paths` / `paths-ignore`): a file of
//!   the working tree changed while watching (see [`tree`]).
//! - `dataset` (mlci's own event): the content of a dataset file changed,
//!   since the last look of any watcher (see [`dataset`]).
//! - `schedule`: a cron expression names the minute that just began, in UTC
//!   as on GitHub.
//!
//! The tree is polled (every 500 ms by default): deterministic, and the same
//! on every file system. A run is `mlci run <workflow> -e <event>` as a child
//! process holding the workflow's lock ([`child`]). Triggers that fire while
//! that workflow runs are coalesced into one follow-up run, started when the
//! current one ends (as GitHub's `concurrency` keeps one pending run), so
//! the last change is always run on.
//! SIGINT or SIGTERM is forwarded to the runs as SIGINT; the watcher waits
//! for them to remove their containers and exits 130.

mod child;
mod dataset;
mod tree;
mod triggers;

pub use child::{Launcher, lock_path};
pub use triggers::Watched;

use crate::workflow::LoadedWorkflow;
use crate::workflow::cron::CronTime;
use std::path::PathBuf;
use std::time::Duration;

/// Exit status after Ctrl-C or SIGTERM.
const EXIT_INTERRUPTED: u8 = 130;

pub struct Config {
    /// The repository (the working directory).
    pub root: PathBuf,
    pub interval: Duration,
    pub launcher: Launcher,
    /// Paths inside the repository that are no change (the cache, the run store).
    pub excluded: Vec<PathBuf>,
}

/// One line of the watcher's log, on stdout with the runs' own output.
fn log(line: impl AsRef<str>) {
    println!("[watch] {}", line.as_ref());
}

/// `a, b, c and 2 more`
fn list(files: &[&String]) -> String {
    let shown: Vec<&str> = files.iter().take(3).map(|f| f.as_str()).collect();
    let mut text = shown.join(", ");
    if files.len() > 3 {
        text.push_str(&format!(" and {} more", files.len() - 3));
    }
    text
}

/// Why a workflow is to start.
struct Fired {
    event: String,
    reason: String,
    /// Added to the event's payload: the cron that fired, the dataset files that changed.
    detail: Option<(&'static str, serde_json::Value)>,
}

struct Entry {
    loaded: LoadedWorkflow,
    watched: Watched,
    running: Option<Box<child::Running>>,
    /// What fired while it ran: one follow-up run when it ends.
    pending: Vec<Fired>,
}

struct Watcher {
    config: Config,
    entries: Vec<Entry>,
    excluded: tree::Excluded,
    snapshot: tree::Snapshot,
    datasets: dataset::DatasetState,
    last_minute: i64,
    started: u64,
}

fn unix_minutes() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 60).unwrap_or(0)
}

impl Watcher {
    fn new(config: Config, entries: Vec<Entry>) -> Watcher {
        let excluded = tree::Excluded::new(&config.root, &config.excluded);
        let snapshot = tree::scan(&config.root, &excluded);
        let datasets = dataset::DatasetState::load(&config.root);
        Watcher {
            config,
            entries,
            excluded,
            snapshot,
            datasets,
            last_minute: unix_minutes(),
            started: 0,
        }
    }

    /// Reaps finished runs, looks for changes, starts what they trigger.
    fn tick(&mut self) {
        let root = self.config.root.clone();
        let after = tree::scan(&root, &self.excluded);
        let changed = tree::changes(&self.snapshot, &after);
        self.snapshot = after;
        // Reaped after the scan: what a run wrote before it exited (its
        // outputs, checked out into the working tree) counts as written
        // while it ran, and is skipped.
        let just_finished = self.reap();
        let minute = unix_minutes();
        // Each minute that began since the last tick, once (after a sleep of
        // the machine, only the current one).
        let minutes: Vec<i64> = if minute - self.last_minute > 24 * 60 {
            vec![minute]
        } else {
            (self.last_minute + 1..=minute).collect()
        };
        self.last_minute = minute;
        for index in 0..self.entries.len() {
            let fired = self.fired(index, &changed, &minutes);
            if !fired.is_empty() {
                self.dispatch(index, fired, just_finished.contains(&index));
            }
        }
        for index in 0..self.entries.len() {
            let entry = &mut self.entries[index];
            if entry.running.is_none() && !entry.pending.is_empty() {
                let fired = std::mem::take(&mut entry.pending);
                log(format!(
                    "{} runs again for what changed while it ran",
                    entry.watched.name
                ));
                self.start(index, fired);
            }
        }
        self.datasets.save();
    }

    fn fired(&mut self, index: usize, changed: &[String], minutes: &[i64]) -> Vec<Fired> {
        let root = self.config.root.clone();
        let entry = &self.entries[index];
        let watched = &entry.watched;
        let mut fired = Vec::new();
        if let Some(trigger) = &watched.dataset {
            let key = entry.loaded.file.path.display().to_string();
            let files = self.datasets.check(&key, trigger, &root);
            if !files.is_empty() {
                let shown: Vec<&String> = files.iter().collect();
                fired.push(Fired {
                    event: "dataset".into(),
                    reason: format!("dataset {} changed", list(&shown)),
                    detail: Some(("changed", serde_json::json!(files))),
                });
            }
        }
        let changed = watched.not_own_outputs(changed);
        if let Some(trigger) = watched.path_event(&changed) {
            fired.push(Fired {
                event: trigger.event.clone(),
                reason: format!("{} changed", list(&trigger.relevant(&changed))),
                detail: None,
            });
        }
        for &minute in minutes {
            let time = CronTime::from_unix_minutes(minute);
            if let Some(cron) = watched.schedule_at(time) {
                fired.push(Fired {
                    event: "schedule".into(),
                    reason: format!(
                        "schedule `{cron}` ({:02}:{:02} UTC)",
                        time.hour, time.minute
                    ),
                    detail: Some(("schedule", serde_json::json!(cron))),
                });
                break;
            }
        }
        fired
    }

    /// Starts the workflow for the first of its fired triggers, or queues
    /// them for after its run. What a run wrote before it exited (seen in
    /// the tick that reaps it) counts as written while it ran.
    fn dispatch(&mut self, index: usize, fired: Vec<Fired>, was_running: bool) {
        let entry = &mut self.entries[index];
        let name = entry.watched.name.clone();
        if entry.running.is_some() || was_running {
            for f in &fired {
                log(format!(
                    "queued: {name} is still running, it runs again when it ends ({}, {})",
                    f.reason, f.event
                ));
            }
            entry.pending.extend(fired);
            return;
        }
        for f in &fired {
            log(format!("{} → {name} ({})", f.reason, f.event));
        }
        self.start(index, fired);
    }

    /// Starts the workflow for the first of `fired`, or logs why not.
    fn start(&mut self, index: usize, fired: Vec<Fired>) {
        let entry = &mut self.entries[index];
        let name = entry.watched.name.clone();
        let first = &fired[0];
        let root = &self.config.root;
        let info = crate::run::github::git_info(root);
        let mut payload = crate::run::github::default_payload(
            &first.event,
            &info,
            &crate::expr::Object::new(),
            &entry.loaded.workflow,
        );
        if let (Some((key, value)), Some(object)) = (&first.detail, payload.as_object_mut()) {
            if first.event == "dataset" {
                if let Some(dataset) = object.get_mut("dataset").and_then(|d| d.as_object_mut()) {
                    dataset.insert(key.to_string(), value.clone());
                }
            } else {
                object.insert(key.to_string(), value.clone());
            }
        }
        self.started += 1;
        let start = self.config.launcher.start(
            root,
            &name,
            &entry.loaded.file.path,
            &first.event,
            &payload,
            self.started,
        );
        match start {
            child::Start::Started(running) => {
                let id = running
                    .run_id
                    .as_ref()
                    .map(|id| format!(" (run {id})"))
                    .unwrap_or_default();
                log(format!("{name} started ({}){id}", running.event));
                entry.running = Some(running);
            }
            child::Start::Locked(path) => log(format!(
                "skipped: {name} is still running elsewhere ({} is locked)",
                path.display()
            )),
            child::Start::Failed(message) => log(format!("error: {name}: {message}")),
        }
    }

    /// Logs the runs that finished and forgets them; their indices.
    fn reap(&mut self) -> Vec<usize> {
        let mut finished = Vec::new();
        for (index, entry) in self.entries.iter_mut().enumerate() {
            if let Some(line) = entry.running.as_mut().and_then(|r| r.finished()) {
                log(line);
                entry.running = None;
                finished.push(index);
            }
        }
        finished
    }

    fn running(&self) -> impl Iterator<Item = &child::Running> {
        self.entries.iter().filter_map(|e| e.running.as_deref())
    }

    fn interrupt(&self, again: bool) {
        for run in self.running() {
            if again {
                log(format!(
                    "interrupted again: {} removes its containers now",
                    run.name
                ));
            } else {
                log(format!(
                    "interrupted: stopping {} and removing its containers (Ctrl-C again to force)",
                    run.name
                ));
            }
            run.interrupt();
        }
    }
}

/// Watches until SIGINT or SIGTERM; returns the exit status (130).
pub fn watch(config: Config, workflows: Vec<LoadedWorkflow>) -> Result<u8, String> {
    let mut entries = Vec::new();
    for loaded in workflows {
        let watched = Watched::new(&loaded);
        if !watched.is_watched() {
            log(format!(
                "{}: not watched (no push, pull_request, dataset or schedule trigger)",
                watched.name
            ));
            continue;
        }
        log(format!("{}:", watched.name));
        for line in watched.describe() {
            log(format!("  {line}"));
        }
        for note in &watched.notes {
            log(format!("  note: {note}"));
        }
        entries.push(Entry {
            loaded,
            watched,
            running: None,
            pending: Vec::new(),
        });
    }
    if entries.is_empty() {
        return Err("no workflow has a trigger that `mlci watch` follows (push, pull_request, dataset or schedule)".into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(|e| format!("cannot catch SIGINT: {e}"))?;
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|e| format!("cannot catch SIGTERM: {e}"))?;
        let interval = config.interval;
        let header = format!(
            "ready: watching {} workflow{} (every {} ms; schedules in UTC); Ctrl-C to stop",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" },
            config.interval.as_millis()
        );
        let mut watcher = Watcher::new(config, entries);
        log(header);
        loop {
            watcher.tick();
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
            }
        }
        watcher.interrupt(false);
        loop {
            watcher.reap();
            if watcher.running().next().is_none() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = interrupt.recv() => watcher.interrupt(true),
                _ = terminate.recv() => watcher.interrupt(true),
            }
        }
        log("stopped");
        Ok(EXIT_INTERRUPTED)
    })
}
