//! The job graph: validation, layers and renderings.

use mlci::plan::graph::{GraphError, JobGraph, NodeLabel};

fn jobs(spec: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    spec.iter()
        .map(|(id, needs)| {
            (
                id.to_string(),
                needs.iter().map(|n| n.to_string()).collect(),
            )
        })
        .collect()
}

fn graph(spec: &[(&str, &[&str])]) -> JobGraph {
    JobGraph::new(&jobs(spec)).expect("valid graph")
}

fn errors(spec: &[(&str, &[&str])]) -> Vec<GraphError> {
    JobGraph::new(&jobs(spec)).expect_err("invalid graph")
}

fn cycle(ids: &[&str]) -> GraphError {
    GraphError::Cycle(ids.iter().map(|s| s.to_string()).collect())
}

#[test]
fn documented_needs_example_runs_sequentially() {
    // job1; job2 needs job1; job3 needs [job1, job2].
    let g = graph(&[
        ("job1", &[]),
        ("job2", &["job1"]),
        ("job3", &["job1", "job2"]),
    ]);
    assert_eq!(g.levels(), vec![vec![0], vec![1], vec![2]]);
    assert_eq!(g.needs(2), &[0, 1]);
    assert_eq!(g.dependents(0), &[1, 2]);
    assert_eq!(g.transitive_needs(2), vec![0, 1]);
}

#[test]
fn levels_keep_file_order_within_a_layer() {
    let g = graph(&[
        ("report", &["train", "lint"]),
        ("train", &["prepare"]),
        ("lint", &[]),
        ("prepare", &[]),
        ("eval", &["train"]),
    ]);
    // report needs train (layer 1), so it sits in layer 2 with eval.
    assert_eq!(g.levels(), vec![vec![2, 3], vec![1], vec![0, 4]]);
    assert_eq!(g.transitive_needs(0), vec![1, 2, 3]);
    assert_eq!(g.transitive_needs(4), vec![1, 3]);
    assert!(g.transitive_needs(3).is_empty());
}

#[test]
fn needs_match_job_ids_ignoring_case_and_duplicates_count_once() {
    let g = graph(&[("Build", &[]), ("test", &["build", "BUILD"])]);
    assert_eq!(g.needs(1), &[0]);
    assert_eq!(g.index_of("TEST"), Some(1));
}

#[test]
fn unknown_need_names_job_need_and_position() {
    let errs = errors(&[("a", &[]), ("b", &["a", "trian"])]);
    assert_eq!(
        errs,
        vec![GraphError::UnknownNeed {
            job: "b".into(),
            need: "trian".into(),
            index: 1
        }]
    );
    assert_eq!(
        errs[0].to_string(),
        "job 'b' needs 'trian', which is not a job of this workflow"
    );
}

#[test]
fn self_need_is_reported_as_such_not_as_a_cycle() {
    let errs = errors(&[("a", &["a"])]);
    assert_eq!(
        errs,
        vec![GraphError::SelfNeed {
            job: "a".into(),
            index: 0
        }]
    );
    assert!(errs[0].to_string().contains("needs itself"));
}

#[test]
fn two_job_cycle() {
    assert_eq!(
        errors(&[("a", &["b"]), ("b", &["a"])]),
        vec![cycle(&["a", "b"])]
    );
}

#[test]
fn three_job_cycle_starts_at_earliest_job_in_needs_direction() {
    // c needs a, a needs b, b needs c: reported from a.
    let errs = errors(&[
        ("root", &[]),
        ("a", &["root", "b"]),
        ("b", &["c"]),
        ("c", &["a"]),
    ]);
    assert_eq!(errs, vec![cycle(&["a", "b", "c"])]);
    assert_eq!(
        errs[0].to_string(),
        "jobs need each other in a cycle, so none of them can start: \
         'a' needs 'b', 'b' needs 'c', 'c' needs 'a'"
    );
}

