//! The run store: every run of `mlci run`, in one SQLite file.
//!
//! The engine fills a [`RunRecord`] (plain data, no database types) and hands
//! it to [`Store::insert_run`], which writes it in one transaction. The
//! reporter reads it back with [`Store::get_run`], [`Store::list_runs`] and
//! [`Store::baseline`]. The file lives at `.mlci/runs.db` under the project
//! unless `--db` or `MLCI_DB` says otherwise.
//!
//! Two runs may write at once: the database is in WAL mode, waits on a busy
//! lock instead of failing, and every write is one `BEGIN IMMEDIATE`
//! transaction. The schema is versioned with `PRAGMA user_version`; opening
//! an older file applies the missing migrations in order.

use crate::metrics::{Metric, MetricValue, Param};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A run's id in the store (`runs.id`), shown to users as `#12`.
pub type RunId = i64;

/// The default place of the store, relative to the project.
pub const DEFAULT_DB: &str = ".mlci/runs.db";

/// What the engine knows about a run when it ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunRecord {
    /// The workflow's `name:`, else its file name; reports and comments are per workflow.
    pub workflow: String,
    /// The workflow file, relative to the project.
    pub workflow_path: String,
    /// The event that triggered the run (`push`, `pull_request`…).
    pub event: String,
    pub sha: String,
    /// `refs/heads/feature`, `refs/pull/7/merge`…
    pub git_ref: String,
    /// The branch the run is about: the head branch of a pull request, else the pushed branch.
    pub branch: Option<String>,
    /// The base branch of a pull request: where the baseline comes from.
    pub base_ref: Option<String>,
    pub pr_number: Option<u64>,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    pub finished_at: i64,
    pub result: RunResult,
    /// A link to the run (the Actions run page inside GitHub), when there is one.
    pub url: Option<String>,
    /// The workflow's `gates:`, as written (`accuracy`, `>= 0.90`).
    pub gates: Vec<GateSpec>,
    pub jobs: Vec<JobRecord>,
    /// Artifacts known to the run (inputs and outputs of steps); steps refer to them by path.
    pub artifacts: Vec<Artifact>,
}

/// A gate as written in the workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateSpec {
    pub metric: String,
    pub condition: String,
}

impl GateSpec {
    /// The gates of a parsed workflow, in the text that reports show.
    pub fn from_workflow(gates: &[crate::workflow::Gate]) -> Vec<GateSpec> {
        gates
            .iter()
            .map(|g| GateSpec {
                metric: g.metric.value.clone(),
                condition: crate::report::gates::describe(&g.condition.value),
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunResult {
    #[default]
    Success,
    Failure,
    Cancelled,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Failure => "failure",
            RunResult::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> RunResult {
        match text {
            "success" => RunResult::Success,
            "cancelled" => RunResult::Cancelled,
            _ => RunResult::Failure,
        }
    }
}

/// One job instance (one cell of a matrix).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobRecord {
    /// The job's id in the workflow (`train`).
    pub job_id: String,
    /// The name shown (`train (forest)`).
    pub name: String,
    /// The matrix values of this instance.
    pub matrix: BTreeMap<String, String>,
    /// `success`, `failure`, `cancelled` or `skipped`.
    pub result: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    /// The GPU request from `container.options` (`all`, `2`, `device=0,1`).
    pub gpu_request: Option<String>,
    /// The GPU(s) the job saw (`NVIDIA H100 80GB HBM3`), when known.
    pub gpu_name: Option<String>,
    pub steps: Vec<StepRecord>,
    /// `::error file=,line=::` and friends, for check-run annotations.
    pub annotations: Vec<AnnotationRecord>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepRecord {
    /// Position in the job, from 0.
    pub index: i64,
    pub name: String,
    /// The step's `id:`.
    pub step_id: Option<String>,
    /// `success`, `failure`, `cancelled`, `skipped`: before continue-on-error.
    pub outcome: String,
    /// After continue-on-error.
    pub conclusion: String,
    pub duration_ms: i64,
    pub cache_key: Option<String>,
    /// The step did not run: its outputs and metrics came from the cache.
    pub cache_hit: bool,
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    /// Paths of artifacts (see [`RunRecord::artifacts`]) the step read.
    pub inputs: Vec<String>,
    /// Paths of artifacts the step wrote.
    pub outputs: Vec<String>,
}

/// A file or directory with its content hash (blake3, hex).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub hash: String,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnotationRecord {
    /// `error`, `warning` or `notice`.
    pub level: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub end_line: Option<i64>,
    pub title: Option<String>,
}

/// A run read back from the store.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRun {
    pub id: RunId,
    pub record: RunRecord,
}

/// The row of `mlci runs ls`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub id: RunId,
    pub workflow: String,
    pub event: String,
    pub branch: Option<String>,
    pub sha: String,
    pub pr_number: Option<u64>,
    pub started_at: i64,
    pub finished_at: i64,
    pub result: RunResult,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the run store {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the run store {path} was written by a newer mlci (schema {found}, this one knows {known}); upgrade mlci"
    )]
    Newer {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("the run store {path} failed: {reason}")]
    Sql { path: String, reason: String },
    #[error("no run {0} in the store")]
    NoRun(String),
}

