//! The memory limit of one evaluation: every string and value built counts
//! against it, as GitHub's runner counts them.

use super::error::EvalError;
use std::cell::Cell;

/// GitHub stops an evaluation that builds more than this many bytes of
/// strings and values (its runner counts 2 bytes per character).
pub(crate) const MAX_MEMORY: usize = 1024 * 1024;

/// The bytes built so far by one evaluation.
pub(crate) struct Memory {
    used: Cell<usize>,
}

impl Memory {
    pub fn new() -> Self {
        Memory { used: Cell::new(0) }
    }

    /// Counts `bytes` against the memory limit.
    pub fn charge(&self, bytes: usize) -> Result<(), EvalError> {
        self.check_room(bytes)?;
        self.used.set(self.used.get().saturating_add(bytes));
        Ok(())
    }

    /// Fails if `bytes` more would go over the memory limit, without counting them.
    pub fn check_room(&self, bytes: usize) -> Result<(), EvalError> {
        if self.used.get().saturating_add(bytes) > MAX_MEMORY {
            return Err(EvalError::new(
                "The maximum allowed memory size was exceeded",
            ));
        }
        Ok(())
    }

    /// Counts a new string (2 bytes per UTF-16 unit, as GitHub counts).
    pub fn charge_str(&self, s: &str) -> Result<(), EvalError> {
        self.charge(s.len().saturating_mul(2))
    }
}
