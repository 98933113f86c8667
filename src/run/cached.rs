//! The step cache during a run: the glue between the engine and
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

use super::engine::{
    JobCacheState, JobScope, Shared, StepCtx, StepExec, StepReport, StepState, exec_step,
    is_checkout, prepare_run, step_env, step_title, workflow_name,
};
use crate::cache::tree::pattern_base;
use crate::cache::{
    CacheKey, Entry, Remote, RemoteConfig, SaveMeta, SaveOptions, StepRef, Store, Tree,
};
use crate::executor::{Backend, JobEnv, JobSpec};
use crate::expr::{Object, Status, Value};
use crate::workflow::{Job, Step, StepAction};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the command line says about the cache.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    pub dir: PathBuf,
    /// `--cache-remote s3://bucket/prefix`.
    pub remote: Option<String>,
    pub max_size: u64,
    /// False with `--no-cache`: every step runs (results are still saved,
    /// and still reach the jobs that need them).
    pub lookups: bool,
    /// `--rerun STEP`: steps that run even when their key is a hit, named by
    /// step id, step name, or `job.step`.
    pub rerun: Vec<String>,
}

/// Outputs smaller than this are copied into a container; larger ones are
/// bind-mounted read-only from the store.
pub const MOUNT_THRESHOLD: u64 = 16 * 1024 * 1024;

pub struct RunCache {
    store: Arc<Store>,
    remote: Option<Remote>,
    config: CacheConfig,
    /// Entries made or restored in this run, in order, with their job id:
    /// what the jobs after them see, and what goes to the working tree.
    produced: Mutex<Vec<(String, Entry)>>,
}

