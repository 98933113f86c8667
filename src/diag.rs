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
        Ok(Self::new(path, std::fs::read_to_string(path)?))
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
            diagnostic.message
        );
        let source_line = self.line_text(line);
        let gutter = line.to_string().len();
        // The caret covers the span on its first line, at least one character.
        let line_end_offset = self.offset_of(line, usize::MAX);
        let end = self.clamp(diagnostic.span.end.min(line_end_offset));
        let start = self.clamp(diagnostic.span.start);
        let width = self.text[start..end.max(start)].chars().count().max(1);
        let pad: String = source_line
            .chars()
            .take(column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line:>gutter$} | {source_line}");
        let _ = write!(out, "{:gutter$} | {pad}{}", "", "^".repeat(width));
        if let Some(help) = &diagnostic.help {
            let _ = write!(out, " {help}");
        }
        out.push('\n');
        out
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
