//! The step cache during a run: the glue between the job runner and
//! [`crate::cache`].
//!
//! A step with `inputs` is keyed by its command, shell, image, environment
//! (secrets by name only), working directory and the content of its inputs.
//! Inputs are read from the host: the run's snapshot of the repository with
//! the outputs of earlier cached steps and of the jobs this one needs laid
//! over it, so that a job whose steps are all hits is decided before any
//! container starts. On a miss the step runs and its outputs are copied out
//! of the container into the store. Jobs that need this one get its outputs
//! at the same paths; at the end every output is left in the working tree.

use super::cache_secrets;
use super::report::StepReport;
use super::shared::{RunCache, Shared};
use super::step::{
    JobCacheState, JobScope, StepCtx, StepExec, StepKeyParts, StepState, exec_step, is_checkout,
    prepare_run, step_env, step_title,
};
use crate::cache::tree::pattern_base;
use crate::cache::{CacheKey, Entry, SaveMeta, Tree};
use crate::executor::{Backend, JobEnv, JobSpec};
use crate::expr::{Object, Status, Value};
use crate::metrics::{self, ParamValues};
use crate::timings::Phase;
use crate::workflow::{Job, Step, StepAction};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Outputs smaller than this are copied into a container; larger ones are
/// bind-mounted read-only from the store.
pub const MOUNT_THRESHOLD: u64 = 16 * 1024 * 1024;

/// A step of a job decided without a container.
pub(super) enum Replayed {
    Skipped {
        title: String,
        index: usize,
        id: Option<String>,
    },
    /// `actions/checkout`: the workspace already is the repository.
    Checkout {
        title: String,
        index: usize,
        id: Option<String>,
    },
    Restored {
        title: String,
        index: usize,
        id: Option<String>,
        key: CacheKey,
        entry: Box<Entry>,
        inputs: Tree,
        params: ParamValues,
    },
}

/// When every step of a job is a cache hit (or skipped by its `if`, or
/// `actions/checkout`), the job's steps as they would replay; None as soon
/// as one step has to run.
pub(super) async fn all_hits<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    scope: &mut JobScope,
    state: &JobCacheState,
    workspace: &str,
) -> Option<Vec<Replayed>> {
    let cache = shared.cache.as_ref()?;
    let mut overlay = state.overlay.clone();
    let mut steps_context = Object::new();
    let step_state = StepState::new(None);
    let mut replay = Vec::new();
    for (index, step) in job.steps.iter().enumerate() {
        // `register` and `validate` read the job's files after the step,
        // and a `deploy` always runs.
        if step.reads_files_after() || step.deploy.is_some() {
            return None;
        }
        scope.status = Status::Success;
        let env: Object = step_env(shared, job, step, scope, &step_state)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        scope.contexts.insert("env", Value::Object(env));
        scope
            .contexts
            .insert("steps", Value::Object(steps_context.clone()));
        let title = step_title(scope, step);
        let id = step.id.as_ref().map(|i| i.value.clone());
        if !scope
            .condition(step.condition.as_ref().map(|c| c.value.as_str()))
            .ok()?
        {
            record_step(&mut steps_context, id.as_deref(), Object::new(), "skipped");
            replay.push(Replayed::Skipped { title, index, id });
            continue;
        }
        if let StepAction::Uses(action) = &step.action {
            if !is_checkout(&action.value) {
                return None;
            }
            record_step(&mut steps_context, id.as_deref(), Object::new(), "success");
            replay.push(Replayed::Checkout { title, index, id });
            continue;
        }
        let prepared = prepare_run(
            shared,
            job,
            step,
            index,
            scope,
            &step_state,
            job.container.is_none(),
            workspace,
        )
        .ok()?;
        let parts = prepared.key_parts?;
        if cache.forced(&job.id.value, id.as_deref(), &title) {
            return None;
        }
        let inputs = cache
            .inputs_tree(&shared.snapshot, &parts.inputs, &overlay)
            .ok()?;
        let params = params_on_host(cache, &shared.snapshot, &overlay, &parts.params).ok()?;
        let key = parts.key(&state.image_digest, inputs.clone(), &params);
        let entry = cache.lookup(&key).await?;
        overlay = overlay.overlay(&entry.outputs);
        record_step(
            &mut steps_context,
            id.as_deref(),
            entry_outputs(&entry),
            "success",
        );
        replay.push(Replayed::Restored {
            title,
            index,
            id,
            key,
            entry: Box::new(entry),
            inputs,
            params,
        });
    }
    Some(replay)
}

