//! Splits an expression into tokens, with GitHub's rules for where a token ends.
//!
//! GitHub's lexer reads a number or a name up to the next "boundary" character
//! and then judges the whole run, so `1 =2` is the bad symbol `=2` and
//! `github/workflow.md` is the bad symbol `github/workflow`. Error messages
//! quote those runs, so this lexer works the same way.

use super::error::ExprError;
use super::number::{is_js_space, js_number};

/// GitHub refuses expressions longer than this (in UTF-16 code units).
pub(crate) const MAX_EXPRESSION_LENGTH: usize = 21_000;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Bang,
    Ne,
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
    Star,
    Number(f64),
    Str(String),
    Ident,
    True,
    False,
    Null,
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    /// Byte range in the source.
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token as GitHub quotes it in error messages.
    pub fn text<'s>(&self, src: &'s str) -> &'s str {
        match &self.kind {
            Tok::Eof => "EOF",
            _ => src.get(self.start..self.end).unwrap_or(""),
        }
    }
}

fn is_boundary(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|'
    ) || is_js_space(c)
}

fn is_legal_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        _ => false,
    }
}

fn unexpected(src: &str, start: usize, end: usize) -> ExprError {
    ExprError {
        offset: start,
        len: end - start,
        message: format!("Unexpected symbol: '{}'", src.get(start..end).unwrap_or("")),
    }
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    if src.encode_utf16().count() > MAX_EXPRESSION_LENGTH {
        return Err(ExprError {
            offset: 0,
            len: src.len(),
            message: format!("Exceeded max expression length {MAX_EXPRESSION_LENGTH}"),
        });
    }
    let mut tokens: Vec<Token> = Vec::new();
    // Byte offsets of every char, so lookahead never splits a UTF-8 sequence.
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(src.len(), |&(b, _)| b);
    let char_at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut i = 0;
    while let Some(c) = char_at(i) {
        let start = byte_at(i);
        i += 1;
        let previous = tokens.last().map(|t| &t.kind);
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            '*' => Some(Tok::Star),
            '!' | '<' | '>' => {
                let with_eq = char_at(i) == Some('=');
                if with_eq {
                    i += 1;
                }
                Some(match (c, with_eq) {
                    ('!', true) => Tok::Ne,
                    ('!', false) => Tok::Bang,
                    ('<', true) => Tok::Le,
                    ('<', false) => Tok::Lt,
                    ('>', true) => Tok::Ge,
                    _ => Tok::Gt,
                })
            }
            '=' | '&' | '|' if char_at(i) == Some(c) => {
                i += 1;
                Some(match c {
                    '=' => Tok::Eq,
                    '&' => Tok::And,
                    _ => Tok::Or,
                })
            }
            // A dot after something that can have properties is member access;
            // anywhere else it starts a number such as `.5`.
            '.' if matches!(
                previous,
                Some(Tok::Ident | Tok::RBracket | Tok::RParen | Tok::Star)
            ) =>
            {
                Some(Tok::Dot)
            }
            ' ' | '\r' | '\t' | '\n' => continue,
            _ => None,
        };
        if let Some(kind) = simple {
            tokens.push(Token {
                kind,
                start,
                end: byte_at(i),
            });
            continue;
        }

        if c == '\'' {
            // A string runs to the next lone quote; '' is an escaped quote.
            let mut value = String::new();
            loop {
                match char_at(i) {
                    None => return Err(unexpected(src, start, src.len())),
                    Some('\'') if char_at(i + 1) == Some('\'') => {
                        value.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push(Token {
                kind: Tok::Str(value),
                start,
                end: byte_at(i),
            });
            continue;
        }

        let is_number = c == '.' || c == '-' || c == '+' || c.is_ascii_digit();
        // Read to the next boundary; a number may also contain dots.
        while let Some(next) = char_at(i) {
            if is_boundary(next) && !(is_number && next == '.') {
                break;
            }
            i += 1;
        }
        let end = byte_at(i);
        let lexeme = src.get(start..end).unwrap_or("");
        if is_number {
            let value = js_number(lexeme);
            if value.is_nan() {
                return Err(unexpected(src, start, end));
            }
            tokens.push(Token {
                kind: Tok::Number(value),
                start,
                end,
            });
            continue;
        }
        // After a dot every word is a property name, `foo.true` included.
        let after_dot = matches!(previous, Some(Tok::Dot));
        let kind = match lexeme {
            "true" if !after_dot => Tok::True,
            "false" if !after_dot => Tok::False,
            "null" if !after_dot => Tok::Null,
            "NaN" if !after_dot => Tok::Number(f64::NAN),
            "Infinity" if !after_dot => Tok::Number(f64::INFINITY),
            _ => Tok::Ident,
        };
        if !is_legal_identifier(lexeme) {
            return Err(unexpected(src, start, end));
        }
        tokens.push(Token { kind, start, end });
    }
    tokens.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn dots_and_numbers() {
        assert_eq!(
            kinds("a.b"),
            vec![Tok::Ident, Tok::Dot, Tok::Ident, Tok::Eof]
        );
        assert_eq!(kinds(".5"), vec![Tok::Number(0.5), Tok::Eof]);
        assert!(lex("-0x10").is_err());
        assert_eq!(kinds("0x10"), vec![Tok::Number(16.0), Tok::Eof]);
    }

    #[test]
    fn strings_escape_quotes() {
        assert_eq!(kinds("'it''s'"), vec![Tok::Str("it's".into()), Tok::Eof]);
        assert_eq!(kinds("'a''''b'"), vec![Tok::Str("a''b".into()), Tok::Eof]);
        assert!(lex("'open").is_err());
    }

    #[test]
    fn bad_symbols_quote_the_whole_run() {
        assert_eq!(
            lex("1 =2 =3").unwrap_err().message,
            "Unexpected symbol: '=2'"
        );
        assert_eq!(
            lex("github/workflow.md").unwrap_err().message,
            "Unexpected symbol: 'github/workflow'"
        );
    }
}
