//! The model registry's tables in the run store: versions numbered per
//! name, aliases that move atomically (each move kept in a history), and the
//! candidates that runs left, with what became of them.

use super::error::StoreError;
use super::model::{ModelCandidate, RunId};
use super::store::Store;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;

/// One version of a model.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub tree_hash: String,
    /// The cache entry that holds its files (`model-<tree hash>`).
    pub entry_key: String,
    /// The path it was registered from, relative to the workspace.
    pub path: String,
    pub size: u64,
    pub run_id: Option<RunId>,
    /// The `steps` row that made it, for lineage.
    pub step_row: Option<i64>,
    pub workflow: Option<String>,
    pub job: Option<String>,
    pub step_name: Option<String>,
    pub sha: Option<String>,
    pub params: BTreeMap<String, String>,
    /// The numeric metrics of the job that made it.
    pub metrics: BTreeMap<String, f64>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// `run`, `command` (mlci models register) or `remote` (pulled from the S3 registry).
    pub origin: String,
}

impl ModelVersion {
    /// `iris@3`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// One move of an alias.
#[derive(Clone, Debug, PartialEq)]
pub struct AliasEvent {
    pub name: String,
    pub alias: String,
    pub version: i64,
    pub previous: Option<i64>,
    pub set_at: i64,
    pub run_id: Option<RunId>,
    pub reason: String,
}

/// What became of a run's candidate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CandidateStatus {
    /// Not decided yet (the run is being recorded).
    #[default]
    Pending,
    /// A new version.
    Registered,
    /// The same content is a version already.
    Existing,
    /// Not registered: a gate failed, or its step did not succeed.
    Rejected,
}

impl CandidateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateStatus::Pending => "pending",
            CandidateStatus::Registered => "registered",
            CandidateStatus::Existing => "existing",
            CandidateStatus::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> CandidateStatus {
        match text {
            "registered" => CandidateStatus::Registered,
            "existing" => CandidateStatus::Existing,
            "rejected" => CandidateStatus::Rejected,
            _ => CandidateStatus::Pending,
        }
    }
}

/// A run's candidate, and its outcome once decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CandidateOutcome {
    pub id: i64,
    pub run_id: RunId,
    pub step_row: Option<i64>,
    pub job: String,
    pub step_name: String,
    pub candidate: ModelCandidate,
    pub status: CandidateStatus,
    pub version: Option<i64>,
    /// The version that held the promotion alias before (what this one replaces or would have).
    pub replaces: Option<i64>,
    pub promoted: bool,
    /// Why: the gate that failed, or the promotion condition's verdict.
    pub reason: String,
}

/// What [`Store::register_version`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Registration {
    pub version: i64,
    /// The content was a version already (that version is returned).
    pub existing: bool,
    /// The alias holder before, when an alias was to move.
    pub previous_holder: Option<i64>,
    pub promoted: bool,
    pub reason: String,
}

/// How a promotion is decided: the alias, and a verdict on its holder now.
pub struct Promotion<'a> {
    pub alias: &'a str,
    pub decide: &'a dyn Fn(Option<&ModelVersion>) -> (bool, String),
    pub run_id: Option<RunId>,
}

const VERSION_COLUMNS: &str = "name, version, tree_hash, entry_key, path, size, run_id, step, workflow, job, step_name, sha, params, metrics, created_at, origin";

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelVersion> {
    let params: String = r.get(12)?;
    let metrics: String = r.get(13)?;
    Ok(ModelVersion {
        name: r.get(0)?,
        version: r.get(1)?,
        tree_hash: r.get(2)?,
        entry_key: r.get(3)?,
        path: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        run_id: r.get(6)?,
        step_row: r.get(7)?,
        workflow: r.get(8)?,
        job: r.get(9)?,
        step_name: r.get(10)?,
        sha: r.get(11)?,
        params: serde_json::from_str(&params).unwrap_or_default(),
        metrics: serde_json::from_str(&metrics).unwrap_or_default(),
        created_at: r.get(14)?,
        origin: r.get(15)?,
    })
}