/// Prints and records a job whose steps were all decided by the cache; fills
/// the `steps` context for the job's outputs. Returns the step reports.
pub(super) fn replay<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    scope: &mut JobScope,
    name: &str,
    replayed: Vec<Replayed>,
) -> Vec<StepReport> {
    let cache = shared.cache.as_ref().expect("replay needs the cache");
    let mut steps_context = Object::new();
    let mut reports = Vec::new();
    for step in replayed {
        match step {
            Replayed::Skipped { title, index, id } => {
                shared.print(name, &format!("○ {title} (skipped)"));
                record_step(&mut steps_context, id.as_deref(), Object::new(), "skipped");
                reports.push(step_report(index, id, title, "skipped"));
            }
            Replayed::Checkout { title, index, id } => {
                shared.print(name, &format!("▶ {title}"));
                record_step(&mut steps_context, id.as_deref(), Object::new(), "success");
                reports.push(step_report(index, id, title, "success"));
            }
            Replayed::Restored {
                title,
                index,
                id,
                key,
                entry,
                inputs,
                params,
            } => {
                shared.print(name, &format!("▶ {title}"));
                shared.print(name, &restored_line(&key, &entry));
                record_step(
                    &mut steps_context,
                    id.as_deref(),
                    entry_outputs(&entry),
                    "success",
                );
                let mut report = step_report(index, id, title, "success");
                fill_report(&mut report, cache, &key, true, &inputs, &entry);
                report.params = params.recorded;
                reports.push(report);
                cache.record(&job.id.value, *entry);
            }
        }
    }
    scope.contexts.insert("steps", Value::Object(steps_context));
    reports
}

/// Where one top-level path of the outputs of the jobs a job needs goes in
/// its container.
pub(super) struct Placement {
    /// The path in the store's read-only tree of those outputs.
    pub host: PathBuf,
    pub target: String,
    /// Bind-mounted read-only, rather than copied in.
    pub mount: bool,
}

impl Placement {
    /// Asks for the placement in a job's container request.
    pub fn add_to(&self, spec: &mut JobSpec) {
        if self.mount {
            spec.volumes
                .push(format!("{}:{}:ro", self.host.display(), self.target));
        } else {
            spec.copies.push((self.host.clone(), self.target.clone()));
        }
    }
}

/// Where the outputs of the jobs this one needs go in its container: large
/// top-level directories are bind-mounted read-only from the store (when the
/// repository has nothing there, no step of this job writes there, and the
/// backend can mount this machine's directories); the rest is copied in with
/// the workspace.
pub(super) async fn place_upstream<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    upstream: &Entry,
    workspace: &str,
) -> Result<Vec<Placement>, String> {
    let cache = shared
        .cache
        .as_ref()
        .expect("upstream comes from the cache");
    let dir = cache
        .materialize(upstream)
        .await
        .map_err(|e| format!("cannot prepare the outputs of the jobs it needs: {e}"))?;
    let written_here: BTreeSet<String> = job
        .steps
        .iter()
        .flat_map(|s| s.outputs.iter())
        .filter_map(|o| {
            o.value
                .trim()
                .trim_start_matches("./")
                .split('/')
                .next()
                .map(str::to_string)
        })
        .collect();
    Ok(top_level_sizes(&upstream.outputs)
        .into_iter()
        .map(|(top, size)| {
            let host = dir.join(&top);
            let mount = size >= MOUNT_THRESHOLD
                && shared.backend.mounts_local_dirs()
                && host.is_dir()
                && !shared.snapshot.join(&top).exists()
                && !written_here.contains(&top);
            Placement {
                host,
                target: format!("{workspace}/{top}"),
                mount,
            }
        })
        .collect())
}

