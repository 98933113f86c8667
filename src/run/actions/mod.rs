//! `uses:` — actions, resolved and run the way GitHub's runner runs them.
//!
//! A reference is one of
//!
//! - `./path`: a local action in the repository (read from the run's snapshot
//!   of it on the host, and at `$GITHUB_WORKSPACE/path` in the container);
//! - `owner/repo[/path]@ref`: a remote action, cloned once with `git` into the
//!   action cache (`$MLCI_CACHE_DIR/actions`, else `~/.cache/mlci/actions`)
//!   and used offline afterwards ([`remote`]);
//! - `docker://image`: a container image run as the step ([`docker`]);
//! - `actions/checkout`, `actions/upload-artifact`, `actions/download-artifact`
//!   at any ref: implemented here, offline ([`native`]).
//!
//! An action's `action.yml` ([`manifest`]) says how it runs: `composite`
//! ([`composite`]), `docker` ([`docker`]) or `node12|16|20|24` ([`node`]).

mod composite;
mod docker;
pub mod manifest;
mod native;
mod node;
mod remote;

use super::engine::{JobScope, StepCtx, StepState, step_env};
use crate::executor::Backend;
use crate::expr::{Object, Value};
use crate::workflow::Step;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use remote::cache_root;

/// How deep composite actions may nest (GitHub allows 9 levels).
pub const MAX_DEPTH: usize = 9;

/// Where the actions of remote repositories go inside the job container.
const ACTIONS_DIR: &str = "/__w/_actions";

/// Per-run state of actions: where artifacts and cloned actions live.
pub(crate) struct RunActions {
    /// This run's artifacts, one sub-directory per artifact name.
    pub artifacts: PathBuf,
    /// The action cache (`…/actions`).
    pub cache: PathBuf,
    /// One clone at a time within a run (other runs are kept apart by
    /// cloning into a temporary directory and renaming it into place).
    clone_lock: tokio::sync::Mutex<()>,
}

impl RunActions {
    pub fn new(run_id: &str) -> RunActions {
        let root = cache_root();
        let artifacts = std::env::var_os("MLCI_ARTIFACTS_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("artifacts"))
            .join(run_id);
        RunActions {
            artifacts,
            cache: root.join("actions"),
            clone_lock: tokio::sync::Mutex::new(()),
        }
    }
}

/// Per-job state of actions.
#[derive(Default)]
pub(crate) struct JobActions {
    /// Remote actions already copied into the job container.
    staged: BTreeSet<String>,
    /// `post` scripts of JavaScript actions, run at the end of the job in
    /// reverse order.
    pub posts: Vec<node::PostStep>,
    /// `actions/cache` saves, done at the end of a job that succeeded.
    pub cache_saves: Vec<native::CacheSave>,
}

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

    /// The native action this reference names, if any.
    fn native(&self) -> Option<native::Native> {
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

/// One call of an action: what the calling step gives it.
#[derive(Clone)]
pub(super) struct Call<'a> {
    pub step: &'a Step,
    /// The step's name as shown in logs and errors.
    pub title: String,
    /// Unique within the job: names the step's files.
    pub key: String,
    /// `GITHUB_ACTION`.
    pub action: String,
    /// `with:`, evaluated.
    pub with: BTreeMap<String, String>,
    /// The calling step's environment (workflow, job, `GITHUB_ENV`, step).
    pub env: BTreeMap<String, String>,
    pub depth: usize,
}

/// Where an action's files are.
struct Located {
    /// On the host (for `action.yml`, Dockerfiles).
    host: PathBuf,
    /// In the job container, once staged (`github.action_path`).
    container: String,
    /// `github.action_repository` / `GITHUB_ACTION_REPOSITORY`.
    repository: String,
    /// `github.action_ref`.
    git_ref: String,
    /// The action as the user knows it, for messages.
    shown: String,
    /// For remote actions: the clone's root on the host and in the container.
    stage: Option<(PathBuf, String)>,
}

/// Runs a `uses:` step of a job. Returns the outcome and the step's outputs.
pub(super) async fn run_uses<B: Backend>(
    ctx: &StepCtx<'_, B>,
    step: &Step,
    uses: &str,
    index: usize,
    scope: &JobScope,
    state: &mut StepState,
) -> (&'static str, Object) {
    let env = step_env(ctx.shared, ctx.job, step, scope, state);
    let title = step_title(step, scope);
    let call = match make_call(
        ctx,
        step,
        &title,
        format!("step_{index}"),
        uses,
        index,
        scope,
        env,
        0,
    ) {
        Ok(call) => call,
        Err(message) => {
            ctx.shared.print(ctx.name, &format!("error: {message}"));
            return ("failure", Object::new());
        }
    };
    run_action(ctx, call, uses.to_string(), scope, state).await
}

pub(super) fn step_title(step: &Step, scope: &JobScope) -> String {
    match &step.name {
        Some(n) => scope
            .eval_string(&n.value)
            .unwrap_or_else(|_| n.value.clone()),
        None => step.display_name(),
    }
}

#[allow(clippy::too_many_arguments)]
fn make_call<'a, B: Backend>(
    _ctx: &StepCtx<'_, B>,
    step: &'a Step,
    title: &str,
    key: String,
    uses: &str,
    index: usize,
    scope: &JobScope,
    env: BTreeMap<String, String>,
    depth: usize,
) -> Result<Call<'a>, String> {
    let mut with = BTreeMap::new();
    for (name, value) in &step.with {
        let text = match &value.value {
            Value::String(text) => scope.eval_string(text).map_err(|message| {
                format!("step `{title}`: cannot evaluate `with.{name}`: {message}")
            })?,
            other => other.to_display_string(),
        };
        with.insert(name.clone(), text);
    }
    Ok(Call {
        step,
        title: title.to_string(),
        key,
        action: super::defaults::action_name(
            step.id.as_ref().map(|i| i.value.as_str()),
            Some(uses),
            index,
        ),
        with,
        env,
        depth,
    })
}