/// The store's schema, one migration per version. Append; never edit.
const MIGRATIONS: &[&str] = &[
    // 1: runs, jobs, steps, params, metrics, artifacts, lineage, gates, annotations
    r#"
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workflow TEXT NOT NULL,
        workflow_path TEXT NOT NULL,
        event TEXT NOT NULL,
        sha TEXT NOT NULL,
        git_ref TEXT NOT NULL,
        branch TEXT,
        base_ref TEXT,
        pr_number INTEGER,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        result TEXT NOT NULL,
        url TEXT
    );
    CREATE INDEX runs_by_branch ON runs (workflow, branch, result, id);
    CREATE TABLE gates (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        metric TEXT NOT NULL,
        condition TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        job_id TEXT NOT NULL,
        name TEXT NOT NULL,
        matrix TEXT NOT NULL,
        result TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        image TEXT,
        image_digest TEXT,
        gpu_request TEXT,
        gpu_name TEXT
    );
    CREATE INDEX jobs_by_run ON jobs (run_id);
    CREATE TABLE steps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        step_id TEXT,
        outcome TEXT NOT NULL,
        conclusion TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        cache_key TEXT,
        cache_hit INTEGER NOT NULL
    );
    CREATE INDEX steps_by_job ON steps (job);
    CREATE TABLE params (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER REFERENCES steps (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value TEXT NOT NULL
    );
    CREATE INDEX params_by_run ON params (run_id);
    CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER REFERENCES steps (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value REAL,
        text TEXT,
        series_step INTEGER
    );
    CREATE INDEX metrics_by_run ON metrics (run_id, name);
    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        hash TEXT NOT NULL,
        size INTEGER,
        UNIQUE (run_id, path)
    );
    CREATE INDEX artifacts_by_hash ON artifacts (hash);
    CREATE TABLE lineage (
        step INTEGER NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
        artifact INTEGER NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out'))
    );
    CREATE INDEX lineage_by_artifact ON lineage (artifact);
    CREATE TABLE annotations (
        job INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        file TEXT,
        line INTEGER,
        end_line INTEGER,
        title TEXT
    );
    "#,
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct Store {
    conn: Connection,
    path: PathBuf,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Where the store is: `--db`, else `MLCI_DB`, else `.mlci/runs.db` under `project`.
pub fn default_path(project: &Path, given: Option<&Path>) -> PathBuf {
    if let Some(path) = given {
        return path.to_path_buf();
    }
    match std::env::var_os("MLCI_DB") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => project.join(DEFAULT_DB),
    }
}

/// Whether SQLite refused because another connection holds the file.
fn busy_or_locked(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _) if matches!(
            failure.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        )
    )
}

