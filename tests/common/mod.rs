//! Helpers for the tests against the real Docker engine.
//!
//! Nothing can be pulled here, so the test image is made locally: a root file
//! system with a static busybox (`apt-get install busybox-static`) and a
//! symlink per applet, imported with `docker import` as
//! [`TEST_IMAGE`]. Its default command serves `/www` with busybox `httpd` on
//! port 8080, so the same image is a job image and a service image.
//!
//! These tests fail, never skip, when the engine is missing.

#![allow(dead_code)]

pub mod cli;
pub mod measure;
pub mod moto;
pub mod registry;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use mlci::executor::docker::DockerBackend;
use mlci::executor::{
    ContainerOptions, ExecOutcome, ExecRequest, JobEnv, JobSpec, LABEL_RUN, ServiceSpec, StreamKind,
};
use tokio_util::sync::CancellationToken;

pub const TEST_IMAGE: &str = "mlci-test/busybox:latest";
pub const WORKSPACE_PATH: &str = "/__w/repo/repo";

/// Makes sure the test image exists (idempotent; safe when several test
/// processes race: each imports under its own tag, then tags).
pub fn ensure_test_image() -> &'static str {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if docker(&["image", "inspect", "--format", "{{.Id}}", TEST_IMAGE]).is_ok() {
            return;
        }
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.is_file(),
            "the tests need a static busybox at /bin/busybox: apt-get install -y busybox-static"
        );
        let list = Command::new(busybox)
            .arg("--list")
            .output()
            .expect("run busybox --list");
        let applets: Vec<String> = String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::to_string)
            .filter(|a| !a.is_empty() && a != "busybox")
            .collect();
        let rootfs = rootfs_tar(busybox, &applets);
        let tmp_tag = format!("mlci-test/busybox:import-{}", std::process::id());
        let mut child = Command::new("docker")
            .args([
                "import",
                "--change",
                r#"CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]"#,
                "--change",
                "ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                "-",
                &tmp_tag,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the docker CLI is needed to build the test image");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&rootfs)
            .expect("send the root fs to docker import");
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker import failed (is the Docker engine running?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        docker(&["tag", &tmp_tag, TEST_IMAGE]).expect("docker tag");
        docker(&["rmi", &tmp_tag]).ok();
    });
    TEST_IMAGE
}

fn rootfs_tar(busybox: &Path, applets: &[String]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, name: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        b.append_data(&mut h, format!("{name}/"), std::io::empty())
            .unwrap();
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, name: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    for d in [
        "bin", "etc", "www", "root", "proc", "sys", "dev", "usr", "usr/bin", "sbin", "var", "home",
    ] {
        dir(&mut b, d, 0o755);
    }
    dir(&mut b, "tmp", 0o1777);
    file(
        &mut b,
        "bin/busybox",
        0o755,
        &std::fs::read(busybox).unwrap(),
    );
    for a in applets {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{a}"), "/bin/busybox")
            .unwrap();
    }
    file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nrunner:x:1001:1001:runner:/home:/bin/sh\n",
    );
    file(&mut b, "etc/group", 0o644, b"root:x:0:\nrunner:x:1001:\n");
    file(
        &mut b,
        "www/index.html",
        0o644,
        b"hello from the web service\n",
    );
    b.into_inner().unwrap()
}

