//! Keeping the token out of every message.

/// Replaces the token, wherever it appears, by `***`.
pub fn redact(text: &str, token: Option<&str>) -> String {
    match token {
        Some(token) if !token.is_empty() => text.replace(token, "***"),
        _ => text.to_string(),
    }
}
