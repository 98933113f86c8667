//! The store's schema: its migrations, one per version, applied in order.

use super::error::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

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
    // 2: where the time went, per job and for the run (`mlci run --timings`)
    r#"
    CREATE TABLE job_phases (
        job INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        phase TEXT NOT NULL,
        duration_ms INTEGER NOT NULL
    );
    CREATE INDEX job_phases_by_job ON job_phases (job);
    CREATE TABLE run_phases (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        phase TEXT NOT NULL,
        duration_ms INTEGER NOT NULL
    );
    "#,
    // 3: the model registry (candidates of runs, versions, aliases and their
    // history) and the data checks of `validate:` steps with their statistics
    r#"
    CREATE TABLE model_candidates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER REFERENCES steps (id) ON DELETE CASCADE,
        job TEXT NOT NULL,
        step_name TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        tree_hash TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        size INTEGER NOT NULL,
        promote_alias TEXT,
        promote_if TEXT,
        status TEXT NOT NULL,
        version INTEGER,
        replaces INTEGER,
        promoted INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX model_candidates_by_run ON model_candidates (run_id);
    CREATE TABLE model_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        tree_hash TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        run_id INTEGER,
        step INTEGER,
        workflow TEXT,
        job TEXT,
        step_name TEXT,
        sha TEXT,
        params TEXT NOT NULL,
        metrics TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        origin TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE INDEX model_versions_by_hash ON model_versions (tree_hash);
    CREATE TABLE model_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        set_at INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
    );
    CREATE TABLE model_alias_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        previous INTEGER,
        set_at INTEGER NOT NULL,
        run_id INTEGER,
        reason TEXT NOT NULL
    );
    CREATE TABLE dataset_checks (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER REFERENCES steps (id) ON DELETE CASCADE,
        job TEXT NOT NULL,
        path TEXT NOT NULL,
        hash TEXT NOT NULL,
        schema TEXT NOT NULL,
        passed INTEGER NOT NULL,
        failures TEXT NOT NULL,
        drift TEXT NOT NULL,
        stats TEXT
    );
    CREATE INDEX dataset_checks_by_run ON dataset_checks (run_id);
    "#,
    // 4: the process that runs a run still going (`result = 'started'`), so
    // that the next run can record one whose process was killed as `interrupted`
    r#"
    ALTER TABLE runs ADD COLUMN owner TEXT;
    "#,
    // 5: deployments of model versions (`mlci deploy`, `deploy:` steps): every
    // switch, refusal, canary, promotion, rollback and removal, oldest first
    r#"
    CREATE TABLE deployments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        target TEXT NOT NULL,
        action TEXT NOT NULL,
        result TEXT NOT NULL,
        model TEXT NOT NULL,
        version INTEGER,
        tree_hash TEXT,
        image TEXT,
        image_digest TEXT,
        url TEXT,
        previous_version INTEGER,
        canary_percent INTEGER,
        run_id INTEGER,
        sha TEXT,
        message TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL
    );
    CREATE INDEX deployments_by_name ON deployments (name, id);
    CREATE INDEX deployments_by_run ON deployments (run_id);
    "#,
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the file to [`SCHEMA_VERSION`], applying the missing migrations in order.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let path = path.display().to_string();
    let sql = |e: rusqlite::Error| StoreError::Sql {
        path: path.clone(),
        reason: e.to_string(),
    };
    // IMMEDIATE: two processes opening a fresh file migrate one after the other.
    let tx = conn
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
