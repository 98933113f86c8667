//! Statistics of a dataset, gathered in one pass and bounded memory: per
//! column the count, nulls, range, mean and standard deviation (Welford's
//! update), and the distribution that drift is measured on: quantiles (and a
//! 20-bin histogram, for people and the Jensen–Shannon distance) of numeric
//! columns, the frequencies of the most common values of the others.
//!
//! [`DatasetStats`] is serde (JSON) because the run store keeps it, to compare
//! a later run's data with it (`--baseline`).

use super::read::Format;
use super::sample::Reservoir;
use super::value::ColumnType;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The version of the JSON below; a reader refuses others.
pub const STATS_VERSION: u32 = 1;
/// Bins of a numeric column's histogram.
pub const HISTOGRAM_BINS: usize = 20;
/// Points kept of a numeric column's distribution (see [`Quantiles`]).
pub const QUANTILES: usize = 1001;
/// Distinct values counted per categorical column; later new values count as "other".
pub const MAX_TRACKED_VALUES: usize = 1000;
/// Values longer than this (in bytes) are counted under `other`.
pub const MAX_TRACKED_VALUE_BYTES: usize = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    pub version: u32,
    pub format: Format,
    pub rows: u64,
    /// In the file's order; only the columns the schema declares (or, for
    /// inference, every column).
    pub columns: Vec<ColumnStats>,
}

impl DatasetStats {
    pub fn column(&self, name: &str) -> Option<&ColumnStats> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Reads stats written by [`DatasetStats::to_json`].
    pub fn from_json(text: &str) -> Result<DatasetStats, String> {
        let stats: DatasetStats = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if stats.version != STATS_VERSION {
            return Err(format!(
                "version {} where this mlci reads version {STATS_VERSION}",
                stats.version
            ));
        }
        Ok(stats)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    pub name: String,
    /// The type the values were read as.
    pub kind: ColumnType,
    /// Values present and of the column's type.
    pub count: u64,
    pub nulls: u64,
    /// Values present but of another type (not in the figures below).
    pub invalid: u64,
    /// Numeric columns (dates as days since 1970, timestamps as seconds).
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Sample standard deviation (n - 1), as pandas' `describe` gives it.
    pub std: Option<f64>,
    pub histogram: Option<Histogram>,
    /// String and boolean columns.
    pub frequencies: Option<Frequencies>,
    /// Numeric columns: the distribution that drift tests compare with
    /// (absent from the stats of mlci before 0.x, which drift reads still).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantiles: Option<Quantiles>,
}

/// Points of a numeric column's sorted values that stand for its
/// distribution: every value of a sample of at most [`QUANTILES`], else
/// that many evenly spaced quantiles of it (from the smallest to the
/// largest), each point standing for the same share of the values. Enough
/// for a Kolmogorov–Smirnov test to within 1/1000.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// The number of values the points summarize (the column's sample).
    pub of: u64,
    pub values: Vec<f64>,
}

impl Quantiles {
    /// From a sample of a column's values, in any order.
    pub fn of_sample(sample: &[f64]) -> Quantiles {
        let mut sorted = sample.to_vec();
        sorted.sort_by(f64::total_cmp);
        let of = sorted.len() as u64;
        let values = if sorted.len() <= QUANTILES {
            sorted
        } else {
            let last = (sorted.len() - 1) as f64;
            (0..QUANTILES)
                .map(|i| {
                    // Linear interpolation between the order statistics.
                    let at = last * i as f64 / (QUANTILES - 1) as f64;
                    let (low, frac) = (at.floor() as usize, at.fract());
                    let high = (low + 1).min(sorted.len() - 1);
                    sorted[low] + (sorted[high] - sorted[low]) * frac
                })
                .collect()
        };
        Quantiles { of, values }
    }
}

/// Equal-width bins between the column's min and max, counted on a
/// deterministic uniform sample of its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// `counts.len() + 1` edges; bin i is `[edges[i], edges[i+1])`, the last closed.
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Bins `values` on `edges`, for a histogram or for drift.
    pub fn build(edges: Vec<f64>, values: &[f64]) -> Histogram {
        let mut counts = vec![0; edges.len().saturating_sub(1).max(1)];
        for &x in values {
            if let Some(bin) = bin_of(&edges, x) {
                counts[bin] += 1;
            }
        }
        Histogram { edges, counts }
    }

    /// `bins` equal-width edges from `min` to `max` (one bin when they are equal).
    pub fn edges(min: f64, max: f64, bins: usize) -> Vec<f64> {
        if max <= min || bins == 0 {
            return vec![min, max];
        }
        let width = (max - min) / bins as f64;
        let mut edges: Vec<f64> = (0..bins).map(|i| min + width * i as f64).collect();
        edges.push(max);
        edges
    }
}

/// The bin of `x` on `edges`, None when it falls outside them.
pub fn bin_of(edges: &[f64], x: f64) -> Option<usize> {
    let (first, last) = (*edges.first()?, *edges.last()?);
    if x < first || x > last || edges.len() < 2 {
        return None;
    }
    // The first edge above x, less one; x == last goes in the last bin.
    let above = edges.partition_point(|&e| e <= x);
    Some(above.saturating_sub(1).min(edges.len() - 2))
}

/// The values of a categorical column by count, most common first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frequencies {
    pub values: Vec<ValueCount>,
    /// Values beyond the first [`MAX_TRACKED_VALUES`] distinct ones.
    pub other: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// Gathers one column's statistics, a value at a time.