/// A `run:` step with `inputs`, in a running job: restored on a hit, else
/// run and its outputs saved.
pub(super) async fn run_cached_step<B: Backend>(
    ctx: &StepCtx<'_, B>,
    step: &Step,
    scope: &JobScope,
    state: &mut StepState,
    exec: StepExec,
    parts: StepKeyParts,
) -> (&'static str, Object) {
    let (shared, name) = (ctx.shared, ctx.name);
    let cache = shared
        .cache
        .as_ref()
        .expect("a cached step needs the cache");
    let Some(job_cache) = state.cache.as_ref() else {
        return ("failure", Object::new());
    };
    let hash_started = std::time::Instant::now();
    let inputs = if job_cache.dirty {
        inputs_from_container(ctx, cache, &parts.inputs).await
    } else {
        cache.inputs_tree(&shared.snapshot, &parts.inputs, &job_cache.overlay)
    };
    let inputs = match inputs {
        Ok(inputs) => inputs,
        Err(message) => {
            shared.print(
                name,
                &format!("error: cannot hash the step's inputs: {message}"),
            );
            return ("failure", Object::new());
        }
    };
    let params = if job_cache.dirty {
        params_from_container(ctx, &parts.params).await
    } else {
        params_on_host(cache, &shared.snapshot, &job_cache.overlay, &parts.params)
    };
    let params = match params {
        Ok(params) => params,
        Err(message) => {
            shared.print(name, &format!("error: `params`: {message}"));
            return ("failure", Object::new());
        }
    };
    state.current.params = params.recorded.clone();
    let key = parts.key(&job_cache.image_digest, inputs.clone(), &params);
    let title = step_title(scope, step);
    let forced = cache.forced(
        &ctx.job.id.value,
        step.id.as_ref().map(|i| i.value.as_str()),
        &title,
    );
    let hit = if forced {
        None
    } else {
        cache.lookup(&key).await
    };
    state.phases.add_since(Phase::Hash, hash_started);
    if let Some(entry) = hit {
        let restore_started = std::time::Instant::now();
        let restored = restore_into_container(ctx, cache, &entry).await;
        state.phases.add_since(Phase::Restore, restore_started);
        match restored {
            Ok(()) => {
                shared.print(name, &restored_line(&key, &entry));
                let outputs = entry_outputs(&entry);
                fill_report(&mut state.current, cache, &key, true, &inputs, &entry);
                if let Some(job_cache) = state.cache.as_mut() {
                    job_cache.overlay = job_cache.overlay.overlay(&entry.outputs);
                }
                cache.record(&ctx.job.id.value, entry);
                return ("success", outputs);
            }
            Err(message) => shared.print(
                name,
                &format!("warning: cannot restore from the cache ({message}); running the step"),
            ),
        }
    }
    let started = std::time::Instant::now();
    let result = exec_step(ctx, state, exec).await;
    state.current.cache_key = Some(key.to_string());
    if !result.succeeded {
        return ("failure", result.outputs);
    }
    let patterns = parts.saved_patterns();
    // Where the outputs are read from: in place, when the workspace is on
    // the host (moved into the store when no later step of the job can see
    // them), else copied out of the container into a scratch directory.
    let mut scratch = None;
    let (root, move_files) = match ctx.env.host_path(ctx.workspace) {
        Some(root) => {
            let move_files = is_last_step(ctx.job, step);
            if move_files {
                // Files that are not mlci's user's cannot be moved into the store.
                ctx.env.hand_back_files().await;
            }
            (root, move_files)
        }
        None => {
            let dir = match scratch_dir(cache) {
                Ok(dir) => dir,
                Err(message) => {
                    shared.print(
                        name,
                        &format!("warning: the step's outputs are not cached: {message}"),
                    );
                    return ("success", result.outputs);
                }
            };
            let copy_started = std::time::Instant::now();
            for base in pattern_bases(&patterns).unwrap_or_default() {
                let from = if base.is_empty() {
                    ctx.workspace.to_string()
                } else {
                    format!("{}/{base}", ctx.workspace)
                };
                // A missing output is reported by the save, by pattern.
                let _ = ctx.env.copy_out(&from, &dir.path().join(&base)).await;
            }
            state.phases.add_since(Phase::CopyOut, copy_started);
            let root = dir.path().to_path_buf();
            scratch = Some(dir);
            (root, true)
        }
    };
    // Values derived from secrets are never cached (see `cache_secrets`).
    let files = parts
        .sees_secret
        .then(|| Tree::from_dir(&root, &patterns, cache.store().index()).ok())
        .flatten();
    let files = files.as_ref().map(|tree| (root.as_path(), tree));
    if let Some(what) = cache_secrets::secret_in_results(&shared.masker, &result.outputs, files) {
        shared.print(
            name,
            &format!("the step's result is not cached: {what} contains a secret"),
        );
        drop(scratch);
        // Its files are in the container only: later steps read theirs there.
        if let Some(job_cache) = state.cache.as_mut() {
            job_cache.dirty = true;
        }
        return ("success", result.outputs);
    }
    let meta = SaveMeta {
        made_by: cache_secrets::made_by(shared, ctx.name, &title),
        step_outputs: result
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_display_string()))
            .collect(),
        metrics: parts.metrics.clone(),
        exit_code: 0,
        duration: started.elapsed(),
    };
    let save_started = std::time::Instant::now();
    let saved = cache.save(&key, root, patterns, meta, move_files).await;
    drop(scratch);
    state.phases.add_since(Phase::Save, save_started);
    match saved {
        Ok(entry) => {
            fill_report(&mut state.current, cache, &key, false, &inputs, &entry);
            if let Some(job_cache) = state.cache.as_mut() {
                job_cache.overlay = job_cache.overlay.overlay(&entry.outputs);
            }
            cache.record(&ctx.job.id.value, entry);
            ("success", result.outputs)
        }
        Err(message) => {
            shared.print(name, &format!("error: {message}"));
            ("failure", result.outputs)
        }
    }
}

