//! Arbitrary inputs: no panic, and the scheduler always drains a valid graph
//! while respecting needs and limits. Deterministic pseudo-random cases.

use mlci::expr::{Object, Value};
use mlci::plan::graph::JobGraph;
use mlci::plan::matrix::{Combination, MatrixSpec, expand_configurations};
use mlci::plan::schedule::{InstanceState, JobPlan, JobResult, Scheduler};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 4 } else { 6 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 1),
        2 => Value::Number([0.0, 1.0, 3.1, -0.0, f64::NAN, 1e300][rng.below(6) as usize]),
        3 => Value::str(["a", "A", "", "1", " 1 ", "0x1"][rng.below(6) as usize]),
        4 => Value::Array((0..rng.below(3)).map(|_| value(rng, depth + 1)).collect()),
        _ => {
            let mut o = Object::new();
            for _ in 0..rng.below(3) {
                o.insert(
                    ["k", "K", "j"][rng.below(3) as usize],
                    value(rng, depth + 1),
                );
            }
            Value::Object(o)
        }
    }
}

fn entry(rng: &mut Rng) -> Combination {
    (0..rng.below(3))
        .map(|_| {
            (
                ["x", "X", "y", "z"][rng.below(4) as usize].to_string(),
                value(rng, 0),
            )
        })
        .collect()
}

#[test]
fn matrix_expansion_never_panics() {
    let mut rng = Rng(7);
    for _ in 0..3000 {
        let mut spec = MatrixSpec::default();
        for _ in 0..rng.below(3) {
            let name = ["x", "y", "Y"][rng.below(3) as usize].to_string();
            let values = (0..rng.below(4)).map(|_| value(&mut rng, 0)).collect();
            spec.dimensions.insert(name, values);
        }
        spec.include = (0..rng.below(3)).map(|_| entry(&mut rng)).collect();
        spec.exclude = (0..rng.below(3)).map(|_| entry(&mut rng)).collect();
        if let Ok(configs) = expand_configurations(&spec) {
            assert!(!configs.is_empty() && configs.len() <= 256);
            for c in &configs {
                assert!(c.name_keys <= c.matrix.len());
                let name = c.name("job");
                assert!(name.encode_utf16().count() <= 100);
            }
        }
    }
}

#[test]
fn random_graphs_validate_and_schedule_to_completion() {
    let mut rng = Rng(42);
    for case in 0..400 {
        let n = rng.below(8) as usize;
        let ids: Vec<String> = (0..n).map(|i| format!("j{i}")).collect();
        let jobs: Vec<(String, Vec<String>)> = (0..n)
            .map(|i| {
                let needs = (0..rng.below(3))
                    .map(|_| {
                        if rng.below(10) == 0 {
                            "missing".to_string()
                        } else if case % 3 == 0 {
                            ids[rng.below(n as u64) as usize].to_uppercase()
                        } else if i > 0 {
                            ids[rng.below(i as u64) as usize].clone()
                        } else {
                            ids[0].clone()
                        }
                    })
                    .collect();
                (ids[i].clone(), needs)
            })
            .collect();
        let Ok(graph) = JobGraph::new(&jobs) else {
            continue;
        };
        let _ = graph.to_dot(&[]);
        let _ = graph.to_text(&[]);
        let plans: Vec<JobPlan> = (0..n)
            .map(|_| JobPlan {
                instances: rng.below(4) as usize,
                max_parallel: [None, Some(0), Some(1), Some(2)][rng.below(4) as usize],
                fail_fast: rng.below(2) == 1,
            })
            .collect();
        let limit = rng.below(4) as usize;
        let mut s = Scheduler::new(&graph, &plans, limit);
        let mut running = Vec::new();
        let mut steps = 0;
        while !s.is_done() {
            steps += 1;
            assert!(steps < 1000, "scheduler stuck");
            while let Some(ready) = s.next_ready() {
                for &need in graph.needs(ready.id.job) {
                    assert!(
                        s.job_result(need).is_some(),
                        "started before its needs finished"
                    );
                }
                running.push(ready.id);
            }
            assert!(s.running() <= limit.max(1));
            for (job, plan) in plans.iter().enumerate() {
                if let Some(max) = plan.max_parallel.filter(|&m| m > 0) {
                    let count = running.iter().filter(|r| r.job == job).count();
                    assert!(count <= max);
                }
            }
            assert!(!running.is_empty(), "nothing running but not done");
            let pick = rng.below(running.len() as u64) as usize;
            let id = running.swap_remove(pick);
            let result = [
                JobResult::Success,
                JobResult::Failure,
                JobResult::Skipped,
                JobResult::Cancelled,
            ][rng.below(4) as usize];
            let done = s.complete(id, result).unwrap();
            for c in done.cancelled {
                assert_eq!(
                    s.state(c),
                    Some(InstanceState::Finished(JobResult::Cancelled))
                );
            }
        }
    }
}
