//! `mlci data schema infer` and `mlci data validate`: the data module's
//! library calls, printed for a terminal (or as JSON) with DESIGN.md's exit
//! statuses: 0 clean, 1 a check failed, 2 a bad schema, file or argument.

use super::args::{DataCommand, DataSchemaCommand, DataValidateArgs};
use super::exit::EXIT_INVALID;
use super::table::{plural, table};
use crate::data::{self, DataError, Format, InferMode, Schema, Validation};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn data(command: DataCommand) -> ExitCode {
    match command {
        DataCommand::Schema(DataSchemaCommand::Infer {
            file,
            output,
            format,
            strict,
        }) => {
            let mode = if strict {
                InferMode::Strict
            } else {
                InferMode::Widened
            };
            infer(&file, output.as_deref(), format.as_deref(), mode)
        }
        DataCommand::Validate(args) => validate(&args),
    }
}

fn invalid(error: &DataError) -> ExitCode {
    match error {
        // Already `file:line:column: error: …`, one per mistake.
        DataError::Schema { rendered, .. } => eprintln!("{rendered}"),
        other => eprintln!("error: {other}"),
    }
    ExitCode::from(EXIT_INVALID)
}

fn infer(file: &Path, output: Option<&Path>, format: Option<&str>, mode: InferMode) -> ExitCode {
    let inferred =
        match data::infer_schema_with_notes(file, format.and_then(Format::from_name), mode) {
            Ok(inferred) => inferred,
            Err(e) => return invalid(&e),
        };
    let header = match mode {
        InferMode::Widened => format!(
            "mlci data schema, inferred from {} by `mlci data schema infer`.\n\
             Bounds are the observed ranges widened by their spread, and `allowed` lists only\n\
             values each seen at least {} times, so that a fresh sample of the same source passes.\n\
             Edit them to what the data must satisfy.",
            file.display(),
            data::MIN_CATEGORY_COUNT
        ),
        InferMode::Strict => format!(
            "mlci data schema, inferred from {} by `mlci data schema infer --strict`.\n\
             Bounds and allowed values are exactly those observed: a fresh sample of the same\n\
             source will often fail them. Edit them to what the data must satisfy.",
            file.display()
        ),
    };
    let schema = &inferred.schema;
    let yaml = schema.to_yaml_with_notes(&header, &inferred.notes);
    match output {
        None => print!("{yaml}"),
        Some(path) => {
            if let Err(e) = std::fs::write(path, yaml) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(EXIT_INVALID);
            }
            eprintln!(
                "wrote {} ({} column{})",
                path.display(),
                schema.columns.len(),
                plural(schema.columns.len())
            );
        }
    }
    ExitCode::SUCCESS
}

fn validate(args: &DataValidateArgs) -> ExitCode {
    let schema = match Schema::load(&args.schema) {
        Ok(schema) => schema,
        Err(e) => return invalid(&e),
    };
    let baseline = match args.baseline.as_deref().map(data::load_stats).transpose() {
        Ok(baseline) => baseline,
        Err(e) => return invalid(&e),
    };
    let validation = match data::validate(&args.file, &schema, baseline.as_ref()) {
        Ok(v) => v,
        Err(e) => return invalid(&e),
    };
    if let Some(path) = &args.stats_out
        && let Err(e) = std::fs::write(path, validation.stats.to_json())
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::from(EXIT_INVALID);
    }
    if args.json {
        let value = json!({
            "file": args.file.display().to_string(),
            "schema": args.schema.display().to_string(),
            "passed": validation.passed(),
            "failures": validation.failures,
            "messages": validation.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "drift": validation.drift,
            "stats": validation.stats,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print!("{}", summary(args, &validation, baseline.is_some()));
    }
    if validation.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The failures one per line, the drift table, and a last line that says how it went.
fn summary(args: &DataValidateArgs, validation: &Validation, with_baseline: bool) -> String {
    let mut out = String::new();
    out.push_str(&validation.to_string());
    if with_baseline {
        if validation.drift.is_empty() {
            out.push_str("drift: no column to compare with the baseline\n");
        } else {
            out.push_str("drift from the baseline:\n");
            out.push_str(&drift_table(validation));
        }
    }
    let stats = &validation.stats;
    let n = validation.failures.len();
    let verdict = if n == 0 {
        "ok".to_string()
    } else {
        format!("FAILED: {n} check{} failed", plural(n))
    };
    out.push_str(&format!(
        "{verdict}: {} ({}, {} row{}, {} column{} checked against {})\n",
        args.file.display(),
        stats.format,
        stats.rows,
        plural(stats.rows as usize),
        stats.columns.len(),
        plural(stats.columns.len()),
        args.schema.display()
    ));
    out
}

/// One row per column: the method, its figure, the p-value (corrected for
/// the columns tested), what the column drifts at, the values compared on
/// each side, and the verdict; then how the p-values were corrected.
fn drift_table(validation: &Validation) -> String {
    use crate::data::{Correction, figure, p_figure};
    let header = [
        "COLUMN",
        "METHOD",
        "STATISTIC",
        "P-VALUE",
        "DRIFTS AT",
        "VALUES",
        "",
    ];
    let mut rows = vec![header.map(str::to_string)];
    for d in &validation.drift {
        let statistic = match (d.method, d.statistic) {
            (Some(m), Some(x)) => match d.degrees_of_freedom {
                Some(df) => format!("{} ({df} df)", m.labelled(x)),
                None => m.labelled(x),
            },
            (None, Some(x)) => figure(x),
            (_, None) => "—".to_string(),
        };
        let p = d.p_adjusted.or(d.p_value).map_or("—".to_string(), p_figure);
        let drifts_at = match (d.method, d.threshold) {
            (None, _) => "—".to_string(),
            (Some(_), Some(t)) => format!("> {t}, p < {}", d.p_threshold),
            (Some(_), None) => format!("p < {}", d.p_threshold),
        };
        rows.push([
            d.column.clone(),
            d.method.map_or("—", |m| m.name()).to_string(),
            statistic,
            p,
            drifts_at,
            format!("{}/{}", d.baseline_values, d.current_values),
            d.verdict().to_string(),
        ]);
    }
    let mut out = table(&rows);
    let tested = validation
        .drift
        .iter()
        .filter(|d| d.p_value.is_some())
        .count();
    if tested > 1 {
        let how = match validation.correction {
            Correction::Holm => "corrected by Holm's method",
            Correction::Bonferroni => "corrected by Bonferroni's method",
            Correction::None => "not corrected",
        };
        out.push_str(&format!(
            "p-values {how} for the {tested} columns tested; VALUES: baseline/current\n"
        ));
    }
    out
}