fn insert_version_row(tx: &rusqlite::Connection, v: &ModelVersion) -> rusqlite::Result<usize> {
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO model_versions ({VERSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ),
        params![
            v.name,
            v.version,
            v.tree_hash,
            v.entry_key,
            v.path,
            v.size as i64,
            v.run_id,
            v.step_row,
            v.workflow,
            v.job,
            v.step_name,
            v.sha,
            serde_json::to_string(&v.params).unwrap_or_else(|_| "{}".into()),
            serde_json::to_string(&v.metrics).unwrap_or_else(|_| "{}".into()),
            v.created_at,
            v.origin,
        ],
    )
}

impl Store {
    /// Registers `new` as the next version of its name (or finds the
    /// version with the same content), then decides its promotion, all in
    /// one transaction: two runs registering at once get two numbers, and an
    /// alias moves only against the holder it was compared with.
    pub fn register_version(
        &mut self,
        new: &ModelVersion,
        promotion: Option<Promotion<'_>>,
        now: i64,
    ) -> Result<Registration, StoreError> {
        let sql = self.sql_errors();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT version FROM model_versions WHERE name = ?1 AND tree_hash = ?2 ORDER BY version LIMIT 1",
                params![new.name, new.tree_hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(&sql)?;
        let version = match existing {
            Some(version) => version,
            None => {
                let next: i64 = tx
                    .query_row(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?1",
                        [&new.name],
                        |r| r.get(0),
                    )
                    .map_err(&sql)?;
                let version = new.version.max(next);
                insert_version_row(
                    &tx,
                    &ModelVersion {
                        version,
                        ..new.clone()
                    },
                )
                .map_err(&sql)?;
                version
            }
        };
        let mut registration = Registration {
            version,
            existing: existing.is_some(),
            previous_holder: None,
            promoted: false,
            reason: String::new(),
        };
        if let Some(promotion) = promotion {
            let holder: Option<ModelVersion> = tx
                .query_row(
                    &format!(
                        "SELECT {VERSION_COLUMNS} FROM model_versions WHERE name = ?1 AND version = (SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2)"
                    ),
                    params![new.name, promotion.alias],
                    version_row,
                )
                .optional()
                .map_err(&sql)?;
            registration.previous_holder = holder.as_ref().map(|h| h.version);
            if holder.as_ref().is_some_and(|h| h.version == version) {
                registration.reason =
                    format!("{}@{version} is {} already", new.name, promotion.alias);
            } else {
                let (promote, reason) = (promotion.decide)(holder.as_ref());
                registration.reason = reason;
                if promote {
                    move_alias_in(
                        &tx,
                        &new.name,
                        promotion.alias,
                        version,
                        registration.previous_holder,
                        now,
                        promotion.run_id,
                        &registration.reason,
                    )
                    .map_err(&sql)?;
                    registration.promoted = true;
                }
            }
        }
        tx.commit().map_err(&sql)?;
        Ok(registration)
    }

    /// Points `alias` at `version` (`mlci models alias`), keeping the move in
    /// the history; the previous holder, if any.
    pub fn move_alias(
        &mut self,
        name: &str,
        alias: &str,
        version: i64,
        now: i64,
        reason: &str,
    ) -> Result<Option<i64>, StoreError> {
        let sql = self.sql_errors();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let previous: Option<i64> = tx
            .query_row(
                "SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2",
                params![name, alias],
                |r| r.get(0),
            )
            .optional()
            .map_err(&sql)?;
        move_alias_in(&tx, name, alias, version, previous, now, None, reason).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(previous)
    }

    /// A version read from the shared registry: kept when the number is free here.
    pub fn import_version(&mut self, version: &ModelVersion) -> Result<bool, StoreError> {
        let inserted = insert_version_row(&self.conn, version).map_err(|e| self.sql_error(e))?;
        Ok(inserted > 0)
    }

    /// An alias as the shared registry has it, when it was set later than here.
    pub fn import_alias(
        &mut self,
        name: &str,
        alias: &str,
        version: i64,
        set_at: i64,
    ) -> Result<(), StoreError> {
        let here: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT version, set_at FROM model_aliases WHERE name = ?1 AND alias = ?2",
                params![name, alias],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sql_error(e))?;
        if here.is_some_and(|(v, at)| v == version || at >= set_at) {
            return Ok(());
        }
        let previous = here.map(|(v, _)| v);
        let sql = self.sql_errors();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sql)?;
        move_alias_in(
            &tx,
            name,
            alias,
            version,
            previous,
            set_at,
            None,
            "from the shared registry",
        )
        .and_then(|_| tx.commit())
        .map_err(sql)
    }

    pub fn model_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<Option<ModelVersion>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM model_versions WHERE name = ?1 AND version = ?2"
                ),
                params![name, version],
                version_row,
            )
            .optional()
            .map_err(|e| self.sql_error(e))
    }

    /// Every version of a model (every model when `name` is None), oldest first.
    pub fn model_versions(&self, name: Option<&str>) -> Result<Vec<ModelVersion>, StoreError> {
        self.versions_where("?1 IS NULL OR name = ?1", name)
    }

    /// The versions a step registered.
    pub fn versions_of_step(&self, step_row: i64) -> Result<Vec<ModelVersion>, StoreError> {
        self.versions_where("step = ?1", step_row)
    }

    fn versions_where(
        &self,
        condition: &str,
        value: impl rusqlite::ToSql,
    ) -> Result<Vec<ModelVersion>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE {condition} ORDER BY name, version"
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([value], version_row)
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// The version an alias names now.
    pub fn alias_version(&self, name: &str, alias: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2",
                params![name, alias],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql_error(e))
    }

    /// A model's aliases: alias to version.
    pub fn aliases(&self, name: &str) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT alias, version FROM model_aliases WHERE name = ?1 ORDER BY alias")
            .map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// Every move of a model's aliases, oldest first.
    pub fn alias_history(&self, name: &str) -> Result<Vec<AliasEvent>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT name, alias, version, previous, set_at, run_id, reason FROM model_alias_history WHERE name = ?1 ORDER BY id",
            )
            .map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([name], |r| {
                Ok(AliasEvent {
                    name: r.get(0)?,
                    alias: r.get(1)?,
                    version: r.get(2)?,
                    previous: r.get(3)?,
                    set_at: r.get(4)?,
                    run_id: r.get(5)?,
                    reason: r.get(6)?,
                })
            })
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// The candidates a run left, in the order of its steps.
    pub fn candidates(&self, run_id: RunId) -> Result<Vec<CandidateOutcome>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, run_id, step, job, step_name, name, path, tree_hash, entry_key, size, promote_alias, promote_if, status, version, replaces, promoted, reason
                 FROM model_candidates WHERE run_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([run_id], |r| {
                Ok(CandidateOutcome {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    step_row: r.get(2)?,
                    job: r.get(3)?,
                    step_name: r.get(4)?,
                    candidate: ModelCandidate {
                        name: r.get(5)?,
                        path: r.get(6)?,
                        tree_hash: r.get(7)?,
                        entry_key: r.get(8)?,
                        size: r.get::<_, i64>(9)? as u64,
                        promote_alias: r.get(10)?,
                        promote_if: r.get(11)?,
                    },
                    status: CandidateStatus::parse(&r.get::<_, String>(12)?),
                    version: r.get(13)?,
                    replaces: r.get(14)?,
                    promoted: r.get(15)?,
                    reason: r.get(16)?,
                })
            })
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// Records what became of a candidate.
    pub fn decide_candidate(&mut self, outcome: &CandidateOutcome) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE model_candidates SET status = ?2, version = ?3, replaces = ?4, promoted = ?5, reason = ?6 WHERE id = ?1",
                params![
                    outcome.id,
                    outcome.status.as_str(),
                    outcome.version,
                    outcome.replaces,
                    outcome.promoted,
                    outcome.reason
                ],
            )
            .map_err(|e| self.sql_error(e))?;
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn move_alias_in(
    tx: &rusqlite::Connection,
    name: &str,
    alias: &str,
    version: i64,
    previous: Option<i64>,
    now: i64,
    run_id: Option<RunId>,
    reason: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO model_aliases (name, alias, version, set_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, set_at = excluded.set_at",
        params![name, alias, version, now],
    )?;
    tx.execute(
        "INSERT INTO model_alias_history (name, alias, version, previous, set_at, run_id, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![name, alias, version, previous, now, run_id, reason],
    )?;
    Ok(())
}
