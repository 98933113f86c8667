//! Reusable workflows when a workflow is loaded: each `jobs.<id>.uses`
//! resolved to its file, read and checked like any workflow, and the call
//! checked against the called file's `on.workflow_call` (inputs, their
//! types, required inputs and secrets), with cycles and GitHub's limit on
//! nesting. Every problem is reported in the file where it is, with its line
//! and column. Inlining the called jobs into the caller's is planning's work
//! (`plan::calls`).

use super::model::{InputKind, Job, JobSecrets, Trigger};
use super::{LoadedWorkflow, load};
use crate::diag::Diagnostic;
use crate::expr::Value;
use std::path::{Path, PathBuf};

/// GitHub connects at most ten levels of workflows: the top-level caller and
/// nine levels of reusable workflows.
pub const MAX_LEVELS: usize = 10;

/// What `jobs.<id>.uses` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallTarget {
    /// `./.github/workflows/train.yml`: a file of the same repository.
    Local(String),
    /// `owner/repo/.github/workflows/train.yml@ref`.
    Remote {
        owner: String,
        repo: String,
        path: String,
        git_ref: String,
    },
}

impl CallTarget {
    pub fn parse(uses: &str) -> Result<CallTarget, String> {
        let expected = "expected `./.github/workflows/FILE.yml` or `OWNER/REPO/.github/workflows/FILE.yml@REF`";
        if uses.contains("${{") {
            return Err(format!(
                "`uses` of a job cannot hold an expression; {expected}"
            ));
        }
        let in_workflows = |path: &str| {
            path.starts_with(".github/workflows/")
                && !path[".github/workflows/".len()..].contains('/')
                && (path.ends_with(".yml") || path.ends_with(".yaml"))
        };
        if let Some(path) = uses.strip_prefix("./") {
            if path.contains('@') {
                return Err(format!(
                    "a workflow of this repository takes no `@ref`: `{uses}`"
                ));
            }
            if !in_workflows(path) {
                return Err(format!(
                    "a reusable workflow is a `.yml` file directly in `.github/workflows/`; {expected}, found `{uses}`"
                ));
            }
            return Ok(CallTarget::Local(path.to_string()));
        }
        let (place, git_ref) = uses
            .rsplit_once('@')
            .filter(|(_, r)| !r.is_empty())
            .ok_or_else(|| {
                format!("{expected}, found `{uses}` (a remote workflow needs `@REF`)")
            })?;
        let mut parts = place.splitn(3, '/');
        let (owner, repo, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(o), Some(r), Some(p)) if !o.is_empty() && !r.is_empty() => (o, r, p),
            _ => return Err(format!("{expected}, found `{uses}`")),
        };
        if !in_workflows(path) {
            return Err(format!("{expected}, found `{uses}`"));
        }
        Ok(CallTarget::Remote {
            owner: owner.to_string(),
            repo: repo.to_string(),
            path: path.to_string(),
            git_ref: git_ref.to_string(),
        })
    }
}

/// Finds the file a call names. `root` is the repository of the calling
/// workflow (a remote workflow's local calls are in its own repository).
pub trait CallResolver {
    /// The file, and the root of the repository it is in.
    fn locate(&self, target: &CallTarget, root: &Path) -> Result<(PathBuf, PathBuf), String>;
}

/// The root of the repository a workflow file is in: the folder above its
/// `.github/workflows/`, else the current directory.
pub fn repository_root(workflow: &Path) -> PathBuf {
    let mut dir = workflow.parent();
    while let Some(d) = dir {
        if d.ends_with(".github/workflows") {
            return d
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_default();
        }
        dir = d.parent();
    }
    PathBuf::new()
}

/// Reads every workflow that `loaded` calls, recursively, into `loaded.called`,
/// and adds what is wrong with each call to the calling file's diagnostics.
pub fn resolve_calls(loaded: &mut LoadedWorkflow, resolver: &dyn CallResolver) {
    let root = repository_root(&loaded.file.path);
    let top = identity(&loaded.file.path);
    let mut stack = vec![top];
    resolve(loaded, resolver, &root, &mut stack);
}

