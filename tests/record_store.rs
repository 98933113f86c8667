//! The run store: migrations, a full round trip, secrets, baselines, and two
//! writers at once.

mod report_fixtures;

use mlci::metrics::MetricValue;
use mlci::record::{RunFilter, RunResult, SCHEMA_VERSION, Store, StoreError};
use report_fixtures::{pr_run, run};

#[test]
fn an_empty_file_is_migrated_to_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/runs.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    drop(store);
    // Opening again applies nothing and keeps the data.
    let mut store = Store::open(&path).unwrap();
    let id = store
        .insert_run(&run("main", "abc", &[("accuracy", 0.9)]))
        .unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.get_run(id).unwrap().record.sha, "abc");

    // The file is in WAL mode, for concurrent runs.
    let conn = rusqlite_mode(&path);
    assert_eq!(conn, "wal");
}

fn rusqlite_mode(path: &std::path::Path) -> String {
    // Read the header: bytes 18 and 19 are 2 for WAL.
    let bytes = std::fs::read(path).unwrap();
    if bytes[18] == 2 && bytes[19] == 2 {
        "wal".to_string()
    } else {
        "rollback".to_string()
    }
}

#[test]
fn a_newer_schema_is_refused_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    drop(Store::open(&path).unwrap());
    // Pretend a newer mlci wrote the file: the header's user_version (offset 60).
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[60..64].copy_from_slice(&((SCHEMA_VERSION + 5) as u32).to_be_bytes());
    std::fs::write(&path, bytes).unwrap();
    let _ = std::fs::remove_file(dir.path().join("runs.db-wal"));
    let error = Store::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Newer { .. }), "{error}");
    assert!(error.to_string().contains("upgrade mlci"));
}

#[test]
fn a_run_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("runs.db")).unwrap();
    let mut record = pr_run("feature", "f00d", 7, &[("accuracy", 0.93), ("loss", 0.2)]);
    record.jobs[0].matrix.insert("device".into(), "cuda".into());
    record.jobs[0].annotations = report_fixtures::annotations(3);
    record.jobs[1].steps[0].metrics.push(mlci::metrics::Metric {
        name: "model".into(),
        value: MetricValue::Text("forest".into()),
        step: None,
    });
    let id = store.insert_run(&record).unwrap();
    let stored = store.get_run(id).unwrap();
    assert_eq!(stored.id, id);
    assert_eq!(stored.record, record);

    // Queries over what was stored.
    let values = stored.record.metric_values();
    assert_eq!(
        values[0],
        ("accuracy".to_string(), MetricValue::Number(0.93))
    );
    assert_eq!(
        stored.record.series(),
        vec![("train.loss".to_string(), vec![(0, 0.9), (1, 0.5), (2, 0.3)])]
    );
    // Lineage: the step that wrote model/ is found by the artifact's hash.
    let producers = store.producers(&"bb22".repeat(16)).unwrap();
    assert_eq!(
        producers,
        vec![(id, "train".to_string(), "Train".to_string())]
    );
}

#[test]
fn secret_values_are_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let mut store = Store::open(&path).unwrap();
    store.set_secrets(["s3cr3t-value-42"]);
    let mut record = run("main", "abc", &[("accuracy", 0.9)]);
    record.jobs[0].steps[1].params.push(mlci::metrics::Param {
        name: "api_key".into(),
        value: "s3cr3t-value-42".into(),
    });
    record.jobs[0].steps[1].name = "Train with s3cr3t-value-42".into();
    let id = store.insert_run(&record).unwrap();
    let stored = store.get_run(id).unwrap();
    let params = stored.record.params();
    assert_eq!(
        params.iter().find(|p| p.name == "api_key").unwrap().value,
        "***"
    );
    assert_eq!(stored.record.jobs[0].steps[1].name, "Train with ***");
    drop(store);
    for file in ["runs.db", "runs.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            assert!(
                !bytes.windows(15).any(|w| w == b"s3cr3t-value-42"),
                "{file} holds the secret"
            );
        }
    }
}

