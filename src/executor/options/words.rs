//! POSIX-shell word splitting of the options text, keeping the byte range
//! of every word so that errors can point at it.

use super::error::OptionsError;

/// One shell word and its byte range in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Word {
    pub(super) text: String,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Word {
    pub(super) fn len(&self) -> usize {
        (self.end - self.start).max(1)
    }
}

/// POSIX-shell word splitting (as `shell-words` does), keeping offsets.
pub(super) fn split_words(text: &str) -> Result<Vec<Word>, OptionsError> {
    let mut words = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut current: Option<(String, usize)> = None;
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some((w, s)) = current.take() {
                    words.push(Word {
                        text: w,
                        start: s,
                        end: i,
                    });
                }
            }
            '#' if current.is_none() => {
                // A comment runs to the end of the line.
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' => {
                let (w, _) = current.get_or_insert_with(|| (String::new(), i));
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        closed = true;
                        break;
                    }
                    w.push(c);
                }
                if !closed {
                    return Err(OptionsError::new(
                        "'",
                        i,
                        1,
                        "unterminated single quote in container.options",
                    ));
                }
            }
            '"' => {
                let (w, _) = current.get_or_insert_with(|| (String::new(), i));
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.peek().map(|p| p.1) {
                            Some(n @ ('$' | '`' | '"' | '\\')) => {
                                w.push(n);
                                chars.next();
                            }
                            Some('\n') => {
                                chars.next();
                            }
                            _ => w.push('\\'),
                        },
                        c => w.push(c),
                    }
                }
                if !closed {
                    return Err(OptionsError::new(
                        "\"",
                        i,
                        1,
                        "unterminated double quote in container.options",
                    ));
                }
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, n)) => current.get_or_insert_with(|| (String::new(), i)).0.push(n),
                None => {
                    return Err(OptionsError::new(
                        "\\",
                        i,
                        1,
                        "container.options ends with a lone backslash",
                    ));
                }
            },
            c => current.get_or_insert_with(|| (String::new(), i)).0.push(c),
        }
    }
    if let Some((w, s)) = current.take() {
        words.push(Word {
            text: w,
            start: s,
            end: text.len(),
        });
    }
    Ok(words)
}
