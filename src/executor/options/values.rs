//! Scalar flag values: sizes (`256m`), durations (`1m30s`) and whole
//! numbers, read as Docker reads them.

/// Docker's RAMInBytes: `512`, `512b`, `64k`, `256m`, `1.5g`, `2gb`, `1GiB` (binary units).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{s}` is not a size (expected a number with an optional unit b, k, m, g, t, e.g. `256m`)"
        )
    };
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let mut body = lower.as_str();
    let mut mult: f64 = 1.0;
    if let Some(b) = body.strip_suffix('b') {
        body = b;
    }
    if let Some(b) = body.strip_suffix('i') {
        body = b;
    }
    for (suffix, m) in [
        ("k", 1024f64),
        ("m", 1024f64.powi(2)),
        ("g", 1024f64.powi(3)),
        ("t", 1024f64.powi(4)),
        ("p", 1024f64.powi(5)),
    ] {
        if let Some(b) = body.strip_suffix(suffix) {
            body = b;
            mult = m;
            break;
        }
    }
    let body = body.trim_end();
    if body.is_empty()
        || !body.chars().all(|c| c.is_ascii_digit() || c == '.')
        || body.starts_with('.')
    {
        return Err(bad());
    }
    let n: f64 = body.parse().map_err(|_| bad())?;
    let bytes = n * mult;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

pub(super) fn parse_int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| format!("`{s}` is not a whole number"))
}

/// Go's time.ParseDuration: `30s`, `1m30s`, `500ms`, `1.5h`, `0`; in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a duration (expected e.g. `10s`, `1m30s`, `500ms`)");
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += n * unit;
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("1h2m3s").unwrap(), 3_723_000_000_000);
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5 s").is_err());
        assert_eq!(parse_bytes("1t").unwrap(), 1 << 40);
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("-5m").is_err());
    }
}
