//! The DAG of jobs by `needs`.
//!
//! Job ids are matched case-insensitively, as GitHub's workflow parser does
//! (actions/runner `WorkflowTemplateConverter.ConvertToJobs` compares needs
//! with `StringComparison.OrdinalIgnoreCase`, and job ids that differ only in
//! case are duplicate keys). Job ids are restricted to ASCII letters, digits,
//! `-` and `_`, so ASCII case folding is enough.
//!
//! [`JobGraph::new`] reports every problem at once: duplicate ids, needs on
//! oneself, needs on unknown jobs, and every cycle.

use std::collections::VecDeque;
use std::fmt;
use std::fmt::Write as _;

/// Why a set of jobs does not form a valid graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// `job` names a job that does not exist; `index` is the position of
    /// `need` in that job's needs list.
    UnknownNeed {
        job: String,
        need: String,
        index: usize,
    },
    /// `job` lists itself at position `index` of its needs.
    SelfNeed { job: String, index: usize },
    /// Jobs that need each other, in cycle order: `[a, b, c]` means a needs b,
    /// b needs c and c needs a. It starts at the cycle's earliest job in file
    /// order. One cycle is reported per strongly connected set of jobs.
    Cycle(Vec<String>),
    /// Two jobs whose ids differ at most in case; `first` is the file
    /// position of the earlier one, `index` of this one.
    DuplicateJob {
        job: String,
        first: usize,
        index: usize,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::UnknownNeed { job, need, .. } => {
                write!(
                    f,
                    "job '{job}' needs '{need}', which is not a job of this workflow"
                )
            }
            GraphError::SelfNeed { job, .. } => {
                write!(f, "job '{job}' needs itself; remove '{job}' from its needs")
            }
            GraphError::Cycle(jobs) => {
                let mut chain = String::new();
                for (i, job) in jobs.iter().enumerate() {
                    let next = &jobs[(i + 1) % jobs.len()];
                    if i > 0 {
                        chain.push_str(", ");
                    }
                    let _ = write!(chain, "'{job}' needs '{next}'");
                }
                write!(
                    f,
                    "jobs need each other in a cycle, so none of them can start: {chain}"
                )
            }
            GraphError::DuplicateJob { job, .. } => {
                write!(f, "job id '{job}' is used twice (job ids ignore case)")
            }
        }
    }
}

impl std::error::Error for GraphError {}

/// How one node is drawn: its title and, for a matrix job, one label per
/// instance (drawn as sub-nodes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeLabel {
    pub title: String,
    pub instances: Vec<String>,
}

impl NodeLabel {
    pub fn new(title: impl Into<String>) -> Self {
        NodeLabel {
            title: title.into(),
            instances: Vec::new(),
        }
    }

    pub fn with_instances(title: impl Into<String>, instances: Vec<String>) -> Self {
        NodeLabel {
            title: title.into(),
            instances,
        }
    }
}

/// Jobs and their `needs`, validated to form a DAG. Jobs are numbered in
/// file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobGraph {
    jobs: Vec<String>,
    needs: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    level: Vec<usize>,
}

impl JobGraph {
    /// Builds the graph from each job's id and needs, in file order.
    /// A need listed twice counts once.
    pub fn new(jobs: &[(String, Vec<String>)]) -> Result<JobGraph, Vec<GraphError>> {
        let mut errors = Vec::new();
        let n = jobs.len();

        // Index by lowercase id; the first of duplicates wins.
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for (i, (id, _)) in jobs.iter().enumerate() {
            match index.entry(id.to_ascii_lowercase()) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    errors.push(GraphError::DuplicateJob {
                        job: id.clone(),
                        first: *e.get(),
                        index: i,
                    });
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }

        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, (id, job_needs)) in jobs.iter().enumerate() {
            for (pos, need) in job_needs.iter().enumerate() {
                match index.get(&need.to_ascii_lowercase()) {
                    None => errors.push(GraphError::UnknownNeed {
                        job: id.clone(),
                        need: need.clone(),
                        index: pos,
                    }),
                    Some(&j) if j == i => errors.push(GraphError::SelfNeed {
                        job: id.clone(),
                        index: pos,
                    }),
                    Some(&j) => {
                        if !needs[i].contains(&j) {
                            needs[i].push(j);
                        }
                    }
                }
            }
        }

