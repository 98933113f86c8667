//! After a step: mlci's `register:` and `validate:` keys. The model a step
//! registers is stored in the cache at once (its workspace is gone when the
//! run ends) and becomes a registry version when the run's gates pass; the
//! datasets it validates are checked here, and a failed check fails the step.

use crate::cache::{CacheKey, MODEL_KEY_PREFIX, SaveMeta, Tree};
use crate::executor::Backend;
use crate::record::ModelCandidate;
use crate::run::cache_secrets::made_by;
use crate::run::cached::workspace_on_host;
use crate::run::report::StepReport;
use crate::run::step::{JobScope, StepCtx};
use crate::workflow::Step;
use std::path::Path;

/// Runs the step's `register` and `validate`; false when one failed (the
/// step fails, with the reason printed under the job's name).
pub(super) async fn after_step<B: Backend>(
    ctx: &StepCtx<'_, B>,
    step: &Step,
    scope: &JobScope,
    report: &mut StepReport,
) -> bool {
    if !step.reads_files_after() {
        return true;
    }
    let eval = |text: &str| scope.eval_string(text).unwrap_or_else(|_| text.to_string());
    let mut wanted: Vec<String> = Vec::new();
    if let Some(register) = &step.register {
        wanted.push(eval(&register.path.value));
    }
    for check in &step.validate {
        wanted.push(eval(&check.data.value));
        wanted.push(eval(&check.schema.value));
    }
    let (root, _scratch) = match workspace_on_host(ctx, ctx.shared.cache.as_ref(), &wanted).await {
        Ok(found) => found,
        Err(message) => {
            ctx.shared.print(ctx.name, &format!("error: {message}"));
            return false;
        }
    };
    let mut passed = true;
    for check in &step.validate {
        let data = eval(&check.data.value);
        let schema = eval(&check.schema.value);
        match super::data_checks::check(
            ctx,
            &root,
            &data,
            &schema,
            check.drift.as_ref().map(|d| d.value),
        ) {
            Ok(record) => {
                passed &= record.passed;
                // The dataset is an input of the step, for lineage.
                if !report
                    .inputs
                    .iter()
                    .any(|(path, _, _)| *path == record.path)
                {
                    let size = crate::confine::resolve(&root, &record.path, "the workspace")
                        .ok()
                        .and_then(|file| std::fs::metadata(file).ok())
                        .map_or(0, |m| m.len());
                    report
                        .inputs
                        .push((record.path.clone(), record.hash.clone(), size));
                }
                report.data_checks.push(record);
            }
            Err(message) => {
                ctx.shared.print(ctx.name, &format!("error: {message}"));
                passed = false;
            }
        }
    }
    if let Some(register) = &step.register
        && passed
    {
        let path = eval(&register.path.value);
        match store_model(ctx, &root, &path, &register.name.value, &report.name).await {
            Ok(mut candidate) => {
                if let Some(promote) = &register.promote {
                    candidate.promote_alias = Some(promote.alias.value.clone());
                    candidate.promote_if = promote.condition.as_ref().map(|c| c.value.text.clone());
                }
                ctx.shared.print(
                    ctx.name,
                    &format!(
                        "model {} from {path} ({}, {}) is a candidate: it is registered when the run's gates pass",
                        candidate.name,
                        crate::cache::format_size(candidate.size),
                        &candidate.tree_hash[..12.min(candidate.tree_hash.len())]
                    ),
                );
                report.model = Some(candidate);
            }
            Err(message) => {
                ctx.shared.print(
                    ctx.name,
                    &format!("error: cannot register {path}: {message}"),
                );
                passed = false;
            }
        }
    }
    passed
}

/// Saves the model's files as a cache entry named by their content.
async fn store_model<B: Backend>(
    ctx: &StepCtx<'_, B>,
    root: &Path,
    path: &str,
    name: &str,
    title: &str,
) -> Result<ModelCandidate, String> {
    let Some(cache) = ctx.shared.cache.as_ref() else {
        return Err("the model registry keeps models in the cache, and this run has none".into());
    };
    let pattern = path
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    let tree = Tree::from_dir(root, std::slice::from_ref(&pattern), cache.store().index())
        .map_err(|e| e.to_string())?;
    if tree.files().next().is_none() {
        return Err(format!("no file at `{path}` in the workspace"));
    }
    tree.check_links_within(&pattern)
        .map_err(|e| e.to_string())?;
    let tree_hash = tree.hash();
    let key = CacheKey::from_string(format!("{MODEL_KEY_PREFIX}{tree_hash}"));
    if cache.store().peek(&key).is_none() {
        let meta = SaveMeta {
            made_by: made_by(ctx.shared, ctx.name, title),
            ..SaveMeta::default()
        };
        cache
            .save(&key, root.to_path_buf(), vec![pattern.clone()], meta, false)
            .await?;
    }
    Ok(ModelCandidate {
        name: name.to_string(),
        path: pattern,
        tree_hash,
        entry_key: key.to_string(),
        size: tree.total_size(),
        promote_alias: None,
        promote_if: None,
    })
}
