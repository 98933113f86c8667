//! The two ways an expression fails: a syntax error while parsing, and an
//! error while evaluating.

use std::fmt;

/// A syntax error: a message in GitHub's words and the byte range it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    /// Byte offset into the parsed string.
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

/// A failure while evaluating (a bad format string, invalid JSON, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}
impl std::error::Error for EvalError {}
