//! The step cache through `mlci run`: real containers, a cache directory of
//! each test's own, and what a user sees: which steps ran, which were
//! restored, whether a container started, and the files in the working tree.

use std::path::Path;
use std::process::Output;

mod common;
use common::git_repo as repo_with;

fn ensure_image() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(mlci::images::ensure_test_image())
        .expect("the python-ml image");
}

fn mlci(dir: &Path, cache: &Path, args: &[&str]) -> (Output, String) {
    common::mlci_with(dir, &[("MLCI_CACHE_DIR", cache.as_os_str())], args)
}

/// Prepare a dataset, then train on it; as a user's pipeline would.
const PIPELINE: &str = r#"
on: push
jobs:
  prepare:
    runs-on: python-ml
    steps:
      - uses: actions/checkout@v4
      - id: make
        run: |
          mkdir -p data
          python3 prepare.py
          echo "rows=$(wc -l < data/table.csv)" >> "$GITHUB_OUTPUT"
          echo "prepare ran"
        inputs: [prepare.py]
        outputs: [data/]
  train:
    needs: prepare
    runs-on: python-ml
    outputs:
      rows: ${{ steps.fit.outputs.rows }}
    steps:
      - id: fit
        run: |
          test -f data/table.csv
          mkdir -p model
          python3 train.py
          echo "rows=$(wc -l < data/table.csv)" >> "$GITHUB_OUTPUT"
          echo "train ran"
        inputs: [data/, train.py, params.yaml]
        outputs: [model/]
        metrics: [metrics.json]
  report:
    needs: train
    runs-on: python-ml
    steps:
      - run: echo "report sees ${{ needs.train.outputs.rows }} rows and $(cat model/model.txt)"
"#;

const PREPARE: &str = "import random\nrandom.seed(7)\nwith open('data/table.csv', 'w') as f:\n    for i in range(1000):\n        f.write(f'{i},{random.random()}\\n')\n    f.write('x' * 3_000_000 + '\\n')\n";
const TRAIN: &str = "import json, yaml\nparams = yaml.safe_load(open('params.yaml'))\nrows = sum(1 for _ in open('data/table.csv'))\nopen('model/model.txt', 'w').write(f\"lr={params['lr']} rows={rows}\")\njson.dump({'accuracy': 0.9 + params['lr']}, open('metrics.json', 'w'))\n";

fn pipeline_repo() -> tempfile::TempDir {
    repo_with(&[
        ("wf.yml", PIPELINE),
        ("prepare.py", PREPARE),
        ("train.py", TRAIN),
        ("params.yaml", "lr: 0.01\n"),
        (".gitignore", "data/\nmodel/\nmetrics.json\n"),
    ])
}

