//! `actions/setup-python`, run natively by the `mlci` binary on the real
//! engine with the python-ml runner image: the version asked for or a
//! failure that names it, never another version quietly; the Python of
//! later steps; `python-version-file`; `cache: pip` through mlci's cache.

mod common;

use std::path::Path;

/// `mlci run wf.yml` in `dir` with its cache in `cache`.
fn run(dir: &Path, cache: &Path) -> (std::process::Output, String) {
    common::mlci_with(
        dir,
        &[("MLCI_CACHE_DIR", cache.as_os_str())],
        &["run", "wf.yml"],
    )
}

/// The version of the image's `python3` (`3.11`), as a later step sees it.
fn image_python_minor() -> String {
    let out = common::docker(&[
        "run",
        "--rm",
        "mlci/python-ml:latest",
        "python3",
        "-c",
        "import sys; print('%d.%d' % sys.version_info[:2])",
    ])
    .expect("python3 in mlci/python-ml");
    out.trim().to_string()
}

#[test]
fn a_matrix_gets_each_version_or_a_failure_that_names_it() {
    common::ensure_runner_image();
    let have = image_python_minor();
    // A version the image does not have (it has one Python, from Debian).
    let absent = if have == "3.12" { "3.13" } else { "3.12" };
    // Offline (pip cannot fetch uv), so the absent version fails at once.
    let workflow = format!(
        r#"
on: push
jobs:
  py:
    runs-on: python-ml
    env:
      PIP_NO_INDEX: "1"
    strategy:
      fail-fast: false
      matrix:
        python: ["{have}", "{absent}", "pypy3.10"]
    steps:
      - id: setup
        uses: actions/setup-python@v5
        with:
          python-version: ${{{{ matrix.python }}}}
      - run: |
          python --version
          python3 --version
          pip --version
          echo "output ${{{{ steps.setup.outputs.python-version }}}} at ${{{{ steps.setup.outputs.python-path }}}} location $pythonLocation"
"#
    );
    let dir = common::git_repo(&[("wf.yml", &workflow)]);
    let cache = tempfile::tempdir().unwrap();
    let (output, out) = run(dir.path(), cache.path());
    assert_eq!(output.status.code(), Some(1), "{out}");
    // The image's version: found, and what `python` and `python3` run later.
    let ok = format!("[py ({have})]");
    let version_lines = out
        .lines()
        .filter(|l| {
            l.strip_prefix(&format!("{ok} Python {have}."))
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
        })
        .count();
    assert_eq!(version_lines, 2, "python and python3: {out}");
    assert!(out.contains(&format!("(python {have})")), "pip: {out}");
    assert!(out.contains(&format!("{ok} output {have}.")), "{out}");
    assert!(out.contains("location /usr"), "{out}");
    // The absent version: the step fails naming it and what was found, and
    // no later step runs another Python.
    let other = format!("[py ({absent})]");
    assert!(
        !out.contains(&format!("{other} Python {have}.")),
        "ran another version quietly: {out}"
    );
    assert!(
        out.contains(&format!(
            "{other} error: step `Run actions/setup-python@v5`: Python {absent} is not in the container (Pythons found: {have}."
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "and it could not be installed: uv is not in the container and pip could not install it"
        ),
        "{out}"
    );
    assert!(
        out.contains("[py (pypy3.10)] error: step `Run actions/setup-python@v5`: `pypy3.10`: mlci's setup-python sets up CPython only"),
        "{out}"
    );
}

#[test]
fn version_files_ranges_and_a_pip_cache() {
    common::ensure_runner_image();
    let have = image_python_minor();
    let workflow = r#"
on: push
jobs:
  files:
    runs-on: python-ml
    steps:
      - id: setup
        uses: actions/setup-python@v5
        with:
          python-version-file: pyproject.toml
          cache: pip
          check-latest: true
      - run: |
          echo "hit=${{ steps.setup.outputs.cache-hit }}"
          d=$(pip cache dir)
          cat "$d/marker" 2>/dev/null || echo "no marker"
          mkdir -p "$d" && echo "a marker saved with the cache" > "$d/marker"
"#;
    let dir = common::git_repo(&[
        ("wf.yml", workflow),
        (
            "pyproject.toml",
            "[project]\nname = \"x\"\nrequires-python = \">=3.8, <4\"\n",
        ),
        ("requirements.txt", "numpy\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (output, out) = run(dir.path(), cache.path());
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("(asked for >=3.8, <4)") && out.contains(&format!("Python {have}.")),
        "{out}"
    );
    assert!(out.contains("note: check-latest is ignored"), "{out}");
    assert!(out.contains("[files] hit=false"), "{out}");
    assert!(out.contains("[files] no marker"), "{out}");
    // The job succeeded, so pip's cache was saved: the next run restores it.
    let (output, out) = run(dir.path(), cache.path());
    assert!(output.status.success(), "{out}");
    assert!(out.contains("[files] hit=true"), "{out}");
    assert!(
        out.contains("[files] a marker saved with the cache"),
        "{out}"
    );
}
