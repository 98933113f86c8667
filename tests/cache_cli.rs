//! `mlci cache ls|gc|rm` on a cache filled through the library, as a user runs them.

use mlci::cache::{CacheKey, KeyInput, SaveMeta, SaveOptions, StepRef, Store};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod common;

fn mlci(cache: &Path, args: &[&str]) -> Output {
    Command::new(common::mlci_bin())
        .arg("cache")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .env_remove("MLCI_CACHE_REMOTE")
        .env("NO_COLOR", "1")
        .output()
        .expect("mlci runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn key(name: &str) -> CacheKey {
    KeyInput {
        command: name.into(),
        ..KeyInput::default()
    }
    .key()
}

/// Three entries: prepare (3 MB), train (1 MB, used twice), eval (2 MB), saved in that order.
fn filled_cache() -> tempfile::TempDir {
    let cache = tempfile::tempdir().unwrap();
    let store = Store::open(cache.path()).unwrap();
    let src = tempfile::tempdir().unwrap();
    for (i, (step, size)) in [
        ("prepare", 3_000_000),
        ("train", 1_000_000),
        ("eval", 2_000_000),
    ]
    .iter()
    .enumerate()
    {
        let dir = src.path().join(step);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("out.bin"), vec![i as u8 + 1; *size]).unwrap();
        let meta = SaveMeta {
            made_by: StepRef {
                workflow: "pipeline.yml".into(),
                job: "ml".into(),
                step: step.to_string(),
            },
            duration: Duration::from_secs(2),
            ..SaveMeta::default()
        };
        store
            .save(
                &key(step),
                src.path(),
                &[step.to_string()],
                meta,
                SaveOptions::default(),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    store.lookup(&key("train")).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    store.lookup(&key("train")).unwrap();
    cache
}

#[test]
fn ls_lists_entries_with_size_age_hits_and_step() {
    let cache = filled_cache();
    let output = mlci(cache.path(), &["ls"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("KEY")
            && lines[0].contains("SIZE")
            && lines[0].contains("HITS")
            && lines[0].contains("STEP"),
        "{text}"
    );
    // Most recently used first: train, then eval, then prepare.
    assert!(
        lines[1].contains("pipeline.yml › ml › train") && lines[1].contains("1.0 MB"),
        "{text}"
    );
    assert!(
        lines[1].contains(&key("train").short().to_string()),
        "{text}"
    );
    assert!(
        lines[1].split_whitespace().any(|w| w == "2"),
        "two hits: {text}"
    );
    assert!(
        lines[2].contains("eval") && lines[2].contains("2.0 MB"),
        "{text}"
    );
    assert!(
        lines[3].contains("prepare") && lines[3].contains("3.0 MB"),
        "{text}"
    );
    assert!(
        text.contains("3 entries, 6.0 MB on disk (cap 20.0 GB)"),
        "{text}"
    );

    let output = mlci(cache.path(), &["ls", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["key"], key("train").to_string());
    assert_eq!(entries[0]["hits"], 2);
    assert_eq!(entries[0]["size"], 1_000_000);
    assert_eq!(entries[0]["step"], "train");
    assert_eq!(entries[0]["duration_ms"], 2000);
}

#[test]
fn gc_evicts_least_recently_used_entries_down_to_the_given_size() {
    let cache = filled_cache();
    let output = mlci(cache.path(), &["gc", "--max-size", "3.5M"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "removed 1 entry and 1 file, freed 3.0 MB; the cache holds 3.0 MB (cap 3.5 MB)\n"
    );
    let text = stdout(&mlci(cache.path(), &["ls"]));
    assert!(!text.contains("prepare"), "{text}");
    assert!(text.contains("train") && text.contains("eval"), "{text}");

    // --cache-max-size is the default cap of gc.
    let output = mlci(cache.path(), &["gc", "--cache-max-size", "1M"]);
    assert!(
        stdout(&output).starts_with("removed 1 entry"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&mlci(cache.path(), &["ls"])).contains("train"));
}

#[test]
fn rm_removes_by_key_or_unique_prefix_or_all() {
    let cache = filled_cache();
    let full = key("eval").to_string();
    let output = mlci(cache.path(), &["rm", &full[..12]]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("removed {full}\n"));
    let text = stdout(&mlci(cache.path(), &["ls"]));
    assert!(
        !text.contains("eval") && text.contains("2 entries, 4.0 MB"),
        "{text}"
    );

    let output = mlci(cache.path(), &["rm", "--all"]);
    assert_eq!(stdout(&output), "removed 2 entries\n");
    assert!(stdout(&mlci(cache.path(), &["ls"])).starts_with("no cache entries in"));
}

#[test]
fn bad_arguments_get_one_sentence_and_exit_2() {
    let cache = filled_cache();
    let output = mlci(cache.path(), &["rm", "k1-zzz"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: no cache entry has the key `k1-zzz` (see `mlci cache ls`)\n"
    );

    let output = mlci(cache.path(), &["rm"]);
    assert_eq!(output.status.code(), Some(2), "rm needs keys or --all");

    let output = mlci(cache.path(), &["gc", "--max-size", "lots"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("expected a size such as 20G or 500M"),
        "{}",
        stderr(&output)
    );

    let output = mlci(cache.path(), &["push"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: no cache remote: give --cache-remote s3://bucket/prefix or set MLCI_CACHE_REMOTE\n"
    );
    // Nothing was removed by the failed commands.
    assert!(stdout(&mlci(cache.path(), &["ls"])).contains("3 entries"));
}

#[test]
fn a_model_whose_object_has_a_flipped_byte_is_never_pulled() {
    let dir = tempfile::tempdir().unwrap();
    let models = |args: &[&str]| {
        Command::new(common::mlci_bin())
            .arg("models")
            .args(args)
            .current_dir(dir.path())
            .env("MLCI_CACHE_DIR", dir.path().join("cache"))
            .env("MLCI_DB", dir.path().join("runs.db"))
            .env_remove("MLCI_CACHE_REMOTE")
            .output()
            .expect("mlci runs")
    };
    let weights: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("model.onnx"), &weights).unwrap();
    let out = models(&["register", "clf", "model.onnx"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // One bit of the stored object, with its size and mtime kept: what a
    // stat says of it does not change.
    let hash = blake3::hash(&weights).to_hex().to_string();
    let object = dir
        .path()
        .join("cache/objects")
        .join(&hash[..2])
        .join(&hash[2..]);
    let metadata = std::fs::metadata(&object).unwrap();
    let modified = metadata.modified().unwrap();
    #[allow(clippy::permissions_set_readonly_false)]
    let writable = {
        let mut p = metadata.permissions();
        p.set_readonly(false);
        p
    };
    std::fs::set_permissions(&object, writable).unwrap();
    let mut flipped = weights.clone();
    flipped[500_000] ^= 0x01;
    let file = std::fs::File::options().write(true).open(&object).unwrap();
    std::io::Write::write_all(&mut &file, &flipped).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    std::fs::set_permissions(&object, metadata.permissions()).unwrap();

    let out = models(&["pull", "clf@1", "out.onnx"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not match its hash"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("out.onnx").exists());
    assert!(!object.exists(), "the corrupt object is removed");
}
