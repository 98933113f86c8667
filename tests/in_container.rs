//! mlci inside a container on the engine it drives, as act, ARC runners and
//! `container:` jobs run it: the Docker socket mounted, no `DOCKER_HOST`,
//! this build's binary, the example workflows.
//!
//! - The repository in a bind mount, at another path inside than outside:
//!   job files are bind-mounted through that mount (paths translated), the
//!   outputs land in the working tree, large outputs of needed jobs and
//!   `./` volumes are mounted by their paths on the engine's host.
//! - The repository only in the container's own file system: job files are
//!   copied into each job's container.
//!
//! Either way the engine is left with no directory at the container's
//! paths (it creates one for a bind source it does not have) and no
//! container of the run.

use std::path::Path;
use std::process::Command;

mod common;

const OUTER_IMAGE: &str = "mlci/python-ml:latest";

/// A second workflow beside the example: a large output of a needed job
/// (bind-mounted read-only from the cache), a volume and a `--mount` from
/// the workspace.
const MOUNTS: &str = r#"on: push
jobs:
  big:
    runs-on: python-ml
    steps:
      - run: mkdir -p blob && head -c 17000000 /dev/zero > blob/zeros.bin
        inputs: [examples/]
        outputs: [blob/]
  use:
    needs: big
    runs-on: python-ml
    # Not started ahead (that copies the outputs of needs in).
    concurrency: in-container-use
    container:
      image: mlci/python-ml:latest
      volumes: ["./examples:/mnt/examples:ro"]
      options: --mount type=bind,source=${{ github.workspace }}/examples,target=/mnt/again,readonly
    steps:
      - run: |
          test "$(stat -c %s blob/zeros.bin)" = 17000000
          grep -q " $GITHUB_WORKSPACE/blob " /proc/self/mountinfo
          test -f /mnt/examples/sklearn/train.py
          test -f /mnt/again/sklearn/train.py
          echo "large output and workspace volume mounted"
"#;

/// The outer container: mlci's own, kept alive with `sleep` so that mlci
/// runs in it with `docker exec`; removed on drop.
struct Outer {
    id: String,
    /// The container-side root of everything of this test, unique, so that
    /// a stray directory the engine made on its host would be found.
    root: String,
}

impl Outer {
    /// Starts it, with these sources mounted at these paths under its root.
    fn start(name: &str, mounts: &[(&str, &str)]) -> Outer {
        let root = format!("/mlci-in-container-{}", common::run_id(name));
        // MLCI_TEST_BIN: another build of mlci (where builds of several
        // checkouts share one target directory and replace its binary).
        let binary = std::env::var("MLCI_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mlci").to_string());
        let mut args = vec![
            "run".to_string(),
            "-d".into(),
            "--label".into(),
            "dev.mlci.test=in-container".into(),
            "-v".into(),
            "/var/run/docker.sock:/var/run/docker.sock".into(),
            "-e".into(),
            "CI=true".into(),
            // The repository belongs to the test's user, git runs as root.
            "-e".into(),
            "GIT_CONFIG_COUNT=1".into(),
            "-e".into(),
            "GIT_CONFIG_KEY_0=safe.directory".into(),
            "-e".into(),
            "GIT_CONFIG_VALUE_0=*".into(),
        ];
        for (source, under_root) in mounts {
            args.push("-v".into());
            args.push(format!("{source}:{root}/{under_root}"));
        }
        args.extend([
            "--entrypoint".into(),
            "sleep".into(),
            OUTER_IMAGE.into(),
            "600".into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = common::docker(&args)
            .unwrap_or_else(|e| panic!("starting the outer container: {e}"))
            .trim()
            .to_string();
        let outer = Outer { id, root };
        // The binary is copied in, not mounted: the shared target directory's
        // file may be replaced by another build while the test runs.
        common::docker(&["cp", &binary, &format!("{}:/usr/local/bin/mlci", outer.id)])
            .unwrap_or_else(|e| panic!("copying mlci in: {e}"));
        outer
    }

    /// `mlci run` in the repository, with these variables; its exit code
    /// and output.
    fn mlci_run(&self, run_id: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
        let mut cmd = Command::new("docker");
        cmd.args(["exec", "-w", &format!("{}/repo", self.root)]);
        cmd.args(["-e", &format!("MLCI_RUN_ID={run_id}")]);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        let output = cmd.args([&self.id, "mlci", "run"]).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    }

    /// The repository copied into the container's own file system.
    fn copy_in(&self, repo: &Path) {
        self.exec(&format!("mkdir -p {}", self.root));
        common::docker(&[
            "cp",
            &repo.display().to_string(),
            &format!("{}:{}/repo", self.id, self.root),
        ])
        .unwrap();
    }

    fn exec(&self, script: &str) {
        common::docker(&["exec", &self.id, "sh", "-c", script])
            .unwrap_or_else(|e| panic!("{script}: {e}"));
    }

    /// Nothing of the run on the engine, nothing at the container's paths
    /// on this machine (the engine's host).
    fn assert_nothing_left(&self, run_id: &str) {
        assert_eq!(common::run_leftovers(run_id), Vec::<String>::new());
        let probes =
            common::docker(&["ps", "-aq", "--filter", "label=dev.mlci.role=probe"]).unwrap();
        assert_eq!(probes.trim(), "", "a probe container was left behind");
        assert!(
            !Path::new(&self.root).exists(),
            "the engine created {} on its host",
            self.root
        );
    }
}

/// The line (on stderr, before any job) that says how job files reach the engine.
fn said_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("mlci runs in container "))
        .unwrap_or_default()
}

