//! `mlci images build` against the real Docker engine.
//!
//! The first run on a machine bootstraps `mlci/debian:bookworm` with debootstrap
//! (root, network to deb.debian.org) and builds `mlci/python-ml:latest`: a few
//! minutes. Later runs reuse both (well under a second).

use std::process::Command;
use std::time::Instant;

use mlci::images::{
    self, BASE_TAG, BaseSource, Catalog, HASH_LABEL, ImageDef, ImageError, ImageKind,
    PYTHON_ML_TAG, Progress,
};

/// `docker run --rm IMAGE ARGS…`, returning (success, stdout + stderr).
fn docker_run(image: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", image])
        .args(args)
        .output()
        .expect("the docker CLI runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn label_of(tag: &str) -> Option<String> {
    let docker = images::connect().await.unwrap();
    docker
        .inspect_image(tag)
        .await
        .unwrap()
        .config
        .and_then(|c| c.labels)
        .and_then(|mut l| l.remove(HASH_LABEL))
}

#[tokio::test(flavor = "multi_thread")]
async fn default_images_build_then_reuse() {
    let t = Instant::now();
    let first = images::build(&[], false, &BaseSource::default(), &Progress::plain())
        .await
        .unwrap();
    eprintln!("first build: {:.1?}", t.elapsed());
    let names: Vec<&str> = first.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["base", "python-ml"]);
    for b in &first {
        eprintln!(
            "  {} reused={} {} {} in {:.1?}",
            b.tag,
            b.reused,
            b.id,
            images::human_size(b.size),
            b.elapsed
        );
        assert_eq!(label_of(&b.tag).await.as_deref(), Some(b.hash.as_str()));
        assert_eq!(b.hash.len(), 64);
    }

    let t = Instant::now();
    let second = images::build(&[], false, &BaseSource::default(), &Progress::plain())
        .await
        .unwrap();
    let noop = t.elapsed();
    eprintln!("no-op rebuild: {noop:.2?}");
    for (a, b) in first.iter().zip(&second) {
        assert!(b.reused, "{} was rebuilt", b.tag);
        assert_eq!(a.id, b.id);
        assert_eq!(a.hash, b.hash);
    }
    assert!(noop.as_secs() < 10, "a no-op rebuild took {noop:?}");

    let list = images::list().await.unwrap();
    let ml = list.iter().find(|s| s.name == "python-ml").unwrap();
    assert!(ml.up_to_date && ml.present.is_some());
    let cuda = list.iter().find(|s| s.name == "cuda-train").unwrap();
    assert!(!cuda.default);
    eprintln!("{}", images::render_list(&list));
}

#[tokio::test(flavor = "multi_thread")]
async fn python_ml_has_the_ml_stack() {
    let tag = images::ensure_test_image().await.unwrap();
    assert_eq!(tag, PYTHON_ML_TAG);
    let (ok, out) = docker_run(
        &tag,
        &[
            "python3",
            "-c",
            "import numpy, sklearn, pandas, yaml; print('ok', numpy.__version__, sklearn.__version__)",
        ],
    );
    assert!(ok && out.starts_with("ok "), "{out}");
    let (ok, out) = docker_run(&tag, &["python", "--version"]);
    assert!(ok && out.contains("Python 3"), "{out}");
    let (ok, out) = docker_run(&tag, &["node", "--version"]);
    assert!(ok && out.starts_with('v'), "{out}");
    // The base's tools: process groups, git, curl, certificates.
    let (ok, out) = docker_run(
        BASE_TAG,
        &[
            "bash",
            "-c",
            "set -e; git --version; curl --version | head -1; ps -o pid= -p $$; sleep 30 & kill -TERM -- -$$ 2>/dev/null || kill $!; test -s /etc/ssl/certs/ca-certificates.crt; tar --version | head -1; gzip --version | head -1",
        ],
    );
    assert!(ok, "{out}");
}

fn tiny_image(dir: &std::path::Path, dockerfile: &str) -> ImageDef {
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    ImageDef::from_dir(
        "tiny",
        "mlci-test/tiny:latest",
        ImageKind::Dockerfile,
        &["base"],
        false,
        dir,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_dockerfile_changes_the_hash() {
    images::ensure_test_image().await.unwrap(); // the base exists
    let docker = images::connect().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = Catalog::builtin();
    let names = ["tiny".to_string()];

    catalog.add(tiny_image(
        dir.path(),
        "FROM mlci/debian:bookworm\nRUN echo x > /x\n",
    ));
    let a = catalog
        .build(
            &docker,
            &names,
            false,
            &BaseSource::default(),
            &Progress::plain(),
        )
        .await
        .unwrap();
    let a = a.last().unwrap();
    assert_eq!(a.name, "tiny");
    let again = catalog
        .build(
            &docker,
            &names,
            false,
            &BaseSource::default(),
            &Progress::plain(),
        )
        .await
        .unwrap();
    assert!(again.iter().all(|b| b.reused));
    assert_eq!(again.last().unwrap().id, a.id);

    catalog.add(tiny_image(
        dir.path(),
        "FROM mlci/debian:bookworm\nRUN echo y > /x\n",
    ));
    let b = catalog
        .build(
            &docker,
            &names,
            false,
            &BaseSource::default(),
            &Progress::plain(),
        )
        .await
        .unwrap();
    let b = b.last().unwrap();
    assert!(!b.reused);
    assert_ne!(a.hash, b.hash);
    assert_ne!(a.id, b.id);
    assert_eq!(
        label_of("mlci-test/tiny:latest").await,
        Some(b.hash.clone())
    );
    let (ok, out) = docker_run("mlci-test/tiny:latest", &["cat", "/x"]);
    assert!(ok && out.trim() == "y", "{out}");

    // --force rebuilds what is up to date (same hash).
    let c = catalog
        .build(
            &docker,
            &names,
            true,
            &BaseSource::default(),
            &Progress::quiet(),
        )
        .await
        .unwrap();
    let c = c.last().unwrap();
    assert!(!c.reused);
    assert_eq!(c.hash, b.hash);
    assert!(
        c.id != a.id,
        "force built the earlier content instead of the current one"
    );

    // A failing build is an error that quotes the build's last lines, and
    // leaves the previous image under the tag.
    catalog.add(tiny_image(
        dir.path(),
        "FROM mlci/debian:bookworm\nRUN echo boom-marker-1234 && exit 3\n",
    ));
    let err = catalog
        .build(
            &docker,
            &names,
            false,
            &BaseSource::default(),
            &Progress::quiet(),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImageError::Failed { .. }), "{msg}");
    assert!(
        msg.contains("building mlci-test/tiny:latest failed"),
        "{msg}"
    );
    assert!(msg.contains("boom-marker-1234"), "{msg}");
    assert_eq!(
        label_of("mlci-test/tiny:latest").await,
        Some(b.hash.clone())
    );

    let _ = Command::new("docker")
        .args(["rmi", "-f", "mlci-test/tiny:latest"])
        .output();
}

#[tokio::test]
async fn an_unknown_image_is_named_in_the_error() {
    let err = images::build(
        &["no-such-image".to_string()],
        false,
        &BaseSource::default(),
        &Progress::quiet(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown image `no-such-image`"), "{err}");
    assert!(err.contains("`python-ml`"), "{err}");
}