impl Store {
    /// Opens (creating it and its directory if need be) and migrates the store.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let open_error = |reason: String| StoreError::Open {
            path: shown.clone(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| open_error(e.to_string()))?;
        // WAL lets readers go on while a run writes (the pragma answers with the mode,
        // which stays the old one where the file system cannot do WAL). Switching a fresh
        // file needs it alone for a moment, and SQLite says "database is locked" at once,
        // without the busy handler, while another process opens it too: try again for as
        // long as the busy timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let attempt = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
                .and_then(|_| {
                    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                });
            match attempt {
                Ok(()) => break,
                Err(e) if busy_or_locked(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(open_error(e.to_string())),
            }
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            secrets: Vec::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Values that must never be written: any text equal to or containing one is stored as `***`.
    pub fn set_secrets<I, S>(&mut self, secrets: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.secrets = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| !s.is_empty())
            .collect();
    }

    fn sql_error(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.display().to_string(),
            reason: error.to_string(),
        }
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql_error(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let sql = |e: rusqlite::Error| StoreError::Sql {
            path: path.clone(),
            reason: e.to_string(),
        };
        // IMMEDIATE: two processes opening a fresh file migrate one after the other.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(migration).map_err(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Writes a run in one transaction and returns its id.
    pub fn insert_run(&mut self, run: &RunRecord) -> Result<RunId, StoreError> {
        let path = self.path.display().to_string();
        let sql = |e: rusqlite::Error| StoreError::Sql {
            path: path.clone(),
            reason: e.to_string(),
        };
        let secrets = self.secrets.clone();
        let clean = |t: &str| mask_secrets(&secrets, t);
        let clean_opt = |t: &Option<String>| t.as_deref().map(|t| mask_secrets(&secrets, t));
        // IMMEDIATE takes the write lock at once: a concurrent run waits (busy_timeout)
        // instead of failing half-way through its transaction.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        tx.execute(
            "INSERT INTO runs (workflow, workflow_path, event, sha, git_ref, branch, base_ref, pr_number, started_at, finished_at, result, url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                clean(&run.workflow),
                clean(&run.workflow_path),
                clean(&run.event),
                clean(&run.sha),
                clean(&run.git_ref),
                clean_opt(&run.branch),
                clean_opt(&run.base_ref),
                run.pr_number.map(|n| n as i64),
                run.started_at,
                run.finished_at,
                run.result.as_str(),
                clean_opt(&run.url),
            ],
        )
        .map_err(sql)?;
        let run_id = tx.last_insert_rowid();
        for (position, gate) in run.gates.iter().enumerate() {
            tx.execute(
                "INSERT INTO gates (run_id, position, metric, condition) VALUES (?1, ?2, ?3, ?4)",
                params![
                    run_id,
                    position as i64,
                    clean(&gate.metric),
                    clean(&gate.condition)
                ],
            )
            .map_err(sql)?;
        }
        let mut artifact_ids: BTreeMap<&str, i64> = BTreeMap::new();
        for artifact in &run.artifacts {
            tx.execute(
                "INSERT INTO artifacts (run_id, path, hash, size) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (run_id, path) DO UPDATE SET hash = excluded.hash, size = excluded.size",
                params![
                    run_id,
                    clean(&artifact.path),
                    artifact.hash,
                    artifact.size.map(|s| s as i64)
                ],
            )
            .map_err(sql)?;
            let id: i64 = tx
                .query_row(
                    "SELECT id FROM artifacts WHERE run_id = ?1 AND path = ?2",
                    params![run_id, clean(&artifact.path)],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            artifact_ids.insert(artifact.path.as_str(), id);
        }
        for (position, job) in run.jobs.iter().enumerate() {
            let matrix = serde_json::to_string(
                &job.matrix
                    .iter()
                    .map(|(k, v)| (k.clone(), clean(v)))
                    .collect::<BTreeMap<_, _>>(),
            )
            .unwrap_or_else(|_| "{}".to_string());
            tx.execute(
                "INSERT INTO jobs (run_id, position, job_id, name, matrix, result, started_at, duration_ms, image, image_digest, gpu_request, gpu_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    run_id,
                    position as i64,
                    clean(&job.job_id),
                    clean(&job.name),
                    matrix,
                    job.result,
                    job.started_at,
                    job.duration_ms,
                    clean_opt(&job.image),
                    clean_opt(&job.image_digest),
                    clean_opt(&job.gpu_request),
                    clean_opt(&job.gpu_name),
                ],
            )
            .map_err(sql)?;
            let job_row = tx.last_insert_rowid();
            for annotation in &job.annotations {
                tx.execute(
                    "INSERT INTO annotations (job, level, message, file, line, end_line, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        job_row,
                        annotation.level,
                        clean(&annotation.message),
                        clean_opt(&annotation.file),
                        annotation.line,
                        annotation.end_line,
                        clean_opt(&annotation.title),
                    ],
                )
                .map_err(sql)?;
            }
            for step in &job.steps {
                tx.execute(
                    "INSERT INTO steps (job, idx, name, step_id, outcome, conclusion, duration_ms, cache_key, cache_hit)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        job_row,
                        step.index,
                        clean(&step.name),
                        clean_opt(&step.step_id),
                        step.outcome,
                        step.conclusion,
                        step.duration_ms,
                        clean_opt(&step.cache_key),
                        step.cache_hit,
                    ],
                )
                .map_err(sql)?;
                let step_row = tx.last_insert_rowid();
                for metric in &step.metrics {
                    let (value, text) = match &metric.value {
                        MetricValue::Number(n) => (Some(*n), None),
                        MetricValue::Text(t) => (None, Some(clean(t))),
                    };
                    tx.execute(
                        "INSERT INTO metrics (run_id, step, name, value, text, series_step) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![run_id, step_row, clean(&metric.name), value, text, metric.step],
                    )
                    .map_err(sql)?;
                }
                for param in &step.params {
                    tx.execute(
                        "INSERT INTO params (run_id, step, name, value) VALUES (?1, ?2, ?3, ?4)",
                        params![run_id, step_row, clean(&param.name), clean(&param.value)],
                    )
                    .map_err(sql)?;
                }
                for (direction, paths) in [("in", &step.inputs), ("out", &step.outputs)] {
                    for path in paths.iter() {
                        let id = match artifact_ids.get(path.as_str()) {
                            Some(id) => *id,
                            None => {
                                // A path the engine did not hash: recorded without content.
                                tx.execute(
                                    "INSERT INTO artifacts (run_id, path, hash) VALUES (?1, ?2, '')
                                     ON CONFLICT (run_id, path) DO NOTHING",
                                    params![run_id, clean(path)],
                                )
                                .map_err(sql)?;
                                tx.query_row(
                                    "SELECT id FROM artifacts WHERE run_id = ?1 AND path = ?2",
                                    params![run_id, clean(path)],
                                    |r| r.get(0),
                                )
                                .map_err(sql)?
                            }
                        };
                        tx.execute(
                            "INSERT INTO lineage (step, artifact, direction) VALUES (?1, ?2, ?3)",
                            params![step_row, id, direction],
                        )
                        .map_err(sql)?;
                    }
                }
            }
        }
        tx.commit().map_err(sql)?;
        Ok(run_id)
    }

    /// Runs, newest first.
    pub fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let mut sql = String::from(
            "SELECT id, workflow, event, branch, sha, pr_number, started_at, finished_at, result FROM runs WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(workflow) = &filter.workflow {
            sql.push_str(" AND workflow = ?");
            args.push(workflow.clone().into());
        }
        if let Some(branch) = &filter.branch {
            sql.push_str(" AND branch = ?");
            args.push(branch.clone().into());
        }
        if filter.successful_only {
            sql.push_str(" AND result = 'success'");
        }
        if let Some(before) = filter.before {
            sql.push_str(" AND id < ?");
            args.push(before.into());
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(RunSummary {
                    id: r.get(0)?,
                    workflow: r.get(1)?,
                    event: r.get(2)?,
                    branch: r.get(3)?,
                    sha: r.get(4)?,
                    pr_number: r.get::<_, Option<i64>>(5)?.map(|n| n as u64),
                    started_at: r.get(6)?,
                    finished_at: r.get(7)?,
                    result: RunResult::parse(&r.get::<_, String>(8)?),
                })
            })
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// The newest run, of one workflow when given.
    pub fn latest_run(&self, workflow: Option<&str>) -> Result<Option<RunId>, StoreError> {
        Ok(self
            .list_runs(&RunFilter {
                workflow: workflow.map(str::to_string),
                limit: Some(1),
                ..RunFilter::default()
            })?
            .first()
            .map(|r| r.id))
    }

    /// The latest successful run of `workflow` on `branch`, older than `before` when given.
    pub fn latest_successful(
        &self,
        workflow: &str,
        branch: &str,
        before: Option<RunId>,
    ) -> Result<Option<RunId>, StoreError> {
        Ok(self
            .list_runs(&RunFilter {
                workflow: Some(workflow.to_string()),
                branch: Some(branch.to_string()),
                successful_only: true,
                before,
                limit: Some(1),
            })?
            .first()
            .map(|r| r.id))
    }

    /// The baseline of a run: the latest successful run of the same workflow on
    /// `baseline_ref` when given, else on the run's pull-request base branch, else
    /// on `main`/`master` when the run is on another branch, else the previous
    /// successful run of its own branch.
    pub fn baseline(
        &self,
        run: &StoredRun,
        baseline_ref: Option<&str>,
    ) -> Result<Option<RunId>, StoreError> {
        let record = &run.record;
        let explicit = baseline_ref
            .map(branch_name)
            .or(record.base_ref.as_deref().map(branch_name));
        let candidates: Vec<&str> = match explicit {
            Some(branch) => vec![branch],
            None => {
                let own = record.branch.as_deref();
                let mut list: Vec<&str> = ["main", "master"]
                    .into_iter()
                    .filter(|b| Some(*b) != own)
                    .collect();
                if let Some(own) = own {
                    list.push(own);
                }
                list
            }
        };
        for branch in candidates {
            if let Some(id) = self.latest_successful(&record.workflow, branch, Some(run.id))? {
                return Ok(Some(id));
            }
            // A newer run on another branch is still a fine baseline.
            if Some(branch) != record.branch.as_deref()
                && let Some(id) = self.latest_successful(&record.workflow, branch, None)?
            {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Finds a run by `#12`/`12`, `latest`, a branch name, or a commit sha prefix.
    pub fn resolve(&self, spec: &str, workflow: Option<&str>) -> Result<RunId, StoreError> {
        let spec = spec.trim();
        let number = spec.strip_prefix('#').unwrap_or(spec);
        if let Ok(id) = number.parse::<RunId>() {
            let exists: Option<i64> = self
                .conn
                .query_row("SELECT id FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(|e| self.sql_error(e))?;
            return exists.ok_or_else(|| StoreError::NoRun(format!("#{id}")));
        }
        if spec == "latest" || spec.is_empty() {
            return self
                .latest_run(workflow)?
                .ok_or_else(|| StoreError::NoRun("yet".to_string()));
        }
        let branch = branch_name(spec);
        let by_branch = self.list_runs(&RunFilter {
            workflow: workflow.map(str::to_string),
            branch: Some(branch.to_string()),
            limit: Some(1),
            ..RunFilter::default()
        })?;
        if let Some(run) = by_branch.first() {
            return Ok(run.id);
        }
        if spec.len() >= 4 && spec.chars().all(|c| c.is_ascii_hexdigit()) {
            let id: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM runs WHERE sha LIKE ?1 || '%' ORDER BY id DESC LIMIT 1",
                    [spec.to_ascii_lowercase()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.sql_error(e))?;
            if let Some(id) = id {
                return Ok(id);
            }
        }
        Err(StoreError::NoRun(format!("matching `{spec}`")))
    }

    /// Reads a whole run back.
    pub fn get_run(&self, id: RunId) -> Result<StoredRun, StoreError> {
        let e = |e: rusqlite::Error| self.sql_error(e);
        let mut record = self
            .conn
            .query_row(
                "SELECT workflow, workflow_path, event, sha, git_ref, branch, base_ref, pr_number, started_at, finished_at, result, url FROM runs WHERE id = ?1",
                [id],
                |r| {
                    Ok(RunRecord {
                        workflow: r.get(0)?,
                        workflow_path: r.get(1)?,
                        event: r.get(2)?,
                        sha: r.get(3)?,
                        git_ref: r.get(4)?,
                        branch: r.get(5)?,
                        base_ref: r.get(6)?,
                        pr_number: r.get::<_, Option<i64>>(7)?.map(|n| n as u64),
                        started_at: r.get(8)?,
                        finished_at: r.get(9)?,
                        result: RunResult::parse(&r.get::<_, String>(10)?),
                        url: r.get(11)?,
                        ..RunRecord::default()
                    })
                },
            )
            .optional()
            .map_err(e)?
            .ok_or_else(|| StoreError::NoRun(format!("#{id}")))?;
        let mut gates = self
            .conn
            .prepare("SELECT metric, condition FROM gates WHERE run_id = ?1 ORDER BY position")
            .map_err(e)?;
        record.gates = gates
            .query_map([id], |r| {
                Ok(GateSpec {
                    metric: r.get(0)?,
                    condition: r.get(1)?,
                })
            })
            .map_err(e)?
            .collect::<Result<_, _>>()
            .map_err(e)?;
        let mut artifacts = self
            .conn
            .prepare("SELECT id, path, hash, size FROM artifacts WHERE run_id = ?1 ORDER BY id")
            .map_err(e)?;
        let mut artifact_paths: BTreeMap<i64, String> = BTreeMap::new();
        for row in artifacts
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Artifact {
                        path: r.get(1)?,
                        hash: r.get(2)?,
                        size: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                    },
                ))
            })
            .map_err(e)?
        {
            let (artifact_id, artifact) = row.map_err(e)?;
            artifact_paths.insert(artifact_id, artifact.path.clone());
            record.artifacts.push(artifact);
        }
        let mut jobs = self
            .conn
            .prepare(
                "SELECT id, job_id, name, matrix, result, started_at, duration_ms, image, image_digest, gpu_request, gpu_name
                 FROM jobs WHERE run_id = ?1 ORDER BY position",
            )
            .map_err(e)?;
        let job_rows: Vec<(i64, JobRecord)> = jobs
            .query_map([id], |r| {
                let matrix: String = r.get(3)?;
                Ok((
                    r.get(0)?,
                    JobRecord {
                        job_id: r.get(1)?,
                        name: r.get(2)?,
                        matrix: serde_json::from_str(&matrix).unwrap_or_default(),
                        result: r.get(4)?,
                        started_at: r.get(5)?,
                        duration_ms: r.get(6)?,
                        image: r.get(7)?,
                        image_digest: r.get(8)?,
                        gpu_request: r.get(9)?,
                        gpu_name: r.get(10)?,
                        ..JobRecord::default()
                    },
                ))
            })
            .map_err(e)?
            .collect::<Result<_, _>>()
            .map_err(e)?;
        let mut steps = self
            .conn
            .prepare(
                "SELECT id, idx, name, step_id, outcome, conclusion, duration_ms, cache_key, cache_hit FROM steps WHERE job = ?1 ORDER BY idx, id",
            )
            .map_err(e)?;
        let mut metrics = self
            .conn
            .prepare(
                "SELECT name, value, text, series_step FROM metrics WHERE step = ?1 ORDER BY rowid",
            )
            .map_err(e)?;
        let mut params = self
            .conn
            .prepare("SELECT name, value FROM params WHERE step = ?1 ORDER BY rowid")
            .map_err(e)?;
        let mut lineage = self
            .conn
            .prepare("SELECT artifact, direction FROM lineage WHERE step = ?1 ORDER BY rowid")
            .map_err(e)?;
        let mut annotations = self
            .conn
            .prepare("SELECT level, message, file, line, end_line, title FROM annotations WHERE job = ?1 ORDER BY rowid")
            .map_err(e)?;
        for (job_row, mut job) in job_rows {
            job.annotations = annotations
                .query_map([job_row], |r| {
                    Ok(AnnotationRecord {
                        level: r.get(0)?,
                        message: r.get(1)?,
                        file: r.get(2)?,
                        line: r.get(3)?,
                        end_line: r.get(4)?,
                        title: r.get(5)?,
                    })
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?;
            let step_rows: Vec<(i64, StepRecord)> = steps
                .query_map([job_row], |r| {
                    Ok((
                        r.get(0)?,
                        StepRecord {
                            index: r.get(1)?,
                            name: r.get(2)?,
                            step_id: r.get(3)?,
                            outcome: r.get(4)?,
                            conclusion: r.get(5)?,
                            duration_ms: r.get(6)?,
                            cache_key: r.get(7)?,
                            cache_hit: r.get(8)?,
                            ..StepRecord::default()
                        },
                    ))
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?;
            for (step_row, mut step) in step_rows {
                step.metrics = metrics
                    .query_map([step_row], |r| {
                        let value: Option<f64> = r.get(1)?;
                        let text: Option<String> = r.get(2)?;
                        Ok(Metric {
                            name: r.get(0)?,
                            value: match value {
                                Some(n) => MetricValue::Number(n),
                                None => MetricValue::Text(text.unwrap_or_default()),
                            },
                            step: r.get(3)?,
                        })
                    })
                    .map_err(e)?
                    .collect::<Result<_, _>>()
                    .map_err(e)?;
                step.params = params
                    .query_map([step_row], |r| {
                        Ok(Param {
                            name: r.get(0)?,
                            value: r.get(1)?,
                        })
                    })
                    .map_err(e)?
                    .collect::<Result<_, _>>()
                    .map_err(e)?;
                for row in lineage
                    .query_map([step_row], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(e)?
                {
                    let (artifact, direction) = row.map_err(e)?;
                    if let Some(path) = artifact_paths.get(&artifact) {
                        if direction == "in" {
                            step.inputs.push(path.clone());
                        } else {
                            step.outputs.push(path.clone());
                        }
                    }
                }
                job.steps.push(step);
            }
            record.jobs.push(job);
        }
        Ok(StoredRun { id, record })
    }

    /// Which runs and steps produced an artifact with this content hash (lineage).
    pub fn producers(&self, hash: &str) -> Result<Vec<(RunId, String, String)>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT a.run_id, j.name, s.name FROM artifacts a
                 JOIN lineage l ON l.artifact = a.id AND l.direction = 'out'
                 JOIN steps s ON s.id = l.step JOIN jobs j ON j.id = s.job
                 WHERE a.hash = ?1 ORDER BY a.run_id",
            )
            .map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }
}

/// `text` with every secret replaced by `***`.
fn mask_secrets(secrets: &[String], text: &str) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Which runs [`Store::list_runs`] returns.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub workflow: Option<String>,
    pub branch: Option<String>,
    pub successful_only: bool,
    /// Only runs older than this one.
    pub before: Option<RunId>,
    pub limit: Option<usize>,
}

/// What a run's event payload says about its pull request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullRequestInfo {
    pub number: Option<u64>,
    /// The PR's head branch: the run's `branch`.
    pub head_ref: Option<String>,
    /// The PR's base branch: where the baseline comes from.
    pub base_ref: Option<String>,
    /// The PR's head commit (the event's `GITHUB_SHA` is the merge commit).
    pub head_sha: Option<String>,
}