/// Runs the docker CLI; its stdout, or its stderr as the error.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Connects to the engine; a missing engine fails the test.
pub async fn backend() -> DockerBackend {
    ensure_test_image();
    DockerBackend::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A run id unique to this test and process.
pub fn run_id(test: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!(
        "test-{test}-{}-{}-{}",
        std::process::id(),
        t % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A small repository: files, an executable script, a `.git` directory.
pub fn workspace() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("README.md"), "# repo\n").unwrap();
    std::fs::create_dir_all(d.path().join(".git/refs")).unwrap();
    std::fs::write(d.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::create_dir_all(d.path().join("src/deep/er")).unwrap();
    std::fs::write(d.path().join("src/deep/er/data.txt"), "deep data\n").unwrap();
    std::fs::write(d.path().join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(
        d.path().join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    d
}

pub fn spec(run_id: &str, job: &str, workspace: &Path, options: &str) -> JobSpec {
    JobSpec {
        run_id: run_id.to_string(),
        job_name: job.to_string(),
        image: ensure_test_image().to_string(),
        credentials: None,
        options: ContainerOptions::parse(options).unwrap(),
        env: BTreeMap::from([("JOB_LEVEL".to_string(), "yes".to_string())]),
        volumes: vec![],
        ports: vec![],
        services: vec![],
        workspace: workspace.to_path_buf(),
        outputs: vec![],
        workspace_path: WORKSPACE_PATH.to_string(),
        copies: vec![],
        files: vec![],
        allow_privileged: false,
        host_dir: None,
        timeout: None,
        secrets: Default::default(),
    }
}

pub fn service(name: &str, options: &str, ports: &[&str]) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        image: ensure_test_image().to_string(),
        credentials: None,
        options: ContainerOptions::parse(options).unwrap(),
        env: BTreeMap::new(),
        ports: ports.iter().map(|p| p.to_string()).collect(),
        volumes: vec![],
    }
}

/// Output of one exec.
#[derive(Debug, Default)]
pub struct Output {
    pub outcome: Option<ExecOutcome>,
    pub stdout: String,
    pub stderr: String,
    /// (stream, text) in arrival order.
    pub chunks: Vec<(StreamKind, String)>,
}

pub async fn run<E: JobEnv>(env: &E, req: ExecRequest) -> Output {
    let cancel = CancellationToken::new();
    run_with(env, req, &cancel).await
}

pub async fn run_with<E: JobEnv>(env: &E, req: ExecRequest, cancel: &CancellationToken) -> Output {
    let mut out = Output::default();
    let mut chunks = Vec::new();
    let outcome = {
        let mut cb =
            |k: StreamKind, b: &[u8]| chunks.push((k, String::from_utf8_lossy(b).into_owned()));
        env.exec(&req, cancel, &mut cb).await.unwrap()
    };
    out.outcome = Some(outcome);
    for (k, t) in &chunks {
        match k {
            StreamKind::Stdout => out.stdout.push_str(t),
            StreamKind::Stderr => out.stderr.push_str(t),
        }
    }
    out.chunks = chunks;
    out
}

/// `sh -c script` in the job's workspace.
pub async fn sh<E: JobEnv>(env: &E, script: &str) -> Output {
    run(env, sh_req(script)).await
}

pub fn sh_req(script: &str) -> ExecRequest {
    ExecRequest {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        workdir: WORKSPACE_PATH.into(),
        ..Default::default()
    }
}

/// Asserts that nothing labelled with this run is left: containers, networks, volumes.
pub async fn assert_no_leftovers(backend: &DockerBackend, run_id: &str) {
    let docker = backend.client();
    let filter = HashMap::from([("label".to_string(), vec![format!("{LABEL_RUN}={run_id}")])]);
    let containers = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await
        .unwrap();
    let networks = docker
        .list_networks(Some(
            bollard::query_parameters::ListNetworksOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .unwrap();
    let volumes = docker
        .list_volumes(Some(
            bollard::query_parameters::ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .unwrap()
        .volumes
        .unwrap_or_default();
    assert!(
        containers.is_empty() && networks.is_empty() && volumes.is_empty(),
        "leftovers of run {run_id}: {} container(s), {} network(s), {} volume(s)",
        containers.len(),
        networks.len(),
        volumes.len()
    );
}

/// Runs a test body with a fresh backend and run id. The body checks its own
/// clean-up with [`assert_no_leftovers`]; should it panic half-way, the run's
/// objects are removed here anyway so that one failure leaves nothing behind.
pub async fn guarded<F, Fut>(name: &str, body: F)
where
    F: FnOnce(DockerBackend, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::FutureExt;
    let b = backend().await;
    let id = run_id(name);
    let result = std::panic::AssertUnwindSafe(body(b.clone(), id.clone()))
        .catch_unwind()
        .await;
    let cleaned = mlci::executor::Backend::remove_run(&b, &id).await;
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    cleaned.unwrap();
}

/// A git repository holding these files, all committed.
pub fn git_repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "init"]);
    dir
}

/// `git ARGS` in `dir` as a test user; panics when git fails.
pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.email=t@t", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// The containers, networks and volumes that the engine still holds of a
/// run, once what is being removed is gone: `mlci run` hands the removal of
/// its last containers to a process of its own and exits, so the list is
/// read again until it is empty, for up to 10 s.
pub fn run_leftovers(run_id: &str) -> Vec<String> {
    until_settled(|| run_objects(run_id))
}

/// Reads `list` until it is empty or 10 s have passed; the last reading.
pub fn until_settled<T>(mut list: impl FnMut() -> Vec<T>) -> Vec<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = list();
        if found.is_empty() || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The containers, networks and volumes labelled with this run, right now.
pub fn run_objects(run_id: &str) -> Vec<String> {
    let label = format!("label=dev.mlci.run={run_id}");
    let mut found = Vec::new();
    for kind in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"],
        &["volume", "ls", "-q"],
    ] {
        let output = Command::new("docker")
            .args(kind)
            .args(["--filter", &label])
            .output()
            .unwrap();
        found.extend(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(|id| format!("{} {id}", kind[0])),
        );
    }
    found
}

/// The `mlci` binary under test. `cargo-nextest nextest run --archive-file`
/// runs the tests elsewhere (as another user, in .ci/run) and says where it
/// put the binary in `NEXTEST_BIN_EXE_mlci`; the path cargo compiled in is
/// the fallback.
pub fn mlci_bin() -> std::path::PathBuf {
    std::env::var_os("NEXTEST_BIN_EXE_mlci")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_mlci").into())
}

/// The repository's root: where nextest says it is (an archive's tests run
/// against a copy of the repository), else where cargo compiled it.
pub fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

/// `mlci ARGS` in `dir`, as CI runs it (`CI=true`), with these variables:
/// what it returned, and its stdout and stderr as one text.
pub fn mlci_with(
    dir: &Path,
    env: &[(&str, &std::ffi::OsStr)],
    args: &[&str],
) -> (std::process::Output, String) {
    let output = Command::new(mlci_bin())
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// Builds the runner image `python-ml` when it is missing or out of date.
pub fn ensure_runner_image() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(mlci::images::ensure_test_image())
        .expect("the python-ml image");
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The paths under `dir` (itself included) that the user running the tests
/// does not own, so could not remove or change.
pub fn not_owned_by_me(dir: &Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != me {
            found.push(path.clone());
        }
        if meta.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    found
}

/// A git repository with the examples and one workflow of `workflows/`, as a
/// user who copied them has.
pub fn example_repo(workflow: &str) -> tempfile::TempDir {
    let source = repo_root();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&source.join("examples"), &dir.path().join("examples"));
    std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
    std::fs::copy(
        source.join("workflows").join(workflow),
        dir.path().join(".github/workflows").join(workflow),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".gitignore"),
        "data/\nmodel/\nmetrics/\n.mlci/\n.cache/\n",
    )
    .unwrap();
    for args in [
        vec!["init", "-q"],
        vec!["checkout", "-q", "-b", "main"],
        vec!["add", "-A"],
        vec!["commit", "-qm", "examples"],
    ] {
        let status = Command::new("git")
            .args(["-c", "user.email=t@t", "-c", "user.name=t"])
            .args(&args)
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

/// A command (an `mlci run`) started in the background with its output
/// going to files, for the tests that interrupt it.
pub struct Background {
    child: std::process::Child,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Background {
    /// Starts `command` with its stdout and stderr in files under `dir`.
    pub fn spawn(mut command: Command, dir: &Path) -> Background {
        let (out, err) = (dir.join("background.out"), dir.join("background.err"));
        let child = command
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Background { child, out, err }
    }

    /// Its stdout and stderr so far, as one text.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
            + &std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits until its output holds `needle`; panics when it ends first or
    /// `limit` passes.
    pub fn wait_for(&mut self, needle: &str, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while !self.output().contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "no `{needle}` within {limit:?}: {}",
                self.output()
            );
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "it ended before `{needle}`: {}",
                self.output()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Sends SIGINT, as Ctrl-C at a terminal does, and waits for the end:
    /// the exit code and the whole output.
    pub fn interrupt(mut self) -> (Option<i32>, String) {
        // SAFETY: kill(2) on the child's own pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let status = self.child.wait().unwrap();
        (status.code(), self.output())
    }
}