fn identity(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn resolve(
    loaded: &mut LoadedWorkflow,
    resolver: &dyn CallResolver,
    root: &Path,
    stack: &mut Vec<String>,
) {
    let callers: Vec<Job> = loaded
        .workflow
        .jobs
        .iter()
        .filter(|j| j.uses.is_some())
        .cloned()
        .collect();
    for job in callers {
        let uses = job.uses.as_ref().expect("callers have `uses`");
        let error = |message: String| Diagnostic::error(uses.span, message);
        let target = match CallTarget::parse(&uses.value) {
            Ok(target) => target,
            Err(message) => {
                loaded.diagnostics.push(error(message));
                continue;
            }
        };
        if stack.len() >= MAX_LEVELS {
            loaded.diagnostics.push(error(format!(
                "`{}` would be level {} of workflows: GitHub connects at most {MAX_LEVELS} (the caller and nine levels of reusable workflows)",
                uses.value,
                stack.len() + 1
            )));
            continue;
        }
        let (path, callee_root) = match resolver.locate(&target, root) {
            Ok(found) => found,
            Err(message) => {
                loaded.diagnostics.push(error(message));
                continue;
            }
        };
        let id = identity(&path);
        if stack.contains(&id) {
            loaded.diagnostics.push(
                error(format!(
                    "`{}` calls a workflow that is already calling it: reusable workflows cannot call each other in a cycle",
                    uses.value
                ))
                .with_help(format!("the calls go {} → {}", stack.join(" → "), id)),
            );
            continue;
        }
        let mut callee = match load(&path) {
            Ok(callee) => callee,
            Err(e) => {
                loaded.diagnostics.push(error(format!(
                    "cannot read the workflow `{}` ({}): {e}",
                    uses.value,
                    path.display()
                )));
                continue;
            }
        };
        match callee.workflow.trigger("workflow_call").cloned() {
            None => loaded.diagnostics.push(
                error(format!(
                    "`{}` is not a reusable workflow: its `on` has no `workflow_call`",
                    uses.value
                ))
                .with_help(
                    "add `on: workflow_call` (with its inputs and secrets) to the called file",
                ),
            ),
            Some(trigger) => {
                let problems = check_call(&job, &uses.value, &trigger);
                loaded.diagnostics.extend(problems);
            }
        }
        stack.push(id);
        resolve(&mut callee, resolver, &callee_root, stack);
        stack.pop();
        loaded.called.push((job.id.value.clone(), callee));
    }
    loaded
        .diagnostics
        .sort_by_key(|d| (d.span.start, d.severity != crate::diag::Severity::Error));
}

/// What is wrong with a call's `with` and `secrets` against the called
/// workflow's `workflow_call`.
fn check_call(job: &Job, uses: &str, trigger: &Trigger) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let declared = &trigger.filters.inputs;
    let span = job.uses.as_ref().map(|u| u.span).unwrap_or(job.id.span);
    let names = |list: Vec<&str>| {
        if list.is_empty() {
            "none".to_string()
        } else {
            list.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    for (name, value) in &job.with {
        let Some(input) = declared
            .iter()
            .find(|i| i.name.value.eq_ignore_ascii_case(name))
        else {
            problems.push(Diagnostic::error(
                value.span,
                format!(
                    "unknown input `{name}`: `{uses}` declares {}",
                    names(declared.iter().map(|i| i.name.value.as_str()).collect())
                ),
            ));
            continue;
        };
        let is_expression = matches!(&value.value, Value::String(s) if s.contains("${{"));
        let wanted = match (input.kind, &value.value) {
            _ if is_expression => None,
            (InputKind::Boolean, Value::Bool(_)) | (InputKind::Number, Value::Number(_)) => None,
            (InputKind::Boolean, _) => Some("a boolean (true or false)"),
            (InputKind::Number, _) => Some("a number"),
            (InputKind::String, Value::Object(_) | Value::Array(_)) => Some("a string"),
            _ => None,
        };
        if let Some(wanted) = wanted {
            problems.push(Diagnostic::error(
                value.span,
                format!(
                    "input `{name}` of `{uses}` is {wanted}, found {}",
                    describe(&value.value)
                ),
            ));
        }
    }
    for input in declared {
        let given = job
            .with
            .keys()
            .any(|k| k.eq_ignore_ascii_case(&input.name.value));
        if input.required && input.default.is_none() && !given {
            problems.push(Diagnostic::error(
                span,
                format!(
                    "`{uses}` requires the input `{}`, which this job's `with` does not give",
                    input.name.value
                ),
            ));
        }
    }
    let declared_secrets = &trigger.filters.secrets;
    match &job.secrets {
        Some(JobSecrets::Inherit) => {}
        Some(JobSecrets::Map(given)) => {
            for (name, value) in given {
                if !declared_secrets
                    .iter()
                    .any(|s| s.value.eq_ignore_ascii_case(name))
                {
                    problems.push(Diagnostic::error(
                        value.span,
                        format!(
                            "unknown secret `{name}`: `{uses}` declares {}",
                            names(declared_secrets.iter().map(|s| s.value.as_str()).collect())
                        ),
                    ));
                }
            }
            for required in &trigger.filters.required_secrets {
                if !given.keys().any(|k| k.eq_ignore_ascii_case(required)) {
                    problems.push(Diagnostic::error(
                        span,
                        format!("`{uses}` requires the secret `{required}`, which this job's `secrets` does not pass"),
                    ));
                }
            }
        }
        None => {
            for required in &trigger.filters.required_secrets {
                problems.push(
                    Diagnostic::error(
                        span,
                        format!("`{uses}` requires the secret `{required}`, which this job does not pass"),
                    )
                    .with_help(format!("add `secrets: {{{required}: ${{{{ secrets.{required} }}}}}}` or `secrets: inherit`")),
                );
            }
        }
    }
    problems
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string `{s}`"),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::Null => "nothing".to_string(),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a map".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_remote_targets() {
        assert_eq!(
            CallTarget::parse("./.github/workflows/train.yml"),
            Ok(CallTarget::Local(".github/workflows/train.yml".into()))
        );
        assert_eq!(
            CallTarget::parse("octo/ml/.github/workflows/gpu.yaml@v2"),
            Ok(CallTarget::Remote {
                owner: "octo".into(),
                repo: "ml".into(),
                path: ".github/workflows/gpu.yaml".into(),
                git_ref: "v2".into()
            })
        );
        for bad in [
            "./train.yml",
            "./.github/workflows/sub/train.yml",
            "./.github/workflows/train.yml@v1",
            "octo/ml/.github/workflows/gpu.yml",
            "octo/.github/workflows/gpu.yml@v1",
            "./.github/workflows/${{ inputs.x }}.yml",
        ] {
            assert!(CallTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_root_is_above_github_workflows() {
        assert_eq!(
            repository_root(Path::new("/r/.github/workflows/ci.yml")),
            PathBuf::from("/r")
        );
        assert_eq!(
            repository_root(Path::new(".github/workflows/ci.yml")),
            PathBuf::new()
        );
        assert_eq!(repository_root(Path::new("ci.yml")), PathBuf::new());
    }
}