#[derive(Clone, Debug)]
pub struct ColumnAccumulator {
    name: String,
    kind: ColumnType,
    count: u64,
    nulls: u64,
    invalid: u64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
    sample: Reservoir,
    /// foldhash, not SipHash: a lookup per string value of a gigabyte,
    /// over at most [`MAX_TRACKED_VALUES`] keys (no flood to defend against).
    counts: HashMap<String, u64, foldhash::fast::RandomState>,
    other: u64,
}

impl ColumnAccumulator {
    pub fn new(name: &str, kind: ColumnType) -> Self {
        ColumnAccumulator {
            name: name.to_string(),
            kind,
            count: 0,
            nulls: 0,
            invalid: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            m2: 0.0,
            sample: Reservoir::new(name),
            counts: HashMap::default(),
            other: 0,
        }
    }

    pub fn null(&mut self) {
        self.nulls += 1;
    }

    pub fn nulls(&mut self, n: u64) {
        self.nulls += n;
    }

    pub fn invalid(&mut self) {
        self.invalid += 1;
    }

    pub fn number(&mut self, x: f64) {
        self.count += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.sample.push(x);
    }

    pub fn text(&mut self, value: &str) {
        self.count += 1;
        // A long value is free text, not a category: it is counted, not kept
        // (the stats stay small whatever the values' size).
        if value.len() > MAX_TRACKED_VALUE_BYTES {
            self.other += 1;
        } else if let Some(n) = self.counts.get_mut(value) {
            *n += 1;
        } else if self.counts.len() < MAX_TRACKED_VALUES {
            self.counts.insert(value.to_string(), 1);
        } else {
            self.other += 1;
        }
    }

    /// The sample the histogram is built from (drift bins it again on the
    /// baseline's edges).
    pub fn sample(&self) -> &[f64] {
        self.sample.values()
    }

    pub fn finish(&self) -> ColumnStats {
        let numeric = self.kind.is_numeric() && self.count > 0;
        let frequencies = (!self.kind.is_numeric()).then(|| {
            let mut values: Vec<ValueCount> = self
                .counts
                .iter()
                .map(|(value, &count)| ValueCount {
                    value: value.clone(),
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            Frequencies {
                values,
                other: self.other,
            }
        });
        ColumnStats {
            name: self.name.clone(),
            kind: self.kind,
            count: self.count,
            nulls: self.nulls,
            invalid: self.invalid,
            min: numeric.then_some(self.min),
            max: numeric.then_some(self.max),
            mean: numeric.then_some(self.mean),
            std: numeric.then(|| {
                if self.count > 1 {
                    (self.m2 / (self.count - 1) as f64).sqrt()
                } else {
                    0.0
                }
            }),
            histogram: numeric.then(|| {
                Histogram::build(
                    Histogram::edges(self.min, self.max, HISTOGRAM_BINS),
                    self.sample.values(),
                )
            }),
            frequencies,
            quantiles: numeric.then(|| Quantiles::of_sample(self.sample.values())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_the_two_pass_figures() {
        let mut acc = ColumnAccumulator::new("x", ColumnType::Float);
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            acc.number(x);
        }
        acc.null();
        let stats = acc.finish();
        assert_eq!((stats.count, stats.nulls), (8, 1));
        assert_eq!(
            (stats.min, stats.max, stats.mean),
            (Some(2.0), Some(9.0), Some(5.0))
        );
        // Sample variance: 32 / 7.
        assert!((stats.std.unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        let histogram = stats.histogram.unwrap();
        assert_eq!(histogram.edges.len(), HISTOGRAM_BINS + 1);
        assert_eq!(histogram.counts.iter().sum::<u64>(), 8);
        assert_eq!(
            histogram.counts[HISTOGRAM_BINS - 1],
            1,
            "9 lands in the last, closed bin"
        );
    }

    #[test]
    fn bins_are_half_open_with_the_last_closed() {
        let edges = Histogram::edges(0.0, 10.0, 10);
        assert_eq!(bin_of(&edges, 0.0), Some(0));
        assert_eq!(bin_of(&edges, 0.99), Some(0));
        assert_eq!(bin_of(&edges, 1.0), Some(1));
        assert_eq!(bin_of(&edges, 10.0), Some(9));
        assert_eq!(bin_of(&edges, 10.5), None);
        assert_eq!(bin_of(&edges, -0.5), None);
        let constant = Histogram::edges(3.0, 3.0, 20);
        assert_eq!(bin_of(&constant, 3.0), Some(0));
    }

    #[test]
    fn frequencies_are_capped_and_sorted() {
        let mut acc = ColumnAccumulator::new("s", ColumnType::String);
        for i in 0..MAX_TRACKED_VALUES + 5 {
            acc.text(&format!("v{i}"));
        }
        acc.text("v7");
        let f = acc.finish().frequencies.unwrap();
        assert_eq!(f.values.len(), MAX_TRACKED_VALUES);
        assert_eq!(f.other, 5);
        assert_eq!((f.values[0].value.as_str(), f.values[0].count), ("v7", 2));
    }

    #[test]
    fn stats_round_trip_through_json() {
        let mut acc = ColumnAccumulator::new("x", ColumnType::Integer);
        acc.number(1.0);
        let stats = DatasetStats {
            version: STATS_VERSION,
            format: Format::Csv,
            rows: 1,
            columns: vec![acc.finish()],
        };
        assert_eq!(DatasetStats::from_json(&stats.to_json()).unwrap(), stats);
        let old = stats.to_json().replace("\"version\": 1", "\"version\": 0");
        assert!(
            DatasetStats::from_json(&old)
                .unwrap_err()
                .contains("version 0")
        );
    }
}