impl PullRequestInfo {
    /// From `pull_request` / `pull_request_target` payloads (and `issue_comment` on a PR).
    pub fn from_event(payload: &serde_json::Value) -> PullRequestInfo {
        let text = |pointer: &str| {
            payload
                .pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let number = payload
            .pointer("/pull_request/number")
            .and_then(serde_json::Value::as_u64)
            .or_else(|| {
                payload
                    .pointer("/issue/pull_request")
                    .and_then(|_| payload.pointer("/issue/number"))
                    .and_then(serde_json::Value::as_u64)
            });
        PullRequestInfo {
            number,
            head_ref: text("/pull_request/head/ref"),
            base_ref: text("/pull_request/base/ref"),
            head_sha: text("/pull_request/head/sha"),
        }
    }
}

/// `refs/heads/main` → `main`; other text as is.
pub fn branch_name(git_ref: &str) -> &str {
    git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref)
}

impl RunRecord {
    /// Every metric of the run with the job it came from, in record order.
    pub fn metrics(&self) -> impl Iterator<Item = (&JobRecord, &StepRecord, &Metric)> {
        self.jobs.iter().flat_map(|job| {
            job.steps
                .iter()
                .flat_map(move |step| step.metrics.iter().map(move |m| (job, step, m)))
        })
    }

