//! A step's `validate:` checks: the dataset against its schema, and its
//! statistics against those the baseline run stored (drift). The data is
//! read where the job left it on the host, in one streaming pass.

use crate::cache::FileIndex;
use crate::data::{DatasetStats, Schema};
use crate::executor::Backend;
use crate::record::{ColumnDrift, DataCheckRecord};
use crate::run::step::StepCtx;
use crate::workflow::DriftSetting;
use std::path::Path;

/// Checks `data` against `schema` (both relative to `root`); the record of
/// the check, or one sentence when it could not be made (a bad schema, a
/// file that is not there or not a dataset).
pub(super) fn check<B: Backend>(
    ctx: &StepCtx<'_, B>,
    root: &Path,
    data: &str,
    schema_path: &str,
    drift: Option<DriftSetting>,
) -> Result<DataCheckRecord, String> {
    let data = data.trim_start_matches("./");
    let schema_path = schema_path.trim_start_matches("./");
    // A step may have made either file a symlink: only what lies in the
    // workspace is read.
    let schema_file = crate::confine::resolve(root, schema_path, "the workspace")
        .map_err(|e| format!("cannot read the schema {schema_path}: {e}"))?;
    let text = std::fs::read_to_string(&schema_file)
        .map_err(|e| format!("cannot read the schema {schema_path}: {e}"))?;
    // Errors name the file as the workflow does, not the host directory.
    let mut schema = Schema::parse(Path::new(schema_path), &text).map_err(|e| e.to_string())?;
    match drift {
        Some(DriftSetting::Off) => {
            schema.drift = None;
            for column in &mut schema.columns {
                column.drift = crate::data::DriftSetting::Off;
            }
        }
        // The threshold of distances; the method and p-value stay the schema's.
        Some(DriftSetting::Threshold(t)) => {
            schema.drift = Some(crate::data::SchemaDrift {
                threshold: Some(t),
                ..schema.drift.unwrap_or_default()
            })
        }
        None => {}
    }
    let baseline: Option<DatasetStats> = ctx
        .shared
        .options
        .dataset_baselines
        .get(data)
        .and_then(|json| DatasetStats::from_json(json).ok());
    let file = crate::confine::resolve(root, data, "the workspace")
        .map_err(|e| format!("cannot validate {data}: {e}"))?;
    if !file.is_file() {
        return Err(format!(
            "cannot validate {data}: no such file in the workspace"
        ));
    }
    // Read first: a file that is no dataset (a 3 GB hole, /dev/zero's like)
    // is refused within the reader's limits, before a hash reads it whole.
    let validation = crate::data::validate(&file, &schema, baseline.as_ref())
        .map_err(|e| e.named(Path::new(data)).to_string())?;
    // Through the cache's file index: a dataset the run already hashed (an
    // input or output of a cached step) is a stat, not a second read.
    let hash = std::fs::metadata(&file)
        .and_then(|metadata| match ctx.shared.cache.as_ref() {
            Some(cache) => cache.store().index().hash_file(&file, &metadata),
            None => FileIndex::in_memory().hash_file(&file, &metadata),
        })
        .map(|h| h.to_hex().to_string())
        .map_err(|e| format!("cannot read {data}: {e}"))?;
    let failures: Vec<String> = validation.failures.iter().map(|f| f.to_string()).collect();
    let name = ctx.name;
    if failures.is_empty() {
        let against = if baseline.is_some() {
            ", no drift from the baseline run"
        } else {
            ""
        };
        ctx.shared.print(
            name,
            &format!(
                "✓ {data} matches {schema_path} ({} rows{against})",
                validation.stats.rows
            ),
        );
    } else {
        ctx.shared.print(
            name,
            &format!(
                "✗ {data} does not match {schema_path}: {} failed",
                failures.len()
            ),
        );
        for failure in &failures {
            ctx.shared.print(name, &format!("  {failure}"));
        }
    }
    Ok(DataCheckRecord {
        path: data.to_string(),
        hash,
        schema: schema_path.to_string(),
        passed: failures.is_empty(),
        failures,
        drift: validation
            .drift
            .iter()
            .map(|d| ColumnDrift {
                column: d.column.clone(),
                measure: d.method.map(|m| m.key().to_string()).unwrap_or_default(),
                statistic: d.statistic,
                p_value: d.p_value,
                p_adjusted: d.p_adjusted,
                p_threshold: Some(d.p_threshold),
                threshold: d.threshold,
                baseline_values: d.baseline_values,
                current_values: d.current_values,
                drifted: d.drifted,
                note: d.note.clone(),
            })
            .collect(),
        stats: Some(validation.stats.to_json()),
    })
}
