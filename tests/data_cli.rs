//! `mlci data schema infer` and `mlci data validate` on real files written to
//! a temporary directory: clean data passes, each broken rule fails (exit 1)
//! naming its column and rule, bad schemas and garbage inputs exit 2 with one
//! clear message and never a panic; Parquet and JSON lines are read as CSV is.

use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
#[path = "data_cli/readers.rs"]
mod readers;

use common::cli::{Out, mlci};

const SPECIES: [&str; 3] = ["setosa", "versicolor", "virginica"];

/// A deterministic spread of `n` values in [0, 1).
fn spread(i: usize) -> f64 {
    ((i * 7919) % 1000) as f64 / 1000.0
}

/// An iris-like CSV: `length` in [low, low + 3), species and label in step.
fn iris_csv(rows: usize, low: f64) -> String {
    let mut text = String::from("length,species,label\n");
    for i in 0..rows {
        let label = i % 3;
        text.push_str(&format!(
            "{:.3},{},{label}\n",
            low + 3.0 * spread(i),
            SPECIES[label]
        ));
    }
    text
}

const SCHEMA: &str = "\
format: csv
rows: {min: 10}
columns:
  length: {type: float, nullable: false, min: 0, max: 10}
  species: {type: string, allowed: [setosa, versicolor, virginica]}
  label: {type: integer, nullable: false, min: 0, max: 2}
drift: {threshold: 0.1}
";

/// A temporary directory with `schema.yml` and `clean.csv` in it.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.yml"), SCHEMA).unwrap();
    std::fs::write(dir.path().join("clean.csv"), iris_csv(300, 4.0)).unwrap();
    dir
}

