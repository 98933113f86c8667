//! Cells and column types: what a reader hands over for one value, and how a
//! value is read as the type its column declares.
//!
//! CSV has no types, so its cells arrive as [`Cell::Text`] and are parsed
//! here; JSON lines and Parquet carry types, so a JSON string in an integer
//! column is a changed type even when it reads `"12"`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The type a schema declares for a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Float,
    String,
    Boolean,
    /// `YYYY-MM-DD`; compared and binned as days since 1970-01-01.
    Date,
    /// `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|±HH:MM]`; seconds since 1970-01-01 UTC.
    Timestamp,
}

impl ColumnType {
    pub const ALL: [ColumnType; 6] = [
        ColumnType::Integer,
        ColumnType::Float,
        ColumnType::String,
        ColumnType::Boolean,
        ColumnType::Date,
        ColumnType::Timestamp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::String => "string",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }

    pub fn from_name(name: &str) -> Option<ColumnType> {
        ColumnType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Numeric columns have a range, a mean and a histogram; the others
    /// (string, boolean) have frequencies of their values.
    pub fn is_numeric(self) -> bool {
        !matches!(self, ColumnType::String | ColumnType::Boolean)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value as a reader hands it over, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    /// Untyped text (CSV), parsed as the column's type.
    Text(&'a str),
    /// A typed string (JSON, Parquet).
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i64),
    /// Seconds since 1970-01-01 UTC.
    Timestamp(f64),
}

/// A cell read as its column's type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Typed<'a> {
    Null,
    /// Integer, float, date and timestamp values, as a number.
    Number(f64),
    /// A string value.
    Text(&'a str),
    Bool(bool),
}

impl<'a> Cell<'a> {
    /// The cell as `kind`, or None when it is of another type.
    pub fn as_type(self, kind: ColumnType) -> Option<Typed<'a>> {
        use ColumnType as T;
        Some(match (self, kind) {
            (Cell::Null, _) => Typed::Null,
            (Cell::Text(""), _) => Typed::Null,
            (Cell::Text(t) | Cell::Str(t), T::String) => Typed::Text(t),
            (Cell::Text(t), T::Integer) => Typed::Number(parse_int(t)? as f64),
            (Cell::Int(i), T::Integer | T::Float) => Typed::Number(i as f64),
            (Cell::Text(t), T::Float) => number_or_null(parse_float(t)?),
            (Cell::Float(x), T::Float) => number_or_null(x),
            (Cell::Text(t), T::Boolean) => Typed::Bool(parse_bool(t)?),
            (Cell::Bool(b), T::Boolean) => Typed::Bool(b),
            (Cell::Text(t) | Cell::Str(t), T::Date) => Typed::Number(parse_date(t)? as f64),
            (Cell::Date(d), T::Date) => Typed::Number(d as f64),
            // A date is a timestamp at midnight UTC (inference joins them so).
            (Cell::Text(t) | Cell::Str(t), T::Timestamp) => Typed::Number(
                parse_timestamp(t).or_else(|| parse_date(t).map(|d| d as f64 * 86_400.0))?,
            ),
            (Cell::Timestamp(s), T::Timestamp) => Typed::Number(s),
            (Cell::Date(d), T::Timestamp) => Typed::Number(d as f64 * 86_400.0),
            _ => return None,
        })
    }

    /// How a failure shows the value: "`abc`" for text, "string `abc`" when
    /// the value had a type of its own.
    pub fn describe(self) -> String {
        match self {
            Cell::Null => "null".to_string(),
            Cell::Text(t) => format!("`{}`", shorten(t)),
            Cell::Str(t) => format!("string `{}`", shorten(t)),
            Cell::Int(i) => format!("integer `{i}`"),
            Cell::Float(x) => format!("float `{x}`"),
            Cell::Bool(b) => format!("boolean `{b}`"),
            Cell::Date(d) => format!("date `{}`", format_date(d)),
            Cell::Timestamp(s) => format!("timestamp `{}`", format_timestamp(s)),
        }
    }
}

/// NaN is a missing value, as pandas writes it.
fn number_or_null(x: f64) -> Typed<'static> {
    if x.is_nan() {
        Typed::Null
    } else {
        Typed::Number(x)
    }
}

