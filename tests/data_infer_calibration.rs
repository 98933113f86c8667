//! Issue 21: a schema that `mlci data schema infer` writes from one sample
//! is one that fresh samples of the same source pass, so that `mlci data
//! validate` does not cry wolf on the next batch; `--strict` keeps the
//! observed ranges, which a fresh sample breaks most of the time. Each
//! figure is printed (`--nocapture` shows them).

use std::path::Path;

mod common;
#[path = "data_calibration/samples.rs"]
mod samples;

use samples::Rng;

/// Fresh samples validated against each inferred schema.
const RESAMPLES: u64 = 20;

use common::cli::mlci;

/// Infers `schema.yml` in `dir` from a sample of `rows` rows (shift 0),
/// with `extra` arguments, and returns its text.
fn infer(dir: &Path, rows: usize, extra: &[&str]) -> String {
    samples::write(&dir.join("source.csv"), &mut Rng::new(1), rows, 0.0);
    let mut args = vec!["data", "schema", "infer", "source.csv", "-o", "schema.yml"];
    args.extend(extra);
    let out = mlci(dir, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::read_to_string(dir.join("schema.yml")).unwrap()
}

/// Validates `file` against `dir/schema.yml` (no baseline): true when it
/// passes; the failures go to stderr for the test's output.
fn passes(dir: &Path, file: &str) -> bool {
    let out = mlci(dir, &["data", "validate", file, "--schema", "schema.yml"]);
    assert!(
        out.code == 0 || out.code == 1,
        "{file}: exit {}: {}{}",
        out.code,
        out.stdout,
        out.stderr
    );
    if out.code == 1 {
        eprint!("{file}: {}", out.stdout);
    }
    out.code == 0
}

/// How many of [`RESAMPLES`] fresh samples of `rows` rows from the same
/// source fail the schema inferred (with `extra` arguments) from another.
fn failing_resamples(rows: usize, extra: &[&str]) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let schema = infer(dir.path(), rows, extra);
    let failed = (0..RESAMPLES)
        .filter(|&i| {
            let name = format!("fresh{i}.csv");
            samples::write(&dir.path().join(&name), &mut Rng::new(100 + i), rows, 0.0);
            !passes(dir.path(), &name)
        })
        .count() as u64;
    eprintln!(
        "rows {rows} {extra:?}: {failed} of {RESAMPLES} fresh samples fail the inferred schema\n{schema}"
    );
    failed
}

#[test]
fn fresh_samples_of_the_same_source_pass_the_inferred_schema() {
    for rows in [300, 2000] {
        let failed = failing_resamples(rows, &[]);
        assert!(
            failed <= 1,
            "rows {rows}: {failed} of {RESAMPLES} fresh samples fail"
        );
    }
}

#[test]
fn fresh_samples_fail_a_strict_schema_most_of_the_time() {
    for rows in [300, 2000] {
        let failed = failing_resamples(rows, &["--strict"]);
        assert!(
            failed >= RESAMPLES / 2,
            "rows {rows}: only {failed} of {RESAMPLES} fresh samples fail --strict"
        );
    }
}

#[test]
fn an_inferred_schema_says_what_it_observed_and_enforces_and_passes_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = infer(d, 300, &[]);
    for expected in [
        "# mlci data schema, inferred from source.csv by `mlci data schema infer`.",
        "  # x: 300 values, observed ",
        "  # enforced 0 to ",
        "the observed range widened by its spread about the median, not below 0 (no value was)",
        "the top by a factor (every value positive)",
        "  # species: 4 values, each seen at least ",
        "times: closed, so allowed\n  species: {type: string, nullable: false, allowed: [arctica, setosa, versicolor, virginica]}",
    ] {
        assert!(schema.contains(expected), "{expected}:\n{schema}");
    }
    // Every column has its notes, two lines at most, just above its line.
    for column in ["x", "latency_ms", "count", "species"] {
        let lines: Vec<&str> = schema.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("  {column}: {{")))
            .unwrap();
        let notes = lines[..at]
            .iter()
            .rev()
            .take_while(|l| l.starts_with("  # "))
            .count();
        assert!(
            (1..=2).contains(&notes),
            "{column}: {notes} notes\n{schema}"
        );
    }
    // The schema reads back, and the data it came from passes it.
    assert!(passes(d, "source.csv"), "{schema}");

    let strict = infer(d, 300, &["--strict"]);
    assert!(
        strict.contains("by `mlci data schema infer --strict`."),
        "{strict}"
    );
    assert!(
        strict.contains("  # enforced 19.7722 to 72.7029: as observed (--strict)\n  x: {type: float, nullable: false, min: 19.7722, max: 72.7029}"),
        "{strict}"
    );
    assert!(passes(d, "source.csv"), "{strict}");
}

#[test]
fn an_inferred_schema_still_catches_broken_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    infer(d, 2000, &[]);
    let fresh = samples::csv(&mut Rng::new(7), 300, 0.0);
    // One row more each: a latency logged in microseconds, a count gone
    // negative, a species never seen.
    let broken = [
        (
            "micros.csv",
            "50.0,20000.0,5,setosa",
            "column `latency_ms` [max]",
        ),
        (
            "negative.csv",
            "50.0,20.0,-3,setosa",
            "column `count` [min]",
        ),
        (
            "species.csv",
            "50.0,20.0,5,pinus",
            "column `species` [allowed]",
        ),
    ];
    for (name, row, message) in broken {
        std::fs::write(d.join(name), format!("{fresh}{row}\n")).unwrap();
        let out = mlci(d, &["data", "validate", name, "--schema", "schema.yml"]);
        assert_eq!(out.code, 1, "{name}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains(message), "{name}: {}", out.stdout);
    }
}