#[test]
fn a_second_run_restores_everything_without_a_container_and_a_param_change_reruns_training_only() {
    ensure_image();
    let repo = pipeline_repo();
    let cache = tempfile::tempdir().unwrap();

    let (output, first) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    assert!(first.contains("[prepare] prepare ran"), "{first}");
    assert!(first.contains("[train] train ran"), "{first}");
    assert!(
        first.contains("[report] report sees 1001 rows and lr=0.01 rows=1001"),
        "{first}"
    );
    // Outputs and metrics are left in the working tree, as DVC leaves them.
    let model = std::fs::read(repo.path().join("model/model.txt")).unwrap();
    let table = std::fs::read(repo.path().join("data/table.csv")).unwrap();
    let metrics = std::fs::read_to_string(repo.path().join("metrics.json")).unwrap();
    assert_eq!(model, b"lr=0.01 rows=1001");
    assert!(metrics.contains("0.91"), "{metrics}");

    // Nothing changed: the cached jobs are restored and start no container.
    std::fs::remove_dir_all(repo.path().join("model")).unwrap();
    let (output, second) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(!second.contains("prepare ran"), "{second}");
    assert!(!second.contains("train ran"), "{second}");
    assert!(!second.contains("[prepare] starting in"), "{second}");
    assert!(!second.contains("[train] starting in"), "{second}");
    assert!(
        second.contains("[prepare] restored from cache (key k1-"),
        "{second}"
    );
    assert!(
        second.contains("[train] restored from cache (key k1-"),
        "{second}"
    );
    // Step outputs come back with the files: the job output reaches `report`.
    assert!(
        second.contains("[report] report sees 1001 rows and lr=0.01 rows=1001"),
        "{second}"
    );
    assert_eq!(
        std::fs::read(repo.path().join("model/model.txt")).unwrap(),
        model
    );
    assert_eq!(
        std::fs::read(repo.path().join("data/table.csv")).unwrap(),
        table
    );

    // Only the training parameters changed: training runs, preparation does not.
    std::fs::write(repo.path().join("params.yaml"), "lr: 0.05\n").unwrap();
    let (output, third) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{third}");
    assert!(!third.contains("prepare ran"), "{third}");
    assert!(!third.contains("[prepare] starting in"), "{third}");
    assert!(third.contains("[train] train ran"), "{third}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("model/model.txt")).unwrap(),
        "lr=0.05 rows=1001"
    );
    assert!(
        std::fs::read_to_string(repo.path().join("metrics.json"))
            .unwrap()
            .contains("0.95")
    );

    // --rerun forces one step; --no-cache runs them all.
    let (_, rerun) = mlci(
        repo.path(),
        cache.path(),
        &["run", "wf.yml", "--rerun", "make"],
    );
    assert!(rerun.contains("prepare ran"), "{rerun}");
    assert!(!rerun.contains("train ran"), "same data, same key: {rerun}");
    let (_, all) = mlci(repo.path(), cache.path(), &["run", "wf.yml", "--no-cache"]);
    assert!(
        all.contains("prepare ran") && all.contains("train ran"),
        "{all}"
    );

    // The entries are listed with the step that made them.
    let (_, listed) = mlci(repo.path(), cache.path(), &["cache", "ls"]);
    assert!(listed.contains("wf.yml › prepare › "), "{listed}");
    assert!(listed.contains("wf.yml › train › "), "{listed}");
}

#[test]
fn secrets_key_by_sealed_value_and_inputs_after_an_uncached_step_are_read_from_the_container() {
    ensure_image();
    let repo = repo_with(&[(
        "wf.yml",
        r#"
on: push
jobs:
  job:
    runs-on: python-ml
    steps:
      - run: echo "$SEED" > seed.txt
      - run: |
          echo "hashing $(cat seed.txt)"
          mkdir -p out && cp seed.txt out/copy.txt
        env:
          TOKEN: ${{ secrets.TOKEN }}
        inputs: [seed.txt]
        outputs: [out/]
"#,
    )]);
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("a.env"), "SEED=alpha\n").unwrap();
    std::fs::write(repo.path().join("b.env"), "SEED=beta\n").unwrap();
    let run = |env_file: &str, token: &str| {
        mlci(
            repo.path(),
            cache.path(),
            &[
                "run",
                "wf.yml",
                "--env-file",
                env_file,
                "--secret",
                &format!("TOKEN={token}"),
            ],
        )
    };
    let (output, first) = run("a.env", "first-secret");
    assert_eq!(output.status.code(), Some(0), "{first}");
    assert!(first.contains("hashing alpha"), "{first}");
    // Another secret value: another key (the value enters it sealed), so
    // the step runs again; the same value again is a hit.
    let (_, second) = run("a.env", "second-secret");
    assert!(second.contains("hashing alpha"), "{second}");
    let (_, again) = run("a.env", "second-secret");
    assert!(!again.contains("[job] hashing"), "{again}");
    assert!(again.contains("restored from cache"), "{again}");
    // The input was written by a step the cache does not track: its new
    // content is read from the container and the step runs again.
    let (_, third) = run("b.env", "second-secret");
    assert!(third.contains("hashing beta"), "{third}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("out/copy.txt")).unwrap(),
        "beta\n"
    );
    for text in [&first, &second, &again, &third] {
        assert!(!text.contains("first-secret") && !text.contains("second-secret"));
    }
}

