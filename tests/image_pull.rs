//! `mlci run --pull`: images of jobs, services and `docker://` steps pulled
//! from real registries (`.ci/registry-up.sh`: an open one that the engine
//! uses as its Docker Hub mirror, and one with htpasswd auth), with the
//! credentials of the workflow, of docker's config.json and of a credential
//! helper; and each failed pull as one sentence, with nothing left behind.
//!
//! No mocks: the tests push the busybox test image under the names they pull.
//! They fail, never skip, when the registries are not up.

mod common;

use common::registry::{self, AUTH, OPEN, PASSWORD};
use common::{ensure_test_image, git_repo, mlci_with, run_leftovers};
use std::ffi::OsStr;
use std::path::Path;

/// A name unique to this test process, for images and run ids.
fn unique(what: &str) -> String {
    format!("{what}-{}", std::process::id())
}

/// `mlci run` of this workflow in a new repository, with these variables
/// and arguments: (exit code, all output).
fn run_workflow(
    workflow: &str,
    env: &[(&str, &OsStr)],
    args: &[&str],
    run_id: &str,
) -> (Option<i32>, String) {
    let repo = git_repo(&[(".github/workflows/pull.yml", workflow)]);
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();
    let mut all_env: Vec<(&str, &OsStr)> = vec![("MLCI_RUN_ID", OsStr::new(run_id))];
    all_env.extend_from_slice(env);
    let mut all_args = vec!["run", "--cache-dir", &cache_dir];
    all_args.extend_from_slice(args);
    let (output, text) = mlci_with(repo.path(), &all_env, &all_args);
    assert!(!text.contains("panicked"), "{text}");
    (output.status.code(), text)
}

/// A docker configuration directory with this config.json.
fn docker_config(json: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), json).unwrap();
    dir
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn job_and_service_images_are_pulled_once_and_again_with_always() {
    registry::require_registries();
    let busybox = ensure_test_image();
    // Stand-ins for Docker Hub's python and postgres, pulled by their
    // unqualified names through the engine's mirror.
    registry::push(busybox, &format!("{OPEN}/library/python:3.12-slim"), None);
    let postgres = unique("mlci-pulltest/postgres-standin");
    registry::test_image_with_cmd(&postgres, r#"["httpd", "-f", "-p", "5432", "-h", "/www"]"#);
    registry::push(&postgres, &format!("{OPEN}/library/postgres:16"), None);
    registry::forget(&[&postgres, "python:3.12-slim", "postgres:16"]);
    let step_image = format!("{OPEN}/mlci-pulltest/step:{}", std::process::id());
    registry::push(busybox, &step_image, None);
    registry::forget(&[&step_image]);

    let workflow = format!(
        r#"on: push
jobs:
  one:
    runs-on: ubuntu-latest
    container: python:3.12-slim
    services:
      postgres:
        image: postgres:16
    steps:
      - run: wget -qO- http://postgres:5432/
      - uses: docker://{step_image}
        with:
          args: echo from the docker step
  two:
    runs-on: ubuntu-latest
    container: python:3.12-slim
    steps:
      - run: echo two ran
"#
    );
    let env = [("DOCKER_CONFIG", OsStr::new("/nonexistent"))];
    let run_id = unique("pull-once");
    let (code, text) = run_workflow(&workflow, &env, &[], &run_id);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("hello from the web service"), "{text}");
    assert!(
        text.contains("from the docker step") && text.contains("two ran"),
        "{text}"
    );
    // Two jobs, one pull.
    assert_eq!(count(&text, "pulling python:3.12-slim"), 1, "{text}");
    assert_eq!(count(&text, "pulling postgres:16"), 1, "{text}");
    assert_eq!(count(&text, &format!("pulling {step_image}")), 1, "{text}");
    assert!(registry::present("python:3.12-slim") && registry::present("postgres:16"));

    // Present now: `missing` does not pull again.
    let (code, text) = run_workflow(&workflow, &env, &[], &unique("pull-twice"));
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("pulling "), "{text}");

    // `always` pulls again, once per image.
    let (code, text) = run_workflow(
        &workflow,
        &env,
        &["--pull", "always"],
        &unique("pull-always"),
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(count(&text, "pulling python:3.12-slim"), 1, "{text}");
    assert_eq!(count(&text, "pulling postgres:16"), 1, "{text}");
    assert!(run_leftovers(&run_id).is_empty());
    // The stand-ins are busybox: nobody else should take them for Python.
    registry::forget(&[&step_image, "python:3.12-slim", "postgres:16"]);
}

/// A workflow whose job runs in `image`, with these `container:` lines.
fn private_workflow(image: &str, extra: &str) -> String {
    format!(
        r#"on: push
jobs:
  private:
    runs-on: ubuntu-latest
    container:
      image: {image}
{extra}
    steps:
      - run: echo private ran
"#
    )
}

