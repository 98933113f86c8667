//! The step files `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_STATE` and
//! `GITHUB_PATH`, read after each step as GitHub's Linux runner reads them
//! (`EnvFileKeyValuePairs` and `AddPathFileCommand` in actions/runner
//! `src/Runner.Worker/FileCommandManager.cs`).
//!
//! The key/value grammar, line by line (empty lines are skipped):
//!
//! - a line whose first `=` comes before its first `<<` is `NAME=VALUE`,
//!   split at that first `=`;
//! - a line whose first `<<` comes before its first `=` (or has no `=`) is
//!   `NAME<<DELIMITER`; the value is every following line up to the first
//!   line equal to `DELIMITER` (ordinal, whole line), joined with the file's
//!   own newlines, without the newline before the delimiter;
//! - anything else is an error.
//!
//! Lines end at `\n` only, as on GitHub's Linux runner: a CRLF file keeps
//! the `\r` at the end of each line, so `KEY=value\r\n` gives `value\r`, and
//! a heredoc `NAME<<EOF\r\n` expects the delimiter line `EOF\r`.
//!
//! GitHub applies each pair as soon as it is read, so pairs before an error
//! still take effect; [`parse_key_values_partial`] returns them with the
//! error. The runner reports a failure as two error annotations,
//! `Unable to process file command '<output|env|state>' successfully.` and
//! the error's message, and fails the step.

use std::fmt;

/// Why GitHub refuses a `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_STATE` file.
/// `Display` gives GitHub's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCommandError {
    /// A non-empty line that is neither `NAME=VALUE` nor `NAME<<DELIMITER`.
    InvalidFormat { line: String },
    /// `NAME<<DELIMITER` with an empty name or an empty delimiter.
    EmptyNameOrDelimiter { line: String },
    /// The file ended before a line equal to the delimiter.
    MatchingDelimiterNotFound { delimiter: String },
    /// The last line of the file is part of a heredoc value and has no
    /// newline after it (GitHub checks this before looking further).
    EofMarkerMissingNewLine,
}

impl fmt::Display for FileCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileCommandError::InvalidFormat { line } => write!(f, "Invalid format '{line}'"),
            FileCommandError::EmptyNameOrDelimiter { line } => write!(
                f,
                "Invalid format '{line}'. Name must not be empty and delimiter must not be empty"
            ),
            FileCommandError::MatchingDelimiterNotFound { delimiter } => write!(
                f,
                "Invalid value. Matching delimiter not found '{delimiter}'"
            ),
            FileCommandError::EofMarkerMissingNewLine => {
                write!(f, "Invalid value. EOF marker missing new line.")
            }
        }
    }
}

impl std::error::Error for FileCommandError {}

/// Reads the next line ending at `\n` (the `\n` excluded). Returns the line
/// and whether a `\n` ended it; `None` at the end of the text.
fn read_line<'a>(text: &'a str, index: &mut usize) -> Option<(&'a str, bool)> {
    if *index >= text.len() {
        return None;
    }
    let rest = text.get(*index..)?;
    match rest.find('\n') {
        Some(lf) => {
            *index += lf + 1;
            Some((&rest[..lf], true))
        }
        None => {
            *index = text.len();
            Some((rest, false))
        }
    }
}

/// Parses a `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_STATE` file. Pairs come
/// in file order; a name may repeat (the last one wins when applied).
///
/// As on GitHub, `=value` gives the empty name (GitHub's check for an empty
/// name in this form never fires), and a name is never trimmed.
pub fn parse_key_values(contents: &str) -> Result<Vec<(String, String)>, FileCommandError> {
    match parse_key_values_partial(contents) {
        (pairs, None) => Ok(pairs),
        (_, Some(err)) => Err(err),
    }
}