/// The clean file with line `line` (1 = the first data row) replaced.
fn with_row(dir: &Path, name: &str, line: usize, row: &str) -> PathBuf {
    let clean = iris_csv(300, 4.0);
    let mut lines: Vec<&str> = clean.lines().collect();
    lines[line] = row;
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn validate(dir: &Path, file: &str) -> Out {
    mlci(dir, &["data", "validate", file, "--schema", "schema.yml"])
}

#[test]
fn a_clean_csv_passes() {
    let dir = workspace();
    let out = validate(dir.path(), "clean.csv");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("ok: clean.csv (csv, 300 rows, 3 columns"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_changed_column_type_fails_with_the_value_and_its_row() {
    let dir = workspace();
    with_row(dir.path(), "typed.csv", 17, "4.5,setosa,abc");
    let out = validate(dir.path(), "typed.csv");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("column `label` [type]: expected integer, found `abc` at row 17 (1 row)"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_null_in_a_non_null_column_fails() {
    let dir = workspace();
    with_row(dir.path(), "null.csv", 5, ",setosa,0");
    let out = validate(dir.path(), "null.csv");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("column `length` [nullable]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("null at row 5"), "{}", out.stdout);
}

#[test]
fn a_value_out_of_range_fails() {
    let dir = workspace();
    with_row(dir.path(), "range.csv", 9, "12.5,setosa,0");
    let out = validate(dir.path(), "range.csv");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "column `length` [max]: expected values of at most 10, found `12.5` at row 9"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn a_value_not_allowed_fails() {
    let dir = workspace();
    with_row(dir.path(), "allowed.csv", 3, "4.5,dandelion,0");
    let out = validate(dir.path(), "allowed.csv");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("column `species` [allowed]: expected one of [setosa, versicolor, virginica], found `dandelion` at row 3"),
        "{}",
        out.stdout
    );
}

#[test]
fn missing_unexpected_columns_and_row_bounds_fail() {
    let dir = workspace();
    std::fs::write(dir.path().join("cols.csv"), "length,colour\n1.0,red\n").unwrap();
    let out = validate(dir.path(), "cols.csv");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for expected in [
        "dataset [rows]: expected at least 10 rows, found 1",
        "column `label` [missing]",
        "column `species` [missing]",
        "column `colour` [unexpected]",
    ] {
        assert!(out.stdout.contains(expected), "{expected}:\n{}", out.stdout);
    }
}

#[test]
fn a_drifted_distribution_fails_against_the_baseline() {
    let dir = workspace();
    let base = mlci(
        dir.path(),
        &[
            "data",
            "validate",
            "clean.csv",
            "--schema",
            "schema.yml",
            "--stats-out",
            "base.json",
        ],
    );
    assert_eq!(base.code, 0, "{}{}", base.stdout, base.stderr);
    // The same data against its own statistics: no drift.
    let same = mlci(
        dir.path(),
        &[
            "data",
            "validate",
            "clean.csv",
            "--schema",
            "schema.yml",
            "--baseline",
            "base.json",
        ],
    );
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
    assert!(
        same.stdout.contains("drift from the baseline"),
        "{}",
        same.stdout
    );
    // Lengths moved up by 2 (still within the schema's range).
    std::fs::write(dir.path().join("shifted.csv"), iris_csv(300, 6.0)).unwrap();
    let out = mlci(
        dir.path(),
        &[
            "data",
            "validate",
            "shifted.csv",
            "--schema",
            "schema.yml",
            "--baseline",
            "base.json",
        ],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("column `length` [drift]: Kolmogorov-Smirnov D = 0.673: p = 9.6e-61 (2.9e-60 after Holm's correction for 3 columns) < 0.05 (300 baseline and 300 current values)"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("column `species` [drift]"),
        "{}",
        out.stdout
    );
    let json = mlci(
        dir.path(),
        &[
            "data",
            "validate",
            "shifted.csv",
            "--schema",
            "schema.yml",
            "--baseline",
            "base.json",
            "--json",
        ],
    );
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["passed"], false);
    let length = value["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["column"] == "length")
        .unwrap();
    assert_eq!(length["method"], "ks", "{length}");
    assert!(length["statistic"].as_f64().unwrap() > 0.5, "{length}");
    assert!(length["p_adjusted"].as_f64().unwrap() < 1e-50, "{length}");
    assert_eq!(length["drifted"], true, "{length}");
}

#[test]
fn a_broken_schema_exits_2_with_file_line_and_column() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("broken.yml"),
        "columns:\n  length: {type: float}\n  label: {type: integr}\n",
    )
    .unwrap();
    let out = mlci(
        dir.path(),
        &["data", "validate", "clean.csv", "--schema", "broken.yml"],
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("broken.yml:3:17: error: expected a type"),
        "{}",
        out.stderr
    );
}

#[test]
fn garbage_inputs_exit_with_a_message_and_never_panic() {
    let dir = workspace();
    let cases: [(&str, &[u8], &str); 7] = [
        (
            "ragged.csv",
            b"length,species,label\n1.0,setosa\n",
            "has 2 fields where the header has 3",
        ),
        (
            "utf8.csv",
            b"length,species,label\n1.0,set\xffosa,0\n",
            "not UTF-8",
        ),
        ("empty.csv", b"", "the file is empty"),
        (
            "binary.parquet",
            b"PAR1 not really parquet",
            "not a Parquet file: it does not end with the magic bytes `PAR1`",
        ),
        (
            "truncated.jsonl",
            b"{\"length\": 1.0}\n{\"length\": 2.\n",
            "line 2: not JSON",
        ),
        ("array.jsonl", b"[1, 2]\n", "expected a JSON object"),
        ("data.txt", b"length\n1\n", "cannot tell the format"),
    ];
    let schema = SCHEMA.replace("format: csv\n", "");
    std::fs::write(dir.path().join("schema.yml"), schema).unwrap();
    for (name, bytes, message) in cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let out = validate(dir.path(), name);
        assert_eq!(out.code, 2, "{name}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(message), "{name}: {}", out.stderr);
        let infer = mlci(dir.path(), &["data", "schema", "infer", name]);
        assert_eq!(infer.code, 2, "{name}: {}{}", infer.stdout, infer.stderr);
    }
    // A CSV file read as Parquet, because the schema says so.
    std::fs::write(
        dir.path().join("pq.yml"),
        "format: parquet\ncolumns: {length: float}\n",
    )
    .unwrap();
    let out = mlci(
        dir.path(),
        &["data", "validate", "clean.csv", "--schema", "pq.yml"],
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("not a Parquet file: it does not start with the magic bytes `PAR1`"),
        "{}",
        out.stderr
    );
    // A header and no rows: readable, but fewer rows than the schema asks.
    std::fs::write(dir.path().join("header.csv"), "length,species,label\n").unwrap();
    let out = validate(dir.path(), "header.csv");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("expected at least 10 rows, found 0"),
        "{}",
        out.stdout
    );
    // A baseline that is not a stats file.
    let out = mlci(
        dir.path(),
        &[
            "data",
            "validate",
            "clean.csv",
            "--schema",
            "schema.yml",
            "--baseline",
            "schema.yml",
        ],
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("not a stats file"), "{}", out.stderr);
}

#[test]
fn an_inferred_schema_validates_its_own_data() {
    let dir = workspace();
    let out = mlci(dir.path(), &["data", "schema", "infer", "clean.csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("# mlci data schema, inferred from clean.csv"),
        "{}",
        out.stdout
    );
    for expected in [
        // The observed range widened by its spread about the median.
        "  # length: 300 values, observed 4.000 to 6.988 (median 5.508)\n  # enforced 2.492 to 8.469: the observed range widened by its spread about the median\n",
        "  length: {type: float, nullable: false, min: 2.492, max: 8.469}",
        "  # species: 3 values, each seen at least 100 times: closed, so allowed\n",
        "  species: {type: string, nullable: false, allowed: [setosa, versicolor, virginica]}",
        "  label: {type: integer, nullable: false, min: 0, max: 3}",
        "rows: {min: 1}",
    ] {
        assert!(out.stdout.contains(expected), "{expected}:\n{}", out.stdout);
    }
    let written = mlci(
        dir.path(),
        &["data", "schema", "infer", "clean.csv", "-o", "inferred.yml"],
    );
    assert_eq!(written.code, 0, "{}", written.stderr);
    let check = mlci(
        dir.path(),
        &["data", "validate", "clean.csv", "--schema", "inferred.yml"],
    );
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
}

/// id (int64), x (double), name (optional UTF8), in two row groups.
fn write_parquet(path: &Path, rows: i64, bad_name_at: Option<usize>) {
    let schema = Arc::new(
        parse_message_type(
            "message m { required int64 id; required double x; optional binary name (UTF8); }",
        )
        .unwrap(),
    );
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, properties).unwrap();
    let half = rows / 2;
    for group in [0..half, half..rows] {
        let ids: Vec<i64> = group.clone().collect();
        let xs: Vec<f64> = ids.iter().map(|&i| i as f64 / 10.0).collect();
        let mut names = Vec::new();
        let mut levels = Vec::new();
        for &i in &ids {
            // Every tenth name is null.
            if i % 10 == 9 {
                levels.push(0);
            } else {
                levels.push(1);
                let name = if bad_name_at == Some(i as usize) {
                    "zeta"
                } else {
                    ["alpha", "beta"][i as usize % 2]
                };
                names.push(ByteArray::from(name));
            }
        }
        let mut row_group = writer.next_row_group().unwrap();
        let mut index = 0;
        while let Some(mut column) = row_group.next_column().unwrap() {
            match index {
                0 => {
                    column
                        .typed::<Int64Type>()
                        .write_batch(&ids, None, None)
                        .unwrap();
                }
                1 => {
                    column
                        .typed::<DoubleType>()
                        .write_batch(&xs, None, None)
                        .unwrap();
                }
                _ => {
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&names, Some(&levels), None)
                        .unwrap();
                }
            }
            column.close().unwrap();
            index += 1;
        }
        row_group.close().unwrap();
    }
    writer.close().unwrap();
}

#[test]
fn parquet_files_are_inferred_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("data.parquet"), 100, None);
    let out = mlci(
        dir.path(),
        &[
            "data",
            "schema",
            "infer",
            "data.parquet",
            "-o",
            "schema.yml",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let schema = std::fs::read_to_string(dir.path().join("schema.yml")).unwrap();
    for expected in [
        "format: parquet",
        "  id: {type: integer, nullable: false, min: 0, max: 149}",
        "  x: {type: float, nullable: false, min: 0, max: 14.86}",
        "  name: {type: string, allowed: [alpha, beta]}",
    ] {
        assert!(schema.contains(expected), "{expected}:\n{schema}");
    }
    let out = validate(dir.path(), "data.parquet");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("(parquet, 100 rows, 3 columns"),
        "{}",
        out.stdout
    );
    // A value not allowed in the second row group (row 71 is id 70), and
    // a column whose type changed from the schema's.
    write_parquet(&dir.path().join("bad.parquet"), 100, Some(70));
    std::fs::write(
        dir.path().join("strict.yml"),
        schema.replace(
            "{type: integer, nullable: false, min: 0, max: 149}",
            "{type: string}",
        ),
    )
    .unwrap();
    let out = mlci(
        dir.path(),
        &["data", "validate", "bad.parquet", "--schema", "strict.yml"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "column `name` [allowed]: expected one of [alpha, beta], found `zeta` at row 71 (1 row)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("column `id` [type]: expected string, found integer `0` at row 1"),
        "{}",
        out.stdout
    );
}

#[test]
fn json_lines_are_inferred_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!(
            "{{\"id\": {i}, \"score\": {}, \"ok\": {}, \"day\": \"2024-03-{:02}\"}}\n",
            i as f64 / 4.0,
            i % 2 == 0,
            1 + i % 28
        ));
    }
    std::fs::write(dir.path().join("data.jsonl"), &text).unwrap();
    let out = mlci(
        dir.path(),
        &["data", "schema", "infer", "data.jsonl", "-o", "schema.yml"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let schema = std::fs::read_to_string(dir.path().join("schema.yml")).unwrap();
    for expected in [
        "  id: {type: integer, nullable: false, min: 0, max: 74}",
        "  score: {type: float, nullable: false, min: 0, max: 18.38}",
        "  ok: {type: boolean, nullable: false}",
        "  day: {type: date, nullable: false, min: \"2024-02-18\", max: \"2024-04-12\"}",
    ] {
        assert!(schema.contains(expected), "{expected}:\n{schema}");
    }
    let out = validate(dir.path(), "data.jsonl");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // A string where an integer was, and a line without `score`.
    text.push_str("{\"id\": \"51\", \"ok\": true, \"day\": \"2024-03-01\"}\n");
    std::fs::write(dir.path().join("bad.jsonl"), &text).unwrap();
    let out = validate(dir.path(), "bad.jsonl");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("column `id` [type]: expected integer, found string `51` at row 51"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("column `score` [nullable]"),
        "{}",
        out.stdout
    );
}

#[test]
fn bad_arguments_exit_2_and_every_data_command_has_help() {
    let dir = workspace();
    for command in [
        &["data", "--help"][..],
        &["data", "validate", "--help"],
        &["data", "schema", "infer", "--help"],
    ] {
        let out = mlci(dir.path(), command);
        assert_eq!(out.code, 0, "{command:?}: {}", out.stderr);
        assert!(out.stdout.contains("Usage: mlci data"), "{}", out.stdout);
    }
    for command in [
        &["data", "validate", "clean.csv"][..],
        &[
            "data",
            "validate",
            "clean.csv",
            "--schema",
            "schema.yml",
            "--frobnicate",
        ],
        &["data", "schema", "infer", "clean.csv", "--format", "xlsx"],
        &["data", "validate", "nowhere.csv", "--schema", "schema.yml"],
        &["data", "validate", "clean.csv", "--schema", "nowhere.yml"],
    ] {
        let out = mlci(dir.path(), command);
        assert_eq!(out.code, 2, "{command:?}: {}{}", out.stdout, out.stderr);
        assert!(!out.stderr.is_empty(), "{command:?}");
    }
}
