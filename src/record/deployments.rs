//! The deployments' table in the run store: one row per thing that happened
//! to a named deployment (a version switched in, refused, put on canary,
//! promoted, rolled back; the deployment removed), oldest first. What is live
//! now is not stored apart: it is [`DeploymentState::replay`] of the rows, so
//! the history and the present can never disagree.

use super::error::StoreError;
use super::model::RunId;
use super::store::Store;
use rusqlite::params;

/// What was asked of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployAction {
    /// A version to take all traffic.
    Deploy,
    /// A version to take a share of the traffic beside the live one.
    Canary,
    /// The canary takes all traffic.
    Promote,
    /// Back to an earlier version (or, during a canary, to the live one alone).
    Rollback,
    /// The deployment and everything it runs removed.
    Remove,
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployOutcome {
    /// The version serves (for a canary: its share).
    Live,
    /// The version failed its health check or smoke test; what served before still serves.
    Refused,
    /// Something else stopped it (the engine, the image build); what served before still serves.
    Failed,
    /// The deployment is gone.
    Removed,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            fn parse(text: &str) -> Option<$ty> {
                match text { $($text => Some($ty::$variant),)* _ => None }
            }
        }
    };
}
text_enum!(DeployAction { Deploy => "deploy", Canary => "canary", Promote => "promote", Rollback => "rollback", Remove => "remove" });
text_enum!(DeployOutcome { Live => "live", Refused => "refused", Failed => "failed", Removed => "removed" });

/// One row: what happened to deployment `name`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeploymentRecord {
    /// The row's number (0 before it is written).
    pub id: i64,
    pub name: String,
    /// `docker` or `k8s`.
    pub target: String,
    pub action: DeployAction,
    pub outcome: DeployOutcome,
    /// The registered model's name.
    pub model: String,
    /// The version acted on (for a rollback during a canary, the one that stays).
    pub version: Option<i64>,
    /// The tree hash of the version's files.
    pub tree_hash: Option<String>,
    /// The serving image, by tag.
    pub image: Option<String>,
    /// The serving image's id (`sha256:…`), or its registry digest once pushed.
    pub image_digest: Option<String>,
    /// Where it answers (`http://127.0.0.1:8080`).
    pub url: Option<String>,
    /// The version that served all traffic before.
    pub previous_version: Option<i64>,
    /// The canary's share of requests, in percent.
    pub canary_percent: Option<u8>,
    /// The run that made it (a `deploy:` step), if any.
    pub run_id: Option<RunId>,
    pub sha: Option<String>,
    /// One sentence: why it was refused, what it replaced.
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    pub finished_at: i64,
}

impl DeploymentRecord {
    /// A row of `action` on deployment `name` of `model`, starting now:
    /// live until said otherwise, with nothing else known yet.
    pub fn new(name: &str, target: &str, action: DeployAction, model: &str) -> DeploymentRecord {
        let now = super::now_ms();
        DeploymentRecord {
            id: 0,
            name: name.to_string(),
            target: target.to_string(),
            action,
            outcome: DeployOutcome::Live,
            model: model.to_string(),
            version: None,
            tree_hash: None,
            image: None,
            image_digest: None,
            url: None,
            previous_version: None,
            canary_percent: None,
            run_id: None,
            sha: None,
            message: String::new(),
            started_at: now,
            finished_at: now,
        }
    }
}

/// What a deployment is now, replayed from its rows.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct DeploymentState {
    pub name: String,
    pub target: String,
    pub model: String,
    /// The version that takes all traffic (or, during a canary, the rest of it).
    pub live: Option<i64>,
    /// The canary's version and its share in percent.
    pub canary: Option<(i64, u8)>,
    pub url: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    /// When the live version took its traffic (milliseconds since the Unix epoch).
    pub since: Option<i64>,
    /// Removed by `mlci deploy rm` (and not deployed again since).
    pub removed: bool,
}

impl DeploymentState {
    /// The state after `rows` (one deployment's, oldest first).
    pub fn replay<'a>(rows: impl IntoIterator<Item = &'a DeploymentRecord>) -> DeploymentState {
        let mut state = DeploymentState::default();
        for row in rows {
            state.apply(row);
        }
        state
    }

    fn apply(&mut self, row: &DeploymentRecord) {
        self.name.clone_from(&row.name);
        if row.outcome != DeployOutcome::Live && row.outcome != DeployOutcome::Removed {
            return;
        }
        let taken_whole = |state: &mut DeploymentState| {
            state.live = row.version;
            state.canary = None;
            state.since = Some(row.finished_at);
            state.image.clone_from(&row.image);
            state.image_digest.clone_from(&row.image_digest);
        };
        match row.action {
            DeployAction::Remove => {
                *self = DeploymentState {
                    name: row.name.clone(),
                    target: row.target.clone(),
                    model: row.model.clone(),
                    removed: true,
                    ..DeploymentState::default()
                }
            }
            DeployAction::Deploy | DeployAction::Promote => taken_whole(self),
            DeployAction::Canary => {
                self.canary = row.version.zip(row.canary_percent);
            }
            DeployAction::Rollback if self.canary.is_some() && row.version == self.live => {
                self.canary = None;
            }
            DeployAction::Rollback => taken_whole(self),
        }
        if row.action != DeployAction::Remove {
            self.removed = false;
            self.target.clone_from(&row.target);
            self.model.clone_from(&row.model);
            if row.url.is_some() {
                self.url.clone_from(&row.url);
            }
        }
    }

    /// The versions serving now: the live one, then the canary.
    pub fn serving(&self) -> impl Iterator<Item = i64> {
        self.live
            .into_iter()
            .chain(self.canary.map(|(version, _)| version))
    }
}

