//! The run's handle on the step cache: the store (and its remote) opened
//! once per run, the `--rerun`/`--no-cache` switches, and the entries that
//! the run's jobs made or restored, for the jobs after them and for the
//! working tree at the end.

use crate::cache::{
    CacheKey, Entry, Remote, RemoteConfig, SaveMeta, SaveOptions, SecretKey, Store, Tree,
};
use std::collections::BTreeSet;
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

/// The step cache of one run.
pub struct RunCache {
    store: Arc<Store>,
    remote: Option<Remote>,
    config: CacheConfig,
    /// Entries made or restored in this run, in order, with their job id:
    /// what the jobs after them see, and what goes to the working tree.
    produced: Mutex<Vec<(String, Entry)>>,
    /// What killed runs left in the cache's `tmp/` that this user could not
    /// remove (their containers wrote it as root): the engine removes it.
    left_by_killed_runs: Mutex<Vec<PathBuf>>,
    /// Seals the parts of step keys that carry a secret.
    secret_key: SecretKey,
}

impl RunCache {
    pub fn open(config: CacheConfig) -> Result<RunCache, String> {
        let store = Store::open(&config.dir)
            .map(Store::deferring_syncs)
            .map_err(|e| {
                format!(
                    "cannot open the cache directory {}: {e}",
                    config.dir.display()
                )
            })?;
        let secret_key = SecretKey::load_or_create(store.dir()).map_err(|e| {
            format!(
                "cannot open the cache directory {}: its secret key: {e}",
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
        let left_by_killed_runs = Mutex::new(store.remove_stale_temp());
        Ok(RunCache {
            store: Arc::new(store),
            remote,
            config,
            produced: Mutex::new(Vec::new()),
            left_by_killed_runs,
            secret_key,
        })
    }

    /// A value that carries a secret, as it enters a step's key: sealed with
    /// this cache's secret key, so that no stored byte holds the value.
    pub fn seal(&self, value: &str) -> String {
        self.secret_key.seal(value)
    }

    /// What killed runs left that this user could not remove (once).
    pub fn take_left_by_killed_runs(&self) -> Vec<PathBuf> {
        std::mem::take(
            &mut *self
                .left_by_killed_runs
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The S3 remote, when one is configured and answered.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_ref()
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

    /// Saves the outputs found under `root`, moving its files into the store
    /// when `move_files` (a scratch directory, or a job's workspace that no
    /// step reads any more) and copying them otherwise; then pushes them to
    /// the remote.
    pub async fn save(
        &self,
        key: &CacheKey,
        root: PathBuf,
        patterns: Vec<String>,
        meta: SaveMeta,
        move_files: bool,
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
                    move_files,
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
        // What the run saved reaches the disk before the index vouches for it.
        self.store.sync_deferred();
        let _ = self.store.flush();
        warnings
    }
}
