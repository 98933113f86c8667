//! Numbers as JavaScript reads and prints them, which is what GitHub does:
//! `Number(string)`, `Number#toString`, and the rounding of formatted numbers.

/// Formats a number as GitHub does when it turns one into a string: rounded
/// to 15 decimal places (so `0.1 + 0.2`-style noise disappears), then printed
/// as JavaScript's `Number#toString` would (`1e+21`, `1.5e-7`, `-0` is `0`).
pub fn format_number(n: f64) -> String {
    if n == 0.0 {
        return "0".to_string();
    }
    js_number_to_string(round_to_15_places(n))
}

/// JavaScript's `x.toFixed(15)` read back as a number: exact decimal rounding,
/// ties away from zero. Numbers of 1e21 and above are left alone, as there.
fn round_to_15_places(x: f64) -> f64 {
    if !x.is_finite() || x.abs() >= 1e21 {
        return x;
    }
    // 1100 places is enough for the exact expansion of any double.
    let exact = format!("{:.1100}", x.abs());
    let Some((int_part, frac)) = exact.split_once('.') else {
        return x;
    };
    let mut digits: Vec<u8> = int_part.bytes().chain(frac.bytes().take(15)).collect();
    let round_up = frac.as_bytes().get(15).is_some_and(|d| *d >= b'5');
    if round_up {
        let mut carry = true;
        for d in digits.iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            digits.insert(0, b'1');
        }
    }
    let split = digits.len() - 15;
    let text = format!(
        "{}.{}",
        String::from_utf8_lossy(&digits[..split]),
        String::from_utf8_lossy(&digits[split..])
    );
    let rounded: f64 = text.parse().unwrap_or(x.abs());
    if x < 0.0 { -rounded } else { rounded }
}

/// JavaScript's `Number#toString()`: the shortest digits that read back to the
/// same double, in plain notation from 1e-7 up to 1e21 and exponent notation
/// outside that range.
pub(crate) fn js_number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_string();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if n == 0.0 {
        return "0".to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "1.2345e-7".
    let sci = format!("{:e}", n.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    // The decimal point sits after `point` digits: value = 0.digits × 10^point.
    let point = exponent.parse::<i64>().unwrap_or(0) + 1;
    let body = if k <= point && point <= 21 {
        format!("{digits}{}", "0".repeat((point - k) as usize))
    } else if 0 < point && point <= 21 {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else {
        let (first, rest) = digits.split_at(1);
        let sign = if point - 1 < 0 { '-' } else { '+' };
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{sign}{}", (point - 1).abs())
    };
    if n < 0.0 { format!("-{body}") } else { body }
}

/// JavaScript's `Number(string)`, which GitHub uses to turn strings into
/// numbers: surrounding whitespace is ignored, '' is 0, `0x`/`0o`/`0b`
/// prefixes and `Infinity` are accepted, anything else that is not a decimal
/// literal is NaN.
pub(crate) fn js_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    let radix = match t.get(..2) {
        Some("0x" | "0X") => 16,
        Some("0o" | "0O") => 8,
        Some("0b" | "0B") => 2,
        _ => 10,
    };
    if radix != 10 {
        let body = t.get(2..).unwrap_or("");
        if body.is_empty() {
            return f64::NAN;
        }
        let mut value = 0.0f64;
        for c in body.chars() {
            match c.to_digit(radix) {
                Some(d) => value = value * f64::from(radix) + f64::from(d),
                None => return f64::NAN,
            }
        }
        return value;
    }
    let (negative, unsigned) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if unsigned == "Infinity" {
        return if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if !is_decimal_literal(unsigned) {
        return f64::NAN;
    }
    match unsigned.parse::<f64>() {
        Ok(v) if negative => -v,
        Ok(v) => v,
        Err(_) => f64::NAN,
    }
}

/// digits [. digits] [e [+-] digits], where one side of the dot may be empty.
fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// JavaScript's `\s`: the characters GitHub's lexer treats as ending a token.
pub(crate) fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}
