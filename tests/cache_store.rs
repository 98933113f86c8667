//! The local cache as the engine uses it: keys from host files, save, lookup, restore,
//! with the failures a user would notice (a killed save, a corrupt or malicious entry,
//! a full cache, two runs at once).

use mlci::cache::actions_cache;
use mlci::cache::store::GcReport;
use mlci::cache::{
    CacheKey, FileIndex, KeyInput, SaveMeta, SaveOptions, SecretKey, StepRef, Store, Tree,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn write(root: &Path, relative: &str, bytes: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn patterns(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A store whose warnings are collected.
fn store_with_warnings(dir: &Path) -> (Store, Arc<Mutex<Vec<String>>>) {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let store = Store::open(dir)
        .unwrap()
        .with_warnings(Arc::new(move |m: &str| {
            sink.lock().unwrap().push(m.to_string())
        }));
    (store, warnings)
}

fn meta(step: &str) -> SaveMeta {
    SaveMeta {
        made_by: StepRef {
            workflow: "ml.yml".into(),
            job: "train".into(),
            step: step.into(),
        },
        step_outputs: BTreeMap::from([("accuracy".to_string(), "0.93".to_string())]),
        metrics: vec!["metrics.json".into()],
        exit_code: 0,
        duration: Duration::from_millis(1500),
    }
}

fn key(name: &str) -> CacheKey {
    KeyInput {
        command: name.to_string(),
        ..KeyInput::default()
    }
    .key()
}

/// Pseudo-random bytes (xorshift), so that files of one size differ.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn object_count(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("objects"))
        .unwrap()
        .flatten()
        .map(|shard| std::fs::read_dir(shard.path()).unwrap().count())
        .sum()
}

#[test]
fn save_lookup_restore_round_trip_keeps_bytes_modes_symlinks_and_step_data() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "model/weights.bin", &noise(300_000, 1));
    write(src.path(), "model/run.sh", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(
        src.path().join("model/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    write(src.path(), "model/sub/empty.txt", b"");
    std::os::unix::fs::symlink("weights.bin", src.path().join("model/latest")).unwrap();
    write(src.path(), "metrics.json", br#"{"accuracy": 0.93}"#);
    write(src.path(), "not-an-output.txt", b"left behind");

    let (store, warnings) = store_with_warnings(cache.path());
    let k = key("train");
    let saved = store
        .save(
            &k,
            src.path(),
            &patterns(&["model/"]),
            meta("Train"),
            SaveOptions::default(),
        )
        .unwrap();
    assert_eq!(saved.outputs.len(), 5, "{:?}", saved.outputs);

    let entry = store.lookup(&k).expect("a hit after a save");
    assert_eq!(entry.hits, 1);
    assert_eq!(entry.step_outputs["accuracy"], "0.93");
    assert_eq!(entry.made_by.step, "Train");
    assert_eq!(entry.exit_code, 0);
    assert_eq!(entry.duration_ms, 1500);
    assert_eq!(entry.metrics, vec!["metrics.json".to_string()]);

    let dest = tempfile::tempdir().unwrap();
    let stats = store.restore(&entry, dest.path()).unwrap();
    assert_eq!(stats.written, 5);
    for file in [
        "model/weights.bin",
        "model/run.sh",
        "model/sub/empty.txt",
        "metrics.json",
    ] {
        assert_eq!(
            std::fs::read(dest.path().join(file)).unwrap(),
            std::fs::read(src.path().join(file)).unwrap(),
            "{file}"
        );
    }
    let mode = |root: &Path, f: &str| {
        std::fs::metadata(root.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o111
    };
    assert_ne!(
        mode(dest.path(), "model/run.sh"),
        0,
        "the executable bit comes back"
    );
    assert_eq!(mode(dest.path(), "model/weights.bin"), 0);
    // Restored files are the user's to edit, not read-only store objects.
    assert!(
        !std::fs::metadata(dest.path().join("model/weights.bin"))
            .unwrap()
            .permissions()
            .readonly()
    );
    assert_eq!(
        std::fs::read_link(dest.path().join("model/latest")).unwrap(),
        Path::new("weights.bin")
    );
    assert!(!dest.path().join("not-an-output.txt").exists());
    assert!(warnings.lock().unwrap().is_empty());

    // A second lookup counts a second hit.
    assert_eq!(store.lookup(&k).unwrap().hits, 2);
}

#[test]
fn an_unchanged_50_mb_input_is_rekeyed_from_the_index_without_reading_it() {
    let cache = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    write(repo.path(), "data/train.csv", &noise(50 << 20, 7));
    write(repo.path(), "train.py", b"print('train')\n");
    let inputs = patterns(&["data/", "train.py"]);

    let first = {
        let store = Store::open(cache.path()).unwrap();
        let tree = Tree::from_dir(repo.path(), &inputs, store.index()).unwrap();
        assert_eq!(store.index().bytes_hashed(), (50 << 20) + 15);
        store.flush().unwrap();
        tree
    };
    // A new run: the index comes from disk.
    let started = Instant::now();
    let index = FileIndex::open(cache.path());
    let tree = Tree::from_dir(repo.path(), &inputs, &index).unwrap();
    let key = KeyInput {
        command: "python train.py".into(),
        inputs: tree.clone(),
        ..KeyInput::default()
    }
    .key();
    let elapsed = started.elapsed();
    assert_eq!(
        index.bytes_hashed(),
        0,
        "an unchanged file is not read again"
    );
    assert_eq!(tree, first);
    eprintln!("re-keying a 50 MB unchanged input: {elapsed:?} (key {key})");
    assert!(elapsed < Duration::from_millis(200), "{elapsed:?}");

    // Touching the file (same bytes, new mtime) re-reads it but keeps the key.
    let file = std::fs::File::options()
        .write(true)
        .open(repo.path().join("data/train.csv"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(file);
    let retouched = Tree::from_dir(repo.path(), &inputs, &index).unwrap();
    assert_eq!(index.bytes_hashed(), 50 << 20);
    assert_eq!(retouched.hash(), first.hash());
}

#[test]
fn the_key_follows_inputs_command_env_image_and_secret_values_only_sealed() {
    let repo = tempfile::tempdir().unwrap();
    write(repo.path(), "params.yaml", b"epochs: 3\n");
    write(repo.path(), "data/a.csv", b"1,2,3\n");
    let index = FileIndex::in_memory();
    let inputs = patterns(&["params.yaml", "data/*.csv"]);
    let base = KeyInput {
        command: "python train.py".into(),
        shell: "bash".into(),
        image_digest: "sha256:aaaa".into(),
        env: BTreeMap::from([("SEED".to_string(), "1".to_string())]),
        working_directory: "/work".into(),
        inputs: Tree::from_dir(repo.path(), &inputs, &index).unwrap(),
        params: BTreeMap::new(),
    };
    let k = base.key();
    assert!(k.as_str().starts_with("k1-"), "{k}");
    assert_eq!(k.as_str().len(), 3 + 64);
    assert_eq!(base.clone().key(), k, "the key is deterministic");

    let changed = |f: &dyn Fn(&mut KeyInput)| {
        let mut input = base.clone();
        f(&mut input);
        input.key()
    };
    assert_ne!(changed(&|i| i.command.push_str(" --lr 0.1")), k);
    assert_ne!(changed(&|i| i.shell = "sh".into()), k);
    assert_ne!(changed(&|i| i.image_digest = "sha256:bbbb".into()), k);
    assert_ne!(
        changed(&|i| {
            i.env.insert("SEED".into(), "2".into());
        }),
        k
    );
    assert_ne!(changed(&|i| i.working_directory = "/work/sub".into()), k);
    // A parameter by value: another value is another key.
    let with_lr = |lr: &str| {
        changed(&|i| {
            i.params.insert("params.yaml:train.lr".into(), lr.into());
        })
    };
    assert_ne!(with_lr("0.01"), k);
    assert_ne!(with_lr("0.01"), with_lr("0.02"));
    assert_eq!(with_lr("0.01"), with_lr("0.01"));

    // One byte of one input.
    write(repo.path(), "data/a.csv", b"1,2,4\n");
    assert_ne!(
        changed(&|i| i.inputs = Tree::from_dir(repo.path(), &inputs, &index).unwrap()),
        k
    );
    write(repo.path(), "data/a.csv", b"1,2,3\n");
    assert_eq!(
        changed(&|i| i.inputs = Tree::from_dir(repo.path(), &inputs, &index).unwrap()),
        k
    );
    // A file the glob does not match does not count.
    write(repo.path(), "data/notes.txt", b"unrelated\n");
    assert_eq!(
        changed(&|i| i.inputs = Tree::from_dir(repo.path(), &inputs, &index).unwrap()),
        k
    );
    // A variable that carries a secret enters sealed: another value, another key;
    // the same value in the same cache, the same key.
    let cache = tempfile::tempdir().unwrap();
    let secret_key = SecretKey::load_or_create(cache.path()).unwrap();
    let with_token = |token: &str| {
        changed(&|i| {
            i.env.insert("HF_TOKEN".into(), secret_key.seal(token));
        })
    };
    assert_ne!(with_token("hf_one"), with_token("hf_two"));
    let again = SecretKey::load_or_create(cache.path()).unwrap();
    assert_eq!(again.seal("hf_one"), secret_key.seal("hf_one"));
    // Another cache has another secret key: a key read from a shared remote
    // gives nothing to test guesses of the value against.
    let other = tempfile::tempdir().unwrap();
    let other_key = SecretKey::load_or_create(other.path()).unwrap();
    assert_ne!(other_key.seal("hf_one"), secret_key.seal("hf_one"));
    assert!(!secret_key.seal("hf_one").contains("hf_one"));
}

#[test]
fn keys_for_a_later_step_come_from_the_overlay_without_materialising_anything() {
    let cache = tempfile::tempdir().unwrap();
    let store = Store::open(cache.path()).unwrap();
    // The snapshot has an old data/ file and the script; `prepare` outputs data/.
    let snapshot = tempfile::tempdir().unwrap();
    write(snapshot.path(), "train.py", b"train\n");
    write(snapshot.path(), "data/old.csv", b"old\n");
    write(snapshot.path(), "data/train.csv", b"stale\n");
    let scratch = tempfile::tempdir().unwrap();
    write(scratch.path(), "data/train.csv", b"fresh\n");
    let prepared = store
        .save(
            &key("prepare"),
            scratch.path(),
            &patterns(&["data/"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();

    let inputs = patterns(&["data/", "train.py"]);
    let host = Tree::from_dir(snapshot.path(), &inputs, store.index()).unwrap();
    let seen = host.overlay(&prepared.outputs.select(&inputs).unwrap());
    assert_eq!(seen.get("data/train.csv").unwrap().size, 6);

    // The same tree as after actually restoring prepare's outputs into the snapshot.
    store.restore(&prepared, snapshot.path()).unwrap();
    let restored = Tree::from_dir(snapshot.path(), &inputs, store.index()).unwrap();
    assert_eq!(seen, restored);
    assert_eq!(seen.hash(), restored.hash());

    // A file of upper replaces a directory of lower and the other way round.
    let lower = Tree::from_dir(snapshot.path(), &patterns(&["data/"]), store.index()).unwrap();
    let mut file_entry = lower.get("data/old.csv").unwrap().clone();
    file_entry.path = "data".into();
    let replaced = lower.overlay(&Tree::from_entries([file_entry]));
    assert_eq!(replaced.len(), 1);
    assert_eq!(replaced.entries()[0].path, "data");
}

#[test]
fn identical_files_are_stored_once_and_restoring_over_them_writes_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let (store, _) = store_with_warnings(cache.path());
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let dataset = noise(2 << 20, 3);
    write(a.path(), "out/data.bin", &dataset);
    write(b.path(), "out/copy-of-data.bin", &dataset);
    write(b.path(), "out/other.bin", b"other");
    store
        .save(
            &key("a"),
            a.path(),
            &patterns(&["out"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();
    store
        .save(
            &key("b"),
            b.path(),
            &patterns(&["out"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();
    assert_eq!(object_count(cache.path()), 2, "the dataset is stored once");
    assert!(store.size().unwrap() < (2 << 20) + 100);

    // Restoring into the tree that produced it: every file is already there.
    let entry = store.lookup(&key("a")).unwrap();
    let inode = std::fs::metadata(a.path().join("out/data.bin"))
        .unwrap()
        .ino();
    let stats = store.restore(&entry, a.path()).unwrap();
    assert_eq!((stats.written, stats.unchanged), (0, 1));
    assert_eq!(
        std::fs::metadata(a.path().join("out/data.bin"))
            .unwrap()
            .ino(),
        inode
    );
    // A changed file is replaced by the cached one.
    write(a.path(), "out/data.bin", b"edited by hand");
    let stats = store.restore(&entry, a.path()).unwrap();
    assert_eq!(stats.written, 1);
    assert_eq!(
        std::fs::read(a.path().join("out/data.bin")).unwrap(),
        dataset
    );
}

#[test]
fn saving_a_missing_output_fails_and_leaves_no_entry() {
    let cache = tempfile::tempdir().unwrap();
    let store = Store::open(cache.path()).unwrap();
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "model/a.bin", b"a");
    let error = store
        .save(
            &key("x"),
            src.path(),
            &patterns(&["model/", "report.html"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the step did not produce its declared output report.html"
    );
    assert!(store.lookup(&key("x")).is_none());
}

/// Helper process for the kill and concurrency tests: the test binary runs itself with
/// `--exact helper_process` and MLCI_TEST_HELPER set.
#[test]
fn helper_process() {
    let Ok(role) = std::env::var("MLCI_TEST_HELPER") else {
        return;
    };
    let cache = std::env::var("MLCI_TEST_CACHE").unwrap();
    let work = std::env::var("MLCI_TEST_WORK").unwrap();
    let store = Store::open(&cache).unwrap();
    match role.as_str() {
        "saver" => {
            for i in 0..40u64 {
                let src = Path::new(&work).join(format!("src{i}"));
                write(&src, "out/big.bin", &noise(16 << 20, 100 + i));
                write(&src, "out/small.txt", format!("{i}").as_bytes());
                store
                    .save(
                        &key(&format!("kill-{i}")),
                        &src,
                        &patterns(&["out"]),
                        SaveMeta::default(),
                        SaveOptions::default(),
                    )
                    .unwrap();
                println!("saved {i}");
            }
        }
        "racer" => {
            let me = std::process::id();
            for round in 0..30u64 {
                let n = round % 4;
                let src = Path::new(&work).join(format!("race-{me}-{round}"));
                write(&src, "out/data.bin", &noise(1 << 20, n));
                write(&src, "out/n.txt", format!("{n}").as_bytes());
                let k = key(&format!("race-{n}"));
                store
                    .save(
                        &k,
                        &src,
                        &patterns(&["out"]),
                        SaveMeta::default(),
                        SaveOptions::default(),
                    )
                    .unwrap();
                let entry = store.lookup(&k).expect("a hit right after saving");
                let dest = Path::new(&work).join(format!("dest-{me}-{round}"));
                store.restore(&entry, &dest).unwrap();
                assert_eq!(
                    std::fs::read(dest.join("out/data.bin")).unwrap(),
                    noise(1 << 20, n)
                );
                if round % 10 == 9 {
                    store.gc(u64::MAX).unwrap();
                }
            }
            println!("racer done");
        }
        other => panic!("unknown helper role {other}"),
    }
}

fn helper(role: &str, cache: &Path, work: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "helper_process",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("MLCI_TEST_HELPER", role)
        .env("MLCI_TEST_CACHE", cache)
        .env("MLCI_TEST_WORK", work)
        .stdout(Stdio::piped());
    command
}

#[test]
fn a_save_killed_midway_leaves_no_entry_that_lookup_accepts() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut child = helper("saver", cache.path(), work.path()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut saved = Vec::new();
    while saved.len() < 2 {
        let line = lines.next().expect("the helper saves").unwrap();
        if let Some(i) = line.strip_prefix("saved ") {
            saved.push(i.parse::<u64>().unwrap());
        }
    }
    // Kill it in the middle of the next 16 MB save.
    std::thread::sleep(Duration::from_millis(40));
    child.kill().unwrap();
    child.wait().unwrap();

    let (store, warnings) = store_with_warnings(cache.path());
    let mut hits = 0;
    for i in 0..40u64 {
        if let Some(entry) = store.lookup(&key(&format!("kill-{i}"))) {
            // Whatever lookup accepts restores exactly what was saved.
            let dest = work.path().join(format!("check{i}"));
            store.restore(&entry, &dest).unwrap();
            assert_eq!(
                std::fs::read(dest.join("out/big.bin")).unwrap(),
                noise(16 << 20, 100 + i)
            );
            hits += 1;
        } else {
            assert!(i >= 2, "entry {i} was reported saved");
        }
    }
    assert!((2..40).contains(&hits), "{hits} hits");
    assert!(
        warnings.lock().unwrap().is_empty(),
        "{:?}",
        warnings.lock().unwrap()
    );

    // A torn entry file (as a non-atomic writer would leave) is refused with a warning.
    let torn = key("torn");
    let src = work.path().join("torn");
    write(&src, "out/x", b"x");
    store
        .save(
            &torn,
            &src,
            &patterns(&["out"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();
    let entry_file = cache.path().join("entries").join(format!("{torn}.json"));
    let text = std::fs::read(&entry_file).unwrap();
    std::fs::write(&entry_file, &text[..text.len() / 2]).unwrap();
    assert!(store.lookup(&torn).is_none());
    assert!(
        warnings
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.contains("is corrupt"))
    );

    // gc removes what the killed process left in tmp/.
    store.gc(u64::MAX).unwrap();
    assert_eq!(
        std::fs::read_dir(cache.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn a_corrupt_object_is_detected_and_the_entry_discarded_with_a_warning() {
    let cache = tempfile::tempdir().unwrap();
    let (store, warnings) = store_with_warnings(cache.path());
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "model.bin", &noise(100_000, 5));
    let k = key("model");
    let entry = store
        .save(
            &k,
            src.path(),
            &patterns(&["model.bin"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();
    let object = store.object_path(&entry.outputs.entries()[0].hash);
    // Flip bytes in place, keeping the size (the object is read-only: make it writable).
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[500] ^= 0xff;
    std::fs::write(&object, &bytes).unwrap();

    assert!(store.lookup(&k).is_none(), "a corrupt object is a miss");
    let warnings = warnings.lock().unwrap().clone();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("does not match its hash"),
        "{}",
        warnings[0]
    );
    assert!(!object.exists(), "the corrupt object is removed");
    assert!(!store.contains(&k), "the entry is discarded");
    // Saving again repairs the cache.
    store
        .save(
            &k,
            src.path(),
            &patterns(&["model.bin"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();
    assert!(store.lookup(&k).is_some());
}

#[test]
fn entries_with_escaping_paths_or_symlinks_are_refused() {
    let cache = tempfile::tempdir().unwrap();
    let (store, warnings) = store_with_warnings(cache.path());
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "out/ok.txt", b"payload");
    let good = store
        .save(
            &key("good"),
            src.path(),
            &patterns(&["out"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();
    let file = good.outputs.entries()[0].clone();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    let dest_parent = tempfile::tempdir().unwrap();
    let dest = dest_parent.path().join("ws");
    std::fs::create_dir(&dest).unwrap();

    let link = |path: &str, target: &str| mlci::cache::TreeEntry {
        path: path.into(),
        kind: mlci::cache::EntryKind::Symlink,
        executable: false,
        hash: blake3::hash(target.as_bytes()).to_hex().to_string(),
        size: target.len() as u64,
        target: Some(target.into()),
    };
    let with_path = |path: &str| {
        let mut e = file.clone();
        e.path = path.into();
        e
    };
    let victim_text = victim.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<mlci::cache::TreeEntry>)> = vec![
        ("dotdot", vec![with_path("../ws-escape.txt")]),
        ("absolute", vec![with_path(&victim_text)]),
        ("symlink-out", vec![link("out/escape", "../../etc")]),
        ("symlink-absolute", vec![link("out/escape", "/etc/passwd")]),
        (
            "through-link",
            vec![link("out/l", "."), with_path("out/l/x")],
        ),
    ];
    for (name, entries) in cases {
        let mut entry = good.clone();
        entry.key = key(name).to_string();
        entry.outputs = Tree::from_entries(entries);
        std::fs::write(
            cache
                .path()
                .join("entries")
                .join(format!("{}.json", entry.key)),
            serde_json::to_vec(&entry).unwrap(),
        )
        .unwrap();
        assert!(
            store.lookup(&key(name)).is_none(),
            "{name}: lookup refuses it"
        );
        let error = store.restore(&entry, &dest).unwrap_err();
        assert!(error.to_string().contains("is unsafe"), "{name}: {error}");
    }
    assert!(!victim.exists());
    assert!(!dest_parent.path().join("ws-escape.txt").exists());
    assert_eq!(
        std::fs::read_dir(&dest).unwrap().count(),
        0,
        "nothing was written"
    );
    assert_eq!(warnings.lock().unwrap().len(), 5);

    // A symlink already in the workspace that points out is not written through.
    std::os::unix::fs::symlink(outside.path(), dest.join("out")).unwrap();
    let error = store.restore(&good, &dest).unwrap_err();
    assert!(error.to_string().contains("symlink"), "{error}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn gc_evicts_the_least_recently_used_entries_down_to_the_cap() {
    let cache = tempfile::tempdir().unwrap();
    let store = Store::open(cache.path()).unwrap();
    let src = tempfile::tempdir().unwrap();
    for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
        write(
            src.path(),
            &format!("{name}/data.bin"),
            &noise(1_000_000, i as u64),
        );
        store
            .save(
                &key(name),
                src.path(),
                &patterns(&[name]),
                SaveMeta::default(),
                SaveOptions::default(),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Use a and c: b is now the least recently used, then d.
    store.lookup(&key("a")).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    store.lookup(&key("c")).unwrap();
    assert_eq!(store.size().unwrap(), 4_000_000);

    let report: GcReport = store.gc(2_500_000).unwrap();
    assert_eq!(
        report.removed_entries,
        vec![key("b").to_string(), key("d").to_string()]
    );
    assert_eq!(report.freed_bytes, 2_000_000);
    assert_eq!(report.size_after, 2_000_000);
    assert_eq!(store.size().unwrap(), 2_000_000);
    assert!(store.lookup(&key("a")).is_some());
    assert!(store.lookup(&key("c")).is_some());
    assert!(store.lookup(&key("b")).is_none());
    // Under the cap: nothing to do.
    assert!(store.gc(2_500_000).unwrap().removed_entries.is_empty());
}

#[test]
fn two_processes_saving_and_restoring_on_one_cache_stay_consistent() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| helper("racer", cache.path(), work.path()).spawn().unwrap())
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("racer done"));
    }
    let (store, warnings) = store_with_warnings(cache.path());
    for n in 0..4 {
        let entry = store
            .lookup(&key(&format!("race-{n}")))
            .expect("every key is a hit");
        let dest = work.path().join(format!("final-{n}"));
        store.restore(&entry, &dest).unwrap();
        assert_eq!(
            std::fs::read(dest.join("out/n.txt")).unwrap(),
            format!("{n}").as_bytes()
        );
    }
    assert!(warnings.lock().unwrap().is_empty());
    assert_eq!(
        object_count(cache.path()),
        8,
        "4 datasets and 4 counters, stored once each"
    );
}

#[test]
fn materialize_gives_a_tree_of_read_only_files_built_once() {
    let cache = tempfile::tempdir().unwrap();
    let store = Store::open(cache.path()).unwrap();
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "data/a.csv", b"a,b\n");
    write(src.path(), "data/bin/tool", b"#!/bin/sh\n");
    std::fs::set_permissions(
        src.path().join("data/bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let entry = store
        .save(
            &key("m"),
            src.path(),
            &patterns(&["data"]),
            SaveMeta::default(),
            SaveOptions::default(),
        )
        .unwrap();
    let dir = store.materialize(&entry).unwrap();
    assert_eq!(std::fs::read(dir.join("data/a.csv")).unwrap(), b"a,b\n");
    assert!(
        std::fs::metadata(dir.join("data/a.csv"))
            .unwrap()
            .permissions()
            .readonly()
    );
    // Its directories are its owner's to remove (a normal user's `rm -rf` of
    // the cache works); the read-only mount keeps jobs from changing them.
    assert_eq!(
        std::fs::metadata(dir.join("data"))
            .unwrap()
            .permissions()
            .mode()
            & 0o700,
        0o700
    );
    assert_ne!(
        std::fs::metadata(dir.join("data/bin/tool"))
            .unwrap()
            .permissions()
            .mode()
            & 0o100,
        0
    );
    let again = store.materialize(&entry).unwrap();
    assert_eq!(dir, again);
    // rm of everything also removes the read-only tree.
    store.remove_all().unwrap();
    assert!(!dir.exists());
}

#[test]
fn actions_cache_restores_the_exact_key_then_restore_keys_in_order_newest_first() {
    let cache = tempfile::tempdir().unwrap();
    let store = Store::open(cache.path()).unwrap();
    let paths = patterns(&["venv"]);
    let save = |key: &str, content: &str| {
        let src = tempfile::tempdir().unwrap();
        write(src.path(), "venv/marker", content.as_bytes());
        let saved = actions_cache::save(&store, key, &paths, src.path()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        saved
    };
    assert!(save("Linux-deps-1", "one"));
    assert!(save("Linux-deps-2", "two"));
    assert!(save("Linux-other-1", "other"));
    assert!(
        !save("Linux-deps-1", "changed"),
        "an existing key is not overwritten"
    );

    let restore = |key: &str, restore_keys: &[&str]| {
        let dest = tempfile::tempdir().unwrap();
        let result =
            actions_cache::restore(&store, key, &patterns(restore_keys), &paths, dest.path())
                .unwrap();
        let content = std::fs::read_to_string(dest.path().join("venv/marker")).ok();
        (result.map(|r| (r.matched_key, r.exact)), content)
    };
    assert_eq!(
        restore("Linux-deps-1", &["Linux-"]),
        (Some(("Linux-deps-1".into(), true)), Some("one".into()))
    );
    assert_eq!(
        restore("Linux-deps-3", &["Linux-deps-", "Linux-"]),
        (Some(("Linux-deps-2".into(), false)), Some("two".into())),
        "the newest entry of the first restore key that matches"
    );
    assert_eq!(
        restore("Linux-deps-3", &["Linux-other-", "Linux-deps-"]),
        (Some(("Linux-other-1".into(), false)), Some("other".into()))
    );
    assert_eq!(restore("Linux-deps-3", &["Windows-"]), (None, None));
    // Other paths, other version: not restored.
    let dest = tempfile::tempdir().unwrap();
    let other = actions_cache::restore(
        &store,
        "Linux-deps-1",
        &[],
        &patterns(&["node_modules"]),
        dest.path(),
    )
    .unwrap();
    assert_eq!(other, None);
}
