//! The GitHub Actions expression language: `${{ }}` templates and `if:` conditions.

mod value;

pub use value::{Object, Value, format_number};
mod stub;
pub use stub::*;
