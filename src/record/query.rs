//! Finding runs: lists by workflow and branch, the baseline of a run, a run by what a person types.

use super::error::StoreError;
use super::event::branch_name;
use super::model::{RunId, RunResult, RunSummary, StoredRun};
use super::store::Store;
use rusqlite::OptionalExtension;

impl Store {
    /// Runs that ended (or were interrupted), newest first; not the ones still going.
    pub fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let mut sql = String::from(
            "SELECT id, workflow, event, branch, sha, pr_number, started_at, finished_at, result FROM runs WHERE result != 'started'",
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