impl Drop for Outer {
    fn drop(&mut self) {
        let _ = common::docker(&["rm", "-f", &self.id]);
    }
}

#[test]
fn in_a_bind_mount_job_files_are_mounted_through_it_and_outputs_land_in_the_working_tree() {
    common::ensure_runner_image();
    let repo = common::example_repo("train-evaluate.yml");
    std::fs::write(repo.path().join(".github/workflows/mounts.yml"), MOUNTS).unwrap();
    std::fs::write(
        repo.path().join(".gitignore"),
        "data/\nmodel/\nmetrics/\nblob/\n.mlci/\n.cache/\n",
    )
    .unwrap();
    common::git(repo.path(), &["add", "-A"]);
    common::git(repo.path(), &["commit", "-qm", "mounts"]);
    let outer = Outer::start("bind", &[(&repo.path().display().to_string(), "repo")]);
    let run_id = common::run_id("in-container-bind");
    let cache = format!("{}/repo/.cache", outer.root);
    let (code, text) = outer.mlci_run(&run_id, &[("MLCI_CACHE_DIR", &cache)]);
    // Files mlci (root in there) wrote into the repository go back to the
    // test's user, so that the temporary directory can be removed.
    let owner = std::fs::metadata(repo.path()).map(|m| {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", m.uid(), m.gid())
    });
    outer.exec(&format!("chown -R {} {}/repo", owner.unwrap(), outer.root));
    assert_eq!(code, Some(0), "{text}");
    let first = said_line(&text);
    let said = format!(
        ": job files are bind-mounted through its mount {}/repo → {}",
        outer.root,
        repo.path().canonicalize().unwrap().display()
    );
    assert!(first.ends_with(&said), "{text}");
    assert_eq!(text.matches("mlci runs in container").count(), 1, "{text}");
    assert!(text.contains("gates: 2 of 2 passed"), "{text}");
    assert!(
        text.contains("large output and workspace volume mounted"),
        "{text}"
    );
    assert!(repo.path().join("metrics/eval.json").is_file(), "{text}");
    assert!(repo.path().join("model/forest").is_dir(), "{text}");
    outer.assert_nothing_left(&run_id);
}

#[test]
fn in_its_own_file_system_job_files_are_copied() {
    common::ensure_runner_image();
    let repo = common::example_repo("hello-ml.yml");
    let outer = Outer::start("copy", &[]);
    outer.copy_in(repo.path());
    let run_id = common::run_id("in-container-copy");
    let cache = format!("{}/cache", outer.root);
    let (code, text) = outer.mlci_run(&run_id, &[("MLCI_CACHE_DIR", &cache)]);
    assert_eq!(code, Some(0), "{text}");
    let first = said_line(&text);
    assert!(
        first.contains(": job files are copied into each job's container")
            && first.contains(&format!(
                "{cache}/tmp is in the container's own file system"
            )),
        "{text}"
    );
    assert!(text.contains("[report] last accuracy 0.9"), "{text}");
    outer.assert_nothing_left(&run_id);
}