#[test]
fn params_by_key_rerun_a_step_only_when_its_own_keys_change() {
    ensure_image();
    let repo = repo_with(&[
        (
            "wf.yml",
            r#"
on: push
jobs:
  train:
    runs-on: python-ml
    steps:
      - run: python3 -c "import yaml; print('train ran with lr', yaml.safe_load(open('params.yaml'))['train']['lr'])"
        params: [params.yaml:train.lr]
  tune:
    runs-on: python-ml
    steps:
      - run: python3 -c "import tomllib; print('tune ran with', tomllib.load(open('conf.toml', 'rb'))['search']['trials'], 'trials')"
        params:
          - conf.toml: [search.trials]
"#,
        ),
        (
            "params.yaml",
            "train:\n  lr: 0.01\n  epochs: 3\nevaluate:\n  threshold: 0.5\n",
        ),
        ("conf.toml", "[search]\ntrials = 8\nseed = 1\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let run = || mlci(repo.path(), cache.path(), &["run", "wf.yml"]);

    let (output, first) = run();
    assert_eq!(output.status.code(), Some(0), "{first}");
    assert!(first.contains("[train] train ran with lr 0.01"), "{first}");
    assert!(first.contains("[tune] tune ran with 8 trials"), "{first}");

    // Other keys of the same files change, keys are reordered, a comment is
    // added: neither step runs, and no container starts.
    std::fs::write(
        repo.path().join("params.yaml"),
        "# tuned\nevaluate:\n  threshold: 0.9\ntrain:\n  epochs: 30\n  lr: 0.01\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("conf.toml"),
        "[search]\nseed = 2\ntrials = 8\n",
    )
    .unwrap();
    let (output, second) = run();
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(!second.contains("[train] train ran"), "{second}");
    assert!(!second.contains("[tune] tune ran"), "{second}");
    assert!(!second.contains("starting in"), "{second}");
    assert_eq!(second.matches("restored from cache").count(), 2, "{second}");

    // The step's own key changes: that step runs, the other one does not.
    std::fs::write(
        repo.path().join("params.yaml"),
        "evaluate:\n  threshold: 0.9\ntrain:\n  epochs: 30\n  lr: 0.02\n",
    )
    .unwrap();
    let (output, third) = run();
    assert_eq!(output.status.code(), Some(0), "{third}");
    assert!(third.contains("[train] train ran with lr 0.02"), "{third}");
    assert!(!third.contains("[tune] tune ran"), "{third}");
    // The run store has the values the steps were keyed by.
    let (_, shown) = mlci(repo.path(), cache.path(), &["metrics", "show"]);
    assert!(shown.contains("train.lr"), "{shown}");
    assert!(shown.contains("0.02"), "{shown}");
    assert!(shown.contains("search.trials"), "{shown}");

    // A key the file does not have fails the step and says what there is.
    let workflow = std::fs::read_to_string(repo.path().join("wf.yml")).unwrap();
    std::fs::write(
        repo.path().join("wf.yml"),
        workflow.replace("params.yaml:train.lr", "params.yaml:train.momentum"),
    )
    .unwrap();
    let (output, fourth) = run();
    assert_eq!(output.status.code(), Some(1), "{fourth}");
    assert!(
        fourth.contains("the params file `params.yaml` has no key `train.momentum`; under `train` it has `epochs`, `lr`"),
        "{fourth}"
    );
}

/// The `--timings` table: its header and one row per job, each cell parsed.
fn timings_table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("timings of "))
        .skip(1);
    let header: Vec<String> = lines
        .next()
        .unwrap_or_else(|| panic!("no timings table:\n{text}"))
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let rows = lines
        .take_while(|l| !l.trim_start().starts_with("outside the jobs"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn timings_show_each_phase_of_every_job_and_the_run_store_keeps_them() {
    ensure_image();
    let repo = repo_with(&[(
        "wf.yml",
        r#"
on: push
jobs:
  make:
    runs-on: python-ml
    steps:
      - run: sleep 1 && mkdir -p data && head -c 30000000 /dev/urandom > data/blob.bin
        inputs: [wf.yml]
        outputs: [data/]
  use:
    needs: make
    runs-on: python-ml
    steps:
      - run: test -s data/blob.bin && echo used
"#,
    )]);
    let cache = tempfile::tempdir().unwrap();
    let (output, first) = mlci(repo.path(), cache.path(), &["run", "wf.yml", "--timings"]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    let (header, rows) = timings_table(&first);
    for phase in [
        "JOB",
        "container",
        "workspace",
        "steps",
        "save",
        "teardown",
        "other",
        "total",
    ] {
        assert!(
            header.iter().any(|h| h == phase),
            "no `{phase}` column: {header:?}\n{first}"
        );
    }
    assert_eq!(rows.len(), 2, "{first}");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{first}");
        let seconds: Vec<f64> = row[1..].iter().map(|c| c.parse().unwrap()).collect();
        // The phases and `other` add up to the job's total (each cell is rounded).
        let parts: f64 = seconds[..seconds.len() - 1].iter().sum();
        let total = seconds[seconds.len() - 1];
        assert!(
            (parts - total).abs() < 0.03,
            "{row:?} does not add up\n{first}"
        );
    }
    // The workspace is on the host: `make`'s output is saved in place, with
    // nothing to copy out of its container.
    let make = rows.iter().find(|r| r[0] == "make").unwrap();
    assert!(
        make[column("container")].parse::<f64>().unwrap() > 0.0,
        "{first}"
    );
    // `use` started its container while `make` ran: it waits for less
    // than `make` spent starting its own, and gets `make`'s output copied in.
    let used = rows.iter().find(|r| r[0] == "use").unwrap();
    let waited: f64 = used[column("container")].parse().unwrap();
    assert!(
        waited < make[column("container")].parse::<f64>().unwrap(),
        "{first}"
    );
    assert!(
        used[column("restore")].parse::<f64>().unwrap() > 0.0,
        "{first}"
    );
    assert!(
        make[column("save")].parse::<f64>().unwrap() > 0.0,
        "{first}"
    );
    assert!(!header.iter().any(|h| h == "copy-out"), "{first}");
    assert!(first.contains("outside the jobs: snapshot"), "{first}");

    // The run store keeps the phases: `runs show` lists them per job.
    let (_, shown) = mlci(repo.path(), cache.path(), &["runs", "show"]);
    assert_eq!(
        shown.matches("time by phase: prepare").count(),
        2,
        "{shown}"
    );
    assert!(shown.contains("container "), "{shown}");
    assert!(shown.contains("outside the jobs: snapshot"), "{shown}");

    // All hits: `make` starts no container, so it spends nothing there.
    let (output, second) = mlci(repo.path(), cache.path(), &["run", "wf.yml", "--timings"]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    let (header, rows) = timings_table(&second);
    let make = rows.iter().find(|r| r[0] == "make").unwrap();
    let hash = header.iter().position(|h| h == "hash").unwrap();
    assert!(make[hash].parse::<f64>().unwrap() >= 0.0, "{second}");
    let container = header.iter().position(|h| h == "container").unwrap();
    assert_eq!(make[container], "0.00", "{second}");
}

#[test]
fn a_declared_output_that_is_not_made_fails_the_step() {
    ensure_image();
    let repo = repo_with(&[(
        "wf.yml",
        "on: push\njobs:\n  job:\n    runs-on: python-ml\n    steps:\n      - run: echo working\n        inputs: [wf.yml]\n        outputs: [model.pkl]\n",
    )]);
    let cache = tempfile::tempdir().unwrap();
    let (output, text) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("model.pkl"), "{text}");
    let (_, listed) = mlci(repo.path(), cache.path(), &["cache", "ls"]);
    assert!(
        listed.contains("0 entries") || !listed.contains("k1-"),
        "{listed}"
    );
}

#[test]
fn actions_cache_restores_by_key_then_by_restore_key_and_saves_after_a_successful_job() {
    ensure_image();
    let repo = repo_with(&[
        (
            "wf.yml",
            r#"
on: push
jobs:
  deps:
    runs-on: python-ml
    steps:
      - uses: actions/checkout@v4
      - id: c
        uses: actions/cache@v4
        with:
          path: |
            .venv-fake
            ~/.cache/fake-pip
          key: deps-${{ hashFiles('requirements.txt') }}
          restore-keys: |
            deps-
      - run: |
          echo "hit=${{ steps.c.outputs.cache-hit }}"
          if [ -f .venv-fake/marker ] && [ -f ~/.cache/fake-pip/wheel ]; then
            echo "warm: $(cat .venv-fake/marker)"
          else
            mkdir -p .venv-fake ~/.cache/fake-pip
            echo "built for $(cat requirements.txt)" > .venv-fake/marker
            echo wheel > ~/.cache/fake-pip/wheel
            echo "cold"
          fi
"#,
        ),
        ("requirements.txt", "numpy==1\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (output, first) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    assert!(first.contains("cache not found for key: deps-"), "{first}");
    assert!(
        first.contains("[deps] hit=false") && first.contains("[deps] cold"),
        "{first}"
    );
    assert!(first.contains("cache saved with key: deps-"), "{first}");

    let (_, second) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert!(second.contains("[deps] hit=true"), "{second}");
    assert!(
        second.contains("[deps] warm: built for numpy==1"),
        "{second}"
    );
    assert!(
        !second.contains("cache saved"),
        "an exact hit saves nothing: {second}"
    );

    // A new key: restored through the restore key (not a hit), then saved anew.
    std::fs::write(repo.path().join("requirements.txt"), "numpy==2\n").unwrap();
    let (_, third) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert!(third.contains("cache restored from key: deps-"), "{third}");
    assert!(third.contains("[deps] hit=false"), "{third}");
    assert!(third.contains("[deps] warm: built for numpy==1"), "{third}");
    assert!(third.contains("cache saved with key: deps-"), "{third}");
}

/// Every file under `dir` (recursively) whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(items) = std::fs::read_dir(dir) else {
        return found;
    };
    for item in items.flatten() {
        let path = item.path();
        match item.file_type() {
            Ok(kind) if kind.is_dir() => found.extend(files_holding(&path, needle)),
            Ok(kind) if kind.is_file() => {
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    found.push(path);
                }
            }
            _ => {}
        }
    }
    found
}

/// Every object in the moto bucket `cache`, by name, with its bytes.
fn bucket_objects(moto: &common::moto::Moto) -> Vec<(String, Vec<u8>)> {
    use futures_util::StreamExt;
    use object_store::ObjectStoreExt;
    let mut config = mlci::cache::RemoteConfig::new("s3://cache");
    config.endpoint = Some(format!("http://127.0.0.1:{}", moto.port));
    config.region = Some("us-east-1".into());
    config.access_key_id = Some("testing".into());
    config.secret_access_key = Some("testing".into());
    config.progress = false;
    let remote = mlci::cache::Remote::connect(config).unwrap();
    let store = remote.object_store();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut objects = Vec::new();
        let mut listing = store.list(None);
        while let Some(meta) = listing.next().await {
            let meta = meta.unwrap();
            let bytes = store
                .get(&meta.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            objects.push((meta.location.to_string(), bytes.to_vec()));
        }
        objects
    })
}

/// Steps that see a secret: one passes it on as a step output, one writes it
/// to an output file, one only uses it (and has it in its name). The steps
/// after them print what they got.
const SECRET_STEPS: &str = r#"
name: secrets
on: push
jobs:
  job:
    runs-on: python-ml
    steps:
      - id: pass
        run: |
          echo "token=$TOKEN" >> "$GITHUB_OUTPUT"
          mkdir -p a && echo plain > a/plain.txt
          echo "pass ran"
        env:
          TOKEN: ${{ secrets.TOKEN }}
        inputs: [seed.txt]
        outputs: [a/]
      - id: write
        run: |
          mkdir -p b && echo "$TOKEN" > b/token.txt
          echo "write ran"
        env:
          TOKEN: ${{ secrets.TOKEN }}
        inputs: [seed.txt]
        outputs: [b/]
      - id: use
        name: use ${{ secrets.TOKEN }}
        run: |
          echo "length=${#TOKEN}" >> "$GITHUB_OUTPUT"
          mkdir -p c && echo "${#TOKEN}" > c/length.txt
          echo "use ran"
        env:
          TOKEN: ${{ secrets.TOKEN }}
        inputs: [seed.txt]
        outputs: [c/]
      - run: echo "got ${{ steps.pass.outputs.token }} and ${{ steps.use.outputs.length }}"
"#;

#[test]
fn no_secret_value_reaches_the_cache_the_remote_or_the_run_store_and_another_value_is_another_key()
{
    ensure_image();
    let moto = common::moto::start_moto();
    let repo = repo_with(&[
        ("wf.yml", SECRET_STEPS),
        ("seed.txt", "1\n"),
        (".gitignore", "a/\nb/\nc/\n"),
    ]);
    let state = tempfile::tempdir().unwrap();
    let (cache, db) = (state.path().join("cache"), state.path().join("runs.db"));
    let secrets = ["tok-first-4d1b7c9e", "tok-second-83aa02f5"];
    let run = |secret: &str| {
        let mut env: Vec<(&str, std::ffi::OsString)> = vec![
            ("MLCI_CACHE_DIR", cache.clone().into()),
            ("MLCI_DB", db.clone().into()),
            ("MLCI_CACHE_REMOTE", "s3://cache/team".into()),
        ];
        env.extend(moto.env().into_iter().map(|(k, v)| (k, v.into())));
        let env: Vec<(&str, &std::ffi::OsStr)> =
            env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        common::mlci_with(
            repo.path(),
            &env,
            &[
                "run",
                "wf.yml",
                "--json",
                "--secret",
                &format!("TOKEN={secret}"),
            ],
        )
    };
    let (output, first) = run(secrets[0]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    for step in ["pass", "write", "use"] {
        assert!(first.contains(&format!("{step} ran")), "{first}");
    }
    // Results derived from the secret are not cached, and the log says why.
    assert!(
        first.contains("the step's result is not cached: its output `token` contains a secret"),
        "{first}"
    );
    assert!(
        first.contains(
            "the step's result is not cached: its output file `b/token.txt` contains a secret"
        ),
        "{first}"
    );
    // Only `use` was stored, under its masked name.
    let (out, listed) = common::mlci_with(
        repo.path(),
        &[("MLCI_CACHE_DIR", cache.as_os_str())],
        &["cache", "ls"],
    );
    assert!(out.status.success(), "{listed}");
    assert!(listed.contains("use ***"), "{listed}");

    // Another value: nothing of the first run is taken for it, and nothing
    // of the first value is printed.
    let (output, second) = run(secrets[1]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    for step in ["pass", "write", "use"] {
        assert!(second.contains(&format!("{step} ran")), "{second}");
    }
    assert!(second.contains("got *** and 19"), "{second}");

    assert!(db.is_file(), "the run store is where the test looks");
    for secret in secrets {
        let needle = secret.as_bytes();
        for (what, text) in [
            ("first run", &first),
            ("second run", &second),
            ("cache ls", &listed),
        ] {
            assert!(!text.contains(secret), "{what} prints {secret}: {text}");
        }
        assert_eq!(
            files_holding(&cache, needle),
            Vec::<std::path::PathBuf>::new()
        );
        assert_eq!(
            files_holding(state.path(), needle),
            Vec::<std::path::PathBuf>::new()
        );
        assert_eq!(
            files_holding(&repo.path().join(".mlci"), needle),
            Vec::<std::path::PathBuf>::new()
        );
        let remote: Vec<String> = bucket_objects(&moto)
            .into_iter()
            .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
            .map(|(name, _)| name)
            .collect();
        assert_eq!(remote, Vec::<String>::new(), "remote objects hold {secret}");
    }
}

/// A step that rewrites a 17 MB output, and a job that reads it; the output
/// is not git-ignored, so the next run's snapshot of the repository holds it.
const BIG_OUTPUT: &str = r#"
on: push
jobs:
  make:
    runs-on: python-ml
    steps:
      - run: |
          head -c 17000000 /dev/zero > big.bin
          cat seed.txt >> big.bin
          echo "made big.bin"
        inputs: [seed.txt]
        outputs: [big.bin]
  use:
    needs: make
    runs-on: python-ml
    steps:
      - run: echo "use sees $(tail -c 4 big.bin)"
"#;

#[test]
fn a_large_output_left_in_the_working_tree_is_rewritten_on_the_next_miss() {
    ensure_image();
    let repo = repo_with(&[("wf.yml", BIG_OUTPUT), ("seed.txt", "one\n")]);
    let cache = tempfile::tempdir().unwrap();
    let (output, first) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    let big = repo.path().join("big.bin");
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 17_000_004);

    // The input changed: the step runs again and rewrites its output, which
    // the snapshot now holds (16 MB or more: not copied into the job).
    std::fs::write(repo.path().join("seed.txt"), "two\n").unwrap();
    let (output, second) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert!(second.contains("made big.bin"), "{second}");
    assert!(!second.contains("Read-only file system"), "{second}");
    // The job that needs it gets the new one over the snapshot's old one.
    assert!(second.contains("[use] use sees two"), "{second}");
    let bytes = std::fs::read(&big).unwrap();
    assert_eq!(bytes.len(), 17_000_004);
    assert!(bytes.ends_with(b"two\n"));

    // Back to the first input: a hit, restored over the rewritten file.
    std::fs::write(repo.path().join("seed.txt"), "one\n").unwrap();
    let (output, third) = mlci(repo.path(), cache.path(), &["run", "wf.yml"]);
    assert_eq!(output.status.code(), Some(0), "{third}");
    assert!(third.contains("restored from cache"), "{third}");
    assert!(std::fs::read(&big).unwrap().ends_with(b"one\n"));
}
