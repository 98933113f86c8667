//! Metric files of every format, and the commands that read the run store:
//! `mlci metrics show|diff`, `mlci runs ls|show`, `mlci report`.

mod report_fixtures;

use mlci::metrics::{Metric, MetricValue, Param, parse_params_str, parse_str};
use mlci::record::{RunResult, Store};
use report_fixtures::{mlci, pr_run, run, text};

fn n(name: &str, v: f64) -> Metric {
    Metric::number(name, v)
}

#[test]
fn json_nested_keys_are_flattened() {
    let metrics = parse_str(
        "metrics/eval.json",
        r#"{"accuracy": 0.93, "eval": {"loss": 0.21, "per_class": {"cat": 0.9}}, "converged": true,
            "model": "forest", "history": [0.5, 0.4], "notes": null}"#,
    )
    .unwrap();
    assert_eq!(
        metrics,
        vec![
            n("accuracy", 0.93),
            n("eval.loss", 0.21),
            n("eval.per_class.cat", 0.9),
            n("converged", 1.0),
            Metric {
                name: "model".into(),
                value: MetricValue::Text("forest".into()),
                step: None
            },
            Metric::point("history", 0, 0.5),
            Metric::point("history", 1, 0.4),
        ]
    );
}

#[test]
fn json_arrays_of_objects_are_series_by_step() {
    let metrics = parse_str(
        "plots.json",
        r#"{"train": [{"step": 10, "loss": 0.9}, {"step": 20, "loss": 0.5}]}"#,
    )
    .unwrap();
    assert_eq!(
        metrics,
        vec![
            Metric::point("train.loss", 10, 0.9),
            Metric::point("train.loss", 20, 0.5)
        ]
    );
}

#[test]
fn yaml_is_flattened_like_json() {
    let metrics = parse_str(
        "metrics.yaml",
        "accuracy: 0.93\neval:\n  loss: 0.21\n  f1: '0.8'\nmodel: forest\n",
    )
    .unwrap();
    assert_eq!(metrics[0], n("accuracy", 0.93));
    assert_eq!(metrics[1], n("eval.loss", 0.21));
    assert_eq!(metrics[2], n("eval.f1", 0.8));
    assert_eq!(metrics[3].value, MetricValue::Text("forest".into()));
}

#[test]
fn csv_last_row_gives_values_and_every_row_a_series_point() {
    let metrics = parse_str(
        "logs/train.csv",
        "step,loss,accuracy,phase\n0,0.9,0.5,warmup\n100,0.5,0.8,train\n200,0.3,0.9,train\n",
    )
    .unwrap();
    let series: Vec<&Metric> = metrics
        .iter()
        .filter(|m| m.name == "loss" && m.step.is_some())
        .collect();
    assert_eq!(
        series
            .iter()
            .map(|m| (m.step.unwrap(), m.value.as_number().unwrap()))
            .collect::<Vec<_>>(),
        [(0, 0.9), (100, 0.5), (200, 0.3)]
    );
    let last: Vec<&Metric> = metrics.iter().filter(|m| m.step.is_none()).collect();
    assert_eq!(last[0], &n("loss", 0.3));
    assert_eq!(last[1], &n("accuracy", 0.9));
    assert_eq!(last[2].value, MetricValue::Text("train".into()));
    assert!(
        !metrics
            .iter()
            .any(|m| m.name == "phase" && m.step.is_some()),
        "text is no series"
    );
}

#[test]
fn tsv_without_a_step_column_is_indexed_by_row() {
    let metrics = parse_str("scores.tsv", "loss\tauc\n0.5\t0.7\n0.4\t0.75\n").unwrap();
    assert!(metrics.contains(&Metric::point("auc", 1, 0.75)));
    assert!(metrics.contains(&Metric::point("loss", 0, 0.5)));
    assert!(metrics.contains(&n("auc", 0.75)));
    // One row: values only, no series.
    let single = parse_str("one.csv", "a,b\n1,2\n").unwrap();
    assert_eq!(single, vec![n("a", 1.0), n("b", 2.0)]);
}