    /// The run's final metric values by name. A name that more than one job
    /// instance reports is keyed `name [job name]`, one entry per instance.
    pub fn metric_values(&self) -> Vec<(String, MetricValue)> {
        let mut by_name: BTreeMap<&str, Vec<(&str, &MetricValue)>> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (job, _, metric) in self.metrics().filter(|(_, _, m)| m.step.is_none()) {
            let entry = by_name.entry(metric.name.as_str()).or_default();
            if entry.is_empty() {
                order.push(metric.name.as_str());
            }
            // A later value from the same job replaces the earlier one.
            if let Some(slot) = entry.iter_mut().find(|(j, _)| *j == job.name.as_str()) {
                slot.1 = &metric.value;
            } else {
                entry.push((job.name.as_str(), &metric.value));
            }
        }
        let mut out = Vec::new();
        for name in order {
            let entries = &by_name[name];
            if entries.len() == 1 {
                out.push((name.to_string(), entries[0].1.clone()));
            } else {
                for (job, value) in entries {
                    out.push((format!("{name} [{job}]"), (*value).clone()));
                }
            }
        }
        out
    }

    /// Series points by metric name: (step, value), sorted by step.
    pub fn series(&self) -> Vec<(String, Vec<(i64, f64)>)> {
        let mut out: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
        let multi_jobs = {
            let mut jobs_of: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
            for (job, _, metric) in self.metrics().filter(|(_, _, m)| m.step.is_some()) {
                jobs_of
                    .entry(metric.name.as_str())
                    .or_default()
                    .insert(job.name.as_str());
            }
            jobs_of
        };
        for (job, _, metric) in self.metrics() {
            let (Some(step), Some(value)) = (metric.step, metric.value.as_number()) else {
                continue;
            };
            let key = if multi_jobs
                .get(metric.name.as_str())
                .is_some_and(|s| s.len() > 1)
            {
                format!("{} [{}]", metric.name, job.name)
            } else {
                metric.name.clone()
            };
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, points)) => points.push((step, value)),
                None => out.push((key, vec![(step, value)])),
            }
        }
        for (_, points) in &mut out {
            points.sort_by_key(|(step, _)| *step);
        }
        out
    }

    /// Every param of the run (last value of a name wins).
    pub fn params(&self) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        for param in self
            .jobs
            .iter()
            .flat_map(|j| j.steps.iter().flat_map(|s| s.params.iter()))
        {
            match out.iter_mut().find(|p| p.name == param.name) {
                Some(existing) => existing.value = param.value.clone(),
                None => out.push(param.clone()),
            }
        }
        out
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// `2024-05-01 12:30:05 UTC`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_714_566_605_000), "2024-05-01 12:30:05 UTC");
    }
}
