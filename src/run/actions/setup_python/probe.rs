//! What Pythons the job's container has: a shell script that asks every
//! interpreter it can find (`PATH`, `/usr/bin`, `/usr/local/bin`, pyenv's,
//! uv's, the tool cache), and the parsing of its answer.

use super::version::PyVersion;

/// The probe, for `sh`. One line per interpreter, tab-separated: `PY`, the
/// path it was found at, its real path, `sys.version_info`, the
/// implementation, `sys.prefix`, and the directory of its scripts.
pub const SCRIPT: &str = r#"
candidates() {
  old_ifs=$IFS; IFS=:
  for d in $PATH /usr/local/bin /usr/bin /bin; do
    for f in "$d"/python3 "$d"/python "$d"/python3.[0-9] "$d"/python3.[0-9][0-9]; do
      echo "$f"
    done
  done
  IFS=$old_ifs
  for f in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3 \
           "${RUNNER_TOOL_CACHE:-/__t}"/Python/*/*/bin/python3 \
           /opt/hostedtoolcache/Python/*/*/bin/python3; do
    echo "$f"
  done
  uv=$(command -v uv 2>/dev/null || true)
  [ -z "$uv" ] && [ -x "$HOME/.local/bin/uv" ] && uv=$HOME/.local/bin/uv
  if [ -n "$uv" ]; then
    dir=$("$uv" python dir 2>/dev/null || true)
    [ -n "$dir" ] && for f in "$dir"/*/bin/python3; do echo "$f"; done
  fi
}
candidates | while read -r f; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  real=$(readlink -f "$f" 2>/dev/null || echo "$f")
  "$f" -c 'import sys, platform, sysconfig
print("PY\t%s\t%s\t%s\t%s\t%s\t%s" % (sys.argv[1], sys.argv[2], " ".join(str(x) for x in sys.version_info), platform.python_implementation(), sys.prefix, sysconfig.get_path("scripts")))' "$f" "$real" 2>/dev/null || true
done
"#;

/// One interpreter the probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub version: PyVersion,
    /// Where it was found (what `python-path` reports).
    pub path: String,
    /// `sys.prefix`: `pythonLocation`.
    pub prefix: String,
    /// Where its console scripts go (`pip install`'s `bin`).
    pub scripts: String,
}

/// The CPython interpreters in the probe's output, each real binary once, in
/// the order found (so `PATH` order decides between equal versions).
pub fn parse(output: &str) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in output.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let ["PY", path, real, version, implementation, prefix, scripts] = fields[..] else {
            continue;
        };
        if implementation != "CPython" {
            continue;
        }
        let Some(version) = PyVersion::from_version_info(version) else {
            continue;
        };
        if !seen.insert(real.to_string()) {
            continue;
        }
        found.push(Found {
            version,
            path: path.to_string(),
            prefix: prefix.to_string(),
            scripts: scripts.to_string(),
        });
    }
    found
}

/// `3.11.2 (/usr/bin/python3), 3.12.1 (/usr/local/bin/python3.12)`, or `none`.
pub fn describe(found: &[Found]) -> String {
    if found.is_empty() {
        return "none".to_string();
    }
    found
        .iter()
        .map(|f| format!("{} ({})", f.version, f.path))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binary_once_and_cpython_only() {
        let output = "PY\t/usr/bin/python3\t/usr/bin/python3.11\t3 11 2 final 0\tCPython\t/usr\t/usr/bin\n\
                      PY\t/usr/bin/python\t/usr/bin/python3.11\t3 11 2 final 0\tCPython\t/usr\t/usr/bin\n\
                      PY\t/opt/pypy/bin/python3\t/opt/pypy/bin/pypy\t3 10 13 final 0\tPyPy\t/opt/pypy\t/opt/pypy/bin\n\
                      noise\n";
        let found = parse(output);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "/usr/bin/python3");
        assert_eq!(found[0].version.to_string(), "3.11.2");
        assert_eq!(describe(&found), "3.11.2 (/usr/bin/python3)");
        assert_eq!(describe(&[]), "none");
    }
}
