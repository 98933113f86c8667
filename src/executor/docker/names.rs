//! Names of the objects mlci creates: slugs Docker accepts, random
//! suffixes, short ids.

use std::sync::atomic::{AtomicU64, Ordering};

pub(super) fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// A name part Docker accepts: `[a-zA-Z0-9_.-]`, at most `max` characters.
pub(super) fn slug(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-');
    let out: String = out.chars().take(max).collect();
    if out.is_empty() { "x".to_string() } else { out }
}

pub(super) fn nonce_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    // splitmix64 of time, pid and a counter.
    let mut z = t ^ ((std::process::id() as u64) << 32) ^ c.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn nonce() -> String {
    format!("{:08x}", nonce_u64() & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("train (forest, 0.1)", 32), "train-forest-0.1");
        assert_eq!(slug("", 5), "x");
        assert_eq!(slug("abcdefgh", 3), "abc");
    }
}
