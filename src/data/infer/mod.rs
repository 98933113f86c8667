//! A first schema from the data itself, in one pass: each column's narrowest
//! type (integer within float, date within timestamp, anything else string),
//! nullable when a null was seen, and rules that a fresh sample of the same
//! source passes: the observed range widened by its spread, and `allowed`
//! only for string columns whose few values were each seen often enough to be
//! the whole list. Notes beside each column say what was observed and what is
//! enforced. [`InferMode::Strict`] enforces exactly what was observed instead.
//! Either is a starting point to edit, as TFDV's `infer_schema` is.

use super::DataError;
use super::read::{self, Format, Visitor};
use super::sample::Reservoir;
use super::schema::{ColumnSchema, RowBounds, Schema};
use super::value::{
    Cell, ColumnType, format_date, format_timestamp, parse_bool, parse_date, parse_float,
    parse_int, parse_timestamp, shorten,
};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// String columns with at most this many distinct values get `allowed:`.
pub const MAX_ALLOWED_VALUES: usize = 20;

/// ... and, unless strict, only when each value was seen at least this
/// often: a value seen once or twice says the list is likely not complete,
/// and a fresh sample would bring the next rare one.
pub const MIN_CATEGORY_COUNT: u64 = 5;

/// A value longer than this (in bytes) is text, not a category: a column
/// that has one gets no `allowed:` (and the schema no huge value).
pub const MAX_ALLOWED_VALUE_BYTES: usize = 200;

/// How far a bound goes past the observed extreme, in units of that
/// extreme's distance to the median. The largest of n normal values lies
/// about √(2 ln n) deviations out (3 at 300 rows, 3.9 at 2000), so a bound
/// twice as far is one a fresh sample of the same source practically never
/// reaches, while a value off by its whole range still breaks it.
const MARGIN: f64 = 1.0;

/// The same on a log scale, for a column whose values are all positive:
/// upper = max·(max/median)^FACTOR_MARGIN. A skewed column's tail (latencies,
/// sizes, prices) grows by factors, not by steps, and a fresh sample's
/// largest value outruns the additive margin.
const FACTOR_MARGIN: f64 = 0.5;

/// Values kept per column for its median. A thousand place it within a few
/// hundredths of a standard deviation, which a margin of a whole spread does
/// not notice, in 8 KB a column (a file may have 10 000 columns).
const MEDIAN_SAMPLE: usize = 1_000;

/// Widened float bounds are rounded outwards to this fraction of the range
/// they enclose (three significant digits of it): `107.8`, not `107.71234`.
const FLOAT_ROUNDING: f64 = 1e-3;

/// How close an inferred schema fits the data it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InferMode {
    /// Ranges widened by their spread, `allowed` only for lists seen whole:
    /// a fresh sample of the same source passes.
    Widened,
    /// The observed ranges, `allowed` for every string column of at most
    /// [`MAX_ALLOWED_VALUES`] values: a fresh sample will often fail.
    Strict,
}

/// An inferred schema, and for each of its columns (in its order) at most
/// two lines saying what was observed and what is enforced, for
/// [`Schema::to_yaml_with_notes`].
#[derive(Clone, Debug)]
pub struct Inferred {
    pub schema: Schema,
    pub notes: Vec<Vec<String>>,
}

/// Infers a schema from the dataset at `path` (format from its extension).
pub fn infer_schema(path: &Path) -> Result<Schema, DataError> {
    infer_schema_as(path, None)
}

/// Infers a schema, reading the file as `format` when given.
pub fn infer_schema_as(path: &Path, format: Option<Format>) -> Result<Schema, DataError> {
    infer_schema_with_notes(path, format, InferMode::Widened).map(|inferred| inferred.schema)
}

/// Infers a schema as `mode` says, with the notes that explain it.
pub fn infer_schema_with_notes(
    path: &Path,
    format: Option<Format>,
    mode: InferMode,
) -> Result<Inferred, DataError> {
    let format = Format::resolve(format, path)?;
    let mut inference = Inference::default();
    read::read(path, format, &mut inference)?;
    inference.check_names(path)?;
    let (columns, notes) = inference
        .columns
        .iter()
        .map(|column| column.infer(mode))
        .unzip();
    let mut schema = Schema::new(columns);
    schema.format = Some(format);
    // A file with a header and no rows gets no lower bound, so that the
    // schema passes the data it came from.
    schema.rows = RowBounds {
        min: (inference.rows > 0).then_some(1),
        max: None,
    };
    Ok(Inferred { schema, notes })
}

