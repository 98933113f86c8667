//! The error of `container.options`: which flag, where, and what is wrong.

/// An error in `container.options`: which flag, where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OptionsError {
    /// The flag (or word) at fault, as written, e.g. `--gpu`.
    pub flag: String,
    /// Byte offset of the offending word (or value) in the options text.
    pub offset: usize,
    /// Byte length of the offending word (or value); at least 1 where the
    /// text is not empty.
    pub len: usize,
    /// One sentence, e.g. "unknown option `--gpu`; did you mean `--gpus`?".
    pub message: String,
}

impl OptionsError {
    pub(super) fn new(flag: &str, offset: usize, len: usize, message: impl Into<String>) -> Self {
        OptionsError {
            flag: flag.to_string(),
            offset,
            len,
            message: message.into(),
        }
    }
}
