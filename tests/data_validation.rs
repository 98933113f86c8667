//! `validate:` steps through `mlci run` on real containers: a dataset the
//! job made is checked against its schema, and against the statistics of the
//! base branch's last run for drift; a failed check fails the step with the
//! column, the rule and the values, and the report shows it.

use std::path::Path;
use std::process::Output;

mod common;
use common::git_repo;

fn mlci(dir: &Path, state: &Path, args: &[&str]) -> (Output, String) {
    let (cache, db) = (state.join("cache"), state.join("runs.db"));
    common::mlci_with(
        dir,
        &[
            ("MLCI_CACHE_DIR", cache.as_os_str()),
            ("MLCI_DB", db.as_os_str()),
        ],
        args,
    )
}

/// The job makes the dataset from `source.csv` (as a pipeline's export
/// step would), then validates it.
const WORKFLOW: &str = r#"
name: data
on: push
jobs:
  export:
    runs-on: python-ml
    steps:
      - run: mkdir -p data && cp source.csv data/train.csv
      - name: Check the training data
        validate:
          data: data/train.csv
          schema: schema.yml
      - run: echo "after the check"
"#;

const SCHEMA: &str = "columns:\n  age: {type: integer, nullable: false, min: 0, max: 120}\n  height: {type: float, nullable: false}\n  city: {type: string, allowed: [paris, oslo, lima]}\ndrift: {threshold: 0.2}\n";

/// 200 rows whose heights spread evenly over 150..190 (or `shift` higher).
fn clean_csv(shift: f64) -> String {
    let mut csv = String::from("age,height,city\n");
    for i in 0..200 {
        let city = ["paris", "oslo", "lima"][i % 3];
        csv.push_str(&format!(
            "{},{:.1},{city}\n",
            20 + i % 50,
            150.0 + shift + (i % 40) as f64
        ));
    }
    csv
}

fn repo(csv: &str) -> tempfile::TempDir {
    git_repo(&[
        (".github/workflows/data.yml", WORKFLOW),
        ("schema.yml", SCHEMA),
        ("source.csv", csv),
    ])
}

/// Replaces line `line` (1 = the header) of the CSV.
fn with_line(csv: &str, line: usize, text: &str) -> String {
    csv.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == line { text } else { l })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn a_clean_dataset_passes_and_each_broken_rule_fails_the_step_with_its_column_rule_and_value() {
    common::ensure_runner_image();
    let state = tempfile::tempdir().unwrap();
    let clean = clean_csv(0.0);
    let repo = repo(&clean);
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("✓ data/train.csv matches schema.yml (200 rows)"),
        "{text}"
    );
    assert!(text.contains("] after the check"), "{text}");

    let cases = [
        (
            with_line(&clean, 5, "abc,160.0,oslo"),
            "column `age` [type]: expected integer",
            "`abc` at row 4",
        ),
        (
            with_line(&clean, 9, "33,,lima"),
            "column `height` [nullable]",
            "at row 8",
        ),
        (
            with_line(&clean, 12, "130,170.0,paris"),
            "column `age` [max]",
            "130",
        ),
        (
            with_line(&clean, 3, "40,170.0,rome"),
            "column `city` [allowed]",
            "rome",
        ),
    ];
    for (csv, rule, value) in cases {
        std::fs::write(repo.path().join("source.csv"), &csv).unwrap();
        let report = state.path().join("report.md");
        let (out, text) = mlci(
            repo.path(),
            state.path(),
            &["run", "--report", report.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(1), "{text}");
        let line = text
            .lines()
            .find(|l| l.contains(rule))
            .unwrap_or_else(|| panic!("no `{rule}` in:\n{text}"));
        assert!(line.contains(value), "{line}");
        assert!(
            text.contains("✗ data/train.csv does not match schema.yml"),
            "{text}"
        );
        // The step failed, so the job stopped there.
        assert!(!text.contains("] after the check"), "{text}");
        let markdown = std::fs::read_to_string(&report).unwrap();
        assert!(markdown.contains("### Data validation"), "{markdown}");
        assert!(markdown.contains(rule), "{markdown}");
        let (_, shown) = mlci(repo.path(), state.path(), &["runs", "show"]);
        assert!(
            shown.contains("data/train.csv against schema.yml: FAILED"),
            "{shown}"
        );
        assert!(shown.contains(rule), "{shown}");
    }
}