#[test]
fn several_cycles_and_other_problems_are_all_reported() {
    let errs = errors(&[
        ("x", &["y"]),
        ("p", &["q", "ghost"]),
        ("y", &["x"]),
        ("q", &["p", "q"]),
        ("ok", &[]),
    ]);
    assert_eq!(
        errs,
        vec![
            GraphError::UnknownNeed {
                job: "p".into(),
                need: "ghost".into(),
                index: 1
            },
            GraphError::SelfNeed {
                job: "q".into(),
                index: 1
            },
            cycle(&["x", "y"]),
            cycle(&["p", "q"]),
        ]
    );
}

#[test]
fn a_job_downstream_of_a_cycle_is_not_itself_a_cycle() {
    let errs = errors(&[("a", &["b"]), ("b", &["a"]), ("c", &["a"])]);
    assert_eq!(errs, vec![cycle(&["a", "b"])]);
}

#[test]
fn duplicate_ids_differing_in_case_are_reported() {
    let errs = errors(&[("train", &[]), ("Train", &[])]);
    assert_eq!(
        errs,
        vec![GraphError::DuplicateJob {
            job: "Train".into(),
            first: 0,
            index: 1
        }]
    );
}

#[test]
fn long_chains_do_not_overflow_the_stack() {
    let ids: Vec<String> = (0..20_000).map(|i| format!("j{i}")).collect();
    let mut spec: Vec<(String, Vec<String>)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let needs = if i == 0 {
                vec![]
            } else {
                vec![ids[i - 1].clone()]
            };
            (id.clone(), needs)
        })
        .collect();
    let g = JobGraph::new(&spec).unwrap();
    assert_eq!(g.levels().len(), 20_000);
    // Close the chain into one big cycle.
    spec[0].1.push(ids[19_999].clone());
    let errs = JobGraph::new(&spec).unwrap_err();
    assert!(
        matches!(&errs[..], [GraphError::Cycle(c)] if c.len() == 20_000 && c[0] == "j0" && c[1] == "j19999")
    );
}

#[test]
fn text_rendering_lists_stages_needs_and_instances() {
    let g = graph(&[
        ("prepare", &[]),
        ("train", &["prepare"]),
        ("report", &["train"]),
    ]);
    let labels = vec![
        NodeLabel::new("Prepare data"),
        NodeLabel::with_instances(
            "train",
            vec!["train (tree, 0.1)".into(), "train (tree, 0.2)".into()],
        ),
    ];
    assert_eq!(
        g.to_text(&labels),
        "stage 1\n  Prepare data\nstage 2\n  train  (needs: prepare)\n    train (tree, 0.1)\n    train (tree, 0.2)\nstage 3\n  report  (needs: train)\n"
    );
}

#[test]
fn dot_draws_matrix_jobs_as_clusters_and_escapes_labels() {
    let g = graph(&[
        ("prepare", &[]),
        ("train", &["prepare"]),
        ("report", &["train"]),
    ]);
    let labels = vec![
        NodeLabel::new("say \"hi\""),
        NodeLabel::with_instances("train", vec!["train (a)".into(), "train (b)".into()]),
    ];
    let dot = g.to_dot(&labels);
    assert!(dot.starts_with("digraph jobs {"));
    assert!(dot.contains(r#"j0 [label="say \"hi\""];"#));
    assert!(dot.contains("subgraph cluster_j1 {"));
    assert!(dot.contains(r#"j1_1 [label="train (b)"];"#));
    assert!(dot.contains("j0 -> j1_0 [lhead=cluster_j1];"));
    assert!(dot.contains("j1_0 -> j2 [ltail=cluster_j1];"));
    assert!(dot.contains(r#"j2 [label="report"];"#));
    assert!(dot.trim_end().ends_with('}'));
}

#[test]
fn empty_workflow_is_an_empty_graph() {
    let g = JobGraph::new(&[]).unwrap();
    assert!(g.is_empty());
    assert!(g.levels().is_empty());
    assert_eq!(g.needs(5), &[] as &[usize]);
}
