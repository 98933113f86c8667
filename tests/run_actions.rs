//! `uses:` end to end: composite, Docker, remote and JavaScript actions and
//! the native artifact actions, run by the `mlci` binary in a throwaway git
//! repository on the real engine, checked by what a user sees and by what
//! is left on the engine afterwards (nothing but labelled cache images).

mod common;

use std::path::Path;
use std::process::{Command, Output};

const BUSYBOX: &str = "mlci-test/busybox:latest";
const NODE_IMAGE: &str = "mlci-test/node:latest";

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.email=t@t", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A committed repository holding `files` (path, contents; `*.sh` executable).
fn repo_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), files);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "init"]);
    dir
}

fn write_files(root: &Path, files: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        if path.extension().is_some_and(|e| e == "sh") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

fn mlci(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlci"));
    command.args(args).current_dir(dir).env("CI", "true");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Containers and networks still labelled with one of these job instances,
/// once what is being removed is gone (see `common::run_leftovers`).
fn leftovers(jobs: &[&str]) -> usize {
    common::until_settled(|| {
        let mut found = Vec::new();
        for job in jobs {
            let label = format!("label=dev.mlci.job={job}");
            for args in [
                vec!["ps", "-aq", "--filter", &label],
                vec!["network", "ls", "-q", "--filter", &label],
            ] {
                let output = Command::new("docker").args(&args).output().unwrap();
                found.extend(
                    String::from_utf8_lossy(&output.stdout)
                        .lines()
                        .map(str::to_string),
                );
            }
        }
        found
    })
    .len()
}

const INNER: &str = r#"
name: inner
inputs:
  word:
    required: true
outputs:
  echoed:
    value: ${{ steps.e.outputs.echoed }}
runs:
  using: composite
  steps:
    - id: e
      shell: sh
      run: echo "echoed=<${{ inputs.word }}>" >> "$GITHUB_OUTPUT"
"#;

const GREET: &str = r#"
name: greet
inputs:
  who:
    description: whom to greet
    default: world
  punctuation:
    default: "!"
outputs:
  said:
    value: ${{ steps.say.outputs.text }}
  inner:
    value: ${{ steps.nested.outputs.echoed }}
runs:
  using: composite
  steps:
    - id: say
      shell: sh
      env:
        PREFIX: hello
      run: |
        echo "$PREFIX ${{ inputs.who }}${{ inputs.punctuation }} env=$INPUT_WHO"
        echo "text=$PREFIX ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
        test -f "$GITHUB_ACTION_PATH/action.yml" && echo "action path ok"
        test "${{ github.action_path }}" = "$GITHUB_ACTION_PATH" && echo "context path ok"
    - id: nested
      uses: ./.github/actions/inner
      with:
        word: ${{ inputs.who }}
    - if: ${{ inputs.who == 'nobody' }}
      shell: sh
      run: echo "never printed"
"#;

const COMPOSITE_WORKFLOW: &str = r#"
on: push
jobs:
  composite:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - id: g
        uses: ./.github/actions/greet
        with:
          who: mlci
      - id: d
        uses: ./.github/actions/greet
      - run: |
          echo "said=${{ steps.g.outputs.said }} inner=${{ steps.g.outputs.inner }}"
          echo "default=${{ steps.d.outputs.said }} inner=${{ steps.d.outputs.inner }}"
"#;

#[test]
fn composite_actions_have_inputs_defaults_outputs_and_nest() {
    common::ensure_test_image();
    let dir = repo_with(&[
        ("wf.yml", COMPOSITE_WORKFLOW),
        (".github/actions/greet/action.yml", GREET),
        (".github/actions/inner/action.yml", INNER),
    ]);
    let output = mlci(dir.path(), &["run", "wf.yml"], &[]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("[composite] hello mlci! env=mlci"), "{out}");
    assert!(out.contains("[composite] hello world! env=world"), "{out}");
    assert!(out.contains("[composite] action path ok"), "{out}");
    assert!(out.contains("[composite] context path ok"), "{out}");
    assert!(
        out.contains("[composite] said=hello mlci inner=<mlci>"),
        "{out}"
    );
    assert!(
        out.contains("[composite] default=hello world inner=<world>"),
        "{out}"
    );
    assert!(!out.contains("[composite] never printed"), "{out}");
    assert_eq!(leftovers(&["composite"]), 0);
}

#[test]
fn bad_actions_and_references_fail_with_one_clear_line() {
    common::ensure_test_image();
    let dir = repo_with(&[
        (
            "wf.yml",
            r#"
on: push
jobs:
  badref:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - uses: ./.github/actions/noshell
      - if: always()
        uses: ./.github/actions/missing
"#,
        ),
        (
            ".github/actions/noshell/action.yml",
            "runs:\n  using: composite\n  steps:\n    - run: echo hi\n",
        ),
    ]);
    let output = mlci(dir.path(), &["run", "wf.yml"], &[]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("./.github/actions/noshell/action.yml:4:7: error: a `run` step of a composite action needs `shell`"),
        "{out}"
    );
    // A reference that is wrong whatever the run (`someone/something`, no
    // version) is refused before the run starts: tests/hostile_input.rs.
    assert!(
        out.contains("error: step `Run ./.github/actions/missing`: the action ./.github/actions/missing does not exist in the repository"),
        "{out}"
    );
    assert_eq!(leftovers(&["badref"]), 0);
}

const DOCKER_ACTION: &str = r#"
name: dock
inputs:
  who:
    default: docker
runs:
  using: docker
  image: Dockerfile
  args:
    - ${{ inputs.who }}
"#;

const DOCKERFILE: &str = "FROM mlci-test/busybox:latest\nCOPY entrypoint.sh /entrypoint.sh\nENTRYPOINT [\"/entrypoint.sh\"]\n";

const ENTRYPOINT: &str = r#"#!/bin/sh
echo "in the action container: arg=$1 input=$INPUT_WHO pwd=$(pwd)"
echo "greeting=hi $1" >> "$GITHUB_OUTPUT"
echo "from docker" > "$GITHUB_WORKSPACE/from-docker.txt"
cat data.txt
"#;

#[test]
fn a_docker_action_is_built_once_and_writes_outputs_and_files() {
    common::ensure_test_image();
    let dir = repo_with(&[
        (
            "wf.yml",
            r#"
on: push
jobs:
  dockeraction:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - id: d
        uses: ./.github/actions/dock
        with:
          who: engine
      - run: echo "output=${{ steps.d.outputs.greeting }} file=$(cat from-docker.txt)"
      - uses: docker://mlci-test/busybox:latest
        with:
          entrypoint: /bin/sh
          args: -c "echo image step sees $(cat data.txt)"
"#,
        ),
        ("data.txt", "workspace data"),
        (".github/actions/dock/action.yml", DOCKER_ACTION),
        (".github/actions/dock/Dockerfile", DOCKERFILE),
        (".github/actions/dock/entrypoint.sh", ENTRYPOINT),
    ]);
    let output = mlci(dir.path(), &["run", "wf.yml"], &[]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("[dockeraction] in the action container: arg=engine input=engine pwd=/__w/"),
        "{out}"
    );
    assert!(out.contains("[dockeraction] workspace data"), "{out}");
    assert!(
        out.contains("[dockeraction] output=hi engine file=from docker"),
        "{out}"
    );
    assert!(
        out.contains("[dockeraction] image step sees workspace data"),
        "{out}"
    );
    // The image is a labelled cache entry, reused by the next run.
    let images = common::docker(&[
        "images",
        "-q",
        "--filter",
        "label=dev.mlci.cache=action",
        "--filter",
        "label=dev.mlci.action=./.github/actions/dock",
    ])
    .unwrap();
    assert!(!images.trim().is_empty(), "no labelled action image");
    let again = mlci(dir.path(), &["run", "wf.yml"], &[]);
    let out = stdout(&again);
    assert!(again.status.success(), "{out}");
    assert!(!out.contains("building the image"), "{out}");
    assert_eq!(leftovers(&["dockeraction"]), 0);
}

/// A bare repository `<root>/<owner>/<repo>` with `files` committed and tagged `tag`.
fn bare_repo(root: &Path, owner: &str, repo: &str, tag: &str, files: &[(&str, &str)]) {
    let work = tempfile::tempdir().unwrap();
    write_files(work.path(), files);
    git(work.path(), &["init", "-q"]);
    git(work.path(), &["add", "-A"]);
    git(work.path(), &["commit", "-qm", "action"]);
    git(work.path(), &["tag", tag]);
    let bare = root.join(owner).join(repo);
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    git(
        work.path(),
        &["clone", "-q", "--bare", ".", bare.to_str().unwrap()],
    );
}

#[test]
fn remote_actions_are_cloned_once_and_then_used_offline() {
    common::ensure_test_image();
    let remotes = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    bare_repo(
        remotes.path(),
        "octo",
        "hello-action",
        "v1",
        &[
            (
                "action.yml",
                "inputs:\n  who:\n    default: remote\nruns:\n  using: composite\n  steps:\n    - shell: sh\n      run: echo \"remote says hi to ${{ inputs.who }} from $(cat $GITHUB_ACTION_PATH/message.txt)\"\n",
            ),
            ("message.txt", "the clone"),
            (
                "sub/action.yml",
                "outputs:\n  x:\n    value: ${{ steps.a.outputs.x }}\nruns:\n  using: composite\n  steps:\n    - id: a\n      shell: sh\n      run: echo x=sub-path >> $GITHUB_OUTPUT\n",
            ),
        ],
    );
    let dir = repo_with(&[(
        "wf.yml",
        r#"
on: push
jobs:
  remote:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - uses: octo/hello-action@v1
        with:
          who: mlci
      - id: s
        uses: octo/hello-action/sub@v1
      - run: echo "sub output ${{ steps.s.outputs.x }}"
"#,
    )]);
    let url = format!("file://{}", remotes.path().display());
    let env = [
        ("MLCI_ACTIONS_URL", Path::new(&url)),
        ("MLCI_CACHE_DIR", cache.path()),
    ];
    let first = mlci(dir.path(), &["run", "wf.yml"], &env);
    let out = stdout(&first);
    assert!(first.status.success(), "{out}");
    assert!(
        out.contains("[remote] remote says hi to mlci from the clone"),
        "{out}"
    );
    assert!(out.contains("[remote] sub output sub-path"), "{out}");
    assert!(
        cache
            .path()
            .join("actions/octo/hello-action@v1/action.yml")
            .is_file()
    );
    // Offline: the source is gone, the cache serves.
    std::fs::remove_dir_all(remotes.path()).unwrap();
    let second = mlci(dir.path(), &["run", "wf.yml"], &env);
    let out = stdout(&second);
    assert!(second.status.success(), "{out}");
    assert!(
        out.contains("[remote] remote says hi to mlci from the clone"),
        "{out}"
    );
    assert_eq!(leftovers(&["remote"]), 0);
}

#[test]
fn a_clone_that_fails_says_which_action_where_and_what_to_do() {
    common::ensure_test_image();
    let cache = tempfile::tempdir().unwrap();
    let nowhere = tempfile::tempdir().unwrap();
    let dir = repo_with(&[(
        "wf.yml",
        r#"
on: push
jobs:
  noclone:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - uses: nobody/missing-action@v3
"#,
    )]);
    let url = format!("file://{}", nowhere.path().display());
    let output = mlci(
        dir.path(),
        &["run", "wf.yml"],
        &[
            ("MLCI_ACTIONS_URL", Path::new(&url)),
            ("MLCI_CACHE_DIR", cache.path()),
        ],
    );
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let expected = format!(
        "error: step `Run nobody/missing-action@v3`: cannot fetch the action `nobody/missing-action@v3` from {url}/nobody/missing-action ("
    );
    assert!(out.contains(&expected), "{out}");
    assert!(out.contains("check MLCI_ACTIONS_URL"), "{out}");
    // Nothing half-cloned stays in the cache.
    let owner_dir = cache.path().join("actions/nobody");
    let entries = std::fs::read_dir(&owner_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(entries, 0, "leftovers in {}", owner_dir.display());
    assert_eq!(leftovers(&["noclone"]), 0);
}

/// An image with busybox and the host's `node` (with its libraries), made
/// once with `docker commit`: nothing has to be pulled.
fn ensure_node_image() -> bool {
    if common::docker(&["image", "inspect", NODE_IMAGE]).is_ok() {
        return true;
    }
    let Ok(node) = which("node") else {
        return false;
    };
    let ldd = Command::new("ldd").arg(&node).output().unwrap();
    let mut files = vec![node.clone()];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(str::to_string);
        if let Some(p) = path {
            files.push(p);
        }
    }
    let name = format!("mlci-node-build-{}", std::process::id());
    common::docker(&["run", "-d", "--name", &name, BUSYBOX, "sleep", "600"]).unwrap();
    let mut ok = true;
    for f in &files {
        let parent = Path::new(f).parent().unwrap().to_str().unwrap().to_string();
        ok &= common::docker(&["exec", &name, "mkdir", "-p", &parent]).is_ok();
        ok &= common::docker(&["cp", "-L", f, &format!("{name}:{f}")]).is_ok();
    }
    if ok {
        let tmp_tag = format!("mlci-test/node:build-{}", std::process::id());
        ok = common::docker(&["commit", &name, &tmp_tag]).is_ok()
            && common::docker(&["tag", &tmp_tag, NODE_IMAGE]).is_ok();
        common::docker(&["rmi", &tmp_tag]).ok();
    }
    common::docker(&["rm", "-f", &name]).ok();
    ok
}

fn which(program: &str) -> Result<String, ()> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map_err(|_| ())?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !path.is_empty() {
        Ok(std::fs::canonicalize(&path)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or(path))
    } else {
        Err(())
    }
}

const JS_ACTION: &str = r#"
name: js
inputs:
  who:
    default: node
runs:
  using: node20
  main: index.js
  post: post.js
"#;

const JS_MAIN: &str = r#"
const fs = require('fs');
console.log(`js main says hi to ${process.env.INPUT_WHO}`);
fs.appendFileSync(process.env.GITHUB_OUTPUT, `said=hi ${process.env.INPUT_WHO}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, `started=yes\n`);
"#;

const JS_POST: &str = r#"
console.log(`js post ran with state ${process.env.STATE_started}`);
"#;

fn js_workflow(job: &str, image: &str) -> String {
    format!(
        r#"
on: push
jobs:
  {job}:
    runs-on: ubuntu-latest
    container: {image}
    steps:
      - id: js
        uses: ./.github/actions/js
        with:
          who: mlci
      - run: echo "js output ${{{{ steps.js.outputs.said }}}}"
"#
    )
}

#[test]
fn a_javascript_action_fails_clearly_without_node_and_runs_with_it() {
    common::ensure_test_image();
    let files = [
        (".github/actions/js/action.yml", JS_ACTION),
        (".github/actions/js/index.js", JS_MAIN),
        (".github/actions/js/post.js", JS_POST),
    ];
    let mut with_wf = files.to_vec();
    let wf = js_workflow("nonode", BUSYBOX);
    with_wf.push(("wf.yml", &wf));
    let dir = repo_with(&with_wf);
    let output = mlci(dir.path(), &["run", "wf.yml"], &[]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("[nonode] error: step `Run ./.github/actions/js`: the job's container has no `node`, which the JavaScript action ./.github/actions/js (`using: node20`) needs"),
        "{out}"
    );
    assert_eq!(leftovers(&["nonode"]), 0);

    assert!(
        ensure_node_image(),
        "cannot make {NODE_IMAGE} from the host's node"
    );
    let mut with_wf = files.to_vec();
    let wf = js_workflow("withnode", NODE_IMAGE);
    with_wf.push(("wf.yml", &wf));
    let dir = repo_with(&with_wf);
    let output = mlci(dir.path(), &["run", "wf.yml"], &[]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("[withnode] js main says hi to mlci"), "{out}");
    assert!(out.contains("[withnode] js output hi mlci"), "{out}");
    let post = out
        .find("[withnode] js post ran with state yes")
        .expect("post ran");
    assert!(post > out.find("js output hi mlci").unwrap(), "{out}");
    assert_eq!(leftovers(&["withnode"]), 0);
}

const ARTIFACTS_WORKFLOW: &str = r#"
on: push
jobs:
  produce:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - run: |
          mkdir -p out/deep
          echo model > out/model.txt
          echo deep > out/deep/nested.txt
          echo skip > out/skip.txt
          echo log > out/run.log
      - uses: actions/upload-artifact@v4
        with:
          name: model
          path: |
            out/**/*.txt
            !out/skip.txt
      - uses: actions/upload-artifact@v4
        with:
          name: logs
          path: out/run.log
      - uses: actions/upload-artifact@v4
        with:
          name: nothing
          path: no-such-dir/
          if-no-files-found: warn
  consume:
    needs: produce
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - uses: actions/checkout@v4
        with:
          path: copy
      - uses: actions/download-artifact@v4
        with:
          name: model
          path: got
      - uses: actions/download-artifact@v4
        with:
          path: all
      - run: |
          echo "got $(cat got/model.txt) $(cat got/deep/nested.txt) skip=$(ls got/skip.txt 2>/dev/null || echo absent)"
          echo "all $(cat all/logs/run.log) $(cat all/model/model.txt)"
          echo "checkout copy $(cat copy/wf.yml | head -n 2 | tail -n 1)"
      - uses: actions/download-artifact@v4
        with:
          name: never-uploaded
"#;

#[test]
fn artifacts_pass_from_one_job_to_the_next() {
    common::ensure_test_image();
    let cache = tempfile::tempdir().unwrap();
    let dir = repo_with(&[("wf.yml", ARTIFACTS_WORKFLOW)]);
    let output = mlci(
        dir.path(),
        &["run", "wf.yml"],
        &[("MLCI_CACHE_DIR", cache.path())],
    );
    let out = stdout(&output);
    // The last step downloads an artifact nobody uploaded.
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("[produce] artifact `model`: 2 file(s)"),
        "{out}"
    );
    assert!(
        out.contains("[produce] warning: no files were found with the provided path: no-such-dir/"),
        "{out}"
    );
    assert!(
        out.contains("[consume] got model deep skip=absent"),
        "{out}"
    );
    assert!(out.contains("[consume] all log model"), "{out}");
    assert!(out.contains("[consume] checkout copy on: push"), "{out}");
    assert!(
        out.contains(
            "no artifact named `never-uploaded` in this run (uploaded so far: logs, model)"
        ),
        "{out}"
    );
    // The files are on the host, per run.
    let runs: Vec<_> = std::fs::read_dir(cache.path().join("artifacts"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].path().join("model/deep/nested.txt").is_file());
    assert_eq!(leftovers(&["produce", "consume"]), 0);
}

/// `--cache-dir` and `MLCI_CACHE_DIR` are one setting: everything a run
/// keeps on the host (step cache, actions/cache, cloned actions, artifacts)
/// goes under the directory the flag names, nothing under the default.
#[test]
fn cache_dir_flag_moves_the_action_cache_and_artifacts() {
    common::ensure_test_image();
    let remotes = tempfile::tempdir().unwrap();
    bare_repo(
        remotes.path(),
        "octo",
        "hello-action",
        "v1",
        &[(
            "action.yml",
            "runs:\n  using: composite\n  steps:\n    - shell: sh\n      run: echo remote ran\n",
        )],
    );
    let dir = repo_with(&[(
        "wf.yml",
        r#"
on: push
jobs:
  cached:
    runs-on: ubuntu-latest
    container: mlci-test/busybox:latest
    steps:
      - uses: actions/cache@v4
        with:
          path: out
          key: flag-key
      - uses: octo/hello-action@v1
      - run: mkdir -p out && echo kept > out/file.txt
      - uses: actions/upload-artifact@v4
        with:
          name: kept
          path: out
"#,
    )]);
    let home = tempfile::tempdir().unwrap();
    let chosen = tempfile::tempdir().unwrap();
    let url = format!("file://{}", remotes.path().display());
    let output = Command::new(common::mlci_bin())
        .args(["run", "--cache-dir"])
        .arg(chosen.path())
        .arg("wf.yml")
        .current_dir(dir.path())
        .env("CI", "true")
        .env("HOME", home.path())
        .env("MLCI_ACTIONS_URL", &url)
        .env_remove("MLCI_CACHE_DIR")
        .env_remove("MLCI_ARTIFACTS_DIR")
        .env_remove("XDG_CACHE_HOME")
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("[cached] remote ran"), "{out}");
    assert!(out.contains("cache saved with key: flag-key"), "{out}");
    let under = |rel: &str| chosen.path().join(rel);
    assert!(
        under("actions/octo/hello-action@v1/action.yml").is_file(),
        "the clone is not under --cache-dir"
    );
    let runs: Vec<_> = std::fs::read_dir(under("artifacts"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1, "artifacts are not under --cache-dir");
    assert!(runs[0].path().join("kept/file.txt").is_file());
    assert!(
        !home.path().join(".cache/mlci").exists(),
        "the run wrote under the default cache directory: {:?}",
        std::fs::read_dir(home.path().join(".cache/mlci"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    assert_eq!(leftovers(&["cached"]), 0);
}
