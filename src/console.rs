//! Console output that survives a closed pipe.
//!
//! `println!` and `eprintln!` of std panic when the write fails, as it does
//! with `mlci run … 2>&1 | head` once `head` has exited (EPIPE: Rust ignores
//! SIGPIPE). A panic there killed the task that handles Ctrl-C, and with it
//! the clean-up of the run's containers. These macros, defined before every
//! other module of the crate, take the place of std's four print macros in
//! all of it: they write the same text and drop a write error, so a reader
//! that went away ends the output, never the run.

use std::io::Write;

/// Writes to stdout; a failed write is dropped (see the module doc).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stdout().lock().write_fmt(args);
}

/// Writes to stderr; a failed write is dropped (see the module doc).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!($($arg)*))
    };
}

macro_rules! println {
    () => {
        $crate::console::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::console::write_stderr(format_args!($($arg)*))
    };
}

macro_rules! eprintln {
    () => {
        $crate::console::write_stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}