#[test]
fn drift_is_measured_against_the_base_branch_last_run_and_a_shifted_distribution_fails() {
    common::ensure_runner_image();
    let state = tempfile::tempdir().unwrap();
    let repo = repo(&clean_csv(0.0));
    // The baseline: a successful run on main stores the dataset's statistics.
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert!(out.status.success(), "{text}");

    // A branch whose data moved by 30 cm: every value of the schema holds, the distribution does not.
    common::git(repo.path(), &["checkout", "-q", "-b", "feature"]);
    std::fs::write(repo.path().join("source.csv"), clean_csv(30.0)).unwrap();
    common::git(repo.path(), &["commit", "-qam", "taller"]);
    let report = state.path().join("report.md");
    let (out, text) = mlci(
        repo.path(),
        state.path(),
        &["run", "--report", report.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("column `height` [drift]"))
        .unwrap_or_else(|| panic!("{text}"));
    // 200 rows a side: a test, whose p-value decides (the step's `drift:
    // 0.2` is the threshold of distances, used from 1000 rows up).
    assert!(
        line.contains("Kolmogorov-Smirnov D = ")
            && line.contains("< 0.05 (200 baseline and 200 current values)"),
        "{line}"
    );
    assert!(!text.contains("column `city` [drift]"), "{text}");
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(
        markdown.contains("❌ `height` Kolmogorov-Smirnov D "),
        "{markdown}"
    );

    // The same data as main's: no drift.
    std::fs::write(repo.path().join("source.csv"), clean_csv(0.0)).unwrap();
    common::git(repo.path(), &["commit", "-qam", "back"]);
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no drift from the baseline run"), "{text}");
}

#[test]
fn a_broken_schema_fails_the_step_with_its_line_and_column() {
    common::ensure_runner_image();
    let state = tempfile::tempdir().unwrap();
    let repo = git_repo(&[
        (".github/workflows/data.yml", WORKFLOW),
        ("schema.yml", "columns:\n  age: {type: integr}\n"),
        ("source.csv", "age\n1\n"),
    ]);
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("schema.yml:2:"), "{text}");
}

#[test]
fn a_validate_key_that_is_wrong_is_a_workflow_error_before_any_container() {
    let state = tempfile::tempdir().unwrap();
    let repo = git_repo(&[(
        ".github/workflows/data.yml",
        "on: push\njobs:\n  a:\n    runs-on: python-ml\n    steps:\n      - validate: {data: x.csv, drift: 2}\n",
    )]);
    let (out, text) = mlci(repo.path(), state.path(), &["run"]);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("data.yml:6:"), "{text}");
    assert!(
        text.contains("expected a drift threshold between 0 and 1"),
        "{text}"
    );
    assert!(text.contains("`validate` is missing `schema`"), "{text}");
    assert!(!text.contains("starting in"), "{text}");
}

/// The job leaves a 3 GB file of NUL bytes where the dataset should be (a
/// `truncate` away): the reader refuses it at its limit in bounded memory,
/// the step fails with that one sentence, and the run still tears down.
#[test]
fn an_endless_dataset_fails_its_step_and_the_run_still_cleans_up() {
    common::ensure_runner_image();
    let workflow = WORKFLOW.replace(
        "mkdir -p data && cp source.csv data/train.csv",
        "mkdir -p data && truncate -s 3G data/train.csv",
    );
    let repo = git_repo(&[
        (".github/workflows/data.yml", workflow.as_str()),
        ("schema.yml", SCHEMA),
    ]);
    let state = tempfile::tempdir().unwrap();
    let run_id = format!("data-endless-{}", std::process::id());
    let (cache, db) = (state.path().join("cache"), state.path().join("runs.db"));
    let (out, text) = common::mlci_with(
        repo.path(),
        &[
            ("MLCI_CACHE_DIR", cache.as_os_str()),
            ("MLCI_DB", db.as_os_str()),
            ("MLCI_RUN_ID", std::ffi::OsStr::new(&run_id)),
        ],
        &["run"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "error: data/train.csv: the header (line 1) is longer than mlci's limit of 8 MiB for one record"
        ),
        "{text}"
    );
    assert!(!text.contains("] after the check"), "{text}");
    assert!(common::run_leftovers(&run_id).is_empty());
}
