//! Source positions and the error messages built on them.
//!
//! Every node of a parsed workflow carries a [`Span`]: byte offsets into the
//! file's text. A [`Diagnostic`] names a span and says what is wrong; a
//! [`SourceFile`] turns it into `path:line:column: message`, followed by the
//! offending line and a caret, the way rustc prints its errors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A byte range in one source text. `start == end` marks a point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }

    pub fn point(at: usize) -> Self {
        Span { start: at, end: at }
    }

    /// A span inside this one, `offset` bytes from its start.
    pub fn sub(self, offset: usize, len: usize) -> Span {
        let start = (self.start + offset).min(self.end.max(self.start));
        Span::new(start, start + len)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    /// A hint printed under the caret, such as "did you mean `runs-on`?".
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A file's name and text, with its line starts indexed for position lookups.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    pub fn read(path: &Path) -> std::io::Result<Self> {
        Ok(Self::new(path, read_text(path, u64::MAX, "files")?))
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.clamp(offset);
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line_index + 1, column)
    }

    /// The text of a one-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map(|next| next - 1)
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches('\r')
    }

    /// The byte offset of a one-based line and column (in characters).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let within = rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        start + within
    }

    fn clamp(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Renders a diagnostic as
    ///
    /// ```text
    /// error: unknown key `runs_on`
    ///   --> .github/workflows/ci.yml:4:5
    ///    |
    ///  4 |     runs_on: ubuntu-latest
    ///    |     ^^^^^^^ did you mean `runs-on`?
    /// ```
    ///
    /// The first line of the output also reads `path:line:column: message`
    /// for tools and editors that parse that form.
    pub fn render(&self, diagnostic: &Diagnostic) -> String {
        let (line, column) = self.line_col(diagnostic.span.start);
        let kind = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}:{}:{}: {}: {}",
            self.path.display(),
            line,
            column,
            kind,
            clip(&diagnostic.message, MAX_MESSAGE_CHARS)
        );
        let gutter = line.to_string().len();
        let (shown, pad, width) = self.shown_line(line, diagnostic.span);
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line:>gutter$} | {shown}");
        let _ = write!(out, "{:gutter$} | {pad}{}", "", "^".repeat(width));
        if let Some(help) = &diagnostic.help {
            let _ = write!(out, " {}", clip(help, MAX_MESSAGE_CHARS));
        }
        out.push('\n');
        out
    }

    /// The part of `line` shown under a diagnostic, the padding before its
    /// caret and the caret's width. The caret covers the span on its first
    /// line only (at least one character), as rustc draws a span over
    /// several lines. A long line is cut to a window around the span, so an
    /// error on a 10 MB line prints a line, not the 10 MB.
    fn shown_line(&self, line: usize, span: Span) -> (String, String, usize) {
        let line_start = self.line_starts[line - 1];
        let line_text = self.line_text(line);
        let line_end = line_start + line_text.len();
        let start = self.clamp(span.start).clamp(line_start, line_end);
        let end = self.clamp(span.end.min(line_end)).max(start);
        // At most CONTEXT_BEFORE characters before the span start and
        // SHOWN_CHARS in all, each cut marked by an ellipsis.
        let before = &self.text[line_start..start];
        let window_start = before
            .char_indices()
            .rev()
            .nth(CONTEXT_BEFORE - 1)
            .map_or(line_start, |(i, _)| line_start + i);
        let rest = &self.text[window_start..line_end];
        let window_end = rest
            .char_indices()
            .nth(SHOWN_CHARS)
            .map_or(line_end, |(i, _)| window_start + i);
        let cut_before = window_start > line_start;
        let cut_after = window_end < line_end;
        let mut shown = String::new();
        if cut_before {
            shown.push('…');
        }
        shown.push_str(&self.text[window_start..window_end]);
        if cut_after {
            shown.push('…');
        }
        let mut pad: String = self.text[window_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        if cut_before {
            pad.insert(0, ' ');
        }
        let width = self.text[start..end.min(window_end).max(start)]
            .chars()
            .count()
            .max(1);
        (shown, pad, width)
    }
}

/// How much of a source line a diagnostic shows: the characters before the
/// span's start, and all of them.
const CONTEXT_BEFORE: usize = 80;
const SHOWN_CHARS: usize = 200;

/// Messages and hints longer than this are cut: GitHub's own limit on an
/// error message (actions/runner `ParseOptions.MaxErrorMessageLength`).
const MAX_MESSAGE_CHARS: usize = 500;

/// `text` cut to `max` characters, with an ellipsis where it was cut.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((at, _)) => format!("{}…", &text[..at]).into(),
    }
}

/// Reads a text file of at most `max_bytes` bytes. A bigger file, a UTF-16
/// one or bytes that are not UTF-8 are an `InvalidData` error whose message
/// says what and where (`invalid UTF-8 at line 3, column 7 (byte 40)`), for
/// `kind` of files ("workflow files").
pub fn read_text(path: &Path, max_bytes: u64, kind: &str) -> std::io::Result<String> {
    use std::io::Read as _;
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidData, message);
    let file = std::fs::File::open(path)?;
    // Read one byte past the limit, so that a file that grows (or a device
    // such as /dev/zero) is refused without being read whole.
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(invalid(format!(
            "the file is larger than {}, the limit for {kind}",
            byte_size(max_bytes)
        )));
    }
    decode_utf8(bytes, kind).map_err(invalid)
}

/// The text of `bytes`, or one sentence that says where it is not UTF-8.
pub fn decode_utf8(bytes: Vec<u8>, kind: &str) -> Result<String, String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(format!("the file is UTF-16; {kind} must be UTF-8"));
    }
    String::from_utf8(bytes).map_err(|error| {
        let bytes = error.as_bytes();
        let at = error.utf8_error().valid_up_to();
        // Everything before `at` is valid, so it can be read as text.
        let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
            .chars()
            .count()
            + 1;
        format!("invalid UTF-8 at line {line}, column {column} (byte {at}); {kind} must be UTF-8")
    })
}

/// `1 MiB`, `512 KiB`, `300 bytes`.
fn byte_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let file = SourceFile::new("w.yml", "on: push\njobs:\n  é: x\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(9), (2, 1));
        let offset = file.text.find('x').unwrap();
        assert_eq!(file.line_col(offset), (3, 6));
        assert_eq!(file.offset_of(3, 6), offset);
    }

    #[test]
    fn render_points_a_caret_at_the_span() {
        let file = SourceFile::new("ci.yml", "jobs:\n  a:\n    runs_on: x\n");
        let start = file.text.find("runs_on").unwrap();
        let diagnostic = Diagnostic::error(Span::new(start, start + 7), "unknown key `runs_on`")
            .with_help("did you mean `runs-on`?");
        let text = file.render(&diagnostic);
        assert_eq!(
            text,
            "ci.yml:3:5: error: unknown key `runs_on`\n  |\n3 |     runs_on: x\n  |     ^^^^^^^ did you mean `runs-on`?\n"
        );
    }
}
