//! Writing a run into the store, in one transaction, with secrets masked.

use super::error::StoreError;
use super::model::{RunId, RunRecord};
use super::store::Store;
use crate::metrics::MetricValue;
use rusqlite::{TransactionBehavior, params};
use std::collections::BTreeMap;

impl Store {
    /// Writes a run in one transaction and returns its id.
    pub fn insert_run(&mut self, run: &RunRecord) -> Result<RunId, StoreError> {
        self.write_run(None, run)
    }

    /// Writes a finished run in the place of its "started" row (see
    /// [`Store::start_run`]), keeping its id.
    pub fn finish_run(&mut self, started: RunId, run: &RunRecord) -> Result<RunId, StoreError> {
        self.write_run(Some(started), run)
    }

    fn write_run(&mut self, started: Option<RunId>, run: &RunRecord) -> Result<RunId, StoreError> {
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
        if let Some(id) = started {
            tx.execute("DELETE FROM runs WHERE id = ?1", params![id])
                .map_err(sql)?;
        }
        tx.execute(
            "INSERT INTO runs (workflow, workflow_path, event, sha, git_ref, branch, base_ref, pr_number, started_at, finished_at, result, url, id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                started,
            ],
        )
        .map_err(sql)?;
        let run_id = tx.last_insert_rowid();
        for phase in &run.phases {
            tx.execute(
                "INSERT INTO run_phases (run_id, phase, duration_ms) VALUES (?1, ?2, ?3)",
                params![run_id, phase.phase, phase.duration_ms],
            )
            .map_err(sql)?;
        }
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
            for phase in &job.phases {
                tx.execute(
                    "INSERT INTO job_phases (job, phase, duration_ms) VALUES (?1, ?2, ?3)",
                    params![job_row, phase.phase, phase.duration_ms],
                )
                .map_err(sql)?;
            }
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
                if let Some(model) = &step.model {
                    tx.execute(
                        "INSERT INTO model_candidates (run_id, step, job, step_name, name, path, tree_hash, entry_key, size, promote_alias, promote_if, status, promoted, reason)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending', 0, '')",
                        params![
                            run_id,
                            step_row,
                            clean(&job.name),
                            clean(&step.name),
                            model.name,
                            clean(&model.path),
                            model.tree_hash,
                            model.entry_key,
                            model.size as i64,
                            model.promote_alias,
                            clean_opt(&model.promote_if),
                        ],
                    )
                    .map_err(sql)?;
                }
                for check in &step.data_checks {
                    let failures: Vec<String> = check.failures.iter().map(|f| clean(f)).collect();
                    tx.execute(
                        "INSERT INTO dataset_checks (run_id, step, job, path, hash, schema, passed, failures, drift, stats)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        params![
                            run_id,
                            step_row,
                            clean(&job.name),
                            clean(&check.path),
                            check.hash,
                            clean(&check.schema),
                            check.passed,
                            serde_json::to_string(&failures).unwrap_or_else(|_| "[]".into()),
                            serde_json::to_string(&check.drift).unwrap_or_else(|_| "[]".into()),
                            check.stats.as_deref().map(&clean),
                        ],
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
}

/// `text` with every secret replaced by `***`.
pub(super) fn mask_secrets(secrets: &[String], text: &str) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}
