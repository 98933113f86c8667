//! The scheduler, driven by simulated completions.

use mlci::plan::graph::JobGraph;
use mlci::plan::schedule::{InstanceId, InstanceState, JobPlan, JobResult, Scheduler};

fn graph(spec: &[(&str, &[&str])]) -> JobGraph {
    let jobs: Vec<(String, Vec<String>)> = spec
        .iter()
        .map(|(id, needs)| {
            (
                id.to_string(),
                needs.iter().map(|n| n.to_string()).collect(),
            )
        })
        .collect();
    JobGraph::new(&jobs).unwrap()
}

fn id(job: usize, instance: usize) -> InstanceId {
    InstanceId::new(job, instance)
}

/// Takes every instance that may start now.
fn drain(s: &mut Scheduler) -> Vec<InstanceId> {
    std::iter::from_fn(|| s.next_ready().map(|r| r.id)).collect()
}

#[test]
fn needs_wait_for_every_instance_of_the_matrix() {
    let g = graph(&[
        ("prepare", &[]),
        ("train", &["prepare"]),
        ("report", &["train"]),
    ]);
    let mut s = Scheduler::new(&g, &[JobPlan::default(), JobPlan::matrix(3)], 8);
    assert_eq!(drain(&mut s), vec![id(0, 0)]);
    let done = s.complete(id(0, 0), JobResult::Success).unwrap();
    assert_eq!(done.unblocked, vec![id(1, 0), id(1, 1), id(1, 2)]);
    assert!(done.skippable.is_empty());
    assert_eq!(drain(&mut s), vec![id(1, 0), id(1, 1), id(1, 2)]);
    s.complete(id(1, 2), JobResult::Success).unwrap();
    s.complete(id(1, 0), JobResult::Success).unwrap();
    assert_eq!(
        drain(&mut s),
        vec![],
        "report waits for the last train instance"
    );
    s.complete(id(1, 1), JobResult::Success).unwrap();
    let report = s.next_ready().unwrap();
    assert_eq!(report.id, id(2, 0));
    assert!(report.needs.all_succeeded());
    s.complete(id(2, 0), JobResult::Success).unwrap();
    assert!(s.is_done());
}

#[test]
fn global_limit_and_max_parallel_order_deterministically() {
    let g = graph(&[("a", &[]), ("b", &[]), ("c", &[])]);
    let plans = [
        JobPlan {
            instances: 4,
            max_parallel: Some(2),
            fail_fast: true,
        },
        JobPlan::matrix(2),
        JobPlan::default(),
    ];
    let mut s = Scheduler::new(&g, &plans, 3);
    // a is capped at 2, so the third slot goes to b.
    assert_eq!(drain(&mut s), vec![id(0, 0), id(0, 1), id(1, 0)]);
    assert_eq!(s.running(), 3);
    s.complete(id(1, 0), JobResult::Success).unwrap();
    assert_eq!(drain(&mut s), vec![id(1, 1)], "a still at max-parallel");
    s.complete(id(0, 0), JobResult::Success).unwrap();
    assert_eq!(drain(&mut s), vec![id(0, 2)]);
    s.complete(id(1, 1), JobResult::Success).unwrap();
    assert_eq!(drain(&mut s), vec![id(2, 0)]);
}

#[test]
fn max_parallel_zero_means_no_limit_and_limit_zero_counts_as_one() {
    let g = graph(&[("a", &[])]);
    let plan = JobPlan {
        instances: 3,
        max_parallel: Some(0),
        fail_fast: true,
    };
    let mut s = Scheduler::new(&g, &[plan], 10);
    assert_eq!(drain(&mut s).len(), 3);
    let mut serial = Scheduler::new(&g, &[plan], 0);
    assert_eq!(drain(&mut serial).len(), 1);
}

#[test]
fn jobs_ready_earlier_are_handed_out_first() {
    // z (later in the file) becomes ready before a's dependent b.
    let g = graph(&[("a", &[]), ("b", &["a"]), ("z", &[])]);
    let mut s = Scheduler::new(&g, &[], 1);
    assert_eq!(drain(&mut s), vec![id(0, 0)]);
    s.complete(id(0, 0), JobResult::Success).unwrap();
    assert_eq!(drain(&mut s), vec![id(2, 0)]);
    s.complete(id(2, 0), JobResult::Success).unwrap();
    assert_eq!(drain(&mut s), vec![id(1, 0)]);
}