/// At most 40 characters of a value, for messages.
pub fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(40).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

pub fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    t.parse().ok()
}

pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    // Rust's parser also takes `inf` and `infinity`, which are not data here.
    if t.bytes().any(|b| b.is_ascii_digit()) || t.eq_ignore_ascii_case("nan") {
        t.parse().ok()
    } else {
        None
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim().as_bytes();
    if t.len() != 10 || t[4] != b'-' || t[7] != b'-' {
        return None;
    }
    let year = digits(&t[0..4])?;
    let month = digits(&t[5..7])?;
    let day = digits(&t[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(crate::calendar::days_from_civil(year, month, day))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|±HH:MM]` as seconds since 1970-01-01 UTC
/// (no offset means UTC).
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.len() < 19 || !t.is_char_boundary(10) {
        return None;
    }
    let days = parse_date(&t[..10])?;
    let b = t.as_bytes();
    if !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut fraction = 0.0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        fraction = format!("0.{}", &frac[..n]).parse().ok()?;
        rest = &frac[n..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let o = rest.as_bytes();
            if o.len() != 6 || !matches!(o[0], b'+' | b'-') || o[3] != b':' {
                return None;
            }
            let minutes = digits(&o[1..3])? * 60 + digits(&o[4..6])?;
            if o[0] == b'-' { -minutes } else { minutes }
        }
    };
    let seconds = days * 86_400 + h * 3600 + m * 60 + s - offset * 60;
    Some(seconds as f64 + fraction)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, b| n * 10 + i64::from(b - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = crate::calendar::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn format_timestamp(seconds: f64) -> String {
    let whole = seconds.floor() as i64;
    let days = whole.div_euclid(86_400);
    let rest = whole.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_date(days),
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// A number of a column of `kind` as people write it: dates as dates,
/// integers without `.0`.
pub fn format_value(kind: ColumnType, x: f64) -> String {
    match kind {
        ColumnType::Date => format_date(x.round() as i64),
        ColumnType::Timestamp => format_timestamp(x),
        _ => crate::metrics::format_number(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_parse_as_the_declared_type() {
        assert_eq!(
            Cell::Text("12").as_type(ColumnType::Integer),
            Some(Typed::Number(12.0))
        );
        assert_eq!(Cell::Text("1.5").as_type(ColumnType::Integer), None);
        assert_eq!(Cell::Text("abc").as_type(ColumnType::Float), None);
        assert_eq!(Cell::Text("inf").as_type(ColumnType::Float), None);
        assert_eq!(
            Cell::Text("NaN").as_type(ColumnType::Float),
            Some(Typed::Null)
        );
        assert_eq!(
            Cell::Text("").as_type(ColumnType::Integer),
            Some(Typed::Null)
        );
        assert_eq!(
            Cell::Text("TRUE").as_type(ColumnType::Boolean),
            Some(Typed::Bool(true))
        );
        assert_eq!(
            Cell::Int(3).as_type(ColumnType::Float),
            Some(Typed::Number(3.0))
        );
        assert_eq!(Cell::Str("12").as_type(ColumnType::Integer), None);
        assert_eq!(Cell::Float(1.0).as_type(ColumnType::Integer), None);
    }

    #[test]
    fn dates_and_timestamps_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(format_date(19_782), "2024-02-29");
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(parse_timestamp("1970-01-02T00:00:01Z"), Some(86_401.0));
        assert_eq!(parse_timestamp("1970-01-01 01:00:00+01:00"), Some(0.0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.5"), Some(0.5));
        assert_eq!(parse_timestamp("1970-01-01T25:00:00"), None);
        assert_eq!(
            Cell::Text("1970-01-02").as_type(ColumnType::Timestamp),
            Some(Typed::Number(86_400.0))
        );
        assert_eq!(format_timestamp(86_401.0), "1970-01-02T00:00:01Z");
    }
}
