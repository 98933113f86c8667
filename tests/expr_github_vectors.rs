//! GitHub's known-answer tests for the expression language (from
//! actions/languageservices), as shipped in the `github-actions-expressions`
//! crate's package under tests/testdata/*.json. Every vector is run.
//!
//! The vectors' contexts are the only known names, as in GitHub's tests, so
//! `parse_with_contexts` is used; plain `parse` + `named_values()` is checked
//! to reject the same expressions.

use std::path::PathBuf;
use std::process::Command;

use mlci::expr::{EvalContext, Object, Status, Value, parse, parse_with_contexts};

/// Vectors not run, as (file, group, index, reason). Keep this very short.
const SKIPS: &[(&str, &str, usize, &str)] = &[];

fn testdata_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "github-actions-expressions")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("github-actions-expressions is a dev-dependency");
    PathBuf::from(manifest)
        .parent()
        .expect("package dir")
        .join("tests/testdata")
}

/// Splits "Message. Located at position N within expression: ..." into the
/// message and N (when the vector gives one with the expression).
fn split_expected(text: &str) -> (&str, Option<usize>) {
    match text.split_once(". Located at position ") {
        Some((msg, rest)) => {
            let position = rest
                .split_once(" within expression")
                .and_then(|(n, _)| n.parse().ok());
            (msg, position)
        }
        None => (text, None),
    }
}

fn check_error(expr: &str, expected: &str, message: &str, offset: usize) -> Result<(), String> {
    let (want, position) = split_expected(expected);
    if !message.starts_with(want) {
        return Err(format!("error {message:?}, expected {want:?}"));
    }
    if let Some(position) = position {
        let got = expr.get(..offset).map(|s| s.encode_utf16().count() + 1);
        if got != Some(position) {
            return Err(format!("error at position {got:?}, expected {position}"));
        }
    }
    Ok(())
}

fn same(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a == b || (a.is_nan() && b.is_nan()),
        _ => actual == expected,
    }
}

fn run_case(case: &serde_json::Value) -> Result<(), String> {
    let expr_src = case["expr"].as_str().ok_or("no expr")?;
    let contexts: Object = match case.get("contexts") {
        Some(c) => match Value::from_json(c) {
            Value::Object(o) => o,
            _ => return Err("contexts is not an object".into()),
        },
        None => Object::new(),
    };
    let err = case.get("err");
    let err_kind = err.and_then(|e| e["kind"].as_str());
    let err_text = err.and_then(|e| e["value"].as_str()).unwrap_or("");
    let parse_error_expected = matches!(err_kind, Some("parsing" | "lexing"));

    let names: Vec<&str> = contexts.keys().map(String::as_str).collect();
    let parsed = parse_with_contexts(expr_src, &names);
    // The plain parser plus named_values() must reject the same vectors.
    if let Ok(e) = parse(expr_src) {
        let unknown = e
            .named_values()
            .into_iter()
            .any(|(n, _)| !contexts.contains_key(&n));
        if unknown != parsed.is_err() {
            return Err("parse + named_values disagrees with parse_with_contexts".into());
        }
    }
    let expr = match parsed {
        Err(e) if parse_error_expected => {
            return check_error(expr_src, err_text, &e.message, e.offset);
        }
        Err(e) => return Err(format!("unexpected parse error: {e} at {}", e.offset)),
        Ok(_) if parse_error_expected => {
            return Err(format!("parsed, expected error {err_text:?}"));
        }
        Ok(e) => e,
    };
    let ctx = EvalContext {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    match (expr.eval(&ctx), err_kind) {
        (Err(e), Some("evaluation")) => check_error(expr_src, err_text, &e.message, 0),
        (Err(e), _) => Err(format!("unexpected evaluation error: {e}")),
        (Ok(v), Some(_)) => Err(format!("got {v:?}, expected error {err_text:?}")),
        (Ok(v), None) => {
            let expected = Value::from_json(&case["result"]["value"]);
            if same(&v, &expected) {
                Ok(())
            } else {
                Err(format!("got {v:?}, expected {expected:?}"))
            }
        }
    }
}

#[test]
fn github_expression_vectors() {
    let dir = testdata_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "expected the vector files in {dir:?}");

    let (mut passed, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let suite: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        for (group, cases) in &suite {
            for (i, case) in cases.as_array().unwrap().iter().enumerate() {
                if let Some((.., reason)) = SKIPS
                    .iter()
                    .find(|(f, g, n, _)| *f == file && g == group && *n == i)
                {
                    eprintln!("skipped {file}::{group}[{i}]: {reason}");
                    skipped += 1;
                    continue;
                }
                match run_case(case) {
                    Ok(()) => passed += 1,
                    Err(why) => failures.push(format!(
                        "{file}::{group}[{i}] `{}`: {why}",
                        case["expr"]
                            .as_str()
                            .unwrap_or("?")
                            .chars()
                            .take(120)
                            .collect::<String>()
                    )),
                }
            }
        }
    }
    eprintln!(
        "{passed} vectors passed, {skipped} skipped, {} failed",
        failures.len()
    );
    println!("{passed} vectors passed");
    assert!(
        failures.is_empty(),
        "{} vector failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed > 900, "only {passed} vectors ran");
}