const COLUMNS: &str = "id, name, target, action, result, model, version, tree_hash, image, image_digest, url, previous_version, canary_percent, run_id, sha, message, started_at, finished_at";

fn deployment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeploymentRecord> {
    let text = |index: usize| -> rusqlite::Result<String> { r.get(index) };
    let unknown = |index: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unknown deployment {what}").into(),
        )
    };
    let action = text(3)?;
    let outcome = text(4)?;
    Ok(DeploymentRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        target: r.get(2)?,
        action: DeployAction::parse(&action).ok_or_else(|| unknown(3, action))?,
        outcome: DeployOutcome::parse(&outcome).ok_or_else(|| unknown(4, outcome))?,
        model: r.get(5)?,
        version: r.get(6)?,
        tree_hash: r.get(7)?,
        image: r.get(8)?,
        image_digest: r.get(9)?,
        url: r.get(10)?,
        previous_version: r.get(11)?,
        canary_percent: r.get::<_, Option<i64>>(12)?.map(|p| p.clamp(0, 100) as u8),
        run_id: r.get(13)?,
        sha: r.get(14)?,
        message: r.get(15)?,
        started_at: r.get(16)?,
        finished_at: r.get(17)?,
    })
}

impl Store {
    /// Appends a row; its id.
    pub fn record_deployment(&mut self, row: &DeploymentRecord) -> Result<i64, StoreError> {
        let message = super::write::mask_secrets(&self.secrets, &row.message);
        self.conn
            .execute(
                "INSERT INTO deployments (name, target, action, result, model, version, tree_hash, image, image_digest, url, previous_version, canary_percent, run_id, sha, message, started_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                params![
                    row.name,
                    row.target,
                    row.action.as_str(),
                    row.outcome.as_str(),
                    row.model,
                    row.version,
                    row.tree_hash,
                    row.image,
                    row.image_digest,
                    row.url,
                    row.previous_version,
                    row.canary_percent.map(i64::from),
                    row.run_id,
                    row.sha,
                    message,
                    row.started_at,
                    row.finished_at,
                ],
            )
            .map_err(|e| self.sql_error(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The rows of one deployment (every deployment when `name` is None), oldest first.
    pub fn deployment_history(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        self.deployments_where("?1 IS NULL OR name = ?1", name)
    }

    /// The rows a run wrote (its `deploy:` steps), oldest first.
    pub fn deployments_of_run(&self, run_id: RunId) -> Result<Vec<DeploymentRecord>, StoreError> {
        self.deployments_where("run_id = ?1", run_id)
    }

    /// Every deployment's state now, by name; removed ones included (see `removed`).
    pub fn deployment_states(&self) -> Result<Vec<DeploymentState>, StoreError> {
        let rows = self.deployment_history(None)?;
        let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        Ok(names
            .into_iter()
            .map(|name| DeploymentState::replay(rows.iter().filter(|r| r.name == name)))
            .collect())
    }

    fn deployments_where(
        &self,
        condition: &str,
        value: impl rusqlite::ToSql,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM deployments WHERE {condition} ORDER BY id");
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sql_error(e))?;
        let rows = statement
            .query_map([value], deployment_row)
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(action: DeployAction, outcome: DeployOutcome, version: i64) -> DeploymentRecord {
        DeploymentRecord {
            id: 0,
            name: "iris".into(),
            target: "docker".into(),
            action,
            outcome,
            model: "iris".into(),
            version: Some(version),
            tree_hash: None,
            image: Some(format!("mlci/serve:iris-{version}")),
            image_digest: None,
            url: Some("http://127.0.0.1:8080".into()),
            previous_version: None,
            canary_percent: (action == DeployAction::Canary).then_some(10),
            run_id: None,
            sha: None,
            message: String::new(),
            started_at: version,
            finished_at: version * 10,
        }
    }

    #[test]
    fn replay_follows_switches_refusals_canaries_and_rollbacks() {
        use DeployAction::*;
        use DeployOutcome::*;
        let mut rows = vec![row(Deploy, Live, 1), row(Deploy, Refused, 2)];
        let state = DeploymentState::replay(&rows);
        assert_eq!(
            (state.live, state.canary, state.since),
            (Some(1), None, Some(10))
        );
        rows.push(row(Canary, Live, 3));
        assert_eq!(DeploymentState::replay(&rows).canary, Some((3, 10)));
        assert_eq!(
            DeploymentState::replay(&rows).serving().collect::<Vec<_>>(),
            [1, 3]
        );
        // Rolling back a canary keeps the live version.
        rows.push(row(Rollback, Live, 1));
        let state = DeploymentState::replay(&rows);
        assert_eq!((state.live, state.canary), (Some(1), None));
        rows.extend([row(Canary, Live, 4), row(Promote, Live, 4)]);
        let state = DeploymentState::replay(&rows);
        assert_eq!((state.live, state.canary), (Some(4), None));
        rows.push(row(Rollback, Live, 1));
        assert_eq!(DeploymentState::replay(&rows).live, Some(1));
        rows.push(row(Remove, Removed, 1));
        let state = DeploymentState::replay(&rows);
        assert!(state.removed);
        assert_eq!(state.serving().count(), 0);
        rows.push(row(Deploy, Live, 5));
        let state = DeploymentState::replay(&rows);
        assert_eq!((state.live, state.removed), (Some(5), false));
    }
}
