//! Exit statuses, as DESIGN.md sets them: 0 when everything passed, 1 when a
//! job or gate failed (`ExitCode::FAILURE`), 2 when the workflow or the command
//! line is invalid, 130 when interrupted.

/// Exit status for an invalid workflow or command line.
pub const EXIT_INVALID: u8 = 2;

/// Exit status after Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Says `error: MESSAGE` and exits 1.
pub(super) fn fail(message: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!("error: {message}");
    std::process::ExitCode::FAILURE
}

/// Says `error: MESSAGE` and exits 2: bad input.
pub(super) fn invalid(message: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!("error: {message}");
    std::process::ExitCode::from(EXIT_INVALID)
}
