//! Exit statuses, as DESIGN.md sets them: 0 when everything passed, 1 when a
//! job or gate failed (`ExitCode::FAILURE`), 2 when the workflow or the command
//! line is invalid, 130 when interrupted.

/// Exit status for an invalid workflow or command line.
pub const EXIT_INVALID: u8 = 2;

/// Exit status after Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: u8 = 130;