/// Whether a step is its job's last and nothing after it can read the
/// job's files: no action (`actions/cache` saves files in its `post` step).
fn is_last_step(job: &Job, step: &Step) -> bool {
    // `register` and `validate` read the step's files after it is saved.
    let last = !step.reads_files_after() && job.steps.last().is_some_and(|s| std::ptr::eq(s, step));
    let no_actions = job.steps.iter().all(|s| match &s.action {
        StepAction::Uses(uses) => is_checkout(&uses.value),
        StepAction::Run(_) => true,
    });
    last && no_actions
}

/// A scratch directory inside the cache directory, so that saved files
/// move into the store without a copy. Its name carries the process id, so
/// that what a killed run leaves there is removed by the next one.
fn scratch_dir(cache: &RunCache) -> Result<tempfile::TempDir, String> {
    let parent = cache.store().dir().join("tmp");
    std::fs::create_dir_all(&parent).map_err(|e| e.to_string())?;
    tempfile::Builder::new()
        .prefix(&format!("step.{}.", std::process::id()))
        .tempdir_in(&parent)
        .map_err(|e| e.to_string())
}

/// Inputs read from the container, for steps after one that may have
/// changed files the cache does not know of.
async fn inputs_from_container<B: Backend>(
    ctx: &StepCtx<'_, B>,
    cache: &RunCache,
    patterns: &[String],
) -> Result<Tree, String> {
    let (root, _scratch) = workspace_on_host(ctx, Some(cache), patterns).await?;
    Tree::from_dir(&root, patterns, cache.store().index()).map_err(|e| e.to_string())
}

/// Where the job's files that `patterns` name are on the host: the
/// workspace itself when the backend keeps it there, else a scratch
/// directory (returned to be held while it is read) they are copied out to.
pub(crate) async fn workspace_on_host<B: Backend>(
    ctx: &StepCtx<'_, B>,
    cache: Option<&RunCache>,
    patterns: &[String],
) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    if let Some(root) = ctx.env.host_path(ctx.workspace) {
        return Ok((root, None));
    }
    let scratch = match cache {
        Some(cache) => scratch_dir(cache)?,
        None => tempfile::Builder::new()
            .prefix(&format!("step.{}.", std::process::id()))
            .tempdir()
            .map_err(|e| e.to_string())?,
    };
    for base in pattern_bases(patterns)? {
        let from = if base.is_empty() {
            ctx.workspace.to_string()
        } else {
            format!("{}/{base}", ctx.workspace)
        };
        // A missing file is reported by whoever reads it, by name.
        let _ = ctx.env.copy_out(&from, &scratch.path().join(&base)).await;
    }
    Ok((scratch.path().to_path_buf(), Some(scratch)))
}

/// The values of a step's `params`, read on the host: the snapshot with the
/// outputs of cached steps (and needed jobs) laid over it.
fn params_on_host(
    cache: &RunCache,
    snapshot: &Path,
    overlay: &Tree,
    params: &[(String, Option<String>)],
) -> Result<ParamValues, String> {
    if params.is_empty() {
        return Ok(ParamValues::default());
    }
    metrics::select_params(params, |file| {
        let path = match overlay.get(file) {
            Some(item) => cache.store().object_path(&item.hash),
            // A committed symlink is followed only while it stays in the repository.
            None => {
                return crate::confine::read(snapshot, file, "the repository")
                    .map_err(|e| format!("cannot read `{file}`: {e}"));
            }
        };
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read `{file}`: {e}")),
        }
    })
}

