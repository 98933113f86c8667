//! Lineage: the chain data → step → model → registry version → deployment,
//! read from the run store. Upstream of a model version or an artifact are
//! the step that made it and, through the content hashes of that step's
//! inputs, the steps that made those (across runs); downstream of an
//! artifact are the steps that read it, what they wrote, and the versions
//! they registered; a model version also shows where it serves now and
//! every deployment of it.

use crate::record::{
    DeployAction, DeployOutcome, DeploymentRecord, DeploymentState, ModelVersion, StepPlace, Store,
    StoreError, format_time,
};
use serde::Serialize;
use std::collections::BTreeSet;

/// How deep a chain is followed: far enough for any real pipeline, and a
/// bound on a store whose hashes repeat.
const MAX_DEPTH: usize = 12;

/// One node of a lineage tree.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    Model {
        name: String,
        version: i64,
        aliases: Vec<String>,
        path: String,
        content: String,
        run_id: Option<i64>,
        commit: Option<String>,
        children: Vec<Node>,
    },
    Step {
        run_id: i64,
        workflow: String,
        commit: String,
        job: String,
        step: String,
        cache_hit: bool,
        children: Vec<Node>,
    },
    Artifact {
        path: String,
        content: String,
        size: Option<u64>,
        children: Vec<Node>,
    },
}

/// The lineage of what a person named.
#[derive(Clone, Debug, Serialize)]
pub struct Lineage {
    pub target: String,
    /// How each root came to be (the model or the artifacts, with what made them).
    pub upstream: Vec<Node>,
    /// What was made from the artifacts (empty for a model version).
    pub downstream: Vec<Node>,
    /// Where a model version serves now and every deployment of it (none
    /// for an artifact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<VersionDeployments>,
}

/// A model version's deployments.
#[derive(Clone, Debug, Serialize)]
pub struct VersionDeployments {
    /// The deployments that serve it now, by name.
    pub serving: Vec<Serving>,
    /// Every row about it (switched in, refused, canary, promoted, rolled
    /// back to), oldest first.
    pub history: Vec<DeploymentRecord>,
}

/// One deployment that serves the version now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Serving {
    pub name: String,
    pub target: String,
    pub url: Option<String>,
    /// Its share of the requests, in percent: 100, a canary's share, or what a canary leaves.
    pub percent: u8,
    /// Whether it serves as the canary.
    pub canary: bool,
    /// Since when (milliseconds since the Unix epoch).
    pub since: Option<i64>,
}

/// The lineage of a registry version.
pub fn of_model(store: &Store, version: &ModelVersion) -> Result<Lineage, StoreError> {
    let mut seen = BTreeSet::new();
    let mut children = Vec::new();
    if let Some(step_row) = version.step_row
        && let Some(place) = store.step_place(step_row)?
    {
        children.push(upstream_step(store, &place, 1, &mut seen)?);
    }
    Ok(Lineage {
        target: version.label(),
        upstream: vec![model_node(store, version, children)?],
        downstream: Vec::new(),
        deployments: Some(deployments_of(store, &version.name, version.version)?),
    })
}

/// Where version `version` of model `model` serves now, and its rows.
fn deployments_of(
    store: &Store,
    model: &str,
    version: i64,
) -> Result<VersionDeployments, StoreError> {
    let rows = store.deployment_history(None)?;
    let history: Vec<DeploymentRecord> = rows
        .iter()
        .filter(|r| r.model == model && r.version == Some(version))
        .cloned()
        .collect();
    let mut serving = Vec::new();
    for state in store.deployment_states()? {
        if state.removed || state.model != model {
            continue;
        }
        let canary = state.canary.filter(|(v, _)| *v == version);
        let (percent, is_canary, since) = match (state.live == Some(version), canary) {
            (true, _) => (
                100u8.saturating_sub(state.canary.map_or(0, |(_, p)| p)),
                false,
                state.since,
            ),
            (false, Some((_, percent))) => (percent, true, canary_since(&rows, &state, version)),
            (false, None) => continue,
        };
        serving.push(Serving {
            name: state.name.clone(),
            target: state.target.clone(),
            url: state.url.clone(),
            percent,
            canary: is_canary,
            since,
        });
    }
    Ok(VersionDeployments { serving, history })
}

/// When the canary of `version` in `state` went live.
fn canary_since(rows: &[DeploymentRecord], state: &DeploymentState, version: i64) -> Option<i64> {
    rows.iter()
        .rev()
        .find(|r| {
            r.name == state.name
                && r.action == DeployAction::Canary
                && r.outcome == DeployOutcome::Live
                && r.version == Some(version)
        })
        .map(|r| r.finished_at)
}

