//! Lineage: the chain data → step → model → registry version, read from the
//! run store. Upstream of a model version or an artifact are the step that
//! made it and, through the content hashes of that step's inputs, the steps
//! that made those (across runs); downstream of an artifact are the steps
//! that read it, what they wrote, and the versions they registered.

use crate::record::{ModelVersion, StepPlace, Store, StoreError};
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
    })
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
    out
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