/// The values of a step's `params`, read from the container, for steps
/// after one that may have changed files the cache does not know of.
async fn params_from_container<B: Backend>(
    ctx: &StepCtx<'_, B>,
    params: &[(String, Option<String>)],
) -> Result<ParamValues, String> {
    let mut files: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for (file, _) in params {
        if !files.contains_key(file) {
            let bytes = ctx
                .env
                .read_file(&format!("{}/{file}", ctx.workspace))
                .await
                .map_err(|e| e.to_string())?;
            files.insert(file.clone(), bytes);
        }
    }
    metrics::select_params(params, |file| Ok(files.get(file).cloned().flatten()))
}

async fn restore_into_container<B: Backend>(
    ctx: &StepCtx<'_, B>,
    cache: &RunCache,
    entry: &Entry,
) -> Result<(), String> {
    let dir = cache.materialize(entry).await?;
    for top in top_level_sizes(&entry.outputs).keys() {
        ctx.env
            .copy_in(&dir.join(top), &format!("{}/{top}", ctx.workspace))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn restored_line(key: &CacheKey, entry: &Entry) -> String {
    format!(
        "restored from cache (key {}, saved {:.1}s)",
        key.short(),
        entry.duration_ms as f64 / 1000.0
    )
}

fn entry_outputs(entry: &Entry) -> Object {
    entry
        .step_outputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn record_step(steps: &mut Object, id: Option<&str>, outputs: Object, outcome: &str) {
    if let Some(id) = id {
        let mut entry = Object::new();
        entry.insert("outputs", Value::Object(outputs));
        entry.insert("outcome", Value::str(outcome));
        entry.insert("conclusion", Value::str(outcome));
        steps.insert(id.to_string(), Value::Object(entry));
    }
}

fn step_report(index: usize, id: Option<String>, name: String, outcome: &str) -> StepReport {
    StepReport {
        index,
        id,
        name,
        outcome: outcome.to_string(),
        conclusion: outcome.to_string(),
        ..StepReport::default()
    }
}

/// The cache's part of a step report: key, hit, metrics, lineage.
fn fill_report(
    report: &mut StepReport,
    cache: &RunCache,
    key: &CacheKey,
    hit: bool,
    inputs: &Tree,
    entry: &Entry,
) {
    report.cache_key = Some(key.to_string());
    report.cache_hit = hit;
    report.inputs = inputs
        .entries()
        .iter()
        .map(|e| (e.path.clone(), e.hash.clone(), e.size))
        .collect();
    report.outputs = entry
        .outputs
        .entries()
        .iter()
        .filter(|e| !entry.metrics.contains(&e.path))
        .map(|e| (e.path.clone(), e.hash.clone(), e.size))
        .collect();
    report.metrics = entry
        .metrics
        .iter()
        .filter_map(|path| {
            let item = entry.outputs.get(path)?;
            let bytes = std::fs::read(cache.store().object_path(&item.hash)).ok()?;
            Some((path.clone(), bytes))
        })
        .collect();
}

/// The directories and files to copy out of a container so that every path
/// the patterns can match is there.
pub fn pattern_bases(patterns: &[String]) -> Result<Vec<String>, String> {
    let mut bases: Vec<String> = Vec::new();
    for pattern in patterns {
        let base = pattern_base(pattern).map_err(|e| e.to_string())?;
        if !bases.contains(&base) {
            bases.push(base);
        }
    }
    // A base inside another one is copied with it.
    let all = bases.clone();
    bases.retain(|b| {
        !all.iter()
            .any(|other| other != b && (other.is_empty() || b.starts_with(&format!("{other}/"))))
    });
    Ok(bases)
}

/// The first path component of each file of a tree, with the bytes under it.
pub fn top_level_sizes(tree: &Tree) -> BTreeMap<String, u64> {
    let mut sizes = BTreeMap::new();
    for item in tree.entries() {
        let top = item.path.split('/').next().unwrap_or("").to_string();
        *sizes.entry(top).or_insert(0) += item.size;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_inside_other_bases_are_dropped() {
        let patterns: Vec<String> = ["data/*.csv", "data/raw/x", "model/", "metrics.json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            pattern_bases(&patterns).unwrap(),
            vec!["data", "model", "metrics.json"]
        );
    }
}
