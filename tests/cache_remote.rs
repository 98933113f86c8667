//! The remote cache against a real S3-compatible server: moto's, started on 127.0.0.1 by
//! each test. `.ci/run` installs it in `.ci/.venv` and exports MLCI_TEST_MOTO; a missing
//! server fails these tests rather than skipping them.

use mlci::cache::remote::RemoteError;
use mlci::cache::{CacheKey, KeyInput, Remote, RemoteConfig, SaveMeta, SaveOptions, Store};
use object_store::{ObjectStoreExt, PutPayload};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::moto::{free_port, start_moto};

fn config(port: u16) -> RemoteConfig {
    let mut config = RemoteConfig::new("s3://cache/team/mlci");
    config.endpoint = Some(format!("http://127.0.0.1:{port}"));
    config.region = Some("us-east-1".into());
    config.access_key_id = Some("testing".into());
    config.secret_access_key = Some("testing".into());
    config.progress = false;
    config
}

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

fn key(name: &str) -> CacheKey {
    KeyInput {
        command: name.into(),
        ..KeyInput::default()
    }
    .key()
}

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

/// Saves `files` (path, bytes) as the entry of `k` in `store`.
fn save(store: &Store, k: &CacheKey, files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    for (path, bytes) in files {
        let path = src.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let meta = SaveMeta {
        step_outputs: [("model".to_string(), "model/w.bin".to_string())].into(),
        ..SaveMeta::default()
    };
    store
        .save(
            k,
            src.path(),
            &["model".to_string()],
            meta,
            SaveOptions::default(),
        )
        .unwrap();
    src
}

#[tokio::test(flavor = "multi_thread")]
async fn push_then_pull_into_an_empty_cache_gives_a_verified_hit() {
    let moto = start_moto();
    let remote = Remote::connect(config(moto.port)).unwrap();
    let here = tempfile::tempdir().unwrap();
    let (local, _) = store_with_warnings(here.path());
    let k = key("train");
    let weights = noise(300_000, 1);
    save(
        &local,
        &k,
        &[
            ("model/w.bin", weights.clone()),
            ("model/copy.bin", weights.clone()),
            ("model/cfg", b"lr=0.1".to_vec()),
        ],
    );

    let stats = remote.push(&local, &k).await.unwrap();
    assert_eq!(
        (stats.objects_sent, stats.objects_skipped),
        (2, 0),
        "the duplicate is sent once"
    );
    // Pushing again sends only what is missing: nothing.
    let again = remote.push(&local, &k).await.unwrap();
    assert_eq!((again.objects_sent, again.objects_skipped), (0, 2));
    assert_eq!(remote.list_keys().await.unwrap(), vec![k.to_string()]);

    // Another machine: an empty cache directory.
    let there = tempfile::tempdir().unwrap();
    let (fresh, warnings) = store_with_warnings(there.path());
    assert!(fresh.lookup(&k).is_none());
    let entry = remote.pull_or_warn(&fresh, &k).await.expect("pulled");
    assert_eq!(entry.step_outputs["model"], "model/w.bin");
    assert!(fresh.lookup(&k).is_some(), "now a local hit");
    let dest = tempfile::tempdir().unwrap();
    fresh.restore(&entry, dest.path()).unwrap();
    assert_eq!(
        std::fs::read(dest.path().join("model/w.bin")).unwrap(),
        weights
    );
    assert_eq!(
        std::fs::read(dest.path().join("model/copy.bin")).unwrap(),
        weights
    );
    assert_eq!(
        std::fs::read(dest.path().join("model/cfg")).unwrap(),
        b"lr=0.1"
    );
    assert!(
        warnings.lock().unwrap().is_empty(),
        "{:?}",
        warnings.lock().unwrap()
    );

    // A key the remote does not have is a plain miss.
    assert!(remote.pull_or_warn(&fresh, &key("other")).await.is_none());
    assert!(warnings.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_object_goes_up_in_parts_and_comes_back_identical() {
    let moto = start_moto();
    let mut cfg = config(moto.port);
    cfg.multipart_threshold = 6 << 20;
    cfg.part_size = 5 << 20;
    let remote = Remote::connect(cfg).unwrap();
    let here = tempfile::tempdir().unwrap();
    let (local, _) = store_with_warnings(here.path());
    let k = key("big");
    let big = noise((13 << 20) + 12345, 9);
    save(&local, &k, &[("model/big.bin", big.clone())]);
    let stats = remote.push(&local, &k).await.unwrap();
    assert_eq!(stats.bytes_sent, big.len() as u64);

    let hash = blake3::hash(&big).to_hex().to_string();
    let meta = remote
        .object_store()
        .head(&remote.object_location(&hash))
        .await
        .unwrap();
    assert_eq!(meta.size, big.len() as u64);
    // S3 gives a multipart object an ETag ending in -<number of parts>.
    let etag = meta.e_tag.unwrap_or_default();
    assert!(etag.trim_matches('"').ends_with("-3"), "ETag {etag}");

    let there = tempfile::tempdir().unwrap();
    let (fresh, _) = store_with_warnings(there.path());
    let entry = remote.pull(&fresh, &k).await.unwrap().unwrap();
    let dest = tempfile::tempdir().unwrap();
    fresh.restore(&entry, dest.path()).unwrap();
    assert_eq!(
        std::fs::read(dest.path().join("model/big.bin")).unwrap(),
        big
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_that_is_down_costs_one_warning_and_the_local_cache_works_as_before() {
    let port = free_port(); // nothing listens there
    let mut cfg = config(port);
    cfg.max_retries = 2;
    let remote = Remote::connect(cfg).unwrap();
    let here = tempfile::tempdir().unwrap();
    let (local, warnings) = store_with_warnings(here.path());
    let k = key("local-only");
    save(&local, &k, &[("model/w.bin", b"weights".to_vec())]);

    let started = Instant::now();
    assert!(!remote.push_or_warn(&local, &k).await, "nothing pushed");
    assert!(remote.pull_or_warn(&local, &key("missing")).await.is_none());
    assert!(!remote.push_or_warn(&local, &k).await);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(remote.is_down());
    let warnings = warnings.lock().unwrap().clone();
    assert_eq!(warnings.len(), 1, "one warning line: {warnings:?}");
    eprintln!("warning: {}", warnings[0]);
    assert!(
        warnings[0].starts_with("the cache remote s3://cache/team/mlci cannot be reached")
            && warnings[0].ends_with("continuing with the local cache")
            && !warnings[0].contains('\n'),
        "{}",
        warnings[0]
    );
    // Locally nothing changed.
    let entry = local.lookup(&k).expect("still a local hit");
    let dest = tempfile::tempdir().unwrap();
    local.restore(&entry, dest.path()).unwrap();
    assert_eq!(
        std::fs::read(dest.path().join("model/w.bin")).unwrap(),
        b"weights"
    );
    // The error itself, for callers that want it.
    let fresh_remote = Remote::connect(config(port)).unwrap();
    assert!(matches!(
        fresh_remote.push(&local, &k).await,
        Err(RemoteError::Unavailable { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_remote_object_or_entry_is_refused() {
    let moto = start_moto();
    let remote = Remote::connect(config(moto.port)).unwrap();
    let here = tempfile::tempdir().unwrap();
    let (local, _) = store_with_warnings(here.path());
    let k = key("tamper");
    let weights = noise(100_000, 4);
    save(&local, &k, &[("model/w.bin", weights.clone())]);
    remote.push(&local, &k).await.unwrap();

    // Someone replaces the object on the remote with other bytes of the same length.
    let hash = blake3::hash(&weights).to_hex().to_string();
    let mut evil = weights.clone();
    evil[10] ^= 1;
    remote
        .object_store()
        .put(&remote.object_location(&hash), PutPayload::from(evil))
        .await
        .unwrap();

    let there = tempfile::tempdir().unwrap();
    let (fresh, warnings) = store_with_warnings(there.path());
    let error = remote.pull(&fresh, &k).await.unwrap_err();
    assert!(
        error.to_string().contains("does not match its hash"),
        "{error}"
    );
    assert!(remote.pull_or_warn(&fresh, &k).await.is_none());
    assert!(
        warnings.lock().unwrap()[0].contains("is corrupt"),
        "{:?}",
        warnings.lock().unwrap()
    );
    assert!(!remote.is_down(), "a corrupt entry is not an outage");
    assert!(fresh.lookup(&k).is_none(), "nothing was kept");
    assert!(!fresh.has_object(&hash));

    // An entry rewritten to write outside the workspace is refused too.
    let bytes = remote
        .object_store()
        .get(&remote.entry_location(k.as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("model/w.bin\"", "../../escape.bin\"");
    assert!(text.contains("../../escape.bin"));
    remote
        .object_store()
        .put(
            &remote.entry_location(k.as_str()),
            PutPayload::from(text.into_bytes()),
        )
        .await
        .unwrap();
    let error = remote.pull(&fresh, &k).await.unwrap_err();
    assert!(error.to_string().contains("is unsafe"), "{error}");
    assert!(!fresh.contains(&k));
}

/// `mlci` as a machine of its own: its cache and run store, the moto remote.
fn machine(dir: &Path, moto: &common::moto::Moto, args: &[&str]) -> (std::process::Output, String) {
    let mut env: Vec<(&str, std::ffi::OsString)> = vec![
        ("MLCI_CACHE_DIR", dir.join("cache").into()),
        ("MLCI_DB", dir.join("runs.db").into()),
        ("MLCI_CACHE_REMOTE", "s3://cache/team".into()),
    ];
    env.extend(moto.env().into_iter().map(|(k, v)| (k, v.into())));
    let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    common::mlci_with(dir, &env, args)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_swapped_model_entry_on_the_remote_is_refused_on_pull() {
    let moto = start_moto();
    let a = tempfile::tempdir().unwrap();
    for (content, version) in [(b"weights of v1", "clf@1"), (b"weights of v2", "clf@2")] {
        std::fs::write(a.path().join("model.onnx"), content).unwrap();
        let (out, text) = machine(
            a.path(),
            &moto,
            &["models", "register", "clf", "model.onnx"],
        );
        assert!(out.status.success(), "{text}");
        assert!(text.contains(&format!("registered {version}")), "{text}");
    }
    let entry_key = |version: &str| {
        let (out, text) = machine(a.path(), &moto, &["models", "show", version, "--json"]);
        assert!(out.status.success(), "{text}");
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        shown["entry_key"].as_str().unwrap().to_string()
    };
    let (v1, v2) = (entry_key("clf@1"), entry_key("clf@2"));

    // Someone with write access to the bucket puts v2's files under v1's
    // entry: the entry is well-formed, its key is v1's, its objects are there.
    let mut config = RemoteConfig::new("s3://cache/team");
    config.endpoint = Some(format!("http://127.0.0.1:{}", moto.port));
    config.region = Some("us-east-1".into());
    config.access_key_id = Some("testing".into());
    config.secret_access_key = Some("testing".into());
    let remote = Remote::connect(config).unwrap();
    let objects = remote.object_store();
    let v2_entry = objects
        .get(&remote.entry_location(&v2))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let swapped = String::from_utf8(v2_entry.to_vec())
        .unwrap()
        .replace(&v2, &v1);
    objects
        .put(
            &remote.entry_location(&v1),
            PutPayload::from(swapped.into_bytes()),
        )
        .await
        .unwrap();

    // Another machine pulls v1: refused, and nothing is written.
    let b = tempfile::tempdir().unwrap();
    let (out, text) = machine(b.path(), &moto, &["models", "pull", "clf@1", "out.onnx"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("its files are not the ones its key names"),
        "{text}"
    );
    assert!(!b.path().join("out.onnx").exists());
    // v2 itself is intact.
    let (out, text) = machine(b.path(), &moto, &["models", "pull", "clf@2", "v2.onnx"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        std::fs::read(b.path().join("v2.onnx")).unwrap(),
        b"weights of v2"
    );
}
