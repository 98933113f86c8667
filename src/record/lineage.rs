//! Lineage queries: which step made an artifact, what it read, and which
//! steps read it afterwards. Artifacts are matched by content hash, so that
//! a chain crosses runs (a dataset made by one run and read by the next).

use super::error::StoreError;
use super::model::{Artifact, RunId};
use super::store::Store;
use rusqlite::OptionalExtension;

/// A step of a recorded run, where lineage passes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StepPlace {
    /// The `steps` row.
    pub step_row: i64,
    pub run_id: RunId,
    pub workflow: String,
    pub sha: String,
    /// The job instance's name (`train (forest)`).
    pub job: String,
    pub step: String,
    pub cache_hit: bool,
}

const PLACE: &str = "SELECT s.id, r.id, r.workflow, r.sha, j.name, s.name, s.cache_hit FROM steps s JOIN jobs j ON j.id = s.job JOIN runs r ON r.id = j.run_id";

fn place_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StepPlace> {
    Ok(StepPlace {
        step_row: r.get(0)?,
        run_id: r.get(1)?,
        workflow: r.get(2)?,
        sha: r.get(3)?,
        job: r.get(4)?,
        step: r.get(5)?,
        cache_hit: r.get(6)?,
    })
}

impl Store {
    pub fn step_place(&self, step_row: i64) -> Result<Option<StepPlace>, StoreError> {
        self.conn
            .query_row(&format!("{PLACE} WHERE s.id = ?1"), [step_row], place_row)
            .optional()
            .map_err(|e| self.sql_error(e))
    }

    /// The artifacts a step read (`in`) or wrote (`out`).
    pub fn step_artifacts(
        &self,
        step_row: i64,
        direction: &str,
    ) -> Result<Vec<Artifact>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT a.path, a.hash, a.size FROM lineage l JOIN artifacts a ON a.id = l.artifact
                 WHERE l.step = ?1 AND l.direction = ?2 ORDER BY a.path",
            )
            .map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map(rusqlite::params![step_row, direction], |r| {
                Ok(Artifact {
                    path: r.get(0)?,
                    hash: r.get(1)?,
                    size: r.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                })
            })
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// The step that made content `hash`: a step that ran (a cache hit only
    /// restored it), of run `prefer` when it did, else the newest.
    pub fn producer_of(
        &self,
        hash: &str,
        prefer: Option<RunId>,
    ) -> Result<Option<StepPlace>, StoreError> {
        if hash.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "{PLACE} JOIN lineage l ON l.step = s.id AND l.direction = 'out' JOIN artifacts a ON a.id = l.artifact
             WHERE a.hash = ?1 ORDER BY s.cache_hit ASC, (r.id = ?2) DESC, r.id DESC LIMIT 1"
        );
        self.conn
            .query_row(
                &sql,
                rusqlite::params![hash, prefer.unwrap_or(-1)],
                place_row,
            )
            .optional()
            .map_err(|e| self.sql_error(e))
    }

    /// The steps that read content `hash`, newest run first, one per job and step name.
    pub fn consumers_of(&self, hash: &str) -> Result<Vec<StepPlace>, StoreError> {
        let sql = format!(
            "{PLACE} JOIN lineage l ON l.step = s.id AND l.direction = 'in' JOIN artifacts a ON a.id = l.artifact
             WHERE a.hash = ?1 ORDER BY r.id DESC, s.id"
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([hash], place_row)
            .map_err(|e| self.sql_error(e))?;
        let mut seen = std::collections::BTreeSet::new();
        let mut places = Vec::new();
        for place in rows {
            let place = place.map_err(|e| self.sql_error(e))?;
            if seen.insert((place.job.clone(), place.step.clone())) {
                places.push(place);
            }
        }
        Ok(places)
    }

    /// The newest artifacts at `path` (a file, or every file under a
    /// directory) or whose hash starts with `path`, of one run.
    pub fn find_artifacts(&self, path: &str) -> Result<Vec<(RunId, Artifact)>, StoreError> {
        let trimmed = path.trim_start_matches("./").trim_end_matches('/');
        // The file itself, the files under it, or a hash prefix of eight or more digits.
        let matching = "hash != '' AND (path = ?1 OR path LIKE ?1 || '/%' OR (length(?1) >= 8 AND hash LIKE ?1 || '%'))";
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT run_id, path, hash, size FROM artifacts
                 WHERE {matching} AND run_id = (SELECT MAX(run_id) FROM artifacts WHERE {matching})
                 ORDER BY path"
            ))
            .map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([trimmed], |r| {
                Ok((
                    r.get(0)?,
                    Artifact {
                        path: r.get(1)?,
                        hash: r.get(2)?,
                        size: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                    },
                ))
            })
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// The statistics the `validate:` checks of a run stored, by dataset path.
    pub fn dataset_stats(&self, run_id: RunId) -> Result<Vec<(String, String)>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT path, stats FROM dataset_checks WHERE run_id = ?1 AND stats IS NOT NULL ORDER BY rowid")
            .map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }
}
