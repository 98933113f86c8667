//! What a step's cache key is made of besides the content of its inputs:
//! command, shell, environment, working directory, the
//! `inputs`/`outputs`/`metrics` patterns, and the values of `params`. A part
//! that carries a secret value enters sealed (`RunCache::seal`).

use super::exec::StepExec;
use super::scope::JobScope;
use crate::cache::{CacheKey, Tree};
use crate::executor::Backend;
use crate::metrics::ParamValues;
use crate::run::mask::Masker;
use crate::run::shared::Shared;
use crate::workflow::{Spanned, Step};
use std::collections::BTreeMap;

/// Everything a step's key is made of besides the content of its inputs.
pub struct StepKeyParts {
    pub command: String,
    pub shell: String,
    pub env: BTreeMap<String, String>,
    pub workdir: String,
    /// Whether a secret value reaches the step (through its command, its
    /// environment or its working directory): its results are then checked
    /// for secrets before they are stored.
    pub sees_secret: bool,
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

/// Seals each value that carries a secret (one the masker would mask): the
/// key changes with the value, and holds nothing to guess it from.
pub fn seal_secrets(
    values: BTreeMap<String, String>,
    masker: &Masker,
    seal: impl Fn(&str) -> String,
) -> BTreeMap<String, String> {
    values
        .into_iter()
        .map(|(name, value)| {
            let value = seal_if_secret(value, masker, &seal);
            (name, value)
        })
        .collect()
}

fn seal_if_secret(value: String, masker: &Masker, seal: impl Fn(&str) -> String) -> String {
    if masker.mask(&value) == value {
        value
    } else {
        seal(&value)
    }
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
    let cache = shared.cache.as_ref().ok_or("the step cache is off")?;
    let seal = |value: &str| cache.seal(value);
    let carries = |value: &str| shared.masker.mask(value) != value;
    let sees_secret =
        carries(&command) || carries(&exec.workdir) || exec.env.values().any(|v| carries(v));
    Ok(StepKeyParts {
        command: seal_if_secret(command, &shared.masker, seal),
        shell,
        env: seal_secrets(exec.env.clone(), &shared.masker, seal),
        workdir: seal_if_secret(exec.workdir.clone(), &shared.masker, seal),
        sees_secret,
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
    fn values_that_carry_a_secret_are_sealed() {
        let env: BTreeMap<String, String> = [
            ("TOKEN".to_string(), "Bearer s3cr3t".to_string()),
            ("LR".to_string(), "0.1".to_string()),
        ]
        .into();
        let masker = Masker::new();
        masker.add("s3cr3t");
        let key = crate::cache::SecretKey::random().unwrap();
        let sealed = seal_secrets(env.clone(), &masker, |v| key.seal(v));
        assert_eq!(sealed["LR"], "0.1");
        assert!(sealed["TOKEN"].starts_with("sealed:"), "{sealed:?}");
        assert!(!sealed["TOKEN"].contains("s3cr3t"));
        // Another value, another seal; the same value, the same seal.
        let mut other = env.clone();
        other.insert("TOKEN".into(), "Bearer s3cr3u".into());
        masker.add("s3cr3u");
        assert_ne!(
            seal_secrets(other, &masker, |v| key.seal(v))["TOKEN"],
            sealed["TOKEN"]
        );
        assert_eq!(seal_secrets(env, &masker, |v| key.seal(v)), sealed);
    }
}