#[test]
fn the_baseline_is_the_latest_successful_run_of_the_base_branch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("runs.db")).unwrap();
    let old_main = store
        .insert_run(&run("main", "a1", &[("accuracy", 0.9)]))
        .unwrap();
    let main = store
        .insert_run(&run("main", "a2", &[("accuracy", 0.91)]))
        .unwrap();
    let mut failed = run("main", "a3", &[("accuracy", 0.2)]);
    failed.result = RunResult::Failure;
    store.insert_run(&failed).unwrap();
    let other = store
        .insert_run(&run("dev", "d1", &[("accuracy", 0.5)]))
        .unwrap();
    let pr = store
        .insert_run(&pr_run("feature", "f1", 3, &[("accuracy", 0.95)]))
        .unwrap();

    let pr_run = store.get_run(pr).unwrap();
    assert_eq!(store.baseline(&pr_run, None).unwrap(), Some(main));
    assert_eq!(store.baseline(&pr_run, Some("dev")).unwrap(), Some(other));
    assert_eq!(
        store.baseline(&pr_run, Some("refs/heads/dev")).unwrap(),
        Some(other)
    );
    // A run of main compares with the previous successful run of main.
    let main_run = store.get_run(main).unwrap();
    assert_eq!(store.baseline(&main_run, None).unwrap(), Some(old_main));
    // Finding runs by number, branch, sha prefix and `latest`.
    assert_eq!(store.resolve("latest", None).unwrap(), pr);
    assert_eq!(store.resolve(&format!("#{main}"), None).unwrap(), main);
    assert_eq!(store.resolve("dev", None).unwrap(), other);
    assert!(matches!(
        store.resolve("999", None),
        Err(StoreError::NoRun(_))
    ));
    let listed = store
        .list_runs(&RunFilter {
            branch: Some("main".into()),
            successful_only: true,
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [main, old_main]
    );
}

#[test]
fn two_concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    // Both open a file that does not exist yet: the migration itself races too.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut store = Store::open(&path).unwrap();
                let mut ids = Vec::new();
                for i in 0..25 {
                    let record = run(
                        &format!("branch-{writer}"),
                        &format!("{writer:02}{i:038}"),
                        &[("accuracy", i as f64 / 100.0)],
                    );
                    ids.push(store.insert_run(&record).unwrap());
                    // Reads interleave with the other writer's transactions.
                    store.list_runs(&RunFilter::default()).unwrap();
                }
                ids
            })
        })
        .collect();
    let mut ids: Vec<i64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 50);
    for id in ids {
        let run = store.get_run(id).unwrap();
        assert_eq!(run.record.jobs.len(), 2, "every run complete");
        assert_eq!(run.record.jobs[0].steps.len(), 2);
    }
}

#[test]
fn pull_request_facts_come_from_the_event_payload() {
    let payload = serde_json::json!({
        "number": 7,
        "pull_request": {"number": 7, "head": {"ref": "feature", "sha": "abc"}, "base": {"ref": "main"}},
    });
    let info = mlci::record::PullRequestInfo::from_event(&payload);
    assert_eq!(info.number, Some(7));
    assert_eq!(info.head_ref.as_deref(), Some("feature"));
    assert_eq!(info.base_ref.as_deref(), Some("main"));
    assert_eq!(info.head_sha.as_deref(), Some("abc"));
    let push =
        mlci::record::PullRequestInfo::from_event(&serde_json::json!({"ref": "refs/heads/main"}));
    assert_eq!(push, mlci::record::PullRequestInfo::default());
}

#[test]
fn a_started_run_keeps_its_id_when_it_ends_and_one_whose_process_is_gone_becomes_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("runs.db")).unwrap();
    let record = run("main", "abc", &[("accuracy", 0.9)]);
    let finished = store.start_run(&record, "host/100/7").unwrap();
    let killed = store.start_run(&record, "host/200/7").unwrap();
    // Runs still going are not listed (nor taken for the latest run).
    assert!(store.list_runs(&RunFilter::default()).unwrap().is_empty());

    assert_eq!(store.finish_run(finished, &record).unwrap(), finished);
    let marked = store
        .mark_interrupted(|owner| owner == "host/200/7")
        .unwrap();
    assert_eq!(marked, [killed]);
    let listed: Vec<_> = store
        .list_runs(&RunFilter::default())
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.result))
        .collect();
    assert_eq!(
        listed,
        [
            (killed, RunResult::Interrupted),
            (finished, RunResult::Success)
        ]
    );
    // The finished run is whole: its metrics came with it.
    let read = store.get_run(finished).unwrap().record;
    assert_eq!(read.jobs.len(), record.jobs.len());
    assert!(store.mark_interrupted(|_| true).unwrap().is_empty());
}