#[test]
fn mlci_workspace_copy_wins_over_a_bind_mount() {
    common::ensure_runner_image();
    let repo = common::git_repo(&[(
        ".github/workflows/w.yml",
        "on: push\njobs:\n  one:\n    runs-on: python-ml\n    steps:\n      - run: test -f .github/workflows/w.yml && echo copied in\n",
    )]);
    let outer = Outer::start("forced", &[(&repo.path().display().to_string(), "repo")]);
    let run_id = common::run_id("in-container-forced");
    let cache = format!("{}/repo/.cache", outer.root);
    let (code, text) = outer.mlci_run(
        &run_id,
        &[("MLCI_CACHE_DIR", &cache), ("MLCI_WORKSPACE", "copy")],
    );
    outer.exec(&format!(
        "rm -rf {}/repo/.cache {}/repo/.mlci",
        outer.root, outer.root
    ));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        said_line(&text)
            .ends_with(": job files are copied into each job's container (MLCI_WORKSPACE=copy)"),
        "{text}"
    );
    assert!(text.contains("[one] copied in"), "{text}");
    outer.assert_nothing_left(&run_id);
}

#[test]
fn in_a_named_volume_job_files_are_mounted_through_its_data_directory() {
    common::ensure_runner_image();
    // act keeps its tool cache and environment in named volumes.
    struct Volume(String);
    impl Drop for Volume {
        fn drop(&mut self) {
            let _ = common::docker(&["volume", "rm", "-f", &self.0]);
        }
    }
    let volume = Volume(common::run_id("in-container-volume"));
    common::docker(&[
        "volume",
        "create",
        "--label",
        "dev.mlci.test=in-container",
        &volume.0,
    ])
    .unwrap();
    let repo = common::example_repo("hello-ml.yml");
    let outer = Outer::start("volume", &[(&volume.0, "cache")]);
    outer.copy_in(repo.path());
    let run_id = common::run_id("in-container-volume");
    let cache = format!("{}/cache/mlci", outer.root);
    let (code, text) = outer.mlci_run(&run_id, &[("MLCI_CACHE_DIR", &cache)]);
    assert_eq!(code, Some(0), "{text}");
    let said = said_line(&text);
    assert!(
        said.contains(&format!(
            ": job files are bind-mounted through its mount {}/cache → /",
            outer.root
        )) && said.ends_with(&format!("/volumes/{}/_data", volume.0)),
        "{text}"
    );
    assert!(text.contains("[report] last accuracy 0.9"), "{text}");
    outer.assert_nothing_left(&run_id);
}

#[test]
fn a_mount_where_the_engine_finds_another_directory_fails_the_probe_and_files_are_copied() {
    common::ensure_runner_image();
    let repo = common::git_repo(&[(
        ".github/workflows/w.yml",
        "on: push\njobs:\n  one:\n    runs-on: python-ml\n    steps:\n      - run: echo ran\n",
    )]);
    let outer = Outer::start("moved", &[(&repo.path().display().to_string(), "repo")]);
    // Moved away on the engine's host once mounted: the container still
    // sees it, while its path there now names an empty directory.
    let moved = repo.path().with_extension("moved");
    std::fs::rename(repo.path(), &moved).unwrap();
    std::fs::create_dir(repo.path()).unwrap();
    let run_id = common::run_id("in-container-moved");
    let cache = format!("{}/repo/.cache", outer.root);
    let (code, text) = outer.mlci_run(&run_id, &[("MLCI_CACHE_DIR", &cache)]);
    let left: Vec<_> = std::fs::read_dir(repo.path()).unwrap().collect();
    std::fs::remove_dir_all(repo.path()).unwrap();
    std::fs::rename(&moved, repo.path()).unwrap();
    assert!(left.is_empty(), "the engine created {left:?}");
    assert_eq!(code, Some(0), "{text}");
    let said = said_line(&text);
    assert!(
        said.contains(&format!(
            ": job files are copied into each job's container (the engine does not find {cache}/tmp through its mount {}/repo → {}: {}/.cache/tmp/mlci-probe-",
            outer.root,
            repo.path().display(),
            repo.path().display()
        )),
        "{text}"
    );
    assert!(text.contains("[one] ran"), "{text}");
    outer.assert_nothing_left(&run_id);
}
