//! Who watches mlci's output: a person at a terminal, or a log (CI, a file,
//! a pipe). Progress displays and the run's console ask here, so that they
//! read `CI` alike.

use std::io::IsTerminal;

/// Whether this is CI: `CI` set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

/// How a long operation shows its progress on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live bar or spinner: stderr is a terminal and this is not CI.
    Bar,
    /// Plain lines, for logs.
    Plain,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// A bar when stderr is a terminal and this is not CI; plain lines otherwise.
    pub fn for_stderr() -> ProgressMode {
        if std::io::stderr().is_terminal() && !in_ci() {
            ProgressMode::Bar
        } else {
            ProgressMode::Plain
        }
    }
}
