//! One call of an action and the action it resolved to: the calling step's
//! `with:` and environment, where the action's files are, its declared
//! inputs with their defaults, and the scope its own expressions see.

use super::manifest;
use crate::executor::Backend;
use crate::expr::{Object, Value};
use crate::run::defaults;
use crate::run::step::{JobScope, StepCtx};
use crate::workflow::Step;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
pub(super) struct Located {
    /// On the host (for `action.yml`, Dockerfiles).
    pub(super) host: PathBuf,
    /// In the job container, once staged (`github.action_path`).
    pub(super) container: String,
    /// `github.action_repository` / `GITHUB_ACTION_REPOSITORY`.
    pub(super) repository: String,
    /// `github.action_ref`.
    pub(super) git_ref: String,
    /// The action as the user knows it, for messages.
    pub(super) shown: String,
    /// For remote actions: the clone's root on the host and in the container.
    pub(super) stage: Option<(PathBuf, String)>,
}

/// The call of an action by a step: `with:` evaluated, `GITHUB_ACTION` named.
#[allow(clippy::too_many_arguments)]
pub(super) fn make_call<'a, B: Backend>(
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
        action: defaults::action_name(
            step.id.as_ref().map(|i| i.value.as_str()),
            Some(uses),
            index,
        ),
        with,
        env,
        depth,
    })
}

/// An action ready to run: where it is, its metadata and its inputs.
pub(super) struct ResolvedAction {
    pub(super) located: Located,
    pub(super) manifest: manifest::ActionManifest,
    /// The `inputs` context: declared defaults overlaid by `with:`.
    pub(super) inputs: Object,
}

impl ResolvedAction {
    /// `INPUT_<NAME>` variables, as GitHub's runner sets them (name upper-cased,
    /// spaces as `_`).
    pub(super) fn input_env(&self) -> BTreeMap<String, String> {
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
    pub(super) fn action_env(&self) -> BTreeMap<String, String> {
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
    pub(super) fn scope(&self, outer: &JobScope) -> JobScope {
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
pub(super) fn resolve_inputs(
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