#[test]
fn private_images_pull_with_credentials_and_fail_in_one_sentence_without() {
    registry::require_registries();
    let busybox = ensure_test_image();
    let login = registry::logged_in_config();
    let image = format!("{AUTH}/mlci-pulltest/private:{}", std::process::id());
    registry::push(busybox, &image, Some(login.path()));
    let plain = private_workflow(&image, "");
    let empty = tempfile::tempdir().unwrap();

    // No credentials: denied, exit 1, nothing left.
    registry::forget(&[&image]);
    let run_id = unique("denied");
    let (code, text) = run_workflow(
        &plain,
        &[("DOCKER_CONFIG", empty.path().as_os_str())],
        &[],
        &run_id,
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("denied the pull"), "{text}");
    assert!(
        text.contains(&format!("docker login {AUTH}")) && text.contains("container.credentials"),
        "{text}"
    );
    assert!(
        run_leftovers(&run_id).is_empty(),
        "{:?}",
        run_leftovers(&run_id)
    );

    // The workflow's credentials, from a secret: the password is never shown.
    let with_secret = private_workflow(
        &image,
        "      credentials:\n        username: mlci\n        password: ${{ secrets.REGISTRY_PASSWORD }}",
    );
    let secret = format!("REGISTRY_PASSWORD={PASSWORD}");
    let (code, text) = run_workflow(
        &with_secret,
        &[("DOCKER_CONFIG", empty.path().as_os_str())],
        &["--secret", &secret],
        &unique("secret"),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("private ran") && text.contains(&format!("pulling {image}")),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");

    // A wrong password from a secret: denied, and the secret is not in the message.
    registry::forget(&[&image]);
    let (code, text) = run_workflow(
        &with_secret,
        &[("DOCKER_CONFIG", empty.path().as_os_str())],
        &["--secret", "REGISTRY_PASSWORD=not-the-password-42"],
        &unique("wrong"),
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("denied the pull"), "{text}");
    assert!(!text.contains("not-the-password-42"), "{text}");

    // docker's config.json: `auths`.
    registry::forget(&[&image]);
    let (code, text) = run_workflow(
        &plain,
        &[("DOCKER_CONFIG", login.path().as_os_str())],
        &[],
        &unique("auths"),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("private ran"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");

    // A credential helper, given the server on stdin.
    registry::forget(&[&image]);
    let bin = tempfile::tempdir().unwrap();
    let asked = bin.path().join("asked");
    write_script(
        &bin.path().join("docker-credential-mlcitest"),
        &format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\ncat > {}\necho '{{\"ServerURL\":\"{AUTH}\",\"Username\":\"mlci\",\"Secret\":\"{PASSWORD}\"}}'\n",
            asked.display()
        ),
    );
    write_script(
        &bin.path().join("docker-credential-mlcifail"),
        "#!/bin/sh\necho 'the keychain is locked' >&2\nexit 3\n",
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let helper = docker_config(&format!(r#"{{"credHelpers": {{"{AUTH}": "mlcitest"}}}}"#));
    let (code, text) = run_workflow(
        &plain,
        &[
            ("DOCKER_CONFIG", helper.path().as_os_str()),
            ("PATH", OsStr::new(&path)),
        ],
        &[],
        &unique("helper"),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("private ran"), "{text}");
    assert_eq!(std::fs::read_to_string(&asked).unwrap().trim(), AUTH);
    assert!(!text.contains(PASSWORD), "{text}");

    // A helper that fails, as credsStore: its failure, named.
    registry::forget(&[&image]);
    let failing = docker_config(r#"{"credsStore": "mlcifail"}"#);
    let (code, text) = run_workflow(
        &plain,
        &[
            ("DOCKER_CONFIG", failing.path().as_os_str()),
            ("PATH", OsStr::new(&path)),
        ],
        &[],
        &unique("helperfail"),
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("credential helper docker-credential-mlcifail failed")
            && text.contains("keychain is locked"),
        "{text}"
    );

    // A corrupt config.json: one sentence that names the file.
    let corrupt = docker_config("{\"auths\": {\"127.0.0.1:5001\": ");
    let run_id = unique("corrupt");
    let (code, text) = run_workflow(
        &plain,
        &[("DOCKER_CONFIG", corrupt.path().as_os_str())],
        &[],
        &run_id,
    );
    assert_eq!(code, Some(1), "{text}");
    let file = corrupt.path().join("config.json");
    assert!(
        text.contains(&format!(
            "the Docker configuration {} is not valid",
            file.display()
        )),
        "{text}"
    );
    assert!(run_leftovers(&run_id).is_empty());
    registry::forget(&[&image]);
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn unknown_unreachable_and_forbidden_pulls_are_one_sentence_each() {
    registry::require_registries();
    let busybox = ensure_test_image();
    let env = [("DOCKER_CONFIG", OsStr::new("/nonexistent"))];
    let cases = [
        (
            format!("{OPEN}/mlci-pulltest/no-such-image:{}", std::process::id()),
            vec![],
            "was not found in the registry 127.0.0.1:5000",
        ),
        (
            "127.0.0.1:1/mlci-pulltest/offline:1".to_string(),
            vec![],
            "the registry 127.0.0.1:1 is unreachable (connection refused)",
        ),
        (
            "mlci-pulltest.invalid/offline:1".to_string(),
            vec![],
            "the registry mlci-pulltest.invalid is unreachable",
        ),
    ];
    for (image, args, expected) in cases {
        let run_id = unique("fails");
        let (code, text) = run_workflow(&private_workflow(&image, ""), &env, &args, &run_id);
        assert_eq!(code, Some(1), "{text}");
        assert!(text.contains(expected), "{text}");
        assert!(run_leftovers(&run_id).is_empty());
    }

    // In the registry but not here: `--pull never` refuses, naming the image.
    let image = format!("{OPEN}/mlci-pulltest/never:{}", std::process::id());
    registry::push(busybox, &image, None);
    registry::forget(&[&image]);
    let run_id = unique("never");
    let (code, text) = run_workflow(
        &private_workflow(&image, ""),
        &env,
        &["--pull", "never"],
        &run_id,
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "image `{image}` is not present locally and `--pull never` forbids pulling it"
        )),
        "{text}"
    );
    assert!(!registry::present(&image));
    assert!(run_leftovers(&run_id).is_empty());

    // A service's image too.
    let workflow = format!(
        "on: push\njobs:\n  svc:\n    runs-on: ubuntu-latest\n    container: {busybox}\n    services:\n      db:\n        image: {OPEN}/mlci-pulltest/no-db:{}\n    steps:\n      - run: echo no\n",
        std::process::id()
    );
    let run_id = unique("svc");
    let (code, text) = run_workflow(&workflow, &env, &[], &run_id);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("no-db") && text.contains("was not found"),
        "{text}"
    );
    assert!(run_leftovers(&run_id).is_empty());

    // An invalid policy is a command-line error.
    let (code, text) = run_workflow(&workflow, &env, &["--pull", "sometimes"], &unique("bad"));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("expected missing, always or never"), "{text}");
}

/// `mlci images build --base IMAGE`: the base `FROM` a registry's Debian,
/// with no debootstrap, reused when up to date. The stand-in for Debian is
/// the debootstrapped base itself (built offline first when missing), pushed
/// as `127.0.0.1:5000/library/debian:bookworm`; the base is built under a
/// tag of this test's own, so that the runner images of other tests stay.
#[test]
fn the_base_builds_from_a_registry_image_without_debootstrap() {
    use mlci::images::{self, BASE_TAG, BaseSource, Catalog, Progress};
    registry::require_registries();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if !registry::present(BASE_TAG) {
        runtime
            .block_on(images::build(
                &["base".to_string()],
                false,
                &BaseSource::new(None, true),
                &Progress::plain(),
            ))
            .expect("the debootstrapped base, to push as the registry's Debian");
    }
    let debian = format!("{OPEN}/library/debian:bookworm");
    registry::push(BASE_TAG, &debian, None);
    registry::forget(&[&debian]);

    let tag = format!("mlci-pulltest/debian:{}", std::process::id());
    let mut catalog = Catalog::builtin();
    let mut base = catalog.get("base").unwrap().clone();
    base.tag = tag.clone();
    catalog.add(base);
    let source = BaseSource::new(Some(debian.clone()), false);
    let names = ["base".to_string()];
    let docker = runtime.block_on(images::connect()).unwrap();
    let started = std::time::Instant::now();
    let built = runtime
        .block_on(catalog.build(&docker, &names, false, &source, &Progress::plain()))
        .unwrap();
    eprintln!("base from {debian}: {:.1?}", started.elapsed());
    let first = built.last().unwrap();
    assert!(!first.reused);
    assert_eq!(
        first.from.as_deref(),
        Some(debian.as_str()),
        "debootstrap ran"
    );
    let shown = common::docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "sh",
        "-c",
        "command -v curl git >/dev/null && test -f /etc/apt/apt.conf.d/90mlci && echo \"$SSL_CERT_FILE\"",
    ])
    .unwrap();
    assert_eq!(shown.trim(), "/etc/ssl/certs/ca-certificates.crt");

    // Up to date: reused, without building.
    let again = runtime
        .block_on(catalog.build(&docker, &names, false, &source, &Progress::plain()))
        .unwrap();
    let again = again.last().unwrap();
    assert!(again.reused && again.id == first.id, "{again:?}");
    let listed = runtime.block_on(catalog.status(&docker)).unwrap();
    assert!(listed.iter().any(|s| s.name == "base" && s.up_to_date));
    registry::forget(&[&tag, &debian]);
}
