//! What a step's cache key is made of besides the content of its inputs:
//! command, shell, environment (secrets by name only), working directory,
//! the `inputs`/`outputs`/`metrics` patterns, and the values of `params`.

use super::exec::StepExec;
use super::scope::JobScope;
use crate::cache::{CacheKey, Tree};
use crate::executor::Backend;
use crate::metrics::ParamValues;
use crate::run::shared::Shared;
use crate::workflow::{Spanned, Step};
use std::collections::{BTreeMap, BTreeSet};

/// Everything a step's key is made of besides the content of its inputs.
pub struct StepKeyParts {
    pub command: String,
    pub shell: String,
    pub env: BTreeMap<String, String>,
    pub secret_names: BTreeSet<String>,
    pub workdir: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub metrics: Vec<String>,
    /// `params`, evaluated: file and dotted key (None: every key of the file).
    pub params: Vec<(String, Option<String>)>,
}

impl StepKeyParts {
    pub fn key(&self, image_digest: &str, inputs: Tree, params: &ParamValues) -> CacheKey {
        crate::cache::KeyInput {
            command: self.command.clone(),
            shell: self.shell.clone(),
            image_digest: image_digest.to_string(),
            env: self.env.clone(),
            secret_names: self.secret_names.clone(),
            working_directory: self.workdir.clone(),
            inputs,
            params: params.keyed.clone(),
        }
        .key()
    }

    /// What the store keeps: outputs and metrics files.
    pub fn saved_patterns(&self) -> Vec<String> {
        let mut patterns = self.outputs.clone();
        for metric in &self.metrics {
            if !patterns.contains(metric) {
                patterns.push(metric.clone());
            }
        }
        patterns
    }
}

/// Splits a step's environment into what is hashed by value and the names
/// of variables that carry a secret (hashed by name only, never by value).
pub fn split_secret_env(
    env: BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut plain = BTreeMap::new();
    let mut secret_names = BTreeSet::new();
    for (name, value) in env {
        let carries_secret = secrets
            .values()
            .any(|secret| !secret.is_empty() && value.contains(secret.as_str()));
        if carries_secret {
            secret_names.insert(name);
        } else {
            plain.insert(name, value);
        }
    }
    (plain, secret_names)
}

/// What a step with `inputs` is keyed by, besides the content of its inputs.
pub(super) fn key_parts<B: Backend>(
    shared: &Shared<B>,
    step: &Step,
    scope: &JobScope,
    exec: &StepExec,
    command: String,
    shell: String,
) -> Result<StepKeyParts, String> {
    let eval_all = |list: &[Spanned<String>], what: &str| {
        list.iter()
            .map(|p| {
                scope
                    .eval_string(&p.value)
                    .map(|p| p.trim().trim_start_matches("./").to_string())
                    .map_err(|e| format!("cannot evaluate `{what}`: {e}"))
            })
            .collect::<Result<Vec<String>, String>>()
    };
    let (env, secret_names) = split_secret_env(exec.env.clone(), &shared.options.secrets);
    Ok(StepKeyParts {
        command,
        shell,
        env,
        secret_names,
        workdir: exec.workdir.clone(),
        inputs: eval_all(&step.inputs, "inputs")?,
        outputs: eval_all(&step.outputs, "outputs")?,
        metrics: eval_all(&step.metrics, "metrics")?,
        params: step
            .params
            .iter()
            .map(|param| {
                let file = scope
                    .eval_string(&param.file.value)
                    .map_err(|e| format!("cannot evaluate `params`: {e}"))?;
                let key = match &param.key {
                    Some(key) => Some(
                        scope
                            .eval_string(&key.value)
                            .map_err(|e| format!("cannot evaluate `params`: {e}"))?,
                    ),
                    None => None,
                };
                Ok((file.trim().trim_start_matches("./").to_string(), key))
            })
            .collect::<Result<_, String>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_keyed_by_name_only() {
        let env: BTreeMap<String, String> = [
            ("TOKEN".to_string(), "Bearer s3cr3t".to_string()),
            ("LR".to_string(), "0.1".to_string()),
        ]
        .into();
        let secrets: BTreeMap<String, String> = [("API".to_string(), "s3cr3t".to_string())].into();
        let (plain, names) = split_secret_env(env, &secrets);
        assert_eq!(plain.len(), 1);
        assert!(plain.contains_key("LR"));
        assert!(names.contains("TOKEN"));
    }
}
