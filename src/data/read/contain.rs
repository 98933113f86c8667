//! The parquet crate's record reader asserts on some corrupt files (a
//! definition level past the column's maximum, a dictionary page that is
//! missing, a negative column offset in the footer) and panics instead of
//! returning an error. [`contain`] runs a read so that such a panic becomes
//! one sentence about the file, exit 2 as for any broken dataset, and its
//! report is not printed as a crash of mlci.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside [`contain`]: its panics are not reported.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `read`; a panic inside it is returned as its message.
pub(super) fn contain<T>(read: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let report = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                report(info);
            }
        }));
    });
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(read));
    CONTAINED.with(|c| c.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_is_a_message_and_outside_still_a_panic() {
        assert_eq!(contain(|| 7), Ok(7));
        let caught: Result<(), String> = contain(|| panic!("level {} past 1", 119));
        assert_eq!(caught, Err("level 119 past 1".to_string()));
        assert!(std::panic::catch_unwind(|| panic!("outside")).is_err());
    }
}