/// Like [`parse_key_values`], but also returns the pairs read before an
/// error: GitHub has applied those by the time it reports the error.
pub fn parse_key_values_partial(
    contents: &str,
) -> (Vec<(String, String)>, Option<FileCommandError>) {
    let text = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    let mut pairs = Vec::new();
    let mut index = 0usize;
    while let Some((line, _)) = read_line(text, &mut index) {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(eq), h) if h.is_none_or(|h| eq < h) => {
                pairs.push((line[..eq].to_string(), line[eq + 1..].to_string()));
            }
            (e, Some(h)) if e.is_none_or(|e| h < e) => {
                let name = &line[..h];
                let delimiter = &line[h + 2..];
                if name.is_empty() || delimiter.is_empty() {
                    let err = FileCommandError::EmptyNameOrDelimiter {
                        line: line.to_string(),
                    };
                    return (pairs, Some(err));
                }
                let start = index;
                let mut end = index;
                loop {
                    match read_line(text, &mut index) {
                        None => {
                            let err = FileCommandError::MatchingDelimiterNotFound {
                                delimiter: delimiter.to_string(),
                            };
                            return (pairs, Some(err));
                        }
                        Some((l, _)) if l == delimiter => break,
                        Some((_, false)) => {
                            return (pairs, Some(FileCommandError::EofMarkerMissingNewLine));
                        }
                        Some((_, true)) => end = index - 1,
                    }
                }
                let value = if end > start {
                    text.get(start..end).unwrap_or_default().to_string()
                } else {
                    String::new()
                };
                pairs.push((name.to_string(), value));
            }
            _ => {
                let err = FileCommandError::InvalidFormat {
                    line: line.to_string(),
                };
                return (pairs, Some(err));
            }
        }
    }
    (pairs, None)
}

/// Decodes a step file's bytes as .NET's `File.ReadAllText` does: a UTF-8
/// byte-order mark is dropped, a UTF-16 (LE or BE) byte-order mark selects
/// UTF-16 (what Windows PowerShell's `Out-File` writes), anything else is
/// UTF-8 with invalid sequences replaced by U+FFFD.
pub fn decode_file(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let utf16 = |rest: &[u8], le: bool| {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| {
                let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                if le {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, false);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses the `GITHUB_PATH` file: one path per line, lines ending at `\n`,
/// `\r\n` or a lone `\r` (.NET `File.ReadAllLines`), empty lines skipped,
/// nothing trimmed.
pub fn parse_path_file(contents: &str) -> Vec<String> {
    let text = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    text.split(['\n', '\r'])
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Adds paths read from `GITHUB_PATH` to the job's list of prepended paths,
/// as GitHub does: a path already in the list moves to the end.
pub fn add_paths(prepend: &mut Vec<String>, added: &[String]) {
    for p in added {
        prepend.retain(|x| x != p);
        prepend.push(p.clone());
    }
}

/// The `PATH` a step sees: the prepended paths, latest first, then the
/// container's own `PATH`.
pub fn path_value(prepend: &[String], base: &str) -> String {
    let mut parts: Vec<&str> = prepend.iter().rev().map(String::as_str).collect();
    if !base.is_empty() {
        parts.push(base);
    }
    parts.join(":")
}

/// Names `GITHUB_ENV` may not set (`SetEnvFileCommand._setEnvBlockList`),
/// compared case-insensitively.
pub const ENV_BLOCKLIST: &[&str] = &["NODE_OPTIONS"];

/// The blocked name `name` matches, if any.
pub fn blocked_env_name(name: &str) -> Option<&'static str> {
    ENV_BLOCKLIST
        .iter()
        .copied()
        .find(|b| b.eq_ignore_ascii_case(name))
}

/// GitHub's error annotation for a blocked `GITHUB_ENV` name; the pair is
/// skipped and the step goes on (it does not fail).
pub fn blocked_env_message(blocked: &str) -> String {
    format!("Can't store {blocked} output parameter using '$GITHUB_ENV' command.")
}

/// The error annotation GitHub writes first when a step file cannot be
/// processed; `file` is `output`, `env`, `state`, `path` or `step_summary`.
pub fn unable_to_process_message(file: &str) -> String {
    format!("Unable to process file command '{file}' successfully.")
}

/// Largest `GITHUB_STEP_SUMMARY` GitHub uploads (1 MiB); a larger one gives
/// [`step_summary_too_large_message`] as an error annotation and is dropped.
pub const STEP_SUMMARY_LIMIT: u64 = 1024 * 1024;

/// GitHub's message for a step summary over [`STEP_SUMMARY_LIMIT`].
pub fn step_summary_too_large_message(size: u64) -> String {
    format!(
        "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of {}k, got {}k. For more information see: https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-markdown-summary",
        STEP_SUMMARY_LIMIT / 1024,
        size / 1024
    )
}