impl RunCache {
    pub fn open(config: CacheConfig) -> Result<RunCache, String> {
        let store = Store::open(&config.dir).map_err(|e| {
            format!(
                "cannot open the cache directory {}: {e}",
                config.dir.display()
            )
        })?;
        let remote = match config.remote.as_deref() {
            None => None,
            Some(url) => match Remote::connect(RemoteConfig::new(url)) {
                Ok(remote) => Some(remote),
                Err(error) => {
                    eprintln!(
                        "warning: the cache remote {url} cannot be used ({error}); continuing with the local cache"
                    );
                    None
                }
            },
        };
        // A run killed earlier may have left half-copied outputs behind.
        store.remove_stale_temp();
        Ok(RunCache {
            store: Arc::new(store),
            remote,
            config,
            produced: Mutex::new(Vec::new()),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether `--rerun` names this step.
    pub fn forced(&self, job: &str, step_id: Option<&str>, step_name: &str) -> bool {
        self.config.rerun.iter().any(|wanted| {
            Some(wanted.as_str()) == step_id
                || wanted == step_name
                || step_id.is_some_and(|id| *wanted == format!("{job}.{id}"))
        })
    }

    /// The content of a step's inputs as the step would see them: `root`
    /// (the snapshot) with `overlay` (earlier outputs) laid over it.
    pub fn inputs_tree(
        &self,
        root: &Path,
        patterns: &[String],
        overlay: &Tree,
    ) -> Result<Tree, String> {
        let below =
            Tree::from_dir(root, patterns, self.store.index()).map_err(|e| e.to_string())?;
        let above = overlay.select(patterns).map_err(|e| e.to_string())?;
        Ok(below.overlay(&above))
    }

    /// The entry of a key: local first, then the remote. None with `--no-cache`.
    pub async fn lookup(&self, key: &CacheKey) -> Option<Entry> {
        if !self.config.lookups {
            return None;
        }
        let store = self.store.clone();
        let local_key = key.clone();
        let local = tokio::task::spawn_blocking(move || store.lookup(&local_key))
            .await
            .ok()
            .flatten();
        if local.is_some() {
            return local;
        }
        match &self.remote {
            Some(remote) => remote.pull_or_warn(&self.store, key).await,
            None => None,
        }
    }

    /// Saves the outputs found under `root` (a scratch directory whose files
    /// are moved into the store), then pushes them to the remote.
    pub async fn save(
        &self,
        key: &CacheKey,
        root: PathBuf,
        patterns: Vec<String>,
        meta: SaveMeta,
    ) -> Result<Entry, String> {
        let store = self.store.clone();
        let save_key = key.clone();
        let entry = tokio::task::spawn_blocking(move || {
            store.save(
                &save_key,
                &root,
                &patterns,
                meta,
                SaveOptions {
                    move_files: true,
                    overwrite: true,
                },
            )
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if let Some(remote) = &self.remote {
            remote.push_or_warn(&self.store, key).await;
        }
        Ok(entry)
    }

    /// A read-only directory holding `entry`'s files (for copies and mounts).
    pub async fn materialize(&self, entry: &Entry) -> Result<PathBuf, String> {
        let store = self.store.clone();
        let entry = entry.clone();
        tokio::task::spawn_blocking(move || store.materialize(&entry))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Remembers an entry that this job made or restored.
    pub fn record(&self, job_id: &str, entry: Entry) {
        self.produced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((job_id.to_string(), entry));
    }

    /// The outputs of these jobs, later ones over earlier ones, as one entry
    /// (None when they made nothing).
    pub fn upstream(&self, jobs: &BTreeSet<String>) -> Option<Entry> {
        let produced = self.produced.lock().unwrap_or_else(|e| e.into_inner());
        let mut combined: Option<Entry> = None;
        for (job, entry) in produced.iter().filter(|(job, _)| jobs.contains(job)) {
            let _ = job;
            combined = Some(match combined {
                None => entry.clone(),
                Some(mut so_far) => {
                    so_far.outputs = so_far.outputs.overlay(&entry.outputs);
                    so_far
                }
            });
        }
        combined
    }

    /// The end of the run: every output made or restored is left in the
    /// working tree (files already identical are not touched), the cache is
    /// trimmed to its size cap, and the file index saved.
    pub fn finish(&self, repo: &Path) -> Vec<String> {
        let mut warnings = Vec::new();
        let produced =
            std::mem::take(&mut *self.produced.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, entry) in &produced {
            if let Err(error) = self.store.restore(entry, repo) {
                warnings.push(format!(
                    "cannot leave the outputs of {} in the working tree: {error}",
                    entry.made_by
                ));
            }
        }
        if let Err(error) = self.store.gc(self.config.max_size) {
            warnings.push(format!("cache gc: {error}"));
        }
        let _ = self.store.flush();
        warnings
    }
}

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
        let key = parts.key(&state.image_digest, inputs.clone());
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
                reports.push(report);
                cache.record(&job.id.value, *entry);
            }
        }
    }
    scope.contexts.insert("steps", Value::Object(steps_context));
    reports
}

/// Puts the outputs of the jobs this one needs into its container: large
/// top-level directories are bind-mounted read-only from the store (when the
/// repository has nothing there and no step of this job writes there); the
/// rest goes into `spec.copies`, uploaded with the workspace.
pub(super) async fn place_upstream<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    upstream: &Entry,
    workspace: &str,
    spec: &mut JobSpec,
) -> Result<(), String> {
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
    for (top, size) in top_level_sizes(&upstream.outputs) {
        let host = dir.join(&top);
        let target = format!("{workspace}/{top}");
        let mountable = size >= MOUNT_THRESHOLD
            && host.is_dir()
            && !shared.snapshot.join(&top).exists()
            && !written_here.contains(&top);
        if mountable {
            spec.volumes.push(format!("{}:{target}:ro", host.display()));
        } else {
            spec.copies.push((host, target));
        }
    }
    Ok(())
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
    let key = parts.key(&job_cache.image_digest, inputs.clone());
    let title = step_title(scope, step);
    let forced = cache.forced(
        &ctx.job.id.value,
        step.id.as_ref().map(|i| i.value.as_str()),
        &title,
    );
    if !forced && let Some(entry) = cache.lookup(&key).await {
        match restore_into_container(ctx, cache, &entry).await {
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
    let scratch = match scratch_dir(cache) {
        Ok(dir) => dir,
        Err(message) => {
            shared.print(
                name,
                &format!("warning: the step's outputs are not cached: {message}"),
            );
            return ("success", result.outputs);
        }
    };
    for base in pattern_bases(&patterns).unwrap_or_default() {
        let from = if base.is_empty() {
            ctx.workspace.to_string()
        } else {
            format!("{}/{base}", ctx.workspace)
        };
        // A missing output is reported by the save, by pattern.
        let _ = ctx.env.copy_out(&from, &scratch.path().join(&base)).await;
    }
    let meta = SaveMeta {
        made_by: step_ref(workflow_name(shared), ctx.name, &title),
        step_outputs: result
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_display_string()))
            .collect(),
        metrics: parts.metrics.clone(),
        exit_code: 0,
        duration: started.elapsed(),
    };
    match cache
        .save(&key, scratch.path().to_path_buf(), patterns, meta)
        .await
    {
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
    let scratch = scratch_dir(cache)?;
    for base in pattern_bases(patterns)? {
        let from = if base.is_empty() {
            ctx.workspace.to_string()
        } else {
            format!("{}/{base}", ctx.workspace)
        };
        let _ = ctx.env.copy_out(&from, &scratch.path().join(&base)).await;
    }
    Tree::from_dir(scratch.path(), patterns, cache.store().index()).map_err(|e| e.to_string())
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
}

impl StepKeyParts {
    pub fn key(&self, image_digest: &str, inputs: Tree) -> CacheKey {
        crate::cache::KeyInput {
            command: self.command.clone(),
            shell: self.shell.clone(),
            image_digest: image_digest.to_string(),
            env: self.env.clone(),
            secret_names: self.secret_names.clone(),
            working_directory: self.workdir.clone(),
            inputs,
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

/// A save's description of the step that made the entry.
pub fn step_ref(workflow: &str, job: &str, step: &str) -> StepRef {
    StepRef {
        workflow: workflow.to_string(),
        job: job.to_string(),
        step: step.to_string(),
    }
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
