//! Every workflow under tests/fixtures/valid is accepted; every workflow under
//! tests/fixtures/invalid is refused with exactly the errors its
//! `# expect-error: LINE:COL: TEXT` comments announce.

use mlci::workflow;
use std::path::{Path, PathBuf};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

#[test]
fn valid_workflows_are_accepted() {
    let mut failures = Vec::new();
    for path in fixtures("valid") {
        let loaded = workflow::load(&path).unwrap();
        if loaded.has_errors() {
            failures.push(loaded.render_diagnostics());
        }
    }
    assert!(
        failures.is_empty(),
        "valid fixtures were refused:\n{}",
        failures.join("\n")
    );
}

struct Expectation {
    line: Option<usize>,
    column: Option<usize>,
    text: String,
}

fn expectations(text: &str) -> Vec<Expectation> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("# expect-error:"))
        .map(|rest| {
            let mut parts = rest.trim().splitn(3, ':');
            let number = |s: Option<&str>| s.and_then(|s| s.trim().parse().ok());
            let line = number(parts.next());
            let column = number(parts.next());
            let text = parts.next().unwrap_or("").trim().to_string();
            Expectation { line, column, text }
        })
        .collect()
}

#[test]
fn invalid_workflows_are_refused_at_the_announced_positions() {
    let mut failures = Vec::new();
    for path in fixtures("invalid") {
        let loaded = workflow::load(&path).unwrap();
        let expected = expectations(&loaded.file.text);
        assert!(
            !expected.is_empty(),
            "{} announces no error",
            path.display()
        );
        if !loaded.has_errors() {
            failures.push(format!(
                "{}: accepted, but should be refused",
                path.display()
            ));
            continue;
        }
        let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
        let mut matched = vec![false; errors.len()];
        for expectation in &expected {
            let found = errors.iter().enumerate().find(|(_, d)| {
                let (line, column) = loaded.file.line_col(d.span.start);
                let rendered = format!("{} {}", d.message, d.help.clone().unwrap_or_default());
                expectation.line.is_none_or(|l| l == line)
                    && expectation.column.is_none_or(|c| c == column)
                    && rendered.contains(&expectation.text)
            });
            match found {
                Some((index, _)) => matched[index] = true,
                None => failures.push(format!(
                    "{}: expected an error at {}:{} containing {:?}; got:\n{}",
                    path.display(),
                    expectation.line.map_or("*".into(), |l| l.to_string()),
                    expectation.column.map_or("*".into(), |c| c.to_string()),
                    expectation.text,
                    loaded.render_diagnostics()
                )),
            }
        }
        for (error, matched) in errors.iter().zip(matched) {
            if !matched {
                failures.push(format!(
                    "{}: unannounced error:\n{}",
                    path.display(),
                    loaded.file.render(error)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