#[test]
fn fail_fast_cancels_unstarted_siblings_and_asks_to_stop_running_ones() {
    let g = graph(&[("test", &[]), ("deploy", &["test"])]);
    let plan = JobPlan {
        instances: 5,
        max_parallel: Some(2),
        fail_fast: true,
    };
    let mut s = Scheduler::new(&g, &[plan], 8);
    assert_eq!(drain(&mut s), vec![id(0, 0), id(0, 1)]);
    let done = s.complete(id(0, 1), JobResult::Failure).unwrap();
    assert_eq!(done.cancelled, vec![id(0, 2), id(0, 3), id(0, 4)]);
    assert_eq!(done.cancel_running, vec![id(0, 0)]);
    assert_eq!(
        s.state(id(0, 3)),
        Some(InstanceState::Finished(JobResult::Cancelled))
    );
    assert_eq!(
        drain(&mut s),
        vec![],
        "deploy waits for the running sibling"
    );

    let done = s.complete(id(0, 0), JobResult::Cancelled).unwrap();
    assert_eq!(done.unblocked, vec![id(1, 0)]);
    assert_eq!(done.skippable, vec![id(1, 0)]);
    assert_eq!(s.job_result(0), Some(JobResult::Failure));
    let deploy = s.next_ready().unwrap();
    assert!(!deploy.needs.all_succeeded());
    assert!(deploy.needs.any_failed());
    // The runner evaluates `if:`, finds success() false and skips it.
    s.complete(deploy.id, JobResult::Skipped).unwrap();
    assert!(s.is_done());
    assert_eq!(s.job_result(1), Some(JobResult::Skipped));
}

#[test]
fn without_fail_fast_other_instances_keep_running() {
    let g = graph(&[("test", &[])]);
    let plan = JobPlan {
        instances: 3,
        max_parallel: Some(1),
        fail_fast: false,
    };
    let mut s = Scheduler::new(&g, &[plan], 8);
    let first = s.next_ready().unwrap().id;
    let done = s.complete(first, JobResult::Failure).unwrap();
    assert!(done.cancelled.is_empty() && done.cancel_running.is_empty());
    assert_eq!(drain(&mut s), vec![id(0, 1)]);
}

#[test]
fn failure_upstream_is_visible_to_the_whole_chain() {
    // a fails; b (if: always()) runs and succeeds; c sees a's failure as an ancestor.
    let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]);
    let mut s = Scheduler::new(&g, &[], 4);
    let a = s.next_ready().unwrap().id;
    let done = s.complete(a, JobResult::Failure).unwrap();
    assert_eq!(done.skippable, vec![id(1, 0)]);
    let b = s.next_ready().unwrap();
    assert_eq!(b.needs.direct, vec![(0, JobResult::Failure)]);
    let done = s.complete(b.id, JobResult::Success).unwrap();
    assert!(done.skippable.is_empty(), "c's direct need succeeded");
    let c = s.next_ready().unwrap();
    assert!(c.needs.all_succeeded());
    assert!(c.needs.any_failed());
    assert!(!c.needs.any_cancelled());
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let g = graph(&[("a", &[]), ("b", &["a"])]);
    let mut s = Scheduler::new(&g, &[], 1);
    assert!(s.complete(id(7, 0), JobResult::Success).is_err());
    assert!(
        s.complete(id(1, 0), JobResult::Success).is_err(),
        "b is waiting"
    );
    let a = s.next_ready().unwrap().id;
    s.complete(a, JobResult::Success).unwrap();
    assert!(
        s.complete(a, JobResult::Success).is_err(),
        "completed twice"
    );
}

#[test]
fn zero_instance_job_finishes_as_skipped_and_releases_dependents() {
    let g = graph(&[("empty", &[]), ("after", &["empty"])]);
    let mut s = Scheduler::new(&g, &[JobPlan::matrix(0)], 2);
    assert_eq!(s.job_result(0), Some(JobResult::Skipped));
    let after = s.next_ready().unwrap();
    assert_eq!(after.id, id(1, 0));
    assert!(!after.needs.all_succeeded());
}

#[test]
fn cancel_all_stops_everything_not_started() {
    let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &[])]);
    let mut s = Scheduler::new(&g, &[], 1);
    let a = s.next_ready().unwrap().id;
    let done = s.cancel_all();
    assert_eq!(done.cancelled, vec![id(1, 0), id(2, 0)]);
    assert_eq!(done.cancel_running, vec![a]);
    assert!(s.next_ready().is_none());
    s.complete(a, JobResult::Cancelled).unwrap();
    assert!(s.is_done());
}