/// Resolves and runs one action; boxed, as composite actions recurse.
pub(super) fn run_action<'a, B: Backend>(
    ctx: &'a StepCtx<'a, B>,
    call: Call<'a>,
    uses: String,
    scope: &'a JobScope,
    state: &'a mut StepState,
) -> Pin<Box<dyn Future<Output = (&'static str, Object)> + Send + 'a>> {
    Box::pin(async move {
        let fail = |message: String| {
            ctx.shared.print(ctx.name, &format!("error: {message}"));
            ("failure", Object::new())
        };
        if call.depth > MAX_DEPTH {
            return fail(format!(
                "step `{}`: composite actions nest deeper than {MAX_DEPTH} levels at `uses: {uses}`",
                call.title
            ));
        }
        let reference = match ActionRef::parse(&uses) {
            Ok(r) => r,
            Err(message) => return fail(format!("step `{}`: {message}", call.title)),
        };
        if let Some(native) = reference.native() {
            return native::run(ctx, &call, native, state).await;
        }
        if let ActionRef::Docker { image } = &reference {
            return docker::run_image_step(ctx, &call, image, scope, state).await;
        }
        let located = match locate(ctx, &reference).await {
            Ok(l) => l,
            Err(message) => return fail(format!("step `{}`: {message}", call.title)),
        };
        let manifest = match manifest::load(&located.host, &located.shown) {
            Ok(m) => m,
            Err(manifest::LoadError::Missing(message)) => {
                return fail(format!("step `{}`: {message}", call.title));
            }
            Err(manifest::LoadError::Invalid(message)) => {
                for line in message.lines() {
                    ctx.shared.print(ctx.name, line);
                }
                return fail(format!(
                    "step `{}`: the action {} cannot be loaded",
                    call.title, located.shown
                ));
            }
        };
        let inputs = match resolve_inputs(&manifest, &call, scope) {
            Ok(inputs) => inputs,
            Err(message) => return fail(message),
        };
        for unexpected in call.with.keys().filter(|k| {
            !manifest
                .inputs
                .iter()
                .any(|i| i.name.eq_ignore_ascii_case(k))
        }) {
            ctx.shared.print(
                ctx.name,
                &format!(
                    "warning: unexpected input `{unexpected}` for {}; its inputs are: {}",
                    located.shown,
                    manifest
                        .inputs
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        let action = ResolvedAction {
            located,
            manifest,
            inputs,
        };
        match &action.manifest.runs {
            manifest::Runs::Composite { steps } => {
                if let Err(message) = stage(ctx, &action.located, state).await {
                    return fail(format!("step `{}`: {message}", call.title));
                }
                composite::run(ctx, &call, &action, steps, scope, state).await
            }
            manifest::Runs::Docker { .. } => {
                docker::run_action(ctx, &call, &action, scope, state).await
            }
            manifest::Runs::Node { .. } => {
                if let Err(message) = stage(ctx, &action.located, state).await {
                    return fail(format!("step `{}`: {message}", call.title));
                }
                node::run(ctx, &call, &action, scope, state).await
            }
        }
    })
}

/// An action ready to run: where it is, its metadata and its inputs.
pub(super) struct ResolvedAction {
    located: Located,
    manifest: manifest::ActionManifest,
    /// The `inputs` context: declared defaults overlaid by `with:`.
    inputs: Object,
}

impl ResolvedAction {
    /// `INPUT_<NAME>` variables, as GitHub's runner sets them (name upper-cased,
    /// spaces as `_`).
    fn input_env(&self) -> BTreeMap<String, String> {
        self.inputs
            .iter()
            .map(|(k, v)| {
                (
                    format!("INPUT_{}", k.replace(' ', "_").to_ascii_uppercase()),
                    v.to_display_string(),
                )
            })
            .collect()
    }

    /// The variables that name the action.
    fn action_env(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "GITHUB_ACTION_PATH".to_string(),
                self.located.container.clone(),
            ),
            (
                "GITHUB_ACTION_REPOSITORY".to_string(),
                self.located.repository.clone(),
            ),
            (
                "GITHUB_ACTION_REF".to_string(),
                self.located.git_ref.clone(),
            ),
        ])
    }

    /// A scope for the action's own expressions: `inputs` is the action's,
    /// `github.action_path` and friends point at it.
    fn scope(&self, outer: &JobScope) -> JobScope {
        let mut contexts = outer.contexts.clone();
        contexts.insert("inputs", Value::Object(self.inputs.clone()));
        if let Some(Value::Object(github)) = contexts.get_mut("github") {
            github.insert("action_path", Value::str(&self.located.container));
            github.insert("action_repository", Value::str(&self.located.repository));
            github.insert("action_ref", Value::str(&self.located.git_ref));
        }
        JobScope {
            contexts,
            status: outer.status,
            workspace: outer.workspace.clone(),
        }
    }
}

/// Declared inputs with their defaults (evaluated in the caller's scope),
/// overlaid by `with:`. A required input without a value is an error.
fn resolve_inputs(
    manifest: &manifest::ActionManifest,
    call: &Call<'_>,
    scope: &JobScope,
) -> Result<Object, String> {
    let mut inputs = Object::new();
    for input in &manifest.inputs {
        let given = call
            .with
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&input.name))
            .map(|(_, v)| v.clone());
        let value = match (given, &input.default) {
            (Some(v), _) => v,
            (None, Some(default)) => scope.eval_string(default).map_err(|message| {
                format!(
                    "step `{}`: cannot evaluate the default of input `{}`: {message}",
                    call.title, input.name
                )
            })?,
            (None, None) if input.required => {
                return Err(format!(
                    "step `{}`: input `{}` is required by the action, give it under `with:`",
                    call.title, input.name
                ));
            }
            (None, None) => String::new(),
        };
        inputs.insert(input.name.clone(), Value::String(value));
    }
    // Inputs the action does not declare still reach it, as on GitHub.
    for (k, v) in &call.with {
        if !manifest
            .inputs
            .iter()
            .any(|i| i.name.eq_ignore_ascii_case(k))
        {
            inputs.insert(k.clone(), Value::String(v.clone()));
        }
    }
    Ok(inputs)
}

