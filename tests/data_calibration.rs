//! Drift that knows its sample size, measured on the kinds of data users
//! validate (tests/data_calibration/samples.rs): clean resamples of one
//! source pass, a shift of half a standard deviation is caught, and columns
//! with too little data get a verdict that says so instead of a number.
//! Every figure here comes from the real binary on files written to disk.

use std::path::Path;

mod common;
#[path = "data_calibration/samples.rs"]
mod samples;

use samples::Rng;

use common::cli::{Out, mlci};

/// Types only: what is measured here is drift, not bounds.
const SCHEMA: &str =
    "columns:\n  x: float\n  latency_ms: float\n  count: integer\n  species: string\n";

/// Writes the baseline's statistics from a sample of `rows`.
fn baseline(dir: &Path, rng: &mut Rng, rows: usize) {
    std::fs::write(dir.join("schema.yml"), SCHEMA).unwrap();
    samples::write(&dir.join("base.csv"), rng, rows, 0.0);
    record_baseline(dir);
}

/// `base.json` from `base.csv`, which must pass `schema.yml`.
fn record_baseline(dir: &Path) {
    let out = mlci(
        dir,
        &[
            "data",
            "validate",
            "base.csv",
            "--schema",
            "schema.yml",
            "--stats-out",
            "base.json",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// `mlci data validate FILE` against `schema.yml` and `base.json`.
fn against_baseline(dir: &Path, file: &str, extra: &[&str]) -> Out {
    let mut args = vec![
        "data",
        "validate",
        file,
        "--schema",
        "schema.yml",
        "--baseline",
        "base.json",
    ];
    args.extend_from_slice(extra);
    mlci(dir, &args)
}

/// Validates a fresh sample against the baseline; the columns that drifted.
fn drifted(dir: &Path, rng: &mut Rng, rows: usize, shift: f64) -> Vec<String> {
    samples::write(&dir.join("current.csv"), rng, rows, shift);
    let out = against_baseline(dir, "current.csv", &["--json"]);
    let value: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    let columns: Vec<String> = value["drift"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["drifted"] == true)
        .map(|d| d["column"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        out.code,
        if columns.is_empty() { 0 } else { 1 },
        "{}",
        out.stdout
    );
    columns
}

#[test]
fn clean_resamples_pass_drift_at_300_and_2000_rows() {
    for (rows, seed) in [(300, 1), (2000, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(seed);
        baseline(dir.path(), &mut rng, rows);
        let alarms: Vec<Vec<String>> = (0..20)
            .map(|_| drifted(dir.path(), &mut rng, rows, 0.0))
            .filter(|columns| !columns.is_empty())
            .collect();
        // p 0.05 family-wise: about one in twenty by chance, where the old
        // 20-bin Jensen-Shannon distance flagged all twenty at 300 rows.
        assert!(alarms.len() <= 2, "{rows} rows: {alarms:?}");
    }
}

/// The measure: a schema inferred from one sample, and that
/// sample's statistics as the baseline; each fresh sample of the same
/// source counts as a false alarm when anything fails, bounds or drift.
#[test]
fn an_inferred_schema_and_drift_pass_clean_resamples_at_300_and_2000_rows() {
    for (rows, seed) in [(300, 6), (2000, 7)] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut rng = Rng::new(seed);
        samples::write(&d.join("base.csv"), &mut rng, rows, 0.0);
        let out = mlci(
            d,
            &["data", "schema", "infer", "base.csv", "-o", "schema.yml"],
        );
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        record_baseline(d);
        let mut failed = Vec::new();
        for _ in 0..20 {
            samples::write(&d.join("current.csv"), &mut rng, rows, 0.0);
            let out = against_baseline(d, "current.csv", &[]);
            if out.code != 0 {
                failed.push(out.stdout);
            }
        }
        assert!(
            failed.len() <= 2,
            "{rows} rows, {} of 20 failed:\n{}",
            failed.len(),
            failed.join("\n")
        );
        // And the shift of half a standard deviation still fails it.
        samples::write(&d.join("shifted.csv"), &mut rng, rows, 0.5);
        let out = against_baseline(d, "shifted.csv", &[]);
        assert_eq!(out.code, 1, "{}", out.stdout);
    }
}

#[test]
fn half_a_standard_deviation_is_caught_in_each_numeric_column_at_300_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(3);
    baseline(dir.path(), &mut rng, 300);
    let mut caught = std::collections::BTreeMap::new();
    for _ in 0..20 {
        for column in drifted(dir.path(), &mut rng, 300, 0.5) {
            *caught.entry(column).or_insert(0) += 1;
        }
    }
    for column in ["x", "latency_ms", "count"] {
        let n = caught.get(column).copied().unwrap_or(0);
        assert!(n >= 19, "{column} caught {n} of 20: {caught:?}");
    }
    // Ten points of share moved between two of four categories: chi-square
    // catches it about 9 times in 10 at 300 rows (35 of 40 measured).
    let species = caught.get("species").copied().unwrap_or(0);
    assert!(species >= 15, "species caught {species} of 20: {caught:?}");
}

#[test]
fn the_table_names_method_statistic_p_value_threshold_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(4);
    baseline(dir.path(), &mut rng, 300);
    samples::write(&dir.path().join("big.csv"), &mut rng, 3000, 0.5);
    // A baseline of 3000 rows, and a schema with per-column overrides.
    std::fs::write(
        dir.path().join("over.yml"),
        "columns:\n  x: {type: float, drift: {method: psi, threshold: 0.2}}\n  latency_ms: float\n  count: {type: integer, drift: {method: ks, p: 0.01}}\n  species: string\ndrift: {correction: bonferroni}\n",
    )
    .unwrap();
    let args = |file: &str, extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = ["data", "validate", file, "--schema", "over.yml"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        mlci(dir.path(), &a)
    };
    samples::write(&dir.path().join("big-base.csv"), &mut rng, 3000, 0.0);
    let out = run(args("big-base.csv", &["--stats-out", "big.json"]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = run(args("big.csv", &["--baseline", "big.json"]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let table = &out.stdout;
    for expected in [
        "COLUMN      METHOD",
        "STATISTIC",
        "P-VALUE",
        "DRIFTS AT",
        "VALUES",
        // The override on x: PSI with its threshold, beside its test.
        "PSI",
        "> 0.2, p < 0.05",
        // Above 1000 rows a side: the Wasserstein distance, in standard deviations.
        "Wasserstein",
        "> 0.1, p < 0.05",
        "3000/3000",
        // count asked for KS at p 0.01 whatever the size.
        "Kolmogorov-Smirnov  D ",
        "p < 0.01",
        "Jensen-Shannon",
        "p-values corrected by Bonferroni's method for the 4 columns tested",
    ] {
        assert!(table.contains(expected), "`{expected}` missing:\n{table}");
    }
    assert!(
        table.contains("column `x` [drift]: PSI distance"),
        "{table}"
    );
}

#[test]
fn empty_single_row_all_null_and_constant_columns_get_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = "columns:\n  x: float\n  k: float\n  s: {type: string}\n";
    std::fs::write(d.join("schema.yml"), schema).unwrap();
    let mut base = String::from("x,k,s\n");
    for i in 0..100 {
        base.push_str(&format!("{},5,{}\n", i as f64 / 10.0, ["a", "b"][i % 2]));
    }
    std::fs::write(d.join("base.csv"), &base).unwrap();
    record_baseline(d);
    let validate = |file: &str, text: &str| {
        std::fs::write(d.join(file), text).unwrap();
        against_baseline(d, file, &[])
    };
    // A header and no rows.
    let out = validate("empty.csv", "x,k,s\n");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("not enough data to test drift: 0 values (at least 10 on each side)"),
        "{}",
        out.stdout
    );
    // One row.
    let out = validate("one.csv", "x,k,s\n1.5,5,a\n");
    assert!(
        out.stdout
            .contains("not enough data to test drift: 1 value "),
        "{}",
        out.stdout
    );
    // Three rows, and a column all null.
    let out = validate("three.csv", "x,k,s\n1,5,\n2,5,\n3,5,\n");
    assert!(
        out.stdout
            .contains("not enough data to test drift: 3 values"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("not enough data to test drift: 0 values"),
        "{}",
        out.stdout
    );
    // A constant column against its constant baseline: no drift; moved: drift.
    let mut same = String::from("x,k,s\n");
    let mut moved = String::from("x,k,s\n");
    for i in 0..100 {
        same.push_str(&format!("{},5,{}\n", i as f64 / 10.0, ["a", "b"][i % 2]));
        moved.push_str(&format!("{},6,{}\n", i as f64 / 10.0, ["a", "b"][i % 2]));
    }
    let out = validate("same.csv", &same);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = validate("moved.csv", &moved);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("column `k` [drift]: Kolmogorov-Smirnov D = 1"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_baseline_from_an_older_mlci_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    baseline(dir.path(), &mut rng, 300);
    // Stats written before quantiles were kept: the same file without them.
    let path = dir.path().join("base.json");
    let mut stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for column in stats["columns"].as_array_mut().unwrap() {
        column.as_object_mut().unwrap().remove("quantiles");
    }
    std::fs::write(&path, serde_json::to_string(&stats).unwrap()).unwrap();
    samples::write(&dir.path().join("current.csv"), &mut rng, 300, 0.0);
    let out = against_baseline(dir.path(), "current.csv", &["--json"]);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let x = value["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["column"] == "x")
        .unwrap();
    assert_eq!(x["method"], "jensen-shannon", "{x}");
    assert!(
        x["note"].as_str().unwrap().contains("record it again"),
        "{x}"
    );
}
