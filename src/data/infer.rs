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
mod tests {
    use super::*;

    /// A column named `c` of `cells`, inferred as `mode` says.
    fn infer(cells: &[Cell<'_>], mode: InferMode) -> (ColumnSchema, Vec<String>) {
        let mut column = InferredColumn::new("c");
        for &cell in cells {
            column.add(cell);
        }
        column.infer(mode)
    }

    fn floats(values: &[f64]) -> Vec<Cell<'static>> {
        values.iter().map(|&x| Cell::Float(x)).collect()
    }

    fn ints(values: &[i64]) -> Vec<Cell<'static>> {
        values.iter().map(|&i| Cell::Int(i)).collect()
    }

    fn bounds_of(cells: &[Cell<'_>], mode: InferMode) -> (Option<f64>, Option<f64>) {
        let (column, _) = infer(cells, mode);
        (column.min, column.max)
    }

    #[test]
    fn types_join_to_the_narrowest_that_holds_both() {
        use ColumnType as T;
        assert_eq!(join(T::Integer, T::Float), T::Float);
        assert_eq!(join(T::Date, T::Timestamp), T::Timestamp);
        assert_eq!(join(T::Integer, T::Boolean), T::String);
        assert_eq!(join(T::Date, T::Float), T::String);
    }

    #[test]
    fn bounds_widen_by_each_extremes_distance_to_the_median() {
        // Median 1: down 11 from -10, up 29 from 30.
        let cells = floats(&[-10.0, 0.0, 1.0, 2.0, 30.0]);
        assert_eq!(
            bounds_of(&cells, InferMode::Widened),
            (Some(-21.0), Some(59.0))
        );
        let (_, notes) = infer(&cells, InferMode::Widened);
        assert_eq!(
            notes,
            [
                "c: 5 values, observed -10.00 to 30.00 (median 1.00)",
                "enforced -21 to 59: the observed range widened by its spread about the median"
            ]
        );
        // Strict keeps what was seen.
        assert_eq!(
            bounds_of(&cells, InferMode::Strict),
            (Some(-10.0), Some(30.0))
        );
    }

    #[test]
    fn a_positive_skewed_column_grows_by_a_factor_at_the_top() {
        // Median 3: 100 + 97 = 197 by steps, 100·√(100/3) = 577.35 by a factor.
        let cells = floats(&[1.0, 2.0, 4.0, 100.0]);
        let (column, notes) = infer(&cells, InferMode::Widened);
        assert_eq!((column.min, column.max), (Some(0.0), Some(577.4)));
        assert!(
            notes[1].contains("the top by a factor (every value positive), not below 0"),
            "{notes:?}"
        );
        // With a value at 0 the factor rule has no ground: by steps only.
        let cells = floats(&[0.0, 2.0, 4.0, 100.0]);
        assert_eq!(
            bounds_of(&cells, InferMode::Widened),
            (Some(0.0), Some(197.0))
        );
    }

    #[test]
    fn only_a_column_never_negative_is_kept_at_or_above_zero() {
        // Median 10.5: 1 - 9.5 would be below 0, where no value was.
        assert_eq!(
            bounds_of(&ints(&[1, 10, 11, 12]), InferMode::Widened).0,
            Some(0.0)
        );
        // One negative value: the lower bound goes where the spread says.
        assert_eq!(
            bounds_of(&ints(&[-1, 10, 11, 12]), InferMode::Widened).0,
            Some(-13.0)
        );
    }

    #[test]
    fn integer_date_and_timestamp_bounds_round_outwards_to_whole_units() {
        // Median -2.5: -6 - 3.5 = -9.5 and -1 + 1.5 = 0.5.
        assert_eq!(
            bounds_of(&ints(&[-6, -3, -2, -1]), InferMode::Widened),
            (Some(-10.0), Some(1.0))
        );
        // Days d, d+1, d+2, d+4: median d+1.5, so d-1.5 and d+6.5.
        let days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05"];
        let cells: Vec<Cell<'_>> = days.iter().map(|&d| Cell::Text(d)).collect();
        let (column, notes) = infer(&cells, InferMode::Widened);
        let day = |d: &str| parse_date(d).map(|d| d as f64);
        assert_eq!(
            (column.min, column.max),
            (day("2023-12-30"), day("2024-01-08"))
        );
        assert_eq!(
            notes[0],
            "c: 4 values, observed 2024-01-01 to 2024-01-05 (median 2024-01-03)"
        );
        // Seconds 0.5, 1 and 2.25 past t: median 1, so t + 0 and t + 3.5.
        let times = [
            "2024-01-01T00:00:00.5Z",
            "2024-01-01T00:00:01Z",
            "2024-01-01T00:00:02.25Z",
        ];
        let cells: Vec<Cell<'_>> = times.iter().map(|&t| Cell::Text(t)).collect();
        let t = parse_timestamp("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(
            bounds_of(&cells, InferMode::Widened),
            (Some(t), Some(t + 4.0))
        );
    }

    #[test]
    fn float_bounds_round_outwards_to_a_short_decimal() {
        assert_eq!(to_power_of_ten(107.712, -1, true), 107.8);
        assert_eq!(to_power_of_ten(-7.512, -1, false), -7.6);
        assert_eq!(to_power_of_ten(1234.5, 2, true), 1300.0);
        assert_eq!(to_power_of_ten(-1234.5, 2, true), -1200.0);
        // Never inwards, and always as short as the step.
        for i in 0..1000 {
            let x = f64::from(i) * 0.0137 - 3.0;
            let (down, up) = (to_power_of_ten(x, -2, false), to_power_of_ten(x, -2, true));
            assert!(down <= x && x <= up, "{x}: {down} {up}");
            assert!(format!("{up}").len() <= 5, "{up}");
        }
        // Not a finite range: nothing to round to.
        assert_eq!(float_step(Some(0.0), Some(f64::INFINITY)), None);
        assert_eq!(float_step(Some(1.0), Some(1.0)), None);
        assert_eq!(float_step(Some(0.0), Some(115.3)), Some(-1));
    }

    #[test]
    fn one_value_gives_no_bounds_unless_strict() {
        let cells = floats(&[4.5]);
        let (column, notes) = infer(&cells, InferMode::Widened);
        assert_eq!((column.min, column.max), (None, None));
        assert_eq!(
            notes,
            [
                "c: 1 value, observed 4.5 to 4.5 (median 4.5); too few to tell a spread, so no bounds"
            ]
        );
        assert_eq!(bounds_of(&cells, InferMode::Strict), (Some(4.5), Some(4.5)));
        // Infinities are observed but never written.
        let cells = floats(&[f64::NEG_INFINITY, 1.0, f64::INFINITY]);
        let (column, notes) = infer(&cells, InferMode::Widened);
        assert_eq!((column.min, column.max), (None, None));
        assert!(
            notes[1].ends_with("none past what a schema can write"),
            "{notes:?}"
        );
    }

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    fn texts(counts: &[(&'static str, usize)]) -> Vec<Cell<'static>> {
        counts
            .iter()
            .flat_map(|&(text, n)| std::iter::repeat_n(Cell::Text(text), n))
            .collect()
    }

    #[test]
    fn allowed_is_written_only_for_a_list_seen_whole_unless_strict() {
        let closed = texts(&[("a", 9), ("b", 5), ("c", 30)]);
        let (column, notes) = infer(&closed, InferMode::Widened);
        assert_eq!(
            column.allowed,
            Some(vec!["a".to_string(), "b".to_string(), "c".to_string()])
        );
        assert_eq!(
            notes,
            ["c: 3 values, each seen at least 5 times: closed, so allowed"]
        );
        // `b` seen four times: the next sample may bring a value not yet seen.
        let open = texts(&[("a", 9), ("b", 4), ("c", 30)]);
        let (column, notes) = infer(&open, InferMode::Widened);
        assert_eq!(column.allowed, None);
        assert_eq!(
            notes,
            [
                "c: 3 values, `b` seen 4 times: not closed, no allowed list (add one when the list is complete)"
            ]
        );
        let (column, notes) = infer(&texts(&[("a", 1), ("b", 1)]), InferMode::Strict);
        assert_eq!(column.allowed, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(notes, ["c: 2 values: allowed as observed (--strict)"]);
        // Too many values is no list, however often each was seen.
        let names: Vec<String> = (0..=MAX_ALLOWED_VALUES).map(|i| format!("v{i}")).collect();
        let many: Vec<Cell<'_>> = names
            .iter()
            .flat_map(|name| std::iter::repeat_n(Cell::Text(name), 10))
            .collect();
        for mode in [InferMode::Widened, InferMode::Strict] {
            let (column, notes) = infer(&many, mode);
            assert_eq!(column.allowed, None);
            assert_eq!(notes, ["c: more than 20 values: no allowed list"]);
        }
    }

    #[test]
    fn a_column_that_turned_text_after_numbers_gets_no_allowed_list() {
        // `1` was read as a number before `x` made the column text: a list
        // of [true, x] would refuse the `1` it came from.
        let cells = texts(&[("1", 5), ("true", 5), ("x", 5)]);
        let (column, notes) = infer(&cells, InferMode::Strict);
        assert_eq!(column.kind, ColumnType::String);
        assert_eq!(column.allowed, None);
        assert_eq!(
            notes,
            ["c: numbers or dates mixed with text: no allowed list"]
        );
    }

    #[test]
    fn an_inferred_schema_round_trips_through_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(
            &path,
            "n,x,s,b,d,t,id,empty,\"line\nbreak\"\n1,1.5,a b,true,2024-01-02,2024-01-02T03:04:05Z,k1,,\"x\u{85}y\"\n2,,\"null\",false,2024-02-01,2024-01-03,k2,,\"x\u{85}y\"\n3,2,a b,TRUE,2024-01-01,2024-01-02T00:00:00+02:00,k3,,z\n",
        )
        .unwrap();
        let strict = infer_schema_with_notes(&path, None, InferMode::Strict).unwrap();
        let schema = &strict.schema;
        let kinds: Vec<ColumnType> = schema.columns.iter().map(|c| c.kind).collect();
        use ColumnType as T;
        assert_eq!(
            kinds,
            [
                T::Integer,
                T::Float,
                T::String,
                T::Boolean,
                T::Date,
                T::Timestamp,
                T::String,
                T::String,
                T::String
            ]
        );
        let x = schema.column("x").unwrap();
        assert!(x.nullable);
        assert_eq!((x.min, x.max), (Some(1.5), Some(2.0)));
        assert_eq!(
            schema.column("s").unwrap().allowed,
            Some(vec!["a b".to_string(), "null".to_string()])
        );
        assert_eq!(
            schema.column("d").unwrap().min,
            parse_date("2024-01-01").map(|d| d as f64)
        );
        assert_eq!(
            schema.column("t").unwrap().min,
            parse_timestamp("2024-01-01T22:00:00Z")
        );
        assert!(schema.column("empty").unwrap().nullable);
        // Strict or widened, with notes that hold a line break and a NEL
        // from the data, the schema reads back as written and passes its data.
        let widened = infer_schema_with_notes(&path, None, InferMode::Widened).unwrap();
        assert_eq!(
            widened.notes.last().map(Vec::as_slice),
            Some(
                &["line\nbreak: 2 values, `z` seen once: not closed, no allowed list (add one when the list is complete)".to_string()][..]
            )
        );
        for inferred in [strict, widened] {
            let yaml = inferred
                .schema
                .to_yaml_with_notes("a header\nof two lines", &inferred.notes);
            assert!(yaml.starts_with("# a header\n# of two lines\n"), "{yaml}");
            assert!(yaml.contains("  # line\\nbreak: 2 values"), "{yaml}");
            let back = Schema::parse(Path::new("s.yml"), &yaml).unwrap();
            assert_eq!(back, inferred.schema, "{yaml}");
            let validation = crate::data::validate(&path, &back, None).unwrap();
            assert!(validation.passed(), "{validation}\n{yaml}");
        }
    }
}