#[derive(Default)]
struct Inference {
    columns: Vec<InferredColumn>,
    rows: u64,
}

impl Inference {
    /// Refuses data that no schema can name: no columns at all, or names
    /// that a schema's keys cannot tell apart (they are compared ignoring
    /// case, as in workflow files).
    fn check_names(&self, path: &Path) -> Result<(), DataError> {
        if self.columns.is_empty() {
            return Err(DataError::malformed(
                path,
                "no columns to infer a schema from: the file holds no row",
            ));
        }
        let mut seen: HashMap<String, &str> = HashMap::new();
        for column in &self.columns {
            if let Some(first) = seen.insert(column.name.to_ascii_lowercase(), &column.name) {
                return Err(DataError::malformed(
                    path,
                    format!(
                        "columns `{}` and `{}` differ only in case: a schema's keys are compared ignoring case, so no schema can name both",
                        shorten(first),
                        shorten(&column.name)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Visitor for Inference {
    fn columns(&mut self, names: &[String]) {
        for name in names.iter().skip(self.columns.len()) {
            let mut column = InferredColumn::new(name);
            column.nulls = self.rows;
            self.columns.push(column);
        }
    }

    fn row(&mut self, row: u64, cells: &[Cell<'_>]) {
        self.rows = row;
        for (i, column) in self.columns.iter_mut().enumerate() {
            column.add(cells.get(i).copied().unwrap_or(Cell::Null));
        }
    }
}

struct InferredColumn {
    name: String,
    kind: Option<ColumnType>,
    nulls: u64,
    /// Values that are not null.
    values: u64,
    /// Ranges per kind of value: numbers, dates (days), timestamps (seconds).
    numbers: Range,
    dates: Range,
    timestamps: Range,
    /// A sample of the values in the ranges, for the median: numbers as
    /// they are, dates and timestamps in seconds. Only numbers, or dates
    /// and timestamps, ever end in one column with bounds.
    sample: Reservoir,
    /// How many values went into `sample`.
    sampled: u64,
    /// How often each string or boolean was seen, for up to one more than
    /// [`MAX_ALLOWED_VALUES`] of them: more means no `allowed:`.
    counts: BTreeMap<String, u64>,
    /// A value over [`MAX_ALLOWED_VALUE_BYTES`] was seen: no `allowed:`.
    long_values: bool,
}

#[derive(Clone, Copy)]
struct Range(f64, f64);

impl Range {
    const EMPTY: Range = Range(f64::INFINITY, f64::NEG_INFINITY);

    fn add(&mut self, x: f64) {
        self.0 = self.0.min(x);
        self.1 = self.1.max(x);
    }

    fn merge(self, other: Range) -> Range {
        Range(self.0.min(other.0), self.1.max(other.1))
    }

    /// The least and greatest value, None when no value was added.
    fn extent(self) -> Option<(f64, f64)> {
        (self.0 <= self.1).then_some((self.0, self.1))
    }
}

impl InferredColumn {
    fn new(name: &str) -> Self {
        InferredColumn {
            name: name.to_string(),
            kind: None,
            nulls: 0,
            values: 0,
            numbers: Range::EMPTY,
            dates: Range::EMPTY,
            timestamps: Range::EMPTY,
            sample: Reservoir::with_size(name, MEDIAN_SAMPLE),
            sampled: 0,
            counts: BTreeMap::new(),
            long_values: false,
        }
    }

    fn add(&mut self, cell: Cell<'_>) {
        let kind = match cell {
            Cell::Null => {
                self.nulls += 1;
                return;
            }
            Cell::Text("") => {
                self.nulls += 1;
                return;
            }
            Cell::Float(x) if x.is_nan() => {
                self.nulls += 1;
                return;
            }
            Cell::Text(t) => self.classify(t, true),
            Cell::Str(t) => self.classify(t, false),
            Cell::Int(i) => {
                self.number(i as f64);
                ColumnType::Integer
            }
            Cell::Float(x) => {
                self.number(x);
                ColumnType::Float
            }
            Cell::Bool(b) => {
                self.remember(if b { "true" } else { "false" });
                ColumnType::Boolean
            }
            Cell::Date(d) => {
                self.date(d as f64);
                ColumnType::Date
            }
            Cell::Timestamp(s) => {
                self.timestamp(s);
                ColumnType::Timestamp
            }
        };
        self.values += 1;
        self.kind = Some(match self.kind {
            None => kind,
            Some(seen) => join(seen, kind),
        });
    }

    /// The type of a text; untyped (CSV) text may be a number or boolean,
    /// a typed string only a date or timestamp besides a string.
    fn classify(&mut self, text: &str, untyped: bool) -> ColumnType {
        if self.kind != Some(ColumnType::String) {
            if untyped {
                if let Some(i) = parse_int(text) {
                    self.number(i as f64);
                    return ColumnType::Integer;
                }
                if let Some(x) = parse_float(text) {
                    if x.is_nan() {
                        return self.kind.unwrap_or(ColumnType::Float);
                    }
                    self.number(x);
                    return ColumnType::Float;
                }
                if parse_bool(text).is_some() {
                    self.remember(&text.to_ascii_lowercase());
                    return ColumnType::Boolean;
                }
            }
            if let Some(d) = parse_date(text) {
                self.date(d as f64);
                return ColumnType::Date;
            }
            if let Some(s) = parse_timestamp(text) {
                self.timestamp(s);
                return ColumnType::Timestamp;
            }
        }
        self.remember(text);
        ColumnType::String
    }

    fn number(&mut self, x: f64) {
        self.numbers.add(x);
        self.sample(x);
    }

    fn date(&mut self, days: f64) {
        self.dates.add(days);
        self.sample(days * 86_400.0);
    }

    fn timestamp(&mut self, seconds: f64) {
        self.timestamps.add(seconds);
        self.sample(seconds);
    }

    fn sample(&mut self, x: f64) {
        self.sample.push(x);
        self.sampled += 1;
    }

    fn remember(&mut self, text: &str) {
        if text.len() > MAX_ALLOWED_VALUE_BYTES {
            self.long_values = true;
            return;
        }
        // Past MAX_ALLOWED_VALUES distinct values the column gets no list:
        // counting more would cost a lookup per value for nothing.
        if self.counts.len() > MAX_ALLOWED_VALUES {
            return;
        }
        if let Some(count) = self.counts.get_mut(text) {
            *count += 1;
        } else {
            self.counts.insert(text.to_string(), 1);
        }
    }

    /// The column's schema, and the notes that explain its rules.
    fn infer(&self, mode: InferMode) -> (ColumnSchema, Vec<String>) {
        let kind = self.kind.unwrap_or(ColumnType::String);
        let mut column = ColumnSchema::new(&self.name, kind);
        column.nullable = self.nulls > 0 || self.kind.is_none();
        let notes = match kind {
            ColumnType::Integer | ColumnType::Float | ColumnType::Date | ColumnType::Timestamp => {
                let observed = self.observed(kind);
                let bounds = observed.map(|o| bounds(kind, o, mode)).unwrap_or_default();
                // A bound the schema cannot write (an infinity, a date past
                // year 9999) is left out: the column is unbounded on that side.
                column.min = bounds.lower.filter(|&x| writable(kind, x));
                column.max = bounds.upper.filter(|&x| writable(kind, x));
                bound_notes(&self.name, kind, observed, bounds, &column, mode)
            }
            ColumnType::String if self.kind.is_some() => {
                let (allowed, note) = self.categories(mode);
                column.allowed = allowed;
                vec![note]
            }
            ColumnType::String | ColumnType::Boolean => Vec::new(),
        };
        (column, notes)
    }

    /// What the values of a numeric, date or timestamp column showed, in
    /// the unit of its bounds; None when it had no value.
    fn observed(&self, kind: ColumnType) -> Option<Observed> {
        let (range, seconds_per_unit) = match kind {
            ColumnType::Date => (self.dates, 86_400.0),
            ColumnType::Timestamp => {
                let days = Range(self.dates.0 * 86_400.0, self.dates.1 * 86_400.0);
                (self.timestamps.merge(days), 1.0)
            }
            _ => (self.numbers, 1.0),
        };
        let (min, max) = range.extent()?;
        let median = median(self.sample.values())? / seconds_per_unit;
        Some(Observed {
            count: self.sampled,
            min,
            max,
            median,
        })
    }

    /// A string column's `allowed:` list, and the note that says why it has
    /// one or not.
    fn categories(&self, mode: InferMode) -> (Option<Vec<String>>, String) {
        let name = shorten(&self.name);
        let n = self.counts.len();
        if self.long_values {
            return (
                None,
                format!(
                    "{name}: a value over {MAX_ALLOWED_VALUE_BYTES} bytes is text, not a category: no allowed list"
                ),
            );
        }
        if n > MAX_ALLOWED_VALUES {
            return (
                None,
                format!("{name}: more than {MAX_ALLOWED_VALUES} values: no allowed list"),
            );
        }
        // Fewer counted than seen: numbers or dates came before the first
        // text made this a string column, and `counts` does not hold them.
        if self.counts.values().sum::<u64>() < self.values {
            return (
                None,
                format!("{name}: numbers or dates mixed with text: no allowed list"),
            );
        }
        let values = || Some(self.counts.keys().cloned().collect());
        if mode == InferMode::Strict {
            return (
                values(),
                format!(
                    "{name}: {n} value{}: allowed as observed (--strict)",
                    plural(n as u64)
                ),
            );
        }
        let rarest = self.counts.iter().min_by_key(|&(_, &count)| count);
        match rarest {
            Some((value, &count)) if count < MIN_CATEGORY_COUNT => (
                None,
                format!(
                    "{name}: {n} value{}, `{}` seen {}: not closed, no allowed list (add one when the list is complete)",
                    plural(n as u64),
                    shorten(value),
                    times(count)
                ),
            ),
            _ => (
                values(),
                format!(
                    "{name}: {n} value{}, each seen at least {}: closed, so allowed",
                    plural(n as u64),
                    times(rarest.map_or(0, |(_, &count)| count))
                ),
            ),
        }
    }
}

/// What a column's values showed, in the unit of its bounds (numbers,
/// days, seconds).
#[derive(Clone, Copy, Debug)]
struct Observed {
    count: u64,
    min: f64,
    max: f64,
    median: f64,
}

/// The bounds a column gets, in its unit, and what shaped them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Bounds {
    lower: Option<f64>,
    upper: Option<f64>,
    /// The upper bound is the multiplicative one.
    by_factor: bool,
    /// The lower bound was raised to 0.
    clamped: bool,
}

fn bounds(kind: ColumnType, observed: Observed, mode: InferMode) -> Bounds {
    let bounds = match mode {
        InferMode::Strict => Bounds {
            lower: Some(observed.min),
            upper: Some(observed.max),
            ..Bounds::default()
        },
        // One value says nothing of how far the next may fall from it.
        InferMode::Widened if observed.count < 2 => return Bounds::default(),
        InferMode::Widened => widen(kind, observed),
    };
    round_outwards(kind, bounds, mode)
}

/// The observed range widened by [`MARGIN`] times each extreme's distance
/// to the median (by [`FACTOR_MARGIN`] on a log scale at the top of a
/// positive numeric column, where that is wider); a numeric column never
/// negative stays at or above 0.
fn widen(kind: ColumnType, o: Observed) -> Bounds {
    let numeric = matches!(kind, ColumnType::Integer | ColumnType::Float);
    let mut upper = o.max + MARGIN * (o.max - o.median);
    let mut by_factor = false;
    if numeric && o.min > 0.0 {
        let factor = (o.max.ln() + FACTOR_MARGIN * (o.max.ln() - o.median.ln())).exp();
        if factor > upper {
            upper = factor;
            by_factor = true;
        }
    }
    let mut lower = o.min - MARGIN * (o.median - o.min);
    let clamped = numeric && o.min >= 0.0 && lower < 0.0;
    if clamped {
        lower = 0.0;
    }
    Bounds {
        lower: Some(lower),
        upper: Some(upper),
        by_factor,
        clamped,
    }
}

/// Bounds a schema writes: integers, days and seconds whole, widened floats
/// to three significant digits of their range; always outwards, so every
/// value the bounds held they still hold.
fn round_outwards(kind: ColumnType, bounds: Bounds, mode: InferMode) -> Bounds {
    let exponent = match (kind, mode) {
        (ColumnType::Float, InferMode::Strict) => return bounds,
        (ColumnType::Float, InferMode::Widened) => match float_step(bounds.lower, bounds.upper) {
            Some(exponent) => exponent,
            None => return bounds,
        },
        // Whole numbers, days and seconds.
        _ => 0,
    };
    Bounds {
        lower: bounds.lower.map(|x| to_power_of_ten(x, exponent, false)),
        upper: bounds.upper.map(|x| to_power_of_ten(x, exponent, true)),
        ..bounds
    }
}

/// The power of ten that float bounds are rounded to: [`FLOAT_ROUNDING`]
/// of their range, None when the range is empty or not finite.
fn float_step(lower: Option<f64>, upper: Option<f64>) -> Option<i32> {
    let range = upper? - lower?;
    let exponent = (range * FLOAT_ROUNDING).log10().floor();
    // Powers of ten are exact doubles up to 10^22.
    (range.is_finite() && range > 0.0 && exponent.abs() <= 22.0).then_some(exponent as i32)
}

/// `x` rounded down (or up) to a multiple of 10^`exponent`, or `x` itself
/// where that multiple falls on the wrong side of it.
fn to_power_of_ten(x: f64, exponent: i32, up: bool) -> f64 {
    // Dividing a whole number by an exact power of ten gives the double
    // nearest the decimal, which prints as written: 1078 / 10 is `107.8`.
    let power = 10f64.powi(exponent.abs());
    let scaled = if exponent >= 0 { x / power } else { x * power };
    let whole = if up { scaled.ceil() } else { scaled.floor() };
    let rounded = if exponent >= 0 {
        whole * power
    } else {
        whole / power
    };
    let outwards = if up { rounded >= x } else { rounded <= x };
    if rounded.is_finite() && outwards {
        rounded
    } else {
        x
    }
}

/// The middle of `values` (the mean of the two middle ones for an even
/// count), None for none.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => sorted.get(mid).copied(),
        _ => Some((sorted.get(mid - 1)? + sorted.get(mid)?) / 2.0),
    }
}

/// A bounded column's notes: what was observed, then what is enforced and why.
fn bound_notes(
    name: &str,
    kind: ColumnType,
    observed: Option<Observed>,
    bounds: Bounds,
    column: &ColumnSchema,
    mode: InferMode,
) -> Vec<String> {
    let name = shorten(name);
    let Some(o) = observed else {
        return vec![format!("{name}: no values, so no bounds")];
    };
    // As many decimals as three significant digits of the range need;
    // all of them where the range is none.
    let decimals = float_step(Some(o.min), Some(o.max))
        .map(|exponent| exponent.clamp(-12, 0).unsigned_abs() as usize);
    let show = |x: f64| show(kind, x, decimals);
    let seen = format!(
        "{name}: {} value{}, observed {} to {} (median {})",
        o.count,
        plural(o.count),
        show(o.min),
        show(o.max),
        show(o.median)
    );
    if bounds == Bounds::default() {
        return vec![format!("{seen}; too few to tell a spread, so no bounds")];
    }
    let exact = |x: f64| match kind {
        ColumnType::Float | ColumnType::Integer => format!("{x}"),
        _ => show(x),
    };
    let enforced = match (column.min, column.max) {
        (Some(lower), Some(upper)) => format!("{} to {}", exact(lower), exact(upper)),
        (Some(lower), None) => format!("at least {}", exact(lower)),
        (None, Some(upper)) => format!("at most {}", exact(upper)),
        (None, None) => "no bounds".to_string(),
    };
    let mut why = vec![match mode {
        InferMode::Strict => "as observed (--strict)",
        InferMode::Widened => "the observed range widened by its spread about the median",
    }];
    if bounds.by_factor {
        why.push("the top by a factor (every value positive)");
    }
    if bounds.clamped {
        why.push("not below 0 (no value was)");
    }
    if column.min.is_none() || column.max.is_none() {
        why.push("none past what a schema can write");
    }
    vec![seen, format!("enforced {enforced}: {}", why.join(", "))]
}

/// A value of a `kind` column for a note: floats to `decimals` places,
/// dates and timestamps as a schema writes them.
fn show(kind: ColumnType, x: f64, decimals: Option<usize>) -> String {
    match (kind, decimals) {
        (ColumnType::Date, _) if x.abs() < 1e9 => format_date(x.round() as i64),
        (ColumnType::Timestamp, _) if x.abs() < 1e15 => format_timestamp(x),
        (ColumnType::Float, Some(decimals)) if x.is_finite() => format!("{x:.decimals$}"),
        _ => format!("{x}"),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn times(n: u64) -> String {
    match n {
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    }
}

/// Whether a schema can hold `x` as a bound of a `kind` column: schemas
/// write numbers as YAML numbers (finite ones only), dates as `YYYY-MM-DD`
/// and timestamps as `YYYY-MM-DDTHH:MM:SSZ`, which must read back the same.
fn writable(kind: ColumnType, x: f64) -> bool {
    match kind {
        ColumnType::Date => x.abs() < 1e9 && parse_date(&format_date(x as i64)) == Some(x as i64),
        ColumnType::Timestamp => x.abs() < 1e15 && parse_timestamp(&format_timestamp(x)) == Some(x),
        _ => x.is_finite(),
    }
}

/// The narrowest type that holds values of both types.
fn join(a: ColumnType, b: ColumnType) -> ColumnType {
    use ColumnType as T;
    match (a, b) {
        _ if a == b => a,
        (T::Integer, T::Float) | (T::Float, T::Integer) => T::Float,
        (T::Date, T::Timestamp) | (T::Timestamp, T::Date) => T::Timestamp,
        _ => T::String,
    }
}

#[cfg(test)]
mod tests;