#[test]
fn key_value_lines() {
    let metrics = parse_str(
        "metrics.txt",
        "# written by train.py\naccuracy=0.93\nloss = 0.2\nmodel=forest\n",
    )
    .unwrap();
    assert_eq!(metrics[0], n("accuracy", 0.93));
    assert_eq!(metrics[1], n("loss", 0.2));
    assert_eq!(metrics[2].value, MetricValue::Text("forest".into()));
    // Detected by content without an extension.
    assert_eq!(
        parse_str("metrics", "f1=0.5\n").unwrap(),
        vec![n("f1", 0.5)]
    );
}

#[test]
fn bad_files_are_one_sentence_naming_the_file() {
    let error = parse_str("metrics/eval.json", "{\"accuracy\": 0.9,").unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("the metrics file metrics/eval.json is not valid JSON"),
        "{message}"
    );
    assert!(!message.contains('\n'));
    let error = parse_str("scores.csv", "a,b\n1,2,3\n").unwrap_err();
    assert!(error.to_string().contains("scores.csv") && error.to_string().contains("row 2"));
    let error = parse_str("m.yaml", "a: [1, 2\n").unwrap_err();
    assert!(
        error.to_string().contains("m.yaml is not valid YAML"),
        "{error}"
    );
    let error = mlci::metrics::parse_file(std::path::Path::new("/nonexistent/m.json")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot read the metrics file /nonexistent/m.json")
    );
}

#[test]
fn params_files_are_flattened_as_text() {
    let params = parse_params_str(
        "params.yaml",
        "train:\n  lr: 0.01\n  epochs: 10\n  layers: [64, 32]\nmodel: forest\n",
    )
    .unwrap();
    let p = |name: &str, value: &str| Param {
        name: name.into(),
        value: value.into(),
    };
    assert_eq!(
        params,
        vec![
            p("train.lr", "0.01"),
            p("train.epochs", "10"),
            p("train.layers", "[64,32]"),
            p("model", "forest")
        ]
    );
    let params =
        parse_params_str("params.json", r#"{"seed": 42, "opt": {"name": "adam"}}"#).unwrap();
    assert_eq!(params, vec![p("seed", "42"), p("opt.name", "adam")]);
    assert!(mlci::metrics::is_params_file("conf/params.yaml"));
    assert!(!mlci::metrics::is_params_file("params.txt"));
}

/// A store with a run on main and a run on a branch.
fn two_branches() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut store = Store::open(&db).unwrap();
    store
        .insert_run(&run(
            "main",
            "aaaaaaa1111",
            &[("accuracy", 0.9), ("loss", 0.25), ("f1", 0.8)],
        ))
        .unwrap();
    store
        .insert_run(&run(
            "feature",
            "bbbbbbb2222",
            &[("accuracy", 0.93), ("loss", 0.2), ("latency_ms", 12.0)],
        ))
        .unwrap();
    (dir, db)
}

