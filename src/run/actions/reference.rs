//! A parsed `uses:` value: a local action, a remote one, a `docker://`
//! image, and which of them mlci implements itself.

use super::native;

/// A parsed `uses:` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionRef {
    /// `./path` (relative to the repository root; `.` is the root).
    Local { path: String },
    /// `owner/repo[/path]@ref`.
    Remote {
        owner: String,
        repo: String,
        path: Option<String>,
        git_ref: String,
    },
    /// `docker://image`.
    Docker { image: String },
}

impl ActionRef {
    /// Parses a `uses:` value; the error is one sentence.
    pub fn parse(uses: &str) -> Result<ActionRef, String> {
        let uses = uses.trim();
        let expected = "expected `./path`, `owner/repo[/path]@ref` or `docker://image`";
        if uses.is_empty() {
            return Err(format!("`uses` is empty: {expected}"));
        }
        if let Some(image) = uses.strip_prefix("docker://") {
            if image.is_empty() || image.contains(char::is_whitespace) {
                return Err(format!(
                    "`uses: {uses}` names no valid image after `docker://`"
                ));
            }
            return Ok(ActionRef::Docker {
                image: image.to_string(),
            });
        }
        if uses == "." || uses.starts_with("./") {
            let mut parts = Vec::new();
            for part in uses.split('/') {
                match part {
                    "" | "." => {}
                    ".." => {
                        return Err(format!(
                            "`uses: {uses}` leaves the repository: a local action is a directory inside it"
                        ));
                    }
                    p => parts.push(p),
                }
            }
            return Ok(ActionRef::Local {
                path: parts.join("/"),
            });
        }
        if uses.starts_with('/') || uses.starts_with("../") {
            return Err(format!(
                "`uses: {uses}` is not a valid action reference: a local action starts with `./`"
            ));
        }
        let Some((name, git_ref)) = uses.rsplit_once('@') else {
            return Err(format!(
                "`uses: {uses}` has no version: write `{uses}@v1` (a tag, branch or commit SHA), or `./{uses}` for a local action"
            ));
        };
        if git_ref.is_empty() || git_ref.contains(char::is_whitespace) {
            return Err(format!(
                "`uses: {uses}` has no valid version after `@`: {expected}"
            ));
        }
        let mut parts = name.split('/');
        let owner = parts.next().unwrap_or_default();
        let repo = parts.next().unwrap_or_default();
        let path: Vec<&str> = parts.collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(owner) || !valid(repo) {
            return Err(format!(
                "`uses: {uses}` is not a valid action reference: {expected}"
            ));
        }
        if path.iter().any(|p| p.is_empty() || *p == "..") {
            return Err(format!(
                "`uses: {uses}` has an invalid path inside the repository"
            ));
        }
        Ok(ActionRef::Remote {
            owner: owner.to_string(),
            repo: repo.to_string(),
            path: (!path.is_empty()).then(|| path.join("/")),
            git_ref: git_ref.to_string(),
        })
    }

    /// Whether this is `actions/setup-python` (at any ref), which mlci runs
    /// itself ([`super::setup_python`]).
    pub(super) fn is_setup_python(&self) -> bool {
        matches!(self, ActionRef::Remote { owner, repo, path: None, .. }
            if owner.eq_ignore_ascii_case("actions") && repo.eq_ignore_ascii_case("setup-python"))
    }

    /// The native action this reference names, if any.
    pub(super) fn native(&self) -> Option<native::Native> {
        let ActionRef::Remote {
            owner, repo, path, ..
        } = self
        else {
            return None;
        };
        if !owner.eq_ignore_ascii_case("actions") {
            return None;
        }
        if repo.eq_ignore_ascii_case("cache") {
            return match path.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => Some(native::Native::Cache {
                    restore: true,
                    save: true,
                }),
                Some("restore") => Some(native::Native::Cache {
                    restore: true,
                    save: false,
                }),
                Some("save") => Some(native::Native::Cache {
                    restore: false,
                    save: true,
                }),
                Some(_) => None,
            };
        }
        if path.is_some() {
            return None;
        }
        match repo.to_ascii_lowercase().as_str() {
            "checkout" => Some(native::Native::Checkout),
            "upload-artifact" => Some(native::Native::UploadArtifact),
            "download-artifact" => Some(native::Native::DownloadArtifact),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            ActionRef::parse("./.github/actions/x").unwrap(),
            ActionRef::Local {
                path: ".github/actions/x".into()
            }
        );
        assert_eq!(
            ActionRef::parse("octo/tools/lint@v2").unwrap(),
            ActionRef::Remote {
                owner: "octo".into(),
                repo: "tools".into(),
                path: Some("lint".into()),
                git_ref: "v2".into()
            }
        );
        assert_eq!(
            ActionRef::parse("docker://alpine:3").unwrap(),
            ActionRef::Docker {
                image: "alpine:3".into()
            }
        );
        assert!(
            ActionRef::parse("actions/checkout")
                .unwrap_err()
                .contains("has no version")
        );
        assert!(ActionRef::parse("./../x").unwrap_err().contains("leaves"));
        assert!(ActionRef::parse("a@").is_err());
        assert!(ActionRef::parse("docker://").is_err());
        assert!(ActionRef::parse("/abs/path").is_err());
        assert_eq!(
            ActionRef::parse("actions/upload-artifact@v4")
                .unwrap()
                .native(),
            Some(native::Native::UploadArtifact)
        );
    }
}
