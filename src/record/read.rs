//! Reading a whole run back from the store, and the lineage of an artifact.

use super::error::StoreError;
use super::gate_spec::GateSpec;
use super::model::{
    AnnotationRecord, Artifact, DataCheckRecord, JobRecord, ModelCandidate, PhaseRecord, RunId,
    RunRecord, RunResult, StepRecord, StoredRun,
};
use super::store::Store;
use crate::metrics::{Metric, MetricValue, Param};
use rusqlite::OptionalExtension;
use std::collections::BTreeMap;

impl Store {
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
        record.phases = self.phases(
            "SELECT phase, duration_ms FROM run_phases WHERE run_id = ?1 ORDER BY rowid",
            id,
        )?;
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
        let mut data_checks = self
            .conn
            .prepare("SELECT path, hash, schema, passed, failures, drift, stats FROM dataset_checks WHERE step = ?1 ORDER BY rowid")
            .map_err(e)?;
        let mut candidates = self
            .conn
            .prepare("SELECT name, path, tree_hash, entry_key, size, promote_alias, promote_if FROM model_candidates WHERE step = ?1")
            .map_err(e)?;
        for (job_row, mut job) in job_rows {
            job.phases = self.phases(
                "SELECT phase, duration_ms FROM job_phases WHERE job = ?1 ORDER BY rowid",
                job_row,
            )?;
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
                step.data_checks = data_checks
                    .query_map([step_row], |r| {
                        let failures: String = r.get(4)?;
                        let drift: String = r.get(5)?;
                        Ok(DataCheckRecord {
                            path: r.get(0)?,
                            hash: r.get(1)?,
                            schema: r.get(2)?,
                            passed: r.get(3)?,
                            failures: serde_json::from_str(&failures).unwrap_or_default(),
                            drift: serde_json::from_str(&drift).unwrap_or_default(),
                            stats: r.get(6)?,
                        })
                    })
                    .map_err(e)?
                    .collect::<Result<_, _>>()
                    .map_err(e)?;
                step.model = candidates
                    .query_row([step_row], |r| {
                        Ok(ModelCandidate {
                            name: r.get(0)?,
                            path: r.get(1)?,
                            tree_hash: r.get(2)?,
                            entry_key: r.get(3)?,
                            size: r.get::<_, i64>(4)? as u64,
                            promote_alias: r.get(5)?,
                            promote_if: r.get(6)?,
                        })
                    })
                    .optional()
                    .map_err(e)?;
                job.steps.push(step);
            }
            record.jobs.push(job);
        }
        Ok(StoredRun { id, record })
    }

    /// Which runs and steps produced an artifact with this content hash (lineage).
    /// The phase rows that `sql` selects for one run or job.
    fn phases(&self, sql: &str, owner: i64) -> Result<Vec<PhaseRecord>, StoreError> {
        let e = |e: rusqlite::Error| self.sql_error(e);
        let mut statement = self.conn.prepare(sql).map_err(e)?;
        statement
            .query_map([owner], |r| {
                Ok(PhaseRecord {
                    phase: r.get(0)?,
                    duration_ms: r.get(1)?,
                })
            })
            .map_err(e)?
            .collect::<Result<_, _>>()
            .map_err(e)
    }

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
