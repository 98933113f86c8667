//! Runs still going: a run writes a "started" row when it begins, owned by
//! its process ([`crate::owner::Owner`], encoded), and replaces it with its
//! record when it ends ([`Store::finish_run`]). A row whose owner is gone
//! belongs to a run killed with SIGKILL; the next run records it as
//! `interrupted`. Stores written before this have no such rows.

use super::error::StoreError;
use super::model::{RunId, RunRecord, RunResult};
use super::store::Store;
use rusqlite::{TransactionBehavior, params};

impl Store {
    /// Writes the row of a run that starts now (workflow, commit, branch and
    /// start time of `run`; no jobs yet), owned by `owner`.
    pub fn start_run(&mut self, run: &RunRecord, owner: &str) -> Result<RunId, StoreError> {
        let mut started = run.clone();
        started.result = RunResult::Started;
        started.finished_at = started.started_at;
        started.jobs.clear();
        started.artifacts.clear();
        started.phases.clear();
        started.gates.clear();
        let id = self.insert_run(&started)?;
        self.conn
            .execute(
                "UPDATE runs SET owner = ?1 WHERE id = ?2",
                params![owner, id],
            )
            .map_err(|e| self.sql_error(e))?;
        Ok(id)
    }

    /// Removes the row of a run that ended before it ran anything (an
    /// invalid workflow, no engine): there is nothing to record.
    pub fn discard_started(&mut self, id: RunId) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM runs WHERE id = ?1 AND result = 'started'",
                params![id],
            )
            .map(|_| ())
            .map_err(|e| self.sql_error(e))
    }

    /// Records as `interrupted` every started run whose owner `is_gone`
    /// says is gone; returns their ids.
    pub fn mark_interrupted(
        &mut self,
        is_gone: impl Fn(&str) -> bool,
    ) -> Result<Vec<RunId>, StoreError> {
        let sql = self.sql_errors();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let started: Vec<(RunId, Option<String>)> = {
            let mut statement = tx
                .prepare("SELECT id, owner FROM runs WHERE result = 'started'")
                .map_err(&sql)?;
            let rows = statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&sql)?;
            rows.collect::<Result<_, _>>().map_err(&sql)?
        };
        let mut interrupted = Vec::new();
        for (id, owner) in started {
            if owner.as_deref().is_some_and(&is_gone) {
                tx.execute(
                    "UPDATE runs SET result = 'interrupted' WHERE id = ?1",
                    params![id],
                )
                .map_err(&sql)?;
                interrupted.push(id);
            }
        }
        tx.commit().map_err(&sql)?;
        Ok(interrupted)
    }
}
