//! Data validation: a dataset (CSV, Parquet, JSON lines) checked against a
//! schema that says what it must look like, and against the statistics of an
//! earlier dataset for drift, as TFDV and Great Expectations do.
//!
//! ```text
//! file ──read──▶ rows of cells            read::  (streamed, bounded memory)
//!      ──stats─▶ per-column statistics     stats::, sample::
//!      ──check─▶ failures by column/rule   check::, drift::
//!      ──report▶ Validation (+ DatasetStats JSON for the run store)   validate::
//! ```
//!
//! The schema is YAML (`schema`, read by `schema_parse` with positions), and
//! `infer` writes a first one from the data. `mlci data` (cli::data) is the
//! command line over this module; the run engine may call [`Schema::load`],
//! [`validate`] and store [`DatasetStats`] the same way.

mod check;
mod drift;
mod error;
mod infer;
mod read;
mod sample;
mod schema;
mod schema_parse;
mod stats;
mod validate;
mod value;

pub use check::{Example, Failure, MAX_EXAMPLES, Rule};
pub use drift::{
    Correction, DEFAULT_P_VALUE, Drift, DriftMethod, DriftRule, MIN_DRIFT_VALUES,
    SMALL_SAMPLE_ROWS, figure, p_figure,
};
pub use error::DataError;
pub use infer::{
    InferMode, Inferred, MAX_ALLOWED_VALUES, MIN_CATEGORY_COUNT, infer_schema, infer_schema_as,
    infer_schema_with_notes,
};
pub use read::Format;
pub use schema::{ColumnSchema, DriftSetting, RowBounds, Schema, SchemaDrift};
pub use stats::{
    ColumnStats, DatasetStats, Frequencies, HISTOGRAM_BINS, Histogram, Quantiles, ValueCount,
};
pub use validate::{Validation, validate};
pub use value::ColumnType;

/// Reads a stats file written by `mlci data validate --stats-out`.
pub fn load_stats(path: &std::path::Path) -> Result<DatasetStats, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    DatasetStats::from_json(&text).map_err(|message| DataError::Stats {
        path: path.to_path_buf(),
        message,
    })
}