        for cycle in find_cycles(&needs) {
            errors.push(GraphError::Cycle(
                cycle.into_iter().map(|j| jobs[j].0.clone()).collect(),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, ns) in needs.iter().enumerate() {
            for &j in ns {
                dependents[j].push(i);
            }
        }
        let level = compute_levels(&needs, &dependents);
        Ok(JobGraph {
            jobs: jobs.iter().map(|(id, _)| id.clone()).collect(),
            needs,
            dependents,
            level,
        })
    }

    /// Job ids in file order.
    pub fn jobs(&self) -> &[String] {
        &self.jobs
    }

    /// The number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The index of a job id, ignoring case.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.jobs.iter().position(|j| j.eq_ignore_ascii_case(id))
    }

    /// The jobs `job` needs directly, in the order its needs list them.
    /// Empty for an index out of range.
    pub fn needs(&self, job: usize) -> &[usize] {
        self.needs.get(job).map_or(&[], Vec::as_slice)
    }

    /// The jobs that need `job` directly, in file order.
    pub fn dependents(&self, job: usize) -> &[usize] {
        self.dependents.get(job).map_or(&[], Vec::as_slice)
    }

    /// Topological layers: layer 0 holds the jobs without needs; a job sits
    /// one layer below the deepest job it needs. File order within a layer.
    pub fn levels(&self) -> Vec<Vec<usize>> {
        let depth = self.level.iter().copied().max().map_or(0, |m| m + 1);
        let mut layers = vec![Vec::new(); depth];
        for (job, &level) in self.level.iter().enumerate() {
            layers[level].push(job);
        }
        layers
    }

    /// Every job that `job` needs directly or through other jobs, in file order.
    pub fn transitive_needs(&self, job: usize) -> Vec<usize> {
        let mut seen = vec![false; self.jobs.len()];
        let mut stack: Vec<usize> = self.needs(job).to_vec();
        while let Some(j) = stack.pop() {
            if !seen[j] {
                seen[j] = true;
                stack.extend_from_slice(&self.needs[j]);
            }
        }
        (0..self.jobs.len()).filter(|&j| seen[j]).collect()
    }

    /// Graphviz source. `labels[i]` draws job `i` (a job without a label, or
    /// with an empty title, is drawn with its id). A job with instances is a
    /// cluster with one node per instance; edges run from a needed job to the
    /// jobs that need it.
    pub fn to_dot(&self, labels: &[NodeLabel]) -> String {
        let mut out = String::from("digraph jobs {\n");
        out.push_str("  compound=true;\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
        for job in 0..self.jobs.len() {
            let (title, instances) = self.label_of(labels, job);
            if instances.is_empty() {
                let _ = writeln!(out, "  j{job} [label={}];", dot_quote(title));
            } else {
                let _ = writeln!(out, "  subgraph cluster_j{job} {{");
                let _ = writeln!(out, "    label={};", dot_quote(title));
                for (k, instance) in instances.iter().enumerate() {
                    let _ = writeln!(out, "    j{job}_{k} [label={}];", dot_quote(instance));
                }
                out.push_str("  }\n");
            }
        }
        for job in 0..self.jobs.len() {
            for &need in self.needs(job) {
                let (from, tail) = self.dot_anchor(labels, need);
                let (to, head) = self.dot_anchor(labels, job);
                let mut attrs = Vec::new();
                if let Some(t) = tail {
                    attrs.push(format!("ltail={t}"));
                }
                if let Some(h) = head {
                    attrs.push(format!("lhead={h}"));
                }
                if attrs.is_empty() {
                    let _ = writeln!(out, "  {from} -> {to};");
                } else {
                    let _ = writeln!(out, "  {from} -> {to} [{}];", attrs.join(", "));
                }
            }
        }
        out.push_str("}\n");
        out
    }

    /// A readable rendering, one block per layer:
    ///
    /// ```text
    /// stage 1
    ///   prepare
    /// stage 2
    ///   train  (needs: prepare)
    ///     train (tree, 0.1)
    ///     train (tree, 0.2)
    /// ```
    pub fn to_text(&self, labels: &[NodeLabel]) -> String {
        let mut out = String::new();
        for (depth, layer) in self.levels().iter().enumerate() {
            let _ = writeln!(out, "stage {}", depth + 1);
            for &job in layer {
                let (title, instances) = self.label_of(labels, job);
                let _ = write!(out, "  {}", one_line(title));
                let needs = self.needs(job);
                if !needs.is_empty() {
                    // Called workflows' jobs (`caller/job`) by the name GitHub shows them under.
                    let names: Vec<&str> = needs
                        .iter()
                        .map(|&j| match self.jobs[j].contains('/') {
                            true => self.label_of(labels, j).0,
                            false => self.jobs[j].as_str(),
                        })
                        .collect();
                    let _ = write!(out, "  (needs: {})", names.join(", "));
                }
                out.push('\n');
                for instance in instances {
                    let _ = writeln!(out, "    {}", one_line(instance));
                }
            }
        }
        out
    }

    fn label_of<'a>(&'a self, labels: &'a [NodeLabel], job: usize) -> (&'a str, &'a [String]) {
        match labels.get(job) {
            Some(label) if !label.title.is_empty() => (&label.title, &label.instances),
            Some(label) => (&self.jobs[job], &label.instances),
            None => (&self.jobs[job], &[]),
        }
    }