/// The lineage of the newest artifacts at a path (or with a hash prefix).
pub fn of_artifact(store: &Store, path: &str) -> Result<Option<Lineage>, StoreError> {
    let found = store.find_artifacts(path)?;
    if found.is_empty() {
        return Ok(None);
    }
    let mut upstream = Vec::new();
    let mut downstream = Vec::new();
    for (run_id, artifact) in &found {
        let mut seen = BTreeSet::new();
        let mut made_by = Vec::new();
        if let Some(place) = store.producer_of(&artifact.hash, Some(*run_id))? {
            made_by.push(upstream_step(store, &place, 1, &mut seen)?);
        }
        upstream.push(Node::Artifact {
            path: artifact.path.clone(),
            content: artifact.hash.clone(),
            size: artifact.size,
            children: made_by,
        });
        let mut seen = BTreeSet::new();
        let users = downstream_of(store, &artifact.hash, 1, &mut seen)?;
        if !users.is_empty() {
            downstream.push(Node::Artifact {
                path: artifact.path.clone(),
                content: artifact.hash.clone(),
                size: artifact.size,
                children: users,
            });
        }
    }
    Ok(Some(Lineage {
        target: path.to_string(),
        upstream,
        downstream,
        deployments: None,
    }))
}

fn step_node(place: &StepPlace, children: Vec<Node>) -> Node {
    Node::Step {
        run_id: place.run_id,
        workflow: place.workflow.clone(),
        commit: place.sha.clone(),
        job: place.job.clone(),
        step: place.step.clone(),
        cache_hit: place.cache_hit,
        children,
    }
}

fn model_node(store: &Store, v: &ModelVersion, children: Vec<Node>) -> Result<Node, StoreError> {
    let aliases = store
        .aliases(&v.name)?
        .into_iter()
        .filter(|(_, version)| *version == v.version)
        .map(|(alias, _)| alias)
        .collect();
    Ok(Node::Model {
        name: v.name.clone(),
        version: v.version,
        aliases,
        path: v.path.clone(),
        content: v.tree_hash.clone(),
        run_id: v.run_id,
        commit: v.sha.clone(),
        children,
    })
}

/// A step with its inputs, each with the step that made it.
fn upstream_step(
    store: &Store,
    place: &StepPlace,
    depth: usize,
    seen: &mut BTreeSet<i64>,
) -> Result<Node, StoreError> {
    let mut inputs = Vec::new();
    if depth < MAX_DEPTH && seen.insert(place.step_row) {
        for artifact in store.step_artifacts(place.step_row, "in")? {
            let mut made_by = Vec::new();
            if let Some(producer) = store.producer_of(&artifact.hash, Some(place.run_id))?
                && producer.step_row != place.step_row
                && !seen.contains(&producer.step_row)
            {
                made_by.push(upstream_step(store, &producer, depth + 1, seen)?);
            }
            inputs.push(Node::Artifact {
                path: artifact.path,
                content: artifact.hash,
                size: artifact.size,
                children: made_by,
            });
        }
    }
    Ok(step_node(place, inputs))
}

/// The steps that read `hash`, each with what it wrote and registered.
fn downstream_of(
    store: &Store,
    hash: &str,
    depth: usize,
    seen: &mut BTreeSet<i64>,
) -> Result<Vec<Node>, StoreError> {
    let mut nodes = Vec::new();
    if depth >= MAX_DEPTH {
        return Ok(nodes);
    }
    for place in store.consumers_of(hash)? {
        if !seen.insert(place.step_row) {
            continue;
        }
        let mut made = Vec::new();
        for artifact in store.step_artifacts(place.step_row, "out")? {
            let users = downstream_of(store, &artifact.hash, depth + 1, seen)?;
            made.push(Node::Artifact {
                path: artifact.path,
                content: artifact.hash,
                size: artifact.size,
                children: users,
            });
        }
        for version in store.versions_of_step(place.step_row)? {
            made.push(model_node(store, &version, Vec::new())?);
        }
        nodes.push(step_node(&place, made));
    }
    Ok(nodes)
}

/// The tree as text, one node a line, with the run and commit of each step.
pub fn render_text(lineage: &Lineage) -> String {
    let mut out = String::new();
    if !lineage.upstream.is_empty() {
        out.push_str(&format!("{} came from:\n", lineage.target));
        for node in &lineage.upstream {
            render(node, "", true, true, &mut out);
        }
    }
    if !lineage.downstream.is_empty() {
        out.push_str(&format!("\nmade from {}:\n", lineage.target));
        for node in &lineage.downstream {
            render(node, "", true, true, &mut out);
        }
    }
    if let Some(deployments) = &lineage.deployments {
        render_deployments(&lineage.target, deployments, &mut out);
    }
    out
}