async fn locate<B: Backend>(
    ctx: &StepCtx<'_, B>,
    reference: &ActionRef,
) -> Result<Located, String> {
    match reference {
        ActionRef::Local { path } => {
            let host = if path.is_empty() {
                ctx.shared.snapshot.clone()
            } else {
                ctx.shared.snapshot.join(path)
            };
            let container = if path.is_empty() {
                ctx.workspace.to_string()
            } else {
                format!("{}/{path}", ctx.workspace)
            };
            Ok(Located {
                host,
                container,
                repository: String::new(),
                git_ref: String::new(),
                shown: format!("./{path}"),
                stage: None,
            })
        }
        ActionRef::Remote {
            owner,
            repo,
            path,
            git_ref,
        } => {
            let root = {
                let _one_at_a_time = ctx.shared.actions.clone_lock.lock().await;
                remote::fetch(&ctx.shared.actions.cache, owner, repo, git_ref).await?
            };
            let in_container = format!("{ACTIONS_DIR}/{owner}/{repo}/{git_ref}");
            let (host, container) = match path {
                Some(p) => (root.join(p), format!("{in_container}/{p}")),
                None => (root.clone(), in_container.clone()),
            };
            Ok(Located {
                host,
                container,
                repository: format!("{owner}/{repo}"),
                git_ref: git_ref.clone(),
                shown: match path {
                    Some(p) => format!("{owner}/{repo}/{p}@{git_ref}"),
                    None => format!("{owner}/{repo}@{git_ref}"),
                },
                stage: Some((root, in_container)),
            })
        }
        ActionRef::Docker { .. } => unreachable!("docker:// is run before locating"),
    }
}

/// Copies a remote action into the job container (once per job).
async fn stage<B: Backend>(
    ctx: &StepCtx<'_, B>,
    located: &Located,
    state: &mut StepState,
) -> Result<(), String> {
    use crate::executor::JobEnv;
    let Some((host, container)) = &located.stage else {
        return Ok(());
    };
    if state.actions.staged.contains(container) {
        return Ok(());
    }
    ctx.env
        .copy_in(host, container)
        .await
        .map_err(|e| e.to_string())?;
    state.actions.staged.insert(container.clone());
    Ok(())
}

/// Runs the `post` steps that actions registered, at the end of a job.
pub(super) async fn run_posts<B: Backend>(
    ctx: &StepCtx<'_, B>,
    scope: &JobScope,
    state: &mut StepState,
) {
    let posts = std::mem::take(&mut state.actions.posts);
    for post in posts.into_iter().rev() {
        node::run_post(ctx, post, scope, state).await;
    }
    // As actions/cache's post step: only when the job succeeded.
    let saves = std::mem::take(&mut state.actions.cache_saves);
    if !state.failed {
        for save in saves {
            native::save_cache(ctx, save).await;
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