#[test]
fn metrics_diff_between_main_and_a_branch() {
    let (dir, db) = two_branches();
    let output = mlci(dir.path())
        .args(["metrics", "diff", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "run 2 of train-evaluate on feature at bbbbbbb (success)"
    );
    assert_eq!(
        lines[1],
        "baseline: run 1 of train-evaluate on main at aaaaaaa (success)"
    );
    let rows: Vec<Vec<&str>> = lines[2..]
        .iter()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows[0],
        ["METRIC", "VALUE", "BASELINE", "CHANGE", "RELATIVE"]
    );
    assert_eq!(rows[1], ["accuracy", "0.93", "0.9", "▲ +0.03", "+3.33 %"]);
    assert_eq!(rows[2], ["loss", "0.2", "0.25", "▼ −0.05", "−20.00 %"]);
    assert_eq!(rows[3], ["latency_ms", "12", "-", "new", "-"]);
    assert_eq!(rows[4], ["f1", "-", "0.8", "removed", "-"]);

    // The same two runs named explicitly, as JSON.
    let output = mlci(dir.path())
        .args(["metrics", "diff", "feature", "main", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["run"], 2);
    assert_eq!(json["baseline"], 1);
    assert_eq!(json["metrics"][0]["name"], "accuracy");
    assert!((json["metrics"][0]["change"].as_f64().unwrap() - 0.03).abs() < 1e-9);
}

#[test]
fn metrics_show_and_runs_ls_show() {
    let (dir, db) = two_branches();
    let output = mlci(dir.path())
        .args(["metrics", "show", "1", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    assert!(stdout.contains("accuracy  0.9"), "{stdout}");
    assert!(stdout.contains("series train.loss: 3 points, last step 2: 0.3"));
    assert!(stdout.contains("train.lr  0.01"));

    let output = mlci(dir.path())
        .args(["runs", "ls", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("RUN") && lines[0].contains("RESULT"));
    assert!(lines[1].trim_start().starts_with("2 ") && lines[1].contains("feature"));
    assert!(lines[2].trim_start().starts_with("1 ") && lines[2].contains("main"));

    let output = mlci(dir.path())
        .args(["runs", "show", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    assert!(stdout.contains("job train: success in 41.0s"), "{stdout}");
    assert!(stdout.contains("NVIDIA H100"));
    assert!(stdout.contains("hit") && stdout.contains("miss"));
    assert!(stdout.contains("model/"));

    // No store: one sentence, not a new empty file.
    let output = mlci(dir.path()).args(["runs", "ls"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).1.contains("no run store at ./.mlci/runs.db"));
    assert!(!dir.path().join(".mlci").exists());
}

#[test]
fn a_failed_gate_makes_report_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut store = Store::open(&db).unwrap();
    store
        .insert_run(&run("main", "aaaa", &[("accuracy", 0.95), ("loss", 0.2)]))
        .unwrap();
    let good = store
        .insert_run(&pr_run(
            "feature",
            "bbbb",
            3,
            &[("accuracy", 0.96), ("loss", 0.205)],
        ))
        .unwrap();
    let bad = store
        .insert_run(&pr_run(
            "feature",
            "cccc",
            3,
            &[("accuracy", 0.97), ("loss", 0.3)],
        ))
        .unwrap();
    let missing = store
        .insert_run(&pr_run("feature", "dddd", 3, &[("loss", 0.2)]))
        .unwrap();
    drop(store);

    let report = |id: i64, out: &str| {
        mlci(dir.path())
            .args(["report", "--run", &id.to_string(), "--output", out, "--db"])
            .arg(&db)
            .output()
            .unwrap()
    };
    let output = report(good, "good.md");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output).1);
    let markdown = std::fs::read_to_string(dir.path().join("good.md")).unwrap();
    assert!(markdown.starts_with("<!-- mlci:report workflow=train-evaluate -->\n## ✅"));
    assert!(markdown.contains("all 2 gates passed"));
    assert!(
        markdown.contains("| accuracy | 0.96 | 0.95 | ▲ +0.01 | +1.05 % |"),
        "{markdown}"
    );
    assert!(markdown.contains("```mermaid\nxychart-beta\n    title \"train.loss\""));
    assert!(
        markdown.contains("| 2 | 0.3 |"),
        "the series' numbers in a table"
    );
    assert!(markdown.contains("♻️ restored from cache"));
    assert!(markdown.contains("**GPU:** train: NVIDIA H100 80GB HBM3 (`--gpus all`)."));

    let output = report(bad, "bad.md");
    assert_eq!(output.status.code(), Some(1));
    let (_, stderr) = text(&output);
    assert!(
        stderr.contains("FAIL loss <= base + 0.01: 0.3 is not <= 0.21 (base 0.2)"),
        "{stderr}"
    );
    let markdown = std::fs::read_to_string(dir.path().join("bad.md")).unwrap();
    assert!(markdown.contains("## ❌ mlci · train-evaluate: 1 of 2 gates failed"));
    assert!(markdown.contains("| **loss** ❌ |"));
    // The history chart across the branch's runs: #2 then #3 is not there (failed runs are
    // no history), but the good one and this one are.
    assert!(markdown.contains("accuracy across recent runs"));

    let output = report(missing, "missing.md");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output)
            .1
            .contains("the run reported no metric `accuracy`")
    );

    // Without --output, the Markdown goes to stdout.
    let output = mlci(dir.path())
        .args(["report", "--run", &good.to_string(), "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(text(&output).0.starts_with("<!-- mlci:report"));
}

#[test]
fn a_long_report_is_cut_at_githubs_limit_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut store = Store::open(&db).unwrap();
    let names: Vec<String> = (0..3000)
        .map(|i| format!("class_{i:04}.precision"))
        .collect();
    let metrics: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 0.5)).collect();
    let mut record = run("main", "aaaa", &metrics);
    record.result = RunResult::Success;
    store.insert_run(&record).unwrap();
    drop(store);
    let output = mlci(dir.path())
        .args(["report", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    assert!(
        stdout.chars().count() <= 65_536,
        "{}",
        stdout.chars().count()
    );
    assert!(stdout.contains("This report was cut at GitHub's 65536-character limit"));
    assert!(stdout.contains("mlci report --run 1"));
}

#[test]
fn the_train_evaluate_example_has_gates_and_metrics_that_mlci_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = mlci::workflow::load(&root.join("workflows/train-evaluate.yml")).unwrap();
    assert!(!loaded.has_errors());
    let workflow = &loaded.workflow;
    let checks = mlci::report::gates::GateCheck::from_workflow(&workflow.gates);
    let names: Vec<&str> = checks.iter().map(|g| g.metric.as_str()).collect();
    assert_eq!(names, ["accuracy", "loss"]);
    let specs = mlci::record::GateSpec::from_workflow(&workflow.gates);
    assert_eq!(specs[1].condition, "<= base + 0.01");
    let evaluate = workflow.job("evaluate").unwrap();
    let files: Vec<&str> = evaluate
        .steps
        .iter()
        .flat_map(|s| s.metrics.iter().map(|m| m.value.as_str()))
        .collect();
    assert_eq!(files, ["metrics/eval.json"]);
    // The shape evaluate.py writes.
    let metrics = parse_str(
        "metrics/eval.json",
        r#"{"accuracy": 0.97, "loss": 0.09, "best_model": "forest",
            "models": {"forest": {"accuracy": 0.97, "loss": 0.09}, "logistic": {"accuracy": 0.96, "loss": 0.12}}}"#,
    )
    .unwrap();
    let values: Vec<(String, MetricValue)> =
        metrics.into_iter().map(|m| (m.name, m.value)).collect();
    let outcome = mlci::report::gates::evaluate(&checks, &values, Some(&values), None);
    assert!(outcome.passed(), "{}", outcome.render_text());
    assert!(root.join("examples/sklearn/evaluate.py").is_file());
    assert!(root.join("examples/sklearn/prepare.py").is_file());
}

#[test]
fn a_steps_metric_and_params_files_are_collected_from_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("metrics")).unwrap();
    std::fs::write(dir.path().join("metrics/eval.json"), r#"{"accuracy": 0.9}"#).unwrap();
    std::fs::write(dir.path().join("metrics/bad.json"), "{").unwrap();
    std::fs::write(dir.path().join("params.yaml"), "lr: 0.1\n").unwrap();
    let files = [
        "metrics/eval.json".to_string(),
        "metrics/bad.json".to_string(),
    ];
    let (metrics, errors) = mlci::metrics::collect(dir.path(), &files);
    assert_eq!(metrics, vec![n("accuracy", 0.9)]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("bad.json"));
    let inputs = ["data/".to_string(), "params.yaml".to_string()];
    let (params, errors) = mlci::metrics::collect_params(dir.path(), &inputs);
    assert!(errors.is_empty());
    assert_eq!(params[0].name, "lr");
    assert_eq!(params[0].value, "0.1");
}