    /// The node an edge attaches to, and the cluster it clips to.
    fn dot_anchor(&self, labels: &[NodeLabel], job: usize) -> (String, Option<String>) {
        let (_, instances) = self.label_of(labels, job);
        if instances.is_empty() {
            (format!("j{job}"), None)
        } else {
            (format!("j{job}_0"), Some(format!("cluster_j{job}")))
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Longest-path depth of each job in a DAG (Kahn's order).
fn compute_levels(needs: &[Vec<usize>], dependents: &[Vec<usize>]) -> Vec<usize> {
    let n = needs.len();
    let mut level = vec![0usize; n];
    let mut missing: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut queue: VecDeque<usize> = (0..n).filter(|&j| missing[j] == 0).collect();
    while let Some(j) = queue.pop_front() {
        for &d in &dependents[j] {
            level[d] = level[d].max(level[j] + 1);
            missing[d] -= 1;
            if missing[d] == 0 {
                queue.push_back(d);
            }
        }
    }
    level
}

/// One cycle per strongly connected component of more than one job: the
/// shortest cycle through the component's earliest job, following needs in
/// list order. Components are ordered by their earliest job.
fn find_cycles(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let components = strongly_connected(needs);
    let mut cycles = Vec::new();
    let n = needs.len();
    let mut component_of = vec![usize::MAX; n];
    let mut multi: Vec<Vec<usize>> = components.into_iter().filter(|c| c.len() > 1).collect();
    for component in &mut multi {
        component.sort_unstable();
    }
    multi.sort_unstable_by_key(|c| c[0]);
    for (ci, component) in multi.iter().enumerate() {
        for &j in component {
            component_of[j] = ci;
        }
    }
    for (ci, component) in multi.iter().enumerate() {
        let start = component[0];
        let mut parent = vec![usize::MAX; n];
        let mut visited = vec![false; n];
        visited[start] = true;
        let mut queue = VecDeque::from([start]);
        let mut found = None;
        'bfs: while let Some(u) = queue.pop_front() {
            for &w in &needs[u] {
                if w == start {
                    found = Some(u);
                    break 'bfs;
                }
                if component_of[w] == ci && !visited[w] {
                    visited[w] = true;
                    parent[w] = u;
                    queue.push_back(w);
                }
            }
        }
        if let Some(mut u) = found {
            let mut path = vec![u];
            while u != start {
                u = parent[u];
                path.push(u);
            }
            path.reverse();
            cycles.push(path);
        }
    }
    cycles
}

/// Tarjan's algorithm without recursion, so deep graphs cannot overflow the stack.
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut counter = 0usize;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
            if let Some(&w) = edges[v].get(*pos) {
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                calls.pop();
                if let Some(&(u, _)) = calls.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    components.push(component);
                }
            }
        }
    }
    components
}
