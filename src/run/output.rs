//! What a run prints: log lines prefixed with their job instance, secrets
//! masked, `::group::` blocks folded, and on a terminal one spinner per
//! running job (indicatif) showing its current step and latest line.
//!
//! Two modes. On a terminal (stdout is a TTY and `CI` is not set) lines of a
//! group are folded: the spinner shows them as they come and the log keeps
//! one line `▸ title (N lines)`, unless the step fails inside the group, when
//! the folded lines are printed after all. Elsewhere (pipes, `CI=true`) every
//! line is printed as it comes, group lines indented under their title, so a
//! CI log keeps everything.

use super::mask::Masker;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// How many folded lines of one group are kept to show if the step fails.
const FOLDED_LINES_KEPT: usize = 2000;

pub struct Console {
    masker: Masker,
    /// Present on a terminal only.
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// Where log lines go: stdout, or stderr when stdout holds `--json`.
    out: Mutex<Box<dyn Write + Send>>,
    /// `::error`/`::warning`/`::notice` by job instance, for the run store
    /// and check-run annotations; masked.
    annotations: Mutex<Vec<(String, super::commands::Annotation)>>,
}

impl Console {
    pub fn new(masker: Masker, interactive: bool) -> Console {
        Console {
            masker,
            multi: interactive
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout())),
            bars: Mutex::new(HashMap::new()),
            out: Mutex::new(Box::new(std::io::stdout())),
            annotations: Mutex::new(Vec::new()),
        }
    }

    /// Log lines to stderr (`--json`: stdout holds one JSON document).
    pub fn with_logs_on_stderr(mut self, on_stderr: bool) -> Console {
        if on_stderr {
            self.multi = None;
            self.out = Mutex::new(Box::new(std::io::stderr()));
        }
        self
    }

    /// A terminal that a person watches: stdout is a TTY that says what it
    /// is (`TERM`, not `dumb`), and this is not CI. Without `TERM` the
    /// progress display draws nothing, and the log lines it would print
    /// were lost with it.
    pub fn is_interactive() -> bool {
        let term = std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb");
        std::io::stdout().is_terminal() && term && !crate::terminal::in_ci()
    }

    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// One log line of a job instance, secrets masked.
    pub fn line(&self, job: &str, text: &str) {
        let text = format!("[{job}] {}", self.masker.mask(text));
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = writeln!(out, "{text}");
            }
        }
    }

    /// Keeps an annotation of a job instance (its message masked).
    pub fn annotate(&self, job: &str, mut annotation: super::commands::Annotation) {
        annotation.message = self.masker.mask(&annotation.message);
        self.annotations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((job.to_string(), annotation));
    }

    /// The annotations of one job instance, taken out.
    pub fn take_annotations(&self, job: &str) -> Vec<super::commands::Annotation> {
        let mut all = self.annotations.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, rest) = std::mem::take(&mut *all)
            .into_iter()
            .partition(|(j, _)| j == job);
        *all = rest;
        mine.into_iter().map(|(_, a)| a).collect()
    }

    /// A spinner for the job while it runs (terminal only).
    pub fn job_started(&self, job: &str) {
        let Some(multi) = &self.multi else { return };
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{prefix}] {elapsed:>4} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(job.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job.to_string(), bar);
    }

    /// What the job's spinner says (terminal only).
    pub fn status(&self, job: &str, text: &str) {
        if self.multi.is_none() {
            return;
        }
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = bars.get(job) {
            let text: String = self.masker.mask(text).chars().take(200).collect();
            bar.set_message(text);
        }
    }

    pub fn job_finished(&self, job: &str) {
        let bar = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(job);
        if let (Some(multi), Some(bar)) = (&self.multi, bar) {
            bar.finish_and_clear();
            multi.remove(&bar);
        }
    }

    /// The log of one step, which knows the step's open `::group::`.
    pub fn step_log<'a>(&'a self, job: &'a str) -> StepLog<'a> {
        StepLog {
            console: self,
            job,
            group: None,
        }
    }
}

struct OpenGroup {
    title: String,
    folded: VecDeque<String>,
    lines: usize,
}

/// Output of one step; groups do not span steps, as on GitHub.
pub struct StepLog<'a> {
    console: &'a Console,
    job: &'a str,
    group: Option<OpenGroup>,
}

impl StepLog<'_> {
    fn folding(&self) -> bool {
        self.console.multi.is_some()
    }

    pub fn output(&mut self, text: &str) {
        let folding = self.folding();
        match &mut self.group {
            Some(group) if folding => {
                group.lines += 1;
                if group.folded.len() == FOLDED_LINES_KEPT {
                    group.folded.pop_front();
                }
                group.folded.push_back(self.console.masker.mask(text));
                self.console.status(self.job, text);
            }
            Some(_) => self.console.line(self.job, &format!("  {text}")),
            None => {
                self.console.line(self.job, text);
                self.console.status(self.job, text);
            }
        }
    }

    pub fn group_start(&mut self, title: &str) {
        // A group inside a group is not nested on GitHub either: it ends the first.
        self.group_end();
        if !self.folding() {
            self.console.line(self.job, &format!("▸ {title}"));
        }
        self.group = Some(OpenGroup {
            title: title.to_string(),
            folded: VecDeque::new(),
            lines: 0,
        });
    }

    pub fn group_end(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        if self.folding() {
            self.console.line(
                self.job,
                &format!("▸ {} ({} lines)", group.title, group.lines),
            );
        }
    }

    /// The step is over: an open group is closed, and when the step failed
    /// inside it its folded lines are shown, since they hold the reason.
    pub fn finish(&mut self, failed: bool) {
        let Some(group) = self.group.take() else {
            return;
        };
        if !self.folding() {
            return;
        }
        self.console.line(
            self.job,
            &format!("▾ {} ({} lines)", group.title, group.lines),
        );
        if failed {
            let skipped = group.lines - group.folded.len();
            if skipped > 0 {
                self.console
                    .line(self.job, &format!("  … {skipped} earlier lines"));
            }
            for line in &group.folded {
                self.console.line(self.job, &format!("  {line}"));
            }
        }
    }
}