/// `iris@3 serves:` with each deployment, then `deployments of iris@3:`
/// with each row; or that it never was deployed.
fn render_deployments(target: &str, deployments: &VersionDeployments, out: &mut String) {
    if deployments.history.is_empty() && deployments.serving.is_empty() {
        out.push_str(&format!("\n{target} has never been deployed.\n"));
        return;
    }
    if deployments.serving.is_empty() {
        out.push_str(&format!("\n{target} serves nowhere now.\n"));
    } else {
        out.push_str(&format!("\n{target} serves:\n"));
        for s in &deployments.serving {
            let share = match (s.canary, s.percent) {
                (true, p) => format!("{p} % of the requests (canary)"),
                (false, 100) => "all requests".to_string(),
                (false, p) => format!("{p} % of the requests (beside a canary)"),
            };
            out.push_str(&format!(
                "  {} ({})  {}  {share}{}\n",
                s.name,
                s.target,
                s.url.as_deref().unwrap_or("(no URL)"),
                s.since
                    .map(|t| format!(" since {}", format_time(t)))
                    .unwrap_or_default()
            ));
        }
    }
    if deployments.history.is_empty() {
        return;
    }
    out.push_str(&format!("\ndeployments of {target}:\n"));
    for row in &deployments.history {
        let mut line = format!(
            "  {}  {} ({})  {} → {}",
            format_time(row.finished_at),
            row.name,
            row.target,
            row.action.as_str(),
            row.outcome.as_str()
        );
        if let Some(percent) = row.canary_percent {
            line.push_str(&format!(" {percent} %"));
        }
        if let Some(previous) = row.previous_version {
            let before = format!("{}@{previous}", row.model);
            line.push_str(&match (row.outcome, row.action) {
                (DeployOutcome::Live, DeployAction::Canary) => format!(" beside {before}"),
                (DeployOutcome::Live, _) => format!(", replacing {before}"),
                (DeployOutcome::Refused | DeployOutcome::Failed, _) => format!(", {before} kept"),
                (DeployOutcome::Removed, _) => String::new(),
            });
        }
        if matches!(row.outcome, DeployOutcome::Refused | DeployOutcome::Failed)
            && !row.message.is_empty()
        {
            line.push_str(&format!(": {}", row.message));
        }
        match (row.run_id, row.sha.as_deref()) {
            (Some(run), Some(sha)) => {
                line.push_str(&format!("  (run #{run} at {})", &sha[..sha.len().min(7)]))
            }
            (Some(run), None) => line.push_str(&format!("  (run #{run})")),
            (None, _) => {}
        }
        out.push_str(&line);
        out.push('\n');
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn render(node: &Node, prefix: &str, last: bool, root: bool, out: &mut String) {
    let (line, children) = match node {
        Node::Model {
            name,
            version,
            aliases,
            path,
            content,
            run_id,
            commit,
            children,
        } => {
            let aliases = if aliases.is_empty() {
                String::new()
            } else {
                format!(" ({})", aliases.join(", "))
            };
            let origin = match (run_id, commit) {
                (Some(run), Some(sha)) => {
                    format!(", registered by run #{run} at {}", &sha[..sha.len().min(7)])
                }
                _ => String::new(),
            };
            (
                format!(
                    "model {name}@{version}{aliases}  {path} {}{origin}",
                    short(content)
                ),
                children,
            )
        }
        Node::Step {
            run_id,
            workflow,
            commit,
            job,
            step,
            cache_hit,
            children,
        } => (
            format!(
                "step {job} › {step}  (run #{run_id} of {workflow}, commit {}{})",
                &commit[..commit.len().min(7)],
                if *cache_hit {
                    ", restored from the cache"
                } else {
                    ""
                }
            ),
            children,
        ),
        Node::Artifact {
            path,
            content,
            children,
            ..
        } => (format!("{path}  {}", short(content)), children),
    };
    let (branch, next) = match (root, last) {
        (true, _) => ("", String::from("  ")),
        (false, true) => ("└── ", format!("{prefix}    ")),
        (false, false) => ("├── ", format!("{prefix}│   ")),
    };
    out.push_str(&format!(
        "{}{branch}{line}\n",
        if root { "  " } else { prefix }
    ));
    let next = if root { String::from("  ") } else { next };
    for (i, child) in children.iter().enumerate() {
        render(child, &next, i + 1 == children.len(), false, out);
    }
}
