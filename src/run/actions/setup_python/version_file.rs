//! `python-version-file`: the versions a project's own file asks for, read
//! as actions/setup-python reads them. Pure: the caller reads the file.
//!
//! - `pyproject.toml`: `project.requires-python`, else Poetry's
//!   `tool.poetry.dependencies.python`;
//! - `.tool-versions` (asdf): the first version on the `python` line;
//! - anything else (`.python-version`, pyenv's): one version per line,
//!   `#` comments and blank lines skipped.

/// The version requests in `text`, the contents of the file `name`; the
/// error is one sentence.
pub fn versions_in(name: &str, text: &str) -> Result<Vec<String>, String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let found: Vec<String> = if base.ends_with(".toml") {
        from_pyproject(name, text)?.into_iter().collect()
    } else if base == ".tool-versions" {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .find_map(|l| {
                let mut words = l.split_whitespace();
                (words.next() == Some("python"))
                    .then(|| words.next().map(str::to_string))
                    .flatten()
            })
            .into_iter()
            .collect()
    } else {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    if found.is_empty() {
        return Err(format!(
            "the python-version-file `{name}` names no Python version{}",
            if base.ends_with(".toml") {
                " (no `project.requires-python` or `tool.poetry.dependencies.python`)"
            } else if base == ".tool-versions" {
                " (no `python` line)"
            } else {
                ""
            }
        ));
    }
    Ok(found)
}

fn from_pyproject(name: &str, text: &str) -> Result<Option<String>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("the python-version-file `{name}` is not valid TOML: {e}"))?;
    let at = |path: &[&str]| {
        let mut value = table.get(path[0])?;
        for key in &path[1..] {
            value = value.get(key)?;
        }
        value.as_str().map(str::to_string)
    };
    Ok(at(&["project", "requires-python"])
        .or_else(|| at(&["tool", "poetry", "dependencies", "python"])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_file() {
        assert_eq!(
            versions_in(".python-version", "# pinned\n3.12.1\n\n3.11\n").unwrap(),
            ["3.12.1", "3.11"]
        );
        assert_eq!(
            versions_in(".tool-versions", "nodejs 20.1.0\npython 3.11.4 3.10.2\n").unwrap(),
            ["3.11.4"]
        );
        assert_eq!(
            versions_in(
                "pyproject.toml",
                "[project]\nname = \"x\"\nrequires-python = \">=3.10,<3.13\"\n"
            )
            .unwrap(),
            [">=3.10,<3.13"]
        );
        assert_eq!(
            versions_in(
                "sub/pyproject.toml",
                "[tool.poetry.dependencies]\npython = \"^3.11\"\n"
            )
            .unwrap(),
            ["^3.11"]
        );
    }

    #[test]
    fn files_without_a_version_say_so() {
        let err = versions_in("pyproject.toml", "[project]\nname = \"x\"\n").unwrap_err();
        assert!(err.contains("no `project.requires-python`"), "{err}");
        assert!(versions_in("pyproject.toml", "[project").is_err());
        assert!(versions_in(".python-version", "# nothing\n").is_err());
    }
}
