//! Where build output goes: a spinner on a terminal, plain prefixed lines
//! in logs, or nowhere; and the last lines a failed build quotes.

use std::collections::VecDeque;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::terminal::ProgressMode as Mode;

/// How many lines of output a failed build quotes.
const TAIL_LINES: usize = 25;

/// Where build output goes: a spinner on a terminal, plain prefixed lines in
/// logs (not a terminal, or `CI` set), or nowhere.
#[derive(Clone, Debug)]
pub struct Progress {
    mode: Mode,
}

impl Progress {
    /// A spinner when stderr is a terminal and `CI` is not set; plain lines otherwise.
    pub fn auto() -> Progress {
        Progress {
            mode: Mode::for_stderr(),
        }
    }
    /// Every line of output on stderr, prefixed with the image's name.
    pub fn plain() -> Progress {
        Progress { mode: Mode::Plain }
    }
    /// Nothing shown (failed builds still quote their last lines in the error).
    pub fn quiet() -> Progress {
        Progress { mode: Mode::Quiet }
    }

    pub(super) fn task(&self, name: &str, what: &str) -> Task {
        let bar = (self.mode == Mode::Bar).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed}")
                    .expect("valid template"),
            );
            bar.set_prefix(name.to_string());
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if self.mode == Mode::Plain {
            eprintln!("[{name}] {what}");
        }
        Task {
            name: name.to_string(),
            mode: self.mode,
            bar,
            tail: VecDeque::new(),
            step: None,
        }
    }

    /// A one-line message (not a build's output).
    pub(super) fn note(&self, msg: &str) {
        if self.mode != Mode::Quiet {
            eprintln!("{msg}");
        }
    }
}

/// Drops ANSI escape sequences (`ESC [ … letter`), e.g. the colour the classic
/// builder puts around a step's stderr.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

pub(super) struct Task {
    name: String,
    mode: Mode,
    bar: Option<ProgressBar>,
    tail: VecDeque<String>,
    step: Option<String>,
}

impl Task {
    /// Output text, possibly several lines, possibly with `\r` progress redraws.
    pub(super) fn output(&mut self, text: &str) {
        for line in text.split(['\n', '\r']) {
            let line = line.trim_end();
            if line.trim().is_empty() {
                continue;
            }
            self.line(line);
        }
    }

    pub(super) fn line(&mut self, line: &str) {
        let stripped = strip_ansi(line);
        let line = stripped.as_str();
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
        // The classic builder announces `Step 2/4 : RUN …`.
        if let Some(rest) = line.strip_prefix("Step ")
            && let Some((n, _)) = rest.split_once(" : ")
        {
            self.step = Some(format!("step {n}"));
        }
        match self.mode {
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    let msg = match &self.step {
                        Some(s) => format!("{s} · {line}"),
                        None => line.to_string(),
                    };
                    bar.set_message(msg);
                }
            }
            Mode::Plain => eprintln!("[{}] {line}", self.name),
            Mode::Quiet => {}
        }
    }

    pub(super) fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    pub(super) fn finish(self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode != Mode::Quiet {
            eprintln!("{msg}");
        }
    }

    pub(super) fn fail(self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_are_stripped() {
        assert_eq!(strip_ansi("\x1b[91mWARNING: x\x1b[0m"), "WARNING: x");
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
